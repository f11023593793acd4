"""Scoring's application layer: what its reactions and routes do, through declared ports."""
