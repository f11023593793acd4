"""`make bench`: konkurs measured beside the raw baselines it is built from."""
