"""The footprint's own annual cycle: its terms, when a series spans a year, when it is apart
from the solar index."""

import numpy as np
import pytest

from pipeline.science.season import (
    MIN_SPAN_DAYS,
    YEAR_DAYS,
    annual_cycle,
    beyond_sun,
    spans_a_year,
)


def test_the_cycle_is_a_sine_and_cosine_of_the_julian_year():
    # analytic: a quarter of a Julian year after the epoch (2000-01-01) the phase is pi/2
    c = annual_cycle(["2000-01-01", "2000-04-01T18:00", "2001-01-01"])
    assert c[0] == pytest.approx([0.0, 1.0])
    # 2000-04-01 is day 91 (a leap year): 2 pi 91 / 365.25
    phase = 2 * np.pi * 91 / YEAR_DAYS
    assert c[1] == pytest.approx([np.sin(phase), np.cos(phase)])
    # one calendar year later the cycle has come round (366 days of 2000 vs 365.25)
    assert c[2] == pytest.approx(c[0], abs=2 * np.pi * 0.75 / YEAR_DAYS)
    assert np.allclose((c ** 2).sum(axis=1), 1.0)


def test_a_series_spans_a_year_from_a_year_less_five_weeks():
    start = np.datetime64("2023-04-13")
    days = int(np.ceil(MIN_SPAN_DAYS))
    assert spans_a_year([start, start + np.timedelta64(days, "D")])
    assert not spans_a_year([start, start + np.timedelta64(days - 2, "D")])
    assert not spans_a_year([start])


def test_an_exactly_sinusoidal_solar_index_cannot_be_told_from_a_cycle():
    dates = np.datetime64("2023-04-13") + np.arange(0, 360, 8).astype("timedelta64[D]")
    cycle = annual_cycle(dates)
    smooth = 0.65 + 0.25 * (0.3 * cycle[:, 0] + 0.95 * cycle[:, 1])
    assert beyond_sun(smooth, cycle) is None
    weather = smooth * (1 + 0.05 * np.random.default_rng(0).normal(size=smooth.size))
    rest = beyond_sun(weather, cycle)
    # what is left is orthogonal to an offset and the solar index, and spans the same models
    sun = np.column_stack([np.ones_like(weather), weather])
    assert np.abs(sun.T @ rest).max() < 1e-9
    both = np.column_stack([sun, rest])
    assert np.linalg.matrix_rank(both) == np.linalg.matrix_rank(np.column_stack([sun, cycle])) == 4
