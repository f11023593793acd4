"""The intake domain: calls and applications. Pure: no I/O, no clock, no random ids."""
