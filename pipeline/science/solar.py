"""Sun position, clear-sky irradiance and the Landsat overpass time, as pure numpy functions.

Sun position follows the NOAA Global Monitoring Laboratory solar calculator equations
(``NOAA_Solar_Calculations_day.xls``, https://gml.noaa.gov/grad/solcalc/calcdetails.html), which
implement Jean Meeus, *Astronomical Algorithms* (2nd ed., Willmann-Bell, 1998), chapters 22-25:
accurate to about 0.01 degree for dates between 1800 and 2100, with NOAA's approximate
atmospheric refraction correction.

Clear-sky irradiance uses the Meinel & Meinel air-mass model for the direct beam (A. B. Meinel and
M. P. Meinel, *Applied Solar Energy*, Addison-Wesley, 1976): ``I = S0 * 0.7 ** (AM ** 0.678)``,
with ``AM = 1 / sin(elevation)`` and the total solar irradiance ``S0 = 1361 W/m2`` (Kopp & Lean,
Geophys. Res. Lett. 38, L01706, 2011), projected on a horizontal surface.

Landsat 8 and 9 cross the equator on their descending node at about 10:00-10:15 local mean
solar time, and mid-latitude scenes are acquired near 10:30 (USGS Landsat 8/9 data users
handbooks); :func:`landsat_overpass_utc` uses 10:30.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, time, timedelta, timezone

import numpy as np
from numpy.typing import ArrayLike, NDArray

#: Total solar irradiance at 1 AU, W/m2 (Kopp & Lean 2011).
SOLAR_CONSTANT_W_M2 = 1361.0
#: Local mean solar time of a Landsat 8/9 acquisition used by the simulator, hours.
LANDSAT_LOCAL_TIME_H = 10.5

_JD_UNIX_EPOCH = 2440587.5
_JD_J2000 = 2451545.0

Times = datetime | Sequence[datetime] | NDArray[np.datetime64]


def _unix_seconds(when_utc: Times) -> NDArray[np.float64]:
    """Seconds since 1970-01-01 UTC; naive datetimes are taken as UTC."""
    if isinstance(when_utc, np.ndarray) and np.issubdtype(when_utc.dtype, np.datetime64):
        return when_utc.astype("datetime64[us]").astype(np.int64) / 1e6
    items = [when_utc] if isinstance(when_utc, datetime) else list(when_utc)
    secs = []
    for t in items:
        if not isinstance(t, datetime):
            raise TypeError(f"expected datetime values, got {type(t).__name__}")
        aware = t if t.tzinfo is not None else t.replace(tzinfo=timezone.utc)
        secs.append(aware.timestamp())
    out = np.asarray(secs, dtype=np.float64)
    return out[0] if isinstance(when_utc, datetime) else out


def _refraction_deg(elev: NDArray[np.float64]) -> NDArray[np.float64]:
    """NOAA's approximate atmospheric refraction (degrees) for a true elevation in degrees."""
    e = np.asarray(elev, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.tan(np.radians(e))
        high = 58.1 / t - 0.07 / t**3 + 0.000086 / t**5
        low = 1735.0 + e * (-518.2 + e * (103.4 + e * (-12.79 + e * 0.711)))
        below = -20.772 / t
    arcsec = np.where(e > 85.0, 0.0, np.where(e > 5.0, high, np.where(e > -0.575, low, below)))
    return arcsec / 3600.0


def sun_position(
    lat_deg: ArrayLike, lon_deg: ArrayLike, when_utc: Times, *, refraction: bool = True
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Return the sun's elevation and azimuth (degrees) seen from a place at a UTC time.

    NOAA solar calculator equations (Meeus 1998); all inputs broadcast against each other.

    Parameters
    ----------
    lat_deg, lon_deg
        Geodetic latitude (north positive) and longitude (east positive), degrees.
    when_utc
        A datetime, a sequence of datetimes or a ``datetime64`` array; naive values are UTC.
    refraction
        Add NOAA's approximate atmospheric refraction to the elevation (as the NOAA calculator
        and the USGS MTL ``SUN_ELEVATION`` do). False gives the geometric elevation.

    Returns
    -------
    elevation_deg, azimuth_deg : ndarray
        Elevation above the horizon, and azimuth clockwise from true north in ``[0, 360)``.

    Examples
    --------
    >>> elev, az = sun_position(39.742476, -105.1786, datetime(2003, 10, 17, 19, 30, 30))
    >>> round(float(elev), 1), round(float(az), 1)
    (39.9, 194.3)
    """
    lat = np.radians(np.asarray(lat_deg, dtype=np.float64))
    lon = np.asarray(lon_deg, dtype=np.float64)
    unix = _unix_seconds(when_utc)
    jc = (unix / 86400.0 + _JD_UNIX_EPOCH - _JD_J2000) / 36525.0
    minutes = np.mod(unix, 86400.0) / 60.0

    l0 = np.mod(280.46646 + jc * (36000.76983 + jc * 0.0003032), 360.0)
    m = np.radians(357.52911 + jc * (35999.05029 - 0.0001537 * jc))
    ecc = 0.016708634 - jc * (0.000042037 + 0.0000001267 * jc)
    center = (np.sin(m) * (1.914602 - jc * (0.004817 + 0.000014 * jc))
              + np.sin(2 * m) * (0.019993 - 0.000101 * jc) + np.sin(3 * m) * 0.000289)
    omega = np.radians(125.04 - 1934.136 * jc)
    app_long = np.radians(l0 + center - 0.00569 - 0.00478 * np.sin(omega))
    arcsec = 21.448 - jc * (46.815 + jc * (0.00059 - jc * 0.001813))
    mean_obliq = 23.0 + (26.0 + arcsec / 60.0) / 60.0
    obliq = np.radians(mean_obliq + 0.00256 * np.cos(omega))
    decl = np.arcsin(np.sin(obliq) * np.sin(app_long))

    y = np.tan(obliq / 2.0) ** 2
    l0r = np.radians(l0)
    eq_time_min = 4.0 * np.degrees(
        y * np.sin(2 * l0r) - 2 * ecc * np.sin(m) + 4 * ecc * y * np.sin(m) * np.cos(2 * l0r)
        - 0.5 * y * y * np.sin(4 * l0r) - 1.25 * ecc * ecc * np.sin(2 * m)
    )
    true_solar_min = np.mod(minutes + eq_time_min + 4.0 * lon, 1440.0)
    hour_angle = np.radians(true_solar_min / 4.0 - 180.0)

    cos_zen = np.sin(lat) * np.sin(decl) + np.cos(lat) * np.cos(decl) * np.cos(hour_angle)
    zen = np.arccos(np.clip(cos_zen, -1.0, 1.0))
    elev = 90.0 - np.degrees(zen)

    with np.errstate(divide="ignore", invalid="ignore"):
        cos_az = (np.sin(lat) * np.cos(zen) - np.sin(decl)) / (np.cos(lat) * np.sin(zen))
    base = np.degrees(np.arccos(np.clip(np.nan_to_num(cos_az, nan=1.0), -1.0, 1.0)))
    azimuth = np.where(hour_angle > 0, np.mod(base + 180.0, 360.0), np.mod(540.0 - base, 360.0))

    if refraction:
        elev = elev + _refraction_deg(elev)
    return np.asarray(elev, dtype=np.float64), np.asarray(azimuth, dtype=np.float64)


def clear_sky_irradiance(elevation_deg: ArrayLike) -> NDArray[np.float64]:
    """Return the clear-sky direct irradiance on a horizontal surface, W/m2 (Meinel model).

    ``I = 1361 * 0.7 ** (AM ** 0.678) * sin(elevation)`` with ``AM = 1 / sin(elevation)``;
    zero when the sun is at or below the horizon.

    Parameters
    ----------
    elevation_deg
        Sun elevation above the horizon, degrees (scalar or array).

    Returns
    -------
    ndarray
        Irradiance in W/m2, same shape as the input.

    Examples
    --------
    >>> round(float(clear_sky_irradiance(90.0)), 1)
    952.7
    >>> clear_sky_irradiance([-5.0, 0.0]).tolist()
    [0.0, 0.0]
    """
    e = np.asarray(elevation_deg, dtype=np.float64)
    sin_e = np.sin(np.radians(e))
    up = sin_e > 0
    safe = np.where(up, sin_e, 1.0)
    air_mass = 1.0 / safe
    irradiance = SOLAR_CONSTANT_W_M2 * 0.7 ** (air_mass**0.678) * safe
    return np.where(up, irradiance, 0.0)


def landsat_overpass_utc(day: date, lon_deg: float) -> datetime:
    """Return the UTC time of a Landsat 8/9 acquisition at 10:30 local mean solar time.

    Local mean solar time is ``UTC + lon / 15`` hours, so the acquisition is at
    ``10.5 - lon / 15`` hours UTC on the local ``day`` (which can fall on the previous UTC day
    far east, or late the same UTC day far west).

    Parameters
    ----------
    day
        Local calendar date of the overpass.
    lon_deg
        Longitude of the scene centre, degrees east.

    Returns
    -------
    datetime
        Timezone-aware UTC datetime, rounded to the second.

    Examples
    --------
    >>> landsat_overpass_utc(date(2024, 6, 21), -90.0).isoformat()
    '2024-06-21T16:30:00+00:00'
    """
    midnight = datetime.combine(day, time(0, 0), tzinfo=timezone.utc)
    seconds = round((LANDSAT_LOCAL_TIME_H - float(lon_deg) / 15.0) * 3600.0)
    return midnight + timedelta(seconds=seconds)
