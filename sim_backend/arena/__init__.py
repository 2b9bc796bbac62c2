"""Vending-Bench Arena: several shopkeepers, each with its own machine, at one location (docs/arena.md)."""
