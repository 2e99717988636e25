"""Console tables of the monitor: the evidence behind each stored verdict is shown."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.report.console import print_discover, print_history, print_statuses


def _status(margin: float | None, physics: str | None) -> dict[str, object]:
    return {"site_id": "s", "as_of_date": "2024-06-29", "status": "active", "heat_mw": 653.0,
            "heat_mw_low": 349.0, "heat_mw_high": 1255.0, "first_seen": "2024-04-10",
            "last_seen": "2024-06-29", "verdict": "refuted: under-reported",
            "verdict_margin": margin, "verdict_physics": physics}


def test_history_shows_margin_and_physics_verdict(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    old = {**_status(None, None), "as_of_date": "2024-05-28"}  # stored before the columns
    frame = pd.DataFrame([{**s, "date": s["as_of_date"], "clear": 1, "excess_k_m2": 3.9e6,
                           "active": 1, "status_heat_mw": s["heat_mw"]}
                          for s in (old, _status(5.823, "refuted: over-declared"))])
    print_history("s", frame)
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.strip().startswith("2024-")]
    assert rows[0][-4:] == ["refuted:", "under", "-", "-"]
    assert rows[1][-5:] == ["refuted:", "under", "5.82", "refuted:", "over"]


def test_monitor_statuses_show_margin_and_physics_verdict(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    print_statuses([_status(1.25, "not refuted")])
    row = next(line for line in capsys.readouterr().out.splitlines() if "2024-06-29" in line)
    assert row.split()[-5:] == ["refuted:", "under", "1.25", "not", "refuted"]


def test_discover_names_the_hottest_region_its_tiles_rejected(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], tmp_path) -> None:
    import geopandas as gpd

    from pipeline.discover.run import DiscoverResult

    monkeypatch.setenv("COLUMNS", "400")
    rejected = [{"site_id": "candidate-2", "tile_id": "z14-r0-c1", "heat_mw": 312.4,
                 "lat": 36.1, "lon": -93.2, "rejected_because": "too little land"},
                {"site_id": "candidate-5", "tile_id": "z14-r1-c0", "heat_mw": None,
                 "lat": 36.0, "lon": -93.0, "rejected_because": "too few clear looks"}]
    empty = gpd.GeoDataFrame({"rank": [], "site_id": [], "tile_id": []}, geometry=[])
    print_discover(DiscoverResult(empty, [], [], {"rejected_candidates": rejected}), tmp_path)
    text = " ".join(capsys.readouterr().err.split())
    assert ("2 region(s) the tiles' searches rejected, each with its reason and place in "
            "discover.json; the hottest: 312 MW at 36.1, -93.2 (tile z14-r0-c1): too little "
            "land") in text
    # a region without heat (None) is listed too, and a discovery without any says nothing
    print_discover(DiscoverResult(empty, [], [], {"rejected_candidates": rejected[1:]}),
                   tmp_path)
    only = " ".join(capsys.readouterr().err.split())
    assert "1 region(s) the tiles' searches rejected" in only
    assert "the hottest: - MW at 36.0, -93.0" in only  # unknown heat, not 0 MW
    print_discover(DiscoverResult(empty, [], [], {}), tmp_path)
    assert "rejected" not in capsys.readouterr().err


def test_a_scan_names_its_rejected_regions_by_reason(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    # a region turned down for its heat and one turned down with 640 MW (always on) are not
    # the same news: the second is not "below power.min_candidate_mw"
    from pipeline.report.console import print_below_threshold

    monkeypatch.setenv("COLUMNS", "400")
    small = {"site_id": "candidate-3", "heat_mw": 13.1, "heat_mw_low": 0.0, "heat_mw_high": 40.0,
             "lat": 38.5, "lon": -97.2, "rejected_because": "heat 13 MW below min_candidate_mw",
             "rejected_kind": "below_min_mw"}
    always = {"site_id": "candidate-1", "heat_mw": 640.0, "heat_mw_low": 0.0,
              "heat_mw_high": 1200.0, "lat": -3.25, "lon": 36.5,
              "rejected_because": "always on through the series, no onset",
              "rejected_kind": "always_on"}
    sunlit = {"site_id": "candidate-4", "heat_mw": 0.0, "heat_mw_low": 0.0,
              "heat_mw_high": 5.0, "lat": 38.4, "lon": -97.1,
              "rejected_because": "excess follows the sun", "rejected_kind": "follows_sun"}
    print_below_threshold([small, always, sunlit])
    text = " ".join(capsys.readouterr().err.split())
    assert ("1 region(s) with heat below power.min_candidate_mw, not reported as candidates; "
            "the largest: 13 MW [0-40] at 38.50000 N, 97.20000 W (candidate-3)") in text
    assert ("1 region(s) with heat of at least power.min_candidate_mw rejected; the largest: "
            "640 MW [0-1200] at 3.25000 S, 36.50000 E (candidate-1): always on through the "
            "series, no onset") in text
    print_below_threshold([sunlit])
    assert capsys.readouterr().err == ""
