"""Core: errors, the validated config, grids, atomic outputs, product ids, site names, the site row.

The bottom layer: it imports nothing of the project (``tests/test_layers.py``).
"""
