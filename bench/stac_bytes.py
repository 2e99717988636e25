"""Bytes the STAC source reads per site-year, against the full scenes it reads them from.

Run from the repository root::

    python bench/stac_bytes.py            # writes bench/results/stac_bytes.json
    python bench/stac_bytes.py --side 3000   # smaller scene, quicker

A full-size Level-2 scene (7000 x 7000 px at 30 m by default, about a WRS-2 scene; surface
temperature with texture and noise, ``QA_PIXEL`` with cloud patches) is written once as
Cloud-Optimized GeoTIFFs (deflate, 256-px tiles, as rasterio's COG driver writes them), and
served by the local STAC API of the tests (``tests/support/stac_server.py``, HTTP range
requests honoured) as 45 acquisitions of one year (Landsat 8 and 9, 16 days each, eight days
apart), all pointing at those files. One campus (600 m square, ``grid.margin_m`` 3000 m as
configured by default) is fetched with :func:`pipeline.io.stac.source.fetch_sites_stac`, baseline
off, GDAL's range cache cleared before the run. Reported: bytes read by the client (GDAL's own
network statistics plus the MTLs), bytes the server sent, and both against the bytes of the full
scenes (band 10 + QA_PIXEL + MTL, 45 times). Then the same fetch again: bytes read must be 0.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench._common import RESULTS, envelope, finish, log, write_json  # noqa: E402


def _scene(side: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = np.linspace(0, 6 * np.pi, side, dtype=np.float32)
    field = 295 + 4 * np.sin(y)[:, None] * np.cos(0.7 * y)[None, :]
    kelvin = field + rng.normal(0, 0.6, (side, side)).astype(np.float32)
    qa = np.full((side, side), 21824, dtype=np.uint16)  # clear
    for _ in range(40):  # cloud patches (QA bit 3 + high confidence)
        r, c, h = [*rng.integers(0, side, 2).tolist(), int(rng.integers(50, 400))]
        qa[r:r + h, c:c + h] = 22280
    return kelvin, qa


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and write ``bench/results/stac_bytes.json``."""
    import geopandas as gpd
    from affine import Affine
    from pyproj import Transformer
    from rasterio.crs import CRS
    from shapely.geometry import box

    from pipeline.core.config import load_config
    from pipeline.io.stac.http import clear_gdal_http_cache
    from pipeline.io.stac.source import fetch_sites_stac
    from tests.support.stac_server import Scene, StacWorld, serve

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--side", type=int, default=7000, help="scene side in pixels")
    ap.add_argument("--looks", type=int, default=45, help="acquisitions in the year")
    ap.add_argument("--out", type=Path, default=RESULTS / "stac_bytes.json",
                    help="result file")
    args = ap.parse_args(argv)
    started = time.perf_counter()
    cfg = load_config(environ={})
    doc = envelope("stac_bytes", command=" ".join(["python", "bench/stac_bytes.py", *sys.argv[1:]]),
                   config={"side_px": args.side, "looks": args.looks,
                           "margin_m": cfg.grid.margin_m, "tile_px": 256,
                           "range_chunk_bytes": cfg.stac.range_chunk_bytes})
    lon, lat = -90.03, 35.06
    crs = CRS.from_epsg(32616)
    x, y = Transformer.from_crs(4326, crs, always_xy=True).transform(lon, lat)
    half = args.side // 2
    transform = Affine(30, 0, (x // 30) * 30 + 15 - 30 * half, 0, -30,
                       (y // 30) * 30 + 15 + 30 * half)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "files").mkdir()
        world = StacWorld(root / "files")
        kelvin, qa = _scene(args.side, 0)
        t0 = time.perf_counter()
        first = None
        day = datetime(2024, 1, 3, 16, 30, 5, tzinfo=timezone.utc)
        for i in range(args.looks):
            when = day + timedelta(days=8 * i)
            sc = "LC08" if i % 2 == 0 else "LC09"
            pid = f"{sc}_L2SP_022035_{when:%Y%m%d}_{when:%Y%m%d}_02_T1"
            world.add(Scene(pid, when, kelvin, transform, crs), "landsat-c2l2-st", qa=qa,
                      link_from=first)
            first = first or pid
        log(f"scene {args.side}x{args.side} written in {time.perf_counter() - t0:.1f} s")
        assert first is not None
        scene_bytes = sum((world.root / f"{first}_{p}").stat().st_size
                          for p in ("ST_B10.TIF", "QA_PIXEL.TIF", "MTL.json"))
        site = gpd.GeoSeries([box(x - 300, y - 300, x + 300, y + 300)], crs=crs).to_crs(4326)
        sites = gpd.GeoDataFrame({"site_id": ["bench-campus"]}, geometry=site.values,
                                 crs="EPSG:4326")
        for srv in serve(world):
            stac = cfg.stac.model_copy(update={"endpoint": srv.url,
                                               "cache_dir": root / "cache"})
            runs = []
            for attempt in ("cold", "rerun"):
                world.bytes_served.clear()
                clear_gdal_http_cache()
                t1 = time.perf_counter()
                report = fetch_sites_stac(sites, start=date(2024, 1, 1),
                                          end=date(2024, 12, 31), out_dir=root / attempt,
                                          config=stac, margin_m=cfg.grid.margin_m,
                                          level="l2", baseline=False)
                runs.append({"run": attempt, "products": len(report.products),
                             "failures": len(report.failures),
                             "bytes_read_client": report.to_dict()["bytes_read"],
                             "bytes_sent_server": sum(world.bytes_served.values()),
                             "seconds": round(time.perf_counter() - t1, 2)})
                log(f"{attempt}: {runs[-1]}")
    cold = runs[0]
    full = scene_bytes * args.looks
    doc["results"] = {
        "runs": runs,
        "full_scene_bytes_per_look": scene_bytes,
        "full_scene_bytes_per_site_year": full,
        "bytes_read_per_site_year": cold["bytes_read_client"],
        "fraction_of_full_scenes": (cold["bytes_read_client"] or 0) / full,
    }
    log(f"per site-year: {cold['bytes_read_client'] / 1e6:.2f} MB read of "
        f"{full / 1e6:.0f} MB of full scenes "
        f"({100 * doc['results']['fraction_of_full_scenes']:.2f}%); re-run read "
        f"{runs[1]['bytes_read_client']} bytes")
    write_json(finish(doc, started), args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
