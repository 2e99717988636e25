"""Peak memory of a discovery run against region size: 1, 4 and 16 tiles of the same size.

For each tile size, square worlds of 1 x 1, 2 x 2 and 4 x 4 tiles are generated once into a
temporary folder (synthetic Landsat C2 L2 products, ``models.world``). Each run happens in a
fresh Python process so its peak resident memory (``ru_maxrss``) is its own:

* ``in-process``: ``run_discover(..., client=False)``, tiles one after another; the peak of
  the whole process (imports, driver and scans);
* ``dask``: a ``distributed.LocalCluster`` of 2 worker processes (one thread each); the largest
  peak of a worker, read on the workers after the run, and the peak of the driver;
* ``one grid``: for comparison, :func:`pipeline.scan.run.run_scan` over the whole region on one
  grid, which is what discovery avoids.

Resident peaks include ~230 MB of imported libraries, so the table also gives the peak of
Python-traced allocations (``tracemalloc``, numpy arrays included) during the run itself, which
is what grows with the tile or the region.

Run ``python bench/discover_memory.py`` (about two minutes on 2 cores); it prints a table and
writes ``bench/results/discover_memory.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime, timezone
from pathlib import Path

if __package__ in (None, ""):  # run as a script: make ``models`` and ``pipeline`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

RESULTS = Path(__file__).resolve().parent / "results" / "discover_memory.json"
TILE_SIZES_M = (3000, 6000)
TILES_PER_SIDE = (1, 2, 4)
OVERLAP_M = 1500
N_ACQUISITIONS = 12
#: The world's campus runs all series: judged by its placebo null alone, as before the default
#: turned always-on new sites down, so its candidate count stays comparable across runs (a step
#: within these 12 looks, in spring or July, is fitted as following the sun). Recorded in the
#: results' settings, and the README's line says so.
ALWAYS_ON_CANDIDATES = True


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0  # kB on Linux


def _spec(tile_m: int, per_side: int):  # type: ignore[no-untyped-def]
    from models.world_spec import CampusSpec, WorldSpec

    size_px = per_side * tile_m // 30
    return WorldSpec(
        seed=11, name=f"bench-{tile_m}-{per_side}", center_lat=35.0, center_lon=-99.0,
        size_px=size_px, start=date(2024, 1, 4), n_acquisitions=N_ACQUISITIONS,
        revisit_days=24, cloudiness=0.2, edge_fill_probability=0.0,
        campuses=(CampusSpec(site_id="NEW-1", name="New", x_km=0.0, y_km=0.0, power_mw=250,
                             in_catalog=False, power_density_w_m2=450, aspect=1.2),))


def _region(folder: Path):  # type: ignore[no-untyped-def]
    import geopandas as gpd
    from shapely.geometry import box

    from models.world_spec import WorldTruth

    g = WorldTruth.read(folder).grid
    left, top = g.transform[2], g.transform[5]
    geom = box(left, top - g.height * g.pixel_m, left + g.width * g.pixel_m, top)
    return gpd.GeoDataFrame(geometry=[geom.segmentize(100.0)], crs=g.epsg).to_crs(4326)


def _worker_maxrss() -> float:
    return _maxrss_mb()


def one_run(folder: Path, tile_m: int, mode: str, out: Path) -> dict:
    """Run one discovery (in this process) and return its timings and peak memory."""
    from pipeline.core.config import load_config
    from pipeline.discover.run import run_discover

    cfg = load_config(environ={}, overrides={
        "discover": {"tile_size_m": tile_m, "tile_overlap_m": OVERLAP_M, "n_workers": 2},
        "detection": {"always_on_candidates": ALWAYS_ON_CANDIDATES}})
    import tracemalloc

    region = _region(folder)
    row: dict = {"idle_mb": round(_maxrss_mb(), 1)}
    tracemalloc.start()
    t0 = time.perf_counter()
    if mode == "one grid":
        from pipeline.core.grid import Grid
        from pipeline.discover.tiles import tile_region
        from pipeline.scan.run import run_scan

        tiles = tile_region(region, tile_size_m=tile_m, overlap_m=OVERLAP_M)
        b = region.to_crs(tiles[0].grid.crs).total_bounds
        grid = Grid.from_bounds(tiles[0].grid.crs, tuple(b), 30.0)
        res_scan = run_scan(folder, cfg, grid=grid)
        sites = res_scan.sites  # no site at all: an empty table with every column
        cands = sites[sites["status"] == "candidate"]
        _, traced = tracemalloc.get_traced_memory()
        row.update(n_tiles=len(tiles), tile_grid_px=list(grid.shape),
                   seconds=round(time.perf_counter() - t0, 1),
                   driver_peak_mb=round(_maxrss_mb(), 1), traced_peak_mb=round(traced / 2**20, 1),
                   **_candidate_counts(cands, folder))
        return row
    if mode == "dask":
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            base = max(client.run(_worker_maxrss).values())
            res = run_discover(folder, region, cfg, out_dir=out, client=client)
            row["worker_idle_mb"] = round(base, 1)
            row["worker_peak_mb"] = round(max(client.run(_worker_maxrss).values()), 1)
    else:
        res = run_discover(folder, region, cfg, out_dir=out, client=False)
    _, traced = tracemalloc.get_traced_memory()
    row["traced_peak_mb"] = round(traced / 2**20, 1)
    row.update(n_tiles=len(res.tiles), tile_grid_px=list(res.tiles[0].grid.shape),
               seconds=round(time.perf_counter() - t0, 1), driver_peak_mb=round(_maxrss_mb(), 1),
               **_candidate_counts(res.candidates, folder))
    return row


def _candidate_counts(candidates, folder: Path) -> dict:  # type: ignore[no-untyped-def]
    """Candidates reported, and how many of them lie on the world's one campus."""
    from models.world_spec import WorldTruth

    campus = WorldTruth.read(folder).campuses[0].footprint
    on = candidates.to_crs(4326).intersects(campus) if len(candidates) else []
    return {"n_candidates": len(candidates), "n_on_campus": int(sum(on)),
            "n_false": int(len(candidates) - sum(on))}


