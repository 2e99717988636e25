"""``heatwatch scan`` through the real typer app: what it says about the area it searched."""

from __future__ import annotations

import json
import re

import yaml

from tests.conftest import RES, SIZE
from tests.test_robustness import good_scenes, one_line, scan, site_file

#: A 300 m square in the middle of the synthetic scenes (UTM 18N x 500 800-501 100,
#: y 3 998 900-3 999 200).
MIDDLE = [[-74.99111, 36.13480], [-74.98777, 36.13480], [-74.98777, 36.13750],
          [-74.99111, 36.13750], [-74.99111, 36.13480]]


def test_scan_says_when_new_sites_were_searched_in_part_of_the_imagery(make_product, tmp_path):
    good_scenes(make_product, 4)
    sites = site_file(tmp_path / "sites.geojson", MIDDLE)
    config = tmp_path / "narrow.yaml"
    config.write_text(yaml.safe_dump({"grid": {"margin_m": 300.0}}))
    imagery_km2 = (SIZE * RES / 1000) ** 2  # the synthetic scenes: 64 px of 30 m

    narrow = scan(make_product.root / "good", tmp_path / "narrow", "--sites", str(sites),
                  "--config", str(config))
    assert narrow.exit_code == 0, narrow.output
    grid = json.loads((tmp_path / "narrow" / "run.json").read_text())["grid"]
    assert abs(grid["imagery_km2"] - imagery_km2) < 1e-3  # km2 to 3 decimals
    assert 0 < grid["scanned_km2"] < 0.5 * imagery_km2
    text = one_line(narrow.output)
    assert "new sites were searched in" in text and "grid.margin_m = 300 m" in text
    assert "heatwatch discover" in text

    wide = scan(make_product.root / "good", tmp_path / "wide", "--sites", str(sites))
    assert wide.exit_code == 0, wide.output
    grid = json.loads((tmp_path / "wide" / "run.json").read_text())["grid"]
    assert abs(grid["scanned_km2"] - imagery_km2) < 1e-3  # 3 km margin: all of it
    assert "new sites were searched in" not in one_line(wide.output)


def test_scan_without_any_site_says_so_in_one_line(make_product, tmp_path):
    good_scenes(make_product, 4)
    result = scan(make_product.root / "good", tmp_path / "out")
    assert result.exit_code == 0, result.output
    assert "Heatwatch scan: no catalogued site and no new-site candidate" in one_line(result.output)
    assert "┃" not in result.output and "───" not in result.output  # no empty table drawn


def test_a_campus_that_stops_before_the_last_look_is_flagged_as_a_possible_shutdown(tmp_path):
    # the campus stops between the last two acquisitions: one clear look cannot make a
    # shutdown (that takes 3), so it is still "active", but the table, sites.geojson and the
    # report all say that its last look shows no heat
    from pipeline.core.sites import safe_name
    from tests.support.late_stop_world import SITE, write_late_stop_world

    last = write_late_stop_world(tmp_path / "world")
    result = scan(tmp_path / "world", tmp_path / "out", "--sites",
                  str(tmp_path / "world" / "sites.geojson"))
    assert result.exit_code == 0, result.output
    text = one_line(result.output)
    assert f"possible shutdown: {SITE}'s clear looks since {last}" in text
    assert "active, possible shutdown" in text  # the table's status cell
    props = json.loads((tmp_path / "out" / "sites.geojson").read_text())["features"][0][
        "properties"]
    assert props["status"] == "active" and props["possible_shutdown_since"] == last
    assert props["last_seen"] == last  # the look is still inside the fitted operating period
    report = tmp_path / "out" / "reports" / f"{safe_name(SITE)}.html"
    assert f"the clear looks since {last} show less than a third" in one_line(
        report.read_text(encoding="utf-8"))


