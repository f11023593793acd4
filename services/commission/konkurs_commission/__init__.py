"""The commission service: meetings with a quorum, recusals, votes within the quota, minutes,
published decisions and appeals."""
