"""The ``heatwatch energy`` command: forward and inverse tables, JSON, and clean errors."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from cli import app

runner = CliRunner()


def test_forward_table():
    res = runner.invoke(app, ["energy", "--accelerator", "h100", "--count", "100000"])
    assert res.exit_code == 0, res.output
    assert "Forward: 100,000 h100" in res.output
    assert "Facility power = heat, peak" in res.output
    assert "170.9" in res.output  # 100k H100 -> ~171 MW facility at peak


def test_forward_mix_json():
    res = runner.invoke(
        app, ["energy", "-a", "h100", "-n", "150000", "-a", "h200", "-n", "50000", "--json"]
    )
    assert res.exit_code == 0, res.output
    data = json.loads(res.output)
    assert data["cluster"] == {"h100": 150000, "h200": 50000}
    assert data["h100e"] == pytest.approx(200_000)


def test_inverse_table_and_json():
    args = ["energy", "--heat-mw", "150", "--heat-low", "100", "--heat-high", "200"]
    res = runner.invoke(app, [*args, "--accelerator", "gb200", "--cooling", "dry", "--days", "30"])
    assert res.exit_code == 0, res.output
    assert "Accelerators (gb200)" in res.output and "BF16 FLOP over 30 days" in res.output
    data = json.loads(runner.invoke(app, [*args, "--json"]).output)
    count = data["accelerator_count"]
    assert count["low"] < count["central"] < count["high"]
    assert data["parameters"]["cooling"] == "unknown"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-a", "h9000", "-n", "5"], "unknown accelerator"),
        (["-a", "h100", "-n", "-5"], "positive"),
        (["--heat-mw", "100", "--pue", "0.5"], "between 1.0 and 3.0"),
        (["--heat-mw", "100", "--cooling", "magic"], "cooling"),
        ([], "either --count"),
        (["-n", "5", "--heat-mw", "10"], "either --count"),
        (["-a", "h100", "-a", "h200", "-n", "5"], "one distinct --accelerator"),
        (["-n", "5", "--heat-low", "3"], "need --heat-mw"),
        (["--heat-mw", "100", "--heat-low", "120"], "low <= central"),
    ],
)
def test_errors_exit_2_with_message(args, message):
    res = runner.invoke(app, ["energy", *args])
    assert res.exit_code == 2
    assert message in " ".join(res.output.split())
    assert res.exception is None or isinstance(res.exception, SystemExit)


def test_heat_mw_says_which_convention_it_inverts_and_offers_the_other():
    # issue 19, point 8: Epoch's MW are peak facility power; Landsat sees heat while training
    base = ["energy", "--heat-mw", "295", "--accelerator", "gb200"]
    res = runner.invoke(app, base, env={"COLUMNS": "200"})
    assert res.exit_code == 0, res.output
    assert "MW of heat rejected at training draw" in res.output
    assert "--convention peak" in res.output
    peak = runner.invoke(app, [*base, "--convention", "peak"], env={"COLUMNS": "200"})
    assert "MW of facility power at peak (Epoch AI's convention)" in peak.output
    data = json.loads(runner.invoke(app, [*base, "--convention", "peak", "--json"]).output)
    # Epoch: Stargate Abilene, 295 MW, 100,800 GB200 = 254,674 H100e (2025-09-26)
    assert data["convention"] == "peak"
    assert data["h100e"]["central"] == pytest.approx(254_674, rel=0.005)
    training = json.loads(runner.invoke(app, [*base, "--json"]).output)
    assert training["h100e"]["central"] == pytest.approx(254_674 / 0.75, rel=0.005)
    bad = runner.invoke(app, [*base, "--convention", "nameplate"])
    assert bad.exit_code == 2 and "training" in bad.output
