"""Solar loading of each scene: how strongly the sun drove land-surface contrasts that day.

Daytime Landsat sees the sun first: roofs and bare ground run 10-20 K above vegetation in
summer with no power at all. The site model (:mod:`pipeline.science.activity`) removes the part of a
site's excess that follows a per-scene solar loading ``s``. Three estimates, best first:

``pattern``
    The amplitude of the scene's anomaly along the scan area's mean anomaly pattern: with
    solar-driven anomalies ``a[i, p] ~ s_i * r_p`` (pixel response ``r_p``), the mean pattern is
    ``P_p ~ mean(s) * r_p`` and ``s_i = sum(a[i] * P) / sum(P * P)`` over the scene's clear land
    pixels. It uses every clear pixel, so it is insensitive to which part of a scene is cloudy,
    and it includes the day's weather (wind, soil moisture), unlike the sun elevation. The
    scan uses the mean pattern of the scenes up to each date (scaled to unit inter-quartile
    range), so no look depends on later scenes.
``scene_contrast``
    The inter-quartile range (K) of the scene's clear land temperatures. It depends on which
    fields the clouds leave clear: in a partly cloudy winter scene it can be off by half, and
    winter looks weigh most in the site model.
``clear_sky``
    Clear-sky irradiance at the MTL sun elevation (Meinel model, :mod:`pipeline.science.solar`) /
    1000 W m-2: the fallback when the scene has no solar-driven contrast to measure.

An empirical index is used only when it tracks the clear-sky irradiance across the scenes
(correlation at least ``min_correlation``), which guards against areas without land contrast
(water, uniform cover), where the empirical indices are noise.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np

#: Fewest scenes for an empirical index.
MIN_SCENES = 4


def scene_contrast(temperature: np.ndarray, *, usable: np.ndarray, min_pixels: int) -> float:
    """Inter-quartile range (K) of the usable pixels; NaN below ``min_pixels``.

    Examples
    --------
    >>> t = np.arange(100, dtype=float).reshape(10, 10)
    >>> scene_contrast(t, usable=np.ones((10, 10), bool), min_pixels=10)
    49.5
    """
    vals = temperature[usable]
    if vals.size < min_pixels:
        return float("nan")
    q25, q75 = np.percentile(vals, [25, 75])
    return float(q75 - q25)


def pattern_loading(anomaly: np.ndarray, pattern: np.ndarray, *, usable: np.ndarray,
                    min_pixels: int) -> float:
    """Amplitude of ``anomaly`` along ``pattern`` (least squares through the origin).

    Examples
    --------
    >>> p = np.array([[1.0, -1.0], [2.0, 0.0]])
    >>> pattern_loading(0.5 * p, p, usable=np.ones((2, 2), bool), min_pixels=1)
    0.5
    """
    ok = usable & np.isfinite(anomaly) & np.isfinite(pattern)
    if ok.sum() < min_pixels:
        return float("nan")
    p = pattern[ok].astype(np.float64)
    a = anomaly[ok].astype(np.float64)
    denom = float(p @ p)
    return float(a @ p / denom) if denom > 0 else float("nan")


def pattern_mask(pattern: np.ndarray, base: np.ndarray, *, clip_percentile: float = 99.0
                 ) -> np.ndarray:
    """Pixels used for the pattern index: ``base`` minus the hottest tail of the pattern.

    The hottest pixels of the mean pattern include heat that does not follow the sun
    (campuses, power plants); leaving them out keeps the index a measure of the sun.
    """
    ok = base & np.isfinite(pattern)
    if not ok.any():
        return ok
    hi = np.percentile(pattern[ok], clip_percentile)
    return ok & (pattern <= hi)


def choose_index(irradiance: Sequence[float], candidates: Mapping[str, Sequence[float]],
                 preferred: Sequence[str], min_correlation: float = 0.5
                 ) -> tuple[str, np.ndarray]:
    """Pick the first index in ``preferred`` that tracks the irradiance; else clear-sky.

    Returns the name and the per-scene values.
    """
    irr = np.asarray(irradiance, dtype=float)
    for name in preferred:
        if name == "clear_sky" or name not in candidates:
            continue
        vals = np.asarray(candidates[name], dtype=float)
        ok = np.isfinite(vals) & np.isfinite(irr)
        if ok.sum() < MIN_SCENES or np.std(vals[ok]) == 0 or np.std(irr[ok]) == 0:
            continue
        if np.corrcoef(irr[ok], vals[ok])[0, 1] >= min_correlation:
            return name, vals
    return "clear_sky", irr
