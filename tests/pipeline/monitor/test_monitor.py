"""Monitoring: incremental runs, two halves == one run, killed runs, alerts and their sinks."""

from __future__ import annotations

import http.server
import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from itertools import pairwise
from pathlib import Path
from typing import ClassVar

import geopandas as gpd
import numpy as np
import pandas as pd
import pytest
from affine import Affine
from scipy.ndimage import gaussian_filter
from shapely.geometry import box

from aoi.sites import read_sites
from pipeline.core.config import Config, load_config
from pipeline.core.errors import ConfigError, StoreError
from pipeline.io.c2write import product_id, write_l2_product
from pipeline.monitor.alerts import (
    Alert,
    AlertRule,
    alert_id,
    alert_sequence,
    append_jsonl,
    heat_step,
    post_webhook,
    read_jsonl,
)
from pipeline.monitor.run import read_history, run_monitor, statuses_as_of, stored_status
from pipeline.monitor.store import HistoryStore
from pipeline.scan.run import run_scan
from pipeline.science.power import HeatEstimate
from pipeline.science.qa import encode
from tests.support.report_world import seasonal_look

REPO = Path(__file__).resolve().parents[3]
N_SCENES = 12
SIZE = 160
TRANSFORM = Affine(30, 0, 500000, 0, -30, 4000000)


def write_world(folder: Path, *, n_scenes: int = N_SCENES, seed: int = 0,
                texture: bool = False) -> Path:
    """Write a tiny seeded world: a sunlit warehouse roof and a campus that starts at scene 6.

    Products go to ``folder/imagery``, the two sites (``campus`` declared at 60 MW, ``wh``) to
    ``folder/sites.geojson``; returns ``folder``. With ``texture``, the land heats unevenly in
    the sun, so the scene contrast tracks the irradiance (the scan's preferred solar index).
    """
    rng = np.random.default_rng(seed)
    land = gaussian_filter(rng.random((SIZE, SIZE)), 3)
    land = (land - land.min()) / np.ptp(land)
    out = folder / "imagery"
    for i in range(n_scenes):
        when = datetime(2024, 1, 5, 16, 30, tzinfo=timezone.utc) + timedelta(days=16 * i)
        t, s, elev = seasonal_look(when, (SIZE, SIZE), rng)
        if texture:
            t += 6 * s * land
        t[40:60, 40:60] += 14 * s  # warehouse roof: follows the sun
        if i >= 6:
            t[100:115, 100:115] += 10.0  # campus yard: constant heat from scene 6
        t[95:120, 95:120] += 12 * s * 0.3
        pid = product_id(spacecraft=8 if i % 2 else 9, level="L2SP", wrs_path=23, wrs_row=35,
                         acquired=when)
        write_l2_product(out, pid=pid, kelvin=gaussian_filter(t, 1.4), transform=TRANSFORM,
                         crs=32615, acquired=when, sun_elevation=elev,
                         qa_pixel=encode(shape=(SIZE, SIZE)))

    def cell_box(r0: int, r1: int, c0: int, c1: int) -> object:
        return box(500000 + c0 * 30, 4000000 - r1 * 30, 500000 + c1 * 30, 4000000 - r0 * 30)

    sites = gpd.GeoDataFrame({"site_id": ["campus", "wh"], "reported_power_mw": [60.0, None]},
                             geometry=[cell_box(95, 120, 95, 120), cell_box(40, 60, 40, 60)],
                             crs=32615).to_crs(4326)
    sites.to_file(folder / "sites.geojson")
    # the campus's land before it was built, declared as the STAC fetcher records it: its heat
    # is then a before/after measurement, which a refutation may rest on (the tiny world holds
    # no placebo footprint of its size: docs/statuses.md)
    (out / "fetch.json").write_text(json.dumps({"baseline": {"campus": {"end": "2024-02-10"}}}))
    return folder


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_world(tmp_path_factory.mktemp("world"))


@pytest.fixture(scope="module")
def config() -> Config:
    """The default configuration with ``--backfill``: the tests compare whole alert histories."""
    return load_config(overrides={"monitor": {"backfill": True}}, environ={})


@pytest.fixture(scope="module")
def sites(world: Path) -> gpd.GeoDataFrame:
    return read_sites(world / "sites.geojson")


def products(imagery: Path) -> list[str]:
    return sorted({p.name.split("_MTL")[0] for p in imagery.glob("*_MTL.json")},
                  key=lambda pid: pid.split("_")[3])


