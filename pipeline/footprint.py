"""Site footprints on a grid and the integrated excess of one look.

For each site three masks are rasterised on the scan grid: the footprint, the *integration*
region (footprint buffered by ``integration_buffer_m``, since TIRS blurs heat over ~100 m), and
the background *ring* (between ``background_inner_m`` and ``background_outer_m`` from the
footprint, without other sites and without water). A look's integrated excess is
``sum(T - median(ring)) * pixel area`` over the integration region, from the clear pixels, scaled
to the whole region; a look with too few clear pixels in the region or the ring is not a clear
look for that site.
"""

from __future__ import annotations

from dataclasses import dataclass

import geopandas as gpd
import numpy as np
from rasterio.features import rasterize
from shapely.geometry.base import BaseGeometry

from pipeline.config import PersistenceConfig
from pipeline.grid import Grid
from pipeline.masking import Flag

#: Fewest clear ring pixels for a background estimate.
MIN_RING_PIXELS = 30


@dataclass(frozen=True)
class SiteMasks:
    """Boolean masks of one site on the scan grid."""

    site_id: str
    footprint: np.ndarray
    integration: np.ndarray
    ring: np.ndarray

    @property
    def integration_area_px(self) -> int:
        """Number of pixels in the integration region."""
        return int(self.integration.sum())


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


def _burn(geom: BaseGeometry, grid: Grid) -> np.ndarray:
    if geom.is_empty:
        return np.zeros(grid.shape, dtype=bool)
    return rasterize([(geom, 1)], out_shape=grid.shape, transform=grid.transform, fill=0,
                     dtype="uint8", all_touched=False).astype(bool)


def site_masks(sites: gpd.GeoDataFrame, grid: Grid, config: PersistenceConfig) -> list[SiteMasks]:
    """Rasterise footprints, integration regions and background rings of ``sites`` on ``grid``.

    ``sites`` needs ``site_id`` and polygon geometries (any CRS). Sites outside the grid get
    empty masks.
    """
    local = sites.to_crs(grid.crs)
    integ = [_burn(g.buffer(config.integration_buffer_m), grid) for g in local.geometry]
    any_site = np.logical_or.reduce(integ) if integ else np.zeros(grid.shape, dtype=bool)
    out = []
    for sid, geom, region in zip(local["site_id"], local.geometry, integ, strict=True):
        outer = _burn(geom.buffer(config.background_outer_m), grid)
        inner = _burn(geom.buffer(config.background_inner_m), grid)
        ring = outer & ~inner & ~any_site
        out.append(SiteMasks(str(sid), _burn(geom, grid), region, ring))
    return out


def measure_look(
    temperature: np.ndarray, flags: np.ndarray, masks: SiteMasks, *, pixel_area: float,
    min_clear_fraction: float,
) -> Look:
    """Integrated excess of one site in one scene (NaN when the look is not clear)."""
    clear = np.isfinite(temperature)
    n = masks.integration_area_px
    if n == 0:
        return Look(float("nan"), 0.0, float("nan"), float("nan"))
    inside = masks.integration & clear
    frac = float(inside.sum() / n)
    ring = masks.ring & clear & ((flags & Flag.WATER) == 0)
    if frac < min_clear_fraction or ring.sum() < MIN_RING_PIXELS:
        return Look(float("nan"), frac, float("nan"), float("nan"))
    bg = float(np.median(temperature[ring]))
    mean_excess = float(np.mean(temperature[inside]) - bg)
    return Look(mean_excess * n * pixel_area, frac, bg, mean_excess)
