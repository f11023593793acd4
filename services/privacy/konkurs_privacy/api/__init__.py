"""Privacy's HTTP API."""
