"""Neural components: encoders, predictor, discriminator, generator."""
