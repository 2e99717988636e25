"""Crop seasons out of the excess, with each scene's own temperature-NDVI slope."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from pipeline.science.footprint import SiteMasks
from pipeline.science.greenness import (
    MIN_SLOPE_PIXELS,
    cover_slope,
    fill_slopes,
    greenness_excess,
    seasonal_slope,
    thermal_footing,
)
from pipeline.science.placebo import measure_placebos


def test_slope_is_the_land_s_and_not_its_hot_sources():
    rng = np.random.default_rng(2)
    v = rng.uniform(0.0, 1.0, (120, 120))
    t = 295.0 - 9.0 * v + rng.normal(0, 0.6, v.shape)
    t[50:60, 50:60] += 25.0  # a furnace on bare ground
    t[:3] = np.nan  # a cloud
    assert cover_slope(t, v, np.ones(v.shape, bool)) == pytest.approx(-9.0, abs=0.3)


def test_no_slope_without_enough_land_or_without_both_ends_of_the_cover():
    rng = np.random.default_rng(3)
    v = rng.uniform(0.0, 1.0, (60, 60))
    t = 290.0 - 10.0 * v
    every = np.ones(v.shape, bool)
    few = np.zeros(v.shape, bool)
    few.flat[:MIN_SLOPE_PIXELS - 1] = True
    assert np.isnan(cover_slope(t, v, few))
    assert cover_slope(t, v, every) == pytest.approx(-10.0)
    # every crop green: covers 0.6-1.0 hold no bare end, and no slope is read from them
    green = 0.6 + 0.4 * v
    assert np.isnan(cover_slope(290.0 - 10.0 * green, green, every))


def test_a_scene_without_a_slope_takes_the_others_per_unit_of_sun():
    got = fill_slopes(np.array([-6.0, np.nan, -9.0, -12.0]), np.array([0.4, 0.8, 0.6, 0.8]))
    np.testing.assert_allclose(got, [-6.0, -12.0, -9.0, -12.0])  # -15 K per cover per sun
    assert np.isnan(fill_slopes(np.full(3, np.nan), np.ones(3))).all()


def test_only_departures_from_the_usual_contrast_are_taken_out():
    g = np.array([[-3e5, -3e5, -3e5, -4e5, np.nan],  # a footprint whose ring greens at look 3
                  [1e5, 1e5, 1e5, 1e5, 1e5]])  # one whose contrast never moves
    slope = np.array([-8.0, -9.0, -10.0, -10.0, -10.0])
    got = greenness_excess(g, slope)
    np.testing.assert_allclose(got, [[0, 0, 0, 1e6, 0], [0, 0, 0, 0, 0]])


def _site(n_looks: int, green_from: int, step_at: int | None, rng: np.random.Generator):
    """A footprint, its farmland ring and a stack of looks; crops green up from a look on."""
    h = w = 80
    reg = np.zeros((h, w), bool)
    reg[36:44, 36:44] = True
    ring = np.zeros((h, w), bool)
    ring[30:50, 30:50] = True
    ring &= ~reg
    crops = np.zeros((h, w), bool)
    crops[::2, :] = True  # half the land, the ring included, is crops
    crops &= ~reg
    sun = np.full(n_looks, 0.8)  # one sun: the footprint's usual contrast stays one value
    ndvi = np.where(crops, 0.2, 0.7)[None].repeat(n_looks, 0).astype(np.float32)
    ndvi[green_from:, crops] = 0.75  # the crops green up
    ndvi[:, reg] = 0.15  # paved
    slope = -12.0 * sun  # K per NDVI: the land's own, read by the scan from each scene
    anomalies = (slope[:, None, None] * (ndvi - 0.5) + rng.normal(0, 0.1, ndvi.shape))
    if step_at is not None:
        anomalies[step_at:, reg] += 2.0  # a power-on: 2 K over the footprint
    m = SiteMasks("x", reg, reg, ring)
    eligible = ~(ring | reg)
    return anomalies.astype(np.float32), ndvi, slope, m, eligible


def test_a_ring_greening_up_is_no_rise_once_its_greenness_is_taken_out():
    rng = np.random.default_rng(4)
    anomalies, ndvi, slope, m, eligible = _site(20, 12, None, rng)
    kw = dict(pixel_area=900.0, min_clear_fraction=0.8, n_placebos=30)
    plain = measure_placebos(anomalies, m, eligible, rng=np.random.default_rng(0), **kw)
    green = measure_placebos(anomalies, m, eligible, rng=np.random.default_rng(0),
                             greenness=(ndvi, slope), **kw)
    area = 64 * 900.0
    # the ring's crops cool it by 12 K x sun x (0.75 - 0.2) / 2: the plain excess rises
    rise = plain.excess[0, 12:].mean() - plain.excess[0, :12].mean()
    assert rise > 2.5 * area
    assert abs(green.excess[0, 12:].mean() - green.excess[0, :12].mean()) < 0.1 * area
    # the NDVI was integrated like the excess, and is kept beside it
    assert green.cover_excess is not None and green.cover_excess.shape == green.excess.shape
    np.testing.assert_allclose(green.cover_excess[0, 0], (0.15 - 0.45) * area, rtol=0.05)
    # placebos on the same land are corrected alike: their greening rises are gone too
    rises = green.excess[1:, 12:].mean(axis=1) - green.excess[1:, :12].mean(axis=1)
    assert np.nanmax(np.abs(rises)) < 0.3 * area


def test_a_power_on_step_stands_whatever_the_crops_do():
    rng = np.random.default_rng(5)
    anomalies, ndvi, slope, m, eligible = _site(20, 12, 8, rng)
    got = measure_placebos(anomalies, m, eligible, pixel_area=900.0, min_clear_fraction=0.8,
                           n_placebos=10, rng=np.random.default_rng(0),
                           greenness=(ndvi, slope))
    step = got.excess[0, 8:].mean() - got.excess[0, :8].mean()
    assert step == pytest.approx(2.0 * 64 * 900.0, rel=0.1)


def test_the_crops_own_slope_is_not_the_scene_s_across_its_covers():
    # crops that keep half their bare contrast at full cover next to a cool forest: across the
    # scene, cover explains 10 K per sun; over time a crop cools by only 4 K per sun
    rng = np.random.default_rng(6)
    n = 24
    sun = 0.6 + 0.3 * np.sin(np.linspace(0, np.pi, n))
    green = np.clip(np.sin(np.linspace(-0.5, np.pi + 0.5, n))[:, None]
                    + rng.normal(0, 0.05, (n, 400)), 0, 1)
    crops = sun[:, None] * (10.0 - 4.0 * green)
    forest = sun[:, None] * np.zeros((n, 300)) + rng.normal(0, 0.1, (n, 300))
    air = 285.0 + rng.normal(0, 4.0, (n, 1))
    t = air + np.hstack([crops, forest])
    cover = np.hstack([green, np.ones((n, 300))])
    assert seasonal_slope(t, cover, sun) == pytest.approx(-4.0, abs=0.2)
    # the first look, crops bare and forest full: the scene's slope across its covers is
    # 10 K per sun, and would take out two and a half times the crops' cooling
    across = np.polyfit(cover[0], t[0], 1)[0]
    assert across / sun[0] == pytest.approx(-10.0, abs=0.5)


def test_no_seasonal_slope_without_crops_or_without_static_land():
    sun = np.full(10, 0.8)
    still = np.full((10, 300), 0.5)
    t = 290.0 + np.random.default_rng(0).normal(0, 1, (10, 300))
    assert np.isnan(seasonal_slope(t, still, sun))  # nothing greens
    all_crops = np.linspace(0, 1, 10)[:, None].repeat(300, 1)
    assert np.isnan(seasonal_slope(t, all_crops, sun))  # no static land to hold the day's air


def test_cover_is_blurred_as_the_thermal_band_sees_it_and_clouds_stay_out():
    # a sharp edge between bare ground and full cover at 30 m: the thermal band's 100 m blur
    # (a Gaussian of that full width at half maximum) spreads it as the normal CDF
    c = np.zeros((40, 40), np.float32)
    c[:, 20:] = 1.0
    out = thermal_footing(c, 30.0)
    sigma_px = 100.0 / 2.355 / 30.0
    expect = norm.cdf((np.arange(40) - 19.5) / sigma_px)
    np.testing.assert_allclose(out[20, 10:30], expect[10:30], atol=0.01)
    # a cloud inside the cover gets no cover, and its edge does not pull the cover beside it
    # towards zero
    c[:, 30:33] = np.nan
    out = thermal_footing(c, 30.0)
    assert np.isnan(out[:, 30:33]).all()
    np.testing.assert_allclose(out[:, [29, 33]], expect[[29, 33]][None, :].repeat(40, 0),
                               atol=0.01)
    # at a coarser pixel the same blur is fewer pixels wide
    assert thermal_footing(np.where(np.isnan(c), 0.0, c), 90.0)[20, 20] > out[20, 20]
