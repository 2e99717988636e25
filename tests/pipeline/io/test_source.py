"""The imagery-source interface: local folders, and how the commands choose a source."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import pytest

from pipeline.core.config import load_config
from pipeline.core.errors import ConfigError
from pipeline.io.sentinelhub import SentinelHubSource
from pipeline.io.source import (
    ImageryFolder,
    ImagerySource,
    LocalSource,
    Ticker,
    as_source,
    fetch_period,
    write_fetch_record,
)
from pipeline.io.sources import discover_source, fetch_source, open_source, scan_source
from pipeline.io.stac.source import StacSource


class _Report:
    def __init__(self) -> None:
        self.products = ["a/LC08_X"]
        self.failures = [("a", None, "boom")]

    def to_dict(self) -> dict:
        return {"products": self.products, "n_requests": 2}


def test_local_source_is_its_folder_and_says_so_in_provenance(tmp_path: Path) -> None:
    src = LocalSource(tmp_path)
    assert isinstance(src, ImagerySource)
    assert src.folders(None) == [ImageryFolder(tmp_path, None)]
    assert src.report is None and src.name == "local"
    assert src.provenance() == {"imagery_dir": str(tmp_path)}


def test_a_path_becomes_a_local_source_and_a_source_stays_itself(tmp_path: Path) -> None:
    assert as_source(tmp_path) == LocalSource(tmp_path)
    assert as_source(str(tmp_path)) == LocalSource(tmp_path)
    src = LocalSource(tmp_path / "x")
    assert as_source(src) is src


def test_every_source_implements_the_protocol(tmp_path: Path) -> None:
    cfg = load_config(environ={})
    day = date(2024, 1, 1)
    for src in (LocalSource(tmp_path),
                StacSource(tmp_path, day, day, cfg.stac, 0.0),
                SentinelHubSource(tmp_path, day, day, cfg.sentinelhub, 0.0)):
        assert isinstance(src, ImagerySource)
        assert src.provenance() == {"imagery_dir": str(tmp_path)}


def test_ticker_counts_steps_against_a_growing_total() -> None:
    seen: list[tuple[int, int, str]] = []
    tick = Ticker(lambda *a: seen.append(a), total=2)
    tick("search a")
    tick("search b")
    tick.add(3)
    tick("p1")
    assert seen == [(1, 2, "search a"), (2, 2, "search b"), (3, 5, "p1")]
    Ticker(None, total=1)("silent")  # no callback: counts only


def test_fetch_record_says_what_was_asked_then_what_was_done(tmp_path: Path) -> None:
    path = tmp_path / "new" / "fetch.json"
    write_fetch_record(path, _Report(), start=date(2024, 1, 2), end=date(2024, 3, 4),
                       margin_m=300.0, about={"command": "fetch", "sites_file": "s.geojson"})
    record = json.loads(path.read_text())
    assert record == {"command": "fetch", "sites_file": "s.geojson", "start": "2024-01-02",
                      "end": "2024-03-04", "margin_m": 300.0, "products": ["a/LC08_X"],
                      "n_requests": 2}
    assert list(record)[:5] == ["command", "sites_file", "start", "end", "margin_m"]


def test_fetch_period_needs_sites_and_iso_dates() -> None:
    assert fetch_period("stac", "2024-01-01", "2024-12-31", has_sites=True) == (
        date(2024, 1, 1), date(2024, 12, 31))
    with pytest.raises(ConfigError, match="--source stac needs --sites, --start and --end"):
        fetch_period("stac", "2024-01-01", "2024-12-31", has_sites=False)
    with pytest.raises(ConfigError, match="dates like 2024-01-31"):
        fetch_period("sentinelhub", "2024-13-01", "2024-12-31", has_sites=True)


def test_commands_choose_their_source(tmp_path: Path) -> None:
    cfg = load_config(environ={})
    sites = tmp_path / "s.geojson"
    assert scan_source("local", tmp_path, cfg, sites_path=None, start=None, end=None) == \
        LocalSource(tmp_path)
    stac = scan_source("stac", tmp_path, cfg, sites_path=sites, start="2024-01-01",
                       end="2024-02-01")
    assert isinstance(stac, StacSource) and stac.record == tmp_path / "fetch.json"
    assert stac.about == {"command": "scan --source stac", "sites_file": str(sites)}
    hub = scan_source("sentinelhub", tmp_path, cfg, sites_path=sites, start="2024-01-01",
                      end="2024-02-01")
    assert isinstance(hub, SentinelHubSource) and hub.record is None
    assert hub.margin_m == cfg.grid.margin_m
    with pytest.raises(ConfigError, match="use 'local', 'sentinelhub' or 'stac'"):
        scan_source("ftp", tmp_path, cfg, sites_path=sites, start=None, end=None)
    with pytest.raises(ConfigError, match="give --imagery FOLDER"):
        discover_source("local", None, tmp_path, cfg, start=None, end=None, region_file=sites)
    with pytest.raises(ConfigError, match="needs --start and --end"):
        discover_source("sentinelhub", None, tmp_path, cfg, start=None, end=None,
                        region_file=sites)
    with pytest.raises(ConfigError, match="use 'sentinelhub' or 'stac'"):
        fetch_source("local", tmp_path, cfg, start=date(2024, 1, 1), end=date(2024, 1, 2),
                     level=None, baseline=True, sites_file=sites)
    assert open_source("local", tmp_path, cfg) == LocalSource(tmp_path)


def test_discover_fetches_tiles_as_they_are_into_out_imagery(tmp_path: Path) -> None:
    from datetime import datetime

    cfg = load_config(environ={})
    src = discover_source("sentinelhub", None, tmp_path, cfg, start=datetime(2024, 1, 1),
                          end=datetime(2024, 6, 30), region_file=tmp_path / "r.geojson")
    assert isinstance(src, SentinelHubSource)
    assert (src.out_dir, src.start, src.end) == (tmp_path / "imagery", date(2024, 1, 1),
                                                 date(2024, 6, 30))
    assert src.margin_m == 0.0 and src.record == tmp_path / "fetch.json"
    assert src.about == {"command": "discover", "region_file": str(tmp_path / "r.geojson")}
