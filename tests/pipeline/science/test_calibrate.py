"""Band 10 calibration against published constants and hand-computed values."""

from __future__ import annotations

import numpy as np
import pytest
import rasterio

from pipeline.core.errors import MetadataError
from pipeline.io.mtl import read_mtl
from pipeline.science.calibrate import (
    SR_ADD,
    SR_MULT,
    ThermalCalibration,
    brightness_temperature_to_radiance,
    counts_to_radiance,
    ndvi_from_sr,
    radiance_to_brightness_temperature,
    st_to_kelvin,
    to_kelvin,
)
from tests.conftest import L8_B10, L9_B10, LAHAINA, shared_sample

#: USGS Collection 2 Level-2 ST_B10 scale and offset (LSDS-1619).
ST = {"mult": 0.00341802, "add": 149.0}
L9 = ThermalCalibration(level="L1", **L9_B10)
L8 = ThermalCalibration(level="L1", **L8_B10)


def test_level2_known_digital_numbers() -> None:
    k = st_to_kelvin(np.array([293, 44483, 65535, 1, 0], dtype=np.uint16), **ST)
    assert k.dtype == np.float32
    # 293 * 0.00341802 + 149 = 150.0015; 44483 -> 301.0438; 65535 -> 372.9999 (MTL maximum)
    assert k[0] == pytest.approx(150.0, abs=0.01)
    assert k[1] == pytest.approx(301.0438, abs=1e-3)
    assert k[2] == pytest.approx(372.999941, abs=1e-3)
    assert k[3] == pytest.approx(149.003418, abs=1e-4)
    assert np.isnan(k[4])


def test_level2_through_the_calibration_object() -> None:
    cal = ThermalCalibration(level="L2", st_mult=ST["mult"], st_add=ST["add"])
    k = to_kelvin(np.array([[0, 293]], dtype=np.uint16), cal)
    assert np.isnan(k[0, 0])
    assert k[0, 1] == pytest.approx(150.0, abs=0.01)


def test_level1_hand_computed_value_landsat9() -> None:
    # L = 27000 * 3.8e-4 + 0.1 = 10.36 W/(m2 sr um); T = 1329.2405 / ln(799.0284 / 10.36 + 1)
    rad = counts_to_radiance(np.array([27000, 0]), mult=3.8e-4, add=0.1)
    assert rad[0] == pytest.approx(10.36)
    assert np.isnan(rad[1])
    t = to_kelvin(np.array([27000, 0], dtype=np.uint16), L9)
    assert t[0] == pytest.approx(304.9887, abs=0.01)
    assert np.isnan(t[1])


def test_landsat8_constants_give_another_temperature_for_the_same_radiance() -> None:
    rad = np.array([10.36])
    t9 = radiance_to_brightness_temperature(rad, k1=799.0284, k2=1329.2405)[0]
    t8 = radiance_to_brightness_temperature(rad, k1=774.8853, k2=1321.0789)[0]
    # T8 = 1321.0789 / ln(774.8853 / 10.36 + 1)
    assert t8 == pytest.approx(305.2369, abs=0.01)
    assert t9 == pytest.approx(304.9887, abs=0.01)
    assert abs(t8 - t9) > 0.2
    assert L8.k1 != L9.k1 and L8.k2 != L9.k2


def test_lahaina_real_counts_to_brightness_temperature() -> None:
    folder = shared_sample(LAHAINA)
    pid = "LC09_L1TP_063046_20230714_20230714_02_T1"
    meta = read_mtl(folder / f"{pid}_MTL.txt")
    assert meta.calibration == L9
    with rasterio.open(folder / f"{pid}_B10.TIF") as src:
        dn = src.read(1)
    assert (int(dn.min()), int(dn.max())) == (23520, 31456)  # SOURCE.txt
    t = to_kelvin(dn, meta.calibration)
    assert np.isfinite(t).all()
    # DN 23520 -> 295.83 K, DN 31456 -> 315.81 K with the L9 constants above
    assert 295.0 < float(t.min()) < 296.0
    assert 315.0 < float(t.max()) < 317.0


def test_planck_round_trip() -> None:
    kelvin = np.array([200.0, 250.0, 300.0, 330.0, 400.0])
    for cal in (L8, L9):
        rad = brightness_temperature_to_radiance(kelvin, k1=cal.k1, k2=cal.k2)
        assert np.all(np.diff(rad) > 0)
        back = radiance_to_brightness_temperature(rad, k1=cal.k1, k2=cal.k2)
        np.testing.assert_allclose(back, kelvin, atol=1e-3)


def test_non_positive_radiance_has_no_temperature() -> None:
    t = radiance_to_brightness_temperature(np.array([-1.0, 0.0, np.nan, 10.36]),
                                           k1=799.0284, k2=1329.2405)
    assert np.isnan(t[:3]).all()
    assert np.isfinite(t[3])


@pytest.mark.parametrize(
    "cal",
    [ThermalCalibration(level="L2", st_mult=0.00341802),
     ThermalCalibration(level="L1", radiance_mult=3.8e-4, radiance_add=0.1, k1=799.0284)],
)
def test_missing_constants_are_metadata_errors(cal: ThermalCalibration) -> None:
    with pytest.raises(MetadataError):
        to_kelvin(np.array([1000], dtype=np.uint16), cal)


def test_ndvi_from_level2_reflectance_digital_numbers() -> None:
    # LSDS-1619: reflectance = DN * 2.75e-5 - 0.2 for every Collection 2 band
    assert (SR_MULT, SR_ADD) == (2.75e-05, -0.2)
    red = np.array([7273 + 1818, 7273 + 14545, 0, 7273 + 1000, 7273], dtype=np.uint16)
    nir = np.array([7273 + 14545, 7273 + 1818, 9000, 0, 7273 + 200], dtype=np.uint16)
    got = ndvi_from_sr(red, nir)
    # 7273 is reflectance 0.0; 1818 DN is 0.05, 14545 DN is 0.4: (0.4 - 0.05) / 0.45
    np.testing.assert_allclose(got[:2], [0.35 / 0.45, -0.35 / 0.45], atol=2e-4)
    assert np.isnan(got[2]) and np.isnan(got[3])  # fill in either band
    assert np.isnan(got[4])  # 0.0 + 0.0055: too dark to take a ratio of
