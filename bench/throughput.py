"""Throughput of ``scan``: time against the plain read of its input, memory, stage speed.

Run from the repository root::

    python bench/throughput.py            # writes bench/results/throughput.json and .png
    python bench/throughput.py --quick    # fewer sizes and repeats

Three measurements, all in one run on one machine:

* **Scan against the floor.** A synthetic world at the demo's tile size (400 x 400 px, the
  demo's campuses, :func:`models.world_spec.demo_spec`) is written once; for N catalogued sites
  (0 = discovery over the whole tile) and T dates, :func:`pipeline.scan.run.run_scan` is timed
  against a plain :mod:`rasterio` read of the same ``ST_B10`` and ``QA_PIXEL`` windows the scan
  reads (its own grid, same two-pixel pad). A pipeline cannot be faster than reading its
  input; the target is a scan within 3x of that read. Both are the best of ``repeats`` runs,
  interleaved, so that load from other processes hits both alike.
* **Peak memory against T.** On a larger tile (1200 x 1200 px, discovery over the whole tile,
  so that all scenes of a year, 330 MB, would be a real load), each T runs in a fresh
  process: :mod:`tracemalloc` peak of ``run_scan`` (Python and numpy allocations; the
  disk-backed memmap of calibrated temperatures is not counted, by design), and the peak
  anonymous (heap) and file-backed resident memory sampled from ``/proc/self/status``, against
  the size all T scenes would take in memory at once (temperature float32 + flags uint8).
* **Core stages** (calibration :func:`pipeline.science.calibrate.to_kelvin`, masking
  :func:`pipeline.science.masking.build_flags`, anomaly :func:`pipeline.science.anomaly.anomaly`,
  detection :func:`pipeline.science.detect.hotspot_mask`) on a 2000 x 2000 synthetic array, in
  megapixels per second of wall time and per CPU-second (= per core).

No timing is asserted anywhere; the figures are printed and written as JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

if __package__ in (None, ""):  # run as a script: make ``bench`` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench._common import (
    RESULTS,
    envelope,
    finish,
    log,
    markdown_table,
    publish,
    timer,
)
from pipeline.core.outputs import write_png

#: Target of the issue: scan within this factor of the plain read.
TARGET_RATIO = 3.0


# World -----------------------------------------------------------------------------------------


def write_world(workdir: Path, *, tile_px: int, n_dates: int) -> Any:
    """Write the benchmark world: the demo's campuses on a ``tile_px`` tile, ``n_dates`` dates.

    Tiles smaller than the demo's 400 px get a one-campus, cloud-free random world instead
    (smoke tests; the generator cannot cast a cloud shadow longer than a tiny tile).
    """
    from models.world import generate_world
    from models.world_spec import demo_spec, random_spec

    demo = demo_spec()
    if tile_px >= demo.size_px:
        spec = demo.model_copy(update={"size_px": tile_px, "n_acquisitions": n_dates,
                                       "name": f"throughput-{tile_px}"})
        days = [t.date() for t in spec.acquisition_times]
        spec = spec.model_copy(update={"fires": tuple(
            f for f in spec.fires if any(f.burning(d) for d in days))})
    else:
        spec = random_spec(5, size_px=tile_px, n_acquisitions=n_dates, n_campuses=1,
                           confusers=False, cloudiness=0.0)
    spec = type(spec).model_validate(spec.model_dump())  # re-validate the changed fields
    return generate_world(spec, workdir / spec.name, overwrite=True)


def subset(world_dir: Path, truth: Any, n_dates: int, dest: Path) -> Path:
    """A folder holding the first ``n_dates`` products of the world, as symbolic links."""
    dest.mkdir(parents=True, exist_ok=True)
    for a in truth.acquisitions[:n_dates]:
        for f in world_dir.glob(f"{a.product_id}_*"):
            link = dest / f.name
            if not link.exists():
                link.symlink_to(f.resolve())
    return dest


def _sites(world_dir: Path, n: int) -> Any:
    from aoi.sites import read_sites

    if n <= 0:
        return None
    sites = read_sites(world_dir / "sites.geojson")
    return sites.iloc[:n].reset_index(drop=True)


# Plain read ------------------------------------------------------------------------------------


def read_windows(folder: Path, grid: Any) -> int:
    """Read every product's ``ST_B10`` and ``QA_PIXEL`` window over ``grid``; return pixels read.

    The window is the grid's bounds in the scene's CRS plus two pixels, as the scan's reader
    computes it; nothing is calibrated or resampled.
    """
    import rasterio
    from rasterio.windows import Window, from_bounds

    total = 0
    for band in sorted(folder.glob("*_ST_B10.TIF")):
        for path in (band, band.with_name(band.name.replace("_ST_B10", "_QA_PIXEL"))):
            if not path.exists():
                continue
            with rasterio.open(path) as src:
                tr = src.transform
                left, bottom, right, top = grid.bounds_in(src.crs)
                pad = 2 * max(abs(tr.a), abs(tr.e))
                win = from_bounds(left - pad, bottom - pad, right + pad, top + pad, transform=tr)
                win = win.round_offsets(op="floor").round_lengths(op="ceil")
                win = win.intersection(Window(0, 0, src.width, src.height))
                total += src.read(1, window=win).size
    return total


def time_scan_vs_read(world_dir: Path, truth: Any, *, sites_n: list[int], dates_t: list[int],
                      repeats: int, workdir: Path) -> list[dict[str, Any]]:
    """Time ``run_scan`` and the plain read for every (N, T); best of ``repeats``, interleaved."""
    import warnings

    from pipeline.core.config import load_config
    from pipeline.io.reader import discover_products
    from pipeline.scan.area import imagery_bounds, scan_grid
    from pipeline.scan.run import run_scan

    config = load_config(environ={})
    rows = []
    for t in dates_t:
        folder = subset(world_dir, truth, t, workdir / f"T{t}")
        products, _ = discover_products(folder)
        imagery = imagery_bounds(products)
        read_windows(folder, scan_grid(imagery, config))  # warm the page cache once
        for n in sites_n:
            sites = _sites(world_dir, n)
            grid = scan_grid(imagery, config, sites)
            reads, scans, cpu = [], [], []
            for _ in range(repeats):
                with timer() as tr:
                    px = read_windows(folder, grid)
                reads.append(tr["wall"])
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    with timer() as ts:
                        result = run_scan(folder, config, sites=sites)
                scans.append(ts["wall"])
                cpu.append(ts["cpu"])
            h, w = grid.shape
            best_scan, best_read = min(scans), min(reads)
            rows.append({
                "sites": n, "dates": t, "scenes_used": len(result.run["scenes"]),
                "grid_px": [h, w], "megapixels": t * h * w / 1e6, "pixels_read": px,
                "read_s": best_read, "read_s_all": reads, "scan_s": best_scan,
                "scan_s_all": scans, "scan_cpu_s": min(cpu), "ratio": best_scan / best_read,
                "scan_mpx_per_s": t * h * w / 1e6 / best_scan,
                "loadavg": [round(x, 2) for x in os.getloadavg()],
            })
            log(f"N={n} T={t}: scan {best_scan:.2f} s, read {best_read:.3f} s, ratio "
                f"{best_scan / best_read:.0f}x")
    return rows


# Memory ----------------------------------------------------------------------------------------


def _status_mb() -> dict[str, float]:
    """Resident memory of this process from ``/proc/self/status`` (Linux), MB."""
    out = {}
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            key, _, rest = line.partition(":")
            if key in ("VmHWM", "VmRSS", "RssAnon", "RssFile"):
                out[key] = float(rest.split()[0]) / 1e3
    except OSError:
        pass
    return out


class _Sampler:
    """Background thread recording the peak anonymous and file-backed resident memory."""

    def __init__(self, every_s: float = 0.01) -> None:
        import threading

        self.peak: dict[str, float] = {}
        self._stop = threading.Event()
        self._every = every_s
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for k, v in _status_mb().items():
                self.peak[k] = max(self.peak.get(k, 0.0), v)
            self._stop.wait(self._every)

    def __enter__(self) -> _Sampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _memory_probe(folder: Path, world_dir: Path, n_sites: int) -> dict[str, Any]:
    """Run in a fresh process: tracemalloc peak and resident-memory peaks of one ``run_scan``.

    ``ru_maxrss`` survives ``exec`` on Linux (a child reports its parent's peak), so the
    resident peaks come from ``/proc/self/status`` instead: ``VmHWM`` (peak RSS of this
    process image) and a 10 ms sampler of ``RssAnon`` (heap: what must fit in RAM) and
    ``RssFile`` (file-backed pages, including the scan's memmap, which the kernel can evict).
    """
    import tracemalloc
    import warnings

    from pipeline.core.config import load_config
    from pipeline.scan.run import run_scan

    config = load_config(environ={})
    sites = _sites(world_dir, n_sites)
    before = _status_mb()
    tracemalloc.start()
    with warnings.catch_warnings(), _Sampler() as sampler:
        warnings.simplefilter("ignore")
        result = run_scan(folder, config, sites=sites)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    after = _status_mb()
    h, w = result.run["grid"]["shape"]
    return {"tracemalloc_peak_mb": peak / 1e6,
            "rss_before_scan_mb": before.get("VmRSS"),
            "vmhwm_mb": after.get("VmHWM"),
            "peak_rss_anon_mb": sampler.peak.get("RssAnon"),
            "peak_rss_file_mb": sampler.peak.get("RssFile"),
            "rss_anon_before_scan_mb": before.get("RssAnon"),
            "grid_px": [h, w], "scenes_used": len(result.run["scenes"])}


def memory_vs_dates(world_dir: Path, truth: Any, *, dates_t: list[int], n_sites: int,
                    workdir: Path) -> list[dict[str, Any]]:
    """Peak memory of a scan for each T, each in its own process."""
    rows = []
    for t in dates_t:
        folder = subset(world_dir, truth, t, workdir / f"T{t}")
        cmd = [sys.executable, str(Path(__file__).resolve()), "--memory-probe", str(folder),
               "--world-dir", str(world_dir), "--sites", str(n_sites)]
        out = subprocess.run(cmd, check=True, capture_output=True, text=True,
                             env={**os.environ, "PYTHONWARNINGS": "ignore"})
        probe = json.loads(out.stdout.strip().splitlines()[-1])
        h, w = probe["grid_px"]
        probe.update({"dates": t, "sites": n_sites,
                      "all_scenes_in_memory_mb": t * h * w * (4 + 1) / 1e6})
        rows.append(probe)
        log(f"memory T={t}: tracemalloc peak {probe['tracemalloc_peak_mb']:.1f} MB, "
            f"peak heap RSS {_f(probe['peak_rss_anon_mb'])} MB, all scenes "
            f"{probe['all_scenes_in_memory_mb']:.1f} MB")
    return rows


# Core stages -----------------------------------------------------------------------------------


def _synthetic_scene(size: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Band 10 DN and QA_PIXEL of a textured scene with hot blocks and a cloud, ``size`` px."""
    from scipy.ndimage import gaussian_filter

    rng = np.random.default_rng(seed)
    k = 295 + 3 * gaussian_filter(rng.standard_normal((size, size)), 8) * 8
    k += rng.normal(0, 0.1, (size, size))
    for _ in range(max(1, size // 100)):
        y, x = rng.integers(0, size - 20, 2)
        k[y:y + 15, x:x + 20] += 10
    dn = np.clip((k - 149.0) / 0.00341802, 1, 65535).astype(np.uint16)
    qa = np.full((size, size), 21824, dtype=np.uint16)  # clear land
    qa[: size // 8, : size // 8] = 22280  # cloud
    dn[: size // 20, :] = 0
    qa[: size // 20, :] = 1  # fill
    return dn, qa


def stage_speed(*, size: int = 2000, repeats: int = 3) -> dict[str, Any]:
    """Megapixels per second of the core stages on a ``size`` x ``size`` synthetic scene."""
    import xarray as xr
    from rasterio.crs import CRS

    from pipeline.core.config import AnomalyConfig, DetectionConfig
    from pipeline.science.anomaly import anomaly
    from pipeline.science.calibrate import ThermalCalibration, to_kelvin
    from pipeline.science.detect import hotspot_mask
    from pipeline.science.masking import MASKING, build_flags

    dn, qa = _synthetic_scene(size)
    cal = ThermalCalibration("L2", st_mult=0.00341802, st_add=149.0)
    kelvin = to_kelvin(dn, cal)
    flags = build_flags(kelvin, qa)
    clear = kelvin.copy()
    clear[(flags & MASKING) != 0] = np.nan
    coords = {"y": 4_000_000.0 - 30.0 * (np.arange(size) + 0.5),
              "x": 500_000.0 + 30.0 * (np.arange(size) + 0.5)}
    da = xr.DataArray(clear, dims=("y", "x"), coords=coords).rio.write_crs(CRS.from_epsg(32618))
    an = anomaly(da, AnomalyConfig())
    a, z = an["anomaly"].values, an["zscore"].values
    stages = {
        "calibration (to_kelvin)": lambda: to_kelvin(dn, cal),
        "masking (build_flags)": lambda: build_flags(kelvin, qa),
        "anomaly (anomaly)": lambda: anomaly(da, AnomalyConfig()),
        "detection (hotspot_mask)": lambda: hotspot_mask(a, z, DetectionConfig(), 900.0),
    }
    mpx = size * size / 1e6
    out = {}
    for name, fn in stages.items():
        walls, cpus = [], []
        for _ in range(repeats):
            with timer() as t:
                fn()
            walls.append(t["wall"])
            cpus.append(t["cpu"])
        wall, cpu = min(walls), min(cpus)
        out[name] = {"wall_s": wall, "cpu_s": cpu, "mpx_per_s": mpx / wall,
                     "mpx_per_s_per_core": mpx / cpu if cpu > 0 else None}
        log(f"{name}: {mpx / wall:.1f} MP/s wall, {mpx / max(cpu, 1e-9):.1f} MP/s per core")
    return {"size_px": size, "megapixels": mpx, "repeats": repeats, "stages": out}


# Run -------------------------------------------------------------------------------------------


def benchmark(*, workdir: Path, tile_px: int = 400, sites_n: list[int] | None = None,
              dates_t: list[int] | None = None, memory_tile_px: int = 1200,
              memory_t: list[int] | None = None, stage_px: int = 2000,
              repeats: int = 3) -> dict[str, Any]:
    """Run the three measurements; return the result document.

    The scan-vs-read grid is ``sites_n`` x ``dates_t`` on a ``tile_px`` tile; memory is
    measured for ``memory_t`` dates on a ``memory_tile_px`` tile in discovery mode (no
    catalog, the whole tile); stage speed on a ``stage_px`` square.
    """
    sites_n = [0, 1, 3, 6] if sites_n is None else sites_n
    dates_t = [12, 23, 46] if dates_t is None else dates_t
    memory_t = dates_t if memory_t is None else memory_t
    started = time.perf_counter()
    doc = envelope("throughput", command="python bench/throughput.py", config={
        "tile_px": tile_px, "sites": sites_n, "dates": dates_t, "memory_tile_px": memory_tile_px,
        "memory_dates": memory_t, "stage_px": stage_px, "repeats": repeats,
        "target_ratio": TARGET_RATIO})
    with timer() as tg:
        truth = write_world(workdir, tile_px=tile_px, n_dates=max(dates_t))
    world_dir = workdir / truth.spec.name
    doc["world"] = {"name": truth.spec.name, "tile_px": tile_px, "dates": max(dates_t),
                    "catalog_sites": sum(c.in_catalog for c in truth.campuses),
                    "generate_s": tg["wall"]}
    log(f"world {truth.spec.name}: {max(dates_t)} dates written in {tg['wall']:.1f} s")
    doc["scan_vs_read"] = time_scan_vs_read(world_dir, truth, sites_n=sites_n, dates_t=dates_t,
                                            repeats=repeats, workdir=workdir / "scan")
    if memory_tile_px == tile_px and max(memory_t) <= max(dates_t):
        mem_truth, mem_dir = truth, world_dir
    else:
        with timer() as tm:
            mem_truth = write_world(workdir / "memory", tile_px=memory_tile_px,
                                    n_dates=max(memory_t))
        mem_dir = workdir / "memory" / mem_truth.spec.name
        log(f"memory world: {memory_tile_px} px, {max(memory_t)} dates in {tm['wall']:.1f} s")
        doc["world"]["memory_generate_s"] = tm["wall"]
    doc["memory_vs_dates"] = memory_vs_dates(mem_dir, mem_truth, dates_t=memory_t, n_sites=0,
                                             workdir=workdir / "mem")
    doc["stages"] = stage_speed(size=stage_px, repeats=repeats)
    rows, mem = doc["scan_vs_read"], doc["memory_vs_dates"]
    doc["summary"] = {
        "ratio_min": min(r["ratio"] for r in rows), "ratio_max": max(r["ratio"] for r in rows),
        "within_target": all(r["ratio"] <= TARGET_RATIO for r in rows),
        "tracemalloc_growth_mb_per_date": _slope([(m["dates"], m["tracemalloc_peak_mb"])
                                                  for m in mem]),
        "heap_rss_growth_mb_per_date": _slope([(m["dates"], m["peak_rss_anon_mb"])
                                               for m in mem if m["peak_rss_anon_mb"]]),
        "all_scenes_mb_per_date": _slope([(m["dates"], m["all_scenes_in_memory_mb"])
                                          for m in mem]),
    }
    return finish(doc, started)


def _slope(points: list[tuple[float, float]]) -> float | None:
    if len(points) < 2:
        return None
    x, y = np.array(points, dtype=float).T
    return float(np.polyfit(x, y, 1)[0])


def markdown(doc: dict[str, Any]) -> str:
    """The README-ready tables of a throughput result document."""
    rows = [[r["sites"] or "0 (discovery)", r["dates"], f"{r['grid_px'][0]}x{r['grid_px'][1]}",
             f"{r['megapixels']:.1f}", f"{r['read_s']:.3f}", f"{r['scan_s']:.2f}",
             f"{r['ratio']:.0f}x", f"{r['scan_mpx_per_s']:.2f}"] for r in doc["scan_vs_read"]]
    out = [markdown_table(["Sites N", "Dates T", "Grid px", "MP (grid x T)", "Plain read s",
                           "Scan s", "Scan / read", "Scan MP/s"], rows)]
    rows = [[m["dates"], f"{m['grid_px'][0]}x{m['grid_px'][1]}",
             f"{m['tracemalloc_peak_mb']:.0f}", _f(m["rss_anon_before_scan_mb"]),
             _f(m["peak_rss_anon_mb"]), _f(m["peak_rss_file_mb"]), _f(m["vmhwm_mb"]),
             f"{m['all_scenes_in_memory_mb']:.0f}"] for m in doc["memory_vs_dates"]]
    out.append(markdown_table(["Dates T", "Grid px", "tracemalloc peak MB",
                               "heap RSS before scan MB", "peak heap RSS MB",
                               "peak file-backed RSS MB", "VmHWM MB",
                               "all T scenes in memory MB"], rows))
    st = doc["stages"]
    rows = [[name, f"{v['wall_s'] * 1e3:.0f}", f"{v['mpx_per_s']:.1f}",
             _f(v["mpx_per_s_per_core"])] for name, v in st["stages"].items()]
    out.append(markdown_table([f"Stage ({st['size_px']}x{st['size_px']} px)", "ms",
                               "MP/s (wall)", "MP/s per core (CPU time)"], rows))
    return "\n\n".join(out)


def _f(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def plot(doc: dict[str, Any], path: Path) -> Path:
    """Scan and read time against N x T, and peak memory against T."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(11, 4.2))
    rows = sorted(doc["scan_vs_read"], key=lambda r: r["megapixels"])
    mp = np.array([r["megapixels"] for r in rows])
    ax1.loglog(mp, [r["scan_s"] for r in rows], "o", color="tab:red", label="scan")
    ax1.loglog(mp, [r["read_s"] for r in rows], "s", color="tab:blue",
               label="plain rasterio read (floor)")
    ax1.loglog(mp, [TARGET_RATIO * r["read_s"] for r in rows], "_", color="grey", ms=12,
               label=f"target: {TARGET_RATIO:g}x read")
    for r in rows:
        ax1.annotate(f"N={r['sites']},T={r['dates']}", (r["megapixels"], r["scan_s"]),
                     fontsize=6, xytext=(3, 3), textcoords="offset points")
    ax1.set_xlabel("megapixels scanned (grid x dates)")
    ax1.set_ylabel("seconds (best of repeats)")
    ax1.set_title("Scan vs plain read of the same windows")
    ax1.legend(fontsize=8)
    mem = doc["memory_vs_dates"]
    t = [m["dates"] for m in mem]
    ax2.plot(t, [m["tracemalloc_peak_mb"] for m in mem], "o-", label="tracemalloc peak (scan)")
    ax2.plot(t, [(m["peak_rss_anon_mb"] or np.nan) - (m["rss_anon_before_scan_mb"] or 0)
                 for m in mem], "s-", label="heap RSS growth during scan")
    ax2.plot(t, [m["peak_rss_file_mb"] or np.nan for m in mem], "^:",
             label="file-backed RSS (memmap, evictable)")
    ax2.plot(t, [m["all_scenes_in_memory_mb"] for m in mem], "k--",
             label="all T scenes in memory (K + flags)")
    ax2.set_xlabel("dates T")
    ax2.set_ylabel("MB")
    ax2.set_ylim(bottom=0)
    ax2.set_title(f"Peak memory, {mem[0]['grid_px'][0]}x{mem[0]['grid_px'][1]} px grid"
                  if mem else "Peak memory")
    ax2.legend(fontsize=8)
    m = doc["machine"]
    fig.suptitle(f"Heatwatch throughput, {doc['measured_at'][:10]}, {m['cpu_model']} "
                 f"({m['cpu_count']} cores), load {m['loadavg'][0]:.1f}", fontsize=10)
    fig.tight_layout()
    return write_png(path, fig, dpi=110)


def main(argv: list[str] | None = None) -> int:
    """Command line: run the benchmark, print the tables, write JSON and PNG."""
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--quick", action="store_true", help="fewer sizes, one repeat")
    ap.add_argument("--out", type=Path, default=RESULTS, help="folder for throughput.json/.png")
    ap.add_argument("--memory-probe", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--world-dir", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--sites", type=int, default=0, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.memory_probe is not None:
        print(json.dumps(_memory_probe(args.memory_probe, args.world_dir, args.sites)))
        return 0
    kw: dict[str, Any] = {}
    if args.quick:
        kw = {"sites_n": [0, 6], "dates_t": [12, 46], "repeats": 1, "stage_px": 1000,
              "memory_tile_px": 600}
    with tempfile.TemporaryDirectory(prefix="heatwatch-bench-") as tmp:
        doc = benchmark(workdir=Path(tmp), **kw)
    doc["command"] = "python bench/throughput.py" + (" --quick" if args.quick else "")
    name = "throughput-quick" if args.quick else "throughput"
    return publish(doc, name=name, out=args.out, plot=plot, markdown=markdown)


if __name__ == "__main__":
    raise SystemExit(main())