def main() -> None:
    """Generate the worlds, run every case in a fresh process, print and save the table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--one", nargs=4, metavar=("FOLDER", "TILE_M", "MODE", "OUT"),
                    help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one:
        folder, tile_m, mode, out = args.one
        print(json.dumps(one_run(Path(folder), int(tile_m), mode, Path(out))))
        return
    from models.world import generate_world

    rows = []
    with tempfile.TemporaryDirectory(prefix="heatwatch-bench-") as tmp:
        for tile_m in TILE_SIZES_M:
            for per_side in TILES_PER_SIDE:
                folder = Path(tmp) / f"world-{tile_m}-{per_side}"
                t0 = time.perf_counter()
                generate_world(_spec(tile_m, per_side), folder)
                gen = time.perf_counter() - t0
                modes = ("in-process", "one grid") + (("dask",) if tile_m == TILE_SIZES_M[-1]
                                                      else ())
                for mode in modes:
                    out = Path(tmp) / f"out-{tile_m}-{per_side}-{mode}"
                    proc = subprocess.run(
                        [sys.executable, __file__, "--one", str(folder), str(tile_m), mode,
                         str(out)], capture_output=True, text=True, check=True)
                    row = {"tile_size_m": tile_m, "region_km": per_side * tile_m / 1000,
                           "mode": mode, "generate_seconds": round(gen, 1),
                           **json.loads(proc.stdout.strip().splitlines()[-1])}
                    rows.append(row)
                    _print_row(row)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "code": _code_info(),
        "machine": {"platform": platform.platform(), "python": platform.python_version(),
                    "cpu_count": os.cpu_count()},
        "settings": {"tile_overlap_m": OVERLAP_M, "n_acquisitions": N_ACQUISITIONS,
                     "resolution_m": 30, "always_on_candidates": ALWAYS_ON_CANDIDATES},
        "rows": rows}, indent=2))
    print(f"written {RESULTS}")


def _code_info() -> dict:
    if str(Path(__file__).resolve().parents[1]) not in sys.path:  # run as a script
        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from bench._common import code_info

    return code_info()


def _print_row(row: dict) -> None:
    if not getattr(_print_row, "header", False):
        print(f"{'tile m':>7} {'tiles':>5} {'region km':>9} {'mode':>10} {'grid px':>9} "
              f"{'seconds':>7} {'idle MB':>8} {'peak MB':>8} {'traced MB':>9} {'worker MB':>9} "
              f"{'cand.':>5} {'false':>5}")
        _print_row.header = True  # type: ignore[attr-defined]
    grid = "x".join(str(v) for v in row["tile_grid_px"])
    print(f"{row['tile_size_m']:>7} {row['n_tiles']:>5} {row['region_km']:>9.1f} "
          f"{row['mode']:>10} {grid:>9} {row['seconds']:>7.1f} {row['idle_mb']:>8.1f} "
          f"{row['driver_peak_mb']:>8.1f} {row.get('traced_peak_mb', '-'):>9} "
          f"{row.get('worker_peak_mb', '-'):>9} {row['n_candidates']:>5} {row['n_false']:>5}",
          flush=True)


if __name__ == "__main__":
    main()
