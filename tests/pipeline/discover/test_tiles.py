"""Tiling a region (count, overlap, UTM zone per tile) and merging candidates across tiles."""

from __future__ import annotations

import geopandas as gpd
import numpy as np
import pytest
from shapely.geometry import box
from shapely.ops import unary_union

from pipeline.core.errors import ConfigError
from pipeline.core.grid import utm_north_crs
from pipeline.discover.tiles import Tile, merge_candidates, tile_region

RES = 30.0


def _utm_region(epsg: int, bounds: tuple[float, float, float, float]) -> gpd.GeoDataFrame:
    geom = box(*bounds).segmentize(200.0)
    return gpd.GeoDataFrame(geometry=[geom], crs=epsg).to_crs(4326)


def test_count_overlap_and_lattice_in_one_zone():
    # 10.8 km x 7.2 km in UTM 14N, whole pixels from a pixel edge: 3 x 2 tiles of 3.6 km
    x0, y1 = 600_015.0, 4_300_005.0
    region = _utm_region(32614, (x0, y1 - 7200, x0 + 10800, y1))
    tiles = tile_region(region, tile_size_m=3600, overlap_m=900, resolution=RES)
    assert len(tiles) == 6
    assert [t.tile_id for t in tiles] == [f"z14-r{r}-c{c}" for r in (0, 1) for c in (0, 1, 2)]
    for t in tiles:
        assert t.epsg == 32614
        assert t.grid.shape == (round((3600 + 1800) / RES),) * 2
        # pixel centres on whole multiples of 30 m (USGS lattice): edges at 15 m
        assert t.grid.transform.c % RES == pytest.approx(15.0)
        assert t.grid.transform.f % RES == pytest.approx(15.0)
    a, b = tiles[0].grid.bounds, tiles[1].grid.bounds
    assert a[2] - b[0] == pytest.approx(2 * 900)  # neighbours share twice the overlap
    assert tiles[0].grid.bounds[0] == pytest.approx(x0 - 900)
    cores = [t.core_4326 for t in tiles]
    assert sum(cores[i].intersection(cores[j]).area for i in range(6) for j in range(i + 1, 6)) \
        == pytest.approx(0.0, abs=1e-12)
    assert unary_union(cores).buffer(1e-7).contains(region.geometry.iloc[0])


def test_region_crossing_a_zone_boundary_gets_each_tile_in_its_own_zone():
    region = box(-96.15, 35.0, -95.85, 35.1)  # zone 14 | zone 15 at -96
    tiles = tile_region(region, tile_size_m=5000, overlap_m=1000)
    epsgs = {t.epsg for t in tiles}
    assert epsgs == {32614, 32615}
    for t in tiles:
        assert utm_north_crs(t.core_4326.representative_point().x) == t.grid.crs
        assert t.tile_id.startswith(f"z{t.epsg - 32600}-")
        assert t.core_4326.intersects(region)
    cores = [t.core_4326 for t in tiles]
    overlap = sum(cores[i].intersection(cores[j]).area
                  for i in range(len(cores)) for j in range(i + 1, len(cores)))
    assert overlap == pytest.approx(0.0, abs=1e-12)
    assert unary_union(cores).buffer(1e-7).contains(region)
    assert len({t.tile_id for t in tiles}) == len(tiles)


def test_southern_region_has_negative_northings():
    region = box(151.0, -33.95, 151.1, -33.85)  # Sydney: UTM 56N, negative northings
    tiles = tile_region(region, tile_size_m=6000, overlap_m=1000)
    assert {t.epsg for t in tiles} == {32656}
    assert all(t.grid.bounds[3] < 0 for t in tiles)
    # ~9.3 km x 11.1 km -> 2 columns x 2 rows
    assert len(tiles) == 4
    assert unary_union([t.core_4326 for t in tiles]).buffer(1e-7).contains(region)


def test_tiles_missing_the_region_are_dropped():
    # an L-shaped region: the tile in the empty corner is not made
    x0, y1 = 600_015.0, 4_300_005.0
    geom = box(x0, y1 - 7200, x0 + 3600, y1).union(box(x0, y1 - 7200, x0 + 7200, y1 - 3600))
    region = gpd.GeoDataFrame(geometry=[geom.segmentize(200.0)], crs=32614).to_crs(4326)
    tiles = tile_region(region, tile_size_m=3600, overlap_m=500)
    assert sorted(t.tile_id for t in tiles) == ["z14-r0-c0", "z14-r1-c0", "z14-r1-c1"]


