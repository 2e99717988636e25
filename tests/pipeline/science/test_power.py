"""Excess-to-MW calibration with leave-one-out uncertainty."""

from __future__ import annotations

import math

import pytest

from pipeline.core.config import PowerConfig
from pipeline.science.power import (
    CalibrationSet,
    CalibrationSite,
    calibrate,
    cooling_ratio,
    heat_mw,
    physics_calibration,
)

CFG = PowerConfig()


def _conjugate(k_sites: float, n: int, prior_sites: float = 2.0) -> tuple[float, float]:
    """Normal model in log k, physics prior (k0, s0) worth ``prior_sites`` sites, n exact sites.

    Independent arithmetic: scatter s2 = nu0 s0^2 / (nu0 + n) (no error among the sites),
    posterior mean of log k weighted by 1/s0^2 and n/s2, predictive variance s2 + 1/precision.
    """
    phys = physics_calibration(CFG)
    k0, s0 = phys.k_dry_k_m2_per_mw, phys.sigma_log
    s2 = prior_sites * s0**2 / (prior_sites + n)
    precision = 1 / s0**2 + n / s2
    mean = (math.log(k0) / s0**2 + n * math.log(k_sites) / s2) / precision
    return math.exp(mean), math.sqrt(s2 + 1 / precision)


def test_exact_sites_are_combined_with_the_physics_prior() -> None:
    k = 4500.0
    sites = [CalibrationSite(f"s{i}", k * p, p, "dry") for i, p in enumerate([50, 120, 300])]
    cal = calibrate(sites, CFG)
    assert cal.method == "fitted"
    expected_k, expected_sigma = _conjugate(k, 3)
    assert cal.k_dry_k_m2_per_mw == pytest.approx(expected_k)
    assert cal.sigma_log == pytest.approx(expected_sigma)
    # between the physics value (3,055) and the sites', nearer the sites; three sites that
    # agree by chance keep an uncertainty of the order of physics' own (no narrow interval)
    assert physics_calibration(CFG).k_dry_k_m2_per_mw < cal.k_dry_k_m2_per_mw < k
    assert 0.2 < cal.sigma_log < physics_calibration(CFG).sigma_log
    assert all(r == pytest.approx(1.0) for r in cal.loo_ratios.values())


def test_a_fitted_coefficient_keeps_the_uncertainty_of_the_cooling_share() -> None:
    # a fit on dry sites says nothing about how much of a hybrid site's heat stays sensible:
    # its interval widens by the physics spread of that share
    sites = [CalibrationSite(f"s{i}", 4000.0 * p, p, "dry") for i, p in enumerate([50, 120, 300])]
    cal = calibrate(sites, CFG)
    phys = physics_calibration(CFG)
    assert cal.sigma_for("dry") == pytest.approx(cal.sigma_log)
    assert cal.sigma_for("hybrid") == pytest.approx(
        math.hypot(cal.sigma_log, phys.cooling_sigma["hybrid"]))
    assert cal.sigma_for("evaporative") > cal.sigma_for("hybrid") > cal.sigma_for("dry")


def test_many_agreeing_sites_outweigh_the_prior() -> None:
    k = 4500.0
    sites = [CalibrationSite(f"s{i}", k * (50 + i), 50 + i, "dry") for i in range(200)]
    cal = calibrate(sites, CFG)
    assert cal.k_dry_k_m2_per_mw == pytest.approx(k, rel=0.005)
    assert cal.sigma_log < 0.05


def test_scattered_sites_lean_on_physics_with_a_bounded_interval() -> None:
    # sites whose ratios scatter by 10x (heat mixed with static land offsets) must not give an
    # interval without bound (a 90% spread of thousands): the physics prior holds it
    sites = [CalibrationSite(f"s{i}", k * 100, 100, "dry")
             for i, k in enumerate([800.0, 30000.0, 4000.0])]
    cal = calibrate(sites, CFG)
    assert math.exp(1.6449 * cal.sigma_log) < 20
    lo, hi = physics_calibration(CFG).interval()
    assert lo < cal.k_dry_k_m2_per_mw < hi


def test_cooling_ratio_is_applied_before_fitting() -> None:
    k = 4000.0
    evap = cooling_ratio("evaporative", CFG)
    sites = [CalibrationSite("d", k * 100, 100, "dry"),
             CalibrationSite("e", k * evap * 200, 200, "evaporative")]
    dry_only = [CalibrationSite("d", k * 100, 100, "dry"),
                CalibrationSite("e", k * 200, 200, "dry")]
    assert calibrate(sites, CFG).k_dry_k_m2_per_mw == pytest.approx(
        calibrate(dry_only, CFG).k_dry_k_m2_per_mw)
    assert calibrate(sites, CFG).k_dry_k_m2_per_mw == pytest.approx(_conjugate(k, 2)[0])


def test_too_few_sites_fall_back_to_the_physics_coefficient() -> None:
    cal = calibrate([CalibrationSite("a", 4e5, 100, "dry")], CFG)
    assert cal.method == "physics" and cal.sites == []
    assert cal.k_dry_k_m2_per_mw == pytest.approx(physics_calibration(CFG).k_dry_k_m2_per_mw)


