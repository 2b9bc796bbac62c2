"""The shadow twin: twin ports and the twin of a shop that answer a shadow run's WRITE calls."""