@pytest.mark.parametrize("kwargs", [{"tile_size_m": 10, "overlap_m": 0},
                                    {"tile_size_m": 3000, "overlap_m": -1}])
def test_bad_sizes_are_config_errors(kwargs):
    with pytest.raises(ConfigError):
        tile_region(box(-97.3, 38.5, -97.2, 38.6), **kwargs)


def test_empty_region_is_a_config_error():
    with pytest.raises(ConfigError, match="empty"):
        tile_region(gpd.GeoDataFrame(geometry=[], crs=4326), tile_size_m=3000, overlap_m=0)


# merge ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_tiles() -> list[Tile]:
    x0, y1 = 600_015.0, 4_300_005.0
    region = _utm_region(32614, (x0, y1 - 3600, x0 + 7200, y1))
    tiles = tile_region(region, tile_size_m=3600, overlap_m=1500)
    assert len(tiles) == 2
    return tiles


def _campus(x: float, y: float, w: float = 600.0, h: float = 400.0):
    """A campus rectangle centred at UTM 14N (x, y), as a lon/lat polygon."""
    geom = box(x - w / 2, y - h / 2, x + w / 2, y + h / 2)
    return gpd.GeoSeries([geom], crs=32614).to_crs(4326).iloc[0]


def _frame(tile_id: str, rows: list[tuple[str, object, float]]) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"site_id": [r[0] for r in rows], "tile_id": tile_id,
                             "heat_mw": [r[2] for r in rows]},
                            geometry=[r[1] for r in rows], crs=4326)


def test_a_campus_on_a_border_is_kept_once_from_the_tile_owning_it(two_tiles):
    left, right = two_tiles
    x_border = 600_015.0 + 3600
    on_border = _campus(x_border + 60, 4_298_000)  # centre 60 m inside the right core
    a = _frame(left.tile_id, [("candidate-1", on_border, 180.0),
                              ("candidate-2", _campus(601_500, 4_298_500), 90.0)])
    b = _frame(right.tile_id, [("candidate-1", _campus(x_border + 60, 4_298_000, w=660), 200.0)])
    merged = merge_candidates([a, b], two_tiles)
    assert len(merged) == 2
    kept = merged[merged.intersects(on_border)]
    assert len(kept) == 1
    assert kept.iloc[0]["tile_id"] == right.tile_id and kept.iloc[0]["heat_mw"] == 200.0
    # the input order does not matter
    again = merge_candidates([b, a], two_tiles)
    cols = ["tile_id", "site_id", "heat_mw"]
    assert again[cols].equals(merged[cols])


def test_when_no_copy_is_in_its_own_core_the_larger_is_kept(two_tiles):
    left, right = two_tiles
    # a campus deep in the left core, seen by the right tile only partly, and missed by the left
    part = _frame(right.tile_id, [("candidate-3", _campus(602_500, 4_298_000), 60.0)])
    merged = merge_candidates([part], two_tiles)
    assert len(merged) == 1  # the only sighting is kept, not silently dropped
    # two partial sightings, neither in its own core: larger area wins, deterministically
    small = _frame(left.tile_id, [("candidate-1", _campus(605_500, 4_298_000, w=300), 50.0)])
    large = _frame(right.tile_id, [("candidate-1", _campus(605_500, 4_298_000, w=500), 70.0)])
    # left tile: that point lies in the right core, so the left copy is out of its core;
    # the right copy is in its core and wins regardless of size
    assert merge_candidates([small, large], two_tiles).iloc[0]["heat_mw"] == 70.0
    far = [_frame(right.tile_id, [("c-1", _campus(601_000, 4_298_000, w=300), 1.0)]),
           _frame(right.tile_id.replace("c1", "c9"), [("c-1", _campus(601_000, 4_298_000,
                                                                      w=500), 2.0)])]
    tiles = [*two_tiles, Tile(far[1]["tile_id"].iloc[0], right.grid, right.core_4326)]
    assert merge_candidates(far, tiles).iloc[0]["heat_mw"] == 2.0


def test_frames_without_tile_id_take_their_tile_from_the_order_and_empties_are_fine(two_tiles):
    g = _campus(602_000, 4_298_000)
    plain = gpd.GeoDataFrame({"site_id": ["candidate-1"]}, geometry=[g], crs=4326)
    empty = gpd.GeoDataFrame({"site_id": []}, geometry=[], crs=4326)
    merged = merge_candidates([plain, empty], two_tiles)
    assert list(merged["tile_id"]) == [two_tiles[0].tile_id]
    assert merge_candidates([empty, None], two_tiles).empty  # type: ignore[list-item]
    assert np.isclose(merged.geometry.iloc[0].area, g.area)
