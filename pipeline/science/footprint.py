"""Site footprints on a grid and the integrated excess of one look.

For each site three masks are rasterised on the scan grid: the footprint, the *integration*
region (footprint buffered by ``integration_buffer_m``, since TIRS blurs heat over ~100 m), and
the background *ring* (between ``background_inner_m`` and ``background_outer_m`` from the
footprint, without other sites and without water). A look's integrated excess is
``(mean(T over the region) - background) * region area``. The background is either the median
of the clear ring pixels, or (the default) the ring's mean level matched to its land cover
(:func:`matched_levels`): in a patchwork of bare fields and vegetation, the median of whatever
the clouds leave clear jumps between field types from look to look, and a median of a mixture
does not scale with the sun, so a bare field could pass for heat. A look with too few clear
pixels in the region or the ring is not a clear look for that site.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import geopandas as gpd
import numpy as np
from rasterio.features import rasterize
from shapely.geometry.base import BaseGeometry

from pipeline.core.config import PersistenceConfig
from pipeline.core.grid import Grid
from pipeline.science.masking import Flag
from pipeline.science.robust import sigma_mad

#: Fewest clear ring pixels for a background estimate.
MIN_RING_PIXELS = 30


@dataclass(frozen=True)
class SiteMasks:
    """Boolean masks of one site on the scan grid."""

    site_id: str
    footprint: np.ndarray
    integration: np.ndarray
    ring: np.ndarray

    @cached_property
    def integration_area_px(self) -> int:
        """Number of pixels in the integration region."""
        return int(self.integration.sum())

    @cached_property
    def footprint_area_px(self) -> int:
        """Number of pixels in the site's own footprint (its polygon on the grid)."""
        return int(self.footprint.sum())

    @cached_property
    def window(self) -> tuple[slice, slice]:
        """Rows and columns of the grid holding the integration region and the ring.

        A look is measured on this window only, not on the whole scan grid.
        """
        rows, cols = np.nonzero(self.integration | self.ring)
        if not rows.size:
            return slice(0, 0), slice(0, 0)
        return slice(rows.min(), rows.max() + 1), slice(cols.min(), cols.max() + 1)


@dataclass(frozen=True)
class Look:
    """The measurement of one site in one scene."""

    excess_k_m2: float
    clear_fraction: float
    background_k: float
    mean_excess_k: float

    @property
    def is_clear(self) -> bool:
        """True when the excess is usable (finite)."""
        return bool(np.isfinite(self.excess_k_m2))


def burn(geom: BaseGeometry, grid: Grid) -> np.ndarray:
    """Return the pixels of ``grid`` whose centres ``geom`` (in the grid's CRS) covers.

    Examples
    --------
    >>> from rasterio.transform import from_origin
    >>> from shapely.geometry import box
    >>> g = Grid("EPSG:32616", from_origin(0, 30, 10, 10), (3, 3))
    >>> burn(box(0, 10, 20, 30), g).astype(int).tolist()
    [[1, 1, 0], [1, 1, 0], [0, 0, 0]]
    """
    if geom.is_empty:
        return np.zeros(grid.shape, dtype=bool)
    return rasterize([(geom, 1)], out_shape=grid.shape, transform=grid.transform, fill=0,
                     dtype="uint8", all_touched=False).astype(bool)


def site_masks(sites: gpd.GeoDataFrame, grid: Grid, config: PersistenceConfig,
               others: np.ndarray | None = None) -> list[SiteMasks]:
    """Rasterise footprints, integration regions and background rings of ``sites`` on ``grid``.

    ``sites`` needs ``site_id`` and polygon geometries (any CRS). Sites outside the grid get
    empty masks. A ring leaves out every site's integration region, and ``others`` (the
    integration regions of sites rasterised apart, e.g. the catalogue's for the candidates):
    a campus in a neighbour's ring makes that neighbour's excess step when it starts or stops.
    """
    local = sites.to_crs(grid.crs)
    integ = [burn(g.buffer(config.integration_buffer_m), grid) for g in local.geometry]
    any_site = np.logical_or.reduce(integ) if integ else np.zeros(grid.shape, dtype=bool)
    if others is not None:
        any_site = any_site | others
    feet = [burn(g, grid) for g in local.geometry]
    centroids = [(g.centroid.x, g.centroid.y) for g in local.geometry]
    integ = attribute_once(integ, centroids, grid)
    feet = attribute_once(feet, centroids, grid)
    out = []
    for sid, geom, foot, region in zip(local["site_id"], local.geometry, feet, integ,
                                       strict=True):
        outer = burn(geom.buffer(config.background_outer_m), grid)
        inner = burn(geom.buffer(config.background_inner_m), grid)
        ring = outer & ~inner & ~any_site
        out.append(SiteMasks(str(sid), foot, region, ring))
    return out


