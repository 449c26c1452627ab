"""Search spaces: rules only (validity, identity, text forms, sampling, mutation)."""
