"""vendbridge: sim_backend."""
