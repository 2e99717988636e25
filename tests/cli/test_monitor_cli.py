"""``heatwatch monitor`` and ``heatwatch history`` through the real typer app."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from pipeline.monitor.alerts import read_jsonl
from tests.pipeline.monitor.test_monitor import write_world
from tests.support.cli import one_line, run


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_world(tmp_path_factory.mktemp("cliworld"), n_scenes=12)


@pytest.fixture()
def config_file(world: Path, tmp_path: Path) -> Path:
    path = tmp_path / "monitor.yaml"
    path.write_text(yaml.safe_dump({"monitor": {
        "source": "local", "imagery_dir": str(world / "imagery"),
        "store": str(tmp_path / "store.sqlite"), "alerts": str(tmp_path / "alerts.jsonl")}}))
    return path


def test_monitor_then_history(world: Path, config_file: Path, tmp_path: Path) -> None:
    first = run("monitor", "--config", str(config_file), "--sites", str(world / "sites.geojson"),
                "--backfill")
    assert first.exit_code == 0, first.output
    assert "alert turned_active: campus turned active" in one_line(first.output)
    assert "12 new product(s)" in one_line(first.output)
    n_alerts = len(read_jsonl(tmp_path / "alerts.jsonl"))
    assert n_alerts > 0

    again = run("monitor", "--config", str(config_file), "--sites", str(world / "sites.geojson"))
    assert again.exit_code == 0, again.output
    assert "no new scene" in again.output and "alert " not in again.output
    assert len(read_jsonl(tmp_path / "alerts.jsonl")) == n_alerts

    png = tmp_path / "plots" / "campus.png"
    hist = run("history", "campus", "--store", str(tmp_path / "store.sqlite"), "--plot", str(png))
    assert hist.exit_code == 0, hist.output
    assert "campus: 12 look(s)" in hist.output and "2024-04-10" in hist.output
    assert "refuted: under" in hist.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert not list(png.parent.glob(".*.part"))

    by_config = run("history", "wh", "--config", str(config_file))
    assert by_config.exit_code == 0, by_config.output


@pytest.mark.parametrize("flag", [[], ["--no-backfill"]], ids=["default", "no-backfill"])
def test_monitor_sends_no_past_alert(world: Path, config_file: Path, tmp_path: Path,
                                     flag: list[str]) -> None:
    out = run("monitor", "--config", str(config_file), "--sites", str(world / "sites.geojson"),
              *flag)
    assert out.exit_code == 0, out.output
    # campus turned active on 2024-04-10, long before the last look: recorded, not alerted
    assert "turned_active" not in out.output
    assert all(a.kind != "turned_active" for a in read_jsonl(tmp_path / "alerts.jsonl"))
    hist = run("history", "campus", "--store", str(tmp_path / "store.sqlite"))
    assert "2024-04-10" in hist.output


def test_monitor_defaults_to_the_epoch_catalog(config_file: Path) -> None:
    result = run("monitor", "--config", str(config_file))
    assert result.exit_code == 0, result.output
    # the synthetic world lies far from every Epoch campus
    assert "17 site(s) outside every scene" in one_line(result.output)
    assert "no new scene" in result.output


def test_monitor_errors_are_one_line(config_file: Path, tmp_path: Path) -> None:
    missing = run("monitor", "--config", str(config_file), "--imagery", str(tmp_path / "none"))
    assert missing.exit_code == 2
    assert "error:" in missing.output and "does not exist" in one_line(missing.output)
    (tmp_path / "store.sqlite").write_bytes(b"not a database" * 100)
    corrupt = run("monitor", "--config", str(config_file))
    assert corrupt.exit_code == 2 and "move it aside" in one_line(corrupt.output)
    assert "Traceback" not in corrupt.output


def test_history_errors(config_file: Path, world: Path, tmp_path: Path) -> None:
    none = run("history", "campus", "--store", str(tmp_path / "absent.sqlite"))
    assert none.exit_code == 2 and "run `heatwatch monitor` first" in one_line(none.output)
    assert not (tmp_path / "absent.sqlite").exists()
    run("monitor", "--config", str(config_file), "--sites", str(world / "sites.geojson"))
    unknown = run("history", "[red]x", "--store", str(tmp_path / "store.sqlite"))
    assert unknown.exit_code == 2 and "'[red]x' has no history" in one_line(unknown.output)


def test_history_never_shows_inactive_beside_running_heat(tmp_path: Path) -> None:
    from tests.support.late_stop_world import SITE, write_late_stop_world

    # a campus seen to stop 6 looks before the end; its fit's heat is what it ran at before
    write_late_stop_world(tmp_path / "world", looks_after=6, size_px=256)
    store, alerts = tmp_path / "store.sqlite", tmp_path / "alerts.jsonl"
    config = tmp_path / "monitor.yaml"
    config.write_text(yaml.safe_dump({"monitor": {"store": str(store), "alerts": str(alerts)}}))
    out = run("monitor", "--config", str(config), "--imagery", str(tmp_path / "world"),
              "--sites", str(tmp_path / "world" / "sites.geojson"), "--backfill")
    assert out.exit_code == 0, out.output
    hist = run("history", SITE, "--store", str(store))
    assert hist.exit_code == 0, hist.output
    threshold = 0.5 * 50  # nothing declared: inactive_fraction of min_candidate_mw
    rows = [line for line in hist.output.splitlines() if re.search(r"\binactive\b", line)]
    assert rows  # the stop is seen
    for line in rows:
        low = float(re.search(r"\[([0-9.]+)-", line).group(1))  # type: ignore[union-attr]
        assert low < threshold, line
    # and it is alerted once, from running heat to none
    kinds = [a.kind for a in read_jsonl(alerts)]
    assert kinds.count("turned_inactive") == 1 and kinds.count("possible_shutdown") == 1


def test_monitor_takes_the_calibration_option(monkeypatch: pytest.MonkeyPatch) -> None:
    # issue 19, point 2: --calibration reaches the configuration the monitor runs with
    import pipeline.monitor.run
    from pipeline.core.errors import HeatwatchError

    seen = {}

    def fake(cfg, **kwargs):  # type: ignore[no-untyped-def]
        seen["calibration"] = cfg.power.calibration
        raise HeatwatchError("stop here")

    monkeypatch.setattr(pipeline.monitor.run, "run_monitor", fake)
    out = run("monitor", "--calibration", "physics")
    assert seen == {"calibration": "physics"} and out.exit_code != 0
    assert run("monitor", "--calibration", "declared").exit_code == 2
