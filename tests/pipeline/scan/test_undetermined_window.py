"""An undetermined window's heat may be a bump of land: no lower bound, no refutation."""

from __future__ import annotations

from dataclasses import replace
from datetime import date

import numpy as np
import pytest

from pipeline.core.config import Config
from pipeline.scan.baseline import Baseline
from pipeline.scan.verdicts import recheck
from pipeline.science.activity import ActivityFit
from tests.support.catalogued_row import N
from tests.support.catalogued_row import catalogued_row as _row


def test_a_window_the_land_explains_as_well_bounds_no_heat_from_below():
    # 6e5 K m2 for four looks, then back to the level before: a campus running all series
    # with a green season on top makes the same window, and a fall a roof change explains as
    # well (BIC gap 3) is no seen stop: undetermined, and its heat may all be land
    window = ActivityFit("window", 6e5, 5e4, 1e5, 1e5, 10, 14, N, 0.9, 0.9, np.zeros(N),
                         nuisance_gap=3.0)
    row = _row(window)
    assert row["status"] == "undetermined" and row["heat_mw"] > 80.0
    assert row["heat_mw_low"] == 0.0 and row["heat_mw_high"] > row["heat_mw"]
    # the declared 80 MW is not refuted by a heat that may be land
    assert not str(row["verdict"]).startswith("refuted")
    # the same step kept as an onset (running at the end) keeps its lower bound
    onset = _row(replace(window, pattern="onset", stop=N, nuisance_gap=30.0))
    assert onset["status"] == "active" and onset["heat_mw_low"] > 80.0
    assert onset["verdict"] == "refuted: under-reported"


def test_the_row_says_by_how_much_the_fit_beats_a_roof():
    # the fit's BIC gap to the best change of solar response without heat, as fitted; none
    # fitted (an infinite gap) is null, not a number nobody can read
    window = ActivityFit("window", 6e5, 5e4, 1e5, 1e5, 10, 14, N, 0.9, 0.9, np.zeros(N),
                         nuisance_gap=3.04)
    assert _row(window)["roof_gap"] == 3.0
    assert _row(replace(window, nuisance_gap=float("inf")))["roof_gap"] is None
    assert _row(replace(window, pattern="onset", stop=N, nuisance_gap=-7.26))["roof_gap"] == -7.3


def test_a_listed_rise_land_makes_as_often_is_undetermined():
    # a listed campus's rise 1 sd above its 200 placebos' rises: land rises that much by
    # itself, so the listing alone would make it "active" (issue 18); its heat may be land
    onset = ActivityFit("onset", 6e5, 5e4, 1e5, 0.0, 10, None, N, 0.9, 0.9, np.zeros(N),
                        nuisance_gap=30.0)
    land = _row(onset, site_sd=1.0)
    assert land["status"] == "undetermined" and land["pattern"] == "onset"
    assert land["null_statistic"] == "onset" and not land["null_passed"]
    assert land["heat_mw_low"] == 0.0
    assert _row(onset)["status"] == "active"  # 12 sd: outside what land does
    # a declared baseline (known inactive before) is a before/after measurement of its own
    declared = _row(onset, site_sd=1.0, baseline=Baseline(date(2024, 3, 1)))
    assert declared["status"] == "active"


def test_a_null_just_short_of_enough_land_never_reads_as_enough():
    # 200 placebos over 9.96 footprints of distinct land: too few to judge a listed rise, and
    # the row must not say 10.0 (the report decides from the row what the status rests on)
    from pipeline.report.build import listing_sentence

    onset = ActivityFit("onset", 6e5, 5e4, 1e5, 0.0, 10, None, N, 0.9, 0.9, np.zeros(N),
                        nuisance_gap=30.0)
    row = _row(onset, site_sd=1.0, independent=9.96)
    assert row["status"] == "active" and row["null_n_independent"] == 9.9
    assert "only 9.9 footprints of distinct land" in listing_sentence(row)
    judged = _row(onset, site_sd=1.0, independent=10.0)
    assert judged["status"] == "undetermined" and judged["null_n_independent"] == 10.0


