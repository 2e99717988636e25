"""Sentinel Hub source against a fake service on 127.0.0.1 (the real client, no network).

Scenes served by the fake are made from Collection 2 products written to ``tmp_path`` (or the
shared real samples), so fetched products can be compared with the local source read from the
very same pixels.
"""

from __future__ import annotations

import http.client
import json
import logging
import re
import threading
import time
from datetime import date, datetime, timezone
from pathlib import Path
from urllib.parse import urlsplit

import geopandas as gpd
import numpy as np
import pytest
import rasterio
from pyproj import Transformer
from sentinelhub import DataCollection, SentinelHubDownloadClient, SentinelHubRequest, SHConfig
from sentinelhub.exceptions import SHRateLimitWarning
from shapely.geometry import box

from pipeline.core.config import SentinelHubConfig
from pipeline.core.errors import AuthenticationError, ConfigError, FetchError, QAMissingWarning
from pipeline.core.grid import Grid
from pipeline.io.c2write import ST_ADD, ST_MULT
from pipeline.io.mtl import read_mtl
from pipeline.io.reader import discover_products, read_scene
from pipeline.io.sentinelhub import (
    ANSWER_BANDS,
    TIRS_B10,
    brightness_temperature_to_counts,
    fetch_grid,
    fetch_sites,
    landsat_collection,
    load_evalscript,
)
from pipeline.io.stack import iter_scenes, stack_scenes
from pipeline.science.calibrate import counts_to_radiance, radiance_to_brightness_temperature
from pipeline.science.qa import encode
from pipeline.science.solar import sun_position
from tests.support.sh_server import (
    CATALOG_PATH,
    CLIENT_ID,
    CLIENT_SECRET,
    PROCESS_PATH,
    TOKEN_PATH,
    FakeScene,
    FakeSentinelHub,
    isolate_sentinelhub,
    scene_from,
)

#: Synthetic products on the USGS pixel lattice (edges at 15 m modulo 30), UTM 18N, 64 x 64.
ORIGIN = (500_025.0, 4_000_035.0)
CRS18 = 32618
MARGIN = 300.0
START, END = date(2024, 1, 1), date(2024, 12, 31)
JUNE_1 = datetime(2024, 6, 1, 15, 30, 0, tzinfo=timezone.utc)
JUNE_9 = datetime(2024, 6, 9, 15, 30, 0, tzinfo=timezone.utc)


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    yield from isolate_sentinelhub(monkeypatch, tmp_path)


# Helpers --------------------------------------------------------------------------------------


def utm_box_site(site_id: str, bounds: tuple[float, float, float, float], epsg: int = CRS18):
    tr = Transformer.from_crs(epsg, 4326, always_xy=True)
    x0, y0, x1, y1 = bounds
    lon0, lat0 = tr.transform(x0, y0)
    lon1, lat1 = tr.transform(x1, y1)
    return site_id, box(lon0, lat0, lon1, lat1)


def sites_frame(*sites) -> gpd.GeoDataFrame:
    return gpd.GeoDataFrame({"site_id": [s for s, _ in sites]},
                            geometry=[g for _, g in sites], crs=4326)


#: A 300 m site in the middle of the synthetic products.
SITE_A = utm_box_site("site-a", (500_835.0, 3_998_925.0, 501_135.0, 3_999_225.0))
#: A second site in the same products, north-west of the first.
SITE_B = utm_box_site("site b/2", (500_205.0, 3_999_525.0, 500_385.0, 3_999_705.0))


def sh_credentials(secret: str = CLIENT_SECRET) -> SHConfig:
    return SHConfig(use_defaults=True, sh_client_id=CLIENT_ID, sh_client_secret=secret)


def hw_config(server: FakeSentinelHub, tmp_path: Path, **kw) -> SentinelHubConfig:
    base = {"base_url": server.base_url, "token_url": server.token_url,
            "cache_dir": tmp_path / "cache", "backoff_s": 0.001, "max_retries": 2,
            "timeout_s": 10.0}
    return SentinelHubConfig(**{**base, **kw})


def run(server, tmp_path, sites=None, *, sh=None, out="out", start=START, end=END, **cfg):
    return fetch_sites(sites if sites is not None else sites_frame(SITE_A), start=start, end=end,
                       out_dir=tmp_path / out, config=hw_config(server, tmp_path, **cfg),
                       margin_m=MARGIN, sh_config=sh if sh is not None else sh_credentials())


def cloudy_qa(shape) -> np.ndarray:
    cloud = np.zeros(shape, dtype=bool)
    cloud[30:40, 25:34] = True  # over site A
    fill = np.zeros(shape, dtype=bool)
    fill[:, :3] = True
    water = np.zeros(shape, dtype=bool)
    water[50:, 50:] = True
    return encode(cloud=cloud, fill=fill, water=water)


