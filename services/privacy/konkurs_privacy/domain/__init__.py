"""Privacy's domain: data subjects and their erasure; pure."""
