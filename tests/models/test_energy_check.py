"""Declared power of zero: a campus not yet operating declares nothing to test (issue 19, 1)."""

from __future__ import annotations

import math

import pytest

from models.energy_check import cross_reference
from models.energy_types import Interval
from pipeline.core.errors import EnergyModelError


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


def test_verdicts_say_what_was_tested_with_their_margin() -> None:
    # issue 19, point 2: "consistent" read as "verified". 174 MW facility declared: training
    # draw at least 174 x 0.75 = 130.5 MW (energy.yaml utilization), at most 174 MW.
    over = cross_reference(Interval(40, 30, 50), declared_power_mw=174)
    assert over.verdict == "refuted: over-declared"
    assert over.margin == pytest.approx(130.5 / 50, abs=0.01)  # intervals that far apart
    assert "by a factor 2.61" in over.reason
    under = cross_reference(Interval(400, 300, 500), declared_power_mw=174)
    assert under.verdict == "refuted: under-reported"
    assert under.margin == pytest.approx(300 / 174, abs=0.01)
    ok = cross_reference(Interval(130, 90, 170), declared_power_mw=174)
    assert ok.verdict == "not refuted"
    # the smallest over-claim this heat could have refuted: 170 / 130.5 = 1.30x
    assert ok.margin == pytest.approx(170 / 130.5, abs=0.01)
    assert "1.3x larger would have been refuted" in ok.reason
    assert ok.as_properties()["verdict_margin"] == ok.margin
    assert "consistent" not in {over.verdict, under.verdict, ok.verdict}
