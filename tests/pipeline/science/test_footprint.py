"""Site masks and the integrated excess of one look, on analytic rasters."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box

from pipeline.core.config import PersistenceConfig
from pipeline.core.grid import Grid
from pipeline.science.footprint import matched_levels, measure_look, site_masks

RES = 30.0


def _grid(n: int = 80) -> Grid:
    # edges half a pixel off the USGS lattice, so pixel centres fall on whole 30 m
    x0, y0 = 500000.0 - RES / 2, 4000000.0 - RES / 2
    return Grid.from_bounds("EPSG:32633", (x0, y0, x0 + n * RES, y0 + n * RES), RES)


def _fields(grid: Grid) -> np.ndarray:
    """Land-cover pattern: vertical strips of bare field (1) and vegetation (0), 5 px wide."""
    h, w = grid.shape
    return ((np.arange(w) // 5) % 2).astype(float)[None, :].repeat(h, axis=0)


def _site(grid: Grid) -> gpd.GeoDataFrame:
    cx, cy = 500000.0 + 40 * RES, 4000000.0 + 40 * RES
    return gpd.GeoDataFrame({"site_id": ["s"]}, geometry=[box(cx - 150, cy - 150, cx + 150,
                                                              cy + 150)], crs=grid.crs)


@pytest.mark.parametrize("sun", [0.3, 1.0])
def test_matched_background_ignores_which_fields_the_clouds_hide(sun: float) -> None:
    grid = _grid()
    (m,) = site_masks(_site(grid), grid, PersistenceConfig())
    pattern = _fields(grid)
    temp = 290.0 + 12.0 * sun * pattern  # bare fields 12 K per unit sun above vegetation
    flags = np.zeros(grid.shape, dtype=np.uint8)
    full = measure_look(temp, flags, m, pixel_area=RES**2, min_clear_fraction=0.8,
                        pattern=pattern)
    # clouds over most bare fields of the ring, none over the site
    cloudy = temp.copy()
    hide = m.ring & (pattern == 1) & (np.arange(grid.shape[0])[:, None] % 4 != 0)
    cloudy[hide] = np.nan
    part = measure_look(cloudy, flags, m, pixel_area=RES**2, min_clear_fraction=0.8,
                        pattern=pattern)
    ring_mean = float(np.mean(temp[m.ring]))
    assert full.background_k == pytest.approx(ring_mean, abs=1e-6)
    assert part.background_k == pytest.approx(ring_mean, abs=1e-6)
    # the median of what stays clear drops to the vegetation level
    median = measure_look(cloudy, flags, m, pixel_area=RES**2, min_clear_fraction=0.8)
    assert median.background_k == pytest.approx(290.0, abs=1e-6)


def test_matched_excess_is_heat_plus_the_sun_on_the_land_cover_difference() -> None:
    grid = _grid()
    (m,) = site_masks(_site(grid), grid, PersistenceConfig())
    pattern = _fields(grid)
    heat_k = 2.0
    excess = []
    for sun in (0.2, 0.6, 1.0):
        temp = 290.0 + 12.0 * sun * pattern + np.where(m.footprint, heat_k, 0.0)
        look = measure_look(temp, np.zeros(grid.shape, np.uint8), m, pixel_area=RES**2,
                            min_clear_fraction=0.8, pattern=pattern)
        excess.append(look.excess_k_m2)
    # heat, plus the sun on the region's share of bare field beyond the ring's, exactly
    n = m.integration.sum()
    mix = pattern[m.integration].mean() - pattern[m.ring].mean()
    expected = [(heat_k * m.footprint.sum() + 12.0 * sun * mix * n) * RES**2
                for sun in (0.2, 0.6, 1.0)]
    assert np.allclose(excess, expected, rtol=1e-6)


def test_matched_levels_drop_hot_outliers_of_the_ring() -> None:
    rng = np.random.default_rng(0)
    pattern = rng.random((40, 40))
    temp = 300.0 + 5.0 * pattern + rng.normal(0, 0.05, (40, 40))
    ring = np.zeros((40, 40), bool)
    ring[:10] = True
    region = np.zeros((40, 40), bool)
    region[20:30, 20:30] = True
    clean = matched_levels(temp, pattern, region, region, ring, ring)[1]
    temp[0, :5] += 40.0  # a fire in the ring
    assert matched_levels(temp, pattern, region, region, ring, ring)[1] == pytest.approx(
        clean, abs=0.02)


def test_overlapping_footprints_count_shared_pixels_once() -> None:
    # two 600 m squares whose centres are 300 m apart share a 300 m x 600 m strip
    grid = _grid()
    cx, cy = 500000.0 + 40 * RES, 4000000.0 + 40 * RES
    sites = gpd.GeoDataFrame({"site_id": ["a", "b"]}, crs=grid.crs, geometry=[
        box(cx - 300, cy - 300, cx + 300, cy + 300), box(cx, cy - 300, cx + 600, cy + 300)])
    cfg = PersistenceConfig()
    a, b = site_masks(sites, grid, cfg)
    assert not (a.footprint & b.footprint).any()
    assert not (a.integration & b.integration).any()
    # the union is kept: every pixel of either footprint belongs to exactly one site
    single = [site_masks(sites.iloc[[i]], grid, cfg)[0] for i in (0, 1)]
    union = single[0].footprint | single[1].footprint
    assert int(a.footprint.sum() + b.footprint.sum()) == int(union.sum())
    # 600 m squares on a 30 m grid: 400 pixels each alone, 200 shared, split 100/100 by
    # the nearer centre
    assert single[0].footprint_area_px == 400
    assert a.footprint_area_px == 300 and b.footprint_area_px == 300
    # uniform excess of 1 K: the two sites' integrated excess adds up to the union's, not more
    temp = np.full(grid.shape, 300.0)
    temp[single[0].integration | single[1].integration] += 1.0
    flags = np.zeros(grid.shape, dtype=np.uint8)
    looks = [measure_look(temp, flags, m, pixel_area=RES**2, min_clear_fraction=0.5)
             for m in (a, b)]
    both = float((single[0].integration | single[1].integration).sum()) * RES**2
    assert sum(lk.excess_k_m2 for lk in looks) == pytest.approx(both, rel=1e-6)


def test_a_ring_leaves_out_the_sites_rasterised_apart():
    # a candidate beside a catalogued campus: the campus's heat must not sit in the candidate's
    # ring, or its stop steps the candidate's excess up (a false onset)
    from affine import Affine
    from rasterio.crs import CRS

    from pipeline.science.footprint import burn

    grid = Grid(CRS.from_epsg(32633), Affine(30, 0, 0, 0, -30, 6000), (200, 200))
    campus = box(2400, 3000, 3000, 3600)
    near = gpd.GeoDataFrame({"site_id": ["candidate-1"]},
                            geometry=[box(3300, 3000, 3700, 3400)], crs=32633)
    cfg = PersistenceConfig()
    zone = burn(campus.buffer(cfg.integration_buffer_m), grid)
    plain = site_masks(near, grid, cfg)[0]
    apart = site_masks(near, grid, cfg, others=zone)[0]
    assert (plain.ring & zone).sum() > 100  # the campus sits in the plain ring
    assert not (apart.ring & zone).any()
    assert (apart.ring == (plain.ring & ~zone)).all()  # nothing else changes
