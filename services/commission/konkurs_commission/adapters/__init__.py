"""The commission's adapters: the protobuf codec, its tables, and other services' events."""
