"""Queries and changes per area of the domain. No Flask here: each function takes a database."""
