"""No refutation rests on heat whose land the site's null could not measure.

A catalogued 80 MW campus whose fitted heat reads about 2.5x that (6e5 K m2 at the physics
coefficient of about 3,055 K m2/MW: 196 MW, its 90% interval's low end above 80 MW), far
outside its 200 placebos. Over 40 footprints of distinct land the null has measured what land
adds, and the heat refutes the declaration as under-reported; over 3 it has not (placebos drawn
200 times over three places), and a land event in the footprint would read the same. The same
holds for heat below a declaration: a footprint on land cooler than its ring hides heat, and
a site without heat bounds it by its always-on term, whose land is that term's null.
"""

from __future__ import annotations

from datetime import date

import numpy as np

from models.energy_check import cross_reference
from models.energy_types import Interval
from pipeline.core.config import Config
from pipeline.scan.baseline import Baseline
from pipeline.scan.verdicts import recheck
from pipeline.science.activity import ActivityFit
from tests.support.catalogued_row import DECLARED_MW, N, catalogued_row

UNDER = "refuted: under-reported"
ONSET = ActivityFit("onset", 6e5, 5e4, 1e5, 0.0, 10, N, N, 0.9, 0.9, np.zeros(N),
                    nuisance_gap=30.0)
ALWAYS = ActivityFit("always", 6e5, 5e4, 1e5, 0.0, 0, N, N, 1.0, 0.9, np.zeros(N))
# no heat seen: what it could run unseen is its always-on term, 1e5 +- 5e4 K m2 (~33-60 MW)
NEVER = ActivityFit("never", 0.0, 5e4, 0.0, 0.0, None, None, N, 0.0, float("nan"),
                    np.zeros(N), always_k_m2=1e5, always_se_k_m2=5e4)
OVER = "refuted: over-declared"


def test_a_null_over_distinct_land_lets_the_heat_refute_the_declaration() -> None:
    row = catalogued_row(ONSET, independent=40.0)
    assert row["status"] == "active" and row["heat_mw_low"] > DECLARED_MW
    assert row["verdict"] == UNDER and row["verdict_physics"] == UNDER


def test_a_null_over_three_places_withholds_the_under_reported_verdict() -> None:
    judged = catalogued_row(ONSET, independent=40.0)
    row = catalogued_row(ONSET, independent=3.0)
    # the same status, heat and interval: only the verdict is withheld, and says why
    for key in ("status", "pattern", "heat_mw", "heat_mw_low", "heat_mw_high"):
        assert row[key] == judged[key], key
    assert row["verdict"] == "inconclusive" and row["verdict_physics"] == "inconclusive"
    assert row["verdict_margin"] is None
    reason = row["verdict_reason"]
    assert reason.startswith(judged["verdict_reason"])  # the heat and what the declaration allows
    assert "only 3.0 footprints of distinct land, fewer than 10" in reason
    assert "no refutation rests on it" in reason
    # the energy model alone, on the same interval, would have refuted it
    heat = Interval(row["heat_mw"], row["heat_mw_low"], row["heat_mw_high"])
    assert cross_reference(heat, declared_power_mw=DECLARED_MW, cooling="dry").verdict == UNDER


def test_no_placebo_at_all_withholds_it_for_an_always_on_excess_too() -> None:
    row = catalogued_row(ALWAYS, independent=0.0)
    assert row["status"] == "active" and row["heat_mw_low"] > DECLARED_MW
    assert row["verdict"] == "inconclusive"
    assert "no placebo footprint of its size fits on its land" in row["verdict_reason"]


def test_a_declared_baseline_measured_the_land_itself() -> None:
    row = catalogued_row(ONSET, independent=3.0, baseline=Baseline(date(2024, 1, 20)))
    assert row["baseline"].startswith("declared") and row["verdict"] == UNDER


def test_heat_below_the_declaration_is_withheld_on_unmeasured_land_too() -> None:
    # 196 MW [..] against a declared 2,000 MW: refuted where the land was measured, not where
    # a footprint on land cooler than its ring could hide the difference unmeasured
    judged = catalogued_row(ONSET, independent=40.0, declared_mw=2000.0)
    row = catalogued_row(ONSET, independent=3.0, declared_mw=2000.0)
    assert judged["verdict"] == OVER and judged["land_unmeasured"] is None
    assert row["verdict"] == "inconclusive" and row["verdict_physics"] == "inconclusive"
    assert row["land_unmeasured"] == ("its placebos cover only 3.0 footprints of distinct "
                                      "land, fewer than 10")
    assert row["verdict_reason"].startswith(judged["verdict_reason"])


def test_a_site_without_heat_is_judged_by_its_always_on_null() -> None:
    # no heat statistic, so no null columns; its upper limit is its always-on term's
    judged = catalogued_row(NEVER, independent=40.0, declared_mw=2000.0)
    row = catalogued_row(NEVER, independent=0.0, declared_mw=2000.0)
    for r in (judged, row):
        assert r["pattern"] == "never" and r["null_statistic"] is None
        assert 0 < r["heat_mw_high"] < 0.1 * 2000.0
    assert judged["verdict"] == OVER and judged["verdict_physics"] == OVER
    assert row["verdict"] == "inconclusive" and row["verdict_physics"] == "inconclusive"
    assert row["land_unmeasured"] == "no placebo footprint of its size fits on its land"


def test_recheck_withholds_it_as_the_scan_does() -> None:
    rows = [{**catalogued_row(ONSET, independent=ind), "site_id": sid}
            for sid, ind in (("few", 3.0), ("many", 40.0))]
    out = recheck(rows, {"few": DECLARED_MW, "many": DECLARED_MW}, Config(),
                  calibration_sites=[])
    assert out["few"]["physics"]["verdict"] == "inconclusive"
    assert out["many"]["physics"]["verdict"] == UNDER
