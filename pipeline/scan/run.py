"""The scan: from a folder of thermal scenes and a site catalog to site verdicts.

One pass streams the scenes onto the scan grid (one scene in memory at a time; calibrated
temperatures are kept in a disk-backed array for the second step) and records per-scene
hotspots, per-pixel persistence, and the integrated excess of every catalogued site. Persistent
hotspots outside the catalog become candidate footprints and are measured from the kept
temperatures. Every site's series then goes through the solar-decoupled activity model
(:mod:`pipeline.science.activity`), the excess-to-MW calibration (:mod:`pipeline.science.power`),
and the energy
model's cross-reference. This module wires compute to IO; the compute lives in the modules it
calls.
"""

from __future__ import annotations

import gc
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
from pyproj import CRS as ProjCRS
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from scipy.stats import norm
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from models.energy import inverse
from models.energy_check import cross_reference
from models.energy_types import Interval
from pipeline import __version__
from pipeline.core.config import Config, DetectionConfig
from pipeline.core.errors import HeatwatchError, NoDataError
from pipeline.core.grid import Bounds, Grid
from pipeline.core.outputs import sha256_file
from pipeline.core.sites import split_covered
from pipeline.io.reader import ProductFiles, discover_products
from pipeline.io.reader import product_extent as scene_bounds
from pipeline.io.stack import SceneLog, iter_scenes
from pipeline.scan.baseline import BASELINE_COLUMNS, Baseline, baseline_columns, site_baselines
from pipeline.scan.verdicts import WORST, calibration_columns, maybe_land
from pipeline.science.activity import ActivityFit, fit_activity
from pipeline.science.anomaly import anomaly
from pipeline.science.declared import Declaration, declaration_on, declarations_on, site_credit
from pipeline.science.detect import (
    hotspot_mask,
    hotspot_table,
    nonsolar_excess,
    persistent_regions,
    significant_excess,
)
from pipeline.science.footprint import Look, SiteMasks, measure_look, site_masks
from pipeline.science.placebo import (
    MIN_PLACEBOS,
    PlaceboSeries,
    RegionNull,
    SiteNull,
    measure_placebos,
)
from pipeline.science.power import (
    Calibration,
    CalibrationSet,
    CalibrationSite,
    HeatEstimate,
    heat_mw,
    site_coefficient,
)
from pipeline.science.solar import clear_sky_irradiance
from pipeline.science.solar_index import choose_index, pattern_loading, pattern_mask, scene_contrast

SITE_COLUMNS = ["site_id", "name", "operator", "reported_power_mw", "cooling"]


@dataclass
class SceneRecord:
    """Per-scene facts the series need."""

    product_id: str
    date: str
    spacecraft: str
    sun_elevation: float
    irradiance: float
    contrast_k: float
    solar: float
    clear_fraction: float
    pattern: float = float("nan")
    #: "DAY" or "NIGHT" (see pipeline.io.mtl.day_night): a night look has no solar loading.
    day_night: str = "DAY"

    @property
    def night(self) -> bool:
        """True for a night look."""
        return self.day_night == "NIGHT"


@dataclass
class ScanState:
    """Everything accumulated while streaming the scenes."""

    grid: Grid
    scenes: list[SceneRecord] = field(default_factory=list)
    looks: dict[str, list[Look]] = field(default_factory=dict)
    hotspots: list[gpd.GeoDataFrame] = field(default_factory=list)
    present: np.ndarray | None = None
    clear_count: np.ndarray | None = None
    anomaly_sum: np.ndarray | None = None
    temps: np.ndarray | None = None
    anomalies: np.ndarray | None = None
    water: np.ndarray | None = None
    nonsolar_k: np.ndarray | None = None


@dataclass
class ScanResult:
    """What a scan produced, before it is written."""

    sites: gpd.GeoDataFrame
    hotspots: gpd.GeoDataFrame
    series: dict[str, pd.DataFrame]
    state: ScanState
    fits: dict[str, ActivityFit]
    masks: dict[str, SiteMasks]
    run: dict[str, Any]
    #: Each site's excess series and those of its placebo footprints (pipeline.science.placebo).
    placebos: dict[str, PlaceboSeries] = field(default_factory=dict)
    #: Each catalogued site's declared baseline (pipeline.scan.baseline), where one exists.
    baselines: dict[str, Baseline] = field(default_factory=dict)


# Grid ------------------------------------------------------------------------------------------


def imagery_bounds(products: list[ProductFiles]) -> tuple[CRS, Bounds]:
    """CRS (the scenes' most common UTM zone) and bounds of the union of the scenes' extents."""
    extents = []
    for p in products:
        try:
            extents.append(scene_bounds(p))
        except HeatwatchError:
            continue
    if not extents:
        raise NoDataError("no readable scene in the imagery folder; see the problems listed")
    crs_list = [c.to_epsg() for c, _ in extents]
    crs = CRS.from_epsg(max(set(crs_list), key=crs_list.count))
    boxes = [b if ProjCRS(c) == ProjCRS(crs) else transform_bounds(c, crs, *b) for c, b in extents]
    arr = np.array(boxes)
    return crs, (arr[:, 0].min(), arr[:, 1].min(), arr[:, 2].max(), arr[:, 3].max())


def imagery_footprint(products: list[ProductFiles]) -> BaseGeometry | None:
    """Return the union of the products' extents in EPSG:4326 (``None`` if no MTL is readable).

    A catalog site outside it is *not covered by the imagery*: no look of it exists, so
    ``scan``, ``report`` and ``monitor`` name it as such and draw no evidence for it.
    """
    boxes = []
    for p in products:
        try:
            crs, bounds = scene_bounds(p)
        except HeatwatchError:
            continue
        boxes.append(box(*transform_bounds(crs, "EPSG:4326", *bounds)))
    return unary_union(boxes) if boxes else None


def scan_grid(imagery: tuple[CRS, Bounds], config: Config,
              sites: gpd.GeoDataFrame | None = None) -> Grid:
    """Return the scan grid over the ``imagery`` extent (see :func:`imagery_bounds`).

    With ``sites``, the grid is limited to the sites' bounds plus ``grid.margin_m`` (where
    that box overlaps the scenes); new sites beyond it are not searched (see
    :func:`coverage`).
    """
    crs, bounds = imagery
    if sites is not None and len(sites) and config.grid.margin_m > 0:
        sb = sites.to_crs(crs).total_bounds
        m = config.grid.margin_m
        clip = (sb[0] - m, sb[1] - m, sb[2] + m, sb[3] + m)
        inter = (max(bounds[0], clip[0]), max(bounds[1], clip[1]),
                 min(bounds[2], clip[2]), min(bounds[3], clip[3]))
        if inter[2] > inter[0] and inter[3] > inter[1]:
            bounds = inter
    return Grid.from_bounds(crs, bounds, config.grid.resolution_m)


