"""Plan tracking: development plans of the selected clusters, their versions, reports and
overdue items."""
