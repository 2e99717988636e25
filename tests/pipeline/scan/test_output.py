"""Writing a scan: the report rasters come from what the scan kept, never from re-reading."""

from __future__ import annotations

import json
import shutil
import warnings
from pathlib import Path

import numpy as np
import rasterio

from aoi.sites import read_sites
from pipeline.core.config import Config
from pipeline.io.reader import discover_products
from pipeline.io.stack import SceneLog, iter_scenes
from pipeline.scan.output import write_scan
from pipeline.scan.run import run_scan
from tests.support.report_world import make_world


def test_rasters_are_written_after_the_imagery_is_gone(tmp_path: Path) -> None:
    imagery, sites = make_world(tmp_path / "world", n_looks=8)
    config = Config()
    result = run_scan(imagery, config, sites=read_sites(sites))
    dates = {d: pid for d, pid, _, _ in result.state.overlays}
    assert dates, "the scan keeps at least the last look for the report"
    # the temperatures of those looks, read independently from the products
    products, _ = discover_products(imagery)
    chosen = [p for p in products if p.product_id in set(dates.values())]
    grid = result.state.grid
    temps = [ds["temperature"].values for ds in iter_scenes(chosen, grid, config=config.reader,
                                                             log=SceneLog())]
    shutil.rmtree(imagery)  # a fetched folder may be gone when the outputs are written

    write_scan(result, tmp_path / "out", figures=False)
    rasters = json.loads((tmp_path / "out" / "run.json").read_text())["outputs"]["rasters"]
    assert [d["date"] for d in rasters["anomaly_dates"]] == sorted(dates)
    with rasterio.open(tmp_path / "out" / rasters["temperature_median"]) as src:
        median = src.read(1, masked=True).filled(np.nan)
    with warnings.catch_warnings():  # pixels cloudy in every chosen look stay NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        want = np.nanmedian(np.stack(temps), axis=0)
    assert np.allclose(median, want, equal_nan=True, atol=1e-4)
