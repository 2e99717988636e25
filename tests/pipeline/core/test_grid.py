"""The grid value object: UTM north zones, snapping, validation, alignment."""

from __future__ import annotations

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS
from shapely.geometry import Point, box

from pipeline.core.errors import ConfigError
from pipeline.core.grid import Grid, utm_north_crs


@pytest.mark.parametrize(
    ("lon", "epsg"),
    [(-180.0, 32601), (-177.0, 32601), (-174.0, 32602), (-90.16, 32615), (-3.0, 32630),
     (0.0, 32631), (156.7, 32657), (179.99, 32660), (180.0, 32660)],
)
def test_utm_north_zone(lon: float, epsg: int) -> None:
    assert utm_north_crs(lon).to_epsg() == epsg


@pytest.mark.parametrize("lon", [-180.1, 181.0, float("nan")])
def test_utm_zone_needs_a_longitude(lon: float) -> None:
    with pytest.raises(ConfigError):
        utm_north_crs(lon)


def test_from_bounds_snaps_outward() -> None:
    # USGS lattice: pixel centres on whole multiples of 30 m, so edges at 15 m modulo 30.
    g = Grid.from_bounds(32618, (100.0, 200.0, 170.0, 290.0), 30.0)
    assert g.bounds == (75.0, 195.0, 195.0, 315.0)
    assert g.shape == (4, 4)
    assert g.resolution == 30.0 and g.pixel_area == 900.0
    y, x = g.coords()
    np.testing.assert_array_equal(x, [90.0, 120.0, 150.0, 180.0])
    np.testing.assert_array_equal(y, [300.0, 270.0, 240.0, 210.0])


def test_negative_northings_snap_outward() -> None:
    g = Grid.from_bounds(32623, (300_010.0, -2_500_050.0, 300_100.0, -2_499_990.0), 30.0)
    assert g.bounds == (299_985.0, -2_500_065.0, 300_105.0, -2_499_975.0)
    assert g.shape == (3, 4)


@pytest.mark.parametrize(
    ("shape", "transform"),
    [((0, 4), Affine(30, 0, 0, 0, -30, 0)), ((4, 4), Affine(30, 0, 0, 0, 30, 0)),
     ((4, 4), Affine(30, 1, 0, 0, -30, 0))],
)
def test_invalid_grids(shape: tuple[int, int], transform: Affine) -> None:
    with pytest.raises(ConfigError):
        Grid(CRS.from_epsg(32618), transform, shape)


def test_empty_bounds() -> None:
    with pytest.raises(ConfigError, match="empty bounds"):
        Grid.from_bounds(32618, (10.0, 10.0, 10.0, 20.0), 30.0)


def test_around_a_southern_site_uses_the_north_zone() -> None:
    site = box(-46.70, -23.55, -46.68, -23.53)  # Sao Paulo
    g = Grid.around(site, margin_m=1000.0, resolution=30.0)
    assert g.crs.to_epsg() == 32623
    left, bottom, right, top = g.bounds
    assert top < 0 and bottom < 0  # north zone: negative northings south of the equator
    assert (left - 15) % 30 == 0 and (top - 15) % 30 == 0  # centres on whole 30 m
    # about 2 km of site plus 2 x 1 km margin each way
    assert 3900 < right - left < 4300 and 4000 < top - bottom < 4500


def test_bounds_in_another_crs_and_alignment() -> None:
    g = Grid.around(Point(-3.0, 53.45).buffer(0.01), margin_m=0.0, resolution=30.0)
    assert g.bounds_in(g.crs) == g.bounds
    lon_lat = g.bounds_in(CRS.from_epsg(4326))
    assert lon_lat[0] < -3.0 < lon_lat[2] and lon_lat[1] < 53.45 < lon_lat[3]
    shifted = g.transform * Affine.translation(5, -7)
    assert g.aligned_with(g.crs, shifted)
    assert not g.aligned_with(g.crs, g.transform * Affine.translation(0.5, 0))
    assert not g.aligned_with(CRS.from_epsg(32629), g.transform)
    assert not g.aligned_with(g.crs, Affine(60, 0, g.transform.c, 0, -60, g.transform.f))


