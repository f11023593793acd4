"""Plan tracking's adapters: the protobuf codec, the plans' index in PostgreSQL and the
reading of the commission's events."""
