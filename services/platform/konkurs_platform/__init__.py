"""The konkurs platform: what every service stands on.

Envelope, event store, outbox relay, inbox, projection offsets, dead letters, settings,
identity, HTTP conventions, logging, metrics, health and the local stack live here once.
"""
