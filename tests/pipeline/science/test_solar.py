"""Sun position and irradiance against published reference values."""

from __future__ import annotations

from datetime import date, datetime, timezone

import numpy as np
import pytest

from pipeline.science.solar import clear_sky_irradiance, landsat_overpass_utc, sun_position


def test_spa_reference_case():
    # Reda & Andreas (2004), Solar Energy 76:577, NREL SPA Table A4.1: Golden, Colorado,
    # 2003-10-17 12:30:30 local (UTC-7): topocentric zenith 50.11162, azimuth 194.34024.
    elev, az = sun_position(39.742476, -105.1786, datetime(2003, 10, 17, 19, 30, 30))
    assert float(elev) == pytest.approx(90.0 - 50.11162, abs=0.05)
    assert float(az) == pytest.approx(194.34024, abs=0.05)


@pytest.mark.parametrize(
    ("ul", "lr", "when", "elev_usgs", "az_usgs"),
    [
        # LC08_L2SP_008059_20191201_20200825_02_T1 (Colombia), MTL IMAGE_ATTRIBUTES
        ((2.49387, -76.09465), (0.39350, -74.04743), datetime(2019, 12, 1, 15, 13, 51),
         57.08727307, 136.31696044),
        # LC09_L1TP_063046_20230714_20230714_02_T1 (Hawaii)
        ((21.26564, -157.10847), (19.17834, -154.85636), datetime(2023, 7, 14, 20, 47, 53),
         66.18265267, 82.10633451),
        # LC08_L2SP_204023_20200927_20201006_02_T1 (north Wales / Liverpool)
        ((54.16532, -5.36506), (52.00299, -1.75737), datetime(2020, 9, 27, 11, 10, 50),
         33.83332706, 163.67259834),
    ],
)
def test_matches_usgs_mtl_sun_angles(ul, lr, when, elev_usgs, az_usgs):
    # The scene centre is approximated by the middle of the product's UL-LR diagonal.
    lat, lon = (ul[0] + lr[0]) / 2, (ul[1] + lr[1]) / 2
    elev, az = sun_position(lat, lon, when.replace(tzinfo=timezone.utc))
    assert float(elev) == pytest.approx(elev_usgs, abs=0.5)
    assert float(az) == pytest.approx(az_usgs, abs=0.5)


@pytest.mark.parametrize("lat", [-40.0, -10.0, 0.0, 23.44, 35.0, 52.0, 66.0])
def test_june_solstice_noon_elevation(lat):
    # 2024 June solstice: 20 June 20:51 UTC; declination +23.44 deg all that day to < 0.01 deg.
    times = np.arange(np.datetime64("2024-06-20T11:00"), np.datetime64("2024-06-20T13:00"),
                      np.timedelta64(5, "s"))
    elev, _ = sun_position(lat, 0.0, times, refraction=False)
    assert elev.max() == pytest.approx(90.0 - abs(lat - 23.44), abs=0.02)


def test_morning_sun_is_east_of_south_in_north_and_east_of_north_in_south():
    when = landsat_overpass_utc(date(2024, 3, 20), 10.0)
    _, az_n = sun_position(45.0, 10.0, when)
    _, az_s = sun_position(-35.0, 10.0, when)
    assert 90.0 < float(az_n) < 180.0
    assert 0.0 < float(az_s) < 90.0


def test_broadcasts_over_arrays():
    lats = np.array([[10.0, 20.0], [30.0, 40.0]])
    elev, az = sun_position(lats, -100.0, datetime(2024, 1, 1, 17, 0, tzinfo=timezone.utc))
    assert elev.shape == az.shape == (2, 2)
    assert np.all(np.diff(elev.ravel()) < 0)  # winter: lower sun further north


def test_refraction_is_small_and_positive_above_horizon():
    when = datetime(2024, 6, 1, 16, 0, tzinfo=timezone.utc)
    with_ref, _ = sun_position(40.0, -90.0, when)
    without, _ = sun_position(40.0, -90.0, when, refraction=False)
    assert 0.0 < float(with_ref - without) < 0.05


def test_clear_sky_irradiance_meinel():
    assert float(clear_sky_irradiance(90.0)) == pytest.approx(1361 * 0.7, rel=1e-9)
    # AM = 2 at 30 deg: 1361 * 0.7 ** (2 ** 0.678) * 0.5
    assert float(clear_sky_irradiance(30.0)) == pytest.approx(1361 * 0.7 ** (2**0.678) * 0.5)
    values = clear_sky_irradiance(np.array([-10.0, 0.0, 5.0, 20.0, 45.0, 70.0]))
    assert values[:2].tolist() == [0.0, 0.0]
    assert np.all(np.diff(values[1:]) > 0)


@pytest.mark.parametrize(
    ("lon", "expected"),
    [
        (0.0, datetime(2024, 5, 2, 10, 30, tzinfo=timezone.utc)),
        (-90.0, datetime(2024, 5, 2, 16, 30, tzinfo=timezone.utc)),
        (150.0, datetime(2024, 5, 2, 0, 30, tzinfo=timezone.utc)),
        (170.0, datetime(2024, 5, 1, 23, 10, tzinfo=timezone.utc)),
    ],
)
def test_landsat_overpass_utc(lon, expected):
    assert landsat_overpass_utc(date(2024, 5, 2), lon) == expected