def l2_pair(make_product):
    """Two L2 products (L8 on June 1 with clouds and fill, L9 on June 9) on the USGS lattice."""
    shape = (64, 64)
    yy, xx = np.mgrid[0:64, 0:64]
    hot = 6.0 * np.exp(-((yy - 32) ** 2 + (xx - 30) ** 2) / 18.0)
    k1 = 299.0 + 0.03 * xx + hot + np.random.default_rng(1).normal(0, 0.2, shape)
    k1[:, :3] = np.nan
    k2 = 301.5 - 0.02 * yy + hot + np.random.default_rng(2).normal(0, 0.2, shape)
    a = make_product.l2(kelvin=k1, spacecraft=8, acquired=JUNE_1.replace(tzinfo=None),
                        origin=ORIGIN, qa=cloudy_qa(shape), cloud_cover=12.5)
    b = make_product.l2(kelvin=k2, spacecraft=9, acquired=JUNE_9.replace(tzinfo=None),
                        origin=ORIGIN, wrs=(12, 31), cloud_cover=3.0)
    return a, b


@pytest.fixture
def pair(make_product):
    return l2_pair(make_product)


@pytest.fixture
def server(pair):
    with FakeSentinelHub([scene_from(m) for m in pair]) as srv:
        yield srv


def stack_of(folder: Path, grid: Grid):
    products, problems = discover_products(folder)
    assert problems == []
    return stack_scenes(iter_scenes(products, grid))


# Requests --------------------------------------------------------------------------------------


def test_requests_carry_collection_bands_bbox_crs_resolution_and_filters(server, tmp_path, pair):
    report = run(server, tmp_path)
    assert report.failures == []
    assert [r.path for r in server.requests] == [TOKEN_PATH, CATALOG_PATH, PROCESS_PATH,
                                                 PROCESS_PATH]
    assert report.n_requests == 3 and report.n_cached == 0

    search = server.requests_to(CATALOG_PATH)[0].json
    assert search["collections"] == ["landsat-ot-l2"]
    assert search["datetime"] == "2024-01-01T00:00:00Z/2024-12-31T23:59:59Z"
    assert search["filter"] == "eo:cloud_cover <= 60"
    lon0, lat0, lon1, lat1 = SITE_A[1].bounds
    bx0, by0, bx1, by1 = search["bbox"]
    assert bx0 < lon0 and by0 < lat0 and bx1 > lon1 and by1 > lat1  # site plus margin

    grid = fetch_grid(SITE_A[1], margin_m=MARGIN)
    for req, made in zip(server.requests_to(PROCESS_PATH), pair, strict=True):
        body, acquired = req.json, read_mtl(made.mtl).acquired
        assert req.headers["authorization"].startswith("Bearer ")
        assert req.headers["accept"] == "image/tiff"
        (data,) = body["input"]["data"]
        assert data["type"] == "landsat-ot-l2"
        assert data["processing"] == {"upsampling": "NEAREST", "downsampling": "NEAREST"}
        t0 = datetime.fromisoformat(data["dataFilter"]["timeRange"]["from"].replace("Z", "+00:00"))
        t1 = datetime.fromisoformat(data["dataFilter"]["timeRange"]["to"].replace("Z", "+00:00"))
        assert t0 < acquired < t1 and (t1 - t0).total_seconds() <= 2
        bounds = body["input"]["bounds"]
        assert bounds["properties"]["crs"] == "http://www.opengis.net/def/crs/EPSG/0/32618"
        assert bounds["bbox"] == list(grid.bounds)
        assert body["output"]["resx"] == body["output"]["resy"] == 30.0
        assert body["output"]["responses"] == [{"identifier": "default",
                                                "format": {"type": "image/tiff"}}]
        assert body["evalscript"] == load_evalscript("LANDSAT_OT_L2")
        assert 'bands: ["B10", "BQA", "dataMask", "B04", "B05"]' in body["evalscript"]
        assert 'sampleType: "FLOAT32"' in body["evalscript"]


def test_fetch_grid_is_usgs_lattice_and_covers_the_scan_grid():
    scan = Grid.around(SITE_A[1], margin_m=MARGIN, resolution=30.0)
    grid = fetch_grid(SITE_A[1], margin_m=MARGIN)
    assert grid.crs == scan.crs and grid.resolution == 30.0
    assert grid.transform.c % 30 == 15.0 and grid.transform.f % 30 == 15.0
    left, bottom, right, top = grid.bounds
    sl, sb, sr, st = scan.bounds
    assert left <= sl - 45 and bottom <= sb - 45 and right >= sr + 45 and top >= st + 45
    sydney = fetch_grid(box(151.20, -33.90, 151.21, -33.89), margin_m=0)
    assert sydney.crs.to_epsg() == 32656 and sydney.bounds[3] < 0  # north zone, negative y


