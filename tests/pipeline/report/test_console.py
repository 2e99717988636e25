"""Console tables of the monitor: the evidence behind each stored verdict is shown."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.report.console import print_history, print_statuses


def _status(margin: float | None, physics: str | None) -> dict[str, object]:
    return {"site_id": "s", "as_of_date": "2024-06-29", "status": "active", "heat_mw": 653.0,
            "heat_mw_low": 349.0, "heat_mw_high": 1255.0, "first_seen": "2024-04-10",
            "last_seen": "2024-06-29", "verdict": "refuted: under-reported",
            "verdict_margin": margin, "verdict_physics": physics}


def test_history_shows_margin_and_physics_verdict(monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    old = {**_status(None, None), "as_of_date": "2024-05-28"}  # stored before the columns
    frame = pd.DataFrame([{**s, "date": s["as_of_date"], "clear": 1, "excess_k_m2": 3.9e6,
                           "active": 1, "status_heat_mw": s["heat_mw"]}
                          for s in (old, _status(5.823, "refuted: over-declared"))])
    print_history("s", frame)
    rows = [line.split() for line in capsys.readouterr().out.splitlines()
            if line.strip().startswith("2024-")]
    assert rows[0][-4:] == ["refuted:", "under", "-", "-"]
    assert rows[1][-5:] == ["refuted:", "under", "5.82", "refuted:", "over"]


def test_monitor_statuses_show_margin_and_physics_verdict(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("COLUMNS", "200")
    print_statuses([_status(1.25, "not refuted")])
    row = next(line for line in capsys.readouterr().out.splitlines() if "2024-06-29" in line)
    assert row.split()[-5:] == ["refuted:", "under", "1.25", "not", "refuted"]
