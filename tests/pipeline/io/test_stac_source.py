"""The STAC source against a local STAC API with COGs (tests/support/stac_server.py).

Real pystac-client (search, POST paging) and rasterio/GDAL (/vsicurl range reads); no network.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import geopandas as gpd
import numpy as np
import pytest
from affine import Affine
from pyproj import Transformer
from rasterio.crs import CRS
from shapely.geometry import box
from typer.testing import CliRunner

from pipeline.core.config import ReaderConfig, StacConfig
from pipeline.core.errors import StacRequestError, StacTimeoutError
from pipeline.io.mtl import read_mtl, read_mtl_groups
from pipeline.io.reader import discover_products, read_scene
from pipeline.io.stac.http import clear_gdal_http_cache, make_signer, strip_query
from pipeline.io.stac.items import baseline_period
from pipeline.io.stac.source import fetch_sites_stac
from tests.support.stac_server import Scene, StacWorld, serve, utc

LON, LAT = -90.03, 35.06
CRS16 = CRS.from_epsg(32616)
SIDE = 768  # pixels: 23 km, three 256-px tiles a side
FIRST_DATE = "2024-03-01"  # the site's first timeline date (inside the series)


def _site_xy() -> tuple[float, float]:
    return Transformer.from_crs(4326, CRS16, always_xy=True).transform(LON, LAT)


def _scene_transform() -> Affine:
    x, y = _site_xy()
    left = (x // 30) * 30 + 15 - 30 * (SIDE // 2)
    top = (y // 30) * 30 + 15 + 30 * (SIDE // 2)
    return Affine(30, 0, left, 0, -30, top)


def _kelvin(seed: int, base: float, hot: float) -> np.ndarray:
    rng = np.random.default_rng(seed)
    k = base + rng.normal(0, 0.4, (SIDE, SIDE))
    yy, xx = np.mgrid[:SIDE, :SIDE]
    k[(yy - SIDE // 2) ** 2 + (xx - SIDE // 2) ** 2 <= 16] += hot
    return k


L2 = "landsat-c2l2-st"
L1 = "landsat-c2l1"
#: (product id, time, kelvin base, heat, night?) -- 2023 is the baseline year, 2024 the series
DAYS = [(f"LC08_L2SP_022035_{d:%Y%m%d}_{d:%Y%m%d}_02_T1", d, 290 + 8 * np.sin(d.month / 2), h)
        for d, h in [(utc(2023, 4, 12), 0.0), (utc(2023, 7, 1), 0.0), (utc(2023, 10, 5), 0.0),
                     (utc(2024, 1, 18), 0.0), (utc(2024, 2, 19), 0.0), (utc(2024, 4, 7), 6.0),
                     (utc(2024, 5, 25), 6.0), (utc(2024, 7, 12), 6.0), (utc(2024, 8, 29), 6.0),
                     (utc(2024, 10, 16), 6.0), (utc(2024, 11, 17), 6.0)]]
NIGHT = ("LC09_L1TP_148214_20240615_20240616_02_T1", utc(2024, 6, 15, 4, 12))
#: Red and near-infrared of one look (DAYS[7]): soil, NDVI 0.08 / 0.44
RED_NIR = {4: np.full((SIDE, SIDE), 0.18), 5: np.full((SIDE, SIDE), 0.26)}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[StacWorld]:
    root = tmp_path_factory.mktemp("stac_files")
    w = StacWorld(root)
    tr = _scene_transform()
    for i, (pid, when, base, hot) in enumerate(DAYS):
        w.add(Scene(pid, when, _kelvin(i, base, hot), tr, CRS16,
                    reflectance=RED_NIR if i == 7 else None), L2)
    # a day Level-1 look that has its Level-2 product: "both" keeps only the Level-2 one
    pid, when, base, hot = DAYS[6]
    w.add(Scene(pid.replace("L2SP", "L1TP"), when, _kelvin(6, base, hot), tr, CRS16), L1)
    w.add(Scene(NIGHT[0], NIGHT[1], _kelvin(99, 284.0, 8.0), tr, CRS16, sun_elevation=-35.0,
                night=True), L1)
    for srv in serve(w):
        yield srv.world


@pytest.fixture
def server(world: StacWorld) -> Iterator[StacWorld]:
    srv = world
    srv.faults.clear()
    srv.requests.clear()
    srv.bytes_served.clear()
    srv.stamps.clear()
    clear_gdal_http_cache()  # GDAL keeps remote ranges for the process's life
    yield srv


def _sites(tmp_path: Path) -> Path:
    x, y = _site_xy()
    poly = gpd.GeoSeries([box(x - 150, y - 150, x + 150, y + 150)], crs=CRS16).to_crs(4326)
    timeline = [{"date": FIRST_DATE, "status": "construction"},
                {"date": "2024-06-01", "status": "operating", "power_mw": 50.0}]
    feature = {"type": "Feature", "geometry": json.loads(poly.to_json())["features"][0]["geometry"],
               "properties": {"site_id": "test-campus", "name": "Test campus",
                              "timeline": timeline}}
    path = tmp_path / "sites.geojson"
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def _config(world: StacWorld, tmp_path: Path, **kw: object) -> StacConfig:
    args: dict[str, object] = {"endpoint": world.base_url, "cache_dir": tmp_path / "cache",
                               "page_size": 3, "backoff_s": 0.0, "timeout_s": 1.0,
                               "max_retries": 2, "max_retry_after_s": 1.0}
    return StacConfig(**{**args, **kw})


def _fetch(world: StacWorld, tmp_path: Path, out: Path, **kw: object):  # type: ignore[no-untyped-def]
    from aoi.sites import read_sites

    level = kw.pop("level", None)
    cfg = _config(world, tmp_path, **kw)
    return fetch_sites_stac(read_sites(_sites(tmp_path)), start=date(2024, 1, 1),
                            end=date(2024, 12, 31), out_dir=out, config=cfg, margin_m=600.0,
                            level=level)  # type: ignore[arg-type]


# pure parts --------------------------------------------------------------------------------------


def test_baseline_ends_before_construction_and_fetches_only_what_the_series_lacks() -> None:
    b = baseline_period(date(2024, 3, 1), start=date(2024, 1, 1), end=date(2024, 12, 31),
                        years=1)
    assert (b.start, b.end) == (date(2023, 1, 1), date(2024, 2, 29))
    assert b.fetch == (date(2023, 1, 1), date(2023, 12, 31))
    # unknown construction date: the year before --start
    b = baseline_period(None, start=date(2024, 1, 1), end=date(2024, 12, 31), years=2)
    assert (b.start, b.end, b.basis) == (date(2022, 1, 1), date(2023, 12, 31),
                                         "years_before_start")
    # never before Landsat 8
    b = baseline_period(date(2013, 6, 1), start=date(2020, 1, 1), end=date(2020, 12, 31),
                        years=3)
    assert b.start == date(2013, 3, 18)


# end to end through the library -------------------------------------------------------------------


def test_fetch_writes_c2_windows_the_reader_reads_with_baseline_and_night(
        server: StacWorld, tmp_path: Path) -> None:
    report = _fetch(server, tmp_path, tmp_path / "imagery")
    assert not report.failures, report.failures
    folder = tmp_path / "imagery" / "test-campus"
    products, problems = discover_products(folder)
    assert not problems
    pids = {p.product_id for p in products}
    # 11 day looks (3 in the 2023 baseline) + the night Level-1; the day L1 twin is left out
    assert len(pids) == 12
    assert NIGHT[0] in pids and not any("L1TP_022035" in p for p in pids)
    night = read_mtl_groups(next(p.mtl for p in products if p.product_id == NIGHT[0]))
    assert night["IMAGE_ATTRIBUTES"]["DAY_NIGHT_FLAG"] == "NIGHT"
    # the window, not the scene: a few dozen pixels a side, and the reader accepts it
    day = next(p for p in products if p.product_id == DAYS[7][0])
    meta = read_mtl(day.mtl)
    assert meta.lines < 100 and meta.samples < 100
    ds = read_scene(day)
    k = ds["temperature"].values
    assert np.nanmax(k) > np.nanmedian(k) + 4.0  # the 6 K heat source is in the window
    # its item has red and near-infrared assets: windows of them too, for the ring greenness
    assert day.red_nir is not None
    green = read_scene(day, config=ReaderConfig(greenness=True))
    np.testing.assert_allclose(green["ndvi"].values, 0.08 / 0.44, atol=2e-4)
    assert all(p.red_nir is None for p in products if p.product_id != DAYS[7][0])
    # the contract with the scan: the before-construction period per site
    doc = report.to_dict()
    assert doc["baseline"] == {"test-campus": {"start": "2023-01-01", "end": "2024-02-29"}}
    assert doc["baseline_basis"] == {"test-campus": "epoch_timeline_first_date"}
    # provenance: item ids, unsigned hrefs, sha256 of each written file
    prov = {p["product_id"]: p for p in doc["provenance"]}
    assert prov[DAYS[0][0]]["item_id"] == DAYS[0][0] + "_ST"
    assert len(prov[DAYS[0][0]]["files"]) == 3


def test_windowed_reads_are_a_small_fraction_and_a_rerun_reads_nothing(
        server: StacWorld, tmp_path: Path) -> None:
    report = _fetch(server, tmp_path, tmp_path / "imagery")
    tifs = [n for n in server.bytes_served if n.endswith(".TIF")]
    served = sum(server.bytes_served[n] for n in tifs)
    full = sum(server.file_size(n) for n in tifs)
    assert all(s == 206 for m, n, _, s, _ in server.requests if n.endswith(".TIF") and m == "GET")
    assert served < 0.35 * full  # 1-4 of 9 tiles plus the header, per file
    # the client counts what GDAL and requests received: at least what the TIFFs sent
    assert report.bytes_read >= served
    assert report.bytes_read < 0.5 * full
    server.requests.clear()
    again = _fetch(server, tmp_path, tmp_path / "imagery2")
    assert server.requests == []  # not even the landing page
    assert again.n_requests == 0 and again.bytes_read == 0
    assert again.products == [p.replace("imagery", "imagery2") for p in report.products]


def test_level_l2_only_has_no_night(server: StacWorld, tmp_path: Path) -> None:
    report = _fetch(server, tmp_path, tmp_path / "imagery", level="l2")
    assert not any("L1TP" in p for p in report.products)
    assert len(report.products) == 11


def test_5xx_and_429_are_retried_by_both_clients(server: StacWorld, tmp_path: Path) -> None:
    pid = DAYS[5][0]
    server.fail("/search", 503, times=1)  # pystac-client / requests
    server.fail(f"/files/{pid}_MTL", 500, times=1)  # requests
    server.fail(f"/files/{pid}_ST_B10", 503, times=1, method="HEAD")  # GDAL's open
    # a rate limit of about a second: GDAL's range read and the HEAD that follows get 429
    server.fail(f"/files/{pid}_QA_PIXEL", 429, times=1, headers={"Retry-After": "1"},
                method="GET")
    server.fail(f"/files/{pid}_QA_PIXEL", 429, times=1, headers={"Retry-After": "1"},
                method="HEAD")
    report = _fetch(server, tmp_path, tmp_path / "imagery")
    assert not report.failures, report.failures
    assert f"test-campus/{pid}" in report.products
    assert all(not q for q in server.faults.values())  # every fault was served ...
    assert [s for _, _, _, s, _ in server.requests].count(-1) == 5  # ... once, then retried
    qa = [(st, t) for m, n, st, t in server.stamps if n.startswith(f"{pid}_QA") and m == "GET"]
    assert qa[0][0] == 429 and qa[1][1] - qa[0][1] >= 0.95  # GDAL waited the Retry-After


def test_asset_that_keeps_failing_is_a_product_failure(server: StacWorld,
                                                        tmp_path: Path) -> None:
    pid = DAYS[5][0]
    server.fail(f"/files/{pid}_ST_B10", 503, times=20)
    report = _fetch(server, tmp_path, tmp_path / "imagery")
    failed = [(p, m) for _, p, m in report.failures]
    assert [p for p, _ in failed] == [pid]
    assert "stac.max_retries" in failed[0][1]
    assert len(report.products) == 11  # the others were written


def test_search_that_keeps_failing_says_what_to_do(server: StacWorld, tmp_path: Path) -> None:
    server.fail("/search", 503, times=10)
    with pytest.raises(StacRequestError, match=r"stac\.max_retries"):
        _fetch(server, tmp_path, tmp_path / "imagery")


def test_timeout_is_a_clear_error(server: StacWorld, tmp_path: Path) -> None:
    server.fail("/search", "timeout", times=10)
    with pytest.raises(StacTimeoutError, match=r"stac\.timeout_s"):
        _fetch(server, tmp_path, tmp_path / "imagery", max_retries=0)


def test_signed_urls_are_used_but_never_recorded(server: StacWorld, tmp_path: Path) -> None:
    from aoi.sites import read_sites

    token = "sig=SECRET-TOKEN-123"
    cfg = _config(server, tmp_path)
    report = fetch_sites_stac(read_sites(_sites(tmp_path)), start=date(2024, 7, 1),
                              end=date(2024, 7, 31), out_dir=tmp_path / "imagery", config=cfg,
                              margin_m=600.0, baseline=False,
                              signer=lambda href: f"{href}?{token}")
    assert report.products
    assert token not in json.dumps(report.to_dict())
    cached = "".join(p.read_text(errors="ignore") for p in (tmp_path / "cache").rglob("*.json"))
    assert token not in cached


@pytest.mark.slow
def test_cli_fetch_then_scan(server: StacWorld, tmp_path: Path) -> None:
    from cli import app

    sites = _sites(tmp_path)
    conf = tmp_path / "heatwatch.yaml"
    conf.write_text(f"grid:\n  margin_m: 600.0\nstac:\n  endpoint: {server.base_url}\n"
                    f"  cache_dir: {tmp_path / 'cache'}\n  backoff_s: 0.0\n")
    runner = CliRunner()
    args = ["fetch", "--source", "stac", "--sites", str(sites), "--start", "2024-01-01",
            "--end", "2024-12-31", "--out", str(tmp_path / "imagery"), "-c", str(conf)]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    fetched = json.loads((tmp_path / "imagery" / "fetch.json").read_text())
    assert fetched["baseline"]["test-campus"] == {"start": "2023-01-01", "end": "2024-02-29"}
    assert fetched["bytes_read"] > 0
    res = runner.invoke(app, ["scan", str(tmp_path / "imagery"), "--sites", str(sites),
                              "--out", str(tmp_path / "scan"), "-c", str(conf)])
    assert res.exit_code in (0, 3), res.output
    out = gpd.read_file(tmp_path / "scan" / "sites.geojson")
    assert list(out["site_id"]) == ["test-campus"]
    # every fetched look reached the scan: 3 baseline + 8 series days + the night look
    assert int(out["n_looks"].iloc[0]) == 12
    # heat was put in from 2024-04-07 on: active, and not seen in the baseline looks
    assert out["status"].iloc[0] == "active"
    assert str(out["first_seen"].iloc[0])[:10] >= "2024-04-07"
    # the Level-1 night look is read as night (no solar loading), and the fetched baseline
    # period is the one the activity fit used as its before-state
    assert int(out["n_night_looks"].iloc[0]) == 1
    assert out["baseline"].iloc[0].startswith("declared")
    assert str(out["baseline_end"].iloc[0])[:10] == "2024-02-29"
    # again, as one command (scan --source stac): everything comes from the cache
    server.requests.clear()
    res = runner.invoke(app, ["scan", str(tmp_path / "again"), "--source", "stac", "--sites",
                              str(sites), "--start", "2024-01-01", "--end", "2024-12-31",
                              "--out", str(tmp_path / "scan2"), "-c", str(conf)])
    assert res.exit_code in (0, 3), res.output
    assert server.requests == []
    assert json.loads((tmp_path / "again" / "fetch.json").read_text())["bytes_read"] == 0
    again = gpd.read_file(tmp_path / "scan2" / "sites.geojson")
    assert again["status"].iloc[0] == "active" and int(again["n_looks"].iloc[0]) == 12


def test_server_pages_get_and_post_searches_for_the_real_client(server: StacWorld) -> None:
    from pystac_client import Client

    client = Client.open(server.base_url)
    for method in ("GET", "POST"):
        found = client.search(collections=[L2], limit=2, method=method)
        assert len(list(found.items_as_dicts())) == len(DAYS)
    pages = [p for m, p, *_ in server.requests if p == "/search"]
    assert len(pages) == 2 * (len(DAYS) // 2 + 1)  # 6 pages each way


def test_planetary_computer_signing_uses_the_configured_token_endpoint(
        server: StacWorld) -> None:
    signer = make_signer(StacConfig(sign="planetary_computer",
                                    token_url=f"{server.base_url}/sas/token"))
    assert signer is not None
    href = "https://landsateuwest.blob.core.windows.net/landsat-c2/a/LC08_X_ST_B10.TIF"
    signed = signer(href)
    assert "sig=TEST-SIG" in signed and strip_query(signed) == href
    assert ("GET", "/sas/token/landsateuwest/landsat-c2") in [r[:2] for r in server.requests]


def test_item_without_proj_fields_is_windowed_from_its_header_and_cached(
        server: StacWorld, tmp_path: Path) -> None:
    from aoi.sites import read_sites

    item = json.loads(json.dumps(next(i for i in server.items[L2] if i["id"].startswith(
        DAYS[7][0]))))
    item["properties"] = {k: v for k, v in item["properties"].items()
                          if not k.startswith("proj:")}
    item["collection"] = "no-proj"
    server.items["no-proj"] = [item]
    try:
        cfg = _config(server, tmp_path, collection_l2="no-proj", level="l2")
        runs = [fetch_sites_stac(read_sites(_sites(tmp_path)), start=date(2024, 7, 1),
                                 end=date(2024, 7, 31), out_dir=tmp_path / name, config=cfg,
                                 margin_m=600.0, baseline=False) for name in ("a", "b")]
    finally:
        del server.items["no-proj"]
    assert runs[0].products == [f"test-campus/{DAYS[7][0]}"] and runs[0].bytes_read > 0
    meta = read_mtl(next((tmp_path / "a" / "test-campus").glob("*_MTL.json")))
    assert meta.lines < 100  # a window, found in the COG's own header
    assert runs[1].n_requests == 0 and runs[1].bytes_read == 0


def test_stac_settings_are_layered_like_the_others(tmp_path: Path) -> None:
    from pipeline.core.config import load_config

    cfg = load_config(environ={})
    assert cfg.stac.endpoint == "https://landsatlook.usgs.gov/stac-server"
    assert (cfg.stac.collection_l2, cfg.stac.collection_l1) == ("landsat-c2l2-st", "landsat-c2l1")
    f = tmp_path / "c.yaml"
    f.write_text("stac:\n  baseline_years: 2\n  level: l2\n")
    cfg = load_config(f, environ={"HEATWATCH__STAC__BASELINE_YEARS": "3"},
                      overrides={"stac": {"level": "l1"}})
    assert (cfg.stac.baseline_years, cfg.stac.level) == (3, "l1")  # env > file, args > file


# the source object (pipeline.io.source.ImagerySource) ---------------------------------------------


def test_stac_source_fetches_every_site_into_one_folder(server: StacWorld, tmp_path: Path) -> None:
    from aoi.sites import read_sites
    from pipeline.io.source import ImageryFolder, ImagerySource
    from pipeline.io.stac.source import StacSource

    out = tmp_path / "imagery"
    src = StacSource(out, date(2024, 7, 1), date(2024, 7, 31), _config(server, tmp_path), 600.0,
                     baseline=False, record=out / "fetch.json", about={"command": "test"})
    assert isinstance(src, ImagerySource) and src.report is None
    assert src.folders(read_sites(_sites(tmp_path))) == [ImageryFolder(out)]
    # July 2024 holds one look, a Level-2 day scene (DAYS)
    products, _ = discover_products(out)
    assert [p.product_id for p in products] == ["LC08_L2SP_022035_20240712_20240712_02_T1"]
    assert src.report is not None and src.report.failures == []
    record = json.loads((out / "fetch.json").read_text())
    assert (record["command"], record["start"], record["end"], record["margin_m"],
            record["source"]) == ("test", "2024-07-01", "2024-07-31", 600.0, "stac")


def test_monitor_source_stac_fetches_then_monitors(server: StacWorld, tmp_path: Path) -> None:
    from tests.support.cli import one_line, run

    conf = tmp_path / "heatwatch.yaml"
    conf.write_text(f"grid:\n  margin_m: 600.0\nstac:\n  endpoint: {server.base_url}\n"
                    f"  cache_dir: {tmp_path / 'cache'}\n  backoff_s: 0.0\n"
                    f"monitor:\n  store: {tmp_path / 'store.sqlite'}\n"
                    f"  alerts: {tmp_path / 'alerts.jsonl'}\n"
                    f"  fetch_dir: {tmp_path / 'fetched'}\n  fetch_start: 2024-01-01\n")
    args = ["monitor", "--source", "stac", "--sites", str(_sites(tmp_path)), "-c", str(conf)]
    first = run(*args)
    assert first.exit_code in (0, 3), first.output
    # every look reached the store: 3 baseline + 8 series days + the night look
    assert "12 new product(s)" in one_line(first.output)
    record = json.loads((tmp_path / "fetched" / "fetch.json").read_text())
    assert record["command"] == "monitor" and record["start"] == "2024-01-01"
    assert record["baseline"]["test-campus"]["end"] == "2024-02-29"
    server.requests.clear()  # again: the open period is searched anew, no file is read
    again = run(*args)
    assert again.exit_code == 0, again.output
    assert "no new scene" in one_line(again.output)
    assert not [p for _, p, *_ in server.requests if p.startswith("/files/")]
