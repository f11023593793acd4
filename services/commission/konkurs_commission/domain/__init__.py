"""The commission's domain: compositions, meetings, minutes and appeals; pure."""
