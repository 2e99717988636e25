"""Pixel masks: fill, QA_PIXEL cloud bits, implausible temperatures; snow, water, saturation.

The result is one ``uint8`` flag layer with CF ``flag_masks``/``flag_meanings`` attributes.
A pixel is usable when none of the *masking* flags is set; snow, water and saturated are
informative flags only (kept, not masked).

Hot sources are data: a fire, a lava flow or a furnace can reach the product's ceiling (Level-2
ST DN 65535 = 149 + 65535 x 0.00341802 = 373.0 K; Level-1 count 65535). Such a pixel is kept
and flagged ``saturated``: its temperature is a lower bound of the true one. No upper
temperature bound masks anything by default (``reader.plausible_max_k`` is off); the lower
bound stays, because real products hold 150 K (DN 293) under some clouds.
"""

from __future__ import annotations

import numpy as np

from pipeline.science.qa import QABit, any_bits, bit_set


class Flag:
    """Bits of the Heatwatch mask layer."""

    FILL = 1
    CLOUD = 2
    SHADOW = 4
    IMPLAUSIBLE = 8
    SNOW = 16
    WATER = 32
    #: band 10 at its largest digital number: the true temperature is at least the one given
    SATURATED = 64


#: Flags that make a pixel unusable.
MASKING = Flag.FILL | Flag.CLOUD | Flag.SHADOW | Flag.IMPLAUSIBLE

FLAG_ATTRS = {
    "long_name": "Heatwatch pixel quality flags",
    "flag_masks": np.array(
        [Flag.FILL, Flag.CLOUD, Flag.SHADOW, Flag.IMPLAUSIBLE, Flag.SNOW, Flag.WATER,
         Flag.SATURATED],
        dtype=np.uint8,
    ),
    "flag_meanings": "fill cloud cloud_shadow implausible_temperature snow water saturated",
    "comment": "saturated: band 10 at its largest digital number, kept as data; the temperature "
               "is a lower bound (the product's ceiling, 373.0 K for Level-2 ST)",
}


def build_flags(
    kelvin: np.ndarray,
    qa_pixel: np.ndarray | None,
    *,
    qa_mask_bits: tuple[int, ...] = (0, 1, 2, 3, 4),
    plausible: tuple[float, float | None] = (220.0, None),
    saturated: np.ndarray | None = None,
) -> np.ndarray:
    """Combine fill, QA bits, the plausible range and saturation into one flag layer.

    Parameters
    ----------
    kelvin
        Calibrated temperature; NaN is fill.
    qa_pixel
        The product's ``QA_PIXEL`` band, or None when the product has none.
    qa_mask_bits
        QA bits that mask a pixel (default fill, dilated cloud, cirrus, cloud, cloud shadow).
    plausible
        Temperatures outside ``[low, high]`` K are flagged implausible (real products hold
        150 K under clouds, and DN 0 where QA is not fill); ``high=None`` sets no upper bound,
        so hot sources up to the product's ceiling stay data.
    saturated
        True where band 10 is at its largest digital number (see
        :attr:`pipeline.science.calibrate.ThermalCalibration.dn_max`); flagged, not masked. Fill
        wins.

    Examples
    --------
    >>> build_flags(np.array([300.0, 150.0, np.nan, 372.5]), None).tolist()
    [0, 8, 1, 0]
    >>> build_flags(np.array([373.0]), None, saturated=np.array([True])).tolist()
    [64]
    """
    k = np.asarray(kelvin)
    flags = np.zeros(k.shape, dtype=np.uint8)
    flags[~np.isfinite(k)] |= Flag.FILL
    low, high = plausible
    with np.errstate(invalid="ignore"):
        implausible = np.isfinite(k) & (k < low)
        if high is not None:
            implausible |= np.isfinite(k) & (k > high)
    flags[implausible] |= Flag.IMPLAUSIBLE
    if saturated is not None:
        flags[np.asarray(saturated, dtype=bool) & np.isfinite(k)] |= Flag.SATURATED
    if qa_pixel is not None:
        qa = np.asarray(qa_pixel)
        cloud_bits = tuple(b for b in qa_mask_bits if b != QABit.CLOUD_SHADOW and b != QABit.FILL)
        if QABit.FILL in qa_mask_bits:
            flags[bit_set(qa, QABit.FILL)] |= Flag.FILL
        if cloud_bits:
            flags[any_bits(qa, cloud_bits)] |= Flag.CLOUD
        if QABit.CLOUD_SHADOW in qa_mask_bits:
            flags[bit_set(qa, QABit.CLOUD_SHADOW)] |= Flag.SHADOW
        flags[bit_set(qa, QABit.SNOW)] |= Flag.SNOW
        flags[bit_set(qa, QABit.WATER)] |= Flag.WATER
    return flags


def night_clouds(kelvin: np.ndarray, *, cold_k: float) -> np.ndarray:
    """Return true where a night scene is colder than its median by more than ``cold_k``.

    At night QA_PIXEL's cloud bits cannot be trusted (CFMask works on the reflective bands,
    dark at night); clouds are cold, while the night land surface varies by a few K, so a cold
    test against the scene's own median finds them. Water, warmer than land at night, is kept.

    Examples
    --------
    >>> night_clouds(np.array([285.0, 284.0, 286.0, 265.0, np.nan]), cold_k=6.0).tolist()
    [False, False, False, True, False]
    """
    k = np.asarray(kelvin, dtype=float)
    ok = np.isfinite(k)
    if not ok.any():
        return np.zeros(k.shape, dtype=bool)
    median = float(np.median(k[ok]))
    with np.errstate(invalid="ignore"):
        return ok & (k < median - cold_k)


def usable(flags: np.ndarray) -> np.ndarray:
    """Return true where no masking flag is set."""
    return (np.asarray(flags) & MASKING) == 0
