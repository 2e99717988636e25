"""Declared power of zero: a campus not yet operating declares nothing to test (issue 19, 1)."""

from __future__ import annotations

import math

import pytest

from models.energy_check import cross_reference
from models.energy_types import Interval
from pipeline.errors import EnergyModelError


def test_zero_declared_power_is_nothing_declared_yet() -> None:
    cc = cross_reference(Interval(150, 90, 260), declared_power_mw=0.0)
    assert cc.checks == ()
    assert cc.verdict == "inconclusive"
    assert cc.reason == "nothing declared to compare the observed heat with"
    # the implied cluster is the same as with no declaration at all
    assert cc.implied == cross_reference(Interval(150, 90, 260)).implied


@pytest.mark.parametrize("bad", [-5.0, math.nan])
def test_negative_or_missing_number_is_still_refused(bad: float) -> None:
    with pytest.raises(EnergyModelError, match="positive number of MW"):
        cross_reference(Interval(150, 90, 260), declared_power_mw=bad)
