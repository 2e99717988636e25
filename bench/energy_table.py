"""Print the comparison of the energy model with public figures as Markdown (docs/energy.md).

Run: ``python bench/energy_table.py``. The Epoch AI rows come from ``models/data/energy.yaml``
(copied from Epoch's data_center_timelines.csv; ``tests/models/test_energy.py`` checks the copy).
"""

from __future__ import annotations

import sys
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``models`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from models import forward, load_facts

SHORT = {
    "xAI Colossus 1 Memphis Tennessee": "xAI Colossus 1",
    "OpenAI-Oracle Stargate Abilene Texas": "Stargate Abilene",
    "Microsoft Fairwater Fayetteville Georgia": "Fairwater Atlanta",
    "Anthropic-Amazon Project Rainier New Carlisle Indiana": "Project Rainier",
}


def _chips(chips: dict[str, int]) -> str:
    return " + ".join(f"{n:,} {k}" for k, n in chips.items())


def epoch_table() -> str:
    facts = load_facts()
    lines = [
        "| Campus | Date | Chips | Epoch MW | Epoch H100e | Epoch kW/H100e "
        "| Model MW (peak) | Model kW/H100e | Difference |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for row in facts.epoch_checks.rows:
        epoch_kw = row.power_mw * 1e3 / row.h100e
        r = forward(row.chips)
        diff = r.facility_kw_per_h100e / epoch_kw - 1
        campus = SHORT.get(row.campus, row.campus)
        lines.append(
            f"| {campus} | {row.date} | {_chips(row.chips)} | {row.power_mw:,.0f} "
            f"| {row.h100e:,.0f} | {epoch_kw:.3f} | {r.peak.facility_mw.central:,.0f} "
            f"| {r.facility_kw_per_h100e:.3f} | {diff:+.1%} |"
        )
    lines.append("")
    lines.append(f"Source: {facts.epoch_checks.credit}, {facts.epoch_checks.file}.")
    return "\n".join(lines)


def independent_table() -> str:
    r25, r100 = forward({"h100": 25_000}), forward({"h100": 100_000})
    rows = [
        ("25K H100, facility at peak", "40-45 MW (Epoch: 44 MW, Colossus 1)", r25.peak.facility_mw),
        ("100K H100, IT capacity (nameplate)", "150 MW (SemiAnalysis)", r100.it_capacity_mw),
        ("100K H100, IT at peak draw", "-", r100.peak.it_mw),
        ("100K H100, facility at peak", "~170 MW (Epoch: 174 MW)", r100.peak.facility_mw),
        ("100K H100, facility while training", "-", r100.training.facility_mw),
    ]
    lines = ["| Case | Public figure | Model central | Model low-high |", "|---|---|---:|---:|"]
    for label, public, value in rows:
        if isinstance(value, float):
            lines.append(f"| {label} | {public} | {value:,.0f} MW | - |")
        else:
            lines.append(
                f"| {label} | {public} | {value.central:,.0f} MW "
                f"| {value.low:,.0f}-{value.high:,.0f} MW |"
            )
    return "\n".join(lines)


def accelerator_table() -> str:
    facts = load_facts()
    lines = [
        "| Accelerator | Board W | Dense BF16 TFLOP/s | Dense 8-bit TOP/s | H100e | "
        "Server rating / board | Facility kW at peak | Facility kW training | Confidence |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for key, acc in facts.accelerators.items():
        r = forward({key: 1000})
        lines.append(
            f"| {key} ({acc.name}) | {acc.board_w:,.0f} | {acc.bf16_dense_tflops:,.0f} "
            f"| {acc.eight_bit_dense_tops:,.0f} {acc.eight_bit_format.upper()} "
            f"| {r.h100e / 1000:.3f} "
            f"| {acc.server_rating.ratio:.2f} | {r.peak.facility_mw.central:.2f} "
            f"| {r.training.facility_mw.central:.2f} | {acc.confidence} |"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    print(accelerator_table())
    print()
    print(independent_table())
    print()
    print(epoch_table())
