"""The commission's handlers: load, decide, append."""
