"""Hotspots, persistence and the per-pixel solar-decoupled excess."""

from __future__ import annotations

import numpy as np
import pytest

from pipeline.core.config import DetectionConfig
from pipeline.core.grid import Grid
from pipeline.science.detect import (
    hotspot_mask,
    hotspot_table,
    nonsolar_excess,
    persistent_regions,
    significant_excess,
)

GRID = Grid.from_bounds(32615, (0.0, 0.0, 1800.0, 1800.0), 30.0)


def test_hotspot_area_filter() -> None:
    a = np.zeros(GRID.shape)
    a[10:16, 10:16] = 6.0  # 36 px = 32,400 m2: kept
    a[40:42, 40:42] = 6.0  # 4 px: dropped
    hot = hotspot_mask(a, a / 0.5, DetectionConfig(), GRID.pixel_area)
    assert hot[10:16, 10:16].all() and not hot[40:42, 40:42].any()
    table = hotspot_table(hot, a, GRID)
    assert len(table) == 1
    assert table.iloc[0]["area_m2"] == pytest.approx(36 * 900)
    assert table.iloc[0]["excess_k_m2"] == pytest.approx(6.0 * 36 * 900)


def test_persistent_regions_need_enough_looks() -> None:
    present = np.zeros(GRID.shape, dtype=int)
    present[5:15, 5:15] = 4
    present[30:40, 30:40] = 1  # a one-off
    regions = persistent_regions(present, min_looks=2, grid=GRID, min_area_m2=20000)
    assert len(regions) == 1


def test_nonsolar_excess_separates_roof_from_heat() -> None:
    rng = np.random.default_rng(0)
    s = rng.uniform(0.3, 0.9, 20)
    roof = np.zeros((4, 4))
    roof[:2] = 1.0
    heat = np.zeros((4, 4))
    heat[2:] = 3.0
    looks = [(12.0 * si * roof + heat + rng.normal(0, 0.05, (4, 4)), si) for si in s]
    beta, se, n = nonsolar_excess(looks, (4, 4))
    assert np.all(np.abs(beta[:2]) < 0.2)  # sunlit roof: no non-solar excess
    assert np.allclose(beta[2:], 3.0, atol=0.2)
    assert np.all(n == 20) and np.all(se < 0.2)


def test_nonsolar_excess_needs_four_looks() -> None:
    looks = [(np.ones((2, 2)), 0.5), (np.ones((2, 2)), 0.6)]
    beta, _, _ = nonsolar_excess(looks, (2, 2))
    assert np.isnan(beta).all()


def test_significant_excess_keeps_its_false_alarm_rate_on_a_short_series():
    # 7 clear looks of pure noise (sd proportional to the solar loading, as the 1/s^2 weights
    # assume): no pixel holds heat, so the share called significant is the false-alarm rate
    rng = np.random.default_rng(5)
    shape = (200, 200)
    s = rng.uniform(1.0, 7.0, 7)
    beta, se, n = nonsolar_excess(((rng.normal(0.0, 0.3 * si, shape), si) for si in s), shape)
    nominal = 0.02275  # one-sided tail of 2 normal sigmas
    rate = significant_excess(beta, se, n, min_k=0.0, min_z=2.0).mean()
    assert abs(rate - nominal) < 0.005
    # the plain 2-sigma cut on a t statistic with 5 degrees of freedom: about 0.051
    assert (beta / se >= 2.0).mean() > 2 * nominal
