"""Regional discovery: scan every tile of a region in parallel, merge, rank, write.

The region is cut into tiles (:func:`pipeline.discover.tiles.tile_region`). Each tile is one task:
the products whose footprint meets the tile grid are scanned by :func:`pipeline.scan.run.run_scan`
on that grid, exactly as ``heatwatch scan`` does, and the tile's uncatalogued candidates (status
``candidate`` or ``excluded``) are written to ``OUT/tiles/<tile_id>.geojson``, with the regions
its search found and rejected and why (``discover.json`` ``rejected_candidates`` lists them all,
hottest first: a campus whose tile left its placebo null too little land is there, not lost).
That file is the
tile's done marker: it records a hash of everything the tile's answer depends on (settings,
grid, products, sites, exclusions), so a re-run skips tiles already done with the same inputs.

Tasks run on Dask: a ``distributed.LocalCluster`` (``discover.n_workers`` processes, one thread
each) by default, an existing scheduler when ``discover.scheduler_address`` is set, the
``client`` given, or in this process with ``client=False``. Workers read the imagery and write
the tile files themselves, so on a multi-machine cluster the imagery folder and ``OUT`` must be
on a shared file system. Memory per worker is bounded by the tile size, not the region size: the
scan streams one scene at a time, reads only the window of each product that covers the tile,
and keeps the calibrated temperatures in a disk-backed array.

Imagery comes in one of two layouts. A folder of whole Landsat products (USGS downloads): each
tile takes the products whose footprint meets its grid. Or one folder per tile
(``IMAGERY/<tile_id>/``, ``per_tile=True``), as ``heatwatch discover --source sentinelhub``
fetches it: Sentinel Hub crops every acquisition to the area asked for, so the crops of
neighbouring tiles overlap and each tile must read its own crops only (else a date would count
twice). :func:`tile_sites` gives the areas to fetch.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from shapely.geometry import box

from pipeline import __version__
from pipeline.core.config import Config
from pipeline.core.errors import HeatwatchError, NoDataError
from pipeline.core.grid import Grid
from pipeline.core.outputs import whole_numbers, write_geojson, write_json, write_png, write_text
from pipeline.core.site_row import INTEGER_PROPERTIES
from pipeline.core.sites import empty_site_table, safe_name
from pipeline.discover.tiles import Tile, merge_candidates, region_geometry, tile_region
from pipeline.io.mtl import read_mtl
from pipeline.io.reader import ProductFiles, discover_products, product_extent
from pipeline.io.source import ImagerySource, Progress, as_source
from pipeline.scan.provenance import run_provenance
from pipeline.scan.run import run_scan

TILES_DIR = "tiles"
#: Columns of ``candidates.csv``, in order.
CSV_COLUMNS = ["rank", "site_id", "tile_id", "status", "heat_mw", "heat_mw_low", "heat_mw_high",
               "power_density_w_m2", "null_p_value", "null_false_alarm_per_1000km2",
               "null_resolved_per_1000km2", "null_region_z", "persistence", "pattern", "roof_gap",
               "own_season", "season_share", "shared_change_regions", "searched_regions",
               "busiest_other_look_regions", "shared_change_p", "n_clear",
               "first_seen", "last_seen", "possible_shutdown_since", "exclusion", "verdict",
               "lon", "lat", "tile_site_id"]
#: Settings that change how tiles are run, not what they find (left out of the tile hash).
_RUN_ONLY = ("n_workers", "scheduler_address")


@dataclass(frozen=True)
class TileJob:
    """Everything one tile task needs (picklable, sent to a Dask worker)."""

    tile: Tile
    products: tuple[ProductFiles, ...]
    config: Config
    sites: gpd.GeoDataFrame | None
    exclusions: gpd.GeoDataFrame | None
    path: Path
    key: str


@dataclass(frozen=True)
class TileOutcome:
    """What happened to one tile: ``done``, ``resumed``, ``no_data`` or ``failed``."""

    tile_id: str
    status: str
    n_products: int = 0
    n_scenes: int = 0
    n_candidates: int = 0
    seconds: float = 0.0
    message: str | None = None


@dataclass
class DiscoverResult:
    """A finished discovery: ranked candidates, the tiles and what happened to each."""

    candidates: gpd.GeoDataFrame
    tiles: list[Tile]
    outcomes: list[TileOutcome]
    run: dict[str, Any] = field(default_factory=dict)


# Inputs ----------------------------------------------------------------------------------------


def filter_dates(products: Sequence[ProductFiles], *, start: date | None = None,
                 end: date | None = None) -> list[ProductFiles]:
    """Keep the products acquired from ``start`` to ``end`` (inclusive, dates from the MTL).

    Products whose MTL cannot be read are kept: the scan reports them as skipped.
    """
    if start is None and end is None:
        return list(products)
    out = []
    for p in products:
        try:
            day = read_mtl(p.mtl).acquired.date()
        except HeatwatchError:
            out.append(p)
            continue
        if (start is None or day >= start) and (end is None or day <= end):
            out.append(p)
    return out


def _footprints(products: Sequence[ProductFiles]) -> list[tuple[ProductFiles, Any, Any]]:
    out = []
    for p in products:
        try:
            crs, bounds = product_extent(p)
        except HeatwatchError:
            out.append((p, None, None))  # unreadable MTL: let every tile's scan report it
            continue
        out.append((p, crs, box(*bounds)))
    return out


def products_for(grid: Grid, footprints: Sequence[tuple[ProductFiles, Any, Any]]
                 ) -> list[ProductFiles]:
    """Products whose footprint (from the MTL) intersects ``grid``."""
    out = []
    for p, crs, shape in footprints:
        if crs is None or box(*grid.bounds_in(crs)).intersects(shape):
            out.append(p)
    return out


def _grid_4326(grid: Grid) -> Any:
    return box(*grid.bounds_in("EPSG:4326"))


def region_tiles(region: gpd.GeoDataFrame | Any, config: Config) -> list[Tile]:
    """Cut ``region`` into tiles under the ``discover`` settings (see :func:`tile_region`)."""
    d = config.discover
    return tile_region(region, tile_size_m=d.tile_size_m, overlap_m=d.tile_overlap_m,
                       resolution=config.grid.resolution_m)


def tile_sites(tiles: Sequence[Tile]) -> gpd.GeoDataFrame:
    """Return the tiles as areas to fetch (EPSG:4326): ``site_id`` = tile id, polygon = grid.

    :func:`pipeline.io.sentinelhub.fetch_sites` then writes each tile's products to
    ``<out>/<tile_id>/``, the layout ``run_discover(..., per_tile=True)`` reads.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> tiles = tile_region(box(-97.3, 38.5, -97.2, 38.6), tile_size_m=6000, overlap_m=1000)
    >>> frame = tile_sites(tiles)
    >>> list(frame["site_id"]) == [t.tile_id for t in tiles], frame.crs.to_epsg()
    (True, 4326)
    """
    return gpd.GeoDataFrame({"site_id": [t.tile_id for t in tiles]},
                            geometry=[_grid_4326(t.grid) for t in tiles], crs=4326)


def _fetch_tiles(source: ImagerySource, tiles: Sequence[Tile], config: Config,
                 progress: Progress | None) -> tuple[Path, bool]:
    """Make the tiles' products local; return the imagery folder and whether it is per tile."""
    if source.name == "sentinelhub":  # one request a tile: check before fetching anything
        from pipeline.io.sentinelhub import check_tile_size

        check_tile_size(tile_sites(tiles), config.discover)
    folders = source.folders(tile_sites(tiles), progress=progress)
    root = Path(source.provenance()["imagery_dir"])
    return root, any(f.site_ids is not None for f in folders)