def coverage(imagery: tuple[CRS, Bounds], grid: Grid) -> dict[str, float]:
    """Area of the ``imagery`` extent and the part of it the scan grid covers (km2).

    Candidates are searched only inside the grid: with a catalog, the rest of the imagery
    (beyond ``grid.margin_m``) needs ``heatwatch discover`` or a larger margin.
    """
    crs, (left, bottom, right, top) = imagery
    g = grid.bounds_in(crs)
    w = max(0.0, min(right, g[2]) - max(left, g[0]))
    h = max(0.0, min(top, g[3]) - max(bottom, g[1]))
    return {"imagery_km2": round((right - left) * (top - bottom) / 1e6, 3),
            "scanned_km2": round(w * h / 1e6, 3)}


# Pass 1 ----------------------------------------------------------------------------------------


def _accumulate(state: ScanState, idx: int, ds: Any, catalog_zone: np.ndarray,
                config: Config) -> None:
    grid = state.grid
    t = ds["temperature"].values
    flags = ds["flags"].values
    an = anomaly(ds["temperature"], config.anomaly, exclude=catalog_zone)
    a, z = an["anomaly"].values, an["zscore"].values
    hot = hotspot_mask(a, z, config.detection, grid.pixel_area)
    clear = np.isfinite(t)
    assert state.present is not None and state.clear_count is not None
    assert state.anomaly_sum is not None and state.temps is not None and state.water is not None
    night = str(ds.attrs.get("day_night", "DAY")) == "NIGHT"
    if not night:
        # a night scene's hotspots are warm water and towns as much as compute: recorded
        # (hotspots.geojson), not counted towards a new site's persistence
        state.present += hot
    state.clear_count += clear
    state.anomaly_sum += np.where(clear, np.nan_to_num(a), 0.0)
    state.temps[idx] = t
    assert state.anomalies is not None
    state.anomalies[idx] = np.where(clear, a, np.nan)
    state.water |= (flags & 32) != 0
    elev = float(ds.attrs["sun_elevation"])
    # a night look has no solar loading (and its contrast is not the sun's: left out)
    irr = 0.0 if night else float(clear_sky_irradiance(elev)) / 1000.0
    contrast = float("nan") if night else scene_contrast(
        t, usable=clear & ~catalog_zone & ((flags & 32) == 0),
        min_pixels=config.persistence.min_contrast_pixels)
    solar = irr  # replaced by the scene contrast in choose_solar_index when it is informative
    rec = SceneRecord(str(ds.attrs["product_id"]), str(ds.attrs["acquisition_time"])[:10],
                      str(ds.attrs["spacecraft"]), elev, irr, contrast, solar,
                      float(ds.attrs["clear_fraction"]),
                      day_night="NIGHT" if night else "DAY")
    state.scenes.append(rec)
    if hot.any():
        table = hotspot_table(hot, a, grid)
        table["date"] = rec.date
        table["product_id"] = rec.product_id
        state.hotspots.append(table)


def _stream(products: list[ProductFiles], grid: Grid, masks: list[SiteMasks], config: Config,
            log: SceneLog, workdir: Path,
            progress: Callable[[str], None] | None) -> ScanState:
    state = ScanState(grid=grid)
    h, w = grid.shape
    state.present = np.zeros(grid.shape, dtype=np.int32)
    state.clear_count = np.zeros(grid.shape, dtype=np.int32)
    state.anomaly_sum = np.zeros(grid.shape, dtype=np.float64)
    state.water = np.zeros(grid.shape, dtype=bool)
    state.temps = np.lib.format.open_memmap(workdir / "temps.npy", mode="w+", dtype=np.float32,
                                            shape=(max(len(products), 1), h, w))
    state.anomalies = np.lib.format.open_memmap(workdir / "anomalies.npy", mode="w+",
                                                dtype=np.float32, shape=state.temps.shape)
    catalog_zone = np.logical_or.reduce([m.integration for m in masks]) if masks else None
    scenes = iter_scenes(products, grid, config=config.reader, log=log,
                         on_scene=(lambda p: progress(p.product_id)) if progress else None)
    for idx, ds in enumerate(scenes):
        _accumulate(state, idx, ds, catalog_zone if catalog_zone is not None
                    else np.zeros(grid.shape, dtype=bool), config)
        del ds
        # xarray caches each .rio accessor on its object, and the accessor refers back to it:
        # a scene's Datasets form reference cycles that keep its arrays until the cyclic
        # garbage collector runs, which it does by object counts, not bytes. Collecting the
        # youngest generation after each scene (about a millisecond) keeps memory near one
        # scene's worth instead of an arbitrary number of them.
        gc.collect(0)
    return state


# Sites -----------------------------------------------------------------------------------------


def _candidate_sites(state: ScanState, catalog_zone: np.ndarray,
                     config: Config) -> gpd.GeoDataFrame:
    assert state.present is not None
    grow = int(np.ceil(config.persistence.background_inner_m / state.grid.resolution))
    from scipy import ndimage

    keep_out = ndimage.binary_dilation(catalog_zone, iterations=grow) if catalog_zone.any() \
        else catalog_zone
    # Candidate pixels: present in enough per-scene hotspots, or with a significant
    # solar-decoupled excess (heat that stands out in low-sun looks even when summer
    # contrasts hide it in any single scene).
    min_looks = config.persistence.candidate_min_looks
    present = state.present.copy()
    if state.nonsolar_k is not None:
        present[state.nonsolar_k] = np.maximum(present[state.nonsolar_k], min_looks)
    regions = persistent_regions(present, min_looks=min_looks,
                                 grid=state.grid, min_area_m2=config.detection.min_area_m2,
                                 exclude=keep_out)
    order = np.argsort(-regions.geometry.area.to_numpy(), kind="stable")
    regions = regions.iloc[order].reset_index(drop=True)
    # hot pixels mark the cooling yards; the campus around them is measured too
    grow_m = config.detection.candidate_buffer_m
    if grow_m > 0 and len(regions):
        regions["geometry"] = regions.geometry.buffer(grow_m, join_style="mitre")
    regions["site_id"] = [f"candidate-{i + 1}" for i in range(len(regions))]
    for col in SITE_COLUMNS[1:]:
        regions[col] = None
    return regions


