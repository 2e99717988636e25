"""Scenes onto one grid, in time order: streaming iteration and (time, y, x) stacks.

Duplicates are resolved here: the same product found twice is read once; two acquisitions on
the same day (Landsat 8 and 9 underfly, or a reprocessed product) keep the one with more clear
pixels over the grid, and the other is reported. Unreadable or non-overlapping scenes are
reported and skipped; the run goes on.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import xarray as xr

from pipeline.core.config import ReaderConfig
from pipeline.core.errors import HeatwatchError, NoDataError, QAMissingWarning
from pipeline.core.grid import Grid
from pipeline.io.mtl import read_mtl
from pipeline.io.reader import Problem, ProductFiles, read_scene


@dataclass
class SceneLog:
    """What happened to each product of a run (for run.json and the report)."""

    used: list[dict] = field(default_factory=list)
    skipped: list[Problem] = field(default_factory=list)

    def skip(self, product: ProductFiles | None, path: object, message: str) -> None:
        """Record a skipped product or file."""
        from pathlib import Path

        self.skipped.append(Problem(Path(str(product.band if product else path)), message))


def order_products(products: Sequence[ProductFiles], log: SceneLog) -> list[ProductFiles]:
    """Sort products by acquisition time; unreadable MTLs are logged and dropped."""
    dated = []
    for p in products:
        try:
            dated.append((read_mtl(p.mtl).acquired, p.product_id, p))
        except HeatwatchError as exc:
            log.skip(p, p.mtl, str(exc))
    return [p for _, _, p in sorted(dated, key=lambda t: (t[0], t[1]))]


def iter_scenes(
    products: Sequence[ProductFiles], grid: Grid, *, config: ReaderConfig | None = None,
    log: SceneLog | None = None, on_scene: Callable[[ProductFiles], None] | None = None,
) -> Iterator[xr.Dataset]:
    """Yield each usable scene on ``grid`` in time order, one at a time (bounded memory).

    Same-day acquisitions are merged by keeping the one with more clear pixels; a night and a
    day acquisition of one date are two looks (one with the sun, one without), both kept.
    """
    log = log if log is not None else SceneLog()
    pending: xr.Dataset | None = None
    pending_product: ProductFiles | None = None
    for product in order_products(products, log):
        if on_scene is not None:
            on_scene(product)
        try:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", QAMissingWarning)
                ds = read_scene(product, config=config, grid=grid)
            for w in caught:
                warnings.warn(w.message, w.category, stacklevel=2)
        except NoDataError as exc:
            log.skip(product, product.band, f"{exc}")
            continue
        except HeatwatchError as exc:
            log.skip(product, product.band, str(exc))
            continue
        clear = float(np.isfinite(ds["temperature"].values).mean())
        ds.attrs["clear_fraction"] = clear
        if clear == 0.0:
            log.skip(product, product.band, "no clear pixel over the area (all cloud or fill); "
                     "the scene adds no look, nothing to do")
            continue
        if pending is not None and _day(pending) == _day(ds):
            pending_wins = pending.attrs["clear_fraction"] >= clear
            keep, drop = (pending, ds) if pending_wins else (ds, pending)
            # name the dropped product's file, not just its id, so users can find it
            log.skip(product if pending_wins else pending_product, drop.attrs["product_id"],
                     f"same day as {keep.attrs['product_id']}, which has more clear pixels; "
                     "kept that one, nothing to do")
            if not pending_wins:
                pending, pending_product = ds, product
            continue
        if pending is not None:
            log.used.append(_summary(pending))
            yield pending
        pending, pending_product = ds, product
    if pending is not None:
        log.used.append(_summary(pending))
        yield pending


def _day(ds: xr.Dataset) -> tuple[str, str]:
    return str(ds.attrs["acquisition_time"])[:10], str(ds.attrs.get("day_night", "DAY"))


def _summary(ds: xr.Dataset) -> dict:
    keys = ("product_id", "spacecraft", "acquisition_time", "sun_elevation", "cloud_cover",
            "clear_fraction", "day_night")
    return {k: ds.attrs.get(k) for k in keys}


def stack_scenes(scenes: Sequence[xr.Dataset] | Iterator[xr.Dataset]) -> xr.Dataset:
    """Concatenate per-scene Datasets on one grid into a (time, y, x) Dataset.

    Per-scene metadata become coordinates along ``time`` (product_id, spacecraft,
    sun_elevation, cloud_cover, clear_fraction, day_night).

    Raises
    ------
    NoDataError
        If there is no scene.
    """
    scenes = list(scenes)
    if not scenes:
        raise NoDataError("no usable scene; check the imagery folder and the area of interest")
    times = pd.to_datetime([s.attrs["acquisition_time"] for s in scenes]).tz_localize(None)
    crs = scenes[0].rio.crs
    stacked = xr.concat([s.drop_vars("spatial_ref", errors="ignore") for s in scenes],
                        dim="time", combine_attrs="drop")
    stacked = stacked.assign_coords(time=("time", times.values))
    for key in ("product_id", "spacecraft", "sun_elevation", "cloud_cover", "clear_fraction",
                "day_night"):
        stacked = stacked.assign_coords({key: ("time", [s.attrs.get(key) for s in scenes])})
    stacked = stacked.rio.write_crs(crs)
    stacked.attrs["title"] = "Heatwatch thermal stack"
    return stacked
