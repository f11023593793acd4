"""Privacy's handlers: erasure, retention and access requests."""
