"""Areas of interest: site files, their validation, and the Epoch frontier AI campus catalog.

- :mod:`aoi.sites`: :func:`~aoi.sites.read_sites` (GeoJSON, GeoPackage, CSV),
  :func:`~aoi.sites.sites_from_frame`, :func:`~aoi.sites.write_sites` (atomic),
  :func:`~pipeline.core.sites.safe_name` for file names derived from untrusted site ids.
- :mod:`aoi.utm`: :func:`~aoi.utm.utm_crs_for` and :func:`~aoi.utm.site_utm_crs` (WGS84 UTM
  north zones, as USGS Landsat), point buffers, areas, antimeridian splitting.
- :mod:`aoi.catalog`: the shipped catalog built from Epoch AI, 'Data on Frontier AI Data
  Centers', epoch.ai/data/data-centers (CC-BY 4.0): :func:`~aoi.catalog.load_catalog`,
  :func:`~aoi.catalog.catalog_timeline`, and its builder ``python -m aoi.catalog build``.

The names above are also available from :mod:`aoi` itself (imported on first use).
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

_EXPORTS = {
    "read_sites": "aoi.sites",
    "sites_from_frame": "aoi.sites",
    "site_from_point": "aoi.sites",
    "write_sites": "aoi.sites",
    "merge_sites": "aoi.sites",
    "update_site_file": "aoi.sites",
    "select_site": "aoi.sites",
    "safe_name": "aoi.sites",
    "utm_crs_for": "aoi.utm",
    "site_utm_crs": "aoi.utm",
    "load_catalog": "aoi.catalog",
    "catalog_timeline": "aoi.catalog",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy, so ``python -m aoi.catalog`` does not import the module twice.
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'aoi' has no attribute {name!r}")