def test_stock_collection_ignores_the_base_url_so_it_is_overridden(server):
    sh = sh_credentials()
    sh.sh_base_url = server.base_url
    kwargs = {"evalscript": load_evalscript("LANDSAT_OT_L2"),
              "responses": [SentinelHubRequest.output_response("default", "tiff")],
              "bbox": None, "size": (2, 2), "config": sh}
    from sentinelhub import CRS, BBox

    kwargs["bbox"] = BBox((500_025, 3_999_000, 500_085, 3_999_060), crs=CRS(CRS18))
    stock = SentinelHubRequest(input_data=[SentinelHubRequest.input_data(
        DataCollection.LANDSAT_OT_L2)], **kwargs)
    assert stock.download_list[0].url.startswith("https://services-uswest2.sentinel-hub.com")
    ours = SentinelHubRequest(input_data=[SentinelHubRequest.input_data(
        landsat_collection("LANDSAT_OT_L2", server.base_url))], **kwargs)
    assert ours.download_list[0].url == f"{server.base_url}/api/v1/process"
    assert landsat_collection("LANDSAT_OT_L2", server.base_url + "/") is landsat_collection(
        "LANDSAT_OT_L2", server.base_url)
    assert landsat_collection("LANDSAT_OT_L1", "https://services-uswest2.sentinel-hub.com") is (
        DataCollection.LANDSAT_OT_L1)


def test_cloud_filter_drops_cloudy_items_and_one_pass_is_one_request(make_product, tmp_path):
    a = make_product.l2(spacecraft=8, acquired=JUNE_1.replace(tzinfo=None), origin=ORIGIN,
                        wrs=(12, 31))
    # The next WRS row of the same pass, 24 s later, reaching only the south of the site.
    row_b = make_product.l2(spacecraft=8, acquired=datetime(2024, 6, 1, 15, 30, 24),
                            origin=(ORIGIN[0], ORIGIN[1] - 960.0), wrs=(12, 32), seed=5)
    cloudy = make_product.l2(spacecraft=9, acquired=JUNE_9.replace(tzinfo=None), origin=ORIGIN,
                             cloud_cover=85.0)
    scenes = [scene_from(a), scene_from(row_b), scene_from(cloudy)]
    with FakeSentinelHub(scenes) as srv:
        report = run(srv, tmp_path, max_cloud_cover=40.0)
        assert srv.requests_to(CATALOG_PATH)[0].json["filter"] == "eo:cloud_cover <= 40"
        (proc,) = srv.requests_to(PROCESS_PATH)
    tr = proc.json["input"]["data"][0]["dataFilter"]["timeRange"]
    assert tr == {"from": "2024-06-01T15:29:59Z", "to": "2024-06-01T15:30:25Z"}
    assert report.products == [f"site-a/{a.pid}"]  # the row covering the site names the pass


# Products ---------------------------------------------------------------------------------------


def test_written_products_read_back(server, tmp_path, pair):
    report = run(server, tmp_path)
    folder = report.site_dirs["site-a"]
    assert folder == tmp_path / "out" / "site-a"
    grid = fetch_grid(SITE_A[1], margin_m=MARGIN)
    for made in pair:
        assert f"site-a/{made.pid}" in report.products
        for suffix in ("_ST_B10.TIF", "_QA_PIXEL.TIF"):
            with rasterio.open(folder / f"{made.pid}{suffix}") as src:
                assert src.dtypes == ("uint16",) and src.count == 1
                assert src.crs.to_epsg() == CRS18
                assert src.transform.almost_equals(grid.transform)
                assert (src.height, src.width) == grid.shape
        meta, orig = read_mtl(folder / f"{made.pid}_MTL.json"), read_mtl(made.mtl)
        assert meta.product_id == made.pid and meta.processing_level == "L2SP"
        assert meta.acquired == orig.acquired
        assert meta.sun_elevation == orig.sun_elevation and meta.sun_azimuth == orig.sun_azimuth
        assert meta.cloud_cover == orig.cloud_cover
        assert meta.utm_zone == 18 and meta.cell_size == 30.0
        assert (meta.calibration.st_mult, meta.calibration.st_add) == (ST_MULT, ST_ADD)
        # ST_B10 digital numbers and QA_PIXEL are the USGS ones, cropped.
        with rasterio.open(folder / f"{made.pid}_ST_B10.TIF") as got, \
                rasterio.open(made.band) as ref:
            win = ref.window(*grid.bounds)
            np.testing.assert_array_equal(got.read(1), ref.read(1, window=win))
        with rasterio.open(folder / f"{made.pid}_QA_PIXEL.TIF") as got, \
                rasterio.open(made.qa or made.band) as ref:
            if made.qa is not None:
                np.testing.assert_array_equal(got.read(1), ref.read(1, window=win))


def test_data_mask_zero_becomes_fill(make_product, tmp_path):
    made = make_product.l2(origin=ORIGIN, acquired=JUNE_1.replace(tzinfo=None))
    scene = scene_from(made)
    scene.data_mask = np.ones(scene.b10.shape, bool)
    scene.data_mask[:, :32] = False  # the west half is outside the acquisition
    with FakeSentinelHub([scene]) as srv:
        report = run(srv, tmp_path)
    folder = report.site_dirs["site-a"]
    grid = fetch_grid(SITE_A[1], margin_m=MARGIN)
    with rasterio.open(folder / f"{made.pid}_ST_B10.TIF") as st, \
            rasterio.open(folder / f"{made.pid}_QA_PIXEL.TIF") as qa:
        dn, bits = st.read(1), qa.read(1)
    west = (np.arange(grid.shape[1]) * 30 + grid.transform.c + 15) < ORIGIN[0] + 32 * 30
    assert (dn[:, west] == 0).all() and (bits[:, west] == 1).all()
    assert (dn[:, ~west] > 0).all() and not (bits[:, ~west] & 1).any()