def copy_products(src: Path, dst: Path, pids: list[str]) -> None:
    """Copy some products and the fetch record (its declared baselines) to ``dst``."""
    dst.mkdir(parents=True, exist_ok=True)
    for pid in pids:
        for f in src.glob(f"{pid}_*"):
            shutil.copy2(f, dst / f.name)
    shutil.copy2(src / "fetch.json", dst / "fetch.json")


def snapshot(store_path: Path) -> dict[str, pd.DataFrame]:
    """The store's content that must not depend on how runs were batched (no run ids)."""
    with HistoryStore(store_path) as store:
        assert store.integrity_ok()
        return {
            "scenes": store.table("scenes").drop(columns="first_run_id"),
            "observations": store.table("observations"),
            "detections": store.table("detections"),
            "site_status": store.table("site_status").drop(columns="run_id"),
            "alerts": store.table("alerts").drop(columns="run_id"),
        }


def assert_same(a: dict[str, pd.DataFrame], b: dict[str, pd.DataFrame]) -> None:
    for name in a:
        pd.testing.assert_frame_equal(a[name], b[name], obj=name)


def monitor(config: Config, imagery: Path, sites: gpd.GeoDataFrame, out: Path, **kw: object):
    return run_monitor(config, imagery_dir=imagery, sites=sites, store_path=out / "store.sqlite",
                       alerts_path=out / "alerts.jsonl", **kw)


