"""Smoke test of the benchmarks: the smallest configuration runs and writes the documented JSON.

No timing is asserted: the figures depend on the machine and its load.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``bench`` is a folder of scripts, not an installed package
    sys.path.insert(0, str(ROOT))

from bench import accuracy, throughput  # noqa: E402
from bench._common import write_json  # noqa: E402


def _roundtrip(doc: dict, path: Path) -> dict:
    write_json(doc, path)
    return json.loads(path.read_text())


def test_accuracy_smallest_suite_writes_the_documented_keys(tmp_path):
    from models.world_spec import random_spec

    spec = random_spec(3, size_px=120, n_acquisitions=8, n_campuses=1)
    doc = _roundtrip(accuracy.benchmark([spec], workdir=tmp_path / "worlds"),
                     tmp_path / "accuracy.json")
    assert {"benchmark", "measured_at", "machine", "code", "settings", "summary", "worlds",
            "wall_seconds"} <= set(doc)
    assert {"cpu_count", "loadavg", "platform", "versions"} <= set(doc["machine"])
    s = doc["summary"]
    assert {"recall_by_size", "recall_by_size_and_cooling", "false_candidates", "heat_ratio",
            "onset_error_acq", "shutdown_error_acq", "smallest_mw_at_90pct_recall",
            "recall_by_visible_heat", "onset_error_clear_acq", "shutdown_error_clear_acq",
            "scan_grid", "declared_power_verdicts", "interval_coverage"} <= set(s)
    assert all(0.0 <= c["scanned_fraction"] <= 1.0 for c in doc["worlds"][0]["campuses"])
    assert list(s["recall_by_size"]) == ["10-40 MW", "40-100 MW", "100-300 MW", "300-1000 MW"]
    assert {"calibrated", "uncalibrated"} <= set(s["heat_ratio"])
    assert s["false_candidates"]["area_km2"] > 0
    assert len(doc["worlds"]) == 1 and len(doc["worlds"][0]["campuses"]) == len(spec.campuses)
    assert accuracy.markdown(doc).count("|") > 20
    assert accuracy.plot(doc, tmp_path / "accuracy.png").stat().st_size > 0


def test_recall_by_visible_heat_pools_campuses_by_dry_equivalent_mw():
    def rec(visible, detected, in_catalog=True, lat=40.0):
        return {"eligible": True, "visible_mw": visible, "detected": detected,
                "in_catalog": in_catalog, "abs_lat": lat}

    worlds = [{"campuses": [rec(500, True), rec(1200, True), rec(150, True),
                            rec(150, False, in_catalog=False),
                            rec(20, False), {**rec(900, True), "eligible": False}]},
              {"campuses": [rec(60, True, lat=5.0), rec(60, False, lat=5.0)]}]
    table = accuracy._visible_recall(worlds)
    assert list(table) == ["0-40 MW", "40-100 MW", "100-300 MW", "300+ MW"]
    assert table["300+ MW"]["all"] == {"n": 2, "detected": 2, "recall": 1.0}
    assert table["100-300 MW"]["catalogued"]["recall"] == 1.0
    assert table["100-300 MW"]["uncatalogued"]["recall"] == 0.0
    assert table["40-100 MW"]["tropics, lat < 20 deg"] == {"n": 2, "detected": 1, "recall": 0.5}
    assert table["40-100 MW"]["lat >= 20 deg N/S"]["n"] == 0
    assert table["0-40 MW"]["all"]["detected"] == 0


def test_campuses_outside_the_scan_grid_are_counted_apart():
    def rec(detected, in_catalog, scanned):
        return {"eligible": True, "detected": detected, "in_catalog": in_catalog,
                "scanned_fraction": scanned}

    camp = [rec(True, True, 1.0), rec(False, True, 1.0), rec(True, False, 0.6),
            rec(False, False, 1.0), rec(False, False, 0.0), rec(False, False, 0.4)]
    g = accuracy._scan_grid_recall(camp)
    assert g["outside"] == 2 and g["outside_detected"] == 0
    assert g["recall_inside"] == 0.5  # 2 of the 4 campuses at least half inside
    assert g["uncatalogued_inside"] == [1, 2] and g["recall_inside_uncatalogued"] == 0.5


def test_mismatch_verdicts_on_honest_declarations_are_counted_as_false():
    over, under = "refuted: over-declared", "refuted: under-reported"
    camp = [{"reported": True, "verdict": "not refuted",
             "verdict_3x_declared": over, "verdict_third_declared": "inconclusive"},
            {"reported": True, "verdict": over},
            {"reported": True, "verdict": under},
            {"reported": True, "verdict": "inconclusive",
             "verdict_3x_declared": over, "verdict_third_declared": under},
            {"reported": False, "verdict": "inconclusive"},  # nothing declared
            {"reported": True}]  # not matched to a row
    v = accuracy._verdicts(camp)
    assert v["n"] == 4 and v["false_mismatch"] == 2
    assert v["counts"] == {"not refuted": 1, "inconclusive": 1, "refuted: over-declared": 1,
                           "refuted: under-reported": 1}
    assert v["caught_3x_over_claim"] == 0.5 and v["caught_3x_under_claim"] == 0.25


def test_the_heat_bar_and_its_excess_diagnostic_count_different_errors():
    def changed(heat_ratio, excess_ratio, *, shut_down=True, status="inactive"):
        return {"in_catalog": True, "onset_in_series": False, "shut_down": shut_down,
                "status": status, "visible_mw": 100.0, "power_mw": 100.0,
                "heat_ratio": heat_ratio, "excess_ratio": excess_ratio}

    camp = [changed(1.6, 1.1),  # the excess is right, the coefficient 1.45x too low
            changed(1.2, 1.3), changed(0.7, 0.69),  # both within 1.4x; both off by over 1.4x
            changed(None, None),  # right status, no heat estimate: counts against both
            changed(1.0, 1.0, status="undetermined")]  # wrong status: in neither share
    c = accuracy.criteria(camp, [], 100.0)
    assert c["catalog_change_right_status"] == {"n": 5, "k": 4, "share": 0.8}
    assert c["catalog_change_heat_within_1.4x"] == {"n": 4, "k": 1, "share": 0.25}
    assert c["catalog_change_excess_within_1.4x"] == {"n": 4, "k": 2, "share": 0.5}


def test_interval_coverage_counts_intervals_holding_the_true_power():
    def rec(power, low, high, *, detected=True, in_catalog=True, reported=True, cooling="dry"):
        return {"power_mw": power, "heat_mw_low": low, "heat_mw_high": high,
                "detected": detected, "in_catalog": in_catalog, "reported": reported,
                "cooling": cooling}

    camp = [rec(100, 80, 125), rec(100, 110, 300),  # held; too high at the low end
            rec(100, 0, 400, reported=False),  # held, reaching 0
            rec(200, 50, 150, in_catalog=False, reported=False, cooling="evaporative"),
            rec(100, 0, 150, detected=False), rec(100, 0, 60, detected=False),  # upper limits
            rec(100, 0, 0, detected=False, in_catalog=False),  # no candidate: not counted
            {"power_mw": 50, "detected": False, "in_catalog": True}]  # no row at all
    cover = accuracy._interval_coverage(camp)
    assert cover["catalogued, calibrated"] == {"n": 2, "covered": 1, "share": 0.5,
                                               "median_high_over_low": (125 / 80 + 300 / 110) / 2}
    assert cover["catalogued, uncalibrated"]["covered"] == 1
    assert cover["catalogued, uncalibrated"]["median_high_over_low"] is None  # low end 0
    assert cover["candidate, evaporative"]["share"] == 0.0
    assert cover["candidate, dry"] == {"n": 0, "covered": 0, "share": None,
                                       "median_high_over_low": None}
    assert cover["all found"]["n"] == 4 and cover["all found"]["covered"] == 2
    missed = cover["catalogued, not found: upper limit >= power"]
    assert missed["n"] == 2 and missed["covered"] == 1


def test_verdict_for_a_site_row_checks_heat_against_a_declaration():
    row = {"heat_mw": 100.0, "heat_mw_low": 80.0, "heat_mw_high": 125.0}
    # even peak draw exceeds it
    assert accuracy._verdict_for(row, 300.0) == "refuted: over-declared"
    assert accuracy._verdict_for(row, 33.0) == "refuted: under-reported"
    assert accuracy._verdict_for(row, 110.0) == "not refuted"
    assert accuracy._verdict_for({**row, "heat_mw_high": float("nan")}, 300.0) == "inconclusive"
    # as the scan: no refutation where the site's null could not measure its land
    few = {**row, "null_statistic": "onset", "null_z": 9.0, "null_n_independent": 3.0}
    assert accuracy._verdict_for(few, 33.0) == "inconclusive"
    assert accuracy._verdict_for(few, 300.0) == "inconclusive"
    assert accuracy._verdict_for({**few, "null_n_independent": 30.0}, 300.0) == \
        "refuted: over-declared"
    # the scan's own word when the row carries it (a table read back gives NaN for None)
    assert accuracy._verdict_for({**few, "land_unmeasured": float("nan")}, 300.0) == \
        "refuted: over-declared"
    assert accuracy._verdict_for({**few, "null_n_independent": 30.0}, 33.0) == \
        "refuted: under-reported"


def test_scanned_fraction_of_a_footprint_across_the_grid_edge():
    import geopandas as gpd
    from shapely.geometry import box

    from pipeline.core.grid import Grid

    grid = Grid.from_bounds("EPSG:32631", (499_985.0, 4_999_985.0, 501_185.0, 5_001_185.0), 30.0)
    _, bottom, right, top = grid.bounds

    def lonlat(b):
        return gpd.GeoSeries([box(*b)], crs=grid.crs).to_crs(4326).iloc[0]

    half = lonlat((right - 300, bottom + 300, right + 300, bottom + 900))
    assert abs(accuracy._scanned_fraction(half, grid) - 0.5) < 0.01
    assert accuracy._scanned_fraction(lonlat((right + 100, bottom, right + 400, top)), grid) == 0.0


def test_ladder_worlds_are_valid_and_hold_every_size():
    spec = accuracy.ladder_spec(0, size_px=300, n_acquisitions=30)
    assert sorted(c.power_mw for c in spec.campuses) == list(accuracy.LADDER_MW)
    assert spec.warehouses and spec.construction and spec.fires and spec.power_plants
    assert 0 < sum(c.in_catalog for c in spec.campuses) < len(spec.campuses)


def test_throughput_smallest_run_writes_the_documented_keys(tmp_path):
    doc = _roundtrip(throughput.benchmark(
        workdir=tmp_path, tile_px=120, sites_n=[1], dates_t=[4], memory_tile_px=120,
        memory_t=[4], stage_px=200, repeats=1), tmp_path / "throughput.json")
    assert {"benchmark", "measured_at", "machine", "scan_vs_read", "memory_vs_dates",
            "stages", "summary"} <= set(doc)
    (row,) = doc["scan_vs_read"]
    assert row["sites"] == 1 and row["dates"] == 4
    assert row["read_s"] > 0 and row["scan_s"] > 0 and row["ratio"] > 0
    (mem,) = doc["memory_vs_dates"]
    assert mem["dates"] == 4 and mem["tracemalloc_peak_mb"] > 0
    assert set(doc["stages"]["stages"]) == {"calibration (to_kelvin)", "masking (build_flags)",
                                            "anomaly (anomaly)", "detection (hotspot_mask)"}
    assert all(v["mpx_per_s"] > 0 for v in doc["stages"]["stages"].values())
    assert throughput.markdown(doc).count("|") > 20
    assert throughput.plot(doc, tmp_path / "throughput.png").stat().st_size > 0


def test_holdout_worlds_are_not_in_the_suite():
    def key(spec):
        return spec.model_dump_json()

    suite = {key(s) for s in accuracy.suite()}
    holdout = {key(s) for s in accuracy.suite(holdout=True)}
    short = accuracy.suite(short=True)
    assert len(holdout) == 12 and not suite & holdout
    assert len(short) == 30 and not (suite | holdout) & {key(s) for s in short}
    assert {s.n_acquisitions for s in short} == {23, 30, 46}


def test_a_held_out_world_meets_the_scan_envelope(tmp_path):
    # random world 40: outside the suite the methods were chosen on (see --holdout); it has a
    # campus that starts, one that shuts down and three catalogued ones
    from models.world_spec import random_spec
    from pipeline.core.config import load_config

    spec = random_spec(40, size_px=250, n_acquisitions=46, n_campuses=4)
    assert spec.name not in {s.name for s in accuracy.suite()}
    truth, result, _ = accuracy.scan_world(spec, tmp_path, load_config(environ={}))
    world = accuracy.evaluate_world(truth, result)
    assert world["false_candidates"] == []
    checked = {"catalogued": 0, "onset": 0, "shutdown": 0}
    for rec in world["campuses"]:
        if rec["eligible"] and rec["in_catalog"] and rec["visible_mw"] >= 40:
            assert rec["detected"], rec["site_id"]
            checked["catalogued"] += 1
        if rec["detected"] and "shutdown_error_acq" in rec:
            assert abs(rec["shutdown_error_acq"]) <= 1, rec["site_id"]
            checked["shutdown"] += 1
        if rec["detected"] and "onset_error_clear_acq" in rec:
            assert abs(rec["onset_error_clear_acq"]) <= 2, rec["site_id"]
            checked["onset"] += 1
    assert checked == {"catalogued": 3, "onset": 1, "shutdown": 1}


def test_stac_bytes_smallest_run_reads_a_fraction_and_nothing_again(tmp_path):
    import json

    from bench import stac_bytes

    out = tmp_path / "stac_bytes.json"
    assert stac_bytes.main(["--side", "1024", "--looks", "2", "--out", str(out)]) == 0
    res = json.loads(out.read_text())["results"]
    cold, rerun = res["runs"]
    assert cold["products"] == 2 and cold["bytes_read_client"] == cold["bytes_sent_server"]
    assert 0 < res["fraction_of_full_scenes"] < 0.5
    assert rerun["bytes_read_client"] == 0


def test_the_widened_splits_share_no_world():
    def names(specs):
        return [s.name for s in specs]

    splits = ({}, {"holdout": True}, {"second": True})  # development, held out, second
    wide = [names(accuracy.wide_suite(**k)) for k in splits]
    onset = [names(accuracy.onset_suite(**k)) for k in splits]
    assert [len(v) for v in wide] == [20, 12, 14] and [len(v) for v in onset] == [12, 12, 10]
    every = [n for v in (*wide, *onset) for n in v]
    assert len(set(every)) == len(every)


def test_accuracy_refuses_experiment_sizes_out_of_range(capsys):
    for argv in (["--earlier-looks", "0"], ["--earlier-looks", "201"], ["--scene-px", "32"],
                 ["--placebo-seed", "-1"], ["--worlds", "0"], ["--crop-year-days", "0"],
                 ["--crop-year-days", "61"]):
        with pytest.raises(SystemExit) as exit_info:
            accuracy.main(["--wide-onset", *argv])
        assert exit_info.value.code == 2
        assert argv[0] in capsys.readouterr().err
    # crops that vary from year to year need crops: the classic worlds have none
    with pytest.raises(SystemExit) as exit_info:
        accuracy.main(["--quick", "--crop-year-days", "14"])
    assert exit_info.value.code == 2 and "widened" in capsys.readouterr().err


def test_footprint_ceiling_takes_the_accuracy_benchmarks_world_options(capsys, monkeypatch,
                                                                       tmp_path):
    from bench import footprint_ceiling

    for argv in (["--earlier-looks", "0"], ["--scene-px", "32"], ["--worlds", "0"]):
        with pytest.raises(SystemExit) as exit_info:
            footprint_ceiling.main(argv)
        assert exit_info.value.code == 2
        assert argv[0] in capsys.readouterr().err
    # the worlds it measures are the accuracy benchmark's, in larger scenes and seen longer,
    # and its result is named by the options (here with no world measured: too few MW)
    seen = []
    monkeypatch.setattr(footprint_ceiling, "measure_world",
                        lambda spec, *a, **k: seen.append(spec) or ([], []))
    assert footprint_ceiling.main(["--second", "--worlds", "1", "--scene-px", "300",
                                   "--earlier-looks", "4", "--out", str(tmp_path)]) == 0
    first = accuracy.onset_suite(second=True, n_worlds=1)[0]
    assert [s.size_px for s in seen] == [300]
    assert seen[0].n_acquisitions == first.n_acquisitions + 4
    assert seen[0].campuses == accuracy.in_scene(first, 300).campuses
    out = tmp_path / "footprint-ceiling-wide-onset-second-scene-px300-earlier-looks4.json"
    assert out.exists()
    assert '"command": "python bench/footprint_ceiling.py --second --scene-px 300 ' \
           '--earlier-looks 4"' in out.read_text()


def test_footprint_ceiling_judges_a_new_onset_on_its_true_polygon(tmp_path):
    from datetime import timedelta

    from bench import footprint_ceiling
    from models.world_spec import random_spec
    from pipeline.core.config import Config
    from pipeline.core.site_row import STATUSES

    spec = random_spec(3, size_px=120, n_acquisitions=12, n_campuses=1, cloudiness=0.0)
    onset = spec.start + timedelta(days=spec.revisit_days * 6)
    campus = spec.campuses[0].model_copy(update={
        "power_mw": 300.0, "cooling": "dry", "onset": onset, "shutdown": None,
        "in_catalog": False, "reported_power_mw": None})
    spec = spec.model_validate(spec.model_dump() | {"campuses": (campus,)})
    recs, land = footprint_ceiling.measure_world(spec, tmp_path, Config(), visible_mw=100.0)
    assert [r["site_id"] for r in recs] == [campus.site_id]
    assert all(r["status_as_listed"] in STATUSES for r in land)
    r = recs[0]
    # the world's 300 MW of dry heat, seen from its seventh look on
    assert r["visible_mw"] == pytest.approx(300.0, rel=0.15)
    assert r["pattern"] in ("onset", "always", "window", "shutdown", "never", "insufficient")
    assert isinstance(r["passes_as_searched"], bool)
    assert r["passes_as_searched"] == (r["rejected_because"] is None)
    assert r["status_as_listed"] in STATUSES
    # classic land has no crop seasons: its ring's season is none, before or after the onset
    assert (r["ring_season_mw"], r["ring_crop_share"], r["season_shift_mw"]) == (0.0, 0.0, 0.0)
    # a campus below the visible bar is not measured
    assert footprint_ceiling.measure_world(spec, tmp_path, Config(), visible_mw=1e4) == ([], [])


def test_footprint_ceiling_counts_what_passes_on_the_true_footprint_and_what_the_scan_found():
    from bench import footprint_ceiling

    # the last record was measured before the ring's season was: it falls in no band
    recs = [{"passes_as_searched": True, "onset_error_acq": 1, "scan_found": False,
             "status_as_listed": "active", "ring_season_mw": 10.0},
            {"passes_as_searched": True, "onset_error_acq": -3, "scan_found": True,
             "status_as_listed": "active", "ring_season_mw": 200.0},
            {"passes_as_searched": False, "onset_error_acq": None, "scan_found": True,
             "status_as_listed": "undetermined", "ring_season_mw": 150.0},
            {"passes_as_searched": True, "onset_error_acq": None, "scan_found": None,
             "status_as_listed": "active"}]
    assert footprint_ceiling.summarise(recs) == {
        "new_onsets": 4, "pass_on_true_footprint": 3, "within_2_on_true_footprint": 1,
        "by_ring_season": {
            "0-25 MW": {"new_onsets": 1, "pass_on_true_footprint": 1},
            "25-75 MW": {"new_onsets": 0, "pass_on_true_footprint": 0},
            "75-150 MW": {"new_onsets": 0, "pass_on_true_footprint": 0},
            "150+ MW": {"new_onsets": 2, "pass_on_true_footprint": 1}},
        "active_as_listed": 3, "found_by_scan": 2, "pass_on_true_footprint_missed_by_scan": 1,
        "land_listed": 0, "land_statuses": {}, "land_null_cannot_judge": 0}
    land = [{"status_as_listed": "active", "null_statistic": "onset", "null_z": 0.4,
             "null_n_independent": 4.2},
            {"status_as_listed": "undetermined", "null_statistic": "onset", "null_z": 1.1,
             "null_n_independent": 31.0},
            {"status_as_listed": "active", "null_statistic": "always", "null_z": None,
             "null_n_independent": None},
            {"status_as_listed": "undetermined", "null_statistic": None,
             "null_n_independent": None},  # fitted never: no statistic to judge
            {"status_as_listed": "undetermined", "null_statistic": float("nan"),
             "null_n_independent": float("nan")}]  # the same, as a table column holds it
    both = footprint_ceiling.summarise(recs, land)
    assert both["land_statuses"] == {"active": 2, "undetermined": 3}
    assert both["land_null_cannot_judge"] == 2  # 4.2 and no placebo: fewer than 10


def test_plain_land_polygons_are_the_campus_moved_clear_of_everything():
    from types import SimpleNamespace

    import geopandas as gpd
    from shapely.geometry import Polygon, box

    from bench import footprint_ceiling

    # a 9 km grid in UTM 31N with a 900 x 600 m campus at its centre and a warehouse 2 km east
    x0, y0 = 500_000.0, 5_000_000.0
    grid = SimpleNamespace(epsg=32631, transform=(30.0, 0.0, x0, 0.0, -30.0, y0), width=300,
                           height=300)
    to_lonlat = lambda g: list(  # noqa: E731
        gpd.GeoSeries([g], crs=32631).to_crs(4326).iloc[0].exterior.coords)
    campus_utm = box(x0 + 4050, y0 - 4800, x0 + 4950, y0 - 4200)
    campus = SimpleNamespace(site_id="S2", cooling="dry", footprint_lonlat=to_lonlat(campus_utm))
    shed = SimpleNamespace(footprint_lonlat=to_lonlat(box(x0 + 6400, y0 - 4600, x0 + 6600,
                                                          y0 - 4400)))
    truth = SimpleNamespace(grid=grid, campuses=[campus], warehouses=[shed], construction=[],
                            fires=[], power_plants=[])
    out = footprint_ceiling.land_polygons(truth, [campus])
    # north, south and west fit; east lands on the warehouse
    assert [sid for sid, _, _ in out] == ["LAND-S2-N", "LAND-S2-S", "LAND-S2-W"]
    inside = box(x0 + 300, y0 - 9000 + 300, x0 + 9000 - 300, y0 - 300)
    for _, cooling, ring in out:
        g = gpd.GeoSeries([Polygon(ring)], crs=4326).to_crs(32631).iloc[0]
        assert cooling == "dry" and inside.contains(g)
        assert g.area == pytest.approx(campus_utm.area, rel=1e-3)
        assert g.distance(campus_utm) >= 2000.0 - 900.0 - 1.0  # moved 2 km, 900 m wide


def test_roof_gaps_labels_every_searched_onset_by_what_it_lies_over(tmp_path):
    from bench import roof_gaps
    from models.world_spec import random_spec
    from pipeline.core.config import Config

    # a small world whose construction site (a roof built during the series) is searched and
    # fitted as an onset
    spec = random_spec(16, size_px=160, n_acquisitions=16, n_campuses=2)
    recs = roof_gaps.onset_regions(spec, tmp_path, Config())
    assert "construction site" in {r["lies_over"] for r in recs}
    for r in recs:
        assert {"world", "region", "lies_over", "object", "roof_gap", "season_pattern",
                "judged"} <= set(r)
        # 16 looks span no year: the own season is not tested
        assert r["season_pattern"] is None
        assert r["lies_over"] in roof_gaps.KINDS and r["region"].startswith("candidate-")
        assert (r["object"] is None) == (r["lies_over"] == "plain land")
    summary = roof_gaps.summarise(recs, 10.0)
    assert sum(s["regions"] for s in summary.values()) == len(recs)
    assert all(s["season_tested"] == 0 for s in summary.values())
    assert roof_gaps.markdown(summary, 10.0).startswith("| searched onset over |")
