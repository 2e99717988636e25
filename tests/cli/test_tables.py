"""The CLI's tables: whole at 80 columns (piped output), one line per row when wide."""

from __future__ import annotations

import io

import geopandas as gpd
from rich.console import Console
from shapely.geometry import Point

from pipeline.report.console import print_sites
from pipeline.report.tables import print_table

ROWS = [
    ["candidate-12", "candidate", "1234", "[112-13510]", "2024-06-12", "2024-12-29",
     "0.97", "33", "-", "inconclusive"],
    ["[b]DC-A[/b]", "active", "497", "[232-966]", "2024-01-04", "2024-12-29", "1.00", "34",
     "580", "refuted: over"],
]
COLUMNS = ["site", "status", "heat MW", "[90%]", "first seen", "last seen", "persist.", "clear",
           "declared MW", "verdict"]
STACK = {"[90%]", "last seen", "clear", "verdict"}


def _render(width: int) -> list[str]:
    out = Console(width=width, record=True, file=io.StringIO())
    print_table("t", COLUMNS, ROWS, right={"heat MW"}, stack=STACK, out=out)
    return out.export_text().splitlines()


def test_narrow_terminal_stacks_columns_and_cuts_nothing() -> None:
    lines = _render(80)
    text = "\n".join(lines)
    assert max(len(line) for line in lines) <= 80
    assert "…" not in text
    for row in ROWS:  # every value is there, whole, on some line
        for value in row:
            assert any(value in line for line in lines), value
    # two lines per row: the stacked value sits under its partner, same column
    first = next(i for i, line in enumerate(lines) if "candidate-12" in line)
    assert "2024-06-12" in lines[first] and "2024-12-29" in lines[first + 1]
    assert lines[first].index("2024-06-12") == lines[first + 1].index("2024-12-29")


def test_wide_terminal_keeps_one_line_per_row() -> None:
    lines = _render(200)
    row = next(line for line in lines if "candidate-12" in line)
    assert all(v in row for v in ROWS[0])
    assert sum("2024-12-29" in line for line in lines) == 2  # one per row, not stacked


def test_cells_are_literal_text_not_markup() -> None:
    assert any("[b]DC-A[/b]" in line for line in _render(200))


def test_scan_table_at_the_piped_width(monkeypatch, capsys) -> None:
    monkeypatch.setenv("COLUMNS", "80")
    sites = gpd.GeoDataFrame({
        "site_id": ["candidate-3"], "status": ["inactive"], "heat_mw": [163.0],
        "heat_mw_low": [105.0], "heat_mw_high": [250.0], "first_seen": ["2024-01-04"],
        "last_seen": ["2024-09-08"], "persistence": [1.0], "n_clear": [34],
        "reported_power_mw": [None], "verdict": ["inconclusive"]},
        geometry=[Point(0, 0)], crs=4326)
    print_sites(sites)
    out = capsys.readouterr().out
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80
    for value in ("candidate-3", "inactive", "163", "[105-250]", "2024-01-04", "2024-09-08",
                  "1.00", "34", "inconclusive"):
        assert value in out, value


def test_an_empty_table_is_one_line() -> None:
    out = Console(width=80, record=True, file=io.StringIO())
    print_table("Heatwatch scan", COLUMNS, [], stack=STACK, empty="no site", out=out)
    assert out.export_text().strip() == "Heatwatch scan: no site"


def test_excluded_status_carries_its_reason(monkeypatch, capsys) -> None:
    # issue 19, point 6: the reason is shown where the status is, not only in another table
    monkeypatch.setenv("COLUMNS", "200")
    sites = gpd.GeoDataFrame({
        "site_id": ["candidate-2"], "status": ["excluded"], "heat_mw": [620.0],
        "heat_mw_low": [400.0], "heat_mw_high": [900.0], "first_seen": ["2024-01-04"],
        "last_seen": ["2024-09-08"], "persistence": [1.0], "n_clear": [34],
        "reported_power_mw": [None], "verdict": ["inconclusive"],
        "exclusion": ["Plant Bowen (power plant)"]}, geometry=[Point(0, 0)], crs=4326)
    print_sites(sites)
    assert "excluded: near Plant Bowen (power plant)" in capsys.readouterr().out


def test_scan_table_says_what_a_verdict_tested(monkeypatch, capsys) -> None:
    # issue 19, point 2: "consistent" read as "verified"; the table says refuted or not
    monkeypatch.setenv("COLUMNS", "80")
    sites = gpd.GeoDataFrame({
        "site_id": ["DC-A", "DC-B"], "status": ["active", "active"], "heat_mw": [80.0, 300.0],
        "heat_mw_low": [60.0, 200.0], "heat_mw_high": [100.0, 400.0],
        "first_seen": ["2024-01-04"] * 2, "last_seen": ["2024-09-08"] * 2,
        "persistence": [1.0, 1.0], "n_clear": [34, 34], "reported_power_mw": [300.0, 350.0],
        "verdict": ["refuted: over-declared", "not refuted"]},
        geometry=[Point(0, 0), Point(1, 1)], crs=4326)
    print_sites(sites)
    out = capsys.readouterr().out
    assert "…" not in out and max(len(line) for line in out.splitlines()) <= 80
    assert "refuted: over" in out and "not refuted" in out and "consistent" not in out
    assert "not refuted is no verification" in " ".join(out.split())