@pytest.fixture(scope="module")
def one_run(world: Path, config: Config, sites: gpd.GeoDataFrame,
            tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("one")
    report = monitor(config, world / "imagery", sites, out)
    assert len(report.new_products) == N_SCENES and report.run_id is not None
    return out


# Incremental runs ------------------------------------------------------------------------------


def test_one_run_fills_every_table(one_run: Path) -> None:
    snap = snapshot(one_run / "store.sqlite")
    assert len(snap["scenes"]) == N_SCENES and snap["scenes"]["used"].eq(1).all()
    assert len(snap["observations"]) == 2 * N_SCENES
    assert len(snap["site_status"]) == 2 * N_SCENES
    assert len(snap["detections"]) > 0
    kinds = set(snap["alerts"]["kind"])
    assert {"turned_active", "declared_mismatch"} <= kinds
    campus = snap["site_status"].query("site_id == 'campus'").iloc[-1]
    assert campus["status"] == "active" and campus["first_seen"] == "2024-04-10"
    assert campus["verdict"] == "refuted: under-reported"
    # every stored alert reached the JSON-lines file once, and is marked notified
    lines = read_jsonl(one_run / "alerts.jsonl")
    assert sorted(a.alert_id for a in lines) == sorted(snap["alerts"]["alert_id"])
    assert snap["alerts"]["notified"].eq(1).all()


def test_each_status_keeps_the_evidence_behind_its_verdict(
        world: Path, config: Config, sites: gpd.GeoDataFrame, one_run: Path) -> None:
    # the status as of the last look is what a scan of all the looks reports, margin and
    # physics-coefficient verdict included, in the store and in what `history` reads
    scan = pd.DataFrame(run_scan(world / "imagery", config, sites=sites).sites.query(
        "in_catalog")).set_index("site_id")
    store = snapshot(one_run / "store.sqlite")["site_status"]
    last = store[store["as_of_date"] == store["as_of_date"].max()].set_index("site_id")
    keys = ["verdict", "verdict_margin", "verdict_physics"]
    pd.testing.assert_frame_equal(last[keys], scan.loc[last.index, keys], check_names=False)
    assert scan.loc["campus", "verdict_margin"] > 1  # a refutation, by a known factor
    history = read_history(one_run / "store.sqlite", "campus").iloc[-1]
    assert history[keys].tolist() == scan.loc["campus", keys].tolist()


def test_rerun_adds_nothing(world: Path, config: Config, sites: gpd.GeoDataFrame,
                            one_run: Path, tmp_path: Path) -> None:
    shutil.copytree(one_run, tmp_path, dirs_exist_ok=True)
    before = snapshot(tmp_path / "store.sqlite")
    text = (tmp_path / "alerts.jsonl").read_text()
    report = monitor(config, world / "imagery", sites, tmp_path)
    assert report.nothing_new and report.run_id is None and report.alerts == []
    assert report.delivery.written == []
    assert_same(before, snapshot(tmp_path / "store.sqlite"))
    assert (tmp_path / "alerts.jsonl").read_text() == text
    with HistoryStore(tmp_path / "store.sqlite") as store:
        assert len(store.table("runs")) == 1


def test_two_halves_equal_one_run(world: Path, config: Config, sites: gpd.GeoDataFrame,
                                  one_run: Path, tmp_path: Path) -> None:
    pids = products(world / "imagery")
    imagery = tmp_path / "imagery"
    copy_products(world / "imagery", imagery, pids[: N_SCENES // 2])
    first = monitor(config, imagery, sites, tmp_path)
    assert len(first.new_products) == N_SCENES // 2
    copy_products(world / "imagery", imagery, pids[N_SCENES // 2:])
    second = monitor(config, imagery, sites, tmp_path)
    assert sorted(second.new_products) == sorted(pids[N_SCENES // 2:])
    assert_same(snapshot(one_run / "store.sqlite"), snapshot(tmp_path / "store.sqlite"))
    halves = [a.alert_id for a in read_jsonl(tmp_path / "alerts.jsonl")]
    assert sorted(halves) == sorted(a.alert_id for a in read_jsonl(one_run / "alerts.jsonl"))
    assert len(halves) == len(set(halves))
    assert {a.alert_id for a in first.alerts}.isdisjoint(a.alert_id for a in second.alerts)


def test_new_site_gets_its_whole_history(world: Path, config: Config, sites: gpd.GeoDataFrame,
                                         one_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "grow"
    monitor(config, world / "imagery", sites[sites["site_id"] == "wh"], out)
    report = monitor(config, world / "imagery", sites, out)
    assert len(report.new_products) == N_SCENES
    assert {a.site_id for a in report.alerts} == {"campus"}  # wh had nothing new
    one = snapshot(one_run / "store.sqlite")
    grown = snapshot(out / "store.sqlite")
    for name in ("observations", "site_status"):
        campus = [f[f["site_id"] == "campus"].reset_index(drop=True) for f in (one[name],
                                                                              grown[name])]
        pd.testing.assert_frame_equal(*campus, obj=name)
        assert (grown[name]["site_id"] == "wh").sum() == N_SCENES


def test_no_backfill_first_run_alerts_only_the_present(world: Path, config: Config,
                                                       sites: gpd.GeoDataFrame, one_run: Path,
                                                       tmp_path: Path) -> None:
    quiet = config.model_copy(update={"monitor": config.monitor.model_copy(
        update={"backfill": False})})
    out = tmp_path / "quiet"
    report = monitor(quiet, world / "imagery", sites, out)
    full = snapshot(one_run / "store.sqlite")
    snap = snapshot(out / "store.sqlite")
    # the history is recorded in full either way
    pd.testing.assert_frame_equal(full["site_status"], snap["site_status"], obj="site_status")
    last = full["site_status"]["as_of_date"].max()
    past = full["alerts"][full["alerts"]["as_of_date"] < last]
    assert len(past) > 0  # the backfilled run alerts on the past (turned_active in April)
    assert (snap["alerts"]["as_of_date"] == last).all()
    assert set(snap["alerts"]["alert_id"]) == set(
        full["alerts"].loc[full["alerts"]["as_of_date"] == last, "alert_id"])
    assert {a.alert_id for a in read_jsonl(out / "alerts.jsonl")} == {
        a.alert_id for a in report.alerts}


def test_sites_outside_the_scenes_are_reported(world: Path, config: Config,
                                               sites: gpd.GeoDataFrame, tmp_path: Path) -> None:
    far = gpd.GeoDataFrame({"site_id": ["far"]}, geometry=[box(10.0, 50.0, 10.01, 50.01)],
                           crs=4326)
    both = pd.concat([sites[sites["site_id"] == "wh"], far], ignore_index=True)
    report = monitor(config, world / "imagery", gpd.GeoDataFrame(both, crs=4326), tmp_path)
    assert report.uncovered_sites == ["far"]
    assert [s["site_id"] for s in report.statuses] == ["wh"]


def test_missing_imagery_folder_is_a_config_error(config: Config, sites: gpd.GeoDataFrame,
                                                  tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="imagery_dir"):
        run_monitor(config, sites=sites, store_path=tmp_path / "s.sqlite",
                    alerts_path=tmp_path / "a.jsonl")


def test_corrupt_store_is_a_store_error(world: Path, config: Config, sites: gpd.GeoDataFrame,
                                        tmp_path: Path) -> None:
    (tmp_path / "store.sqlite").write_bytes(b"this is not a database" * 100)
    with pytest.raises(StoreError, match="move it aside"):
        monitor(config, world / "imagery", sites, tmp_path)


def test_status_as_of_a_date_is_what_a_scan_up_to_it_reports(
        config: Config, tmp_path: Path) -> None:
    world = write_world(tmp_path, texture=True)
    sites = read_sites(world / "sites.geojson")
    full = run_scan(world / "imagery", config, sites=sites)
    assert full.run["solar_index"] == "pattern"  # an empirical index, chosen per prefix
    pids = products(world / "imagery")
    copy_products(world / "imagery", tmp_path / "part", pids[:5])
    part = run_scan(tmp_path / "part", config, sites=sites)
    days = [_day(pids[4]), _day(pids[-1])]
    statuses, _ = statuses_as_of(full, sites, config, days)
    keys = ["status", "heat_mw", "heat_mw_low", "heat_mw_high", "first_seen", "last_seen",
            "verdict", "verdict_margin", "verdict_physics"]
    for day, scan in zip(days, (part, full), strict=True):
        got = pd.DataFrame([s for s in statuses if s["as_of_date"] == day])[["site_id", *keys]]
        want = pd.DataFrame(scan.sites.query("in_catalog"))[["site_id", *keys]]
        pd.testing.assert_frame_equal(got.reset_index(drop=True), want.reset_index(drop=True),
                                      obj=day)


def _day(pid: str) -> str:
    raw = pid.split("_")[3]
    return f"{raw[:4]}-{raw[4:6]}-{raw[6:]}"


# Killed runs (real subprocess) -----------------------------------------------------------------

_CHILD = """
import sys
from pathlib import Path
from typing import ClassVar
from aoi.sites import read_sites
from pipeline.core.config import load_config
from pipeline.monitor.run import run_monitor, statuses_as_of, stored_status
from pipeline.science.power import HeatEstimate
imagery, sites, out = map(Path, sys.argv[1:4])
run_monitor(load_config(overrides={"monitor": {"backfill": True}}, environ={}),
            imagery_dir=imagery, sites=read_sites(sites),
            store_path=out / "store.sqlite", alerts_path=out / "alerts.jsonl")
"""


def run_and_kill(env_var: str, imagery: Path, sites_file: Path, out: Path) -> None:
    """Start a monitoring run in a child process and SIGKILL it at the test hook."""
    env = {**os.environ, env_var: "60", "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen([sys.executable, "-c", _CHILD, str(imagery), str(sites_file),
                             str(out)], stderr=subprocess.PIPE, env=env, cwd=REPO)
    try:
        assert proc.stderr is not None
        deadline = time.monotonic() + 60
        for line in proc.stderr:
            if b"heatwatch-test: paused" in line:
                break
            assert time.monotonic() < deadline, "the child never reached the test hook"
        else:
            pytest.fail(f"child exited with {proc.wait()} before the test hook")
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == -signal.SIGKILL


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_before_commit_loses_and_duplicates_nothing(
        world: Path, config: Config, sites: gpd.GeoDataFrame, one_run: Path,
        tmp_path: Path) -> None:
    pids = products(world / "imagery")
    imagery = tmp_path / "imagery"
    copy_products(world / "imagery", imagery, pids[: N_SCENES // 2])
    monitor(config, imagery, sites, tmp_path)
    first = snapshot(tmp_path / "store.sqlite")
    copy_products(world / "imagery", imagery, pids[N_SCENES // 2:])
    run_and_kill("HEATWATCH_TEST_PAUSE_BEFORE_COMMIT", imagery, world / "sites.geojson",
                 tmp_path)
    assert_same(first, snapshot(tmp_path / "store.sqlite"))  # the killed run left no trace
    report = monitor(config, imagery, sites, tmp_path)
    assert len(report.new_products) == N_SCENES // 2
    assert_same(snapshot(one_run / "store.sqlite"), snapshot(tmp_path / "store.sqlite"))
    ids = [a.alert_id for a in read_jsonl(tmp_path / "alerts.jsonl")]
    assert len(ids) == len(set(ids))
    assert sorted(ids) == sorted(a.alert_id for a in read_jsonl(one_run / "alerts.jsonl"))


@pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")
def test_killed_after_commit_delivers_pending_alerts_once(
        world: Path, config: Config, sites: gpd.GeoDataFrame, one_run: Path,
        tmp_path: Path) -> None:
    run_and_kill("HEATWATCH_TEST_PAUSE_BEFORE_NOTIFY", world / "imagery",
                 world / "sites.geojson", tmp_path)
    with HistoryStore(tmp_path / "store.sqlite") as store:
        assert len(store.pending_alerts()) == len(store.table("alerts")) > 0
    assert not (tmp_path / "alerts.jsonl").exists()
    report = monitor(config, world / "imagery", sites, tmp_path)
    assert report.nothing_new and report.alerts == []
    assert len(report.delivery.written) > 0
    ids = [a.alert_id for a in read_jsonl(tmp_path / "alerts.jsonl")]
    assert sorted(ids) == sorted(a.alert_id for a in read_jsonl(one_run / "alerts.jsonl"))
    assert_same(snapshot(one_run / "store.sqlite"), snapshot(tmp_path / "store.sqlite"))


# Alerts ----------------------------------------------------------------------------------------


def status(day: str, state: str, heat: float | None = None, low: float | None = None,
           high: float | None = None, verdict: str = "not refuted", *, n: int | None = None,
           pattern: str | None = None, since: str | None = None) -> dict[str, object]:
    """A status row of site ``s`` declared at 100 MW (status-rule threshold: 50 MW)."""
    return {"site_id": "s", "as_of_date": day, "status": state, "heat_mw": heat,
            "heat_mw_low": low, "heat_mw_high": high, "first_seen": "2024-01-01",
            "last_seen": day, "verdict": verdict, "reported_power_mw": 100.0, "n_clear": n,
            "pattern": pattern, "possible_shutdown_since": since}


def kinds(alerts: list[Alert]) -> list[tuple[str, str]]:
    return [(a.as_of_date, a.kind) for a in alerts]


ON = ("active", 100, 80, 120)
OFF = ("inactive", 0, 0, 10)


def test_a_look_flipping_back_and_forth_raises_nothing() -> None:
    # running all along; single looks flip to undetermined, inactive and back
    seq = [status("01", *ON), status("02", *ON), status("03", "undetermined", 0, 0, 200),
           status("04", *ON), status("05", *OFF), status("06", *ON), status("07", *OFF),
           status("08", *ON), status("09", "undetermined", 0, 0, 200), status("10", *ON)]
    assert kinds(alert_sequence([], seq)) == [("02", "turned_active")]


def test_a_change_must_hold_at_the_next_clear_look() -> None:
    seq = [status("01", *ON, n=5), status("02", *ON, n=6),
           status("03", *OFF, n=7), status("04", *OFF, n=7),  # cloudy: the same looks
           status("05", *OFF, n=8)]
    alerts = alert_sequence([], seq)
    assert kinds(alerts) == [("02", "turned_active"), ("05", "turned_inactive")]
    assert alerts[1].payload["since"] == "03" and alerts[1].payload["threshold_mw"] == 50.0
    assert alerts[0].alert_id == alert_id("turned_active", "s", "02")
    # alerts are a function of the statuses: the same sequence gives the same ids
    assert [a.alert_id for a in alert_sequence([], seq)] == [a.alert_id for a in alerts]


def test_a_store_in_the_old_verdict_words_raises_no_second_mismatch() -> None:
    # a history written before the rename says "under-reported"; today's rows say it in the
    # new words: the same verdict, no new declared_mismatch alert
    old = [status("01", *ON, verdict="under-reported"), status("02", *ON, verdict="under-reported")]
    new = [status("03", *ON, verdict="refuted: under-reported"),
           status("04", *ON, verdict="refuted: under-reported")]
    assert kinds(alert_sequence(old, new)) == []
    # and a real change of verdict still alerts once confirmed
    over = [status("03", *ON, verdict="refuted: over-declared"),
            status("04", *ON, verdict="refuted: over-declared")]
    assert kinds(alert_sequence(old, over)) == [("04", "declared_mismatch")]


def test_state_changes_need_the_intervals() -> None:
    # an inactive status whose upper limit reaches the threshold claims no stop
    weak_off = ("inactive", 0, 0, 80)
    seq = [status("01", *ON), status("02", *ON), status("03", *weak_off),
           status("04", *weak_off)]
    assert kinds(alert_sequence([], seq)) == [("02", "turned_active")]
    # a restart after a supported stop needs an interval clear of the stopped one
    off = [status("01", *ON), status("02", *ON), status("03", *OFF), status("04", *OFF)]
    overlap = [status("05", "active", 20, 5, 60), status("06", "active", 20, 5, 60)]
    assert kinds(alert_sequence(off, overlap)) == []
    clear = [status("05", *ON), status("06", *ON)]
    assert kinds(alert_sequence(off, clear)) == [("06", "turned_active")]


def test_a_heat_step_needs_apart_intervals_that_hold() -> None:
    base = [status("01", *ON), status("02", *ON), status("03", "active", 110, 85, 135)]
    up = [status("04", "active", 300, 250, 360, "under-reported"),
          status("05", "active", 310, 260, 370, "under-reported")]
    alerts = alert_sequence([], base + up)
    assert kinds(alerts) == [("02", "turned_active"), ("05", "heat_step"),
                             ("05", "declared_mismatch")]
    assert alerts[1].payload["delta_mw"] == 200.0 and alerts[1].payload["since"] == "04"
    # one look up and back: nothing
    blip = [up[0], status("05", *ON), status("06", *ON)]
    assert kinds(alert_sequence([], base + blip)) == [("02", "turned_active")]
    # overlapping intervals are no step
    assert heat_step(status("d", *ON), status("e", "active", 130, 110, 160)) is None
    assert heat_step(status("d", *ON), status("e", "active")) is None


def test_a_possible_shutdown_needs_its_next_clear_look() -> None:
    running = [status("04-01", *ON), status("04-09", *ON)]
    flagged = status("05-01", *ON, since="05-01")
    assert kinds(alert_sequence(running, [flagged])) == []  # one look: not yet
    for confirm in (status("05-09", *ON, since="05-01"),                     # still flagged
                    status("05-09", *OFF, pattern="shutdown"),                 # a stop seen
                    # a stop fitted from a heat above the 50 MW threshold
                    status("05-09", "undetermined", 200, 90, 450, pattern="shutdown")):
        alerts = alert_sequence(running, [flagged, confirm, {**confirm, "as_of_date": "05-17"}])
        alerts = [a for a in alerts if a.kind == "possible_shutdown"]
        assert kinds(alerts) == [("05-09", "possible_shutdown")]
        assert alerts[0].payload["possible_shutdown_since"] == "05-01"
    # heat back at the next look, or a fall from a heat that may be below the threshold
    for refute in (status("05-09", *ON),
                   status("05-09", "undetermined", 60, 20, 150, pattern="shutdown")):
        assert kinds(alert_sequence(running, [flagged, refute])) == []


def test_alerts_do_not_depend_on_where_the_runs_split() -> None:
    seq = [status("01", *ON), status("02", *ON), status("03", "undetermined", 0, 0, 200),
           status("04", "active", 300, 250, 360), status("05", "active", 300, 250, 360),
           status("06", *ON, since="06"), status("07", *ON, since="06"),
           status("08", *OFF), status("09", *OFF), status("10", *ON), status("11", *ON)]
    whole = alert_sequence([], seq)
    assert kinds(whole) == [("02", "turned_active"), ("05", "heat_step"), ("07", "heat_step"),
                            ("07", "possible_shutdown"), ("09", "turned_inactive"),
                            ("11", "turned_active")]
    for k in range(1, len(seq)):
        assert alert_sequence(seq[:k], seq[k:]) == [a for a in whole
                                                    if a.as_of_date >= seq[k]["as_of_date"]]


def test_stored_status_agrees_with_its_interval() -> None:
    rule = AlertRule()
    seen_stop = {"status": "inactive", "pattern": "shutdown", "heat_mw": 170.0,
                 "heat_mw_low": 80.0, "heat_mw_high": 400.0, "reported_power_mw": 100.0}
    # a supported stop: stored with the heat after it
    row = stored_status(seen_stop, HeatEstimate(2.0, 0.0, 20.0), rule)
    assert (row["status"], row["heat_mw"], row["heat_mw_low"], row["heat_mw_high"]) == (
        "inactive", 2.0, 0.0, 20.0)
    # heat before the stop not above the threshold, or after it not below: undetermined
    for before, after in ((30.0, 20.0), (80.0, 60.0)):
        row = stored_status({**seen_stop, "heat_mw_low": before},
                            HeatEstimate(5.0, 0.0, after), rule)
        assert row["status"] == "undetermined" and "stop was fitted" in row["status_note"]
        assert row["heat_mw_low"] == before  # the heat the site may be running
    # an upper limit below the threshold (no stop seen) is the status rule itself
    never = {"status": "inactive", "heat_mw": 0.0, "heat_mw_low": 0.0, "heat_mw_high": 20.0}
    assert stored_status(never, None, rule)["status"] == "inactive"


def test_a_stop_stored_undetermined_keeps_the_heat_a_static_offset_may_hide() -> None:
    """As every undetermined row's (docs/statuses.md), its upper end holds what an always-on
    term could hide in the series; a supported stop's row is the heat after it, unchanged."""
    rule = AlertRule()
    stop = {"status": "inactive", "pattern": "shutdown", "heat_mw": 170.0,
            "heat_mw_low": 30.0, "heat_mw_high": 400.0, "reported_power_mw": 100.0}
    row = stored_status(stop, HeatEstimate(5.0, 0.0, 20.0), rule, may_hide=lambda: 950.0)
    assert row["status"] == "undetermined"
    assert (row["heat_mw"], row["heat_mw_low"], row["heat_mw_high"]) == (170.0, 30.0, 950.0)
    # a bound below the fit's own upper end takes nothing away
    low = stored_status(stop, HeatEstimate(5.0, 0.0, 20.0), rule, may_hide=lambda: 250.0)
    assert low["heat_mw_high"] == 400.0
    asked: list[int] = []
    supported = stored_status({**stop, "heat_mw_low": 80.0}, HeatEstimate(2.0, 0.0, 20.0),
                              rule, may_hide=lambda: asked.append(1) or 950.0)
    assert supported["status"] == "inactive" and supported["heat_mw_high"] == 20.0
    assert not asked  # the bound is worked out only for a row stored undetermined


def test_jsonl_sink_writes_each_alert_once_and_survives_a_torn_line(tmp_path: Path) -> None:
    path = tmp_path / "alerts.jsonl"
    a, b = (Alert(alert_id(k, "s", "2024-01-01"), "s", k, "2024-01-01", k)
            for k in ("turned_active", "heat_step"))
    assert append_jsonl(path, [a]) == [a]
    with open(path, "ab") as f:
        f.write(b'{"alert_id": "torn')  # a crash in the middle of a line
    assert append_jsonl(path, [a, b]) == [b]
    assert [x.alert_id for x in read_jsonl(path)] == [a.alert_id, b.alert_id]
    assert path.read_text().endswith("\n")


class _Hook(http.server.BaseHTTPRequestHandler):
    received: ClassVar[list[dict[str, object]]] = []
    status = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        type(self).received.append(json.loads(body))
        self.send_response(type(self).status)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture()
def webhook() -> Iterator[tuple[str, type[_Hook]]]:
    handler = type("Hook", (_Hook,), {"received": [], "status": 200})
    server = http.server.HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", handler
    finally:
        server.shutdown()
        server.server_close()


def test_webhook_gets_only_the_alerts_of_the_dates_a_run_adds(
        world: Path, sites: gpd.GeoDataFrame, one_run: Path, tmp_path: Path,
        webhook: tuple[str, type[_Hook]]) -> None:
    url, handler = webhook
    cfg = load_config(overrides={"monitor": {"webhook_url": url}}, environ={})  # the default
    assert not cfg.monitor.backfill
    # a first run over the whole series sends none of the past changes (--backfill would)
    first = monitor(cfg, world / "imagery", sites, tmp_path / "all")
    last = max(s["as_of_date"] for s in first.statuses)
    backfilled = snapshot(one_run / "store.sqlite")["alerts"]
    assert (backfilled["as_of_date"] < last).sum() > 0
    assert all(h["as_of_date"] == last for h in handler.received)
    # later runs alert on the dates they add
    handler.received.clear()
    pids = products(world / "imagery")
    imagery = tmp_path / "imagery"
    copy_products(world / "imagery", imagery, pids[:6])  # before the campus starts
    monitor(cfg, imagery, sites, tmp_path / "grow")
    copy_products(world / "imagery", imagery, pids[6:])
    report = monitor(cfg, imagery, sites, tmp_path / "grow")
    assert report.delivery.posted == len(report.alerts) > 0 and not report.problems
    assert sorted(h["alert_id"] for h in handler.received) == sorted(
        a.alert_id for a in report.alerts)
    assert "turned_active" in {h["kind"] for h in handler.received}
    assert all(h["as_of_date"] > _day(pids[5]) for h in handler.received)
    assert {"site_id", "kind", "as_of_date", "message", "payload"} <= set(handler.received[0])


def test_webhook_errors_are_reported_not_raised(webhook: tuple[str, type[_Hook]]) -> None:
    url, handler = webhook
    handler.status = 500
    a = Alert("x", "s", "turned_active", "2024-01-01", "m")
    assert post_webhook(url, a, timeout=5) == "webhook answered HTTP 500"
    assert "unreachable" in str(post_webhook("http://127.0.0.1:9/none", a, timeout=1))
    assert "not http" in str(post_webhook("file:///etc/passwd", a))


# Sentinel Hub source ---------------------------------------------------------------------------


def test_sentinelhub_source_scans_each_site_folder(world: Path, sites: gpd.GeoDataFrame,
                                                   tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    import pipeline.io.sentinelhub as shs
    from pipeline.core.sites import safe_name

    calls = []

    def fake_fetch(sites: gpd.GeoDataFrame, **kw: object) -> shs.FetchReport:
        calls.append(kw)
        report = shs.FetchReport(collection="LANDSAT_OT_L2", base_url="http://127.0.0.1")
        for sid in sites["site_id"]:
            folder = Path(str(kw["out_dir"])) / safe_name(sid)
            copy_products(world / "imagery", folder, products(world / "imagery"))
            report.site_dirs[sid] = folder
        return report

    monkeypatch.setattr(shs, "fetch_sites", fake_fetch)
    cfg = load_config(overrides={"monitor": {"source": "sentinelhub", "fetch_dir": str(
        tmp_path / "fetched"), "fetch_start": "2024-01-01"}}, environ={})
    now = datetime(2025, 1, 1, tzinfo=timezone.utc)
    first = monitor(cfg, None, sites, tmp_path, now=now)  # type: ignore[arg-type]
    assert calls[0]["start"] == datetime(2024, 1, 1).date() and calls[0]["end"] == now.date()
    assert [s["site_id"] for s in first.statuses] == ["campus", "wh"]
    assert len(first.new_products) == N_SCENES  # the same products, one folder a site
    again = monitor(cfg, None, sites, tmp_path, now=now)  # type: ignore[arg-type]
    assert again.nothing_new and again.alerts == []
    with HistoryStore(tmp_path / "store.sqlite") as store:
        assert len(store.table("scenes")) == N_SCENES  # same product ids, recorded once
        assert len(store.table("observations")) == 2 * N_SCENES


def test_a_possible_shutdown_is_stored_at_once_and_alerted_at_the_next_clear_look(
        config: Config, tmp_path: Path) -> None:
    from pipeline.monitor.run import history_frame
    from tests.support.late_stop_world import SITE, write_late_stop_world

    # one clear look after the stop: flagged in the store and the history, not yet alerted
    last = write_late_stop_world(tmp_path / "one")
    report = monitor(config, tmp_path / "one", read_sites(tmp_path / "one" / "sites.geojson"),
                     tmp_path / "s1")
    assert [a for a in report.alerts if a.kind == "possible_shutdown"] == []
    with HistoryStore(tmp_path / "s1" / "store.sqlite") as store:
        latest = store.latest_status(SITE)
        assert latest is not None and latest["status"] == "active"
        assert latest["possible_shutdown_since"] == last
        assert history_frame(store, SITE)["possible_shutdown_since"].iloc[-1] == last
    # two: the next clear look confirms it, once
    last = write_late_stop_world(tmp_path / "two", looks_after=2)
    report = monitor(config, tmp_path / "two", read_sites(tmp_path / "two" / "sites.geojson"),
                     tmp_path / "s2")
    flagged = [a for a in report.alerts if a.kind == "possible_shutdown"]
    assert [(a.site_id, a.as_of_date) for a in flagged] == [(SITE, last)]
    assert flagged[0].payload["possible_shutdown_since"] < last
    written = [json.loads(line) for line in
               (tmp_path / "s2" / "alerts.jsonl").read_text().splitlines()]
    assert sum(a["kind"] == "possible_shutdown" for a in written) == 1


def test_a_campus_running_all_year_raises_one_alert(config: Config, tmp_path: Path) -> None:
    from tests.support.steady_world import SITE, write_steady_world

    write_steady_world(tmp_path / "world")
    report = monitor(config, tmp_path / "world", read_sites(tmp_path / "world" / "sites.geojson"),
                     tmp_path)  # --backfill: every past change would be alerted
    with HistoryStore(tmp_path / "store.sqlite") as store:
        seq = store.table("site_status", site_id=SITE)["status"].tolist()
    # the replay does flap (active, then not, then active again): alerting on each status
    # change alone would say "turned active" more than once for a campus that never stopped
    entries = sum(a != "active" == b for a, b in pairwise(seq))
    assert entries >= 2
    assert [(a.site_id, a.kind) for a in report.alerts] == [(SITE, "turned_active")]
