"""The local reader: discovery, the real samples, georeferencing, resampling, bad products."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform as warp_transform

from pipeline.core.config import ReaderConfig
from pipeline.core.errors import (
    HeatwatchWarning,
    MetadataError,
    NoDataError,
    QAMissingWarning,
    SceneReadError,
)
from pipeline.core.grid import Grid
from pipeline.io.mtl import read_mtl_groups, write_mtl
from pipeline.io.reader import discover_products, read_scene
from pipeline.science.masking import Flag
from tests.conftest import RES, SIZE, c2write_qa

#: Half a Level-2 quantisation step (0.00341802 K / 2) plus float32 rounding.
QUANT = 0.0018


# Discovery ----------------------------------------------------------------------------------


def test_discovers_l1_and_l2_products_with_any_mtl_format(make_product) -> None:
    a = make_product.l2(mtl_format="json", folder="x")
    b = make_product.l2(mtl_format="xml", qa=None, folder="x/deeper", wrs=(12, 32))
    c = make_product.l1(mtl_format="txt", folder="y")
    d = make_product.l2(mtl_format="txt", folder="z", spacecraft=9)
    products, problems = discover_products(make_product.root)
    assert problems == []
    by_id = {p.product_id: p for p in products}
    assert sorted(by_id) == sorted([a.pid, b.pid, c.pid, d.pid])
    assert [p.product_id for p in products] == sorted(by_id)
    assert by_id[a.pid].mtl.suffix == ".json" and by_id[a.pid].qa == a.qa
    assert by_id[b.pid].mtl.suffix == ".xml" and by_id[b.pid].qa is None
    assert by_id[c.pid].level == "L1" and by_id[c.pid].band.name.endswith("_B10.TIF")
    assert by_id[d.pid].level == "L2" and by_id[d.pid].mtl.suffix == ".txt"
    assert by_id[a.pid].files == [a.band, a.qa, a.mtl]


def test_discovery_reports_strays_orphans_and_duplicates(make_product) -> None:
    a = make_product.l2(folder="one")
    shutil.copytree(a.folder, make_product.root / "two")
    orphan = make_product.l2(folder="three", wrs=(99, 99))
    orphan.mtl.unlink()
    with rasterio.open(make_product.root / "dem.tif", "w", driver="GTiff", width=2, height=2,
                       count=1, dtype="uint8", crs=a.crs, transform=a.transform) as dst:
        dst.write(np.zeros((1, 2, 2), np.uint8))
    other_band = make_product.root / "one" / f"{a.pid}_SR_B4.TIF"
    shutil.copy(a.band, other_band)
    products, problems = discover_products(make_product.root)
    assert [p.product_id for p in products] == [a.pid]
    messages = {p.path.relative_to(make_product.root).as_posix(): p.message for p in problems}
    assert len(problems) == 3, messages
    assert "not a Landsat" in messages["dem.tif"]
    assert "MTL" in messages[f"three/{orphan.band.name}"]
    assert "found twice" in messages[f"two/{a.band.name}"]


@pytest.mark.parametrize("make", ["missing", "file"])
def test_discovery_needs_a_folder(tmp_path: Path, make: str) -> None:
    target = tmp_path / "imagery"
    if make == "file":
        target.write_text("not a folder")
    expected = "does not exist" if make == "missing" else "is a file"
    with pytest.raises(SceneReadError, match=expected):
        discover_products(target)


# Real samples -------------------------------------------------------------------------------


def test_liverpool_reads_with_source_georeferencing(liverpool, only_product) -> None:
    product = only_product(liverpool)
    assert product.qa is None
    with pytest.warns(QAMissingWarning, match="no QA_PIXEL"):
        ds = read_scene(product)
    assert issubclass(QAMissingWarning, HeatwatchWarning)
    assert ds.rio.crs == CRS.from_epsg(32630)
    assert tuple(ds.rio.transform())[:6] == (30.0, 0.0, 487005.0, 0.0, -30.0, 5929995.0)
    t = ds["temperature"]
    assert t.shape == (267, 433)
    assert t.attrs["units"] == "K" and t.attrs["standard_name"] == "surface_temperature"
    assert np.isfinite(t.values).all()  # no fill, nothing below the no-QA floor of 250 K
    # DN 39776-42784 (SOURCE.txt) x 0.00341802 + 149 = 284.955-295.237 K
    assert float(t.min()) == pytest.approx(284.955, abs=0.01)
    assert float(t.max()) == pytest.approx(295.237, abs=0.01)
    assert ds.attrs["product_id"] == "LC08_L2SP_204023_20200927_20201006_02_T1"
    assert ds.attrs["acquisition_time"].startswith("2020-09-27T11:10:50")
    # pixel-centre coordinates
    assert float(ds.x[0]) == 487020.0 and float(ds.y[0]) == 5929980.0


def test_lahaina_level1_reads_as_brightness_temperature(lahaina, only_product) -> None:
    with pytest.warns(QAMissingWarning):
        ds = read_scene(only_product(lahaina))
    assert ds.rio.crs == CRS.from_epsg(32605)
    assert tuple(ds.rio.transform())[:6] == (30.0, 0.0, 113985.0, 0.0, -30.0, 2317995.0)
    t = ds["temperature"].values
    assert t.shape == (367, 301) and np.isfinite(t).all()
    assert ds["temperature"].attrs["standard_name"] == "toa_brightness_temperature"
    assert 295.0 < t.min() and t.max() < 317.0


def test_colombia_reads_resampled_product(colombia, only_product) -> None:
    ds = read_scene(only_product(colombia))
    assert ds.rio.crs == CRS.from_epsg(32618)
    tr = ds.rio.transform()
    assert (tr.c, tr.f) == (378285.0, 275715.0)
    assert tr.a == pytest.approx(7591 * 30 / 512) and tr.e == pytest.approx(-7741 * 30 / 512)
    assert 0.05 < float(np.isfinite(ds["temperature"].values).mean()) < 0.11  # 81 % cloud


# Synthetic products -------------------------------------------------------------------------


def test_synthetic_values_round_trip(make_product, only_product) -> None:
    made = make_product.l2()
    ds = read_scene(only_product(made.folder))
    np.testing.assert_allclose(ds["temperature"].values, made.array, atol=QUANT)
    assert (ds["flags"].values == 0).all()
    assert ds.rio.crs == made.crs and ds.rio.transform() == made.transform
    assert np.isnan(ds["temperature"].rio.nodata)
    assert ds["flags"].attrs["flag_meanings"].split()[0] == "fill"
    # the georeferencing is exactly what rioxarray writes for this CRS and transform
    ref = ds.drop_vars("spatial_ref").rio.write_crs(made.crs).rio.write_transform(made.transform)
    assert ds["spatial_ref"].attrs == ref["spatial_ref"].attrs
    assert ds["temperature"].rio.grid_mapping == ds["flags"].rio.grid_mapping == "spatial_ref"


def test_aligned_grid_past_the_scene_edge_is_copied_and_filled(make_product, only_product):
    origin = (500_010.0, 4_000_020.0)
    made = _linear_product(make_product, crs=32618, origin=origin)
    product = only_product(made.folder)
    # aligned, 5 pixels west and 3 north of the product: those rows/columns are off the scene
    left, top = origin[0] - 5 * RES, origin[1] + 3 * RES
    grid = Grid(CRS.from_epsg(32618), Affine(RES, 0, left, 0, -RES, top), (20, 20))
    assert grid.aligned_with(made.crs, made.transform)
    ds = read_scene(product, grid=grid)
    t, f = ds["temperature"].values, ds["flags"].values
    np.testing.assert_array_equal(t[3:, 5:], read_scene(product)["temperature"].values[:17, :15])
    assert np.isnan(t[:3]).all() and np.isnan(t[:, :5]).all()
    assert (f[:3] & Flag.FILL).all() and (f[:, :5] & Flag.FILL).all()
    assert not (f[3:, 5:] & Flag.FILL).any()


def test_level1_synthetic_product(make_product, only_product) -> None:
    counts = np.full((SIZE, SIZE), 27000, np.uint16)
    counts[0, 0] = 0
    made = make_product.l1(counts=counts)
    ds = read_scene(only_product(made.folder))
    t = ds["temperature"].values
    assert np.isnan(t[0, 0]) and ds["flags"].values[0, 0] == Flag.FILL
    assert t[1, 1] == pytest.approx(304.9887, abs=0.01)  # see test_calibrate


def _linear(x: np.ndarray, y: np.ndarray, x0: float, y0: float) -> np.ndarray:
    """A smooth field in the product's map coordinates: 0.02 K per 30 m east, 0.01 north."""
    return 300.0 + 0.02 * (x - x0) / 30.0 + 0.01 * (y - y0) / 30.0


