"""The scale benchmark (issue 9): `python -m bench --sizes 1M` (see bench/__main__.py)."""
