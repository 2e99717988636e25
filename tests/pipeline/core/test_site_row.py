"""The site row has one owner (pipeline.core.site_row): the files hold exactly its keys, and
mypy rejects a misspelt key wherever a row is annotated with it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from pipeline.core.site_row import (
    BASELINE_COLUMNS,
    ENERGY_COLUMNS,
    INTEGER_PROPERTIES,
    NULL_COLUMNS,
    SITE_PROPERTIES,
    STATUS_KEYS,
    SiteRow,
    StatusRow,
)
from tests.support.report_world import shared_scan

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_scan(tmp_path_factory)


def test_a_real_scan_writes_exactly_the_site_row_keys(out: Path) -> None:
    features = json.loads((out / "sites.geojson").read_text(encoding="utf-8"))["features"]
    assert len(features) == 2
    for f in features:
        assert set(f["properties"]) == set(SITE_PROPERTIES), f["properties"]["site_id"]
    # counts are written as whole numbers (a pandas column of counts with a None is float)
    counts = {k: [f["properties"][k] for f in features] for k in INTEGER_PROPERTIES}
    assert set(counts) == {"null_n", "baseline_looks", "n_clear", "n_looks", "n_night_looks",
                           "shared_change_regions", "searched_regions",
                           "busiest_other_look_regions"}
    for key, values in counts.items():
        assert all(v is None or type(v) is int for v in values), (key, values)
    assert any(v is not None for v in counts["null_n"])
    # 75 properties plus the feature's geometry: counted by hand from the row the scan writes
    assert len(SITE_PROPERTIES) == 79 and set(SiteRow.__annotations__) == {*SITE_PROPERTIES,
                                                                           "geometry"}


def test_docs_outputs_lists_every_column_as_generated() -> None:
    import re
    import sys

    sys.path.insert(0, str(ROOT / "tools"))
    try:
        from site_row_doc import DOC, render
    finally:
        sys.path.remove(str(ROOT / "tools"))
    text = DOC.read_text(encoding="utf-8")
    assert text == render(), "docs/outputs.md is stale: run python tools/site_row_doc.py"
    assert sorted(re.findall(r"^\| `(\w+)` \|", text, re.M)) == sorted(SITE_PROPERTIES)


def test_every_column_group_is_part_of_the_row() -> None:
    from pipeline.scan.sites import NO_COMPUTE, _null_columns

    for group in (BASELINE_COLUMNS, ENERGY_COLUMNS, NULL_COLUMNS):
        assert set(group) <= set(SITE_PROPERTIES)
    # the rows of a place without compute or without a null test carry the same keys
    assert set(NO_COMPUTE) == set(ENERGY_COLUMNS)
    assert _null_columns(None) == dict.fromkeys(NULL_COLUMNS)
    test = {"null_statistic": "onset", "null_z": 3.14159, "null_tail_p": 1.234e-5,
            "null_p_value": 0.012345, "null_n": 40, "null_n_independent": 7.3,
            "null_false_alarm_per_1000km2": np.inf, "null_resolved_per_1000km2": 421.05263,
            "null_region_z": float("nan"), "null_fall_shape_z": 5.4321, "null_passed": True}
    assert list(_null_columns(test)) == list(NULL_COLUMNS)
    assert _null_columns(test) == {"null_statistic": "onset", "null_z": 3.14,
                                   "null_p_value": 0.0123, "null_tail_p": 1.23e-5, "null_n": 40,
                                   "null_n_independent": 7.3,
                                   "null_false_alarm_per_1000km2": None,
                                   "null_resolved_per_1000km2": 421.0, "null_region_z": None,
                                   "null_fall_shape_z": 5.43, "null_passed": True}


def test_the_status_rows_the_monitor_stores_are_a_cut_of_the_site_row() -> None:
    from pipeline.monitor.store import COLUMNS

    assert set(STATUS_KEYS) - {"status_note"} <= set(SITE_PROPERTIES)
    assert COLUMNS["site_status"] == ("site_id", "as_of_date", "run_id", *STATUS_KEYS)
    for key in STATUS_KEYS:  # the same key has the same type in both rows
        if key in SiteRow.__annotations__:
            assert StatusRow.__annotations__[key] == SiteRow.__annotations__[key], key


def test_discover_csv_columns_are_site_row_keys_or_its_own() -> None:
    from pipeline.discover.run import CSV_COLUMNS

    own = {"rank", "tile_id", "lon", "lat", "tile_site_id"}
    assert set(CSV_COLUMNS) - own <= set(SITE_PROPERTIES)


SNIPPET = '''
from typing import Final

from pipeline.core.site_row import NullColumns, SiteRow, StatusRow

KEYS: Final = ("status", "heat_mw_loww")


def high(row: SiteRow) -> object:
    return row.get("heat_mw_hihg")  # E (.get: checked by tools/mypy_typeddict_get.py)


def verdict(row: StatusRow) -> object:
    return row["verdcit"]  # E


def numbers(row: SiteRow) -> object:
    return {k: row.get(k) for k in KEYS}  # E (a key of a Final tuple)


def nothing() -> NullColumns:
    return {"null_statistc": None, "null_z": None,  # E
            "null_p_value": None, "null_tail_p": None,
            "null_n": None, "null_n_independent": None,
            "null_false_alarm_per_1000km2": None, "null_resolved_per_1000km2": None,
            "null_region_z": None, "null_fall_shape_z": None, "null_passed": None}


def fine(row: SiteRow, status: StatusRow) -> object:
    return row.get("heat_mw_high"), status["verdict"], [row.get(k) for k in KEYS[:1]]
'''
TYPOS = ("heat_mw_hihg", "verdcit", "heat_mw_loww", "null_statistc")


@pytest.mark.slow
def test_mypy_rejects_a_misspelt_key(tmp_path: Path) -> None:
    api = pytest.importorskip("mypy.api")
    probe = tmp_path / "probe.py"
    probe.write_text(SNIPPET, encoding="utf-8")
    stdout, _, code = api.run([str(probe), "--config-file", str(ROOT / "pyproject.toml"),
                               "--cache-dir", str(tmp_path / "cache")])
    errors = [line for line in stdout.splitlines() if ": error:" in line]
    assert code == 1, stdout
    for typo in TYPOS:
        assert any(f'"{typo}"' in e for e in errors), stdout
    # errors stand only on the lines marked E (the correct keys in fine() raise none)
    marked = {n for n, line in enumerate(SNIPPET.splitlines(), 1) if "# E" in line}
    assert {int(e.split(":")[1]) for e in errors} == marked, stdout
