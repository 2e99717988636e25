"""Invariants checked with hypothesis: calibration, Planck, masks never un-mask, anomaly."""

from __future__ import annotations

import tempfile
import warnings
from pathlib import Path

import numpy as np
import xarray as xr
from affine import Affine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pipeline.core.config import ReaderConfig
from pipeline.core.errors import NoDataError, QAMissingWarning
from pipeline.core.grid import Grid
from pipeline.io.reader import discover_products, read_scene
from pipeline.science.anomaly import anomaly
from pipeline.science.calibrate import (
    ThermalCalibration,
    brightness_temperature_to_radiance,
    radiance_to_brightness_temperature,
    st_to_kelvin,
    to_kelvin,
)
from pipeline.science.masking import build_flags, usable
from tests.conftest import CRS_UTM18N, ProductFactory, c2write_qa

FAST = settings(max_examples=40, deadline=None,
                suppress_health_check=[HealthCheck.too_slow])

dn_arrays = hnp.arrays(np.uint16, st.integers(2, 200), elements=st.integers(1, 65535))


@FAST
@given(dn=dn_arrays, mult=st.floats(1e-4, 1e-2), add=st.floats(0.0, 200.0))
def test_level2_calibration_is_monotonic_in_dn(dn: np.ndarray, mult: float, add: float) -> None:
    dn = np.sort(dn)
    k = st_to_kelvin(dn, mult=mult, add=add)
    assert np.isfinite(k).all()
    assert (np.diff(k) >= 0).all()


@FAST
@given(dn=dn_arrays, mult=st.floats(1e-4, 1e-3), add=st.floats(0.0, 1.0),
       k1=st.floats(500.0, 1000.0), k2=st.floats(1000.0, 1500.0))
def test_level1_calibration_is_monotonic_in_dn(dn: np.ndarray, mult: float, add: float,
                                               k1: float, k2: float) -> None:
    dn = np.sort(dn)
    cal = ThermalCalibration(level="L1", radiance_mult=mult, radiance_add=add, k1=k1, k2=k2)
    t = to_kelvin(dn, cal)
    assert np.isfinite(t).all()
    assert (np.diff(t) >= 0).all()


@FAST
@given(kelvin=hnp.arrays(np.float64, st.integers(1, 50), elements=st.floats(150.0, 400.0)),
       k1=st.floats(500.0, 1000.0), k2=st.floats(1000.0, 1500.0))
def test_planck_round_trip(kelvin: np.ndarray, k1: float, k2: float) -> None:
    rad = brightness_temperature_to_radiance(kelvin, k1=k1, k2=k2)
    assert (rad > 0).all()
    back = radiance_to_brightness_temperature(rad, k1=k1, k2=k2)
    np.testing.assert_allclose(back, kelvin, rtol=0, atol=1e-3)


shapes = st.tuples(st.integers(1, 12), st.integers(1, 12))
temperatures = st.floats(100.0, 450.0) | st.just(float("nan"))


@st.composite
def scenes(draw):
    shape = draw(shapes)
    kelvin = draw(hnp.arrays(np.float64, shape, elements=temperatures))
    qa = draw(hnp.arrays(np.uint16, shape))
    extra = draw(hnp.arrays(np.uint16, shape))
    return kelvin, qa, extra


@FAST
@given(scene=scenes(), with_qa=st.booleans())
def test_adding_qa_bits_never_unmasks(scene, with_qa: bool) -> None:
    kelvin, qa, extra = scene
    before = usable(build_flags(kelvin, qa if with_qa else None))
    after = usable(build_flags(kelvin, qa | extra))
    assert not (after & ~before).any()


@FAST
@given(scene=scenes(), low=st.floats(150.0, 300.0), high=st.floats(300.0, 400.0),
       shrink_low=st.floats(0.0, 50.0), shrink_high=st.floats(0.0, 50.0))
def test_narrowing_the_plausible_range_never_unmasks(scene, low, high, shrink_low,
                                                     shrink_high) -> None:
    kelvin, qa, _ = scene
    wide = usable(build_flags(kelvin, qa, plausible=(low, high)))
    narrow = usable(build_flags(kelvin, qa, plausible=(low + shrink_low, high - shrink_high)))
    assert not (narrow & ~wide).any()


def _field(value: float, shape: tuple[int, int]) -> xr.DataArray:
    h, w = shape
    return xr.DataArray(np.full(shape, value), dims=("y", "x"),
                        coords={"y": 1e6 - (np.arange(h) + 0.5) * 30.0,
                                "x": 4e5 + (np.arange(w) + 0.5) * 30.0})


@FAST
@given(value=st.floats(150.0, 400.0), shape=st.tuples(st.integers(1, 80), st.integers(1, 80)))
def test_anomaly_of_a_constant_field_is_zero(value: float, shape: tuple[int, int]) -> None:
    out = anomaly(_field(value, shape))
    a = out["anomaly"].values
    assert a.shape == shape
    # Default blocks are 600 m = 20 px and the ring starts 2 blocks away (inner_blocks=1), so
    # a background exists only when the scene spans at least 3 blocks one way (> 40 px);
    # smaller scenes have none and their anomaly is NaN, never a made-up number.
    if max(shape) > 40:
        assert np.isfinite(a).all()
    else:
        assert np.isnan(a).all()
    finite = np.isfinite(a)
    assert np.abs(a[finite]).max(initial=0.0) < 1e-6
    assert np.abs(out["zscore"].values[finite]).max(initial=0.0) < 1e-4


# Resampling onto an aligned grid never makes a masked source pixel usable ---------------------

N = 24
ORIGIN = (400_020.0, 1_000_020.0)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cloud=hnp.arrays(np.bool_, (N, N)), nan=hnp.arrays(np.bool_, (N, N)),
       offset=st.tuples(st.integers(-6, 6), st.integers(-6, 6)),
       size=st.tuples(st.integers(4, 30), st.integers(4, 30)))
def test_aligned_resampling_never_unmasks(cloud, nan, offset, size) -> None:
    kelvin = np.where(nan, np.nan, 300.0 + np.arange(N * N).reshape(N, N) * 0.01)
    with tempfile.TemporaryDirectory() as tmp:
        made = ProductFactory(Path(tmp)).l2(kelvin=kelvin, origin=ORIGIN, crs=CRS_UTM18N,
                                            qa=c2write_qa((N, N), cloud=cloud))
        product = discover_products(made.folder)[0][0]
        col0, row0 = offset
        grid = Grid(CRS_UTM18N, Affine(30.0, 0, ORIGIN[0] + col0 * 30.0, 0, -30.0,
                                       ORIGIN[1] - row0 * 30.0), (size[1], size[0]))
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", QAMissingWarning)
            try:
                ds = read_scene(product, grid=grid, config=ReaderConfig())
            except NoDataError:
                assert col0 >= N or row0 >= N or col0 + size[0] <= 0 or row0 + size[1] <= 0
                return
    masked_src = cloud | nan
    out_usable = np.isfinite(ds["temperature"].values)
    assert (out_usable == usable(ds["flags"].values)).all()
    rows, cols = np.nonzero(out_usable)
    src_r, src_c = rows + row0, cols + col0
    assert ((src_r >= 0) & (src_r < N) & (src_c >= 0) & (src_c < N)).all()
    assert not masked_src[src_r, src_c].any()
    # aligned means copied: the usable values are the source values
    np.testing.assert_allclose(ds["temperature"].values[rows, cols], kelvin[src_r, src_c],
                               atol=0.002)