def _linear_product(make_product, *, crs: int, origin: tuple[float, float]):
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    xc = origin[0] + (x + 0.5) * RES
    yc = origin[1] - (y + 0.5) * RES
    return make_product.l2(kelvin=_linear(xc, yc, *origin), crs=crs, origin=origin)


def _expected_on(grid: Grid, src_crs: int, origin: tuple[float, float]) -> np.ndarray:
    yy, xx = grid.coords()
    gx, gy = np.meshgrid(xx, yy)
    sx, sy = warp_transform(grid.crs, CRS.from_epsg(src_crs), gx.ravel(), gy.ravel())
    return _linear(np.array(sx), np.array(sy), *origin).reshape(grid.shape)


def test_southern_hemisphere_negative_northings(make_product, only_product) -> None:
    # USGS keeps the UTM north zone south of the equator: northings are negative.
    origin = (299_985.0, -2_500_005.0)  # pixel centres on whole 30 m (USGS lattice)
    made = _linear_product(make_product, crs=32623, origin=origin)
    product = only_product(made.folder)
    ds = read_scene(product)
    assert float(ds.y.max()) < 0
    np.testing.assert_allclose(ds["temperature"].values, made.array, atol=QUANT)
    # the same ground in the south-zone convention (northing + 10,000 km), at 60 m
    left, top = 300_390.0, 7_499_670.0  # northing + 10,000 km; edges at 30 m modulo 60 m
    south = Grid.from_bounds(32723, (left, top - 1200.0, left + 1200.0, top), 60.0)
    on_south = read_scene(product, grid=south)
    assert on_south.rio.crs == CRS.from_epsg(32723)
    assert on_south["temperature"].shape == (20, 20)
    np.testing.assert_allclose(on_south["temperature"].values, _expected_on(south, 32623, origin),
                               atol=0.01)
    # and within the north zone, negative northings, on an aligned sub-grid: an exact copy
    sub = Grid.from_bounds(32623, (origin[0] + 300, origin[1] - 900, origin[0] + 900,
                                   origin[1] - 300), 30.0)
    on_sub = read_scene(product, grid=sub)
    np.testing.assert_array_equal(on_sub["temperature"].values,
                                  ds["temperature"].values[10:30, 10:30])


