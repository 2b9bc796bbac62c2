"""vendbridge: bridge."""
