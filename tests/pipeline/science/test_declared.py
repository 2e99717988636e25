"""Dated declarations: the Epoch timeline as a step function, projections left out."""

from __future__ import annotations

import math

import pytest

from aoi.catalog import load_catalog
from pipeline.science.declared import (
    EPOCH_RELEASE_AS_OF,
    EPOCH_SOURCE_CREDIT,
    Declaration,
    declaration_on,
    declarations_on,
    power_steps,
    site_credit,
)

COLOSSUS = "xai-colossus-1-memphis-tennessee"


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog().set_index("site_id", drop=False)


@pytest.mark.parametrize(("day", "mw", "since"), [
    # Epoch's Colossus 1 timeline (README table): 44 MW on 2024-08-11, 174 on 2024-09-02,
    # 349 on 2025-02-17, 424 on 2025-07-22; construction (0 MW) from 2024-04-24
    ("2024-04-01", None, None),
    ("2024-08-10", 0.0, "2024-04-24"),
    ("2024-08-11", 44.0, "2024-08-11"),
    ("2024-10-01", 174.0, "2024-09-02"),
    ("2025-03-01", 349.0, "2025-02-17"),
    ("2025-08-01", 424.0, "2025-07-22"),
])
def test_colossus_declaration_is_the_row_in_force(catalog, day, mw, since) -> None:  # type: ignore[no-untyped-def]
    decl = declaration_on(catalog.loc[COLOSSUS], day)
    assert decl == Declaration(mw, since)
    assert decl.declared is (mw is not None and mw > 0)


def test_epoch_current_power_is_not_used_for_past_looks(catalog) -> None:  # type: ignore[no-untyped-def]
    row = catalog.loc[COLOSSUS]
    assert row["reported_power_mw"] == 498.0  # Epoch's current estimate (2025-11-07 row)
    assert [d.mw for d in declarations_on(row, ["2024-09-20", "2025-12-01"])] == [174.0, 498.0]


def test_rows_after_the_release_are_projected_and_never_used(catalog) -> None:  # type: ignore[no-untyped-def]
    # Alibaba Zhangbei: 339 MW from 2025-09-17; the 432 MW "current" figure is the 2026-01-03
    # row, "Expect Building 13, 19, and 20 have finished upgrading": a projection
    row = catalog.loc["alibaba-zhangbei-zhangjiakou-hebei"]
    steps = power_steps(row["timeline"], as_of=EPOCH_RELEASE_AS_OF)
    assert steps.set_index("date").loc["2026-01-03", "projected"]
    assert not steps.set_index("date").loc["2025-09-17", "projected"]
    assert declaration_on(row, "2026-06-01") == Declaration(339.0, "2025-09-17")
    # a row dated on the release's last day is a declaration (Prometheus, 691 MW)
    prometheus = catalog.loc["meta-prometheus-new-albany-ohio"]
    assert declaration_on(prometheus, "2026-03-01") == Declaration(691.0, "2025-11-30")


def test_zero_power_campuses_declare_nothing_yet(catalog) -> None:  # type: ignore[no-untyped-def]
    zero = catalog[catalog["reported_power_mw"] == 0]
    assert len(zero) == 6  # Ridgeland, Goodnight, Hyperion, Fairwater Wisconsin, UAE, Helios
    for _, row in zero.iterrows():
        # Hyperion's 2026-12-01 row (0 MW) and later ones are projections: nothing in force
        # but zero at any date after the release
        decl = declaration_on(row, "2030-01-01")
        assert decl.mw == 0.0 and not decl.declared, row["site_id"]


def test_undated_declaration_holds_on_every_date() -> None:
    row = {"site_id": "mine", "reported_power_mw": 120.0}
    assert declarations_on(row, ["2020-01-01", "2030-01-01"]) == [Declaration(120.0)] * 2
    assert declaration_on({"reported_power_mw": math.nan}, "2024-01-01") == Declaration(None)
    assert not declaration_on({"reported_power_mw": 0.0}, "2024-01-01").declared


def test_user_timeline_marks_its_own_projections() -> None:
    tl = [{"date": "2024-01-01", "power_mw": 50.0},
          {"date": "2024-06-01", "power_mw": 80.0, "projected": True},
          {"date": "2024-03-01", "power_mw": None}]
    row = {"timeline": tl, "reported_power_mw": 80.0}
    assert declaration_on(row, "2024-12-01") == Declaration(50.0, "2024-01-01")
    assert list(power_steps(tl)["date"]) == ["2024-01-01", "2024-06-01"]


def test_epoch_rows_carry_the_cc_by_credit(catalog) -> None:  # type: ignore[no-untyped-def]
    assert site_credit(catalog.loc[COLOSSUS]) == EPOCH_SOURCE_CREDIT
    assert EPOCH_SOURCE_CREDIT == ("Epoch AI, 'Data on Frontier AI Data Centers', "
                                   "epoch.ai/data/data-centers (CC-BY 4.0)")
    assert site_credit({"site_id": "mine", "epoch_handle": None}) is None
