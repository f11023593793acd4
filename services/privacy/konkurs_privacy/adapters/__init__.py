"""Privacy's adapters: the protobuf codec, intake's events as facts, and its SQL."""
