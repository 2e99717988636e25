"""Per-scene hotspots and persistent hotspot regions.

A hotspot is a connected region (8-connectivity) of clear pixels whose anomaly is at least
``min_anomaly_k`` and whose robust z-score is at least ``min_z``, with an area of at least
``min_area_m2``. Persistence across scenes is counted per pixel; regions present in at least
``candidate_min_looks`` clear looks become candidate footprints, which the activity model then
judges like catalogued sites (sunlit roofs are persistent too in daytime imagery, and are
rejected there because their excess follows the sun).
"""

from __future__ import annotations

import geopandas as gpd
import numpy as np
from rasterio.features import shapes
from scipy import ndimage
from shapely.geometry import shape
from shapely.ops import unary_union
from skimage.measure import label, regionprops

from pipeline.config import DetectionConfig
from pipeline.grid import Grid


def hotspot_mask(anomaly: np.ndarray, zscore: np.ndarray, config: DetectionConfig,
                 pixel_area: float) -> np.ndarray:
    """Boolean mask of hotspot pixels (regions smaller than ``min_area_m2`` removed)."""
    with np.errstate(invalid="ignore"):
        hot = (anomaly >= config.min_anomaly_k) & (zscore >= config.min_z)
    labels = label(hot, connectivity=2)
    if labels.max() == 0:
        return hot
    sizes = np.bincount(labels.ravel())
    keep = sizes * pixel_area >= config.min_area_m2
    keep[0] = False
    return keep[labels]


def hotspot_table(hot: np.ndarray, anomaly: np.ndarray, grid: Grid) -> gpd.GeoDataFrame:
    """One polygon per hotspot region with area (m2), mean/max anomaly (K), excess (K m2)."""
    labels = label(hot, connectivity=2)
    rows = []
    geoms = {}
    for geom, value in shapes(labels.astype(np.int32), mask=labels > 0,
                              transform=grid.transform, connectivity=8):
        geoms.setdefault(int(value), []).append(shape(geom))
    for region in regionprops(labels, intensity_image=np.nan_to_num(anomaly)):
        vals = anomaly[labels == region.label]
        rows.append({
            "area_m2": float(region.area * grid.pixel_area),
            "mean_anomaly_k": float(np.nanmean(vals)),
            "max_anomaly_k": float(np.nanmax(vals)),
            "excess_k_m2": float(np.nansum(vals) * grid.pixel_area),
            "geometry": unary_union(geoms[region.label]),
        })
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=grid.crs) if rows else \
        gpd.GeoDataFrame({"area_m2": [], "mean_anomaly_k": [], "max_anomaly_k": [],
                          "excess_k_m2": []}, geometry=[], crs=grid.crs)


def persistent_regions(
    present: np.ndarray, *, min_looks: int, grid: Grid, min_area_m2: float,
    exclude: np.ndarray | None = None, merge_px: int = 2,
) -> gpd.GeoDataFrame:
    """Footprints of pixels present in at least ``min_looks`` looks, nearby parts merged."""
    persistent = present >= min_looks
    if exclude is not None:
        persistent &= ~exclude
    merged = ndimage.binary_closing(persistent, iterations=merge_px) if merge_px else persistent
    labels = label(merged, connectivity=2)
    polys: dict[int, list] = {}
    for geom, value in shapes(labels.astype(np.int32), mask=labels > 0,
                              transform=grid.transform, connectivity=8):
        polys.setdefault(int(value), []).append(shape(geom))
    rows = []
    for lab, parts in sorted(polys.items()):
        poly = unary_union(parts)
        if poly.area < min_area_m2:
            continue
        rows.append({"present_looks": int(present[labels == lab].max()), "geometry": poly})
    if not rows:
        return gpd.GeoDataFrame({"present_looks": []}, geometry=[], crs=grid.crs)
    return gpd.GeoDataFrame(rows, geometry="geometry", crs=grid.crs)