def test_level2_red_and_near_infrared_come_back_as_the_usgs_reflectance(make_product, tmp_path):
    # B04 and B05 (reflectance) are written as SR_B4 and SR_B5 with the USGS scale: the same
    # digital numbers as the local product's, fill where dataMask is 0, and the same NDVI
    from pipeline.core.config import ReaderConfig
    from pipeline.io.reader import discover_products, read_scene

    rng = np.random.default_rng(4)
    red_nir = {4: rng.uniform(0.03, 0.2, (64, 64)), 5: rng.uniform(0.2, 0.45, (64, 64))}
    made = make_product.l2(origin=ORIGIN, acquired=JUNE_1.replace(tzinfo=None),
                           reflectance=red_nir)
    scene = scene_from(made)
    scene.data_mask = np.ones(scene.b10.shape, bool)
    scene.data_mask[:, :32] = False
    with FakeSentinelHub([scene]) as srv:
        report = run(srv, tmp_path)
    folder = report.site_dirs["site-a"]
    grid = fetch_grid(SITE_A[1], margin_m=MARGIN)
    west = (np.arange(grid.shape[1]) * 30 + grid.transform.c + 15) < ORIGIN[0] + 32 * 30
    for band in (4, 5):
        local = next(f for f in made.files if f.name.endswith(f"_SR_B{band}.TIF"))
        with rasterio.open(folder / f"{made.pid}_SR_B{band}.TIF") as got, \
                rasterio.open(local) as ref:
            dn, want = got.read(1), ref.read(1, window=ref.window(*grid.bounds))
        assert (dn[:, west] == 0).all()
        np.testing.assert_array_equal(dn[:, ~west], want[:, ~west])
    (fetched,), _ = discover_products(folder)
    ndvi = read_scene(fetched, config=ReaderConfig(greenness=True))["ndvi"].values
    assert np.isnan(ndvi[:, west]).all() and np.isfinite(ndvi[:, ~west]).all()


def test_fetched_stack_equals_local_stack(server, tmp_path, pair, make_product):
    report = run(server, tmp_path, sites_frame(SITE_A, SITE_B))
    assert report.failures == [] and len(report.products) == 4
    for site in (SITE_A, SITE_B):
        grid = Grid.around(site[1], margin_m=MARGIN, resolution=30.0)  # the scan's grid
        local = stack_of(make_product.root, grid)
        fetched = stack_of(report.site_dirs[site[0]], grid)
        assert fetched.sizes == local.sizes and fetched.sizes["time"] == 2
        np.testing.assert_array_equal(fetched["flags"].values, local["flags"].values)
        np.testing.assert_allclose(fetched["temperature"].values, local["temperature"].values,
                                   rtol=0, atol=1e-4, equal_nan=True)
        assert np.isnan(local["temperature"].values).any()  # clouds and fill are masked
        for coord in ("time", "product_id", "spacecraft", "sun_elevation", "cloud_cover",
                      "clear_fraction", "x", "y"):
            np.testing.assert_array_equal(fetched[coord].values, local[coord].values)
        assert fetched.rio.crs == local.rio.crs
        assert fetched["temperature"].attrs == local["temperature"].attrs


@pytest.mark.parametrize("spacecraft", [8, 9])
def test_fetched_level1_equals_local_level1(make_product, tmp_path, spacecraft):
    made = make_product.l1(spacecraft=spacecraft, origin=ORIGIN, constants=TIRS_B10[spacecraft],
                           acquired=JUNE_1.replace(tzinfo=None))
    with FakeSentinelHub([scene_from(made, collection="landsat-ot-l1")]) as srv:
        report = run(srv, tmp_path, collection="LANDSAT_OT_L1")
        assert srv.requests_to(PROCESS_PATH)[0].json["input"]["data"][0]["type"] == (
            "landsat-ot-l1")
        assert srv.requests_to(PROCESS_PATH)[0].json["evalscript"] == load_evalscript(
            "LANDSAT_OT_L1")
    assert report.failures == []
    folder = report.site_dirs["site-a"]
    meta = read_mtl(folder / f"{made.pid}_MTL.json")
    assert meta.level == "L1" and meta.calibration.k1 == TIRS_B10[spacecraft]["k1"]
    grid = fetch_grid(SITE_A[1], margin_m=MARGIN)
    with rasterio.open(folder / f"{made.pid}_B10.TIF") as got, rasterio.open(made.band) as ref:
        np.testing.assert_array_equal(got.read(1), ref.read(1, window=ref.window(*grid.bounds)))
    scan = Grid.around(SITE_A[1], margin_m=MARGIN, resolution=30.0)
    local, fetched = stack_of(make_product.root, scan), stack_of(folder, scan)
    np.testing.assert_allclose(fetched["temperature"].values, local["temperature"].values,
                               atol=1e-4)
    (product,), _ = discover_products(folder)
    assert read_scene(product)["temperature"].attrs["standard_name"] == (
        "toa_brightness_temperature")


