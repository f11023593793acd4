"""The analytics feed: every service's significant moments as PII-free facts on
`konkurs.analytics.v1` (the contract: schemas/konkurs/analytics/v1; the guide:
docs/analytics.md)."""