def test_read_onto_another_crs_and_resolution(make_product, only_product) -> None:
    origin = (500_010.0, 4_000_020.0)
    made = _linear_product(make_product, crs=32618, origin=origin)
    # a 45 m grid in the neighbouring zone 17, inside the product
    (x0, x1), (y0, y1) = warp_transform(
        32618, 32617, [origin[0] + 300, origin[0] + SIZE * RES - 300],
        [origin[1] - 300, origin[1] - SIZE * RES + 300])
    grid = Grid.from_bounds(32617, (min(x0, x1) + 100, min(y0, y1) + 100,
                                    max(x0, x1) - 100, max(y0, y1) - 100), 45.0)
    ds = read_scene(only_product(made.folder), grid=grid)
    assert ds.rio.crs == CRS.from_epsg(32617) and ds.rio.transform() == grid.transform
    t = ds["temperature"].values
    assert t.shape == grid.shape and np.isfinite(t).all()
    np.testing.assert_allclose(t, _expected_on(grid, 32618, origin), atol=0.01)


def test_scene_not_overlapping_the_grid(make_product, only_product) -> None:
    made = make_product.l2()
    far = Grid.from_bounds(32618, (600_000, 4_100_000, 601_000, 4_101_000), 30.0)
    with pytest.raises(NoDataError, match="overlap"):
        read_scene(only_product(made.folder), grid=far)


