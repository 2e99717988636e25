"""Regional discovery on a generated 2 x 2-tile world with a new campus on a tile border."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import geopandas as gpd
import pandas as pd
import pytest
from shapely.geometry import Point, box

from aoi.sites import read_sites
from models.world import generate_world
from models.world_spec import CampusSpec, PlantSpec, WorldSpec, WorldTruth
from pipeline.core.config import load_config
from pipeline.core.grid import Grid
from pipeline.discover.run import CSV_COLUMNS, filter_dates, read_tile, run_discover
from pipeline.io.reader import discover_products
from pipeline.scan.run import run_scan

#: 400 px of 30 m = 12 km: 2 x 2 tiles of 6 km; the tile border runs through x = 0, y = 0.
#: Tiles this large (with their overlap) leave a new site's placebo null room for at least 10
#: footprints of distinct background land (docs/statuses.md); tiles of 3.6 km did not.
TILES = {"discover": {"tile_size_m": 6000, "tile_overlap_m": 2500}}


def border_spec() -> WorldSpec:
    """A small world (12 km): a new 250 MW campus centred on the vertical tile border that
    powers on in May (a new site always on through the series is no candidate), a catalogued
    campus and a power plant in other tiles."""
    return WorldSpec(
        seed=7, name="discover-border", center_lat=35.0, center_lon=-99.0, size_px=400,
        start=date(2024, 1, 4), n_acquisitions=22, revisit_days=16, cloudiness=0.15,
        edge_fill_probability=0.0,
        campuses=(CampusSpec(site_id="NEW-1", name="Border campus", x_km=0.0, y_km=1.8,
                             power_mw=250, in_catalog=False, power_density_w_m2=450, aspect=1.2,
                             onset=date(2024, 5, 1)),
                  CampusSpec(site_id="DC-1", name="Known", x_km=-1.8, y_km=-1.8, power_mw=150)),
        power_plants=(PlantSpec(name="Riverside Station", x_km=1.8, y_km=-1.8),))


def world_grid(truth: WorldTruth) -> Grid:
    g = truth.grid
    left, top = g.transform[2], g.transform[5]
    return Grid.from_bounds(g.epsg, (left, top - g.height * g.pixel_m,
                                     left + g.width * g.pixel_m, top), g.pixel_m)


def world_region(truth: WorldTruth) -> gpd.GeoDataFrame:
    geom = box(*world_grid(truth).bounds).segmentize(100.0)
    return gpd.GeoDataFrame(geometry=[geom], crs=truth.grid.epsg).to_crs(4326)


def write_border_world(root: Path) -> tuple[Path, WorldTruth, Path]:
    """Generate the border world into ``root/world`` and its region into ``root/region.geojson``.

    Returns the world folder, its truth and the region file (for the command-line tests).
    """
    folder = root / "world"
    truth = generate_world(border_spec(), folder)
    region = root / "region.geojson"
    region.write_text(world_region(truth).to_json())
    return folder, truth, region


@pytest.fixture(scope="module")
def border_world(tmp_path_factory):
    folder = tmp_path_factory.mktemp("border-world")
    truth = generate_world(border_spec(), folder)
    return folder, truth


@pytest.fixture(scope="module")
def inputs(border_world):
    folder, _ = border_world
    return {"sites": read_sites(folder / "sites.geojson"),
            "exclusions": gpd.read_file(folder / "exclusions.geojson")}


@pytest.fixture(scope="module")
def discovered(border_world, inputs, tmp_path_factory):
    folder, truth = border_world
    out = tmp_path_factory.mktemp("discover-out")
    cfg = load_config(environ={}, overrides=TILES)
    seen = []
    result = run_discover(folder, world_region(truth), cfg, out_dir=out, client=False,
                          progress=seen.append, **inputs)
    return result, out, seen


def _new_campus(frame: gpd.GeoDataFrame, truth: WorldTruth) -> gpd.GeoDataFrame:
    return frame[frame.intersects(truth.campus("NEW-1").footprint)]


def test_four_tiles_and_the_campus_straddles_a_border(discovered, border_world):
    result, _, seen = discovered
    _, truth = border_world
    assert [t.tile_id for t in result.tiles] == ["z14-r0-c0", "z14-r0-c1", "z14-r1-c0",
                                                  "z14-r1-c1"]
    assert sorted(o.tile_id for o in seen) == [t.tile_id for t in result.tiles]
    assert all(o.status == "done" for o in seen)
    footprint = truth.campus("NEW-1").footprint
    assert sum(t.core_4326.intersects(footprint) for t in result.tiles) == 2


def test_border_campus_is_reported_once_with_the_single_scan_heat(discovered, border_world,
                                                                 inputs):
    result, out, _ = discovered
    folder, truth = border_world
    # seen by the tiles of the border (a tile holding only a sliver of it may leave it to its
    # placebo null), then merged into one
    per_tile = [read_tile(p)[0] for p in sorted((out / "tiles").glob("*.geojson"))]
    assert sum(len(_new_campus(f, truth)) for f in per_tile) >= 1
    found = _new_campus(result.candidates, truth)
    assert len(found) == 1
    row = found.iloc[0]
    assert row["status"] == "candidate"
    single = run_scan(folder, load_config(environ={}), grid=world_grid(truth), **inputs)
    ref = _new_campus(single.sites[~single.sites["in_catalog"]], truth)
    assert len(ref) == 1
    assert row["heat_mw"] == pytest.approx(ref.iloc[0]["heat_mw"], rel=0.10)


def test_catalogued_sites_removed_and_power_plant_labelled(discovered, border_world):
    result, _, _ = discovered
    _, truth = border_world
    c = result.candidates
    assert not c.intersects(truth.campus("DC-1").footprint).any()
    plant = truth.power_plants[0]
    near = c[c.intersects(gpd.GeoSeries.from_wkt([_wkt(plant)], crs=4326).iloc[0])]
    assert len(near) == 1
    assert near.iloc[0]["status"] == "excluded"
    assert "Riverside Station" in near.iloc[0]["exclusion"]
    # ranked: candidates before labelled sources, ids renumbered by rank
    assert list(c["site_id"]) == [f"candidate-{i + 1}" for i in range(len(c))]
    assert list(c["status"]) == sorted(c["status"], key=lambda s: s == "excluded")


def _wkt(feature) -> str:  # type: ignore[no-untyped-def]
    from shapely.geometry import Polygon

    return Polygon(feature.footprint_lonlat).wkt


def test_outputs_are_written(discovered):
    result, out, _ = discovered
    gj = json.loads((out / "candidates.geojson").read_text())
    assert len(gj["features"]) == len(result.candidates)
    props = gj["features"][0]["properties"]
    for key in ("heat_mw", "heat_mw_low", "heat_mw_high", "persistence", "first_seen",
                "last_seen", "status", "exclusion", "verdict", "tile_id", "rank"):
        assert key in props
    csv = pd.read_csv(out / "candidates.csv")
    assert list(csv.columns) == CSV_COLUMNS
    # counts are whole numbers in the CSV too, also where a column holds a None
    raw = pd.read_csv(out / "candidates.csv", dtype=str, keep_default_na=False)
    for col in ("n_clear", "shared_change_regions", "searched_regions"):
        assert raw[col].str.fullmatch(r"\d*").all(), (col, list(raw[col]))
    assert list(csv["rank"]) == list(range(1, len(csv) + 1))
    assert (out / "overview.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    run = json.loads((out / "discover.json").read_text())
    assert [t["status"] for t in run["tiles"]] == ["done"] * 4
    assert run["scheduler"] == "in-process" and run["config"]["discover"]["tile_size_m"] == 6000


def test_resume_computes_no_tile_and_a_changed_setting_recomputes(discovered, border_world,
                                                                 inputs):
    result, out, _ = discovered
    folder, truth = border_world
    cfg = load_config(environ={}, overrides=TILES)
    seen = []
    again = run_discover(folder, world_region(truth), cfg, out_dir=out, client=False,
                         progress=seen.append, **inputs)
    assert [o.status for o in seen] == ["resumed"] * 4
    cols = ["site_id", "tile_id", "heat_mw", "status"]
    assert again.candidates[cols].equals(result.candidates[cols])
    # a different number of workers is not a different answer ...
    cfg2 = load_config(environ={}, overrides={"discover": {**TILES["discover"], "n_workers": 1}})
    seen.clear()
    run_discover(folder, world_region(truth), cfg2, out_dir=out, client=False,
                 progress=seen.append, **inputs)
    assert {o.status for o in seen} == {"resumed"}
    # ... but a different detection setting is
    cfg3 = load_config(environ={}, overrides={**TILES, "power": {"min_candidate_mw": 40}})
    seen.clear()
    run_discover(folder, world_region(truth), cfg3, out_dir=out, client=False,
                 progress=seen.append, **inputs)
    assert [o.status for o in seen] == ["done"] * 4


def test_date_filter_uses_the_mtl(border_world):
    folder, truth = border_world
    products, _ = discover_products(folder)
    days = sorted(a.date for a in truth.acquisitions)
    kept = filter_dates(products, start=days[2], end=days[5])
    assert len(kept) == 4
    assert len(filter_dates(products)) == len(products)


@pytest.mark.slow
def test_local_cluster_of_two_workers_gives_the_same_candidates(discovered, border_world,
                                                               inputs, tmp_path, monkeypatch):
    distributed = pytest.importorskip("distributed")
    # worker processes write library warnings to the terminal after pytest's capture ends
    monkeypatch.setenv("PYTHONWARNINGS", "ignore")
    result, _, _ = discovered
    folder, truth = border_world
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  dashboard_address=None) as cluster:
        # an existing scheduler, named by address in the configuration: no code change
        cfg = load_config(environ={}, overrides={"discover": {
            **TILES["discover"], "scheduler_address": cluster.scheduler_address}})
        seen = []
        parallel = run_discover(folder, world_region(truth), cfg, out_dir=tmp_path,
                                progress=seen.append, **inputs)
    assert sorted(o.tile_id for o in seen) == [t.tile_id for t in result.tiles]
    assert {o.status for o in seen} == {"done"}
    cols = ["site_id", "tile_id", "status", "heat_mw", "heat_mw_low", "heat_mw_high",
            "persistence", "first_seen", "last_seen", "exclusion"]
    pd.testing.assert_frame_equal(pd.DataFrame(parallel.candidates[cols]),
                                  pd.DataFrame(result.candidates[cols]))
    assert parallel.candidates.geometry.geom_equals(result.candidates.geometry).all()
    assert parallel.run["scheduler"] == cluster.scheduler_address


def test_a_campus_a_small_tile_cannot_judge_is_listed_not_lost(tmp_path):
    # the border world cut to 7.2 km in tiles of 3.6 km: each tile leaves the 250 MW campus's
    # placebo null fewer than 10 footprints of distinct land; no candidate, but discover.json
    # says where it is and why
    truth = generate_world(border_spec().model_copy(update={"size_px": 240}), tmp_path / "w")
    small = {"discover": {"tile_size_m": 3600, "tile_overlap_m": 1500}}
    result = run_discover(tmp_path / "w", world_region(truth),
                          load_config(environ={}, overrides=small), out_dir=tmp_path / "out",
                          client=False, sites=read_sites(tmp_path / "w" / "sites.geojson"),
                          exclusions=gpd.read_file(tmp_path / "w" / "exclusions.geojson"))
    assert len(_new_campus(result.candidates, truth)) == 0
    run = json.loads((tmp_path / "out" / "discover.json").read_text())
    footprint = truth.campus("NEW-1").footprint
    near = [e for e in run["rejected_candidates"]
            if footprint.buffer(0.002).contains(Point(e["lon"], e["lat"]))]
    assert near and any("footprints of distinct background land" in e["rejected_because"]
                        for e in near)
    assert {e["tile_id"] for e in near} <= {t.tile_id for t in result.tiles}
    heats = [e["heat_mw"] for e in run["rejected_candidates"]]
    assert heats == sorted(heats, reverse=True)
