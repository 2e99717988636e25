"""Crop seasons out of a footprint's excess, with the land's own temperature-greenness slope.

A campus's footprint is paved; its ring of surroundings is often farmland. When the ring's crops
turn green they cool by day (transpiration), and "footprint less ring" rises with no change of
heat; at harvest it falls. Over a series that season can be worth more than a campus's own heat
(``bench/ring_season.py``: a median of 55 MW of dry-cooled heat on the development worlds), and
a no-heat term with a free coefficient absorbs power-on steps as readily as seasons.

Here nothing is fitted per site. NDVI becomes a fractional vegetation cover, the scaled NDVI
squared (:func:`vegetation_cover`; Carlson & Ripley 1997, Remote Sens. Environ. 62:241: NDVI
saturates as a canopy closes, its square scaled between bare soil and full cover is close to
linear in the cover), blurred as the thermal band is (:func:`thermal_footing`: TIRS samples at
100 m, the cover at 30 m). Land-surface temperature falls as cover rises (the basis of the
"triangle" methods, e.g. Sandholt et al. 2002, Remote Sens. Environ. 79:213); how much is read
from the land itself: over time, from its seasonal pixels (:func:`seasonal_slope`: how much a
crop cools as it greens, per unit of sun), or, on land without crops, across each scene's land
covers (:func:`cover_slope`, :func:`fill_slopes`). A footprint's cover excess (region less
ring, integrated like the thermal excess) departs from its usual value when the ring's crops
green up; that departure times the slope is the excess the greenness explains
(:func:`greenness_excess`), and the scan takes it out for the site and every placebo footprint
alike. The footprint's usual contrast (paving against fields) is not removed: it is part of the
solar response the fits already take.
"""

from __future__ import annotations

import warnings

import numpy as np

#: A scene's slope is measured only on at least this many clear land pixels with a cover.
MIN_SLOPE_PIXELS = 500
#: ... holding both ends of the cover range: 5% of them at or below the first value (bare
#: ground), 5% at or above the second (full cover). A scene whose crops are all green has no
#: bare end; the slope measured inside a narrow range is that of whatever else differs there.
BOTH_ENDS = (0.25, 0.75)
#: Quantile bins of cover whose median temperatures the slope is fitted through.
SLOPE_BINS = 10
#: A pixel whose cover ranges over at least this much across the looks is seasonal (a crop).
SEASONAL_RANGE = 0.3
#: The static pixels a look's reference temperature is the median of: at least this many.
MIN_STATIC_PIXELS = 100
#: Percentiles of the land's NDVI, over every scene of a scan, taken as bare soil and full cover.
SOIL_FULL_PERCENTILES = (2.0, 98.0)
#: The thermal band's blur as a Gaussian sigma (m): TIRS samples at 100 m (Landsat 8 Data Users
#: Handbook, LSDS-1574, sec. 1.3.2; USGS delivers it resampled to 30 m), taken as a Gaussian of
#: that full width at half maximum (100 m / 2.355). The 30 m cover is blurred to match before it
#: is set against temperature, or a parcel edge reads as cover the thermal band cannot see.
THERMAL_BLUR_SIGMA_M = 100.0 / 2.355


def cover_endpoints(ndvi_samples: np.ndarray) -> tuple[float, float]:
    """Return the NDVI of bare soil and of full cover: the land's 2nd and 98th percentiles.

    ``ndvi_samples``: clear land pixels of every scene of the scan (a scene whose crops are all
    green, or all bare, alone would not hold both ends). NaN, NaN without samples.

    Examples
    --------
    >>> cover_endpoints(np.linspace(0.1, 0.9, 101))
    (0.116, 0.884)
    """
    v = np.asarray(ndvi_samples, dtype=np.float64)
    v = v[np.isfinite(v)]
    if not v.size:
        return float("nan"), float("nan")
    lo, hi = np.percentile(v, SOIL_FULL_PERCENTILES)
    return round(float(lo), 6), round(float(hi), 6)


def thermal_footing(cover: np.ndarray, pixel_m: float) -> np.ndarray:
    """Blur a cover image to the thermal band's resolution (:data:`THERMAL_BLUR_SIGMA_M`).

    A normalized convolution: pixels without a cover (NaN: cloud, fill) neither count nor get
    one, so a cloud edge does not pull its neighbours towards zero.

    Examples
    --------
    An edge between bare ground and full cover: half a pixel inside the cover it reads
    Phi(0.5 px / 1.42 px) = 0.64, three and a half pixels outside Phi(-2.47) = 0.01.

    >>> c = np.zeros((9, 9)); c[:, 4:] = 1.0; c[0, 0] = np.nan
    >>> out = thermal_footing(c, 30.0)
    >>> bool(np.isnan(out[0, 0])), round(float(out[4, 4]), 2), round(float(out[4, 0]), 2)
    (True, 0.64, 0.01)
    """
    from scipy.ndimage import gaussian_filter

    c = np.asarray(cover, dtype=np.float32)
    ok = np.isfinite(c)
    sigma = THERMAL_BLUR_SIGMA_M / pixel_m
    with np.errstate(invalid="ignore", divide="ignore"):
        out = gaussian_filter(np.where(ok, c, 0.0), sigma, mode="nearest") / \
            gaussian_filter(ok.astype(np.float32), sigma, mode="nearest")
    return np.where(ok, out, np.nan).astype(np.float32)


