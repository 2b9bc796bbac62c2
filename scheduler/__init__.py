"""vendbridge: scheduler."""