@pytest.mark.filterwarnings("ignore::rasterio.errors.NotGeoreferencedWarning")
def test_non_georeferenced_tiff_takes_its_grid_from_the_mtl(make_product, only_product) -> None:
    # like the published Lahaina/Liverpool crops: plain TIFF, crop position in the MTL
    made = make_product.l2(qa=None, mtl_format="txt")
    with rasterio.open(made.band) as src:
        dn = src.read(1)
    made.band.unlink()
    with rasterio.open(made.band, "w", driver="GTiff", width=SIZE, height=SIZE, count=1,
                       dtype="uint16") as dst:
        dst.write(dn, 1)
    with pytest.warns(QAMissingWarning):
        ds = read_scene(only_product(made.folder))
    assert ds.rio.crs == made.crs
    assert ds.rio.transform().almost_equals(made.transform)


# Bad products -------------------------------------------------------------------------------


def test_mtl_of_another_product_beside_the_raster(make_product, only_product) -> None:
    a = make_product.l2(folder="a")
    b = make_product.l2(folder="b", wrs=(40, 40))
    shutil.copy(b.mtl, a.mtl)
    with pytest.raises(MetadataError, match=b.pid):
        read_scene(only_product(a.folder))


@pytest.mark.parametrize(
    ("key", "value"),
    [("THERMAL_LINES", "80"), ("THERMAL_SAMPLES", "32"),
     ("CORNER_UL_PROJECTION_X_PRODUCT", "500325.000")],
)
def test_mtl_with_another_size_or_extent(make_product, only_product, key: str, value: str) -> None:
    made = make_product.l2()
    groups = read_mtl_groups(made.mtl)
    groups["PROJECTION_ATTRIBUTES"][key] = value
    write_mtl(groups, made.mtl)
    with pytest.raises(MetadataError, match="does not match its MTL"):
        read_scene(only_product(made.folder))


def test_float_raster_named_like_a_band(make_product, only_product) -> None:
    made = make_product.l2()
    made.band.unlink()
    with rasterio.open(made.band, "w", driver="GTiff", width=SIZE, height=SIZE, count=1,
                       dtype="float32", crs=made.crs, transform=made.transform) as dst:
        dst.write(made.array.astype(np.float32), 1)
    with pytest.raises(SceneReadError, match="dtype float32"):
        read_scene(only_product(made.folder))


