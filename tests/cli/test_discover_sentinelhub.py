"""``heatwatch discover --source sentinelhub``: every tile fetched on its own from a fake
Sentinel Hub on 127.0.0.1 (the real client), then scanned on its own crops.

The fake serves the generated border world of ``tests/pipeline/discover/test_discover.py`` (a new
250 MW campus across the tile border, a catalogued campus, a power plant), so the fetched discovery
can be held against the truth and against discovery of the same world read from local files.
"""

from __future__ import annotations

import json
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
import yaml

from cli import app
from pipeline.io.mtl import read_mtl
from pipeline.io.reader import discover_products
from tests.pipeline.discover.test_discover import TILES, write_border_world
from tests.support.cli import WIDE, runner
from tests.support.sh_server import (
    CATALOG_PATH,
    CLIENT_ID,
    CLIENT_SECRET,
    PROCESS_PATH,
    FakeSentinelHub,
    isolate_sentinelhub,
    scene_from,
)


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    root = tmp_path_factory.mktemp("discover-sh")
    folder, truth, region = write_border_world(root)
    products, problems = discover_products(folder)
    assert problems == []
    return root, folder, truth, region, products


@pytest.fixture(autouse=True)
def _isolated(monkeypatch: pytest.MonkeyPatch, tmp_path: Path):
    yield from isolate_sentinelhub(monkeypatch, tmp_path)


@pytest.fixture
def hub(world):
    _, _, _, _, products = world
    with FakeSentinelHub([scene_from(p) for p in products]) as srv:
        yield srv


@pytest.fixture
def args(world, hub, tmp_path, monkeypatch):
    """Options of a discover run against the fake, credentials in the environment."""
    _, folder, _, region, _ = world
    cfg = tmp_path / "hw.yaml"
    cfg.write_text(yaml.safe_dump({**TILES, "sentinelhub": {
        "base_url": hub.base_url, "token_url": hub.token_url,
        "cache_dir": str(tmp_path / "cache"), "backoff_s": 0.001}}))
    monkeypatch.setenv("SH_CLIENT_ID", CLIENT_ID)
    monkeypatch.setenv("SH_CLIENT_SECRET", CLIENT_SECRET)
    return ["discover", "--source", "sentinelhub", "--region", str(region),
            "--imagery", str(tmp_path / "fetched"), "--out", str(tmp_path / "out"),
            "--sites", str(folder / "sites.geojson"),
            "--exclusions", str(folder / "exclusions.geojson"),
            "--start", "2024-01-01", "--end", "2024-12-31",
            "--workers", "0", "--config", str(cfg)]


def _new_campus(frame: gpd.GeoDataFrame, truth) -> gpd.GeoDataFrame:  # type: ignore[no-untyped-def]
    return frame[frame.intersects(truth.campus("NEW-1").footprint)]


