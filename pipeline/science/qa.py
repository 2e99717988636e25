"""Landsat Collection 2 ``QA_PIXEL`` bit layout (USGS LSDS-1619/1328, Table 6-3).

Bits 8-15 hold two-bit confidence fields (cloud, cloud shadow, snow/ice, cirrus): 0 none,
1 low, 2 medium, 3 high.
"""

from __future__ import annotations

from enum import IntEnum

import numpy as np


class QABit(IntEnum):
    """Single-bit flags of ``QA_PIXEL``."""

    FILL = 0
    DILATED_CLOUD = 1
    CIRRUS = 2
    CLOUD = 3
    CLOUD_SHADOW = 4
    SNOW = 5
    CLEAR = 6
    WATER = 7


#: Start bit of each two-bit confidence field.
CONFIDENCE_SHIFT = {"cloud": 8, "cloud_shadow": 10, "snow_ice": 12, "cirrus": 14}


def bit_set(qa: np.ndarray, bit: int) -> np.ndarray:
    """Return a boolean array, true where ``bit`` is set in ``qa``.

    Examples
    --------
    >>> bit_set(np.array([0, 8, 9], dtype=np.uint16), QABit.CLOUD).tolist()
    [False, True, True]
    """
    return ((np.asarray(qa).astype(np.uint16) >> np.uint16(bit)) & np.uint16(1)).astype(bool)


def any_bits(qa: np.ndarray, bits: tuple[int, ...] | list[int]) -> np.ndarray:
    """Return true where any of ``bits`` is set in ``qa``."""
    mask = np.uint16(sum(1 << int(b) for b in bits))
    return (np.asarray(qa).astype(np.uint16) & mask) != 0


def encode(
    *,
    fill: np.ndarray | None = None,
    cloud: np.ndarray | None = None,
    dilated: np.ndarray | None = None,
    cirrus: np.ndarray | None = None,
    shadow: np.ndarray | None = None,
    snow: np.ndarray | None = None,
    water: np.ndarray | None = None,
    shape: tuple[int, int] | None = None,
) -> np.ndarray:
    """Build a ``QA_PIXEL`` array from boolean layers, with USGS's clear bit and confidences.

    The clear bit (6) is set where none of fill, cloud, dilated cloud, cirrus, shadow or snow is
    set, as USGS does; high confidence is written for set cloud, shadow, snow and cirrus flags.
    """
    layers = [x for x in (fill, cloud, dilated, cirrus, shadow, snow, water) if x is not None]
    if shape is None:
        if not layers:
            raise ValueError("give at least one layer or the shape")
        shape = np.shape(layers[0])  # type: ignore[assignment]
    qa = np.zeros(shape, dtype=np.uint16)

    def put(layer: np.ndarray | None, bit: int, conf: str | None = None) -> None:
        if layer is None:
            return
        on = np.asarray(layer, dtype=bool)
        qa[on] |= np.uint16(1 << bit)
        if conf is not None:
            qa[on] |= np.uint16(3 << CONFIDENCE_SHIFT[conf])

    put(fill, QABit.FILL)
    put(dilated, QABit.DILATED_CLOUD)
    put(cirrus, QABit.CIRRUS, "cirrus")
    put(cloud, QABit.CLOUD, "cloud")
    put(shadow, QABit.CLOUD_SHADOW, "cloud_shadow")
    put(snow, QABit.SNOW, "snow_ice")
    put(water, QABit.WATER)
    not_clear = any_bits(qa, (QABit.FILL, QABit.DILATED_CLOUD, QABit.CIRRUS, QABit.CLOUD,
                              QABit.CLOUD_SHADOW, QABit.SNOW))
    qa[~not_clear] |= np.uint16(1 << QABit.CLEAR)
    # Low confidence of cloud where nothing was flagged, as USGS writes for clear land.
    qa[~not_clear] |= np.uint16(1 << CONFIDENCE_SHIFT["cloud"])
    return qa
