"""A new site's heat that came and went within less than a season is no candidate (issue 18).

A campus runs for months once powered on; a winter bump of land (snow, a flooded field, a
crop's short season) comes and goes within weeks. Each series is fitted as the scan fits a
searched region (:func:`pipeline.scan.sites.fit_site`) and judged as it judges a new site.
"""

import pandas as pd
import pytest

from pipeline.core.config import Config
from pipeline.core.site_row import REJECTION_KINDS
from pipeline.scan.sites import fit_site, new_site_rejection
from pipeline.science.power import HeatEstimate
from tests.support.searched_year import LOOK_DAYS, region_masks, year_of_looks

CFG = Config()
SEEDS = range(10)
#: Heat of the bump (K m2): ten times the looks' noise, well above min_active_k_m2.
BUMP = 2.5e5
HEAT = HeatEstimate(120.0, 80.0, 160.0)  # above min_candidate_mw, whatever the coefficient


def _series(seed: int, first_day: int, last_day: int) -> pd.DataFrame:
    """A year of 8-day looks from 2023-04-13 with heat from ``first_day`` to ``last_day``
    (days after the first look)."""
    return year_of_looks(seed, BUMP * ((LOOK_DAYS >= first_day) & (LOOK_DAYS <= last_day)))


def test_a_bump_of_five_weeks_is_no_new_site():
    # heat on the looks of days 240-272 (five looks): absent on days 232 and 280, so it can
    # have lasted at most 48 days
    for seed in SEEDS:
        fit = fit_site(_series(seed, 240, 272), region_masks(), 900.0, CFG, in_catalog=False)
        assert fit.pattern == "window" and fit.span_days == 48.0
        why = new_site_rejection(fit, HEAT, None, CFG)
        assert why is not None and why.kind == "brief_window"
        assert "within at most 48 days" in why.reason and "min_window_days (90)" in why.reason


def test_a_campus_that_ran_five_months_and_stopped_is_kept():
    # heat on days 120-272 (20 looks): at most 168 days, at least 152
    for seed in SEEDS:
        fit = fit_site(_series(seed, 120, 272), region_masks(), 900.0, CFG, in_catalog=False)
        assert fit.pattern == "window" and fit.span_days == 168.0
        assert new_site_rejection(fit, HEAT, None, CFG) is None


def test_the_shortest_window_is_a_setting():
    fit = fit_site(_series(0, 240, 272), region_masks(), 900.0, CFG, in_catalog=False)
    shorter = Config.model_validate({"detection": {"min_window_days": 40.0}})
    assert new_site_rejection(fit, HEAT, None, shorter) is None
    with pytest.raises(ValueError, match="min_window_days"):
        Config.model_validate({"detection": {"min_window_days": 0.0}})


def test_only_a_searched_window_is_put_to_its_length():
    # a catalogued campus is one hypothesis (it may run a short trial and stop): not tested
    listed = fit_site(_series(0, 240, 272), region_masks(), 900.0, CFG, in_catalog=True)
    assert listed.pattern == "window" and listed.span_days is None
    # a rise that runs to the end of the series may last beyond it
    onset = fit_site(_series(0, 240, 400), region_masks(), 900.0, CFG, in_catalog=False)
    assert onset.pattern == "onset" and onset.span_days is None


def test_brief_window_is_a_documented_rejection_code():
    from pathlib import Path

    from bench.accuracy import MISS_KINDS

    assert "brief_window" in REJECTION_KINDS and "brief_window" in MISS_KINDS
    doc = (Path(__file__).parents[3] / "docs" / "statuses.md").read_text()
    assert "| `brief_window` |" in doc
