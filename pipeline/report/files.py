"""A finished scan read back from its output folder: the only input of every report.

Nothing here imports the scan: reports, the web map and the PDF are rebuilt from the files
:func:`pipeline.scan.output.write_scan` wrote, so a third party can rebuild them from a copy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, cast

import geopandas as gpd
import pandas as pd
import rioxarray
import xarray as xr
from shapely.geometry import shape

from pipeline.core.errors import OutputError
from pipeline.core.site_row import SiteRow
from pipeline.core.sites import safe_name, split_covered

REPORT_DIR = "reports"


EVIDENCE_DIR = "evidence"


MAP_FILE = "map.html"


#: Config sections shown as parameter tables (the rest is in the full config below them).
METHOD_SECTIONS = ("reader", "grid", "anomaly", "detection", "persistence", "power")


@dataclass
class ScanFiles:
    """A finished scan as read back from its output folder."""

    out_dir: Path
    records: list[SiteRow]
    hotspots: gpd.GeoDataFrame
    series: dict[str, pd.DataFrame]
    run: dict[str, Any]
    rasters: dict[str, Any] = field(default_factory=dict)
    #: Each site's placebo null, one row per footprint (``nulls/<site>.csv``), where written.
    nulls: dict[str, pd.DataFrame] = field(default_factory=dict)

    def raster(self, rel: str | None) -> xr.DataArray | None:
        """Read a raster named relative to the output folder (None when absent)."""
        if not rel:
            return None
        path = inside(self.out_dir, rel)
        return read_raster(path) if path.is_file() else None


def inside(out_dir: Path, rel: str) -> Path:
    """Resolve ``rel`` under ``out_dir``; refuse paths that would leave it.

    Examples
    --------
    >>> inside(Path("/tmp/out"), "rasters/a.tif").as_posix()
    '/tmp/out/rasters/a.tif'
    """
    base = out_dir.resolve()
    path = (base / rel).resolve()
    if not path.is_relative_to(base):
        raise OutputError(f"{rel!r} in run.json points outside {out_dir}; refusing to read it")
    return path


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise OutputError(f"{path} is missing; run `heatwatch scan ... --out "
                          f"{path.parent}` first") from exc
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot read {path}: {exc}") from exc


def load_scan(out_dir: Path) -> ScanFiles:
    """Read a finished scan's outputs (no recomputation).

    Parameters
    ----------
    out_dir
        The folder ``heatwatch scan --out`` wrote.

    Returns
    -------
    ScanFiles
        Site records (properties plus lon/lat ``geometry``), hotspots, series, placebo
        nulls, run.json.

    Raises
    ------
    OutputError
        If ``run.json`` or ``sites.geojson`` is missing or unreadable.
    """
    run = _read_json(out_dir / "run.json")
    features = _read_json(out_dir / "sites.geojson").get("features", [])
    # the one unchecked step: JSON read back is taken for the rows the scan wrote (a scan
    # written by an older version may lack newer keys: readers use .get for those)
    records = [cast(SiteRow, {**f["properties"], "geometry": shape(f["geometry"])})
               for f in features]
    hs_path = out_dir / "hotspots.geojson"
    hotspots = gpd.read_file(hs_path) if hs_path.is_file() else gpd.GeoDataFrame(
        geometry=[], crs=4326)
    series, nulls = {}, {}
    for rec in records:
        name = safe_name(str(rec["site_id"]))
        path = out_dir / "series" / f"{name}.csv"
        if path.is_file():
            series[str(rec["site_id"])] = pd.read_csv(path, dtype={"date": str})
        path = out_dir / "nulls" / f"{name}.csv"  # absent in scans before 2026-12
        if path.is_file():
            nulls[str(rec["site_id"])] = pd.read_csv(path)
    rasters = run.get("outputs", {}).get("rasters") or {}
    return ScanFiles(out_dir, records, hotspots, series, run, rasters, nulls)


def scan_area(run: dict[str, Any]) -> Any:
    """Return the scan grid of ``run.json`` as a lon/lat polygon (``None`` when not recorded)."""
    from affine import Affine
    from rasterio.warp import transform_bounds
    from shapely.geometry import box

    grid = run.get("grid") or {}
    try:
        t, (h, w) = Affine(*grid["transform"][:6]), grid["shape"]
        x0, y0 = t * (0, 0)
        x1, y1 = t * (w, h)
        return box(*transform_bounds(grid["crs"], "EPSG:4326", min(x0, x1), min(y0, y1),
                                     max(x0, x1), max(y0, y1), densify_pts=21))
    except (KeyError, TypeError, ValueError):
        return None


def not_covered(scan: ScanFiles) -> list[dict[str, Any]]:
    """Catalog sites the imagery does not show: no look, so no figure and no report.

    The scan names them in ``run.json`` (``not_covered``); a scan written before it did may
    hold them in ``sites.geojson``, with every look cloudy: those outside the scan grid are
    found with the same test (:func:`pipeline.core.sites.split_covered`) and named too.
    """
    named = [dict(s) for s in scan.run.get("not_covered") or []]
    area = scan_area(scan.run)
    catalogued = [r for r in scan.records if r.get("in_catalog")]
    if area is not None and catalogued:
        sites = gpd.GeoDataFrame({"site_id": [str(r["site_id"]) for r in catalogued]},
                                 geometry=[r["geometry"] for r in catalogued], crs=4326)
        outside = set(split_covered(sites, area)[1]["site_id"])
        named += [{"site_id": str(r["site_id"]), "name": r.get("name")} for r in catalogued
                  if str(r["site_id"]) in outside]
    return named


def not_covered_line(sites: list[dict[str, Any]]) -> str | None:
    """One line naming the sites not covered by the imagery (``None`` when there are none).

    Examples
    --------
    >>> not_covered_line([{"site_id": "a"}, {"site_id": "b"}])
    '2 catalog site(s) not covered by the imagery, no evidence written: a, b'
    """
    if not sites:
        return None
    return (f"{len(sites)} catalog site(s) not covered by the imagery, no evidence written: "
            + ", ".join(str(s["site_id"]) for s in sites))


def data_credits(scan: ScanFiles) -> list[str]:
    """Credit lines of the site data behind a scan (Epoch AI, CC-BY 4.0), each once."""
    found = list(scan.run.get("data_credits") or [])
    found += [str(r["data_credit"]) for r in scan.records if r.get("data_credit")]
    return sorted(set(found))


def product_rows(series: pd.DataFrame | None, run: dict[str, Any]) -> list[list[Any]]:
    """Rows of date, product id, scene and site clear fraction, and excess, one per look."""
    scenes = {s.get("product_id"): s for s in run.get("scenes", [])}
    if series is None:
        return [[str(s.get("acquisition_time", ""))[:10], pid, s.get("clear_fraction"), None,
                 None] for pid, s in scenes.items()]
    return [[r.date, r.product_id, scenes.get(r.product_id, {}).get("clear_fraction"),
             r.clear_fraction, None if pd.isna(r.excess_k_m2) else float(r.excess_k_m2)]
            for r in series.itertuples()]


def read_raster(path: Path) -> xr.DataArray:
    """Read a single-band report raster back as a (y, x) DataArray with NaN for nodata."""
    da = rioxarray.open_rasterio(path, masked=True)
    assert isinstance(da, xr.DataArray)
    return da.squeeze("band", drop=True).load()
