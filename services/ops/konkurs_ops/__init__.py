"""Operator tooling: the local Kafka and PostgreSQL, the process runner, the `konkurs` CLI.

Nothing here is imported by a service at run time; service containers need only
`konkurs_platform` and their own package.
"""
