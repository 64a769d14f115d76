"""Reports: image grids (grids.py), training curves (curves.py), result tables (tables.py)."""
