"""The readside service."""
