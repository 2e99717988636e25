"""Pixel masks: fill, QA_PIXEL cloud bits, implausible temperatures; snow and water flags.

The result is one ``uint8`` flag layer with CF ``flag_masks``/``flag_meanings`` attributes.
A pixel is usable when none of the *masking* flags is set; snow and water are informative flags
only (kept, not masked).
"""

from __future__ import annotations

import numpy as np

from pipeline.qa import QABit, any_bits, bit_set


class Flag:
    """Bits of the Heatwatch mask layer."""

    FILL = 1
    CLOUD = 2
    SHADOW = 4
    IMPLAUSIBLE = 8
    SNOW = 16
    WATER = 32


#: Flags that make a pixel unusable.
MASKING = Flag.FILL | Flag.CLOUD | Flag.SHADOW | Flag.IMPLAUSIBLE

FLAG_ATTRS = {
    "long_name": "Heatwatch pixel quality flags",
    "flag_masks": np.array(
        [Flag.FILL, Flag.CLOUD, Flag.SHADOW, Flag.IMPLAUSIBLE, Flag.SNOW, Flag.WATER],
        dtype=np.uint8,
    ),
    "flag_meanings": "fill cloud cloud_shadow implausible_temperature snow water",
}


def build_flags(
    kelvin: np.ndarray,
    qa_pixel: np.ndarray | None,
    *,
    qa_mask_bits: tuple[int, ...] = (0, 1, 2, 3, 4),
    plausible: tuple[float, float] = (220.0, 350.0),
) -> np.ndarray:
    """Combine fill, QA bits and the plausible temperature range into one flag layer.

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
        150 K under clouds, and DN 0 where QA is not fill).

    Examples
    --------
    >>> build_flags(np.array([300.0, 150.0, np.nan]), None).tolist()
    [0, 8, 1]
    """
    k = np.asarray(kelvin)
    flags = np.zeros(k.shape, dtype=np.uint8)
    flags[~np.isfinite(k)] |= Flag.FILL
    with np.errstate(invalid="ignore"):
        implausible = np.isfinite(k) & ((k < plausible[0]) | (k > plausible[1]))
    flags[implausible] |= Flag.IMPLAUSIBLE
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


def usable(flags: np.ndarray) -> np.ndarray:
    """Return true where no masking flag is set."""
    return (np.asarray(flags) & MASKING) == 0
