"""The commission's HTTP routes: every module here that defines a `router` is included."""
