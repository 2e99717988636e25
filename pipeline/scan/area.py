"""Where a scan looks: the imagery's extent, the scan grid over it, and which sites it covers."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from pyproj import CRS as ProjCRS
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from pipeline.core.config import Config
from pipeline.core.errors import HeatwatchError, NoDataError
from pipeline.core.grid import Bounds, Grid
from pipeline.io.reader import ProductFiles, product_extent


def imagery_bounds(products: list[ProductFiles]) -> tuple[CRS, Bounds]:
    """CRS (the scenes' most common UTM zone) and bounds of the union of the scenes' extents."""
    extents = []
    for p in products:
        try:
            extents.append(product_extent(p))
        except HeatwatchError:
            continue
    if not extents:
        raise NoDataError("no readable scene in the imagery folder; see the problems listed")
    crs_list = [c.to_epsg() for c, _ in extents]
    crs = CRS.from_epsg(max(set(crs_list), key=crs_list.count))
    boxes = [b if ProjCRS(c) == ProjCRS(crs) else transform_bounds(c, crs, *b) for c, b in extents]
    arr = np.array(boxes)
    return crs, (arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max())


def imagery_footprint(products: list[ProductFiles]) -> BaseGeometry | None:
    """Return the union of the products' extents in EPSG:4326 (``None`` if no MTL is readable).

    A catalog site outside it is *not covered by the imagery*: no look of it exists, so
    ``scan``, ``report`` and ``monitor`` name it as such and draw no evidence for it.
    """
    boxes = []
    for p in products:
        try:
            crs, bounds = product_extent(p)
        except HeatwatchError:
            continue
        boxes.append(box(*transform_bounds(crs, "EPSG:4326", *bounds)))
    return unary_union(boxes) if boxes else None


def scan_grid(imagery: tuple[CRS, Bounds], config: Config,
              sites: gpd.GeoDataFrame | None = None) -> Grid:
    """Return the scan grid over the ``imagery`` extent (see :func:`imagery_bounds`).

    With ``sites``, the grid is limited to the sites' bounds plus ``grid.margin_m`` (where
    that box overlaps the scenes); new sites beyond it are not searched (see
    :func:`coverage`).
    """
    crs, bounds = imagery
    if sites is not None and len(sites) and config.grid.margin_m > 0:
        sb = sites.to_crs(crs).total_bounds
        m = config.grid.margin_m
        clip = (sb[0] - m, sb[1] - m, sb[2] + m, sb[3] + m)
        inter = (max(bounds[0], clip[0]), max(bounds[1], clip[1]),
                 min(bounds[2], clip[2]), min(bounds[3], clip[3]))
        if inter[2] > inter[0] and inter[3] > inter[1]:
            bounds = inter
    return Grid.from_bounds(crs, bounds, config.grid.resolution_m)


def coverage(imagery: tuple[CRS, Bounds], grid: Grid) -> dict[str, float]:
    """Area of the ``imagery`` extent and the part of it the scan grid covers (km2).

    Candidates are searched only inside the grid: with a catalog, the rest of the imagery
    (beyond ``grid.margin_m``) needs ``heatwatch discover`` or a larger margin.
    """
    crs, (left, bottom, right, top) = imagery
    g = grid.bounds_in(crs)
    w = max(0.0, min(right, g[2]) - max(left, g[0]))
    h = max(0.0, min(top, g[3]) - max(bottom, g[1]))
    return {"imagery_km2": round((right - left) * (top - bottom) / 1e6, 3),
            "scanned_km2": round(w * h / 1e6, 3)}
