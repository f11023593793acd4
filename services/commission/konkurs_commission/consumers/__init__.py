"""The commission's consumers: what its worker hands intake's and scoring's events to."""
