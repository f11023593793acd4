"""Plan tracking's HTTP API."""