def attribute_once(masks: list[np.ndarray], centroids: list[tuple[float, float]],
                   grid: Grid) -> list[np.ndarray]:
    """Give each pixel claimed by several masks to the one whose centroid is nearest.

    Overlapping footprints (or integration regions) would otherwise each count the shared
    heat, and through the shared calibration move other sites' heat too. Pixels claimed by a
    single mask are left as they are.

    Examples
    --------
    >>> from pipeline.core.grid import Grid
    >>> from rasterio.transform import from_origin
    >>> g = Grid("EPSG:32616", from_origin(0, 30, 10, 10), (3, 3))
    >>> a = np.ones((3, 3), bool); b = np.ones((3, 3), bool)
    >>> a2, b2 = attribute_once([a, b], [(0.0, 15.0), (30.0, 15.0)], g)
    >>> int(a2.sum()), int(b2.sum()), bool((a2 & b2).any())
    (6, 3, False)
    """
    if len(masks) < 2:
        return masks
    stack = np.stack(masks)
    shared = stack.sum(axis=0) > 1
    if not shared.any():
        return masks
    rows, cols = np.nonzero(shared)
    xs, ys = rasterio_xy(grid, rows, cols)
    cx = np.array([c[0] for c in centroids])[:, None]
    cy = np.array([c[1] for c in centroids])[:, None]
    dist = np.hypot(xs[None, :] - cx, ys[None, :] - cy)
    dist[~stack[:, rows, cols]] = np.inf
    owner = np.argmin(dist, axis=0)
    out = [m.copy() for m in masks]
    for k, m in enumerate(out):
        m[rows, cols] = owner == k
    return out


def rasterio_xy(grid: Grid, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Return the map coordinates of pixel centres ``(rows, cols)`` on ``grid``."""
    t = grid.transform
    x = t.c + (cols + 0.5) * t.a + (rows + 0.5) * t.b
    y = t.f + (cols + 0.5) * t.d + (rows + 0.5) * t.e
    return np.asarray(x, float), np.asarray(y, float)


def measure_look(
    temperature: np.ndarray, flags: np.ndarray, masks: SiteMasks, *, pixel_area: float,
    min_clear_fraction: float, pattern: np.ndarray | None = None,
) -> Look:
    """Integrated excess of one site in one scene (NaN when the look is not clear).

    Without ``pattern`` the background is the median of the clear ring pixels. With the
    scan's mean anomaly ``pattern`` it is matched to the land cover (see
    :func:`matched_levels`): clouds then cannot change the background by hiding one kind of
    field in the ring, and the excess stays proportional to the sun for a site without heat.
    """
    n = masks.integration_area_px
    if n == 0:
        return Look(float("nan"), 0.0, float("nan"), float("nan"))
    w = masks.window
    temperature, flags, region = temperature[w], flags[w], masks.integration[w]
    clear = np.isfinite(temperature)
    inside = region & clear
    frac = float(inside.sum() / n)
    dry_ring = masks.ring[w] & ((flags & Flag.WATER) == 0)
    ring = dry_ring & clear
    if frac < min_clear_fraction or ring.sum() < MIN_RING_PIXELS:
        return Look(float("nan"), frac, float("nan"), float("nan"))
    if pattern is None:
        bg = float(np.median(temperature[ring]))
        mean_inside = float(np.mean(temperature[inside]))
    else:
        mean_inside, bg = matched_levels(temperature, pattern[w], inside, region, ring,
                                         dry_ring)
    mean_excess = mean_inside - bg
    return Look(mean_excess * n * pixel_area, frac, bg, mean_excess)


def _line(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares slope and intercept of ``y`` against ``x`` (``np.polyfit(x, y, 1)``).

    Examples
    --------
    >>> _line(np.array([0.0, 1.0, 2.0]), np.array([1.0, 3.0, 5.0]))
    (2.0, 1.0)
    """
    xm, ym = float(x.mean()), float(y.mean())
    dx = x - xm
    b = float(dx @ (y - ym) / (dx @ dx))
    return b, ym - b * xm


#: Ring pixels further than this many robust standard deviations from the land-cover line
#: (other hot spots, cloud edges) are left out of the matched background.
MATCH_CLIP = 4.0


def matched_levels(temperature: np.ndarray, pattern: np.ndarray, inside: np.ndarray,
                   region: np.ndarray, ring: np.ndarray, full_ring: np.ndarray
                   ) -> tuple[float, float]:
    """Mean temperature of the whole region and of the whole ring, from their clear pixels.

    Within one scene, a pixel's temperature follows its land cover: ``T = c + b * P`` with
    ``P`` the scan's mean anomaly at the pixel (dark roofs and bare fields high, vegetation
    low) and ``b`` the day's solar contrast. The line is fitted through the clear ring pixels
    (pixels off it by more than :data:`MATCH_CLIP` robust standard deviations dropped), and
    each clear pixel is moved along it to the mean ``P`` of all pixels of its area, so the
    two levels are those of the complete region and ring whatever the clouds hide. With every
    pixel clear this is the plain mean, which is linear in the sun (a median of a mixture of
    fields is not).
    """
    known = np.isfinite(pattern)
    ok = ring & known
    x, y = pattern[ok].astype(np.float64), temperature[ok].astype(np.float64)
    keep = np.ones(x.size, dtype=bool)
    b = 0.0
    for _ in range(2):
        if keep.sum() < MIN_RING_PIXELS or np.ptp(x[keep]) == 0:
            break
        b, c = _line(x[keep], y[keep])
        r = y - (b * x + c)
        spread = sigma_mad(r[keep])
        keep = np.abs(r) <= MATCH_CLIP * spread if spread > 0 else keep

    def level(clear_px: np.ndarray, everything: np.ndarray, use: np.ndarray | None) -> float:
        px = clear_px & known
        t, p = temperature[px].astype(np.float64), pattern[px].astype(np.float64)
        if use is not None:
            t, p = t[use], p[use]
        target = float(np.mean(pattern[everything & known]))
        return float(np.mean(t - b * (p - target)))

    return level(inside, region, None), level(ring, full_ring, keep)
