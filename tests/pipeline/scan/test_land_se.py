"""The heat interval carries what land alone does to the site's statistic (placebo spread)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.energy_check import cross_reference
from models.energy_types import Interval
from pipeline.core.config import Config
from pipeline.scan.sites import land_se, null_test, site_heat
from pipeline.scan.verdicts import maybe_land
from pipeline.science.activity import ActivityFit
from pipeline.science.placebo import SiteNull
from pipeline.science.power import HeatEstimate, physics_calibration

CFG = Config()


def _fit(pattern: str, heat: float, se: float) -> ActivityFit:
    return ActivityFit(pattern, heat, se, 0.0, 0.0, None, None, 40, 1.0, 0.0, np.zeros(40))


def _null(spread_sigma: float, n: int = 200, seed: int = 0) -> SiteNull:
    ref = np.random.default_rng(seed).normal(0.0, spread_sigma, n)
    return SiteNull({s: 0.0 for s in ("always", "onset", "shutdown")},
                    {s: ref for s in ("always", "onset", "shutdown")}, 1.0, [(0, 0)] * n)


def test_land_spread_is_the_placebos_robust_sigma_of_the_pattern_statistic() -> None:
    null = _null(4e5)
    # a normal sample's MAD x 1.4826 estimates its sigma (200 draws: within ~10%)
    assert land_se(_fit("always", 1e6, 1e4), null) == pytest.approx(4e5, rel=0.12)
    assert land_se(_fit("onset", 1e6, 1e4), null) == pytest.approx(4e5, rel=0.12)
    # no heat, or no null: nothing to add
    assert land_se(_fit("never", 0.0, 1e4), null) == 0.0
    assert land_se(_fit("always", 1e6, 1e4), None) == 0.0
    few = SiteNull({"always": 0.0}, {"always": np.ones(5)}, 1.0, [(0, 0)] * 5)
    assert land_se(_fit("always", 1e6, 1e4), few) == 0.0


def test_heat_interval_combines_fit_and_land_in_quadrature() -> None:
    cal = physics_calibration(CFG.power)
    fit = _fit("always", 1.2e6, 3e4)
    narrow = site_heat(fit, "dry", cal, CFG)
    wide = site_heat(fit, "dry", cal, CFG, land_k_m2=4e4)
    assert wide.mw == pytest.approx(narrow.mw)
    k = cal.k_dry_k_m2_per_mw
    spread = math.exp(1.6449 * cal.sigma_log)
    # 3e4 and 4e4 in quadrature are 5e4 (a 3-4-5 triangle)
    assert wide.high == pytest.approx((1.2e6 + 1.6449 * 5e4) / k * spread)
    assert wide.low == pytest.approx((1.2e6 - 1.6449 * 5e4) / k / spread)


def test_an_offset_land_can_make_does_not_refute_an_honest_declaration() -> None:
    # a campus declared at 150 MW whose always-on excess reads ~3x that: on land whose placebos
    # move the same statistic by as much, the heat cannot refute the declaration
    cal = physics_calibration(CFG.power)
    k = cal.k_dry_k_m2_per_mw
    fit = _fit("always", 450 * k, 0.02 * 450 * k)

    def verdict(land: float) -> str:
        est = site_heat(fit, "dry", cal, CFG, land_k_m2=land)
        return cross_reference(Interval(est.mw, est.low, est.high), declared_power_mw=150,
                               cooling="dry").verdict

    assert verdict(0.0) == "refuted: under-reported"  # the fit alone is sure of its excess
    assert verdict(land_se(fit, _null(300 * k))) != "refuted: under-reported"


def test_heat_inside_its_land_null_may_be_all_land() -> None:
    # a catalogued campus whose always-on excess sits inside what land alone makes (placebos):
    # its heat interval reaches 0, so no "under-reported" verdict can rest on it
    cal = physics_calibration(CFG.power)
    k = cal.k_dry_k_m2_per_mw
    fit = _fit("always", 300 * k, 10 * k)
    est = site_heat(fit, "dry", cal, CFG)
    for site_stat, stands_out in ((1.0 * 300 * k, False), (20 * 300 * k, True)):
        null = _null(300 * k)
        null = SiteNull({**null.site, "always": site_stat}, null.placebos, 1.0, null.offsets)
        evidence = null_test(fit, null, CFG, searched=False)
        assert evidence is not None and evidence["null_passed"] is stands_out
        bounded = maybe_land(est, evidence)
        assert bounded.mw == est.mw and bounded.high == est.high
        assert (bounded.low == 0.0) is not stands_out
        verdict = cross_reference(Interval(bounded.mw, bounded.low, bounded.high),
                                  declared_power_mw=60, cooling="dry").verdict
        assert (verdict == "refuted: under-reported") is stands_out


def test_an_undetermined_site_s_heat_may_be_all_land() -> None:
    # the status says running cannot be told from a static offset: no lower bound on heat
    est = HeatEstimate(120.0, 60.0, 240.0)
    passed = {"null_passed": True, "null_n": 200}
    assert maybe_land(est, passed, undetermined=True) == HeatEstimate(120.0, 0.0, 240.0)
    assert maybe_land(est, passed) == est