def vegetation_cover(ndvi: np.ndarray, soil: float, full: float) -> np.ndarray:
    """Return the fractional vegetation cover ``((NDVI - soil) / (full - soil))**2`` in [0, 1].

    Carlson & Ripley (1997): the scaled NDVI squared. NaN stays NaN.

    Examples
    --------
    >>> vegetation_cover(np.array([0.1, 0.2, 0.5, 0.8, 0.9, np.nan]), 0.2, 0.8).round(3).tolist()
    [0.0, 0.0, 0.25, 1.0, 1.0, nan]
    """
    scaled = (np.asarray(ndvi, dtype=np.float32) - np.float32(soil)) / np.float32(full - soil)
    return np.clip(scaled, 0.0, 1.0) ** 2


def cover_slope(temperature: np.ndarray, cover: np.ndarray, usable: np.ndarray) -> float:
    """Return the scene's slope of temperature (or anomaly) against cover, K per unit cover.

    The pixels ``usable`` with both values are cut into :data:`SLOPE_BINS` quantile bins of
    cover; a line through the bins' median cover and median temperature (weighted by their
    pixel counts) gives the slope. Medians keep hot sources and cloud edges from steering it.
    NaN when there are fewer than :data:`MIN_SLOPE_PIXELS` pixels or they do not hold both ends
    of the cover range (:data:`BOTH_ENDS`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> v = rng.uniform(0.0, 1.0, (100, 100))
    >>> t = 300.0 - 12.0 * v + rng.normal(0, 0.5, v.shape)
    >>> t[:5, :5] += 40.0  # a fire does not move it
    >>> round(cover_slope(t, v, np.ones(v.shape, bool)), 1)
    -12.0
    >>> bool(np.isnan(cover_slope(t, np.full(v.shape, 0.4), np.ones(v.shape, bool))))
    True
    """
    ok = usable & np.isfinite(temperature) & np.isfinite(cover)
    v, t = np.asarray(cover)[ok].astype(np.float64), np.asarray(temperature)[ok].astype(np.float64)
    if v.size < MIN_SLOPE_PIXELS:
        return float("nan")
    lo, hi = np.quantile(v, [0.05, 0.95])
    if lo > BOTH_ENDS[0] or hi < BOTH_ENDS[1]:
        return float("nan")
    return binned_slope(v, t)


