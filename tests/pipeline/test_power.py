"""Excess-to-MW calibration with leave-one-out uncertainty."""

from __future__ import annotations

import math

import pytest

from pipeline.config import PowerConfig
from pipeline.power import CalibrationSite, calibrate, cooling_ratio, heat_mw

CFG = PowerConfig()


def test_exact_sites_recover_the_coefficient_with_the_floor_uncertainty() -> None:
    k = 4500.0
    sites = [CalibrationSite(f"s{i}", k * p, p, "dry") for i, p in enumerate([50, 120, 300])]
    cal = calibrate(sites, CFG)
    assert cal.method == "fitted"
    assert cal.k_dry_k_m2_per_mw == pytest.approx(k)
    assert cal.sigma_log == pytest.approx(0.05)  # floor when sites agree exactly
    assert all(r == pytest.approx(1.0) for r in cal.loo_ratios.values())


def test_cooling_ratio_is_applied_before_fitting() -> None:
    k = 4000.0
    evap = cooling_ratio("evaporative", CFG)
    sites = [CalibrationSite("d", k * 100, 100, "dry"),
             CalibrationSite("e", k * evap * 200, 200, "evaporative")]
    assert calibrate(sites, CFG).k_dry_k_m2_per_mw == pytest.approx(k)


def test_too_few_sites_falls_back_to_default() -> None:
    cal = calibrate([CalibrationSite("a", 4e5, 100, "dry")], CFG)
    assert cal.method == "default"
    assert cal.k_dry_k_m2_per_mw == CFG.default_k_m2_per_mw["dry"]
    assert cal.sigma_log == pytest.approx(math.log1p(CFG.default_relative_uncertainty))


def test_heat_interval_contains_central_and_scales() -> None:
    cal = calibrate([CalibrationSite("a", 4e5, 100, "dry"), CalibrationSite("b", 8e5, 200, "dry")],
                    CFG)
    est = heat_mw(6e5, 3e4, cooling="dry", calibration=cal, config=CFG)
    assert est.mw == pytest.approx(150.0)
    assert est.low < est.mw < est.high
    zero = heat_mw(0.0, 1e4, cooling="dry", calibration=cal, config=CFG)
    assert zero.mw == 0.0 and zero.low == 0.0 and zero.high > 0
