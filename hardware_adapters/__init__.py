"""vendbridge: hardware_adapters."""
