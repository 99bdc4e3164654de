"""Warehouse tooling for the REES46 e-commerce analytics project (run with `python -m warehouse`)."""
