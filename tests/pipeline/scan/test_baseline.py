"""Declared baseline periods: the fetch.json contract and its precedence."""

from __future__ import annotations

import json
from datetime import date

import pytest

from pipeline.core.errors import ConfigError
from pipeline.scan.baseline import Baseline, read_fetch_baselines, site_baselines


def _fetch(folder, baseline):
    (folder / "fetch.json").write_text(json.dumps({"source": "stac", "baseline": baseline}))


def test_fetch_record_baselines_per_site(tmp_path):
    _fetch(tmp_path, {"DC-A": {"start": "2019-01-01", "end": "2019-12-31"},
                      "DC-B": {"start": None, "end": "2020-06-30"}})
    got = read_fetch_baselines(tmp_path)
    assert got["DC-A"] == Baseline(end=date(2019, 12, 31), start=date(2019, 1, 1))
    assert got["DC-B"].start is None and got["DC-B"].end == date(2020, 6, 30)
    # sites without an entry have none; a catalog site list selects
    assert site_baselines(["DC-A", "DC-C"], tmp_path, None) == {"DC-A": got["DC-A"]}


def test_no_fetch_record_or_no_baseline_key_changes_nothing(tmp_path):
    assert read_fetch_baselines(tmp_path) == {}
    (tmp_path / "fetch.json").write_text(json.dumps({"source": "stac"}))
    assert read_fetch_baselines(tmp_path) == {}


def test_baseline_end_option_wins_over_the_fetch_record(tmp_path):
    _fetch(tmp_path, {"DC-A": {"start": "2019-01-01", "end": "2019-12-31"}})
    got = site_baselines(["DC-A", "DC-B"], tmp_path, date(2021, 3, 1))
    assert {k: (v.end, v.source) for k, v in got.items()} == {
        "DC-A": (date(2021, 3, 1), "persistence.baseline_end"),
        "DC-B": (date(2021, 3, 1), "persistence.baseline_end")}


@pytest.mark.parametrize("entry, match", [
    ({"DC-A": {"start": "2020-01-01", "end": "2019-01-01"}}, "after end"),
    ({"DC-A": {"start": "2020-01-01", "end": "soon"}}, "not a date"),
    ({"DC-A": "2020-01-01"}, "must be"),
    (["DC-A"], "must map"),
])
def test_malformed_baselines_say_how_to_fix(tmp_path, entry, match):
    _fetch(tmp_path, entry)
    with pytest.raises(ConfigError, match=match):
        read_fetch_baselines(tmp_path)


def test_baseline_counts_the_leading_looks_up_to_its_end():
    b = Baseline(end=date(2024, 1, 12))
    assert b.looks(["2024-01-04", "2024-01-12", "2024-01-20", "2024-01-28"]) == 2
    assert b.looks(["2024-02-01"]) == 0
