"""Data files shipped with :mod:`aoi` (the Epoch campus catalog)."""
