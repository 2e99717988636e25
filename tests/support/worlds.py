"""Small generated worlds and their file hashes, for tests of the simulator and of readers."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import date
from pathlib import Path

import rasterio

from models.world_spec import CampusSpec, WorldSpec

CAMPUS = CampusSpec(site_id="S1", name="One", operator="Op", x_km=0.2, y_km=-0.1,
                    power_mw=150, reported_power_mw=140)


def make_spec(**kw) -> WorldSpec:
    """A small cloud-free, noise-free world with one isolated dry campus."""
    base = dict(seed=7, name="t", center_lat=40.0, center_lon=-100.0, size_px=96,
                start=date(2024, 6, 1), n_acquisitions=4, cloudiness=0.0,
                edge_fill_probability=0.0, noise_k=0.0, heat_jitter=0.0, campuses=(CAMPUS,))
    base.update(kw)
    return WorldSpec(**base)


def sha256_tree(folder: Path) -> dict[str, str]:
    """sha256 of every file in ``folder``, by name."""
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def content_sha256(folder: Path, skip: Callable[[str], bool] = lambda name: False) -> str:
    """One sha256 of a world's content: pixel arrays, CRS and transform of TIFFs, other bytes.

    Independent of how GDAL lays a TIFF out, so a pinned value survives library upgrades
    that change no pixel. Files whose name ``skip`` accepts are left out.
    """
    h = hashlib.sha256()
    for p in sorted(folder.iterdir()):
        if skip(p.name):
            continue
        h.update(p.name.encode())
        if p.suffix == ".TIF":
            with rasterio.open(p) as src:
                h.update(src.read().tobytes())
                h.update(repr((src.crs.to_epsg(), tuple(src.transform))).encode())
        else:
            h.update(p.read_bytes())
    return h.hexdigest()
