"""Scoring's adapters: SQL, and the mapping from other services' protobuf events."""
