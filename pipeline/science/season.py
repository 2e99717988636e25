"""A footprint's own season: an annual cycle of its excess that is neither the sun's nor heat.

Cropland is bare (warm by day) outside its growing season and green (cool) inside it, so a
field's contrast against its ring follows a season of its own, lagging the sun's (issue 18,
"crop phenology"). The scene's common land modes (:func:`pipeline.science.placebo.land_modes`)
take up the seasons most footprints share; a single field's differs. Against the solar index
alone such a lag makes a loop: autumn and late winter, at one sun, sit at different levels,
and a step fitted near the end of a one-year series reads it as a power-on. An annual cycle
repeats: over a series that spans a year, the looks at its end match those a year before.
A campus that powers on does not; its step stays when the cycle is fitted too.

:func:`annual_cycle` gives the cycle's two terms (a sine and a cosine of the day of the year);
:func:`spans_a_year` says whether a series covers enough of a year for them to be told from a
step (over a few months a part of a sine is a ramp, and would take up any step),
:func:`comes_back` how much of a bump (heat that came and went) the same weeks of other years
show, so that a season, which comes back, can be told from heat that came and went once, and
:func:`beyond_sun` the part of the cycle the solar response does not already make (its lag),
which is what the activity fit takes as a footprint's own season.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

#: Days in a mean (Julian) year.
YEAR_DAYS = 365.25

#: Least span of the looks (days) over which an annual cycle is fitted beside a step: a year
#: less 5 weeks (Landsat 8 and 9 together revisit every 8 days; clouds take whole weeks).
MIN_SPAN_DAYS = YEAR_DAYS - 35.0

#: How far (days) a look may fall from a whole number of years before or after a look of a
#: bump and still show the same weeks again: two revisits of Landsat 8 and 9 together. Within
#: one year's series of 8-day looks no look of a bump has such a twin (a bump starts and ends
#: at least three clear looks in from the series' ends).
AGAIN_DAYS = 16.0


def _days(dates: Sequence[object] | np.ndarray) -> np.ndarray:
    """Return the dates as days since 2000-01-01 (floats)."""
    d = pd.to_datetime(np.asarray(dates).ravel(), format="ISO8601").to_numpy().astype(
        "datetime64[D]")
    return (d - np.datetime64("2000-01-01", "D")).astype(np.float64)


def span_days(dates: Sequence[object] | np.ndarray, start: int, stop: int) -> float:
    """Return the longest a bump at looks ``start`` to ``stop - 1`` can have lasted (days).

    From the look before it to the look after it: clouds may hide its first and last days,
    so the bump is given every day it cannot be shown absent. Infinite when it reaches either
    end of the series (it may have lasted beyond it).

    Examples
    --------
    >>> dates = ["2024-01-01", "2024-01-17", "2024-02-02", "2024-03-05", "2024-04-06"]
    >>> span_days(dates, 1, 3)  # seen 17 Jan and 2 Feb; absent 1 Jan and 5 Mar
    64.0
    >>> span_days(dates, 0, 3)
    inf
    """
    if start <= 0 or stop >= len(dates):
        return float("inf")
    days = _days(dates)
    return float(days[stop] - days[start - 1])


def seen_days(dates: Sequence[object] | np.ndarray | pd.Series) -> float:
    """Return the days from the first to the last of ``dates`` (0 when fewer than two).

    How long heat was seen: a lower bound on how long it lasted.

    Examples
    --------
    >>> seen_days(["2023-10-27", "2023-11-04", "2023-12-22"]), seen_days(["2024-01-01"])
    (56.0, 0.0)
    """
    days = _days(dates)
    return float(days.max() - days.min()) if days.size >= 2 else 0.0


def annual_cycle(dates: Sequence[object] | np.ndarray) -> np.ndarray:
    """Return the (n, 2) terms of an annual cycle at ``dates``: ``sin`` and ``cos`` of the year.

    Examples
    --------
    >>> c = annual_cycle(["2023-01-01", "2023-07-02", "2024-01-01"])
    >>> c.shape, bool(np.allclose(c[0], c[2], atol=0.02)), bool(np.allclose(c[0], -c[1], atol=0.02))
    ((3, 2), True, True)
    """
    phase = 2.0 * np.pi * _days(dates) / YEAR_DAYS
    return np.column_stack([np.sin(phase), np.cos(phase)])


def spans_a_year(dates: Sequence[object] | np.ndarray, min_days: float = MIN_SPAN_DAYS) -> bool:
    """Return True when ``dates`` span at least ``min_days`` (default :data:`MIN_SPAN_DAYS`).

    Examples
    --------
    >>> spans_a_year(["2023-04-13", "2023-10-01", "2024-04-07"])
    True
    >>> spans_a_year(["2023-04-13", "2023-10-01"])
    False
    >>> spans_a_year([])
    False
    """
    days = _days(dates)
    return bool(days.size and days.max() - days.min() >= min_days)


def _twins(dates: Sequence[object] | np.ndarray, start: int, stop: int,
           tol_days: float) -> np.ndarray | None:
    """Return, per look of ``dates[start:stop]``, its nearest twin a whole number of years away.

    The twin is the index of a look outside the bump within ``tol_days`` of that distance, -1
    where none is; None unless at least half the bump's looks have one (its weeks are not
    seen again).
    """
    days = _days(dates)
    if not 0 <= start < stop <= days.size or stop - start == days.size:
        return None
    outside = np.r_[0:start, stop:days.size]
    gap = days[outside][None, :] - days[start:stop, None]
    years = np.round(gap / YEAR_DAYS)
    off = np.abs(gap - years * YEAR_DAYS)
    off[(years == 0) | (off > tol_days)] = np.inf
    best = np.argmin(off, axis=1)
    twins = np.where(np.isfinite(off[np.arange(best.size), best]), outside[best], -1)
    return twins if 2 * np.sum(twins >= 0) >= twins.size else None


def comes_back(dates: Sequence[object] | np.ndarray, residual: np.ndarray, start: int,
               stop: int, tol_days: float = AGAIN_DAYS) -> float | None:
    """Return the share of a bump's height that the same weeks of other years show.

    ``residual`` is a series' excess less its fitted offset and solar response (the heat of a
    window fit stays in it), and the bump is ``residual[start:stop]``. Each look of the bump is
    paired with its nearest look outside it a whole number of years away (within
    ``tol_days``); the share is the sum over the pairs of the twins over that of the bump's:
    near 1 for a season that comes back whatever its shape, near 0 for heat that came and went
    once. None when the bump's weeks are not seen again (fewer than half its looks have such
    a twin: only then can a season be told from heat that came and went once) or the bump has
    no height.

    Examples
    --------
    >>> days = np.arange(0, 730, 8)
    >>> dates = np.datetime64("2023-01-05") + days.astype("timedelta64[D]")
    >>> season = np.where((days % 365 > 40) & (days % 365 < 90), 1e6, 0.0)
    >>> round(comes_back(dates, season, 5, 12), 2)
    1.0
    >>> once = np.where((days > 40) & (days < 90), 1e6, 0.0)
    >>> round(comes_back(dates, once, 5, 12), 2)
    0.0
    >>> comes_back(dates[:46], once[:46], 5, 12) is None  # one year of looks: not seen again
    True
    >>> comes_back(np.delete(dates, range(48, 58)), np.delete(season, range(48, 58)),
    ...            5, 12) is None  # next year clouded in those weeks
    True
    """
    twins = _twins(dates, start, stop, tol_days)
    if twins is None:
        return None
    r = np.asarray(residual, dtype=np.float64)
    paired = twins >= 0
    height = float(np.sum(r[start:stop][paired]))
    if not height > 0.0:
        return None
    return float(np.sum(r[twins[paired]]) / height)


def beyond_sun(solar: np.ndarray, cycle: np.ndarray) -> np.ndarray | None:
    """Return the ``cycle`` terms less what an offset and the solar index make of them.

    The solar index is itself nearly an annual cycle, in phase with the sun; what a footprint's
    own season adds is the rest (its lag). Fitting that rest spans the same models as the
    whole cycle but keeps the offset and the solar response their meaning: with the raw
    terms they trade against each other, and a static offset fitted beside a step (checked
    against the land's offsets) would scatter with it. None when the solar index is an exact
    combination of the cycle's terms (a synthetic one): nothing is left, no evidence either way.

    Examples
    --------
    >>> days = np.arange(0, 360, 8)
    >>> cycle = annual_cycle(np.datetime64("2023-04-13") + days.astype("timedelta64[D]"))
    >>> beyond_sun(0.6 + 0.2 * cycle[:, 1], cycle) is None
    True
    >>> rest = beyond_sun(0.6 + 0.2 * cycle[:, 1] + 0.01 * np.sin(days), cycle)
    >>> rest.shape, bool(np.allclose(rest.sum(axis=0), 0.0))
    ((45, 2), True)
    """
    s = np.asarray(solar, dtype=np.float64)
    c = np.asarray(cycle, dtype=np.float64)
    sun = np.column_stack([np.ones_like(s), s])
    rest = c - sun @ np.linalg.lstsq(sun, c, rcond=None)[0]
    whole = np.column_stack([sun, c])
    if np.linalg.matrix_rank(whole, tol=1e-6 * np.linalg.norm(whole, 2)) < whole.shape[1]:
        return None
    return rest
