"""Landsat Collection 2 from a STAC API (USGS LandsatLook, Planetary Computer)."""
