"""The shipped Epoch catalog through ``scan``, ``report`` and ``monitor`` (issue 19, 1, 3, 4).

Two small generated worlds, each scanned with the shipped catalog through the real CLI:

* one centred on Meta Hyperion (Epoch: 0 MW, not yet operating) with a campus running there;
* one centred on xAI Colossus 1, whose campus switches on on 2024-08-15, with looks from
  2024-05 to 2025-04, over which Epoch's timeline steps 0 -> 44 -> 174 -> 349 MW.

Every other campus of the catalog lies hundreds or thousands of km away.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timezone
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from aoi.catalog import load_catalog
from cli import app
from models.world import generate_world
from models.world_spec import CampusSpec, WorldSpec
from pipeline.core.config import load_config
from pipeline.report.build import build_report
from pipeline.report.evidence import site_figure
from pipeline.report.files import load_scan
from pipeline.science.declared import EPOCH_SOURCE_CREDIT

HYPERION = "meta-hyperion-holly-ridge-louisiana"
COLOSSUS = "xai-colossus-1-memphis-tennessee"
CATALOG = Path(__file__).resolve().parents[3] / "aoi" / "data" / "epoch_campuses.geojson"
WIDE = {"COLUMNS": "200", "NO_COLOR": "1"}


def _world(root: Path, site_id: str, *, n: int, start: date, onset: date | None) -> Path:
    site = load_catalog().set_index("site_id").loc[site_id]
    spec = WorldSpec(seed=19, name=site_id[:20], center_lat=float(site["lat"]),
                     center_lon=float(site["lon"]), size_px=200, start=start,
                     n_acquisitions=n, revisit_days=16, cloudiness=0.2,
                     campuses=(CampusSpec(site_id="HEAT", name="heat", x_km=0.0, y_km=0.0,
                                          power_mw=250.0, onset=onset, in_catalog=False),))
    generate_world(spec, root / "imagery")
    return root / "imagery"


def _scan(imagery: Path, out: Path):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["scan", str(imagery), "--out", str(out), "--sites",
                                    str(CATALOG)], env=WIDE)


def _sites(out: Path) -> dict[str, dict]:  # type: ignore[type-arg]
    feats = json.loads((out / "sites.geojson").read_text())["features"]
    return {f["properties"]["site_id"]: f["properties"] for f in feats}


@pytest.fixture(scope="module")
def hyperion(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("hyperion")
    imagery = _world(root, HYPERION, n=22, start=date(2024, 5, 1), onset=date(2024, 8, 15))
    return imagery, root / "out", _scan(imagery, root / "out")


@pytest.fixture(scope="module")
def colossus(tmp_path_factory: pytest.TempPathFactory):  # type: ignore[no-untyped-def]
    root = tmp_path_factory.mktemp("colossus")
    imagery = _world(root, COLOSSUS, n=22, start=date(2024, 5, 1), onset=date(2024, 8, 15))
    result = _scan(imagery, root / "out")
    assert result.exit_code == 0, result.output
    return root / "out"


# 1. zero declared power ---------------------------------------------------------------------------


def test_shipped_catalog_scans_a_world_centred_on_a_zero_power_campus(hyperion) -> None:  # type: ignore[no-untyped-def]
    _, out, result = hyperion
    assert result.exit_code == 0, result.output
    site = _sites(out)[HYPERION]
    assert site["status"] == "active" and site["heat_mw"] > 0  # heat where Epoch says 0 MW
    assert site["reported_power_mw"] == 0.0
    assert site["verdict"] == "inconclusive"  # nothing declared yet: no declaration tested
    # a 0 MW declaration never calibrates the excess-to-MW coefficient
    cal = json.loads((out / "run.json").read_text())["calibration"]
    assert cal["method"] == "physics" and cal["declarations_used"] == []
    html = (out / "reports" / f"{HYPERION}.html").read_text()
    assert "Nothing declared yet: 0 MW" in html and "watched for switching on" in html


def test_monitor_watches_a_zero_power_campus(hyperion, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from aoi.catalog import load_catalog
    from pipeline.monitor.run import run_monitor

    imagery, _, _ = hyperion
    backfill = load_config(overrides={"monitor": {"backfill": True}}, environ={})  # the past too
    report = run_monitor(backfill, imagery_dir=imagery, sites=load_catalog(),
                         store_path=tmp_path / "store.sqlite", alerts_path=tmp_path / "a.jsonl",
                         now=datetime(2025, 1, 1, tzinfo=timezone.utc))
    assert len(report.uncovered_sites) == 16 and HYPERION not in report.uncovered_sites
    alerts = [json.loads(line) for line in (tmp_path / "a.jsonl").read_text().splitlines()]
    assert {(a["site_id"], a["kind"]) for a in alerts} >= {(HYPERION, "turned_active")}
    assert not [a for a in alerts if a["kind"] == "declared_mismatch"]


# 3. dated declarations --------------------------------------------------------------------------


def test_each_look_carries_the_declaration_in_force_on_its_date(colossus) -> None:  # type: ignore[no-untyped-def]
    series = pd.read_csv(colossus / "series" / f"{COLOSSUS}.csv", dtype={"date": str})
    # Epoch's Colossus 1 timeline: 0 MW from 2024-04-24, 44 from 2024-08-11, 174 from
    # 2024-09-02, 349 from 2025-02-17 (498 MW, its current figure, is from 2025-11-07)
    expected = [0.0 if d < "2024-08-11" else 44.0 if d < "2024-09-02" else
                174.0 if d < "2025-02-17" else 349.0 for d in series["date"]]
    assert series["declared_power_mw"].tolist() == expected
    assert {0.0, 174.0, 349.0} <= set(expected)


def test_verdict_compares_heat_with_the_declaration_at_the_last_look(colossus) -> None:  # type: ignore[no-untyped-def]
    site = _sites(colossus)[COLOSSUS]
    assert site["reported_power_mw"] == 349.0  # not Epoch's current 498 MW
    assert site["reported_power_since"] == "2025-02-17"
    assert site["reported_power_as_of"] == pd.read_csv(
        colossus / "series" / f"{COLOSSUS}.csv", dtype={"date": str})["date"].iloc[-1]
    html = (colossus / "reports" / f"{COLOSSUS}.html").read_text()
    assert "Declared power 349 MW, in force on the last look" in html
    assert "since the timeline row of 2025-02-17" in html


def test_evidence_plot_draws_the_declaration_as_a_step_line(colossus) -> None:  # type: ignore[no-untyped-def]
    scan = load_scan(colossus)
    site = next(r for r in scan.records if r["site_id"] == COLOSSUS)
    series = scan.series[COLOSSUS]
    fig = site_figure(site, series, scan.raster(scan.rasters["anomaly_mean"]))
    ax = fig.axes[1]
    line = next(ln for ln in ax.get_lines() if "declared power in force" in ln.get_label())
    assert "349 MW at the last look" in line.get_label()
    assert line.get_drawstyle() == "steps-post"
    mw = line.get_ydata() * 1e3 / site["k_m2_per_mw"]  # back from 10^3 K m2 to MW
    assert sorted({round(float(v)) for v in mw}) == sorted(
        {round(v) for v in series["declared_power_mw"]})


def test_epoch_is_credited_on_every_map_report_and_export(colossus) -> None:  # type: ignore[no-untyped-def]
    assert _sites(colossus)[COLOSSUS]["data_credit"] == EPOCH_SOURCE_CREDIT
    assert json.loads((colossus / "run.json").read_text())["data_credits"] == [
        EPOCH_SOURCE_CREDIT]
    for page in ("map.html", f"reports/{COLOSSUS}.html"):
        assert EPOCH_SOURCE_CREDIT.replace("'", "&#x27;") in (colossus / page).read_text(), page
    from pipeline.report.pdf import report_lines

    scan = load_scan(colossus)
    site = next(r for r in scan.records if r["site_id"] == COLOSSUS)
    fig = site_figure(site, scan.series[COLOSSUS], scan.raster(scan.rasters["anomaly_mean"]))
    assert any(EPOCH_SOURCE_CREDIT in t.get_text() for t in fig.texts)  # the evidence PNG
    assert any("Epoch AI" in line for line in report_lines(site, scan, {}))  # the PDF


# 4. sites the imagery does not show ---------------------------------------------------------------


def test_far_campuses_are_named_not_covered_and_get_no_evidence(colossus) -> None:  # type: ignore[no-untyped-def]
    catalog = set(load_catalog()["site_id"])
    run = json.loads((colossus / "run.json").read_text())
    far = {s["site_id"] for s in run["not_covered"]}
    # the imagery (4.8 km around Colossus 1) shows Colossus 1 only; Colossus 2 is 12 km away
    assert far == catalog - {COLOSSUS}
    assert set(_sites(colossus)) & catalog == {COLOSSUS}
    for folder in ("evidence", "reports", "series"):
        names = {p.stem for p in (colossus / folder).iterdir()}
        assert not names & far, folder
    assert "16 catalog site(s) not covered by the imagery" in (colossus / "map.html").read_text()


def test_report_of_an_older_scan_drops_the_far_sites_evidence(colossus, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    import shutil

    old = tmp_path / "old"
    shutil.copytree(colossus, old)
    # as written before: the far site measured (every look cloudy) with a figure and report
    run = json.loads((old / "run.json").read_text())
    del run["not_covered"]
    (old / "run.json").write_text(json.dumps(run))
    fc = json.loads((old / "sites.geojson").read_text())
    far = load_catalog().set_index("site_id", drop=False).loc[[HYPERION]]
    feat = json.loads(far[["site_id", "name", "geometry"]].to_json())["features"][0]
    feat["properties"].update(in_catalog=True, status="inactive")
    fc["features"].append(feat)
    (old / "sites.geojson").write_text(json.dumps(fc))
    (old / "evidence" / f"{HYPERION}.png").write_bytes(b"stale")

    result = CliRunner().invoke(app, ["report", str(old), "--no-pdf"], env=WIDE)
    assert result.exit_code == 0, result.output
    assert "1 catalog site(s) not covered by the imagery" in " ".join(result.output.split())
    assert HYPERION in result.output
    assert not (old / "evidence" / f"{HYPERION}.png").exists()
    assert not (old / "reports" / f"{HYPERION}.html").exists()
    assert (old / "evidence" / f"{COLOSSUS}.png").exists()
    assert build_report(old, evidence=False, pdf=False)["not_covered"] == [HYPERION]