def test_each_tile_is_fetched_once_and_scanned_on_its_own_crops(world, hub, args, tmp_path):
    _, folder, truth, _, products = world
    res = runner.invoke(app, args, env=WIDE)
    assert res.exit_code == 0, res.output
    fetched, out = tmp_path / "fetched", tmp_path / "out"
    # one catalog search per tile; one image per tile and acquisition of low enough cloud
    served = [p for p in products if read_mtl(p.mtl).cloud_cover <= 60]
    assert 0 < len(served) <= len(products)
    assert len(hub.requests_to(CATALOG_PATH)) == 4
    assert len(hub.requests_to(PROCESS_PATH)) == 4 * len(served)
    tiles = sorted(d.name for d in fetched.iterdir() if d.is_dir())
    assert tiles == ["z14-r0-c0", "z14-r0-c1", "z14-r1-c0", "z14-r1-c1"]
    for tile in tiles:
        assert len(discover_products(fetched / tile)[0]) == len(served)
    run = json.loads((out / "discover.json").read_text())
    assert sorted(run["products"]) == sorted(p.product_id for p in served)  # each once
    assert {t["n_products"] for t in run["tiles"]} == {len(served)}  # only its own crops
    record = json.loads((out / "fetch.json").read_text())
    assert record["command"] == "discover" and record["failures"] == []
    assert record["n_requests"] == 4 + 4 * len(served) and record["processing_units"] > 0
    for path in [*out.rglob("*.json"), *fetched.rglob("*.json")]:
        assert CLIENT_SECRET not in path.read_text()
    assert CLIENT_SECRET not in res.output

    # the new campus once, as a candidate; the catalogued one not; the power plant labelled
    cands = gpd.read_file(out / "candidates.geojson")
    found = _new_campus(cands, truth)
    assert len(found) == 1 and found.iloc[0]["status"] == "candidate"
    assert not cands.intersects(truth.campus("DC-1").footprint).any()
    assert list(cands["status"]).count("excluded") == 1
    # the same answer as discovery over the local files the fake was made from
    local_out = tmp_path / "local"
    local = runner.invoke(app, ["discover", "--region", args[args.index("--region") + 1],
                                "--imagery", str(folder), "--out", str(local_out),
                                "--sites", str(folder / "sites.geojson"),
                                "--exclusions", str(folder / "exclusions.geojson"),
                                "--start", "2024-01-01", "--end", "2024-12-31",
                                "--workers", "0",
                                "--config", args[args.index("--config") + 1]], env=WIDE)
    assert local.exit_code == 0, local.output
    ref = _new_campus(gpd.read_file(local_out / "candidates.geojson"), truth).iloc[0]
    # scenes the fetch leaves out (cloud cover above sentinelhub.max_cloud_cover) are mostly
    # cloudy over the campus too; the same clear looks give nearly the same heat
    assert found.iloc[0]["heat_mw"] == pytest.approx(ref["heat_mw"], rel=0.01)
    # without a second declaring site the heat is made with the physics coefficient (3,055
    # K m2/MW from sourced facts), not the world's truth coefficient: true power rescaled
    new = truth.campus("NEW-1")
    assert found.iloc[0]["heat_mw"] == pytest.approx(
        new.expected_excess_k_m2 / found.iloc[0]["k_m2_per_mw"], rel=0.4)


def test_rerun_fetches_nothing_and_resumes_every_tile(args, hub, tmp_path):
    i = args.index("--imagery")
    args = args[:i] + args[i + 2:]  # fetched into OUT/imagery by default
    first = runner.invoke(app, args, env=WIDE)
    assert first.exit_code == 0, first.output
    assert len(list((tmp_path / "out" / "imagery").glob("z14-*/*_MTL.*"))) > 0
    csv = pd.read_csv(tmp_path / "out" / "candidates.csv")
    hub.clear()
    again = runner.invoke(app, args, env=WIDE)
    assert again.exit_code == 0, again.output
    assert hub.requests_to(PROCESS_PATH) == [] and hub.requests_to(CATALOG_PATH) == []
    assert json.loads((tmp_path / "out" / "fetch.json").read_text())["n_requests"] == 0
    assert "4 tile(s), 4 resumed" in again.output
    assert pd.read_csv(tmp_path / "out" / "candidates.csv").equals(csv)


@pytest.mark.parametrize("drop, message", [("--start", "--start and --end"),
                                           ("--source", "'local' or 'sentinelhub'"),
                                           ("local", "give --imagery")])
def test_bad_options_exit_2_with_one_line(args, hub, drop, message):
    bad = list(args)
    if drop == "--source":
        bad[bad.index("sentinelhub")] = "ftp"
    elif drop == "local":  # local imagery, but no folder given
        bad[bad.index("sentinelhub")] = "local"
        i = bad.index("--imagery")
        del bad[i:i + 2]
    else:
        i = bad.index(drop)
        del bad[i:i + 2]
    res = runner.invoke(app, bad, env=WIDE)
    assert res.exit_code == 2
    assert "error:" in res.output and message in res.output
    assert hub.requests_to(PROCESS_PATH) == []


def test_tiles_too_large_for_one_request_are_refused_before_any_request(args, hub, tmp_path):
    cfg = tmp_path / "big.yaml"
    settings = yaml.safe_load(Path(args[args.index("--config") + 1]).read_text())
    settings["discover"] = {"tile_size_m": 80000, "tile_overlap_m": 2000}  # 2800 px a side
    cfg.write_text(yaml.safe_dump(settings))
    bad = list(args)
    bad[bad.index("--config") + 1] = str(cfg)
    res = runner.invoke(app, bad, env=WIDE)
    assert res.exit_code == 2
    assert "discover.tile_size_m" in res.output and "2500" in res.output
    assert hub.requests == []
