"""Tests of the energy model against independent public figures, round trips and errors."""

from __future__ import annotations

import csv
import math
from pathlib import Path

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from models import (
    ClusterSpec,
    Interval,
    cross_reference,
    forward,
    inverse,
    known_accelerators,
    load_facts,
)
from models.energy_data import parse_facts
from pipeline.core.errors import EnergyModelError, HeatwatchError

FACTS = load_facts()
EPOCH_CSV = (
    Path(__file__).resolve().parents[3]
    / "shared/data/epoch-frontier-datacenters/data_center_timelines.csv"
)


# Independent public figures --------------------------------------------------------------------


def test_25k_h100_is_40_to_45_mw_facility():
    # Epoch: Colossus 1, first training on 25k H100 at 44 MW; the common rule of thumb is ~40 MW.
    facility = forward({"h100": 25_000}).peak.facility_mw.central
    assert 40 <= facility <= 45


def test_100k_h100_is_150_mw_it_and_170_mw_facility():
    r = forward({"h100": 100_000})
    # SemiAnalysis, "100,000 H100 Clusters": 150 MW critical IT, a nameplate figure
    # (700 W GPU + 575 W CPU/NIC/PSU per GPU, +10% other IT): compare like with like.
    assert r.it_capacity_mw == pytest.approx(150, rel=0.10)
    # Epoch: 100k H100 at Colossus 1 -> 174 MW facility; "about 170 MW".
    assert r.peak.facility_mw.central == pytest.approx(170, rel=0.10)
    # The peak-draw IT of Epoch's breakdown lies below the nameplate capacity.
    assert r.peak.it_mw.central < r.it_capacity_mw
    assert r.peak.it_mw.high == pytest.approx(r.it_capacity_mw)


def test_gpu_share_of_facility_is_about_40_percent():
    # Epoch data insight: GPUs are about 40% of facility power at peak (1 / 2.44 = 0.41).
    r = forward({"h100": 1_000})
    assert r.board_mw / r.peak.facility_mw.central == pytest.approx(0.41, abs=0.01)


def test_h100_flops_and_h100e_convention():
    r = forward({"h100": 1})
    assert r.bf16_flops == pytest.approx(0.989e15, rel=1e-3)  # dense, not the sparse 1,979 TF
    assert r.eight_bit_ops == pytest.approx(1.979e15)
    assert r.h100e == pytest.approx(1.0)
    # Epoch counts one GB200 GPU as 5.0e15 / 1.979e15 = 2.53 H100e.
    assert forward({"gb200": 1}).h100e == pytest.approx(2.527, rel=1e-3)


def test_flop_over_period():
    r = forward({"h100": 10}, hours=2)
    assert r.flop_bf16 == pytest.approx(r.bf16_flops * 7200)
    assert r.ops_eight_bit == pytest.approx(r.eight_bit_ops * 7200)
    assert forward({"h100": 10}).flop_bf16 is None


# Epoch AI timelines ---------------------------------------------------------------------------


ROWS = FACTS.epoch_checks.rows


@pytest.mark.skipif(not EPOCH_CSV.exists(), reason="Epoch CSV not next to this checkout")
def test_epoch_rows_are_copied_from_the_csv():
    with EPOCH_CSV.open(newline="", encoding="utf-8") as fh:
        table = {(r["Date"], r["Data center"]): r for r in csv.DictReader(fh)}
    for row in ROWS:
        src = table[(row.date, row.campus)]
        assert float(src["Power (MW)"]) == row.power_mw
        assert float(src["H100 equivalents"]) == pytest.approx(row.h100e, rel=1e-12)


def test_epoch_checks_cover_h100_and_gb200_campuses():
    eras = {(r.campus.split()[1], r.era) for r in ROWS}
    assert ("Colossus", "h100") in eras
    assert ("Stargate", "gb200") in eras
    assert ("Fairwater", "gb200") in eras
    assert "CC-BY" in FACTS.epoch_checks.credit


@pytest.mark.parametrize("row", ROWS, ids=lambda r: f"{r.campus.split()[1]}-{r.date}")
def test_facility_kw_per_h100e_within_20_percent_of_epoch(row):
    epoch_kw = row.power_mw * 1e3 / row.h100e  # Epoch's own figure, from its CSV row
    r = forward(row.chips)
    assert r.h100e == pytest.approx(row.h100e, rel=1e-3)  # same chips, same H100e
    assert r.facility_kw_per_h100e == pytest.approx(epoch_kw, rel=0.20)


