"""The chaos suite: a steady load against the real system while its processes, the broker
and PostgreSQL are SIGKILLed at random moments, then the invariants that prove nothing was
lost, duplicated or diverged. `make chaos` runs it for minutes (`python -m chaos`); a short
run is part of `make test` (tests/e2e/test_chaos.py)."""