def test_counts_survive_the_brightness_temperature_round_trip():
    counts = np.arange(8_000, 60_001, dtype=np.uint16)
    for consts in TIRS_B10.values():
        rad = counts_to_radiance(counts, mult=consts["radiance_mult"], add=consts["radiance_add"])
        bt = radiance_to_brightness_temperature(rad, k1=consts["k1"], k2=consts["k2"])  # float32
        np.testing.assert_array_equal(brightness_temperature_to_counts(bt, **consts), counts)


def test_real_liverpool_product_round_trips(liverpool, tmp_path):
    (product,), _ = discover_products(liverpool)
    meta = read_mtl(product.mtl)
    with rasterio.open(product.band) as src:
        dn, tr, crs = src.read(1), src.transform, src.crs
    kelvin = (dn * meta.calibration.st_mult + meta.calibration.st_add).astype(np.float32)
    scene = FakeScene(meta.product_id, meta.acquired, kelvin, encode(shape=dn.shape), tr, crs,
                      cloud_cover=meta.cloud_cover, sun_elevation=meta.sun_elevation,
                      sun_azimuth=meta.sun_azimuth)
    cx, cy = tr.c + 216 * 30, tr.f - 133 * 30
    site = utm_box_site("liverpool", (cx - 600, cy - 450, cx + 600, cy + 450), 32630)
    with FakeSentinelHub([scene]) as srv:
        report = run(srv, tmp_path, sites_frame(site), start=date(2020, 9, 1),
                     end=date(2020, 9, 30))
    assert report.failures == []
    (fetched,), _ = discover_products(report.site_dirs["liverpool"])
    grid = Grid.around(site[1], margin_m=MARGIN, resolution=30.0)
    with pytest.warns(QAMissingWarning):
        local = read_scene(product, grid=grid)
    got = read_scene(fetched, grid=grid)
    np.testing.assert_allclose(got["temperature"].values, local["temperature"].values,
                               atol=1e-4)
    assert 286.0 < float(np.nanmean(got["temperature"].values)) < 296.0


# Cache ----------------------------------------------------------------------------------------


def test_second_run_sends_nothing_not_even_a_token(server, tmp_path):
    first = run(server, tmp_path)
    server.clear()
    second = run(server, tmp_path)
    assert server.requests == []
    assert (second.n_requests, second.n_cached, second.processing_units) == (0, 3, 0.0)
    assert second.products == first.products and second.failures == []
    entries = sorted((tmp_path / "cache").rglob("*.request.json"))
    assert len(entries) == 3
    for entry in entries:
        record = json.loads(entry.read_text())
        answer = entry.with_name(record["key"] + record["response_suffix"])
        assert answer.is_file() and record["request"]["method"] == "POST"
        assert record["request"]["path"] in (CATALOG_PATH, PROCESS_PATH)
        assert "authorization" not in entry.read_text().lower()


def test_cached_run_works_offline_and_without_credentials(server, tmp_path):
    run(server, tmp_path)
    server.stop()
    report = run(server, tmp_path, sh=SHConfig(use_defaults=True), out="again")
    assert report.n_requests == 0 and len(report.products) == 2 and report.failures == []
    assert len(discover_products(report.site_dirs["site-a"])[0]) == 2


def test_unsettled_catalog_search_is_repeated_and_process_answers_reused(server, tmp_path):
    run(server, tmp_path, catalog_refresh_days=3650)  # 2024 is still "recent": not settled
    server.clear()
    report = run(server, tmp_path, catalog_refresh_days=3650)
    assert [r.path for r in server.requests] == [CATALOG_PATH]  # the token is still valid
    assert (report.n_requests, report.n_cached) == (1, 2)
    server.stop()  # offline: the last catalog answer stands in for the search
    offline = run(server, tmp_path, catalog_refresh_days=3650, max_retries=0)
    assert offline.failures == [] and offline.n_cached == 3 and len(offline.products) == 2


def test_changed_evalscript_or_grid_is_a_new_request(server, tmp_path):
    run(server, tmp_path)
    server.clear()
    fetch_sites(sites_frame(SITE_A), start=START, end=END, out_dir=tmp_path / "wide",
                config=hw_config(server, tmp_path), margin_m=MARGIN + 60,
                sh_config=sh_credentials())
    assert len(server.requests_to(PROCESS_PATH)) == 2


# Failures and retries ---------------------------------------------------------------------------


def test_retries_503_then_succeeds(server, tmp_path):
    server.fail(PROCESS_PATH, 503, times=2, body='{"error": {"message": "busy"}}')
    report = run(server, tmp_path, max_retries=2)
    assert report.failures == [] and len(report.products) == 2
    assert len(server.requests_to(PROCESS_PATH)) == 4  # 2 x 503, then both acquisitions