def test_epoch_kw_per_h100e_by_era():
    # The numbers the issue quotes: ~1.7 kW (H100 era) and ~1.16 kW (GB200).
    assert forward({"h100": 1}).facility_kw_per_h100e == pytest.approx(1.7, rel=0.03)
    assert forward({"gb200": 1}).facility_kw_per_h100e == pytest.approx(1.16, rel=0.03)


# Round trip and properties --------------------------------------------------------------------


@pytest.mark.parametrize("acc", known_accelerators())
def test_round_trip_every_accelerator(acc):
    fwd = forward({acc: 12_345})
    inv = inverse(fwd.training.heat_mw.central, accelerator=acc)
    assert inv.accelerator_count.central == pytest.approx(12_345)
    assert inv.accelerator_count.contains(12_345)
    inv_wide = inverse(fwd.training.heat_mw, accelerator=acc)
    assert inv_wide.accelerator_count.contains(12_345)
    assert inv_wide.h100e.contains(fwd.h100e)


@settings(max_examples=60, deadline=None)
@given(
    acc=st.sampled_from(known_accelerators()),
    count=st.integers(min_value=1, max_value=5_000_000),
    cooling=st.sampled_from(["dry", "hybrid", "evaporative", None]),
)
def test_forward_then_inverse_contains_the_count(acc, count, cooling):
    fwd = forward({acc: count}, cooling=cooling)
    for heat in (fwd.training.heat_mw.central, fwd.training.heat_mw):
        inv = inverse(heat, accelerator=acc, cooling=cooling)
        assert inv.accelerator_count.contains(count)
    sens, lat = fwd.training.sensible_mw, fwd.training.latent_mw
    assert sens.central + lat.central == pytest.approx(fwd.training.heat_mw.central)


@settings(max_examples=40, deadline=None)
@given(
    pue=st.floats(min_value=1.0, max_value=3.0),
    util=st.floats(min_value=0.05, max_value=1.0),
    count=st.integers(min_value=1, max_value=1_000_000),
)
def test_fixed_parameters_round_trip_exactly(pue, util, count):
    heat = forward({"b200": count}, pue=pue, utilization=util).training.heat_mw
    assert heat.low == pytest.approx(heat.high / (1.79 / 1.39) / (1.14 / 1.10))
    inv = inverse(heat.central, accelerator="b200", pue=pue, utilization=util)
    assert inv.accelerator_count.central == pytest.approx(count)


@settings(max_examples=40, deadline=None)
@given(
    acc=st.sampled_from(known_accelerators()),
    count=st.integers(min_value=1, max_value=1_000_000),
    extra=st.integers(min_value=1, max_value=1_000_000),
)
def test_forward_is_monotonic_in_count(acc, count, extra):
    small, big = forward({acc: count}), forward({acc: count + extra})
    for attr in ("central", "low", "high"):
        assert getattr(big.training.facility_mw, attr) > getattr(small.training.facility_mw, attr)
        assert getattr(big.peak.it_mw, attr) > getattr(small.peak.it_mw, attr)
    assert big.h100e > small.h100e


def test_mix_is_the_sum_of_its_parts():
    mix = forward({"h100": 150_000, "H200": 50_000, "nvidia_b200_in_gb200": 30_000})
    parts = [forward({"h100": 150_000}), forward({"h200": 50_000}), forward({"gb200": 30_000})]
    assert mix.peak.facility_mw.central == pytest.approx(
        sum(p.peak.facility_mw.central for p in parts)
    )
    assert mix.peak.facility_mw.high == pytest.approx(sum(p.peak.facility_mw.high for p in parts))
    assert mix.h100e == pytest.approx(sum(p.h100e for p in parts))
    assert mix.cluster.total == 230_000


def test_inverse_reports_chain_and_flop_over_active_days():
    inv = inverse(Interval(150, 100, 200), accelerator="gb200", cooling="dry", active_days=10)
    assert inv.facility_mw == inv.heat_mw
    assert inv.it_mw.central == pytest.approx(150 / 1.4)
    assert inv.facility_peak_mw.central == pytest.approx(150 / 0.75)
    assert inv.latent_mw.high == 0 and inv.sensible_mw == inv.heat_mw
    assert inv.flop_bf16 is not None
    assert inv.flop_bf16.central == pytest.approx(inv.bf16_flops.central * 10 * 86400)
    assert inv.accelerator_count.low < inv.accelerator_count.central < inv.accelerator_count.high


