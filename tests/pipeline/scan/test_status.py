"""Site statuses say what the evidence supports (pipeline.scan.sites.site_status, null_test)."""

import numpy as np
import pytest

from pipeline.core.config import Config
from pipeline.core.site_row import STATUSES
from pipeline.scan.sites import null_test, site_status
from pipeline.science.activity import ActivityFit
from pipeline.science.placebo import SiteNull
from pipeline.science.power import HeatEstimate

CFG = Config()


def _fit(pattern: str) -> ActivityFit:
    return ActivityFit(pattern, 3e5 if pattern != "never" else 0.0, 5e4, 0.0, 0.0,
                       None if pattern == "never" else 0, None, 30, 0.9, 0.9, np.zeros(30))


def _null(site: float, statistic: str = "always", n: int = 100) -> SiteNull:
    ref = np.random.default_rng(0).normal(0.0, 1e5, n)
    return SiteNull(site={k: (site if k == statistic else 0.0) for k in
                          ("always", "onset", "shutdown")},
                    placebos={k: ref for k in ("always", "onset", "shutdown")},
                    footprint_km2=0.5, offsets=[(0, 0)] * n)


@pytest.mark.parametrize(("high", "declared", "expected"), [
    (20.0, 300.0, "inactive"),      # the upper limit rules out half the declared power
    (400.0, 300.0, "undetermined"),  # the series could hide the declared power
    (20.0, None, "inactive"),       # below half of min_candidate_mw (50 MW)
    (30.0, None, "undetermined"),
])
def test_no_heat_is_inactive_only_when_the_limit_rules_the_power_out(high, declared, expected):
    est = HeatEstimate(0.0, 0.0, high)
    assert site_status(_fit("never"), est, None, declared_mw=declared, config=CFG) == expected


def test_a_seen_stop_is_inactive_only_outside_the_null_of_falls():
    est = HeatEstimate(100.0, 50.0, 200.0)
    fit = _fit("shutdown")
    real = null_test(fit, _null(8e5, "shutdown"), CFG, "shutdown")
    noise = null_test(fit, _null(1e5, "shutdown"), CFG, "shutdown")
    assert real["null_passed"] and not noise["null_passed"]
    assert site_status(fit, est, None, declared_mw=None, config=CFG,
                       stop_test=real) == "inactive"
    assert site_status(fit, est, None, declared_mw=None, config=CFG,
                       stop_test=noise) == "undetermined"


def test_always_on_new_site_needs_to_stand_far_outside_its_null():
    est = HeatEstimate(100.0, 50.0, 200.0)
    fit = _fit("always")
    far = null_test(fit, _null(6e5), CFG)
    near = null_test(fit, _null(3e5), CFG)  # 3 sigma: rare for one site, common in a search
    assert far["null_passed"] and far["null_p_value"] == pytest.approx(1 / 101)
    assert not near["null_passed"]
    # a catalogued site is one hypothesis: 3.5 sigma passes its one-sided 0.1% level
    assert null_test(fit, _null(3.5e5), CFG, searched=False)["null_passed"]
    assert not null_test(fit, _null(2.5e5), CFG, searched=False)["null_passed"]
    assert site_status(fit, est, near, declared_mw=None, config=CFG) == "undetermined"
    assert site_status(fit, est, far, declared_mw=None, config=CFG) == "active"
    assert site_status(_fit("onset"), est, None, declared_mw=None, config=CFG) == "active"


def test_the_test_reports_its_false_alarm_rate():
    far = null_test(_fit("always"), _null(8e5), CFG)
    # 8 sigma against N(0, 1e5) placebos over 0.5 km2 footprints: far below 0.5 per 1,000 km2
    assert far["null_false_alarm_per_1000km2"] < CFG.detection.false_alarm_per_1000km2
    assert far["null_false_alarm_per_1000km2"] == pytest.approx(far["null_tail_p"] * 2000)


def test_too_few_placebos_never_pass():
    t = null_test(_fit("always"), _null(6e5, n=5), CFG)
    assert t["null_n"] == 5 and not t["null_passed"]


def test_status_vocabulary_is_documented_once():
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "statuses.md").read_text(encoding="utf-8")
    for status in STATUSES:
        assert f"`{status}`" in doc


def test_a_stop_a_roof_change_explains_as_well_is_undetermined():
    from dataclasses import replace
    est = HeatEstimate(100.0, 50.0, 200.0)
    real = null_test(_fit("shutdown"), _null(8e5, "shutdown"), CFG, "shutdown")
    seen = replace(_fit("shutdown"), nuisance_gap=25.0)
    unseen = replace(_fit("shutdown"), nuisance_gap=3.0)
    assert site_status(seen, est, None, declared_mw=None, config=CFG,
                       stop_test=real) == "inactive"
    assert site_status(unseen, est, None, declared_mw=None, config=CFG,
                       stop_test=real) == "undetermined"


def test_no_heat_where_no_placebo_fits_is_undetermined():
    est = HeatEstimate(0.0, 0.0, 20.0)  # the limit alone would rule out 300 MW
    none = null_test(_fit("never"), _null(0.0, "shutdown", n=3), CFG, "shutdown",
                     searched=False)
    assert none["null_n"] == 3
    assert site_status(_fit("never"), est, None, declared_mw=300.0, config=CFG,
                       stop_test=none) == "undetermined"
    some = null_test(_fit("never"), _null(0.0, "shutdown"), CFG, "shutdown", searched=False)
    assert site_status(_fit("never"), est, None, declared_mw=300.0, config=CFG,
                       stop_test=some) == "inactive"