def test_503_after_all_retries_is_recorded_and_the_rest_goes_on(server, tmp_path, pair):
    first = pair[0].pid
    server.fail(PROCESS_PATH, 503, times=3, body='{"error": {"message": "backend down"}}',
                match=lambda r: "2024-06-01" in r.body.decode())
    report = run(server, tmp_path, max_retries=2)
    assert len(server.requests_to(PROCESS_PATH)) == 3 + 1
    ((site, pid, message),) = report.failures
    assert (site, pid) == ("site-a", first) and "503" in message and "backend down" in message
    assert report.products == [f"site-a/{pair[1].pid}"]
    server.clear()
    again = run(server, tmp_path)  # the failure was not cached: fetched again, nothing else
    assert again.failures == [] and again.n_requests == 1


def test_429_waits_for_retry_after_milliseconds(server, tmp_path):
    server.fail(PROCESS_PATH, 429, times=1, headers={"Retry-After": "150"},
                body='{"error": {"message": "rate limit"}}')
    t0 = time.monotonic()
    with pytest.warns(SHRateLimitWarning):
        report = run(server, tmp_path)
    assert time.monotonic() - t0 >= 0.15  # Sentinel Hub gives Retry-After in milliseconds
    assert report.failures == [] and len(server.requests_to(PROCESS_PATH)) == 3


def test_malformed_catalog_answer_is_recorded_and_other_sites_go_on(server, tmp_path):
    server.fail(CATALOG_PATH, 200, times=1, body='{"type": "FeatureCollection", "features": [')
    report = run(server, tmp_path, sites_frame(SITE_A, SITE_B))
    ((site, pid, message),) = report.failures
    assert site == "site-a" and pid is None and "malformed answer" in message
    assert len(report.products) == 2 and all(p.startswith("site-b-2_") for p in report.products)


def test_malformed_image_is_recorded_and_not_cached(server, tmp_path, pair):
    server.fail(PROCESS_PATH, 200, times=1, body=b"<html>proxy error</html>",
                headers={"Content-Type": "image/tiff"})
    report = run(server, tmp_path)
    ((site, pid, message),) = report.failures
    assert (site, pid) == ("site-a", pair[0].pid) and "not a readable GeoTIFF" in message
    assert len(report.products) == 1
    assert len(list((tmp_path / "cache").rglob("*.tif"))) == 1


def test_oversized_site_is_recorded_without_a_request(server, tmp_path):
    huge = ("huge", box(-75.9, 35.5, -74.1, 36.9))
    report = run(server, tmp_path, sites_frame(huge, SITE_A))
    assert report.failures[0][0] == "huge" and "Process API limit" in report.failures[0][2]
    assert len(server.requests_to(CATALOG_PATH)) == 1 and len(report.products) == 2


def test_processing_units_are_summed(server, tmp_path):
    report = run(server, tmp_path, sites_frame(SITE_A, SITE_B))
    assert len(server.processing_units) == 4
    assert report.processing_units == pytest.approx(sum(server.processing_units))
    assert report.to_dict()["processing_units"] == pytest.approx(sum(server.processing_units))


def test_missing_sun_angles_use_the_sun_position_of_the_site(make_product, tmp_path):
    made = make_product.l2(origin=ORIGIN, acquired=JUNE_1.replace(tzinfo=None))
    scene = scene_from(made)
    scene.sun_elevation = scene.sun_azimuth = None  # the catalog item has no view:sun_*
    with FakeSentinelHub([scene]) as srv:
        report = run(srv, tmp_path)
    meta = read_mtl(report.site_dirs["site-a"] / f"{made.pid}_MTL.json")
    c = SITE_A[1].centroid
    elev, az = sun_position(c.y, c.x, JUNE_1)
    assert meta.sun_elevation == pytest.approx(float(elev), abs=1e-6)
    assert meta.sun_azimuth == pytest.approx(float(az), abs=1e-6)


# Credentials and secrets ----------------------------------------------------------------------


def _all_text(exc: BaseException) -> str:
    parts = []
    while exc is not None:
        parts += [str(exc), repr(exc)]
        exc = exc.__cause__ or exc.__context__
    return "\n".join(parts)


def _no_secret_anywhere(root: Path, caplog: pytest.LogCaptureFixture) -> None:
    assert caplog.records, "the run should have logged something at DEBUG"
    for record in caplog.records:
        assert CLIENT_SECRET not in record.getMessage()
    for path in root.rglob("*"):
        if path.is_file():
            assert CLIENT_SECRET.encode() not in path.read_bytes(), path