def test_cooling_splits_heat():
    heat = forward({"h100": 10_000}, cooling="evaporative").training
    share = heat.latent_mw.central / heat.heat_mw.central
    assert 0.77 <= share <= 0.95
    assert heat.latent_mw.low >= 0.77 * heat.heat_mw.low
    dry = forward({"h100": 10_000}, cooling="dry").training
    assert dry.latent_mw.high == 0


def test_as_dict_is_plain_data():
    import json

    json.dumps(forward({"h100": 8}, hours=1).as_dict())
    json.dumps(inverse(10.0, active_days=1).as_dict())
    json.dumps(cross_reference(10.0, declared_power_mw=12).as_dict())


# Cross-reference ------------------------------------------------------------------------------


def test_verdicts_from_declared_power():
    # 174 MW facility declared -> training heat expected 130 (at least 130.5 x ...) to 174 MW.
    under = cross_reference(Interval(400, 300, 500), declared_power_mw=174)
    assert under.verdict == "refuted: under-reported"
    over = cross_reference(Interval(40, 30, 50), declared_power_mw=174)
    assert over.verdict == "refuted: over-declared"
    assert cross_reference(Interval(130, 90, 170), declared_power_mw=174).verdict == "not refuted"
    assert cross_reference(Interval(130, 10, 900), declared_power_mw=174).verdict == "inconclusive"
    assert cross_reference(Interval(130, 90, 170)).verdict == "inconclusive"


def test_verdict_from_declared_accelerators_and_properties():
    cc = cross_reference(Interval(128, 90, 170), declared_accelerators=100_000, accelerator="h100")
    assert cc.verdict == "not refuted"
    (check,) = cc.checks
    assert check.basis == "accelerators" and check.expected_heat_mw.contains(128)
    props = cc.as_properties()
    assert props["implied_h100e_low"] < props["implied_h100e"] < props["implied_h100e_high"]
    assert props["implied_h100e"] == pytest.approx(1e5, rel=0.01)
    assert props["implied_flops"] > 0 and props["verdict"] == "not refuted"


def test_conflicting_declarations_are_inconclusive():
    cc = cross_reference(
        Interval(300, 250, 350), declared_power_mw=1000, declared_accelerators={"h100": 50_000}
    )
    assert {c.verdict for c in cc.checks} == {"refuted: over-declared", "refuted: under-reported"}
    assert cc.verdict == "inconclusive"


def test_declared_it_power_uses_pue():
    # 122 MW IT at PUE 1.08-1.4 -> up to 171 MW facility; 160 MW observed is consistent.
    assert cross_reference(160.0, declared_power_mw=122, declared_power_basis="it").verdict == (
        "not refuted"
    )
    # The same 122 MW read as facility power cannot reject 160 MW of heat.
    assert cross_reference(160.0, declared_power_mw=122).verdict == "refuted: under-reported"
    assert cross_reference(200.0, declared_power_mw=122, declared_power_basis="it").verdict == (
        "refuted: under-reported"
    )


# Errors ---------------------------------------------------------------------------------------


def test_unknown_accelerator_lists_known_names():
    with pytest.raises(EnergyModelError, match=r"known accelerators: .*h100.*gb200"):
        forward({"h1000": 5})
    with pytest.raises(EnergyModelError, match="unknown accelerator"):
        inverse(100, accelerator="voodoo5")


@pytest.mark.parametrize("count", [-1, 0, 2.5, float("nan"), "many", True])
def test_counts_must_be_positive_whole_numbers(count):
    with pytest.raises(EnergyModelError, match="positive whole number"):
        forward({"h100": count})


@pytest.mark.parametrize("pue", [0.9, 3.5, float("nan"), -1.2])
def test_impossible_pue(pue):
    with pytest.raises(EnergyModelError, match=r"between 1\.0 and 3\.0"):
        forward({"h100": 10}, pue=pue)
    with pytest.raises(EnergyModelError, match="impossible PUE"):
        inverse(100, pue=pue)


