"""The privacy service: erasure of data subjects, retention of personal data, access requests."""
