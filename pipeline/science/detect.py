"""Per-scene hotspots and persistent hotspot regions.

A hotspot is a connected region (8-connectivity) of clear pixels whose anomaly is at least
``min_anomaly_k`` and whose robust z-score is at least ``min_z``, with an area of at least
``min_area_m2``. Persistence across scenes is counted per pixel; regions present in at least
``candidate_min_looks`` clear looks become candidate footprints, which the activity model then
judges like catalogued sites (sunlit roofs are persistent too in daytime imagery, and are
rejected there because their excess follows the sun).
"""

from __future__ import annotations

from collections.abc import Iterable

import geopandas as gpd
import numpy as np
from rasterio.features import shapes
from scipy import ndimage
from shapely.geometry import shape
from shapely.ops import unary_union
from skimage.measure import label

from pipeline.core.config import DetectionConfig
from pipeline.core.grid import Grid
from pipeline.science.robust import critical_t


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
    """One polygon per hotspot region with area (m2), mean/max anomaly (K), excess (K m2).

    Examples
    --------
    >>> from affine import Affine
    >>> from rasterio.crs import CRS
    >>> g = Grid(CRS.from_epsg(32633), Affine(30, 0, 0, 0, -30, 90), (3, 4))
    >>> a = np.array([[3.0, 5.0, 0, 0], [0, 0, 0, np.nan], [0, 0, 0, 4.0]])
    >>> t = hotspot_table(a > 2, a, g)
    >>> t[["area_m2", "mean_anomaly_k", "max_anomaly_k", "excess_k_m2"]].values.tolist()
    [[1800.0, 4.0, 5.0, 7200.0], [900.0, 4.0, 4.0, 3600.0]]
    """
    labels = label(hot, connectivity=2)
    n = int(labels.max())
    geoms: dict[int, list] = {}
    for geom, value in shapes(labels.astype(np.int32), mask=labels > 0,
                              transform=grid.transform, connectivity=8):
        geoms.setdefault(int(value), []).append(shape(geom))
    # per-region statistics from the hotspot pixels only (NaN pixels count in the area only)
    inside = labels > 0
    lab, val = labels[inside], anomaly[inside].astype(np.float64)
    finite = np.isfinite(val)
    area = np.bincount(lab, minlength=n + 1)[1:] * grid.pixel_area
    count = np.bincount(lab, weights=finite, minlength=n + 1)[1:]
    total = np.bincount(lab, weights=np.where(finite, val, 0.0), minlength=n + 1)[1:]
    peak = np.full(n + 1, -np.inf)
    np.maximum.at(peak, lab[finite], val[finite])
    peak = peak[1:]
    rows = []
    for i in range(n):
        parts = geoms[i + 1]
        rows.append({
            "area_m2": float(area[i]),
            "mean_anomaly_k": float(total[i] / count[i]) if count[i] else float("nan"),
            "max_anomaly_k": float(peak[i]) if count[i] else float("nan"),
            "excess_k_m2": float(total[i] * grid.pixel_area),
            "geometry": parts[0] if len(parts) == 1 else unary_union(parts),
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


def nonsolar_excess(
    anomalies: Iterable[tuple[np.ndarray, float]], shape: tuple[int, int],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per-pixel solar-decoupled excess: intercept of ``anomaly = alpha * s + beta`` over looks.

    Streams ``(anomaly, s)`` pairs (NaN = not clear) and fits, for every pixel, a weighted
    least-squares line against the solar loading ``s`` with weights ``1 / s**2`` (low-sun looks
    weigh more), from running sums, so only one scene is in memory at a time. Sunlit roofs and
    bare ground have ``beta`` near zero; heat that does not follow the sun shows as ``beta > 0``.

    Returns
    -------
    beta, se, n
        Intercept (K), its standard error (K), and the number of clear looks per pixel
        (``beta`` is NaN where fewer than 4 looks).

    Examples
    --------
    >>> s = [0.3, 0.5, 0.7, 0.9, 0.4]
    >>> looks = [(np.full((2, 2), 10.0 * si + 2.0), si) for si in s]
    >>> beta, se, n = nonsolar_excess(looks, (2, 2))
    >>> np.round(beta, 6).tolist(), int(n[0, 0])
    ([[2.0, 2.0], [2.0, 2.0]], 5)
    """
    sums = {k: np.zeros(shape, dtype=np.float64) for k in ("w", "ws", "wss", "wa", "wsa", "waa")}
    n = np.zeros(shape, dtype=np.int32)
    for a, s in anomalies:
        if not np.isfinite(s) or s <= 0:
            continue
        ok = np.isfinite(a)
        av = np.where(ok, a, 0.0)
        w = np.where(ok, 1.0 / max(s, 0.05) ** 2, 0.0)
        sums["w"] += w
        sums["ws"] += w * s
        sums["wss"] += w * s * s
        sums["wa"] += w * av
        sums["wsa"] += w * s * av
        sums["waa"] += w * av * av
        n += ok
    det = sums["w"] * sums["wss"] - sums["ws"] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        beta = (sums["wss"] * sums["wa"] - sums["ws"] * sums["wsa"]) / det
        alpha = (sums["w"] * sums["wsa"] - sums["ws"] * sums["wa"]) / det
        rss = sums["waa"] - beta * sums["wa"] - alpha * sums["wsa"]
        sigma2 = np.maximum(rss, 0.0) / np.maximum(n - 2, 1)
        se = np.sqrt(sigma2 * sums["wss"] / det)
    bad = (n < 4) | ~(det > 0)
    beta[bad] = np.nan
    se[bad] = np.nan
    return beta, se, n


def significant_excess(beta: np.ndarray, se: np.ndarray, n_looks: np.ndarray, *, min_k: float,
                       min_z: float) -> np.ndarray:
    """Pixels whose solar-decoupled excess is at least ``min_k`` and significant.

    Significant means ``beta / se`` above the Student-t critical value with the tail
    probability of ``min_z`` normal sigmas and ``n_looks - 2`` degrees of freedom (see
    :func:`pipeline.science.robust.critical_t`), so a pixel seen in few clear looks, whose standard
    error is itself poorly known, needs more than ``min_z`` of them.

    Examples
    --------
    >>> beta, se = np.array([2.0, 2.0, 0.5]), np.array([0.5, 0.5, 0.1])
    >>> significant_excess(beta, se, np.array([40, 6, 40]), min_k=1.0, min_z=3.0).tolist()
    [True, False, False]
    """
    critical = critical_t(min_z, np.asarray(n_looks) - 2)
    with np.errstate(invalid="ignore", divide="ignore"):
        return (beta >= min_k) & (beta / se >= critical)
