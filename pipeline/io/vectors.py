"""Vector layers a run is given besides its sites: the region to search, known heat sources."""

from __future__ import annotations

from pathlib import Path

import geopandas as gpd

from pipeline.core.errors import ConfigError, SiteError

__all__ = ["read_exclusions", "read_region"]


def read_region(path: Path) -> gpd.GeoDataFrame:
    """Read the region to search (GeoJSON polygons); :class:`ConfigError` if unreadable."""
    if not path.is_file():
        raise ConfigError(f"region {path} is not a file; pass a GeoJSON polygon of the area")
    try:
        return gpd.read_file(path)
    except Exception as exc:  # any GDAL/pyogrio failure is a bad input file
        raise ConfigError(f"cannot read region {path}: {exc}") from exc


def read_exclusions(path: Path) -> gpd.GeoDataFrame:
    """Read known non-datacenter heat sources (``name``, ``kind``); :class:`SiteError` if bad."""
    if not path.is_file():
        raise SiteError(f"exclusion layer {path} is not a file; pass a GeoJSON of known heat "
                        "sources (power plants, smelters) with name and kind properties")
    try:
        return gpd.read_file(path)
    except Exception as exc:
        raise SiteError(f"cannot read exclusion layer {path}: {exc}") from exc
