"""Warehouse tooling for the REES46 analytics project (run with `python -m warehouse`)."""
