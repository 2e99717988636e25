"""The evidence figure's null panel: a site's statistic drawn among its placebos'."""

from __future__ import annotations

from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest

from pipeline.report.evidence import site_figure
from pipeline.report.files import load_scan
from pipeline.report.null_panel import null_panel
from tests.support.report_world import CAMPUS, shared_scan


def _table(rng: np.random.Generator) -> pd.DataFrame:
    """A site rise of 5e5 K m2; 90 placebo rises of land, 10 larger ones a roof explains."""
    land = rng.normal(0.0, 1e5, 90)
    return pd.DataFrame({
        "footprint": ["site"] + ["placebo"] * 100,
        "onset_k_m2": np.concatenate([[5e5], land, np.full(10, 8e5)]),
        "onset_is_step": [None] + [True] * 90 + [False] * 10})


SITE = {"site_id": "candidate-1", "in_catalog": False, "pattern": "onset",
        "null_statistic": "onset", "null_p_value": 0.011, "null_z": 4.9,
        "null_n_independent": 31.4}


def _bars(ax: plt.Axes) -> list[int]:
    return [round(sum(p.get_height() for p in c)) for c in ax.containers]


def test_a_found_onset_s_roof_rises_are_drawn_apart_and_the_site_in_mw() -> None:
    fig, ax = plt.subplots()
    assert null_panel(ax, _table(np.random.default_rng(0)), SITE, 1 / 2000)
    assert _bars(ax) == [90, 10]  # counted land rises, then those a new roof explains
    site_lines = [ln for ln in ax.lines if ln.get_color() == "C3"]
    assert [ln.get_xdata()[0] for ln in site_lines] == [pytest.approx(250.0)]  # 5e5 / 2000
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert any("not counted (10)" in t for t in labels)
    assert any("rank p = 0.011" in t and "robust z = 4.9" in t for t in labels)
    assert "31.4 footprints of distinct land" in ax.get_title()
    assert ax.get_xlabel() == "largest rise (MW, central calibration)"
    plt.close(fig)


def test_a_listed_site_s_placebos_all_count_and_no_coefficient_keeps_k_m2() -> None:
    fig, ax = plt.subplots()
    assert null_panel(ax, _table(np.random.default_rng(0)), {**SITE, "in_catalog": True}, None)
    assert _bars(ax) == [100]
    assert ax.get_xlabel() == "largest rise (10³ K m²)"
    plt.close(fig)


def test_no_placebo_with_the_statistic_draws_nothing() -> None:
    fig, ax = plt.subplots()
    only_site = pd.DataFrame({"footprint": ["site"], "onset_k_m2": [5e5]})
    assert not null_panel(ax, only_site, SITE, 1 / 2000)
    assert not null_panel(ax, _table(np.random.default_rng(0)),
                          {**SITE, "null_statistic": None}, 1 / 2000)
    plt.close(fig)


def test_the_evidence_figure_shows_the_null_beside_map_and_series(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    out: Path = shared_scan(tmp_path_factory)
    scan = load_scan(out)
    site = next(s for s in scan.records if s["site_id"] == CAMPUS)
    anomaly = scan.raster(scan.rasters["anomaly_mean"])
    for null, want in ((None, 0), (_table(np.random.default_rng(0)), 1)):
        fig = site_figure({**site, **SITE}, scan.series[CAMPUS], anomaly, null=null)
        assert sum(a.get_xlabel().startswith("largest rise") for a in fig.axes) == want
        plt.close(fig)
