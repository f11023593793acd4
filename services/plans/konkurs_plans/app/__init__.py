"""Plan tracking's application layer: the handlers the API, the reaction and the timers call."""
