"""The accuracy benchmark says why each missed new campus was missed (bench/accuracy.py)."""

from __future__ import annotations

import sys
from pathlib import Path
from types import SimpleNamespace

import geopandas as gpd
import numpy as np
from affine import Affine
from rasterio.crs import CRS
from shapely.geometry import box

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:  # ``bench`` is a folder of scripts, not an installed package
    sys.path.insert(0, str(ROOT))

from bench.accuracy import missed_because  # noqa: E402
from pipeline.core.grid import Grid  # noqa: E402
from pipeline.science.footprint import SiteMasks  # noqa: E402


def _result() -> SimpleNamespace:
    """A 40 x 40 px grid (30 m) with one listed site and one rejected searched region."""
    grid = Grid(CRS.from_epsg(32633), Affine(30, 0, 500_000, 0, -30, 4_000_000), (40, 40))
    region = np.zeros((40, 40), bool)
    region[5:25, 5:25] = True  # 400 px, 0.36 km2
    listed = np.zeros((40, 40), bool)
    listed[30:38, 30:38] = True
    masks = {"candidate-1": SiteMasks("candidate-1", region, region, ~region),
             "S1": SiteMasks("S1", listed, listed, ~listed)}
    sites = gpd.GeoDataFrame({"site_id": ["S1"], "in_catalog": [True], "status": ["active"]},
                             geometry=[box(0, 0, 1, 1)], crs=4326)
    why = ("its 200 placebo footprints cover only 3.3 footprints of distinct background land, "
           "too few to set a search's false-alarm rate; scan a larger area")
    run = {"rejected_candidates": [{"site_id": "candidate-1", "rejected_because": why,
                                    "rejected_kind": "too_little_land"}]}
    return SimpleNamespace(state=SimpleNamespace(grid=grid), masks=masks, sites=sites, run=run)


def _lonlat(r0: int, r1: int, c0: int, c1: int):  # type: ignore[no-untyped-def]
    """A pixel box of the grid as an EPSG:4326 polygon."""
    local = box(500_000 + c0 * 30, 4_000_000 - r1 * 30, 500_000 + c1 * 30, 4_000_000 - r0 * 30)
    return gpd.GeoSeries([local], crs=32633).to_crs(4326).iloc[0]


def test_a_campus_inside_a_rejected_region_gets_its_reason_and_kind() -> None:
    got = missed_because(_lonlat(10, 20, 10, 20), _result())
    assert got["region"] == "candidate-1" and got["covers"] == 1.0
    assert got["region_km2"] == 0.36  # 400 px of 900 m2
    assert got["kind"] == "too little distinct land"
    assert got["reason"].startswith("its 200 placebo footprints cover only 3.3")


def test_the_kind_is_the_scan_s_code_not_the_words_of_its_reason() -> None:
    # a null's reason that speaks of roofs is still "within its null": the label follows the
    # scan's rejected_kind, whatever words the reason holds
    result = _result()
    entry = result.run["rejected_candidates"][0]
    entry["rejected_because"] = (
        "its onset step does not stand far enough outside its scene's null (rank p 0.005 "
        "among 200 placebo footprints; land alone would make such a step (a rise no new roof "
        "explains) 1.94 times per 1,000 km2)")
    entry["rejected_kind"] = "within_null"
    assert missed_because(_lonlat(10, 20, 10, 20), result)["kind"] == "within its null"
    entry["rejected_kind"] = "roof_explains"
    assert missed_because(_lonlat(10, 20, 10, 20), result)["kind"] == \
        "a new roof explains it as well"


def test_every_rejection_code_of_the_scan_has_a_label() -> None:
    from bench.accuracy import MISS_KINDS
    from pipeline.core.site_row import REJECTION_KINDS

    assert set(MISS_KINDS) == set(REJECTION_KINDS)
    assert len(set(MISS_KINDS.values())) == len(MISS_KINDS)  # no two codes read the same


def test_a_campus_in_no_searched_region_says_so_and_a_listed_site_is_no_region() -> None:
    for where in (_lonlat(30, 38, 5, 12), _lonlat(31, 37, 31, 37)):  # plain land; the listed S1
        got = missed_because(where, _result())
        assert (got["region"], got["kind"]) == (None, "in no searched region")
