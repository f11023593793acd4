"""Privacy's consumers: what it learns from intake's events."""
