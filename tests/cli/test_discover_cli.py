"""``heatwatch discover`` through the real typer app, in-process (``--workers 0``)."""

from __future__ import annotations

import json

import pandas as pd
import pytest
import yaml

from tests.pipeline.discover.test_discover import TILES, write_border_world
from tests.support import cli as support


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("discover-cli")
    world, _, region = write_border_world(root)
    config = root / "discover.yaml"
    config.write_text(yaml.safe_dump(TILES))
    return root, world, region, config


def run(*args: str):  # type: ignore[no-untyped-def]
    return support.run("discover", *args)


def test_discover_writes_ranked_candidates_and_resumes(setup):
    root, world, region, config = setup
    out = root / "out"
    args = ["--region", str(region), "--imagery", str(world), "--out", str(out),
            "--sites", str(world / "sites.geojson"),
            "--exclusions", str(world / "exclusions.geojson"),
            "--workers", "0", "--config", str(config)]
    res = run(*args)
    assert res.exit_code == 0, res.output
    assert "candidate-1" in res.output and "4 tile(s), 0 resumed" in res.output
    csv = pd.read_csv(out / "candidates.csv")
    assert list(csv["status"]) == ["candidate", "excluded"]
    # what the tiles' searches rejected is counted when there is any, and named in
    # discover.json (the line itself: tests/pipeline/report/test_console.py)
    rejected = json.loads((out / "discover.json").read_text())["rejected_candidates"]
    assert (f"{len(rejected)} region(s) the tiles' searches rejected" in res.output
            if rejected else "the tiles' searches rejected" not in res.output)
    assert (out / "overview.png").is_file()
    assert len(list((out / "tiles").glob("*.geojson"))) == 4
    again = run(*args)
    assert again.exit_code == 0, again.output
    assert "4 tile(s), 4 resumed" in again.output
    assert pd.read_csv(out / "candidates.csv").equals(csv)


def test_date_window_is_applied(setup):
    root, world, region, config = setup
    out = root / "dated"
    res = run("--region", str(region), "--imagery", str(world), "--out", str(out),
              "--workers", "0", "--config", str(config),
              "--start", "2024-01-01", "--end", "2024-03-31")
    assert res.exit_code == 0, res.output
    run_json = json.loads((out / "discover.json").read_text())
    assert run_json["period"] == {"start": "2024-01-01", "end": "2024-03-31"}
    assert 0 < len(run_json["products"]) <= 6


@pytest.mark.parametrize("bad", ["missing", "no-products"])
def test_bad_input_exits_2_with_one_line(setup, bad):
    root, world, region, config = setup
    args = ["--region", str(root / "nope.geojson") if bad == "missing" else str(region),
            "--imagery", str(world), "--out", str(root / "bad"), "--workers", "0",
            "--config", str(config)]
    if bad == "no-products":
        args += ["--start", "1999-01-01", "--end", "1999-12-31"]
    res = run(*args)
    assert res.exit_code == 2
    assert "error:" in res.output
