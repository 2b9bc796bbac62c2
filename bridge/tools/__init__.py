"""The tool layer: one set of typed tools serves every policy."""
