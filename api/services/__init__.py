"""Queries and small operations the routes call: no SQL in route functions."""
