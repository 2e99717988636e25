"""Band 10 calibration: digital numbers to kelvin, from the scene's own MTL constants.

Level-2 surface temperature (USGS LSDS-1619): ``K = DN * TEMPERATURE_MULT + TEMPERATURE_ADD``.
Level-1 (USGS Landsat 8/9 Data Users Handbook, section 5): top-of-atmosphere radiance
``L = DN * RADIANCE_MULT + RADIANCE_ADD`` and brightness temperature ``T = K2 / ln(K1 / L + 1)``.
DN 0 is fill and becomes NaN. Nothing here is hard-coded per mission.

Level-2 surface reflectance (LSDS-1619, section 6): ``rho = DN * 2.75e-5 - 0.2`` for every
Collection 2 band and mission; :func:`ndvi_from_sr` turns red and near-infrared into NDVI.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pipeline.core.errors import MetadataError

#: Level-2 surface reflectance (SR_B1-SR_B7) scale and offset, the same for every Collection 2
#: product (USGS LSDS-1619 Landsat 8-9 C2 Level 2 Science Product Guide, section 6).
SR_MULT = 2.75e-05
SR_ADD = -0.2


@dataclass(frozen=True)
class ThermalCalibration:
    """Calibration constants of band 10, as the scene's MTL gives them.

    Level-2: ``kelvin = DN * st_mult + st_add``. Level-1: ``L = DN * radiance_mult +
    radiance_add`` then ``T = k2 / ln(k1 / L + 1)``.
    """

    level: str
    st_mult: float | None = None
    st_add: float | None = None
    radiance_mult: float | None = None
    radiance_add: float | None = None
    k1: float | None = None
    k2: float | None = None
    #: Largest digital number of band 10 (``QUANTIZE_CAL_MAX*``, 65535 in Collection 2): a
    #: pixel there is saturated, its true temperature at or above the product's ceiling.
    dn_max: int = 65535


def st_to_kelvin(dn: np.ndarray, *, mult: float, add: float) -> np.ndarray:
    """Convert Level-2 ``ST_B10`` digital numbers to surface temperature in kelvin.

    Examples
    --------
    >>> st_to_kelvin(np.array([0, 44483], dtype=np.uint16), mult=0.00341802, add=149.0).round(2)
    array([   nan, 301.04], dtype=float32)
    """
    dn = np.asarray(dn)
    out = dn.astype(np.float64) * mult + add
    out[dn == 0] = np.nan
    return out.astype(np.float32)


def counts_to_radiance(dn: np.ndarray, *, mult: float, add: float) -> np.ndarray:
    """Convert Level-1 band 10 counts to TOA spectral radiance (W m-2 sr-1 um-1); 0 -> NaN."""
    dn = np.asarray(dn)
    out = dn.astype(np.float64) * mult + add
    out[dn == 0] = np.nan
    return out


def radiance_to_brightness_temperature(radiance: np.ndarray, *, k1: float, k2: float) -> np.ndarray:
    """Invert Planck's law with the band constants: ``T = K2 / ln(K1 / L + 1)``.

    Non-positive radiance has no brightness temperature and becomes NaN.
    """
    rad = np.asarray(radiance, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = k2 / np.log(k1 / rad + 1.0)
    t[~(rad > 0)] = np.nan
    return t.astype(np.float32)


def brightness_temperature_to_radiance(kelvin: np.ndarray, *, k1: float, k2: float) -> np.ndarray:
    """Planck's law with the band constants: ``L = K1 / (exp(K2 / T) - 1)`` (inverse of above)."""
    t = np.asarray(kelvin, dtype=np.float64)
    return k1 / np.expm1(k2 / t)


def to_kelvin(dn: np.ndarray, calibration: ThermalCalibration) -> np.ndarray:
    """Calibrate band 10 digital numbers with the constants of the scene's MTL."""
    if calibration.level == "L2":
        if calibration.st_mult is None or calibration.st_add is None:
            raise MetadataError("Level-2 MTL lacks TEMPERATURE_MULT/ADD_BAND_ST_B10")
        return st_to_kelvin(dn, mult=calibration.st_mult, add=calibration.st_add)
    needed = (calibration.radiance_mult, calibration.radiance_add, calibration.k1, calibration.k2)
    if any(v is None for v in needed):
        raise MetadataError("Level-1 MTL lacks RADIANCE_MULT/ADD_BAND_10 or K1/K2_CONSTANT_BAND_10")
    rad = counts_to_radiance(dn, mult=calibration.radiance_mult, add=calibration.radiance_add)  # type: ignore[arg-type]
    return radiance_to_brightness_temperature(rad, k1=calibration.k1, k2=calibration.k2)  # type: ignore[arg-type]


def ndvi_from_sr(red: np.ndarray, nir: np.ndarray, *, mult: float = SR_MULT,
                 add: float = SR_ADD) -> np.ndarray:
    """NDVI ``(nir - red) / (nir + red)`` from Level-2 red and near-infrared digital numbers.

    Fill (DN 0 in either band) and pixels whose two reflectances sum to under 0.01 (no
    signal to take a ratio of) become NaN; the result is clipped to [-1, 1].

    Examples
    --------
    >>> dn = lambda rho: np.array([round((rho + 0.2) / 2.75e-5)], dtype=np.uint16)
    >>> round(float(ndvi_from_sr(dn(0.05), dn(0.45))[0]), 3)  # a green canopy
    0.8
    >>> bool(np.isnan(ndvi_from_sr(np.array([0], np.uint16), dn(0.3))[0]))
    True
    """
    r = np.asarray(red, dtype=np.float32) * np.float32(mult) + np.float32(add)
    n = np.asarray(nir, dtype=np.float32) * np.float32(mult) + np.float32(add)
    total = n + r
    ok = (np.asarray(red) > 0) & (np.asarray(nir) > 0) & (total >= 0.01)
    out = np.full(r.shape, np.nan, dtype=np.float32)
    np.divide(n - r, total, out=out, where=ok)
    return np.clip(out, -1.0, 1.0)
