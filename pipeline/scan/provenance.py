"""A run's provenance, built in one place: what ``run.json`` and ``discover.json`` say of a run.

Every run records the software, its imagery source, the configuration and the time it took
(:func:`run_provenance`); a scan adds the input files with their sha256, the scenes used and
skipped and the grid (:func:`scan_provenance`), and the site and exclusion files it was given
(:func:`input_files`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from pipeline import __version__
from pipeline.core.config import Config
from pipeline.core.grid import Grid
from pipeline.core.outputs import sha256_file
from pipeline.io.reader import ProductFiles
from pipeline.io.source import ImagerySource
from pipeline.io.stack import SceneLog

__all__ = ["input_files", "product_inputs", "run_provenance", "scan_provenance", "software"]


def software() -> dict[str, str]:
    """Return ``{"name": "heatwatch", "version": ...}``."""
    return {"name": "heatwatch", "version": __version__}


def run_provenance(source: ImagerySource, config: Config, seconds: float,
                   entries: Mapping[str, Any]) -> dict[str, Any]:
    """Return a run's provenance: software, source, the run's own ``entries``, config, seconds.

    Examples
    --------
    >>> from pipeline.core.config import load_config
    >>> from pipeline.io.source import LocalSource
    >>> p = run_provenance(LocalSource(Path("imagery")), load_config(environ={}), 1.234, {})
    >>> [k for k in p], p["seconds"]
    (['software', 'imagery_dir', 'config', 'seconds'], 1.23)
    """
    return {"software": software(), **source.provenance(), **entries,
            "config": config.as_dict(), "seconds": round(seconds, 2)}


def product_inputs(folder: Path, products: Sequence[ProductFiles], used: set[str], *,
                   greenness: bool = False) -> list[dict[str, Any]]:
    """Return every file read of ``products``: path (relative to ``folder``), sha256, product.

    ``used``: the products read; red and near-infrared count only with ``greenness``
    (``reader.greenness``), since only then does the reader open them.
    """
    inputs = []
    for p in products:
        for f in p.files_read(greenness=greenness):
            try:
                digest: str | None = sha256_file(f)
            except OSError:  # unreadable input: already skipped and reported by the reader
                digest = None
            inputs.append({"path": str(f.relative_to(folder) if f.is_relative_to(folder) else f),
                           "sha256": digest, "product_id": p.product_id,
                           "used": p.product_id in used})
    return inputs


def scan_provenance(source: ImagerySource, folder: Path, products: Sequence[ProductFiles],
                    log: SceneLog, config: Config, grid: Grid, seconds: float) -> dict[str, Any]:
    """Return a scan's provenance (the ``run.json`` keys of :func:`run_provenance` and more).

    ``inputs`` (files with sha256), ``scenes`` (used), ``skipped`` and ``grid`` (CRS, transform,
    shape) come between the source and the configuration.
    """
    used = {u["product_id"] for u in log.used}
    return run_provenance(source, config, seconds, {
        "inputs": product_inputs(folder, products, used, greenness=config.reader.greenness),
        "scenes": log.used,
        "skipped": [{"path": str(s.path), "message": s.message} for s in log.skipped],
        "grid": {"crs": grid.crs.to_string(), "transform": list(grid.transform)[:6],
                 "shape": list(grid.shape)},
    })


def input_files(sites_path: Path | None, exclusions_path: Path | None) -> dict[str, Any]:
    """Return the site and exclusion files a scan was given (and the sites file's sha256)."""
    out: dict[str, Any] = {
        "sites_file": None if sites_path is None else str(sites_path),
        "exclusions_file": None if exclusions_path is None else str(exclusions_path)}
    if sites_path is not None:
        out["sites_sha256"] = sha256_file(sites_path)
    return out