def test_physics_coefficient_is_exhaust_excess_over_yard_flux() -> None:
    # Independent arithmetic on the published facts: condenser exhaust 8-14 K above ambient,
    # cooling-yard heat flux 2-6x peak sunlight (ASU field study), peak sunlight 1000 W/m2.
    # k = excess / flux (K per W/m2 = K m2 per W), x 1e6 for MW; log-midpoints of the ranges.
    k = 1e6 * math.sqrt(8 * 14) / (math.sqrt(2 * 6) * 1000.0)
    sigma = math.hypot(math.log(14 / 8), math.log(6 / 2)) / (2 * 1.6449)
    cal = physics_calibration(CFG)
    assert cal.method == "physics" and cal.sites == []
    assert cal.k_dry_k_m2_per_mw == pytest.approx(k, rel=1e-4)
    assert cal.sigma_log == pytest.approx(sigma, rel=1e-4)
    lo, hi = cal.interval()
    assert lo == pytest.approx(k * math.exp(-1.6449 * sigma), rel=1e-4) and hi > 5000
    # evaporative towers: 5-23% of the heat stays sensible (latent fraction 0.77-0.95)
    assert cooling_ratio("evaporative", CFG, cal) == pytest.approx(1 - 0.86)
    assert cal.sigma_for("evaporative") > cal.sigma_for("dry") == pytest.approx(sigma)


def _sites(declared_a: float) -> list[CalibrationSite]:
    return [CalibrationSite("a", 4000.0 * 100, declared_a, "dry"),
            CalibrationSite("b", 4200.0 * 200, 200, "dry"),
            CalibrationSite("c", 3900.0 * 300, 300, "dry"),
            CalibrationSite("d", 4400.0 * 150, 150, "hybrid")]


@pytest.mark.parametrize("mode", ["fitted", "physics"])
def test_a_sites_own_declaration_never_changes_its_own_heat(mode: str) -> None:
    # leave-one-out: coefficient *and* its uncertainty come from the other sites only
    def heat_of_a(declared: float) -> tuple[float, float, float]:
        cal = CalibrationSet.build(_sites(declared), CFG, mode).for_site("a")  # type: ignore[arg-type]
        est = heat_mw(4e5, 2e4, cooling="dry", calibration=cal, config=CFG)
        return est.mw, est.low, est.high

    assert heat_of_a(300.0) == pytest.approx(heat_of_a(100.0))
    cs = CalibrationSet.build(_sites(300.0), CFG, mode)  # type: ignore[arg-type]
    assert "a" not in cs.for_site("a").sites
    assert cs.declarations_used == ([] if mode == "physics" else ["a", "b", "c", "d"])


def test_two_declaring_sites_each_get_the_physics_coefficient() -> None:
    # with one other site left, no fit (and no uncertainty) is possible without the site itself
    cs = CalibrationSet.build(_sites(100.0)[:2], CFG)
    assert cs.fitted.method == "fitted"
    assert cs.for_site("a").method == "physics" and cs.for_site("new").method == "fitted"


def test_heat_interval_contains_central_and_scales() -> None:
    cal = calibrate([CalibrationSite("a", 4e5, 100, "dry"), CalibrationSite("b", 8e5, 200, "dry")],
                    CFG)
    est = heat_mw(6e5, 3e4, cooling="dry", calibration=cal, config=CFG)
    assert est.mw == pytest.approx(6e5 / _conjugate(4000.0, 2)[0])
    assert est.low < est.mw < est.high
    zero = heat_mw(0.0, 1e4, cooling="dry", calibration=cal, config=CFG)
    assert zero.mw == 0.0 and zero.low == 0.0 and zero.high > 0


def test_a_lone_over_claim_does_not_move_the_honest_sites_coefficient() -> None:
    # five honest sites with the same ratio, one declaring 3x its power: every honest site's
    # leave-one-out fit is the honest ratio with the floor uncertainty, as without the liar
    honest = [CalibrationSite(f"h{i}", 4000.0 * p, p, "dry") for i, p in
              enumerate([80, 120, 200, 300, 150])]
    liar = CalibrationSite("liar", 4000.0 * 500, 3 * 500, "dry")
    cs = CalibrationSet.build([*honest, liar], CFG)
    without = CalibrationSet.build(honest, CFG)
    for s in honest:
        cal = cs.for_site(s.site_id)
        assert cal.k_dry_k_m2_per_mw == pytest.approx(without.for_site(s.site_id).k_dry_k_m2_per_mw)
        assert cal.k_dry_k_m2_per_mw == pytest.approx(_conjugate(4000.0, 4)[0])
        assert cal.sigma_log == pytest.approx(without.for_site(s.site_id).sigma_log)
    # the liar's own coefficient comes from the honest sites: its heat reads 500 MW, not 1,500
    est = heat_mw(4000.0 * 500, 0.0, cooling="dry", calibration=cs.for_site("liar"), config=CFG)
    assert est.mw == pytest.approx(4000.0 * 500 / _conjugate(4000.0, 5)[0])
    assert 480 < est.mw < 560
