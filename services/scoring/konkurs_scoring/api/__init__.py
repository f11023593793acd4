"""Scoring's HTTP API: routes parse, call the application, answer."""
