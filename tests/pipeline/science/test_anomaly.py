"""Anomaly against the block-annulus background, on analytic fields."""

from __future__ import annotations

import numpy as np
import pytest
import xarray as xr
from rasterio.crs import CRS

from pipeline.core.config import AnomalyConfig
from pipeline.science.anomaly import MIN_SCALE_K, anomaly, background_array, robust_scale


def field(t: np.ndarray, res: float = 30.0) -> xr.DataArray:
    h, w = t.shape
    da = xr.DataArray(t, dims=("y", "x"), coords={"y": 4e6 - (np.arange(h) + 0.5) * res,
                                                  "x": 5e5 + (np.arange(w) + 0.5) * res})
    return da.rio.write_crs(32618)


def disc(n: int, centre: int, radius: float) -> np.ndarray:
    yy, xx = np.mgrid[0:n, 0:n]
    return (yy - centre) ** 2 + (xx - centre) ** 2 <= radius**2


@pytest.mark.parametrize("value", [250.0, 300.0, 330.5])
def test_constant_field_has_zero_anomaly(value: float) -> None:
    out = anomaly(field(np.full((64, 64), value)))
    assert np.abs(out["anomaly"].values).max() < 1e-9
    assert np.abs(out["zscore"].values).max() < 1e-6
    np.testing.assert_allclose(out["background"].values, value)
    assert out.attrs["robust_scale_k"] == MIN_SCALE_K


def test_disc_on_a_flat_field() -> None:
    hot = disc(64, 32, 4)
    t = np.full((64, 64), 300.0) + 5.0 * hot
    a = anomaly(field(t))["anomaly"].values
    np.testing.assert_allclose(a[hot], 5.0, atol=0.01)
    away = ~disc(64, 32, 6)
    assert np.abs(a[away]).max() < 0.05


def test_disc_on_a_linear_gradient() -> None:
    # 0.3 K/km east and 0.15 K/km north; 300 m blocks so the disc's block has a full ring.
    # The median of a linear field over a symmetric ring of blocks is the centre value and
    # bilinear interpolation reproduces a linear field, so the disc keeps its +5 K.
    n = 96
    yy, xx = np.mgrid[0:n, 0:n]
    hot = disc(n, 45, 3)
    t = 300.0 + 0.01 * xx + 0.005 * yy + 5.0 * hot
    a = anomaly(field(t), AnomalyConfig(block_m=300.0))["anomaly"].values
    np.testing.assert_allclose(a[hot], 5.0, atol=0.01)


def test_cloud_holes_create_no_anomaly() -> None:
    t = np.full((64, 64), 295.0)
    holes = np.zeros(t.shape, bool)
    holes[5:25, 5:25] = True
    holes[40:44, :] = True
    holes[50:, 50:] = True
    t[holes] = np.nan
    out = anomaly(field(t))
    a = out["anomaly"].values
    assert np.isnan(a[holes]).all()
    assert np.abs(a[~holes]).max() < 1e-9
    assert np.isfinite(out["background"].values).all()


def test_all_cloud_gives_nan_not_an_error() -> None:
    out = anomaly(field(np.full((32, 32), np.nan)))
    assert np.isnan(out["anomaly"].values).all()
    assert np.isnan(out.attrs["robust_scale_k"])


def test_exclude_keeps_a_large_hot_area_out_of_the_background() -> None:
    hot = np.zeros((64, 64), bool)
    hot[12:52, 12:52] = True
    t = np.full((64, 64), 300.0) + 5.0 * hot
    cfg = AnomalyConfig(block_m=300.0)
    biased = anomaly(field(t), cfg)["anomaly"].values
    assert biased[hot].mean() < 4.5  # the hot area leaks into its own background
    clean = anomaly(field(t), cfg, exclude=hot)
    np.testing.assert_allclose(clean["anomaly"].values[hot], 5.0, atol=0.01)
    assert np.abs(clean["anomaly"].values[~hot]).max() < 0.01
    np.testing.assert_allclose(clean["background"].values, 300.0, atol=0.01)


def test_robust_scale_of_gaussian_noise() -> None:
    rng = np.random.default_rng(42)
    noise = rng.normal(0.0, 0.5, (64, 64))
    assert robust_scale(noise) == pytest.approx(0.5, abs=0.03)
    noise[:6] = 40.0  # outliers barely move a MAD-based scale
    assert robust_scale(noise) == pytest.approx(0.5, abs=0.08)
    out = anomaly(field(300.0 + rng.normal(0.0, 0.5, (64, 64))))
    assert out.attrs["robust_scale_k"] == pytest.approx(0.5, abs=0.03)
    z = out["zscore"].values
    assert np.nanstd(z) == pytest.approx(1.0, abs=0.1)


def test_scale_floor_and_empty_input() -> None:
    assert robust_scale(np.zeros(10)) == MIN_SCALE_K
    assert np.isnan(robust_scale(np.array([np.nan, np.inf])))


def test_output_keeps_grid_crs_and_units() -> None:
    t = field(np.full((40, 50), 300.0))
    out = anomaly(t)
    assert out["anomaly"].dims == ("y", "x") and out["anomaly"].shape == (40, 50)
    assert out["anomaly"].attrs["units"] == "K"
    assert out.rio.crs == CRS.from_epsg(32618)
    np.testing.assert_array_equal(out["x"].values, t["x"].values)


def test_background_array_rejects_a_zero_block() -> None:
    with pytest.raises(ValueError, match="block_px"):
        background_array(np.zeros((4, 4)), block_px=0)