@pytest.mark.parametrize(("col", "row"), [(0, 0), (3, -2), (-4, 5), (-7, -6), (9, 2), (12, 0),
                                          (-20, 0), (0, 11)])
def test_overlap_copies_exactly_the_shared_pixels(col: int, row: int) -> None:
    grid = Grid(CRS.from_epsg(32633), Affine(30, 0, 1000, 0, -30, 5000), (8, 10))
    shape = (6, 7)
    raster_tr = Affine(30, 0, 1000 + 30 * col, 0, -30, 5000 - 30 * row)
    assert grid.aligned_with(grid.crs, raster_tr)
    raster = np.arange(np.prod(shape), dtype=float).reshape(shape)
    got = np.full(grid.shape, np.nan)
    here, there = grid.overlap(raster_tr, shape)
    got[here] = raster[there]
    # pixel by pixel: grid pixel (r, c) lies on raster pixel (r - row, c - col)
    want = np.full(grid.shape, np.nan)
    for r in range(grid.shape[0]):
        for c in range(grid.shape[1]):
            if 0 <= r - row < shape[0] and 0 <= c - col < shape[1]:
                want[r, c] = raster[r - row, c - col]
    np.testing.assert_array_equal(got, want)


def test_a_rotated_raster_is_not_aligned() -> None:
    grid = Grid(CRS.from_epsg(32633), Affine(30, 0, 1000, 0, -30, 5000), (8, 10))
    assert not grid.aligned_with(grid.crs, Affine(30, 0.5, 1000, 0, -30, 5000))


# One UTM zone for every owner (issue #21: aoi.utm.utm_zone(180) was 1, utm_north_crs(180) 60)
EDGES = [(-180.0, 1), (-177.0, 1), (-174.0, 2), (-174.000001, 1), (-6.0, 30), (-1e-9, 30),
         (0.0, 31), (5.999999, 31), (6.0, 32), (174.0, 60), (179.99, 60), (180.0, 60)]


@pytest.mark.parametrize(("lon", "zone"), EDGES)
def test_every_owner_of_the_utm_zone_agrees(lon: float, zone: int) -> None:
    from aoi.utm import site_utm_crs, utm_crs_for
    from aoi.utm import utm_zone as aoi_zone
    from models.world import _Grid
    from pipeline.core.grid import utm_zone
    from pipeline.discover.tiles import _zones
    from tests.support.worlds import make_spec

    assert utm_zone(lon) == aoi_zone(lon) == zone
    assert utm_north_crs(lon).to_epsg() == utm_crs_for((lon, 10.0)).to_epsg() == 32600 + zone
    assert utm_crs_for((lon, -33.9)).to_epsg() == 32600 + zone  # north zones in the south too
    assert _zones(box(lon - 1e-7 if lon > -180 else lon, 0, lon, 1)).pop() == zone
    g = _Grid.from_spec(make_spec(center_lon=lon))
    assert (g.zone, g.epsg) == (zone, 32600 + zone)
    assert site_utm_crs(Point(lon, 0)).to_epsg() == 32600 + zone


def test_grid_around_a_footprint_split_at_the_antimeridian_is_the_footprint_s() -> None:
    """A site across 180 degrees (Fiji's Taveuni) gets zone 60 and a grid of its own size."""
    from shapely.geometry import MultiPolygon, box

    split = MultiPolygon([box(179.6, -17.0, 180.0, -16.8), box(-180.0, -17.0, -179.9, -16.8)])
    grid = Grid.around(split, margin_m=0.0, resolution=30.0)
    assert grid.crs.to_epsg() == 32660  # centre 179.85 E: zone 60 (the plain centroid, ~0: 31)
    west = MultiPolygon([box(179.9, -17.0, 180.0, -16.8), box(-180.0, -17.0, -179.6, -16.8)])
    assert Grid.around(west, margin_m=0.0, resolution=30.0).crs.to_epsg() == 32601
    # 0.5 degrees of longitude at 17 S (~53 km) by 0.2 degrees of latitude (~22 km)
    width_km, height_km = grid.shape[1] * 0.03, grid.shape[0] * 0.03
    assert 50 < width_km < 57 and 21 < height_km < 25
