"""A scan from an imagery source to an output folder: fetch, scan, record the inputs, write.

:func:`scan_to_folder` is what ``heatwatch scan`` and ``heatwatch demo`` run. A source that
gives one folder for all the sites (local, STAC) is scanned once into ``out``. Sentinel Hub
products are per-site crops (one folder a site), so each site is scanned on its own into
``out/<site>/`` and the site rows are merged into ``out/sites.geojson``; with one site per scan
there is no cross-site calibration: heat uses the physics coefficient (no declaration), as with
any site that has no other declaring site beside it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import geopandas as gpd
import pandas as pd

from pipeline.core.config import Config
from pipeline.core.errors import OutputError
from pipeline.core.outputs import write_geojson, write_json
from pipeline.core.site_row import INTEGER_PROPERTIES
from pipeline.core.sites import safe_name
from pipeline.io.source import FetchOutcome, ImagerySource, Progress, as_source
from pipeline.io.vectors import read_exclusions
from pipeline.scan.output import write_scan
from pipeline.scan.provenance import input_files
from pipeline.scan.run import ScanResult, run_scan

__all__ = ["ScanRun", "scan_to_folder"]

#: Reads a site file into the validated site table (``aoi.sites.read_sites``, given by the caller:
#: nothing in ``pipeline`` imports ``aoi``).
SiteReader = Callable[[Path], gpd.GeoDataFrame]


@dataclass
class ScanRun:
    """What :func:`scan_to_folder` did: the site rows, each scan, and the fetch (if any)."""

    sites: gpd.GeoDataFrame
    results: list[ScanResult] = field(default_factory=list)
    fetch: FetchOutcome | None = None


@dataclass(frozen=True)
class _Hooks:
    progress: Callable[[str], None] | None
    on_total: Callable[[int], None] | None
    figures: bool


def _scan_one(folder: Path, out: Path, config: Config, sites: gpd.GeoDataFrame | None,
              sites_path: Path | None, exclusions_path: Path | None,
              exclusions: gpd.GeoDataFrame | None, hooks: _Hooks) -> ScanResult:
    if out.exists() and not out.is_dir():  # fail before the scan, not after it
        raise OutputError(f"output folder {out} is a file; pass a folder with --out "
                          "(it is created if absent)")
    result = run_scan(folder, config, sites=sites, exclusions=exclusions,
                      on_total=hooks.on_total, progress=hooks.progress)
    result.run.update(input_files(sites_path, exclusions_path))
    write_scan(result, out, figures=hooks.figures)
    return result


def scan_to_folder(
    source: ImagerySource | Path,
    out: Path,
    config: Config,
    *,
    sites_path: Path | None = None,
    read_sites: SiteReader | None = None,
    exclusions_path: Path | None = None,
    figures: bool = True,
    progress: Callable[[str], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    fetch_progress: Progress | None = None,
    on_fetched: Callable[[FetchOutcome], object] | None = None,
) -> ScanRun:
    """Fetch (if the source is remote), scan and write every output into ``out``.

    Parameters
    ----------
    source
        Where the products come from, or a folder of products.
    out
        Output folder (created if absent).
    config
        The validated configuration.
    sites_path, read_sites
        The site file and the function that reads it (``aoi.sites.read_sites`` with the
        configured area limit); recorded with its sha256 in ``run.json``.
    exclusions_path
        GeoJSON of known non-datacenter heat sources (see :func:`pipeline.scan.run.run_scan`).
    figures
        Also build the evidence PNGs, reports and map.
    progress, on_total
        Scan progress: called with each product id, and with the products of each scan.
    fetch_progress, on_fetched
        Fetch progress (``done, total, description``), and called with the fetch's report.

    Returns
    -------
    ScanRun
    """
    src = as_source(source)
    hooks = _Hooks(progress, on_total, figures)
    if sites_path is not None and read_sites is None:
        raise TypeError("scan_to_folder: give read_sites with sites_path")
    sites = None if sites_path is None or read_sites is None else read_sites(sites_path)
    # read once: a per-site source scans every site with the same layer
    exclusions = None if exclusions_path is None else read_exclusions(exclusions_path)
    folders = src.folders(sites, progress=fetch_progress)
    if src.report is not None and on_fetched is not None:
        on_fetched(src.report)
    if len(folders) == 1 and folders[0].site_ids is None:
        result = _scan_one(folders[0].path, out, config, sites, sites_path, exclusions_path,
                           exclusions, hooks)
        return ScanRun(result.sites, [result], src.report)
    assert sites is not None and read_sites is not None  # a per-site source fetched sites
    rows, results = [], []
    for folder in folders:
        sid = (folder.site_ids or ("",))[0]
        site_file = folder.path / "site.geojson"
        write_geojson(site_file, sites[sites["site_id"] == sid])
        result = _scan_one(folder.path, out / safe_name(sid), config, read_sites(site_file),
                           site_file, exclusions_path, exclusions, hooks)
        rows.append(result.sites)
        results.append(result)
    merged = pd.concat(rows, ignore_index=True) if rows else sites.iloc[0:0]
    write_geojson(out / "sites.geojson", merged, integers=INTEGER_PROPERTIES)
    if src.report is not None:
        write_json(out / "fetch.json", src.report.to_dict())
    return ScanRun(merged, results, src.report)
