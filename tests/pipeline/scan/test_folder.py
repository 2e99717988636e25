"""A scan from any imagery source into a folder (pipeline.scan.folder.scan_to_folder)."""

from __future__ import annotations

import hashlib
import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import pytest

from aoi.sites import read_sites
from pipeline.core.config import load_config
from pipeline.io.source import FetchOutcome, ImageryFolder, ImagerySource, Progress
from pipeline.scan.folder import scan_to_folder
from tests.pipeline.monitor.test_monitor import write_world


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_world(tmp_path_factory.mktemp("folderworld"), n_scenes=8)


@dataclass
class _PerSite:
    """A source that, like Sentinel Hub, hands over one folder of products a site."""

    root: Path
    name: str = "per-site"
    report: FetchOutcome | None = None
    asked: list[list[str]] = field(default_factory=list)

    def folders(self, sites: gpd.GeoDataFrame | None, *,
                progress: Progress | None = None) -> list[ImageryFolder]:
        assert sites is not None
        self.asked.append(sorted(map(str, sites["site_id"])))
        return [ImageryFolder(self.root / str(s), (str(s),)) for s in sites["site_id"]]

    def provenance(self) -> dict[str, Any]:
        return {"imagery_dir": str(self.root)}


def test_a_folder_is_scanned_once_with_its_files_recorded(world: Path, tmp_path: Path) -> None:
    sites = world / "sites.geojson"
    run = scan_to_folder(world / "imagery", tmp_path / "out", load_config(environ={}),
                         sites_path=sites, read_sites=read_sites, figures=False)
    assert len(run.results) == 1 and run.fetch is None
    written = json.loads((tmp_path / "out" / "run.json").read_text())
    assert written["imagery_dir"] == str(world / "imagery")
    assert written["sites_file"] == str(sites) and written["exclusions_file"] is None
    assert written["sites_sha256"] == hashlib.sha256(sites.read_bytes()).hexdigest()
    assert sorted(run.sites["site_id"]) == ["campus", "wh"]


def test_a_per_site_source_is_scanned_site_by_site_and_merged(world: Path,
                                                              tmp_path: Path) -> None:
    src = _PerSite(tmp_path / "fetched")
    for sid in ("campus", "wh"):
        shutil.copytree(world / "imagery", src.root / sid)
    assert isinstance(src, ImagerySource)
    run = scan_to_folder(src, tmp_path / "out", load_config(environ={}),
                         sites_path=world / "sites.geojson", read_sites=read_sites,
                         figures=False)
    assert src.asked == [["campus", "wh"]]
    assert [list(r.sites["site_id"]) for r in run.results] == [["campus"], ["wh"]]
    merged = gpd.read_file(tmp_path / "out" / "sites.geojson")
    assert list(merged["site_id"]) == ["campus", "wh"]
    for sid in ("campus", "wh"):  # each site's own scan, with its own one-site file
        written = json.loads((tmp_path / "out" / sid / "run.json").read_text())
        site_file = src.root / sid / "site.geojson"
        assert written["sites_file"] == str(site_file)
        assert list(read_sites(site_file)["site_id"]) == [sid]
        assert written["imagery_dir"] == str(src.root / sid)
