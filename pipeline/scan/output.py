"""Write a scan's results: sites.geojson, hotspots.geojson, series, nulls, run.json, evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.core.errors import OutputError
from pipeline.core.outputs import write_geojson, write_json, write_text
from pipeline.core.site_row import INTEGER_PROPERTIES
from pipeline.core.sites import safe_name
from pipeline.report.build import build_report
from pipeline.report.files import EVIDENCE_DIR, MAP_FILE, REPORT_DIR
from pipeline.scan.nulls import null_frame
from pipeline.scan.rasters import write_rasters
from pipeline.scan.run import ScanResult


def write_scan(result: ScanResult, out_dir: Path, *, figures: bool = True) -> dict[str, Any]:
    """Write every output of a scan into ``out_dir`` (atomically, file by file).

    Data first (sites, hotspots, series, each site's placebo null, report rasters, run.json);
    then, with ``figures``, the evidence PNGs, site reports and interactive map are built from
    those files alone by :func:`pipeline.report.build.build_report`, exactly as
    ``heatwatch report OUT/`` rebuilds them.
    """
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:  # a file in the way, permission denied, disk full
        raise OutputError(f"cannot create output folder {out_dir}: "
                          f"{exc.strerror or exc}; choose another --out folder") from exc
    written: dict[str, Any] = {}
    written["sites"] = write_geojson(out_dir / "sites.geojson", result.sites,
                                     integers=INTEGER_PROPERTIES)
    written["hotspots"] = write_geojson(out_dir / "hotspots.geojson", result.hotspots)
    names = {str(sid): safe_name(str(sid)) for sid in result.sites["site_id"]}
    for sid, name in names.items():
        write_text(out_dir / "series" / f"{name}.csv", result.series[sid].to_csv(index=False))
        if sid in result.nulls:  # the numbers its null test judged by (pipeline.scan.nulls)
            table = null_frame(result.nulls[sid], result.state.grid.resolution)
            write_text(out_dir / "nulls" / f"{name}.csv", table.to_csv(index=False))
    outputs: dict[str, Any] = {"sites": "sites.geojson", "hotspots": "hotspots.geojson",
                               "series": "series/", "nulls": "nulls/",
                               "rasters": write_rasters(result, out_dir)}
    if figures:
        outputs["evidence"] = {s: f"{EVIDENCE_DIR}/{n}.png" for s, n in names.items()}
        outputs["reports"] = {s: f"{REPORT_DIR}/{n}.html" for s, n in names.items()}
        outputs["map"] = MAP_FILE
    result.run["outputs"] = outputs
    written["run"] = write_json(out_dir / "run.json", result.run)
    if figures:
        written.update(build_report(out_dir))
    return written