def binned_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Return the slope of ``y`` against ``x`` through the medians of :data:`SLOPE_BINS` bins.

    The bins are quantiles of ``x``; the line is fitted to the bins' median ``x`` and median
    ``y``, weighted by the square root of their counts. NaN with fewer than 3 bins.

    Examples
    --------
    >>> x = np.linspace(-0.5, 0.5, 1000); y = 3.0 * x; y[::50] += 100.0
    >>> round(binned_slope(x, y), 2)
    3.0
    """
    v, t = np.asarray(x, dtype=np.float64), np.asarray(y, dtype=np.float64)
    edges = np.unique(np.quantile(v, np.linspace(0.0, 1.0, SLOPE_BINS + 1)))
    which = np.clip(np.searchsorted(edges, v, side="right") - 1, 0, edges.size - 2)
    xs, ys, ws = [], [], []
    for b in range(edges.size - 1):
        sel = which == b
        if sel.any():
            xs.append(np.median(v[sel]))
            ys.append(np.median(t[sel]))
            ws.append(sel.sum())
    if len(xs) < 3:
        return float("nan")
    return float(np.polyfit(xs, ys, 1, w=np.sqrt(ws))[0])


def seasonal(cover_low: np.ndarray, cover_high: np.ndarray) -> np.ndarray:
    """Return the pixels whose cover ranged over at least :data:`SEASONAL_RANGE` (crops).

    ``cover_low`` and ``cover_high`` are each pixel's least and greatest cover over the looks
    (NaN, or infinite bounds of a pixel never measured: not seasonal).

    Examples
    --------
    >>> seasonal(np.array([0.1, 0.1, np.nan]), np.array([0.7, 0.3, np.nan])).tolist()
    [True, False, False]
    """
    with np.errstate(invalid="ignore"):
        return np.asarray(np.asarray(cover_high) - np.asarray(cover_low) >= SEASONAL_RANGE)


def seasonal_slope(temperature: np.ndarray, cover: np.ndarray, sun: np.ndarray) -> float:
    """Return the land's own slope over time: K per unit sun per unit of cover.

    ``temperature`` and ``cover`` are (looks, pixels) of land off the sites, ``sun`` (looks,)
    the clear-sky irradiance; night looks (``sun`` at or below 0.05) are left out. The
    seasonal pixels (cover range at least :data:`SEASONAL_RANGE` over the looks: crops) are
    measured against the median of the other, static pixels of the same look (which carries
    the day's air and weather, not the crops; a local background would green with them), per
    unit sun; their departures from their own medians over the looks, against their covers'
    departures, are pooled and the slope read through binned medians (:func:`binned_slope`).
    This is how much a crop cools as it greens, which a scene's slope across its land covers
    (:func:`cover_slope`) need not be: a crop at full cover may stay warmer than a forest.
    NaN with fewer than :data:`MIN_SLOPE_PIXELS` seasonal pixel-looks or
    :data:`MIN_STATIC_PIXELS` static pixels.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> s = np.linspace(0.5, 0.9, 20)
    >>> green = np.clip(np.sin(np.linspace(0, np.pi, 20))[:, None]
    ...                 + rng.normal(0, 0.1, (20, 300)), 0, 1)  # 300 crop pixels
    >>> crops = s[:, None] * (rng.uniform(5, 10, 300) - 4.0 * green)  # 4 K per sun at full
    >>> static = s[:, None] * rng.uniform(2, 6, 200) + rng.normal(0, 0.2, (20, 200))
    >>> air = 290.0 + rng.normal(0, 3, (20, 1))  # the day's air, everywhere
    >>> t = air + np.hstack([crops, static])
    >>> cover = np.hstack([green, np.full((20, 200), 0.9)])
    >>> round(seasonal_slope(t, cover, s))
    -4
    """
    s = np.asarray(sun, dtype=np.float64)
    day = s > 0.05
    t = np.asarray(temperature, dtype=np.float64)[day]
    c = np.asarray(cover, dtype=np.float64)[day]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # pixels never clear
        crops = seasonal(np.nanmin(c, axis=0), np.nanmax(c, axis=0))
        static = ~crops & np.isfinite(c).any(axis=0)
        if static.sum() < MIN_STATIC_PIXELS or not crops.any():
            return float("nan")
        y = (t[:, crops] - np.nanmedian(t[:, static], axis=1)[:, None]) / s[day, None]
        x = c[:, crops]
        dy = (y - np.nanmedian(y, axis=0)).ravel()
        dx = (x - np.nanmedian(x, axis=0)).ravel()
    ok = np.isfinite(dx) & np.isfinite(dy)
    if ok.sum() < MIN_SLOPE_PIXELS:
        return float("nan")
    return binned_slope(dx[ok], dy[ok])


def fill_slopes(slopes: np.ndarray, sun: np.ndarray) -> np.ndarray:
    """Return each scene's slope, those not measurable filled from the others per unit of sun.

    A scene whose land is all one greenness (every crop at its peak) has no slope to read
    (:func:`cover_slope` NaN); its slope is the median of the measured ones' ``slope / sun``
    times its own ``sun`` (clear-sky irradiance: the contrast of greenness scales with it).
    A scene without sun (night) has none. All NaN when no scene gave a slope.

    Examples
    --------
    >>> fill_slopes(np.array([-8.0, np.nan, -12.0, np.nan]), np.array([0.4, 0.5, 0.6, 0.0]))
    array([ -8., -10., -12.,  nan])
    """
    k = np.asarray(slopes, dtype=np.float64)
    s = np.asarray(sun, dtype=np.float64)
    day = s > 0
    known = np.isfinite(k) & day
    if not known.any():
        return np.full(k.shape, np.nan)
    per_sun = float(np.median(k[known] / s[known]))
    return np.where(known, k, np.where(day, per_sun * s, np.nan))


def greenness_excess(cover_excess: np.ndarray, slope_k: np.ndarray) -> np.ndarray:
    """Return the excess (K m2) a footprint's greenness explains at each look.

    ``cover_excess`` (..., looks) is the footprint's vegetation cover integrated like its
    thermal excess (region less ring, times the region's area); ``slope_k`` (looks,) each
    scene's :func:`cover_slope`. The greenness explains ``slope * (cover_excess - its median
    over the looks)``: only departures from the footprint's usual contrast. Zero where either
    is NaN.

    Examples
    --------
    >>> g = np.array([-4e5, -4e5, -5e5, -4e5])  # the ring greener than usual at look 2
    >>> greenness_excess(g, np.array([-10.0, -10.0, -12.0, np.nan])).tolist()
    [0.0, 0.0, 1200000.0, 0.0]
    """
    g = np.asarray(cover_excess, dtype=np.float64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # a footprint with no NDVI at all
        usual = np.nanmedian(g, axis=-1, keepdims=True)
    return np.nan_to_num(np.asarray(slope_k, dtype=np.float64) * (g - usual)) + 0.0  # no -0.0
