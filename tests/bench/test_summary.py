"""The README's benchmark figures are the stored results' (bench/summary.py)."""

import json

import pytest

from bench import summary


def test_the_readme_shows_the_stored_results():
    # a re-run that moves a figure must be followed by `python bench/summary.py`
    text = summary.README.read_text()
    assert summary.replace_block(text, summary.render()) == text, (
        "README.md's benchmark figures differ from bench/results: run python bench/summary.py")


def _accuracy(found: int, n: int, false: int, area: float) -> dict:
    share = {"n": 4, "k": 1, "share": 0.25}
    return {
        "measured_at": "2026-12-05T06:00:00+00:00",
        "code": {"revision": "abcdef0123456789"},
        "command": "python bench/accuracy.py",
        "summary": {
            "n_worlds": 40,
            "detected_campuses": found, "eligible_campuses": n,
            "recall_by_catalog": {"catalogued": 0.75, "uncatalogued": 0.125},
            "false_candidates": {"count": false, "area_km2": area,
                                 "per_1000_km2": 1000 * false / area},
            "heat_ratio": {"all": {"within_1.4x": 0.5}},
            "interval_coverage": {"all found": {"n": found, "covered": found - 1}},
            "onset_error_acq": {"n": 10, "within_2": 0.9},
            "declared_power_verdicts": {"n": 12, "false_mismatch": 1,
                                        "caught_3x_over_claim": 0.25,
                                        "caught_3x_under_claim": 0.5},
            "criteria": {"new_onset_found": share, "new_onset_within_2": share,
                         "catalog_change_right_status": share,
                         "catalog_change_heat_within_1.4x": share,
                         "catalog_change_excess_within_1.4x": {"n": 4, "k": 3, "share": 0.75},
                         "running_all_series_inactive": 0,
                         "running_all_series_interval_holds": share},
            "monitor_replay": {"statuses": 100, "flags": 4, "flags_right": 3, "running": 50,
                               "running_flagged": 1, "stopped_recently": 5,
                               "stopped_recently_flagged": 2},
        },
    }


def test_the_tables_read_each_figure_from_its_run(tmp_path):
    (tmp_path / "accuracy.json").write_text(json.dumps(_accuracy(30, 40, 2, 800.0)))
    (tmp_path / "accuracy-wide-holdout.json").write_text(json.dumps(_accuracy(3, 4, 1, 500.0)))
    classic = summary.classic_table(tmp_path)
    # 30 of 40 found; 2 false in 800 km2 = 2.5 per 1,000 km2; commit and date of the run
    assert "| 75% (30/40) | 75% | 12% | 2.5 (2 in 800 km2) | 50% | 29/30 | 90% of 10 | 1/12 |" \
        in classic
    assert "| classic, 40 worlds (`python bench/accuracy.py`) | abcdef0, 2026-12-05 |" in classic
    assert "held out" not in classic  # no file, no row
    wide = summary.widened_table(tmp_path)
    # only the split that ran has a column, marked held out; 1 false in 500 km2 = 2.0
    assert wide.splitlines()[0].endswith("| held out * |")
    assert "| false candidates per 1,000 km2 | <= 0.5 | 2.0 (1 in 500 km2) |" in wide
    assert "| new campuses powering on, >= 100 MW visible: found | >= 90% | 1/4 |" in wide
    assert "the heat less the coefficient's error | (diagnostic) | 3/4 |" in wide
    # a run made before the diagnostic existed shows a dash, not an error
    old = _accuracy(3, 4, 1, 500.0)
    del old["summary"]["criteria"]["catalog_change_excess_within_1.4x"]
    (tmp_path / "accuracy-wide-holdout.json").write_text(json.dumps(old))
    assert "the heat less the coefficient's error | (diagnostic) | - |" in \
        summary.widened_table(tmp_path)
    line = summary.machine_lines(tmp_path)
    assert "2 of 5 statuses still `active`" in line and "1 of 50 statuses" in line


def test_a_readme_without_the_markers_says_how_to_fix_it():
    with pytest.raises(SystemExit, match="add the two markers"):
        summary.replace_block("# a README\n", "block")


def test_the_missed_new_campuses_are_tabled_by_why(tmp_path):
    with_why = _accuracy(3, 4, 0, 500.0)
    with_why["summary"]["criteria"]["new_onset_missed_because"] = {
        "no room for placebos": 2, "within its null": 1}
    (tmp_path / "accuracy-wide-onset.json").write_text(json.dumps(with_why))
    (tmp_path / "accuracy-wide.json").write_text(json.dumps(_accuracy(3, 4, 0, 500.0)))
    lines = summary.missed_table(tmp_path).splitlines()
    assert lines[0] == ("| missed new campus (>= 100 MW visible): the region over it | dev "
                        "| new-onset dev |")
    assert lines[2:] == ["| no room for placebos | - | 2 |", "| within its null | - | 1 |"]
    assert summary.missed_table(tmp_path / "none") == ""  # no run has it: no table