def _nonsolar_hot(state: ScanState, config: Config) -> np.ndarray:
    """Pixels whose solar-decoupled excess is large and significant (see detect.nonsolar_excess).

    Tested over the whole series and over each half of it.
    """
    assert state.anomalies is not None
    d = config.detection
    n = len(state.scenes)
    # the whole series, and each half: heat that ran for part of it (a campus that started or
    # shut down) is diluted in a fit over all looks
    spans = [(0, n), (0, n // 2), (n // 2, n)]
    hot = np.zeros(state.grid.shape, dtype=bool)
    for lo, hi in spans:
        looks = ((state.anomalies[i], state.scenes[i].solar) for i in range(lo, hi))
        beta, se, n_looks = nonsolar_excess(looks, state.grid.shape)
        hot |= significant_excess(beta, se, n_looks, min_k=d.nonsolar_min_k, min_z=d.min_z)
    return hotspot_mask(np.where(hot, 1.0, 0.0), np.where(hot, np.inf, 0.0),
                        DetectionConfig(min_anomaly_k=0.5, min_z=1.0, min_area_m2=d.min_area_m2),
                        state.grid.pixel_area)


def running_patterns(state: ScanState) -> Iterator[np.ndarray]:
    """Yield, scene by scene in date order, the mean anomaly of each pixel so far.

    Solar-driven anomalies are ``s_i * r_p``, so this is the land-cover pattern ``r_p`` up to
    a factor (dark roofs and bare fields high, vegetation low; NaN where never clear yet).
    Using only the scenes up to each date keeps every look independent of later scenes, so a
    scan up to a date and the monitor's replay of a longer scan agree. Night scenes do not
    build the pattern (their anomalies are not the sun's: water and buildings are warm at
    night); a night look gets the day pattern so far.
    """
    assert state.anomalies is not None
    total = np.zeros(state.grid.shape, dtype=np.float64)
    count = np.zeros(state.grid.shape, dtype=np.int32)
    for i in range(len(state.scenes)):
        if not state.scenes[i].night:
            a = state.anomalies[i]
            ok = np.isfinite(a)
            total += np.where(ok, a, 0.0)
            count += ok
        with np.errstate(invalid="ignore", divide="ignore"):
            yield np.where(count > 0, total / count, np.nan)


def _looks_from_temps(state: ScanState, masks: list[SiteMasks], config: Config) -> None:
    """Measure every look of ``masks`` from the stored scenes (see footprint.measure_look)."""
    assert state.temps is not None and state.water is not None
    flags = np.where(state.water, 32, 0).astype(np.uint8)
    matched = config.persistence.background_model == "matched"
    patterns = running_patterns(state) if matched else None
    looks: dict[str, list[Look]] = {m.site_id: [] for m in masks}
    for i in range(len(state.scenes)):
        pattern = next(patterns) if patterns is not None else None
        for m in masks:
            looks[m.site_id].append(measure_look(
                state.temps[i], flags, m, pixel_area=state.grid.pixel_area,
                min_clear_fraction=config.persistence.min_clear_fraction, pattern=pattern))
    state.looks.update(looks)


def _series(state: ScanState, site_id: str) -> pd.DataFrame:
    looks = state.looks.get(site_id, [])
    return pd.DataFrame({
        "date": [s.date for s in state.scenes],
        "product_id": [s.product_id for s in state.scenes],
        "day_night": [s.day_night for s in state.scenes],
        "spacecraft": [s.spacecraft for s in state.scenes],
        "sun_elevation": [s.sun_elevation for s in state.scenes],
        "clear_sky_irradiance": [s.irradiance for s in state.scenes],
        "scene_contrast_k": [s.contrast_k for s in state.scenes],
        "solar_loading": [s.solar for s in state.scenes],
        "clear_fraction": [lk.clear_fraction for lk in looks],
        "background_k": [lk.background_k for lk in looks],
        "mean_excess_k": [lk.mean_excess_k for lk in looks],
        "excess_k_m2": [lk.excess_k_m2 for lk in looks],
    })


def _fit(series: pd.DataFrame, masks: SiteMasks, pixel_area: float, config: Config,
         null: SiteNull | None = None, *, in_catalog: bool = True,
         baseline: Baseline | None = None, placebos: PlaceboSeries | None = None) -> ActivityFit:
    looks = (np.isfinite(series["excess_k_m2"]) & np.isfinite(series["solar_loading"])).to_numpy()
    clear = series[looks]
    p = config.persistence
    # the land's own shapes over these looks, from the scene's placebo footprints
    modes = placebos.modes(looks, series["solar_loading"].to_numpy(), p.land_modes) \
        if placebos is not None and p.land_modes > 0 else None
    return fit_activity(clear["excess_k_m2"].to_numpy(), clear["solar_loading"].to_numpy(),
                        night=(clear["day_night"] == "NIGHT").to_numpy()
                        if "day_night" in clear else None,
                        baseline_looks=0 if baseline is None else baseline.looks(
                            clear["date"].astype(str).tolist()),
                        area_m2=masks.integration_area_px * pixel_area, min_looks=p.min_looks,
                        significance=p.significance, min_active_k_m2=p.min_active_k_m2,
                        baseline_offset_k=p.baseline_offset_k,
                        change_bic_margin=p.change_bic_margin,
                        max_baseline_k_m2=None if null is None else null.offset_bound(
                            p.significance),
                        offset_sd_k_m2=None if null is None else null.offset_bound(1.0),
                        ambiguous_change="heat" if in_catalog else "nuisance",
                        nuisance=modes if modes is not None and modes.size else None)


def _annotate(series: pd.DataFrame, fit: ActivityFit) -> pd.DataFrame:
    series = series.copy()
    clear_idx = np.flatnonzero(np.isfinite(series["excess_k_m2"].to_numpy())
                               & np.isfinite(series["solar_loading"].to_numpy()))
    series["clear"] = False
    series.loc[clear_idx, "clear"] = True
    series["active"] = False
    series["solar_part_k_m2"] = series["solar_loading"] * (fit.solar_k_m2 if np.isfinite(
        fit.solar_k_m2) else np.nan)
    series["residual_heat_k_m2"] = np.nan
    if fit.n_clear and fit.residual_heat.size == clear_idx.size:
        series.loc[clear_idx, "residual_heat_k_m2"] = fit.residual_heat
    if fit.ever_active and fit.start is not None and fit.stop is not None:
        series.loc[clear_idx[fit.start:fit.stop], "active"] = True
    return series


# Run -------------------------------------------------------------------------------------------


def run_scan(
    imagery_dir: Path,
    config: Config,
    *,
    sites: gpd.GeoDataFrame | None = None,
    exclusions: gpd.GeoDataFrame | None = None,
    grid: Grid | None = None,
    progress: Callable[[str], None] | None = None,
    on_total: Callable[[int], None] | None = None,
) -> ScanResult:
    """Scan a folder of Landsat C2 products for persistent compute heat.

    Parameters
    ----------
    imagery_dir
        Folder of products (see :func:`pipeline.io.reader.discover_products`).
    config
        The validated configuration.
    sites
        Optional catalog (EPSG:4326 polygons with ``site_id`` and optionally ``name``,
        ``operator``, ``reported_power_mw``, ``cooling``).
    exclusions
        Optional known non-datacenter heat sources (power plants, smelters, ...) with ``name``
        and ``kind``; candidates within ``discover.exclusion_radius_m`` of one get the status
        ``excluded`` and an ``exclusion`` label instead of being reported as new sites.
    grid
        Scan grid (e.g. one tile of a region); default: the scenes' extent, limited to the
        sites plus ``grid.margin_m`` when sites are given (see :func:`scan_grid`).
    progress, on_total
        Callbacks for a progress bar: called with each product id, and once with the total.

    Returns
    -------
    ScanResult
        Site table, hotspots, per-site series and provenance, ready to be written.
    """
    t0 = time.perf_counter()
    products, problems = discover_products(imagery_dir)
    if not products:
        raise NoDataError(f"no Landsat C2 band 10 product in {imagery_dir}; expected files like "
                          "LC08_L2SP_..._ST_B10.TIF with their _MTL.json/.txt/.xml")
    if on_total is not None:
        on_total(len(products))
    catalog = _catalog(sites)
    imagery = imagery_bounds(products)  # every MTL read once, for the grid and its coverage
    # a site no scene (or not the given grid) covers has no look: named, never measured
    area = imagery_footprint(products)
    if grid is not None and area is not None:
        area = area.intersection(box(*grid.bounds_in(CRS.from_epsg(4326))))
    catalog, not_covered = split_covered(catalog, area)
    grid = grid or scan_grid(imagery, config, catalog if len(catalog) else None)
    log = SceneLog(skipped=list(problems))
    masks = site_masks(catalog, grid, config.persistence) if len(catalog) else []
    baselines = site_baselines([str(s) for s in catalog["site_id"]], Path(imagery_dir),
                               config.persistence.baseline_end)
    with tempfile.TemporaryDirectory(prefix="heatwatch-scan-") as tmp:
        state = _stream(products, grid, masks, config, log, Path(tmp), progress)
        if not state.scenes:
            raise NoDataError("no usable scene over the area: every scene was skipped "
                              f"({len(log.skipped)} problem(s)); see the messages above")
        catalog_zone = np.logical_or.reduce([m.integration for m in masks]) if masks else \
            np.zeros(grid.shape, dtype=bool)
        solar_index = choose_solar_index(state, catalog_zone, config)
        state.nonsolar_k = _nonsolar_hot(state, config)
        candidates = _candidate_sites(state, catalog_zone, config)
        cand_masks = site_masks(candidates, grid, config.persistence) if len(candidates) else []
        # every look is measured after the stream: the matched background needs the
        # land-cover pattern of the scenes so far, and the candidates exist only now
        _looks_from_temps(state, masks + cand_masks, config)
        placebos = measure_site_placebos(state, masks + cand_masks, config,
                                         frozenset(m.site_id for m in masks))
        state.temps = state.anomalies = None
    all_masks = {m.site_id: m for m in masks + cand_masks}
    if exclusions is not None and len(candidates):
        candidates = label_exclusions(candidates, exclusions, config.discover.exclusion_radius_m)
    result = _assemble(state, catalog, candidates, all_masks, config, placebos, baselines)
    result.run["solar_index"] = solar_index
    result.run["not_covered"] = [{"site_id": str(r.site_id), "name": _json_value(r.name)}
                                 for r in not_covered.itertuples()]
    credits = sorted({c for c in map(site_credit, catalog.itertuples()) if c})
    if credits:  # CC-BY: the data behind the declared powers is credited in every export
        result.run["data_credits"] = credits
    elapsed = time.perf_counter() - t0
    result.run.update(_provenance(imagery_dir, products, log, config, grid, elapsed))
    result.run["grid"].update(coverage(imagery, grid))
    return result


def label_exclusions(candidates: gpd.GeoDataFrame, exclusions: gpd.GeoDataFrame,
                     radius_m: float) -> gpd.GeoDataFrame:
    """Label candidates lying within ``radius_m`` of a known non-datacenter heat source."""
    out = candidates.copy()
    excl = exclusions.to_crs(out.crs)
    labels = []
    for geom in out.geometry:
        near = excl[excl.distance(geom) <= radius_m]
        labels.append(None if near.empty else "; ".join(
            f"{r.get('name', 'unnamed')} ({r.get('kind', 'heat source')})"
            for _, r in near.iterrows()))
    out["exclusion"] = labels
    return out


def _catalog(sites: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    if sites is None or not len(sites):
        return gpd.GeoDataFrame({c: [] for c in SITE_COLUMNS}, geometry=[], crs=4326)
    out = sites.copy()
    for col in SITE_COLUMNS:
        if col not in out:
            out[col] = None
    return out


_INDEX_ORDER = {"pattern": ["pattern", "scene_contrast"], "scene_contrast": ["scene_contrast"],
                "clear_sky": []}


def apply_solar_index(scenes: list[SceneRecord], preferred: str) -> str:
    """Set each scene's ``solar`` from the best index that tracks the irradiance; return its name.

    Uses only the records given, so a scan of the first N scenes and a replay of a longer scan
    truncated at N choose alike (the ``pattern`` values, when used, come from the full scan).
    The index is chosen on the day scenes; a night scene's solar loading is 0.
    """
    day = [s for s in scenes if not s.night]
    cands = {"scene_contrast": [s.contrast_k for s in day], "pattern": [s.pattern for s in day]}
    name, values = choose_index([s.irradiance for s in day], cands, _INDEX_ORDER[preferred])
    for rec, v in zip(day, values, strict=True):
        rec.solar = float(v)
    for rec in scenes:
        if rec.night:
            rec.solar = 0.0
    return name


def choose_solar_index(state: ScanState, catalog_zone: np.ndarray, config: Config) -> str:
    """Compute the pattern index if configured, then apply the best index (see solar_index)."""
    if config.persistence.solar_index == "pattern" and state.anomalies is not None:
        assert state.water is not None
        base = ~catalog_zone & ~state.water
        for i, (rec, pattern) in enumerate(zip(state.scenes, running_patterns(state),
                                               strict=True)):
            if rec.night:
                continue  # no sun: its loading is 0 (apply_solar_index)
            usable = pattern_mask(pattern, base)  # finite pixels only
            # in units of its inter-quartile range, so the loadings keep one unit as the
            # pattern of a growing scan changes
            spread = scene_contrast(pattern, usable=usable, min_pixels=2)
            rec.pattern = pattern_loading(
                state.anomalies[i], pattern / spread, usable=usable,
                min_pixels=config.persistence.min_contrast_pixels) if spread > 0 else np.nan
    return apply_solar_index(state.scenes, config.persistence.solar_index)


def measure_site_placebos(state: ScanState, masks: list[SiteMasks], config: Config,
                          catalogued: frozenset[str] = frozenset()) -> dict[str, PlaceboSeries]:
    """Measure every site and its placebo footprints from the stored anomalies.

    Placebos go on background land: clear at least once, not water, never in a per-scene
    hotspot (a fire, a plant), and farther than ``persistence.background_inner_m`` from every
    catalogued site and candidate.
    """
    from scipy import ndimage

    assert state.anomalies is not None and state.water is not None
    assert state.clear_count is not None and state.present is not None
    if not masks:
        return {}
    occupied = np.logical_or.reduce([m.integration for m in masks]) | (state.present > 0)
    grow = max(1, int(np.ceil(config.persistence.background_inner_m / state.grid.resolution)))
    eligible = (~ndimage.binary_dilation(occupied, iterations=grow) & ~state.water
                & (state.clear_count > 0))
    anomalies = np.ascontiguousarray(state.anomalies[:len(state.scenes)])  # RAM: fast gathers
    d = config.detection
    # a found site's footprint was drawn where its heat is: its placebos are also measured
    # at their neighbours one search reach (candidate_buffer_m) away, and measured where the
    # land is hottest (only where it can matter: a found site that passes on plain placebos)
    reach = max(1, round(d.candidate_buffer_m / state.grid.resolution))
    solar = np.array([sc.solar for sc in state.scenes], dtype=float)
    out = {}
    for i, m in enumerate(masks):
        def measure(r: int, m: SiteMasks = m, i: int = i) -> PlaceboSeries:
            return measure_placebos(
                anomalies, m, eligible, pixel_area=state.grid.pixel_area,
                min_clear_fraction=config.persistence.min_clear_fraction,
                n_placebos=d.n_placebos, rng=np.random.default_rng([d.placebo_seed, i]),
                reach=r)
        out[m.site_id] = measure(0)
        if m.site_id not in catalogued:
            null = out[m.site_id].null(solar, modes=config.persistence.land_modes)
            if null.n >= MIN_PLACEBOS and any(
                    null.p_value(s) <= 1.0 / (1 + null.n) + 1e-12
                    and null.false_alarms_per_1000_km2(s) <= d.false_alarm_per_1000km2
                    for s in null.site):
                out[m.site_id] = measure(reach)
    return out


def _assemble(state: ScanState, catalog: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame,
              masks: dict[str, SiteMasks], config: Config,
              placebos: dict[str, PlaceboSeries] | None = None,
              baselines: dict[str, Baseline] | None = None) -> ScanResult:
    pa = state.grid.pixel_area
    placebos = placebos or {}
    baselines = baselines or {}
    solar = np.array([sc.solar for sc in state.scenes], dtype=float)
    series, fits = {}, {}
    nulls = {sid: pl.null(solar, modes=config.persistence.land_modes)
             for sid, pl in placebos.items()}
    listed = set(catalog["site_id"].astype(str))
    regions = RegionNull.from_nulls([n for sid, n in nulls.items() if sid not in listed])
    for sid, m in masks.items():
        raw = _series(state, sid)
        fits[sid] = _fit(raw, m, pa, config, nulls.get(sid), in_catalog=sid in listed,
                         baseline=baselines.get(sid), placebos=placebos.get(sid))
        series[sid] = _annotate(raw, fits[sid])
        declared = baselines.get(sid)
        # the looks of a declared baseline period (known inactive before-state)
        series[sid]["baseline"] = (
            pd.to_datetime(series[sid]["date"]).dt.date <= declared.end).to_numpy() \
            if declared is not None else False
    cal_sites = []
    for row in catalog.itertuples():
        sid = str(row.site_id)
        f = fits.get(sid)
        days = [str(d) for d in series[sid]["date"]] if sid in series else []
        decl = declarations_on(row, days)
        if days:
            series[sid]["declared_power_mw"] = [np.nan if d.mw is None else d.mw for d in decl]
        if f is not None and f.ever_active and decl and decl[-1].declared:
            assert decl[-1].mw is not None
            cal_sites.append(CalibrationSite(sid, f.heat_k_m2, decl[-1].mw,
                                             row.cooling or config.power.default_cooling))
    calibration = CalibrationSet.build(cal_sites, config.power, config.power.calibration)
    rows = []
    for frame, in_catalog in ((catalog, True), (candidates.to_crs(4326), False)):
        for row in frame.itertuples():
            sid = str(row.site_id)
            null = nulls.get(sid)
            rows.append(_site_row(row, in_catalog, fits[sid], series[sid], calibration, config,
                                  footprint_m2=masks[sid].footprint_area_px * pa, null=null,
                                  regions=None if in_catalog else regions,
                                  baseline=baselines.get(sid)))
    table = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326) if rows else \
        gpd.GeoDataFrame({"site_id": []}, geometry=[], crs=4326)
    rejected = table[(~table["in_catalog"]) & ~table["status"].isin(["candidate", "excluded"])] \
        if len(table) else table
    table = table.drop(rejected.index) if len(rejected) else table
    hotspots = pd.concat(state.hotspots, ignore_index=True) if state.hotspots else \
        gpd.GeoDataFrame({"date": []}, geometry=[], crs=state.grid.crs)
    hotspots = gpd.GeoDataFrame(hotspots, geometry="geometry", crs=state.grid.crs).to_crs(4326)
    run = {"calibration": calibration.as_dict(),
           "baselines": {r["site_id"]: {k: r[k] for k in BASELINE_COLUMNS} for r in rows},
           "night_looks": sum(s.night for s in state.scenes),
           "rejected_candidates": [_rejected_entry(r) for _, r in rejected.iterrows()]}
    return ScanResult(table, hotspots, series, state, fits, masks, run, placebos, baselines)


def _rejected_entry(row: Any) -> dict[str, Any]:
    """Return a rejected candidate for run.json: why, its heat, where it is (WGS84 degrees)."""
    where = row.geometry.representative_point()
    return {**{k: _json_value(row[k]) for k in ("site_id", "rejected_because", "heat_mw",
                                                 "heat_mw_low", "heat_mw_high", "persistence",
                                                 "pattern")},
            "lon": round(float(where.x), 6), "lat": round(float(where.y), 6)}


def _site_row(row: Any, in_catalog: bool, fit: ActivityFit, series: pd.DataFrame,
              calibrations: CalibrationSet, config: Config, *, footprint_m2: float,
              null: SiteNull | None = None,
              regions: RegionNull | None = None,
              baseline: Baseline | None = None) -> dict[str, Any]:
    known = getattr(row, "cooling", None)
    known = known if isinstance(known, str) and known else None
    cooling = known or config.power.default_cooling

    # the heat's uncertainty includes what land alone does to its statistic (placebos), and
    # heat that does not stand outside that null may all be land: its interval reaches 0
    land = land_se(fit, null)
    evidence = null_test(fit, null, config, searched=not in_catalog)

    def heat_of(cal: Calibration) -> HeatEstimate:
        est = _heat(fit, cooling, cal, config, None, land_k_m2=land)
        if known is None:
            # Cooling unknown: the central value assumes the default; the interval reaches up
            # to what the least visible cooling type (evaporative towers) would imply.
            alt = _heat(fit, WORST, cal, config, None, land_k_m2=land)
            est = HeatEstimate(est.mw, min(est.low, alt.low), max(est.high, alt.high))
        return maybe_land(est, evidence, undetermined=undetermined)

    undetermined = False  # set below once the status is known

    # never fitted on this site's own declaration (leave-one-out), or physics-only
    calibration = calibrations.for_site(str(row.site_id))
    est = heat_of(calibration)
    active_dates = series.loc[series["active"], "date"]
    clear_dates = series.loc[series["clear"], "date"]
    stop = fit.unconfirmed_stop
    # the declaration in force on the last look (zero or none: nothing declared yet)
    as_of = str(series["date"].iloc[-1]) if len(series) else None
    decl = declaration_on(row, as_of) if as_of else Declaration(None)
    rep = decl.mw if decl.declared else None
    test = null_test(fit, null, config, regions=regions) if not in_catalog else None
    status = site_status(fit, est, test, declared_mw=rep, config=config,
                         stop_test=null_test(fit, null, config, "shutdown",
                                             searched=not in_catalog))
    if status == "undetermined" and fit.pattern == "always":
        # running cannot be told from a static offset here: the heat may be all land
        undetermined = True
        est = heat_of(calibration)
    rejected = None
    exclusion = getattr(row, "exclusion", None)
    exclusion = exclusion if isinstance(exclusion, str) and exclusion else None
    if not in_catalog:
        if exclusion:
            status = "excluded"
        elif fit.pattern == "insufficient":
            rejected = f"only {fit.n_clear} clear looks, fewer than min_looks"
        elif not fit.ever_active:
            rejected = "excess follows the sun (sunlit roof or bare ground), no compute heat"
        elif est.mw < config.power.min_candidate_mw:
            rejected = f"heat {est.mw:.0f} MW below min_candidate_mw"
        elif test is not None and not test["null_passed"]:
            rejected = _null_reason(fit, test)
        else:
            status = "candidate"
    # a place near a known non-datacenter heat source, or rejected, implies no accelerators
    compute = status != "excluded" and rejected is None
    energy = _energy(est, rep, cooling, series, config,
                     accelerator=site_accelerator(row, config)) if compute else dict(NO_COMPUTE)
    return {
        "site_id": str(row.site_id),
        "name": getattr(row, "name", None),
        "operator": getattr(row, "operator", None),
        "in_catalog": in_catalog,
        "status": status,
        "pattern": fit.pattern,
        "persistence": _round(fit.persistence, 3),
        "stability": _round(fit.stability, 3),
        "n_clear": int(fit.n_clear),
        "n_looks": len(series),
        "excess_k_m2": _round(fit.heat_k_m2 if fit.ever_active else 0.0, 0),
        "excess_se_k_m2": _round(float(np.hypot(fit.heat_se_k_m2, land)), 0),
        "land_se_k_m2": _round(land, 0),
        "solar_k_m2": _round(fit.solar_k_m2, 0),
        "heat_mw": _round(est.mw, 1),
        "heat_mw_low": _round(est.low, 1),
        "heat_mw_high": _round(est.high, 1),
        # heat over the footprint's area, to set against the site power density of AI campuses
        **power_density(est, footprint_m2),
        "heat_calibration": calibration.method,
        # the central K m2 per MW behind heat_mw: a third party can redo the conversion
        "k_m2_per_mw": _round(site_coefficient(cooling, calibration, config.power), 1),
        "cooling": known or f"unknown ({cooling} assumed)",
        "first_seen": active_dates.iloc[0] if len(active_dates) else None,
        "last_seen": active_dates.iloc[-1] if len(active_dates) else None,
        # running at the end, but its last clear looks show no heat: too few to call a shutdown
        "possible_shutdown_since": clear_dates.iloc[stop] if stop is not None else None,
        "reported_power_mw": decl.mw,
        "reported_power_since": decl.since,
        "reported_power_as_of": as_of if decl.mw is not None else None,
        "data_credit": site_credit(row),
        **energy,
        # which coefficient made the verdict, and the physics coefficient's heat and verdict
        **calibration_columns(str(row.site_id), heat_of, cooling=cooling,
                              verdict=energy["verdict"], declared_mw=rep if compute else None,
                              calibrations=calibrations, config=config),
        # shown for every site; it decides for new sites (a catalogued one is no search)
        **_null_columns(test if not in_catalog else null_test(fit, null, config,
                                                              searched=False)),
        "rejected_because": rejected,
        "exclusion": exclusion,
        **baseline_columns(fit, series, baseline),
        "n_night_looks": int((series["day_night"] == "NIGHT").sum()) if len(series) else 0,
        "geometry": row.geometry,
    }


#: The heat statistic of each activity pattern that its placebo null judges.
NULL_STATISTIC = {"always": "always", "onset": "onset", "window": "window",
                  "shutdown": "shutdown"}


def null_test(fit: ActivityFit, null: SiteNull | None, config: Config,
              statistic: str | None = None, *, searched: bool = True,
              regions: RegionNull | None = None) -> dict[str, Any] | None:
    """Judge a site's heat statistic against its placebo null (None without heat or null).

    The statistic is the one its pattern rests on: the always-on excess for ``always`` (which
    a static land offset makes as well), the largest rise for ``onset``/``window``, the largest
    fall for ``shutdown``. A new site was found by searching the whole area, so it passes when
    it exceeds every placebo and the false-alarm rate its statistic implies (the placebos'
    modelled tail, :meth:`pipeline.science.placebo.SiteNull.tail_p`, times the footprint-sized
    places
    in 1,000 km2) is at most ``detection.false_alarm_per_1000km2``. A catalogued site is one
    hypothesis, not a search: it passes when its robust z reaches the one-sided
    ``detection.site_alpha`` of a normal tail.

    Random placebos do not share a new site's selection (its footprint was drawn around hot
    pixels), so a new site must also stand ``detection.region_null_z`` robust deviations above
    the bulk of the ``regions`` the same search found
    (:class:`pipeline.science.placebo.RegionNull`),
    when it found at least ``detection.min_search_regions``.
    """
    stat = statistic or NULL_STATISTIC.get(fit.pattern)
    if null is None or stat is None:
        return None
    if null.n < MIN_PLACEBOS:
        return {"null_statistic": stat, "null_z": float("nan"), "null_tail_p": 1.0,
                "null_p_value": 1.0, "null_n": null.n,
                "null_false_alarm_per_1000km2": float("inf"), "null_region_z": float("nan"),
                "null_passed": False}
    p, tail = null.p_value(stat), null.tail_p(stat)
    far = null.false_alarms_per_1000_km2(stat)
    d = config.detection
    region_z = float("nan")
    if searched:
        passed = far <= d.false_alarm_per_1000km2 and p <= 1.0 / (1 + null.n) + 1e-12
        if regions is not None and regions.n >= d.min_search_regions:
            region_z = regions.z(null, stat)
            passed = passed and bool(np.isfinite(region_z) and region_z >= d.region_null_z)
    else:
        # one hypothesis: its robust z at the one-sided site_alpha of a normal tail (a few
        # placebos on unseen heat sources or cloud edges must not veto a real change)
        z = null.z(stat)
        passed = bool(np.isfinite(z) and z >= norm.isf(d.site_alpha))
    return {"null_statistic": stat, "null_z": null.z(stat), "null_tail_p": tail,
            "null_p_value": p, "null_n": null.n, "null_false_alarm_per_1000km2": far,
            "null_region_z": region_z, "null_passed": bool(passed)}


#: Columns of the placebo test in the site table.
NULL_COLUMNS = ("null_statistic", "null_z", "null_p_value", "null_tail_p", "null_n",
                "null_false_alarm_per_1000km2", "null_region_z", "null_passed")


def _null_columns(test: dict[str, Any] | None) -> dict[str, Any]:
    if test is None:
        return dict.fromkeys(NULL_COLUMNS)
    out = {k: test[k] for k in NULL_COLUMNS}
    out["null_z"], out["null_region_z"] = _round(out["null_z"], 2), _round(
        out["null_region_z"], 2)
    out["null_p_value"] = _round(out["null_p_value"], 4)
    out["null_tail_p"] = float(f"{out['null_tail_p']:.3g}")
    far = out["null_false_alarm_per_1000km2"]
    out["null_false_alarm_per_1000km2"] = float(f"{far:.3g}") if np.isfinite(far) else None
    return out


def _null_reason(fit: ActivityFit, test: dict[str, Any]) -> str:
    if test["null_n"] < MIN_PLACEBOS:
        return (f"only {test['null_n']} placebo footprints of its size fit on background land "
                "here, too few to tell its heat from land structure; scan a larger area")
    what = ("an always-on excess with no onset in the series" if fit.pattern == "always"
            else f"its {test['null_statistic']} step")
    rz = test.get("null_region_z")
    among = (f"; {rz:.1f} robust deviations above the other regions the search found"
             if rz is not None and np.isfinite(rz) else "")
    return (f"{what} does not stand far enough outside its scene's null (rank p "
            f"{test['null_p_value']:.3f} among {test['null_n']} placebo footprints; land alone "
            f"would reach it {test['null_false_alarm_per_1000km2']:.3g} times per 1,000 km2"
            f"{among})")


#: Site statuses (their meaning: docs/statuses.md and :func:`site_status`).
STATUSES = ("active", "inactive", "undetermined", "insufficient_data", "candidate", "excluded")


def site_status(fit: ActivityFit, est: HeatEstimate, test: dict[str, Any] | None, *,
                declared_mw: float | None, config: Config,
                stop_test: dict[str, Any] | None = None) -> str:
    """Return the status of a site from its activity fit, heat interval and placebo test.

    * ``active``: heat at the last clear look, from an onset in the series (a before/after
      measurement), or always on (for a new site: far outside its scene's placebo null);
    * ``inactive``: no heat at the end, and either its stop was seen (a shutdown whose fall
      stands outside the placebo null of falls, ``stop_test``), or its heat
      upper limit is below ``persistence.inactive_fraction`` of its declared power (else of
      ``power.min_candidate_mw``);
    * ``undetermined``: the series cannot tell running from a static offset here: no baseline,
      and an always-on excess within the placebo null, or an upper limit that does not rule out
      the expected power. The heat interval says how much could run;
    * ``insufficient_data``: too few clear looks.

    Examples
    --------
    >>> from pipeline.core.config import Config
    >>> never = ActivityFit("never", 0.0, 1e5, 0.0, 0.0, None, None, 30, 0.0, float("nan"),
    ...                     np.zeros(30))
    >>> site_status(never, HeatEstimate(0.0, 0.0, 20.0), None, declared_mw=300.0,
    ...             config=Config())
    'inactive'
    >>> site_status(never, HeatEstimate(0.0, 0.0, 400.0), None, declared_mw=300.0,
    ...             config=Config())
    'undetermined'
    """
    if fit.pattern == "insufficient":
        return "insufficient_data"
    if fit.pattern in ("shutdown", "window"):
        # a fall that a change of solar response without heat explains as well (the season's
        # shape of the change not seen) is no evidence of a stop
        seen = fit.nuisance_gap >= config.persistence.change_bic_margin
        return "inactive" if seen and (stop_test is None or stop_test["null_passed"]) \
            else "undetermined"
    if fit.pattern == "onset":
        return "active"
    if fit.pattern == "always":
        # a catalogued campus (test None: no search) whose always-on heat passed the activity
        # model's own test, static-offset prior included; a new site needs its null as well
        return "active" if test is None or test["null_passed"] else "undetermined"
    if stop_test is not None and stop_test["null_n"] < MIN_PLACEBOS:
        # no placebo footprint of its size fits on this land: how large a static offset the
        # land makes here is not measured, so no upper limit rules out the declared power
        return "undetermined"
    expected = declared_mw if declared_mw and declared_mw > 0 else config.power.min_candidate_mw
    if np.isfinite(est.high) and est.high < config.persistence.inactive_fraction * expected:
        return "inactive"
    return "undetermined"


def power_density(est: HeatEstimate, footprint_m2: float) -> dict[str, float | None]:
    """Return the heat over the footprint's area (W/m2) with its interval, and that area (m2).

    Frontier AI campuses run at about 220-453 W of facility power per m2 of site at full
    build-out (``models/data/energy.yaml``, ``site_power_density``); a site far above that holds
    more heat than a campus of its footprint would (an industrial source, or a footprint that is
    only part of the site), one far below holds a campus that is partly built, partly idle, or
    hides its heat (evaporative cooling).

    Examples
    --------
    >>> d = power_density(HeatEstimate(100.0, 60.0, 150.0), 4.0e5)  # 100 MW on 0.4 km2
    >>> d["power_density_w_m2"], d["power_density_w_m2_low"], d["power_density_w_m2_high"]
    (250.0, 150.0, 375.0)
    """
    def per_m2(mw: float) -> float | None:
        return _round(mw * 1e6 / footprint_m2, 1) if footprint_m2 > 0 else None

    return {"footprint_m2": _round(footprint_m2, 0), "power_density_w_m2": per_m2(est.mw),
            "power_density_w_m2_low": per_m2(est.low), "power_density_w_m2_high": per_m2(est.high)}


def land_se(fit: ActivityFit, null: SiteNull | None) -> float:
    """Return the spread (K m2) land alone gives the statistic a site's heat rests on.

    The robust spread of the same statistic over the site's placebo footprints
    (:meth:`pipeline.science.placebo.SiteNull.scale`): static structure and crops under a footprint
    move an always-on excess or a step as much as that, whatever the fit's own residuals say.
    0 without heat, without a null, or with too few placebos.
    """
    stat = NULL_STATISTIC.get(fit.pattern)
    if null is None or stat is None or not fit.ever_active:
        return 0.0
    spread = null.scale(stat)
    return spread if np.isfinite(spread) else 0.0


def _heat(fit: ActivityFit, cooling: str, calibration: Any, config: Config,
          k_dry: float | None, *, land_k_m2: float = 0.0) -> HeatEstimate:
    """Heat (MW) of a site with its 90% interval.

    The heat term's standard error is the fit's combined with ``land_k_m2``, what land alone
    gives the same statistic (:func:`land_se`). A site without detected heat gets 0 MW with an
    upper limit: the heat an always-on term could hide in its series
    (:attr:`ActivityFit.undetected_k_m2`), so "not seen" below the detection limit never reads
    as "proven idle" against a declared power.
    """
    if fit.ever_active:
        return heat_mw(fit.heat_k_m2, float(np.hypot(fit.heat_se_k_m2, land_k_m2)),
                       cooling=cooling, calibration=calibration, config=config.power,
                       k_dry=k_dry)
    bound = heat_mw(max(fit.undetected_k_m2, 0.0), fit.heat_se_k_m2, cooling=cooling,
                    calibration=calibration, config=config.power, k_dry=k_dry)
    return HeatEstimate(0.0 if np.isfinite(bound.high) else float("nan"), 0.0, bound.high)


#: The energy columns of a place that implies no accelerators (no heat, excluded, rejected).
NO_COMPUTE: dict[str, Any] = {
    "implied_h100e": None, "implied_h100e_low": None, "implied_h100e_high": None,
    "implied_flops": None, "implied_flop_total": None, "verdict": "inconclusive",
    "verdict_margin": None,
    "verdict_reason": "nothing to test: excluded, rejected or no finite heat",
    "accelerator": None, "accelerator_source": None}

#: ``accelerator_source`` of a site whose own chips are known, and of one that has none.
FROM_CATALOG, ASSUMED = "site catalog", "assumed (power.assumed_accelerator)"


def site_accelerator(row: Any, config: Config) -> tuple[str, str]:
    """Return the accelerators behind a site's implied compute and where they come from.

    The site's own ``accelerator`` (a name or ``name:count`` pairs, e.g. GB200 at Stargate
    Abilene in the Epoch catalog) where the catalog has it, else ``power.assumed_accelerator``.
    """
    own = getattr(row, "accelerator", None)
    if isinstance(own, str) and own.strip():
        return own.strip(), FROM_CATALOG
    return config.power.assumed_accelerator, ASSUMED


def _energy(est: Any, reported_mw: float | None, cooling: str, series: pd.DataFrame,
            config: Config, *, accelerator: tuple[str, str] | None = None) -> dict[str, Any]:
    """Energy-model cross-reference: implied H100-equivalents, FLOP/s and FLOP, verdict.

    ``accelerator`` is ``(accelerators, source)`` from :func:`site_accelerator`; the row says
    which accelerators its implied compute assumes (``accelerator``, ``accelerator_source``).
    """
    heat = Interval.from_heat(est.mw, est.low, est.high)
    if heat is None:
        return dict(NO_COMPUTE)
    acc, source = accelerator or (config.power.assumed_accelerator, ASSUMED)
    check = cross_reference(heat, declared_power_mw=reported_mw, cooling=cooling,
                            accelerator=acc)
    props = check.as_properties()
    active = series.loc[series["active"], "date"]
    days = ((pd.Timestamp(active.iloc[-1]) - pd.Timestamp(active.iloc[0])).days
            if len(active) > 1 else 0)
    total = inverse(heat, accelerator=acc, cooling=cooling, active_days=days or None)
    flop = total.flop_bf16
    out = {k: (_round(v, 0) if k.startswith("implied_h100e") else v) for k, v in props.items()}
    out["implied_flop_total"] = None if flop is None else float(flop.central)
    out["accelerator"] = check.implied.accelerator
    out["accelerator_source"] = source
    return out


def _json_value(v: Any) -> Any:
    """Return a table cell fit for JSON: a missing number (NaN in a float column) is None."""
    return None if isinstance(v, float) and not np.isfinite(v) else v


def _round(v: float, nd: int) -> float | None:
    return None if v is None or not np.isfinite(v) else round(float(v), nd)


def _provenance(imagery_dir: Path, products: list[ProductFiles], log: SceneLog, config: Config,
                grid: Grid, seconds: float) -> dict[str, Any]:

    used = {u["product_id"] for u in log.used}
    inputs = []
    for p in products:
        for f in p.files:
            try:
                digest: str | None = sha256_file(f)
            except OSError:  # unreadable input: already skipped and reported by the reader
                digest = None
            inputs.append({"path": str(f.relative_to(imagery_dir) if f.is_relative_to(imagery_dir)
                                       else f), "sha256": digest,
                           "product_id": p.product_id, "used": p.product_id in used})
    return {
        "software": {"name": "heatwatch", "version": __version__},
        "imagery_dir": str(imagery_dir),
        "inputs": inputs,
        "scenes": log.used,
        "skipped": [{"path": str(s.path), "message": s.message} for s in log.skipped],
        "grid": {"crs": grid.crs.to_string(), "transform": list(grid.transform)[:6],
                 "shape": list(grid.shape)},
        "config": config.as_dict(),
        "seconds": round(seconds, 2),
    }
