"""Write a scan's results: sites.geojson, hotspots.geojson, series, run.json, evidence PNGs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from pipeline.evidence import save_figure, site_figure
from pipeline.outputs import write_geojson, write_json, write_text
from pipeline.scan import ScanResult


def safe_filename(site_id: str) -> str:
    """A file-name-safe form of an untrusted site id (no path separators or dot-dot)."""
    try:
        from aoi.sites import safe_name

        return safe_name(site_id)
    except ImportError:  # pragma: no cover - aoi always ships with pipeline
        keep = "".join(c if c.isalnum() or c in "-_" else "_" for c in site_id)
        return keep.strip("._") or "site"


def write_scan(result: ScanResult, out_dir: Path, *, figures: bool = True) -> dict[str, Any]:
    """Write every output of a scan into ``out_dir`` (atomically, file by file)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written: dict[str, Any] = {}
    written["sites"] = write_geojson(out_dir / "sites.geojson", result.sites)
    written["hotspots"] = write_geojson(out_dir / "hotspots.geojson", result.hotspots)
    series_dir = out_dir / "series"
    state = result.state
    composite = (state.anomaly_sum / np.maximum(state.clear_count, 1)).astype(np.float32)
    composite[state.clear_count == 0] = np.nan
    figs = {}
    for site in result.sites.to_dict("records"):
        sid = site["site_id"]
        name = safe_filename(sid)
        write_text(series_dir / f"{name}.csv", result.series[sid].to_csv(index=False))
        if figures:
            fig = site_figure(site, result.series[sid], composite, result.masks[sid].footprint,
                              state.grid)
            figs[sid] = str(save_figure(fig, out_dir / "evidence" / f"{name}.png")
                            .relative_to(out_dir))
    result.run["outputs"] = {"sites": "sites.geojson", "hotspots": "hotspots.geojson",
                             "series": "series/", "evidence": figs}
    written["run"] = write_json(out_dir / "run.json", result.run)
    return written