def test_an_undetermined_change_keeps_the_heat_a_static_offset_may_hide():
    # a listed campus running all series whose fit found a rise land makes as often (a winter
    # bump): the fit's static offset holds the campus's level, and an always-on term takes
    # 3e6 K m2 (982 MW at the physics coefficient, 3,055 K m2/MW). "Undetermined" says the
    # series cannot tell which reading is right, so the upper end holds that heat too
    bump = ActivityFit("onset", 6e5, 5e4, 1e5, 2.4e6, 10, None, N, 0.9, 0.9, np.zeros(N),
                       nuisance_gap=30.0, always_k_m2=3e6, always_se_k_m2=2e5)
    land = _row(bump, site_sd=1.0)
    assert land["status"] == "undetermined"
    assert land["heat_mw_high"] >= 3e6 / 3055.0
    assert land["heat_mw"] == pytest.approx(6e5 / 3055.0, rel=0.01)  # still the rise's
    # not refuted as over-declared by an upper end the evidence does not set
    assert not str(land["verdict"]).startswith("refuted: over")
    # the same rise outside its null is heat, but nothing says the level before it is land
    # (a campus powering on in phases): the upper end holds it as well, unless a declared
    # baseline measured that level as land
    active = _row(bump)
    assert active["status"] == "active" and active["heat_mw_high"] >= 3e6 / 3055.0
    assert active["heat_mw"] == land["heat_mw"]
    measured = _row(bump, baseline=Baseline(date(2024, 3, 1)))
    assert measured["status"] == "active" and measured["heat_mw_high"] < 3e6 / 3055.0


def test_a_listed_rise_over_running_heat_keeps_that_heat_within_reach():
    # a campus running all series (8e5 K m2, ~260 MW at the physics coefficient) with a bump
    # of land on top from look 20: the fit takes the bump (6e4 K m2, ~20 MW) for its onset and
    # the campus's level for the static offset. Nothing declared says that level is land, so
    # the upper end holds what an always-on term could hide, and the declared 250 MW is not
    # refuted as over-declared by the bump alone.
    bump = ActivityFit("onset", 6e4, 5e3, 0.0, 8e5, 20, None, N, 0.9, 0.9, np.zeros(N),
                       nuisance_gap=30.0, always_k_m2=8.3e5, always_se_k_m2=3e4)
    row = _row(bump, declared_mw=250.0)
    assert row["status"] == "active" and row["heat_mw"] < 40.0
    assert row["heat_mw_high"] > 250.0 and row["verdict"] != "refuted: over-declared"
    # with a declared baseline the level before the rise was measured as land: the rise is
    # the heat, and the declared 250 MW lies above its interval
    declared = _row(bump, baseline=Baseline(date(2024, 3, 1)), declared_mw=250.0)
    assert declared["status"] == "active" and declared["heat_mw_high"] < 250.0
    assert declared["verdict"] == "refuted: over-declared"


def test_the_what_ifs_read_the_heat_a_row_keeps_within_reach():
    # recheck (bench/misclaim.py's false declarations) redoes a verdict from the written row
    # alone. Given the row's own declaration and coefficient it must give the row's interval
    # and verdict: a what-if that dropped the always-on heat would refute this honest 250 MW
    # (the rise alone is under 40 MW) where the scan does not
    bump = ActivityFit("onset", 6e4, 5e3, 0.0, 8e5, 20, None, N, 0.9, 0.9, np.zeros(N),
                       nuisance_gap=30.0, always_k_m2=8.3e5, always_se_k_m2=3e4)
    for baseline in (None, Baseline(date(2024, 3, 1))):
        row = {**_row(bump, declared_mw=250.0, baseline=baseline), "site_id": "s"}
        again = recheck([row], {"s": 250.0}, Config(), calibration_sites=[])["s"]["physics"]
        assert again["heat_mw"] == pytest.approx(
            [row["heat_mw_low"], row["heat_mw"], row["heat_mw_high"]], rel=0.01)
        assert again["verdict"] == row["verdict"]
        # the row says which always-on term its upper end holds, and only where it holds one
        assert (row["hidden_k_m2"] == 8.3e5) is (baseline is None)
    assert again["verdict"] == "refuted: over-declared"  # the measured baseline's