def test_other_bad_inputs():
    with pytest.raises(EnergyModelError, match="utilization"):
        forward({"h100": 10}, utilization=1.5)
    with pytest.raises(EnergyModelError, match="cooling"):
        forward({"h100": 10}, cooling="liquid nitrogen")
    with pytest.raises(EnergyModelError, match="heat must be zero or positive"):
        inverse(-5)
    with pytest.raises(EnergyModelError, match="low <= central <= high"):
        inverse(Interval(100, 150, 200))
    with pytest.raises(EnergyModelError, match="hours"):
        forward({"h100": 10}, hours=-1)
    with pytest.raises(EnergyModelError, match="at least one"):
        ClusterSpec({})
    with pytest.raises(EnergyModelError, match="declared power"):
        cross_reference(100, declared_power_mw=-3)
    # Also catchable as built-in ValueError and as the Heatwatch root.
    with pytest.raises(ValueError):
        forward({"h100": -1})
    with pytest.raises(HeatwatchError):
        forward({"h100": -1})


# Facts file -----------------------------------------------------------------------------------


def test_aliases_resolve():
    for name in ("h100", "H100", "nvidia_h100_sxm5", "NVIDIA H100 SXM5", "nvidia-h100-sxm5"):
        assert FACTS.accelerator(name).key == "h100"
    assert ClusterSpec({"H100": 1, "nvidia_h100_sxm5": 2}) == ClusterSpec.of("h100", 3)


def test_required_accelerators_present_with_sources():
    required = {
        "h100",
        "h200",
        "a100",
        "b200",
        "gb200",
        "gb300",
        "mi300x",
        "mi355x",
        "trainium2",
        "tpu_v5e",
    }
    assert required <= set(known_accelerators())
    for acc in FACTS.accelerators.values():
        assert acc.source and acc.server_rating.source and acc.board_w > 0
        assert all(s in FACTS.sources for s in (*acc.source, *acc.server_rating.source))


def test_facts_reject_unknown_source_ids():
    from importlib import resources

    text = resources.files("models").joinpath("data/energy.yaml").read_text(encoding="utf-8")
    data = yaml.safe_load(text)
    data["accelerators"]["h100"]["source"] = ["nowhere_2030"]
    with pytest.raises(EnergyModelError, match="nowhere_2030"):
        parse_facts(data)


def test_server_overhead_capped_by_nameplate():
    from models.energy import server_over_board

    for acc in FACTS.accelerators.values():
        s = server_over_board(acc)
        assert s.high == acc.server_rating.ratio
        assert s.low <= s.central <= s.high
    assert math.isclose(server_over_board(FACTS.accelerator("h100")).central, 1.53)


def test_site_power_density_is_the_published_mw_over_acres():
    # MW x 1e6 / (acres x 4046.86 m2): Hyperion phase 1 2,000 MW on 2,250 acres, Abilene
    # 1,200 MW on 875 acres, New Carlisle 2,200 MW on 1,200 acres
    acre = 4046.86
    d = FACTS.site_power_density
    assert d.examples["meta_hyperion_phase1"] == pytest.approx(2000e6 / (2250 * acre), abs=1)
    assert d.examples["stargate_abilene_full"] == pytest.approx(1200e6 / (875 * acre), abs=1)
    assert d.examples["aws_new_carlisle"] == pytest.approx(2200e6 / (1200 * acre), abs=1)
    assert (d.low_w_m2, d.high_w_m2) == (min(d.examples.values()), max(d.examples.values()))
    assert all(s in FACTS.sources for s in d.source)


# Per-site accelerators and the MW convention (issue 19, point 8) -------------------------------
#: Epoch AI, data_center_timelines.csv (Nov 2025): Stargate Abilene on 2025-09-26, 295 MW
#: (peak facility), 254,674 H100e from 100,800 GB200 (models/data/energy.yaml, epoch_checks).
ABILENE_MW, ABILENE_H100E, ABILENE_GB200 = 295.0, 254_674.07781707932, 100_800
#: README's energy table (bench/energy_table.py): peak facility kW per H100e of the model.
KW_PER_H100E = {"h100": 1.709, "gb200": 1.160}