def test_heat_below_the_candidate_threshold_is_counted_and_placed(tmp_path):
    # a 200 MW campus outside any catalog, scanned with min_candidate_mw above its heat: not a
    # candidate, but the run says so, with its heat and place, in the output and in run.json
    from tests.support.late_stop_world import write_late_stop_world

    write_late_stop_world(tmp_path / "world")
    config = tmp_path / "high.yaml"
    config.write_text(yaml.safe_dump({"power": {"min_candidate_mw": 5000.0}}))
    result = scan(tmp_path / "world", tmp_path / "out", "--config", str(config))
    assert result.exit_code == 0, result.output
    text = one_line(result.output)
    assert re.search(r"\d+ region\(s\) with heat below power.min_candidate_mw", text), text
    assert re.search(r"the largest: \d+ MW \[\d+-\d+\] at 3[78]\.\d{5} N, 9[89]\.\d{5} W "
                     r"\(candidate-\d+\)", text), text
    rejected = json.loads((tmp_path / "out" / "run.json").read_text())["rejected_candidates"]
    below = [r for r in rejected if r["rejected_kind"] == "below_min_mw"]
    assert all("below min_candidate_mw" in r["rejected_because"] for r in below)
    below.sort(key=lambda r: -r["heat_mw"])
    entry = below[0]  # the campus; any other is land whose heat interval reaches 0
    assert all(r["heat_mw_low"] == 0 and r["heat_mw"] < entry["heat_mw"] for r in below[1:])
    assert entry["heat_mw_low"] <= entry["heat_mw"] <= entry["heat_mw_high"]
    # the campus sits at the centre of the generated scene (38 N, 99 W)
    assert abs(entry["lat"] - 38.0) < 0.01 and abs(entry["lon"] + 99.0) < 0.01


def test_baseline_end_is_every_site_s_declared_baseline(make_product, tmp_path):
    # 4 looks, the first two before the baseline end; the outputs say which period served
    good_scenes(make_product, 4)
    sites = site_file(tmp_path / "sites.geojson", MIDDLE)
    folder = make_product.root / "good"
    dates = sorted({p.name[17:25] for p in folder.rglob("*_MTL.*")})  # acquisition dates
    end = f"{dates[1][:4]}-{dates[1][4:6]}-{dates[1][6:]}"
    result = scan(folder, tmp_path / "out", "--sites", str(sites), "--baseline-end", end)
    assert result.exit_code == 0, result.output
    site = json.loads((tmp_path / "out" / "sites.geojson").read_text())["features"][0]
    props = site["properties"]
    assert props["baseline"] == "declared (persistence.baseline_end)"
    assert props["baseline_end"] == end
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["config"]["persistence"]["baseline_end"] == end
    assert run["baselines"][props["site_id"]]["baseline_end"] == end
    bad = scan(folder, tmp_path / "bad", "--sites", str(sites), "--baseline-end", "yesterday")
    assert bad.exit_code != 0 and "baseline_end" in one_line(bad.output)


def test_calibration_option_chooses_the_coefficient_of_the_verdicts(make_product, tmp_path):
    # issue 19, point 2: --calibration fitted|physics, above the environment and the file
    good_scenes(make_product, 4)
    sites = site_file(tmp_path / "sites.geojson", MIDDLE)
    imagery = make_product.root / "good"
    env = {"HEATWATCH__POWER__CALIBRATION": "fitted"}
    run = scan(imagery, tmp_path / "p", "--sites", str(sites), "--calibration", "physics",
               env=env)
    assert run.exit_code == 0, run.output
    doc = json.loads((tmp_path / "p" / "run.json").read_text())
    assert doc["calibration"]["mode"] == "physics" and doc["calibration"]["declarations_used"] == []
    assert doc["config"]["power"]["calibration"] == "physics"
    site = json.loads((tmp_path / "p" / "sites.geojson").read_text())["features"][0]["properties"]
    assert site["verdict_calibration"] == "physics (no declaration used)"
    assert "declarations used for the calibration: none" in one_line(run.output)

    by_env = scan(imagery, tmp_path / "e", "--sites", str(sites),
                  env={"HEATWATCH__POWER__CALIBRATION": "physics"})
    assert by_env.exit_code == 0, by_env.output
    assert json.loads((tmp_path / "e" / "run.json").read_text())["calibration"]["mode"] == \
        "physics"
    bad = scan(imagery, tmp_path / "b", "--calibration", "declared")
    assert bad.exit_code == 2 and "declared" in one_line(bad.output)
