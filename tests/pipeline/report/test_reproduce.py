"""A third party reproduces a site's numbers from the provenance in its report, alone."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from aoi.sites import read_sites
from pipeline.core.config import Config
from pipeline.core.outputs import sha256_file
from pipeline.core.sites import safe_name
from pipeline.scan.run import run_scan
from tests.support.report_world import CAMPUS, shared_scan

KEYS = ("status", "heat_mw", "heat_mw_low", "heat_mw_high", "excess_k_m2", "excess_se_k_m2",
        "hidden_k_m2", "hidden_se_k_m2",
        "k_m2_per_mw", "footprint_m2", "power_density_w_m2", "power_density_w_m2_low",
        "power_density_w_m2_high", "first_seen", "last_seen", "possible_shutdown_since", "n_clear",
        "implied_h100e", "implied_h100e_low", "implied_h100e_high")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_scan(tmp_path_factory)


def _provenance(report: Path) -> dict:
    page = report.read_text(encoding="utf-8")
    m = re.search(r'<script type="application/json" id="provenance">(.*?)</script>', page, re.S)
    assert m is not None, "the report embeds no provenance"
    return json.loads(m.group(1))


def test_site_numbers_reproduce_from_the_report_provenance(out: Path, tmp_path: Path) -> None:
    prov = _provenance(out / "reports" / f"{safe_name(CAMPUS)}.html")
    assert prov["site_id"] == CAMPUS
    # 1. Every listed input exists and has the recorded sha256; copy exactly those files.
    imagery = Path(prov["imagery_dir"])
    fresh = tmp_path / "imagery"
    fresh.mkdir()
    assert prov["inputs"], "no input listed"
    for item in prov["inputs"]:
        src = imagery / item["path"]
        assert sha256_file(src) == item["sha256"], f"{item['path']} changed"
        shutil.copy2(src, fresh / item["path"])
    sites_file = Path(prov["sites_file"])
    assert sha256_file(sites_file) == prov["sites_sha256"]
    # 2. The output files the report is drawn from are the ones on disk.
    for rel, digest in prov["outputs_sha256"].items():
        assert sha256_file(out / rel) == digest
    # 3. Re-run the scan with the recorded config on the listed files only.
    config = Config.model_validate(prov["config"])
    sites = read_sites(sites_file, max_area_km2=config.grid.max_site_area_km2)
    again = run_scan(fresh, config, sites=sites)
    assert again.run["software"] == prov["software"]
    assert [s["product_id"] for s in again.run["scenes"]] == \
        [s["product_id"] for s in prov["scenes"]]
    row = again.sites.set_index("site_id").loc[CAMPUS]
    recomputed = {k: row[k] for k in KEYS}
    assert recomputed == prov["numbers"]
    # 4. ... and they are the numbers published in sites.geojson.
    published = next(f["properties"] for f in json.loads((out / "sites.geojson").read_text())
                     ["features"] if f["properties"]["site_id"] == CAMPUS)
    assert {k: published[k] for k in KEYS} == recomputed
    assert recomputed["status"] == "active" and recomputed["heat_mw"] > 0
