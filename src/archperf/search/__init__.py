"""Search methods: NACG (SemiGAN-NAD), random search and regularized evolution."""