def test_the_second_draw_sits_beside_the_first_with_the_verdicts_that_moved(tmp_path):
    def run(found: int, false: int, statuses: list[str | None]) -> dict:
        doc = _accuracy(found, 40, false, 500.0)
        doc["worlds"] = [{"world": "w1", "false_candidates": [{}] * false,
                          "campuses": [{"detected": st is not None, "status": st}
                                       for st in statuses]}]
        return doc

    assert summary.draw_table(tmp_path) == ""  # no second draw stored: no table
    first = run(30, 0, ["active", "inactive", None])
    second = run(29, 1, ["active", None, None])
    (tmp_path / "accuracy-wide-onset.json").write_text(json.dumps(first))
    (tmp_path / "accuracy-wide-onset-placebo-seed1.json").write_text(json.dumps(second))
    (tmp_path / "accuracy-wide.json").write_text(json.dumps(first))  # one draw only: no column
    lines = summary.draw_table(tmp_path).splitlines()
    assert lines[0] == "| placebo seed 0 (seed 1) | new-onset dev |"
    # 0 and 1 false candidates in 500 km2: 0.0 and 2.0 per 1,000 km2
    assert "| false candidates per 1,000 km2 | 0.0 (2.0) |" in lines
    assert "| campuses found | 30/40 (29/40) |" in lines
    # one campus lost (inactive -> not found) and one false candidate more: 2, over 3 campuses
    assert any(line.endswith("| 2 of 3 |") for line in lines)


def test_false_candidates_pool_over_the_widened_splits_with_a_poisson_interval(tmp_path):
    stems = [stem for stem, _ in summary.WIDE]
    for i, stem in enumerate(stems[:-1]):
        (tmp_path / f"{stem}.json").write_text(json.dumps(_accuracy(3, 4, int(i == 0), 500.0)))
    assert summary.pooled_false_line(tmp_path) == ""  # a split missing: no pooled figure
    (tmp_path / f"{stems[-1]}.json").write_text(json.dumps(_accuracy(3, 4, 0, 500.0)))
    line = summary.pooled_false_line(tmp_path)
    # 1 false candidate in 7 x 500 km2: 0.29 per 1,000 km2; Garwood's 90% interval of a
    # count of 1 is 0.0513-4.744 (tables of the Poisson mean), over 3.5 (1,000 km2)
    assert len(stems) == 7
    assert "(3,500 km2; bar 0.5 per 1,000 km2): 1 at seed 0 (0.29 per 1,000 km2, " \
           "90% interval 0.01-1.36)." in line
    assert "seed 1" not in line  # no second draw stored


def test_the_catalogued_changes_are_tabled_by_visible_heat(tmp_path):
    # a shutdown called inactive (right), a power-on left undetermined (wrong), a campus
    # running all series (not a change), an uncatalogued one (not catalogued): by hand, 1/1 in
    # the 100+ band and 0/1 in 0-40; 40-100 holds none
    doc = _accuracy(3, 4, 0, 500.0)
    camp = [
        {"in_catalog": True, "shut_down": True, "onset_in_series": False, "visible_mw": 250.0,
         "status": "inactive"},
        {"in_catalog": True, "shut_down": False, "onset_in_series": True, "visible_mw": 12.0,
         "status": "undetermined"},
        {"in_catalog": True, "shut_down": False, "onset_in_series": False, "visible_mw": 60.0,
         "status": "active"},
        {"in_catalog": False, "shut_down": False, "onset_in_series": True, "visible_mw": 70.0,
         "status": "candidate"},
    ]
    doc["worlds"] = [{"world": "w1", "campuses": camp}]
    (tmp_path / "accuracy-wide-onset.json").write_text(json.dumps(doc))
    lines = summary.change_status_table(tmp_path).splitlines()
    assert lines[0].endswith("| new-onset dev |")
    assert lines[2:] == ["| 0-40 MW | 0/1 |", "| 40-100 MW | - |", "| 100+ MW | 1/1 |"]
    assert summary.change_status_table(tmp_path / "none") == ""


def test_the_wrong_final_statuses_are_tabled_by_what_the_scan_said(tmp_path):
    # by hand: two shutdowns called `active` with an always-on fit (one of 30 MW visible, one
    # of 250), a power-on left `undetermined` with no heat seen (12 MW), a shutdown called
    # `inactive` (right) and a campus running all series (no change): two rows, the `active`
    # one first (2 of them), 3 wrong of which 2 under 40 MW
    doc = _accuracy(3, 4, 0, 500.0)
    change = {"in_catalog": True, "onset_in_series": False, "shut_down": True}
    camp = [
        {**change, "visible_mw": 30.0, "status": "active", "pattern": "always"},
        {**change, "visible_mw": 250.0, "status": "active", "pattern": "always"},
        {**change, "shut_down": False, "onset_in_series": True, "visible_mw": 12.0,
         "status": "undetermined", "pattern": "never"},
        {**change, "visible_mw": 90.0, "status": "inactive", "pattern": "shutdown"},
        {**change, "shut_down": False, "visible_mw": 90.0, "status": "active",
         "pattern": "always"},
    ]
    doc["worlds"] = [{"world": "w1", "campuses": camp}]
    (tmp_path / "accuracy-wide.json").write_text(json.dumps(doc))
    lines = summary.wrong_status_table(tmp_path).splitlines()
    assert lines[0].endswith("(under 40 MW visible) | dev |")
    assert lines[2:] == ["| shut down: `active`, fitted as always on | 2 (1) |",
                         "| powered on: `undetermined`, no heat seen | 1 (1) |"]
    line = summary.wrong_status_line(tmp_path)
    assert "7 widened splits: 3; 2 `active`, 1 `undetermined`; 2 of them show under 40 MW" \
        in line
    assert summary.wrong_status_table(tmp_path / "none") == ""
    assert summary.wrong_status_line(tmp_path / "none") == ""
