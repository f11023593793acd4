"""Plan tracking's consumers: the reaction to the commission's events."""