def _tile_folders(imagery_dir: Path, tiles: Sequence[Tile], start: date | None,
                  end: date | None) -> tuple[dict[str, tuple[ProductFiles, ...]], list[Any]]:
    """Each tile's products from its own folder ``imagery_dir/<tile_id>`` (none if absent)."""
    if not Path(imagery_dir).is_dir():
        raise NoDataError(f"imagery folder {imagery_dir} does not exist; fetch the tiles "
                          "first (heatwatch discover --source sentinelhub does)")
    per_tile: dict[str, tuple[ProductFiles, ...]] = {}
    problems: list[Any] = []
    for tile in tiles:
        folder = Path(imagery_dir) / safe_name(tile.tile_id)
        found, trouble = discover_products(folder) if folder.is_dir() else ([], [])
        per_tile[tile.tile_id] = tuple(filter_dates(found, start=start, end=end))
        problems += trouble
    return per_tile, problems


def _digest(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()


def _frame_digest(frame: gpd.GeoDataFrame | None) -> str | None:
    return None if frame is None or not len(frame) else _digest(frame.to_crs(4326).to_json())


def tile_key(tile: Tile, products: Sequence[ProductFiles], config: Config,
             sites: gpd.GeoDataFrame | None, exclusions: gpd.GeoDataFrame | None) -> str:
    """Hash of everything a tile's answer depends on (resume skips tiles with the same key)."""
    cfg = config.as_dict()
    cfg["discover"] = {k: v for k, v in cfg["discover"].items() if k not in _RUN_ONLY}
    files = [(p.product_id, *(f.name for f in p.files), *(f.stat().st_size for f in p.files))
             for p in products]
    return _digest({"version": __version__, "config": cfg, "grid": [
        tile.grid.crs.to_string(), list(tile.grid.transform)[:6], list(tile.grid.shape)],
        "products": sorted(files), "sites": _frame_digest(sites),
        "exclusions": _frame_digest(exclusions)})


# One tile (runs on a worker) -------------------------------------------------------------------


def _link_products(products: Sequence[ProductFiles], folder: Path) -> None:
    for p in products:
        for f in p.files:
            target = folder / f.name
            if not target.exists():
                os.symlink(f.resolve(), target)


def scan_tile(job: TileJob) -> TileOutcome:
    """Scan one tile and write its candidates (the tile's done marker); return what happened.

    The tile's products are linked into a private folder so that the scan reads only them.
    A tile without usable scenes is marked done with no candidates; any other Heatwatch error
    leaves no marker (the tile is retried on the next run) and is reported in the outcome.
    """
    t0 = time.perf_counter()
    tid = job.tile.tile_id
    meta: dict[str, Any] = {"tile_id": tid, "key": job.key, "epsg": job.tile.epsg,
                            "products": [p.product_id for p in job.products]}
    if not job.products:
        _write_tile(job.path, None, {**meta, "status": "no_data", "message": "no scene"})
        return TileOutcome(tid, "no_data", message="no scene covers the tile")
    try:
        with tempfile.TemporaryDirectory(prefix=f"heatwatch-{tid}-") as tmp:
            _link_products(job.products, Path(tmp))
            result = run_scan(Path(tmp), job.config, sites=job.sites, exclusions=job.exclusions,
                              grid=job.tile.grid)
    except NoDataError as exc:
        _write_tile(job.path, None, {**meta, "status": "no_data", "message": str(exc)})
        return TileOutcome(tid, "no_data", len(job.products), 0, 0,
                           time.perf_counter() - t0, str(exc))
    except HeatwatchError as exc:
        return TileOutcome(tid, "failed", len(job.products), 0, 0,
                           time.perf_counter() - t0, str(exc))
    s = result.sites
    cands = s[~s["in_catalog"].astype(bool) & s["status"].isin(["candidate", "excluded"])]
    cands = cands.assign(tile_id=tid)
    meta.update(status="done", scenes=len(result.run["scenes"]),
                skipped=result.run["skipped"], calibration=result.run["calibration"]["method"],
                # the regions the tile's search found and the null or the rules rejected,
                # with why and where: nothing the search saw is lost
                rejected_candidates=result.run["rejected_candidates"])
    _write_tile(job.path, cands, meta)
    return TileOutcome(tid, "done", len(job.products), len(result.run["scenes"]), len(cands),
                       round(time.perf_counter() - t0, 2))


def _write_tile(path: Path, cands: gpd.GeoDataFrame | None, meta: dict[str, Any]) -> None:
    features = json.loads(cands.to_crs(4326).to_json(na="null", drop_id=True))["features"] \
        if cands is not None and len(cands) else []
    write_json(path, {"type": "FeatureCollection", "features": features, "heatwatch": meta})


def read_tile(path: Path) -> tuple[gpd.GeoDataFrame, dict[str, Any]]:
    """Read a tile file: its candidates (EPSG:4326) and its ``heatwatch`` record."""
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    meta = data.get("heatwatch", {})
    if not data["features"]:
        return empty_site_table("tile_id"), meta
    return gpd.GeoDataFrame.from_features(data["features"], crs=4326), meta


def _done(path: Path, key: str) -> bool:
    try:
        _, meta = read_tile(path)
    except (OSError, ValueError, KeyError):
        return False
    return meta.get("key") == key


# Scheduling ------------------------------------------------------------------------------------


def _open_client(config: Config, client: Any, stack: ExitStack) -> Any:
    if client is False:
        return None
    if client is not None:
        return client
    from distributed import Client, LocalCluster

    if config.discover.scheduler_address:
        return stack.enter_context(Client(config.discover.scheduler_address))
    cluster = stack.enter_context(LocalCluster(
        n_workers=config.discover.n_workers, threads_per_worker=1, processes=True,
        dashboard_address=None))
    return stack.enter_context(Client(cluster))


def _run_jobs(jobs: Sequence[TileJob], client: Any,
              progress: Callable[[TileOutcome], None] | None) -> list[TileOutcome]:
    outcomes = []
    if client is None:
        for job in jobs:
            outcomes.append(scan_tile(job))
            if progress:
                progress(outcomes[-1])
        return outcomes
    from distributed import as_completed

    futures = [client.submit(scan_tile, job, pure=False,
                             key=f"heatwatch-tile-{job.tile.tile_id}-{job.key[:12]}")
               for job in jobs]
    for fut in as_completed(futures):
        outcomes.append(fut.result())
        fut.release()
        if progress:
            progress(outcomes[-1])
    return outcomes


# Run -------------------------------------------------------------------------------------------


def run_discover(
    source: ImagerySource | Path,
    region: gpd.GeoDataFrame | Any,
    config: Config,
    *,
    out_dir: Path,
    sites: gpd.GeoDataFrame | None = None,
    exclusions: gpd.GeoDataFrame | None = None,
    start: date | None = None,
    end: date | None = None,
    client: Any = None,
    progress: Callable[[TileOutcome], None] | None = None,
    on_total: Callable[[int], None] | None = None,
    per_tile: bool = False,
    fetch_progress: Progress | None = None,
) -> DiscoverResult:
    """Find new large sites over a region, tile by tile, and write the ranked candidates.

    Parameters
    ----------
    source
        Where the products come from (:class:`pipeline.io.source.ImagerySource`), or a folder
        of Landsat C2 products covering the region (with ``per_tile``: one folder per tile,
        ``imagery_dir/<tile_id>``). A remote source fetches the tiles (:func:`tile_sites`)
        first; a source that gives one folder per tile (Sentinel Hub) is read per tile.
    region
        The region (GeoDataFrame in any CRS, or a lon/lat shapely geometry).
    config
        Validated configuration; ``discover`` sets the tiles and the cluster.
    out_dir
        Output folder: ``tiles/``, ``candidates.geojson``, ``candidates.csv``,
        ``overview.png`` and ``discover.json``. Tiles already done there with the same inputs
        are not redone.
    sites
        Catalogued sites (EPSG:4326): measured in their tiles, never reported as new.
    exclusions
        Known non-datacenter heat sources (``name``, ``kind``): nearby candidates are kept,
        with status ``excluded`` and an ``exclusion`` label.
    start, end
        Use only products acquired in this period (inclusive).
    client
        A ``distributed.Client`` to use; ``None`` starts a local cluster (or connects to
        ``discover.scheduler_address``); ``False`` runs every tile in this process.
    progress
        Called with the :class:`TileOutcome` of every tile (resumed ones first).
    on_total
        Called once with the number of tiles.
    per_tile
        Read each tile's products from its own folder only (see the module docstring); a tile
        without a folder has no scene.
    fetch_progress
        Called as ``fetch_progress(done, total, description)`` while a remote source fetches.

    Returns
    -------
    DiscoverResult
        Ranked candidates (``candidate-N`` by rank), tiles, per-tile outcomes, provenance.

    Examples
    --------
    >>> res = run_discover(world_dir, region, cfg, out_dir=out, client=False)  # doctest: +SKIP
    >>> res.candidates[["site_id", "heat_mw", "tile_id"]]  # doctest: +SKIP
    """
    t0 = time.perf_counter()
    src = as_source(source)
    tiles = region_tiles(region, config)
    imagery_dir, fetched_per_tile = _fetch_tiles(src, tiles, config, fetch_progress)
    if per_tile or fetched_per_tile:
        own, problems = _tile_folders(imagery_dir, tiles, start, end)
        products = list({p.product_id: p for ps in own.values() for p in ps}.values())
    else:
        products, problems = discover_products(imagery_dir)
        products = filter_dates(products, start=start, end=end)
        footprints = _footprints(products)
        own = {t.tile_id: tuple(products_for(t.grid, footprints)) for t in tiles}
    if not products:
        raise NoDataError(f"no Landsat C2 band 10 product in {imagery_dir} between "
                          f"{start or 'the first'} and {end or 'the last'} acquisition")
    if on_total:
        on_total(len(tiles))
    jobs, resumed = _plan(tiles, own, config, sites, exclusions, out_dir)
    for r in resumed:
        if progress:
            progress(r)
    with ExitStack() as stack:
        outcomes = resumed + _run_jobs(jobs, _open_client(config, client, stack), progress)
    paths = [_tile_path(out_dir, t.tile_id) for t in tiles]
    read = [read_tile(p) if p.is_file() else None for p in paths]
    found = [r[0] if r is not None else None for r in read]
    merged = merge_candidates(found, tiles)
    n_merged = sum(len(f) for f in found if f is not None)
    merged, n_catalog = _drop_catalogued(merged, sites)
    ranked = rank_candidates(merged)
    order = {t.tile_id: i for i, t in enumerate(tiles)}
    outcomes.sort(key=lambda o: order[o.tile_id])
    run = _provenance(src, region, products, problems, tiles, outcomes, config,
                      start, end, client, n_merged, n_catalog, time.perf_counter() - t0)
    run["rejected_candidates"] = rejected_candidates(
        [(t.tile_id, r[1]) for t, r in zip(tiles, read, strict=True) if r is not None])
    result = DiscoverResult(ranked, tiles, outcomes, run)
    write_discover(result, out_dir, region=region)
    return result


def _plan(tiles: Sequence[Tile], products: dict[str, tuple[ProductFiles, ...]],
          config: Config, sites: gpd.GeoDataFrame | None, exclusions: gpd.GeoDataFrame | None,
          out_dir: Path) -> tuple[list[TileJob], list[TileOutcome]]:
    jobs, resumed = [], []
    for tile in tiles:
        prods = products[tile.tile_id]
        local = None
        if sites is not None and len(sites):
            local = sites[sites.to_crs(4326).intersects(_grid_4326(tile.grid))]
        key = tile_key(tile, prods, config, local, exclusions)
        path = _tile_path(out_dir, tile.tile_id)
        if _done(path, key):
            resumed.append(TileOutcome(tile.tile_id, "resumed", len(prods)))
        else:
            jobs.append(TileJob(tile, prods, config, local, exclusions, path, key))
    return jobs, resumed


def _tile_path(out_dir: Path, tile_id: str) -> Path:
    """Return a tile's output file, its done marker (``OUT/tiles/<tile_id>.geojson``)."""
    return out_dir / TILES_DIR / f"{tile_id}.geojson"


def rejected_candidates(metas: Sequence[tuple[str, dict[str, Any]]]) -> list[dict[str, Any]]:
    """Return every tile's rejected regions (``run.json`` entries) with their tile, hottest first.

    A region in the overlap of two tiles is listed as each tile saw it.

    Examples
    --------
    >>> rejected_candidates([("a", {"rejected_candidates": [{"site_id": "candidate-2",
    ...                                                      "heat_mw": 20.0}]}),
    ...                      ("b", {"rejected_candidates": [{"site_id": "candidate-1",
    ...                                                      "heat_mw": 80.0}]}), ("c", {})])
    [{'site_id': 'candidate-1', 'heat_mw': 80.0, 'tile_id': 'b'}, \
{'site_id': 'candidate-2', 'heat_mw': 20.0, 'tile_id': 'a'}]
    """
    out = [{**entry, "tile_id": tid} for tid, meta in metas
           for entry in meta.get("rejected_candidates", [])]
    return sorted(out, key=lambda e: -(e.get("heat_mw") or 0.0))


def _drop_catalogued(cands: gpd.GeoDataFrame, sites: gpd.GeoDataFrame | None
                     ) -> tuple[gpd.GeoDataFrame, int]:
    """Remove candidates overlapping a catalogued site (e.g. one cut by a tile edge)."""
    if sites is None or not len(sites) or not len(cands):
        return cands, 0
    hit = cands.intersects(sites.to_crs(4326).union_all())
    return cands[~hit].reset_index(drop=True), int(hit.sum())


def rank_candidates(cands: gpd.GeoDataFrame) -> gpd.GeoDataFrame:
    """Rank by the low end of the heat interval, then heat, then persistence; labelled last.

    The low end (``heat_mw_low``) is the heat the evidence supports at 95 %: a candidate of
    60 MW [40, 120] comes before one of 80 MW [0, 1900], whose heat the series cannot tell from
    a static offset of its footprint (the benchmark's false candidates look like that). Ids
    become ``candidate-N`` in rank order; each tile's own id is kept as ``tile_site_id``.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> c = gpd.GeoDataFrame({"site_id": ["a", "b", "c"], "tile_id": ["t", "t", "t"],
    ...                       "status": ["candidate", "candidate", "excluded"],
    ...                       "heat_mw": [80.0, 60.0, 300.0], "heat_mw_low": [0.0, 40.0, 200.0],
    ...                       "persistence": [1.0, 1.0, 1.0]}, geometry=[Point(0, 0)] * 3)
    >>> rank_candidates(c)[["site_id", "tile_site_id"]].values.tolist()
    [['candidate-1', 'b'], ['candidate-2', 'a'], ['candidate-3', 'c']]
    """
    if not len(cands):
        return cands.assign(rank=pd.Series(dtype=int), tile_site_id=pd.Series(dtype=object))
    c = cands.copy()

    def column(name: str) -> np.ndarray:
        values = c[name] if name in c else pd.Series(np.nan, index=c.index)
        return pd.to_numeric(values, errors="coerce").fillna(-np.inf).to_numpy()

    excluded = (c.get("status") == "excluded").to_numpy()
    order = np.lexsort((c["site_id"].astype(str).to_numpy(), c["tile_id"].astype(str).to_numpy(),
                        -column("persistence"), -column("heat_mw"), -column("heat_mw_low"),
                        excluded))
    c = c.iloc[order].reset_index(drop=True)
    c["tile_site_id"] = c["site_id"]
    c["rank"] = np.arange(1, len(c) + 1)
    c["site_id"] = [f"candidate-{r}" for r in c["rank"]]
    return c


# Outputs ---------------------------------------------------------------------------------------


def write_discover(result: DiscoverResult, out_dir: Path, *, region: Any) -> dict[str, Path]:
    """Write ``candidates.geojson``, ``candidates.csv``, ``overview.png`` and ``discover.json``."""
    c = result.candidates
    written = {"candidates": write_geojson(out_dir / "candidates.geojson", c,
                                           integers=INTEGER_PROPERTIES)}
    table = pd.DataFrame(c.drop(columns="geometry")) if len(c) else pd.DataFrame(
        columns=CSV_COLUMNS)
    if len(c):
        pts = c.geometry.representative_point()
        table["lon"], table["lat"] = pts.x.round(6), pts.y.round(6)
    for col in CSV_COLUMNS:
        if col not in table:
            table[col] = None
    # counts as whole numbers, as in candidates.geojson
    written["csv"] = write_text(out_dir / "candidates.csv", whole_numbers(
        table[CSV_COLUMNS], INTEGER_PROPERTIES).to_csv(index=False))
    written["overview"] = plot_overview(result, region, out_dir / "overview.png")
    result.run["outputs"] = {k: p.name for k, p in written.items()}
    written["run"] = write_json(out_dir / "discover.json", result.run)
    return written


def plot_overview(result: DiscoverResult, region: Any, path: Path) -> Path:
    """Map of the region: outline, tile cores, candidates coloured by heat, labels."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    geom = region_geometry(region)
    fig, ax = plt.subplots(figsize=(8, 8))
    gpd.GeoSeries([geom], crs=4326).boundary.plot(ax=ax, color="black", linewidth=1.2)
    gpd.GeoSeries([t.core_4326 for t in result.tiles], crs=4326).boundary.plot(
        ax=ax, color="0.6", linewidth=0.5, linestyle="--")
    for t in result.tiles:
        p = t.core_4326.representative_point()
        ax.annotate(t.tile_id, (p.x, p.y), ha="center", fontsize=6, color="0.6")
    c = result.candidates
    if len(c):
        heat = pd.to_numeric(c["heat_mw"], errors="coerce").fillna(0.0)
        c.assign(heat=heat).plot(ax=ax, column="heat", cmap="inferno_r", legend=True,
                                 edgecolor="red", linewidth=1.0,
                                 legend_kwds={"label": "heat (MW)", "shrink": 0.6})
        for row, pt in zip(c.itertuples(), c.geometry.representative_point(), strict=True):
            label = row.site_id if row.status != "excluded" else f"{row.site_id} (excluded: " \
                f"{row.exclusion})"
            ax.annotate(label, (pt.x, pt.y), xytext=(4, 4), textcoords="offset points",
                        fontsize=7, color="0.3" if row.status == "excluded" else "black")
    lat = geom.centroid.y
    ax.set_aspect(1 / max(np.cos(np.radians(lat)), 0.1))
    ax.set_xlabel("longitude")
    ax.set_ylabel("latitude")
    ax.set_title(f"Heatwatch discover: {len(c)} candidate(s), {len(result.tiles)} tile(s)")
    return write_png(path, fig, dpi=110, bbox_inches="tight")


def _provenance(source: ImagerySource, region: Any, products: Sequence[ProductFiles],
                problems: Sequence[Any], tiles: Sequence[Tile], outcomes: Sequence[TileOutcome],
                config: Config, start: date | None, end: date | None, client: Any,
                n_found: int, n_catalog: int, seconds: float) -> dict[str, Any]:
    status = {o.tile_id: o for o in outcomes}
    return run_provenance(source, config, seconds, {
        "region": {"bounds_4326": list(region_geometry(region).bounds)},
        "period": {"start": start, "end": end},
        "products": [p.product_id for p in products],
        "problems": [{"path": str(p.path), "message": p.message} for p in problems],
        "tiles": [{"tile_id": t.tile_id, "epsg": t.epsg, "bounds": list(t.grid.bounds),
                   "shape": list(t.grid.shape), **{k: v for k, v in asdict(status[t.tile_id])
                                                   .items() if k != "tile_id"}}
                  for t in tiles if t.tile_id in status],
        "candidates_per_tile_total": n_found,
        "dropped_as_catalogued": n_catalog,
        "scheduler": "in-process" if client is False else (
            config.discover.scheduler_address or ("given client" if client is not None
                                                  else "local cluster")),
    })