def test_truncated_band_is_a_scene_read_error(make_product, only_product) -> None:
    made = make_product.l2()
    data = made.band.read_bytes()
    made.band.write_bytes(data[: len(data) // 2])
    with pytest.raises(SceneReadError, match="corrupt"):
        read_scene(only_product(made.folder))


def test_qa_band_of_another_size_or_type(make_product, only_product) -> None:
    made = make_product.l2()
    made.qa.unlink()
    with rasterio.open(made.qa, "w", driver="GTiff", width=10, height=10, count=1,
                       dtype="uint16", crs=made.crs, transform=made.transform) as dst:
        dst.write(c2write_qa((10, 10)), 1)
    with pytest.raises(SceneReadError, match="differ in size"):
        read_scene(only_product(made.folder))
    made.qa.unlink()
    with rasterio.open(made.qa, "w", driver="GTiff", width=SIZE, height=SIZE, count=1,
                       dtype="float32", crs=made.crs, transform=made.transform) as dst:
        dst.write(np.full((SIZE, SIZE), np.nan, np.float32), 1)
    with pytest.raises(SceneReadError, match="uint16"):
        read_scene(only_product(made.folder))


def test_raster_crs_that_is_not_a_projection(make_product, only_product) -> None:
    made = make_product.l2()
    with rasterio.open(made.band, "r+") as dst:
        dst.crs = CRS.from_epsg(4326)
        dst.transform = Affine(0.0003, 0, -75.0, 0, -0.0003, 36.0)
    with pytest.raises(MetadataError, match="not a map projection"):
        read_scene(only_product(made.folder))


def _counts(kelvin: np.ndarray, mult: float, add: float, k1: float, k2: float) -> np.ndarray:
    """Band 10 counts of a brightness temperature (inverse of the USGS L1 formulas)."""
    radiance = k1 / np.expm1(k2 / kelvin)
    return np.rint((radiance - add) / mult).astype(np.uint16)


def test_night_level1_scene_is_read_flagged_and_masked_by_cold(tmp_path: Path) -> None:
    from datetime import datetime

    from pipeline.io import c2write
    from tests.conftest import CRS_UTM18N, L9_B10, ORIGIN

    mult, add, k1, k2 = (L9_B10[k] for k in ("radiance_mult", "radiance_add", "k1", "k2"))
    kelvin = np.full((SIZE, SIZE), 285.0)
    kelvin[5:15, 5:15] = 262.0  # a night cloud: 23 K colder, above the 250 K floor
    kelvin[40:44, 40:44] = 297.0  # a warm yard
    qa = c2write_qa((SIZE, SIZE), cloud=np.pad(np.ones((8, 8), bool), ((30, 26), (30, 26))))
    qa[0, 0] = 1  # QA fill bit
    pid = c2write.product_id(spacecraft=9, level="L1TP", wrs_path=12, wrs_row=31,
                             acquired=datetime(2024, 6, 2, 3, 10))
    c2write.write_l1_product(tmp_path / pid, pid=pid, counts=_counts(kelvin, mult, add, k1, k2),
                             transform=Affine(RES, 0, ORIGIN[0], 0, -RES, ORIGIN[1]),
                             crs=CRS_UTM18N, acquired=datetime(2024, 6, 2, 3, 10),
                             sun_elevation=-35.0, qa_pixel=qa, day_night="NIGHT",
                             radiance_mult=mult, radiance_add=add, k1=k1, k2=k2)
    (product,), _ = discover_products(tmp_path)
    ds = read_scene(product)
    assert ds.attrs["day_night"] == "NIGHT" and ds.attrs["sun_elevation"] == -35.0
    assert ds["temperature"].attrs["standard_name"] == "toa_brightness_temperature"
    assert "night" in ds["temperature"].attrs["long_name"]
    t, flags = ds["temperature"].values, ds["flags"].values
    # brightness temperature from the counts through the scene's own constants
    np.testing.assert_allclose(t[50, 50], 285.0, atol=0.02)
    np.testing.assert_allclose(t[41, 41], 297.0, atol=0.02)
    # the cold cloud is masked; QA's cloud bits (from dark reflective bands) are not used
    assert np.isnan(t[5:15, 5:15]).all() and (flags[5:15, 5:15] & Flag.CLOUD).all()
    assert np.isfinite(t[30:38, 30:38]).all()
    # QA's fill bit still counts
    assert np.isnan(t[0, 0]) and flags[0, 0] & Flag.FILL


# Red and near-infrared ---------------------------------------------------------------------

#: The reader with red and near-infrared switched on (reader.greenness).
GREEN = ReaderConfig(greenness=True)


def _red_nir(shape: tuple[int, int]) -> dict[int, np.ndarray]:
    """Soil (0.18, 0.26) with a green canopy square (0.04, 0.40) in its upper left."""
    red, nir = np.full(shape, 0.18), np.full(shape, 0.26)
    red[:20, :20], nir[:20, :20] = 0.04, 0.40
    return {4: red, 5: nir}


def test_red_and_near_infrared_give_an_ndvi_masked_like_the_temperature(make_product) -> None:
    cloud = np.zeros((SIZE, SIZE), bool)
    cloud[40:50, 40:50] = True
    made = make_product.l2(reflectance=_red_nir((SIZE, SIZE)),
                           qa=c2write_qa((SIZE, SIZE), cloud=cloud))
    (product,), _ = discover_products(make_product.root)
    assert product.red_nir is not None and product.red_nir[0].name.endswith("_SR_B4.TIF")
    assert set(product.files) == set(made.files)  # provenance names every file read
    ds = read_scene(product, config=GREEN)
    ndvi = ds["ndvi"].values
    np.testing.assert_allclose(ndvi[5, 5], 0.36 / 0.44, atol=2e-4)  # canopy
    np.testing.assert_allclose(ndvi[30, 30], 0.08 / 0.44, atol=2e-4)  # soil
    assert np.isnan(ndvi[cloud]).all() and np.isfinite(ndvi[~cloud]).all()
    assert ds["ndvi"].attrs["units"] == "1" and ds["ndvi"].rio.crs == ds["temperature"].rio.crs


def test_ndvi_follows_the_temperature_onto_the_grid(make_product) -> None:
    make_product.l2(reflectance=_red_nir((SIZE, SIZE)))
    (product,), _ = discover_products(make_product.root)
    src = read_scene(product, config=GREEN)
    # a grid shifted by half a pixel: resampled, not copied; a canopy pixel stays canopy
    tr = src.rio.transform()
    grid = Grid(src.rio.crs, Affine(RES, 0, tr.c + RES / 2, 0, -RES, tr.f - RES / 2),
                (SIZE - 2, SIZE - 2))
    ds = read_scene(product, config=GREEN, grid=grid)
    assert ds["ndvi"].shape == grid.shape
    np.testing.assert_allclose(ds["ndvi"].values[5, 5], 0.36 / 0.44, atol=1e-3)
    assert (np.isnan(ds["ndvi"].values) == np.isnan(ds["temperature"].values)).all()


def test_no_ndvi_without_both_bands_or_unless_switched_on(make_product) -> None:
    make_product.l2(reflectance={4: _red_nir((SIZE, SIZE))[4]}, folder="red-only")
    make_product.l2(reflectance=_red_nir((SIZE, SIZE)), folder="both", wrs=(13, 31))
    products, _ = discover_products(make_product.root)
    by_folder = {p.band.parent.name: p for p in products}
    assert by_folder["red-only"].red_nir is None
    assert "ndvi" not in read_scene(by_folder["red-only"], config=GREEN)
    assert "ndvi" not in read_scene(by_folder["both"])  # reader.greenness is off by default
    assert "ndvi" in read_scene(by_folder["both"], config=GREEN)


def test_a_reflectance_band_of_another_size_is_refused(make_product) -> None:
    made = make_product.l2(reflectance=_red_nir((SIZE, SIZE)))
    small = next(p for p in made.files if p.name.endswith("_SR_B5.TIF"))
    with rasterio.open(small) as src:
        profile, data = src.profile, src.read(1)
    profile.update(width=SIZE - 4)
    with rasterio.open(small, "w", **profile) as dst:
        dst.write(data[:, :SIZE - 4], 1)
    (product,), _ = discover_products(make_product.root)
    with pytest.raises(SceneReadError, match="differs in size"):
        read_scene(product, config=GREEN)