def test_abilene_h100e_needs_the_site_chips_not_h100():
    gb200 = inverse(ABILENE_MW, accelerator="gb200", convention="peak")
    h100 = inverse(ABILENE_MW, accelerator="h100", convention="peak")
    assert gb200.h100e.central == pytest.approx(ABILENE_H100E, rel=0.005)
    assert gb200.accelerator_count.central == pytest.approx(ABILENE_GB200, rel=0.005)
    assert h100.h100e.central == pytest.approx(ABILENE_MW * 1e3 / KW_PER_H100E["h100"], rel=0.002)
    # 1.709 / 1.160 kW per H100e: H100 accounting understates Abilene by 47 %
    ratio = gb200.h100e.central / h100.h100e.central
    assert ratio == pytest.approx(KW_PER_H100E["h100"] / KW_PER_H100E["gb200"], rel=0.003)
    assert ratio == pytest.approx(1.47, abs=0.01)


def test_training_and_peak_conventions_differ_by_the_utilization():
    # utilization while training 0.75 (energy_facts.yaml `utilization`, Epoch's central value)
    training = inverse(ABILENE_MW, accelerator="gb200")
    peak = inverse(ABILENE_MW, accelerator="gb200", convention="peak")
    assert training.convention == "training" and peak.convention == "peak"
    assert training.h100e.central == pytest.approx(peak.h100e.central / 0.75, rel=1e-9)
    assert peak.facility_peak_mw.central == ABILENE_MW
    assert peak.heat_mw.central == pytest.approx(0.75 * ABILENE_MW)
    assert training.heat_mw.central == ABILENE_MW
    assert peak.rows()[0][0].startswith("Facility power, peak (given")
    with pytest.raises(EnergyModelError, match=r"training.*peak"):
        inverse(ABILENE_MW, convention="nameplate")


def test_inverse_of_a_mix_returns_its_h100e():
    # Colossus 1 on 2025-07-22 (Epoch row notes): 150k H100 + 50k H200 + 30k GB200,
    # 275,796 H100e at 424 MW (the model: 430 MW, +1.4 %, README)
    mix = {"h100": 150_000, "h200": 50_000, "gb200": 30_000}
    fwd = forward(mix)
    back = inverse(fwd.peak.facility_mw.central, accelerator=mix, convention="peak")
    assert back.h100e.central == pytest.approx(fwd.h100e, rel=1e-9)
    assert fwd.h100e == pytest.approx(275_796, rel=1e-4)
    assert back.accelerator_count.central == pytest.approx(230_000, rel=1e-9)
    assert back.accelerator == "gb200:30000, h100:150000, h200:50000"
    from_text = inverse(424.0, accelerator="h100:150000, h200:50000, gb200:30000",
                        convention="peak")
    assert from_text.h100e.central == pytest.approx(275_796 * 424 / 430, rel=0.01)
    # the mix lies between its members
    per_mw = {a: inverse(100.0, accelerator=a).h100e.central for a in ("h100", "gb200")}
    assert per_mw["h100"] < inverse(100.0, accelerator=mix).h100e.central < per_mw["gb200"]


def test_cross_reference_uses_the_site_mix():
    cc = cross_reference(Interval(221.0, 150.0, 300.0), accelerator="gb200")
    assert cc.implied.accelerator == "gb200"
    assert cc.as_properties()["implied_h100e"] == pytest.approx(
        inverse(Interval(221.0, 150.0, 300.0), accelerator="gb200").h100e.central)
    with pytest.raises(EnergyModelError, match="single accelerator"):
        cross_reference(221.0, accelerator={"h100": 1, "gb200": 1}, declared_accelerators=1000)


def test_a_scan_heat_estimate_becomes_an_interval_in_one_place():
    # HeatEstimate (pipeline.science.power) may hold NaN bounds; Interval may not: one conversion
    from pipeline.science.power import HeatEstimate

    est = HeatEstimate(120.0, 80.0, 150.0)
    assert Interval.from_heat(est.mw, est.low, est.high) == Interval(120.0, 80.0, 150.0)
    assert Interval.from_heat(50.0, 40.0, 49.0) == Interval(50.0, 40.0, 50.0)
    for bad in [(0.0, 0.0, float("nan")), (float("nan"), 0.0, 1.0), (1.0, float("inf"), 2.0)]:
        assert Interval.from_heat(*bad) is None
    with pytest.raises(EnergyModelError):
        Interval(0.0, 0.0, float("nan"))  # why HeatEstimate is not an Interval
