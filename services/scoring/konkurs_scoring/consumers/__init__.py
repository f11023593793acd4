"""Scoring's consumers: faust agents that hand other services' events to its reactions."""