def test_wrong_secret_gives_a_clear_secret_free_401(server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    server.client_secret = "the-server-expects-another-one"
    with pytest.raises(AuthenticationError) as info:
        run(server, tmp_path)
    message = str(info.value)
    assert "HTTP 401" in message and "client id and secret" in message
    assert server.token_url in message and "LANDSAT_OT_L2" in message
    assert server.base_url in message and "SH_CLIENT_ID" in message
    assert CLIENT_SECRET not in _all_text(info.value)
    assert CLIENT_SECRET in server.requests_to(TOKEN_PATH)[0].body.decode()  # it was sent...
    _no_secret_anywhere(tmp_path, caplog)  # ...and never written or logged
    assert [r.path for r in server.requests] == [TOKEN_PATH]  # no retry of a 401


def test_403_on_process_mentions_access_and_quota(server, tmp_path):
    server.fail(PROCESS_PATH, 403, times=9, body='{"error": {"message": "no access"}}')
    with pytest.raises(AuthenticationError, match="HTTP 403: no access") as info:
        run(server, tmp_path)
    assert "processing units" in str(info.value)
    assert len(server.requests_to(PROCESS_PATH)) == 1


def test_successful_run_writes_and_logs_no_secret(server, tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    report = run(server, tmp_path)
    (tmp_path / "out" / "fetch.json").write_text(json.dumps(report.to_dict()))
    assert any("oauth" in r.name.lower() or "sentinelhub" in r.name for r in caplog.records)
    _no_secret_anywhere(tmp_path, caplog)


def test_credentials_from_environment_and_profile(server, tmp_path, monkeypatch):
    monkeypatch.setenv("SH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SH_CLIENT_SECRET", CLIENT_SECRET)
    cfg = hw_config(server, tmp_path)
    report = fetch_sites(sites_frame(SITE_A), start=START, end=END, out_dir=tmp_path / "env",
                         config=cfg, margin_m=MARGIN)
    assert len(report.products) == 2
    monkeypatch.delenv("SH_CLIENT_ID")
    monkeypatch.delenv("SH_CLIENT_SECRET")
    SHConfig(use_defaults=True, sh_client_id=CLIENT_ID,
             sh_client_secret=CLIENT_SECRET).save("heatwatch-test")
    server.clear()
    prof = hw_config(server, tmp_path, profile="heatwatch-test", cache_dir=tmp_path / "c2")
    report = fetch_sites(sites_frame(SITE_A), start=START, end=END, out_dir=tmp_path / "prof",
                         config=prof, margin_m=MARGIN)
    assert len(report.products) == 2 and report.profile == "heatwatch-test"
    with pytest.raises(ConfigError, match="'nope' is not in"):
        fetch_sites(sites_frame(SITE_A), start=START, end=END, out_dir=tmp_path / "x",
                    config=hw_config(server, tmp_path, profile="nope"), margin_m=MARGIN)


def test_missing_credentials_and_unreachable_service(server, tmp_path):
    with pytest.raises(AuthenticationError, match="no Sentinel Hub credentials"):
        run(server, tmp_path, sh=SHConfig(use_defaults=True))
    server.stop()
    with pytest.raises(FetchError, match="cannot reach"):
        run(server, tmp_path, max_retries=0)


def test_bad_time_range_and_sites():
    cfg = SentinelHubConfig()
    with pytest.raises(ConfigError, match="after end"):
        fetch_sites(sites_frame(SITE_A), start=END, end=START, out_dir=Path("x"), config=cfg,
                    margin_m=0, sh_config=sh_credentials())
    dup = sites_frame(SITE_A, ("site-a", SITE_B[1]))
    with pytest.raises(Exception, match="used twice"):
        fetch_sites(dup, start=START, end=END, out_dir=Path("x"), config=cfg, margin_m=0,
                    sh_config=sh_credentials())


# The fake service itself ------------------------------------------------------------------------


def test_stop_waits_for_the_requests_being_handled():
    """No handler outlives the test: its rasterio warnings would land in a later test."""
    entered, release, done = threading.Event(), threading.Event(), []

    class Held(FakeSentinelHub):
        def handle(self, rec):  # type: ignore[no-untyped-def]
            entered.set()
            release.wait(10)
            done.append(rec.path)
            return super().handle(rec)

    hub = Held().start()
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(hub.base_url).port, timeout=10)
    conn.request("POST", TOKEN_PATH, body=b"")  # sent; the answer is read later
    assert entered.wait(10)
    stopper = threading.Thread(target=hub.stop, daemon=True)
    stopper.start()
    stopper.join(0.3)
    assert stopper.is_alive(), "stop() returned while a request was still being handled"
    release.set()
    stopper.join(10)
    assert not stopper.is_alive() and done == [TOKEN_PATH]
    assert conn.getresponse().status == 401  # the request in flight is still answered
    conn.close()


def test_a_kept_alive_connection_gets_no_answer_after_stop():
    hub = FakeSentinelHub().start()
    conn = http.client.HTTPConnection("127.0.0.1", urlsplit(hub.base_url).port, timeout=10)
    conn.request("POST", TOKEN_PATH, body=b"")
    assert conn.getresponse().read() and hub.requests_to(TOKEN_PATH)
    hub.stop()
    conn.request("POST", TOKEN_PATH, body=b"")  # same connection, its handler thread still up
    with pytest.raises(ConnectionError):
        conn.getresponse()
    assert len(hub.requests) == 1
    conn.close()


# Command line -----------------------------------------------------------------------------------


@pytest.fixture
def cli_env(server, tmp_path, monkeypatch):
    """Two sites, a config pointing at the fake server, credentials in the environment."""
    sites = tmp_path / "sites.geojson"
    sites_frame(SITE_A, SITE_B).to_file(sites, driver="GeoJSON")
    cfg = tmp_path / "hw.yaml"
    cfg.write_text(f"sentinelhub:\n  base_url: {server.base_url}\n  token_url: {server.token_url}"
                   f"\n  cache_dir: {tmp_path / 'cache'}\n  backoff_s: 0.001\n")
    monkeypatch.setenv("SH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SH_CLIENT_SECRET", CLIENT_SECRET)
    return sites, cfg


def test_fetch_command(server, tmp_path, cli_env):
    from typer.testing import CliRunner

    from cli import app

    sites, cfg = cli_env
    out = tmp_path / "imagery"
    args = ["fetch", "--sites", str(sites), "--start", "2024-01-01", "--end", "2024-12-31",
            "--out", str(out), "--config", str(cfg)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    summary = json.loads((out / "fetch.json").read_text())
    assert summary["n_requests"] == 6 and summary["n_cached"] == 0  # 2 searches, 4 images
    assert summary["processing_units"] > 0 and summary["failures"] == []
    assert summary["collection"] == "LANDSAT_OT_L2" and "profile" in summary
    assert CLIENT_SECRET not in (out / "fetch.json").read_text()
    assert len(discover_products(out / "site-a")[0]) == 2
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0
    assert json.loads((out / "fetch.json").read_text())["n_requests"] == 0

    server.client_secret = "changed"  # a new search (2023) needs a new token, refused
    SentinelHubDownloadClient.clear_cache()
    args[args.index("2024-01-01")] = "2023-01-01"
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "HTTP 401" in result.output
    assert CLIENT_SECRET not in result.output


def test_scan_source_sentinelhub_fetches_then_scans_each_site(tmp_path, cli_env):
    from typer.testing import CliRunner

    from cli import app

    sites, cfg = cli_env
    out = tmp_path / "out"
    args = ["scan", str(tmp_path / "fetched"), "--source", "sentinelhub", "--sites", str(sites),
            "--start", "2024-01-01", "--end", "2024-12-31", "--out", str(out),
            "--config", str(cfg)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    merged = json.loads((out / "sites.geojson").read_text())
    ids = sorted(f["properties"]["site_id"] for f in merged["features"])
    assert ids == sorted([SITE_A[0], SITE_B[0]])
    assert (out / "site-a" / "run.json").is_file() and (out / "fetch.json").is_file()
    for path in out.rglob("*.json"):
        assert CLIENT_SECRET not in path.read_text()
    # a missing date range is a clear error, not a traceback
    bad = CliRunner().invoke(app, [*args[:6], "--out", str(out), "--config", str(cfg)])
    assert bad.exit_code == 2 and "--start" in bad.output


def test_sentinelhub_source_gives_one_folder_a_site_and_records_the_fetch(server, tmp_path):
    from pipeline.core.sites import safe_name
    from pipeline.io.sentinelhub import SentinelHubSource
    from pipeline.io.source import ImageryFolder, ImagerySource

    out = tmp_path / "out"
    src = SentinelHubSource(out, START, END, hw_config(server, tmp_path), MARGIN,
                            record=out / "fetch.json", about={"command": "test"},
                            sh_config=sh_credentials())
    assert isinstance(src, ImagerySource) and src.report is None
    folders = src.folders(sites_frame(SITE_A))
    site_id = str(sites_frame(SITE_A)["site_id"].iloc[0])
    assert folders == [ImageryFolder(out / safe_name(site_id), (site_id,))]
    assert src.report is not None and src.report.failures == []
    products, _ = discover_products(folders[0].path)
    assert len(products) == len(src.report.products) == 2
    record = json.loads((out / "fetch.json").read_text())
    assert (record["command"], record["start"], record["end"], record["margin_m"]) == (
        "test", "2024-01-01", "2024-12-31", MARGIN)
    assert record["products"] == src.report.products


def test_a_tile_wider_than_one_request_names_the_setting_to_lower():
    from pipeline.core.config import DiscoverConfig
    from pipeline.io.sentinelhub import MAX_PIXELS, check_tile_size

    # 0.9 degrees of longitude at 36 N: about 81 km, 2,700 pixels of 30 m
    wide = gpd.GeoDataFrame({"site_id": ["t"]}, geometry=[box(-97.0, 36.0, -96.1, 36.1)],
                            crs=4326)
    with pytest.raises(ConfigError, match=r"lower discover\.tile_size_m") as err:
        check_tile_size(wide, DiscoverConfig())
    assert f"{MAX_PIXELS} pixels per request" in str(err.value)
    narrow = gpd.GeoDataFrame({"site_id": ["t"]}, geometry=[box(-97.0, 36.0, -96.8, 36.1)],
                              crs=4326)
    check_tile_size(narrow, DiscoverConfig())


@pytest.mark.parametrize("collection", sorted(ANSWER_BANDS))
def test_the_decoded_bands_are_the_evalscript_s_own(collection):
    # the decoder's band list and the evalscript's are written twice: they must agree, in order
    script = load_evalscript(collection)
    asked = json.loads(re.search(r"bands:\s*(\[[^\]]*\])", script)[1])
    returned = re.search(r"return \[([^\]]*)\]", script)[1]
    assert tuple(asked) == ANSWER_BANDS[collection]
    assert [b.strip().removeprefix("sample.") for b in returned.split(",")] == asked
    assert f"bands: {len(asked)}," in script
