"""Venues: the identity of instruments (ids, kinds, increments and precisions), whichever source brings the data."""
