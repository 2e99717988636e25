"""The scan: from a folder of thermal scenes and a site catalog to site verdicts.

One pass streams the scenes onto the scan grid (one scene in memory at a time; calibrated
temperatures are kept in a disk-backed array for the second step) and records per-scene
hotspots, per-pixel persistence, and the integrated excess of every catalogued site. Persistent
hotspots outside the catalog become candidate footprints and are measured from the kept
temperatures. Every site's series then goes through the solar-decoupled activity model
(:mod:`pipeline.science.activity`), the excess-to-MW calibration (:mod:`pipeline.science.power`),
and the energy model's cross-reference. This module wires compute to IO; the compute lives in the
modules it calls.
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
from rasterio.crs import CRS
from shapely.geometry import box

from pipeline.core.config import Config, DetectionConfig
from pipeline.core.errors import ConfigError, NoDataError
from pipeline.core.grid import Grid
from pipeline.core.site_row import (
    BASELINE_COLUMNS,
    INTEGER_PROPERTIES,
    MIN_PLACEBOS,
    SiteRow,
    pick,
)
from pipeline.core.sites import SITE_COLUMNS, empty_site_table, split_covered
from pipeline.io.reader import ProductFiles, discover_products
from pipeline.io.source import ImagerySource, as_source
from pipeline.io.stack import SceneLog, iter_scenes
from pipeline.scan.area import coverage, imagery_bounds, imagery_footprint, scan_grid
from pipeline.scan.baseline import Baseline, site_baselines
from pipeline.scan.overlays import overlay_products
from pipeline.scan.provenance import scan_provenance
from pipeline.scan.sites import (
    annotate_series,
    catalog_frame,
    fit_site,
    json_value,
    site_row,
)
from pipeline.science.activity import ActivityFit
from pipeline.science.anomaly import anomaly
from pipeline.science.declared import declarations_on, site_credit
from pipeline.science.detect import (
    hotspot_mask,
    hotspot_table,
    nonsolar_excess,
    persistent_regions,
    significant_excess,
)
from pipeline.science.footprint import Look, SiteMasks, measure_look, site_masks
from pipeline.science.greenness import (
    cover_endpoints,
    cover_slope,
    fill_slopes,
    greenness_excess,
    seasonal,
    seasonal_slope,
    thermal_footing,
    vegetation_cover,
)
from pipeline.science.placebo import (
    PlaceboSeries,
    RegionNull,
    SiteNull,
    measure_placebos,
    placebo_rng,
)
from pipeline.science.power import (
    CalibrationSet,
    CalibrationSite,
)
from pipeline.science.scene_events import fit_changes, shared_changes
from pipeline.science.solar import clear_sky_irradiance
from pipeline.science.solar_index import choose_index, pattern_loading, pattern_mask, scene_contrast


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
    #: The solar loading over all land where it differs from ``solar`` (None: it does not),
    #: which is then the listed sites' alone, read on the land whose cover stays put
    #: (:func:`choose_solar_index`); see :attr:`search_loading`.
    search_solar: float | None = None
    #: "DAY" or "NIGHT" (see pipeline.io.mtl.day_night): a night look has no solar loading.
    day_night: str = "DAY"

    @property
    def night(self) -> bool:
        """True for a night look."""
        return self.day_night == "NIGHT"

    @property
    def search_loading(self) -> float:
        """The solar loading over all land, which the search and the sites it finds use.

        The search for new sites regresses each pixel on it, and the sites it finds are fitted
        and judged on it.
        """
        return self.solar if self.search_solar is None else self.search_solar


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
    #: ``(date, product_id, temperature, anomaly)`` of the looks the report rasters overlay
    #: (:func:`pipeline.scan.overlays.overlay_products`), copied out of the disk-backed stacks
    #: before they are dropped, so writing the rasters never re-reads the imagery.
    overlays: list[tuple[str, str, np.ndarray, np.ndarray]] = field(default_factory=list)
    water: np.ndarray | None = None
    nonsolar_k: np.ndarray | None = None
    #: NDVI per scene on the grid (disk-backed float16, NaN where not measured), when any
    #: product carries red and near-infrared reflectance (``reader.greenness``); turned into
    #: vegetation cover in place by :func:`_greenness`, with each scene's slope against it.
    ndvi: np.ndarray | None = None
    cover_slopes: np.ndarray | None = None


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
    #: Each site's placebo null, the one its tests read (written as nulls/<site>.csv).
    nulls: dict[str, SiteNull] = field(default_factory=dict)


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
    if state.ndvi is not None:
        state.ndvi[idx] = ds["ndvi"].values if "ndvi" in ds else np.nan
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
    if config.reader.greenness and any(p.red_nir is not None for p in products):
        state.ndvi = np.lib.format.open_memmap(workdir / "ndvi.npy", mode="w+",
                                               dtype=np.float16, shape=state.temps.shape)
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
        looks = ((state.anomalies[i], state.scenes[i].search_loading) for i in range(lo, hi))
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


#: Least share of the land whose cover stays put for the listed sites' solar index to be read on
#: it alone (:func:`static_land`).
MIN_STATIC_SHARE = 0.1


def static_land(state: ScanState, land: np.ndarray) -> np.ndarray | None:
    """Return the pixels whose vegetation cover stayed put over the whole scan.

    Pixels that are never seasonal (:func:`~pipeline.science.greenness.seasonal`) over every
    scene's cover. None without a cover (``reader.greenness`` off, or no NDVI range) or when
    they hold less than :data:`MIN_STATIC_SHARE` of ``land``: the index is then read over all
    land. Over the whole stack, as the cover's own scale is (not the scenes so far, as the
    running pattern is): a mask that grows as crops green would change the index's unit
    mid-series.
    """
    if state.ndvi is None or state.cover_slopes is None:
        return None
    low = np.full(state.grid.shape, np.inf, dtype=np.float32)
    high = np.full(state.grid.shape, -np.inf, dtype=np.float32)
    for i in range(len(state.scenes)):
        c = np.asarray(state.ndvi[i], dtype=np.float32)
        np.fmin(low, c, out=low)  # NaN (no cover that day) is skipped
        np.fmax(high, c, out=high)
    static = ~seasonal(low, high)
    if (static & land).sum() < MIN_STATIC_SHARE * max(int(land.sum()), 1):
        return None
    return static


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


def _series(state: ScanState, site_id: str, listed: bool = True) -> pd.DataFrame:
    """Each scene's look of a site; a searched site (not ``listed``) gets the search's loading."""
    looks = state.looks.get(site_id, [])
    return pd.DataFrame({
        "date": [s.date for s in state.scenes],
        "product_id": [s.product_id for s in state.scenes],
        "day_night": [s.day_night for s in state.scenes],
        "spacecraft": [s.spacecraft for s in state.scenes],
        "sun_elevation": [s.sun_elevation for s in state.scenes],
        "clear_sky_irradiance": [s.irradiance for s in state.scenes],
        "scene_contrast_k": [s.contrast_k for s in state.scenes],
        "solar_loading": [s.solar if listed else s.search_loading for s in state.scenes],
        "clear_fraction": [lk.clear_fraction for lk in looks],
        "background_k": [lk.background_k for lk in looks],
        "mean_excess_k": [lk.mean_excess_k for lk in looks],
        "excess_k_m2": [lk.excess_k_m2 for lk in looks],
    })


# Run -------------------------------------------------------------------------------------------


def run_scan(
    source: ImagerySource | Path,
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
    source
        Where the products come from (:class:`pipeline.io.source.ImagerySource`), or a folder
        of products (see :func:`pipeline.io.reader.discover_products`). A source that gives one
        folder per site (Sentinel Hub) is scanned site by site with
        :func:`pipeline.scan.folder.scan_to_folder`.
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
    source = as_source(source)
    folders = source.folders(sites)
    if len(folders) != 1:
        raise ConfigError(f"the {source.name} source gives one folder per site; scan them with "
                          "pipeline.scan.folder.scan_to_folder")
    imagery_dir = folders[0].path
    products, problems = discover_products(imagery_dir)
    if not products:
        raise NoDataError(f"no Landsat C2 band 10 product in {imagery_dir}; expected files like "
                          "LC08_L2SP_..._ST_B10.TIF with their _MTL.json/.txt/.xml")
    if on_total is not None:
        on_total(len(products))
    catalog = catalog_frame(sites)
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
        _greenness(state, catalog_zone)
        solar_index = choose_solar_index(state, catalog_zone, config)
        state.nonsolar_k = _nonsolar_hot(state, config)
        candidates = _candidate_sites(state, catalog_zone, config)
        # a candidate's ring leaves out the catalogued sites as well as the other candidates:
        # a listed campus in it steps the candidate's excess when it starts or stops. A listed
        # site's ring keeps the candidates' land: they were picked for being hot, so leaving
        # them out would cool its ring and inflate its excess (docs/benchmarks.md, fourteenth
        # session)
        cand_masks = site_masks(candidates, grid, config.persistence, others=catalog_zone) \
            if len(candidates) else []
        # every look is measured after the stream: the matched background needs the
        # land-cover pattern of the scenes so far, and the candidates exist only now
        _looks_from_temps(state, masks + cand_masks, config)
        placebos, measured = measure_site_placebos(state, masks + cand_masks, config,
                                                   frozenset(m.site_id for m in masks))
        all_masks = {m.site_id: m for m in masks + cand_masks}
        if exclusions is not None and len(candidates):
            candidates = label_exclusions(candidates, exclusions,
                                          config.discover.exclusion_radius_m)
        result = _assemble(state, catalog, candidates, all_masks, config, placebos, baselines,
                           measured)
        state.overlays = _overlay_looks(state, overlay_products(result.series))
        state.temps = state.anomalies = None
    result.run["solar_index"] = solar_index
    result.run["not_covered"] = [{"site_id": str(r.site_id), "name": json_value(r.name)}
                                 for r in not_covered.itertuples()]
    credits = sorted({c for c in map(site_credit, catalog.itertuples()) if c})
    if credits:  # CC-BY: the data behind the declared powers is credited in every export
        result.run["data_credits"] = credits
    elapsed = time.perf_counter() - t0
    result.run.update(scan_provenance(source, imagery_dir, products, log, config, grid,
                                      elapsed))
    result.run["grid"].update(coverage(imagery, grid))
    return result


def _overlay_looks(state: ScanState, product_ids: list[str]
                   ) -> list[tuple[str, str, np.ndarray, np.ndarray]]:
    """Copy the chosen looks' temperature and anomaly out of the scan's disk-backed stacks."""
    assert state.temps is not None and state.anomalies is not None
    wanted = set(product_ids)
    return [(rec.date, rec.product_id, np.array(state.temps[i]), np.array(state.anomalies[i]))
            for i, rec in enumerate(state.scenes) if rec.product_id in wanted]


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
    """Compute the pattern index if configured, then apply the best index (see solar_index).

    Every scene gets two loadings. ``search_loading`` is read over all land: the search for
    new sites regresses every pixel on it, and the sites it finds are judged on it, with their
    placebos. ``solar``, for the listed sites, is the same unless the scan has a vegetation
    cover (``reader.greenness``): then it is read on the land whose cover stays put
    (:func:`static_land`). A scene's crops greening lower its loading along the land-cover
    pattern while the sun does not change, and a listed campus's roofs follow the sun, not
    the crops: on the all-land index their solar excess falls short in the growing season and
    the fit reads the bump as heat that came or went (docs/benchmarks.md, thirtieth session).
    Returns the name of the index ``solar`` uses.
    """
    base = None
    if config.persistence.solar_index == "pattern" and state.anomalies is not None:
        assert state.water is not None
        base = ~catalog_zone & ~state.water
        _pattern_loadings(state, base, config)
    name = apply_solar_index(state.scenes, config.persistence.solar_index)
    static = static_land(state, base) if base is not None else None
    for rec in state.scenes:  # the all-land loading, kept where the listed sites' will differ
        rec.search_solar = None if static is None else rec.solar
    if base is not None and static is not None:
        _pattern_loadings(state, base & static, config)
        name = apply_solar_index(state.scenes, config.persistence.solar_index)
    return name


def _pattern_loadings(state: ScanState, land: np.ndarray, config: Config) -> None:
    """Set each day scene's ``pattern`` loading, read over ``land`` (see solar_index)."""
    assert state.anomalies is not None
    for i, (rec, pattern) in enumerate(zip(state.scenes, running_patterns(state), strict=True)):
        if rec.night:
            continue  # no sun: its loading is 0 (apply_solar_index)
        usable = pattern_mask(pattern, land)  # finite pixels only
        # in units of its inter-quartile range, so the loadings keep one unit as the
        # pattern of a growing scan changes
        spread = scene_contrast(pattern, usable=usable, min_pixels=2)
        rec.pattern = pattern_loading(
            state.anomalies[i], pattern / spread, usable=usable,
            min_pixels=config.persistence.min_contrast_pixels) if spread > 0 else np.nan


def _greenness(state: ScanState, catalog_zone: np.ndarray) -> None:
    """Turn the NDVI stack into vegetation cover and measure each scene's slope against it.

    The cover is blurred as the thermal band is
    (:func:`~pipeline.science.greenness.thermal_footing`) before anything reads it.

    Bare soil and full cover are the land's NDVI percentiles over every scene
    (:func:`pipeline.science.greenness.cover_endpoints`). The slope is the land's own over
    time where it has seasonal pixels (:func:`~pipeline.science.greenness.seasonal_slope`:
    how much a crop cools as it greens, times each scene's sun); else each scene's across its
    land covers, over clear land off the sites, water and every pixel ever hot
    (:func:`~pipeline.science.greenness.cover_slope`), filled per unit of sun where a scene
    has none (:func:`~pipeline.science.greenness.fill_slopes`). Nothing is done
    (``cover_slopes`` stays None) without an NDVI, or when the land's NDVI has no range to
    scale.
    """
    if state.ndvi is None or state.temps is None or state.present is None:
        return
    assert state.water is not None
    n = len(state.scenes)
    land = ~catalog_zone & ~state.water & (state.present == 0)
    step = max(1, int(np.sqrt(land.size / 20000)))  # ~20,000 pixels of each scene
    sample = land[::step, ::step]
    ndvi = np.stack([np.asarray(state.ndvi[i][::step, ::step][sample], dtype=np.float32)
                     for i in range(n)])
    soil, full = cover_endpoints(ndvi)
    if not full > soil:  # NaN too: no land with an NDVI
        return
    cover = np.empty_like(ndvi)  # the sample again, as the stack now holds it (float16)
    for i in range(n):
        state.ndvi[i] = thermal_footing(vegetation_cover(state.ndvi[i], soil, full),
                                        state.grid.resolution)
        cover[i] = state.ndvi[i][::step, ::step][sample]
    sun = np.array([sc.irradiance for sc in state.scenes])
    # the crops' own relation over time, where the land has crops; else each scene's across
    # its land covers
    own = seasonal_slope(
        np.stack([state.temps[i][::step, ::step][sample] for i in range(n)]), cover, sun)
    state.cover_slopes = np.where(sun > 0, own * sun, np.nan) if np.isfinite(own) else \
        fill_slopes(np.array([cover_slope(state.temps[i], np.asarray(state.ndvi[i], np.float32),
                                          land) for i in range(n)]), sun)


def measure_site_placebos(state: ScanState, masks: list[SiteMasks], config: Config,
                          catalogued: frozenset[str] = frozenset()
                          ) -> tuple[dict[str, PlaceboSeries], dict[str, SiteNull]]:
    """Measure every site and its placebo footprints from the stored anomalies.

    Placebos go on background land: clear at least once, not water, never in a per-scene
    hotspot (a fire, a plant), and farther than ``persistence.background_inner_m`` from every
    catalogued site and candidate. Also returns the nulls the pre-screen below computed for
    found sites whose placebos it kept (:func:`_assemble` takes them instead of computing
    them again).
    """
    from scipy import ndimage

    assert state.anomalies is not None and state.water is not None
    assert state.clear_count is not None and state.present is not None
    if not masks:
        return {}, {}
    occupied = np.logical_or.reduce([m.integration for m in masks]) | (state.present > 0)
    grow = max(1, int(np.ceil(config.persistence.background_inner_m / state.grid.resolution)))
    eligible = (~ndimage.binary_dilation(occupied, iterations=grow) & ~state.water
                & (state.clear_count > 0))
    # the disk-backed stack itself, not a copy in RAM: its pages are cached as they are read,
    # gathers from it are as fast (bench/throughput.py), and memory stays flat as dates grow
    anomalies = state.anomalies[:len(state.scenes)]
    d = config.detection
    # a found site's footprint was drawn where its heat is: its placebos are also measured
    # at their neighbours one search reach (candidate_buffer_m) away, and measured where the
    # land is hottest (only where it can matter: a found site that passes on plain placebos at
    # the rate of one statistic; the search's rate, four times it, would skip sites the
    # re-measured null passes: it is not stricter for every statistic)
    reach = max(1, round(d.candidate_buffer_m / state.grid.resolution))
    search = np.array([sc.search_loading for sc in state.scenes], dtype=float)
    out, nulls = {}, {}
    # with an NDVI, every footprint's greenness is taken out of its excess (science.greenness)
    green = None if state.ndvi is None or state.cover_slopes is None else (
        state.ndvi[:len(state.scenes)], state.cover_slopes)
    for m in masks:
        def measure(r: int, m: SiteMasks = m) -> PlaceboSeries:
            return measure_placebos(
                anomalies, m, eligible, pixel_area=state.grid.pixel_area,
                min_clear_fraction=config.persistence.min_clear_fraction,
                n_placebos=d.n_placebos, rng=placebo_rng(d.placebo_seed, m.site_id),
                reach=r, greenness=green)
        out[m.site_id] = measure(0)
        if m.site_id not in catalogued:
            plain = out[m.site_id].null(search, modes=config.persistence.land_modes,
                                        roof_margin=config.persistence.change_bic_margin)
            null = plain.gated_by_roof()
            if null.n_independent >= MIN_PLACEBOS and any(
                    null.exceeds_all(s)
                    and null.false_alarms_per_1000_km2(s) <= d.false_alarm_per_1000km2
                    for s in null.site):
                out[m.site_id] = measure(reach)
            else:
                nulls[m.site_id] = plain
    return out, nulls


def _assemble(state: ScanState, catalog: gpd.GeoDataFrame, candidates: gpd.GeoDataFrame,
              masks: dict[str, SiteMasks], config: Config,
              placebos: dict[str, PlaceboSeries] | None = None,
              baselines: dict[str, Baseline] | None = None,
              measured: dict[str, SiteNull] | None = None) -> ScanResult:
    """Fit, judge and tabulate every site; ``measured``: nulls already computed, by site."""
    pa = state.grid.pixel_area
    placebos = placebos or {}
    baselines = baselines or {}
    measured = measured or {}
    solar = np.array([sc.solar for sc in state.scenes], dtype=float)
    series, fits = {}, {}
    listed = set(catalog["site_id"].astype(str))
    # a searched site's power-on step is judged against the placebo rises that are steps, not
    # roofs, as the search itself chooses (placebo.rises_beyond_roof)
    search = np.array([sc.search_loading for sc in state.scenes], dtype=float)
    nulls = {sid: measured[sid] if sid in measured else pl.null(
        solar if sid in listed else search, modes=config.persistence.land_modes,
        roof_margin=None if sid in listed else config.persistence.change_bic_margin,
        fall_shape=sid in listed)  # a listed site's stop is judged by its fall's shape too
        for sid, pl in placebos.items()}
    regions = RegionNull.from_nulls([n for sid, n in nulls.items() if sid not in listed])
    for sid, m in masks.items():
        raw = _series(state, sid, sid in listed)
        g = placebos[sid].cover_excess if sid in placebos else None
        if g is not None and state.cover_slopes is not None:
            # the excess the footprint's greenness explains (science.greenness), taken out
            raw["ring_cover_less_footprint"] = np.round(-g[0] / (m.integration_area_px * pa), 4)
            raw["greenness_k_m2"] = greenness_excess(g[0], state.cover_slopes)
            raw["excess_k_m2"] -= raw["greenness_k_m2"]
        fits[sid] = fit_site(raw, m, pa, config, nulls.get(sid), in_catalog=sid in listed,
                         baseline=baselines.get(sid), placebos=placebos.get(sid))
        series[sid] = annotate_series(raw, fits[sid])
        declared = baselines.get(sid)
        # the looks of a declared baseline period (known inactive before-state)
        series[sid]["baseline"] = (
            pd.to_datetime(series[sid]["date"]).dt.date <= declared.end).to_numpy() \
            if declared is not None else False
    # the changes each site shares with the scene's searched regions (a land event moves many)
    shared = shared_changes(
        {sid: fit_changes(f.pattern, f.start, f.stop, series[sid]["clear"].to_numpy())
         for sid, f in fits.items()}, searched=set(fits) - listed, n_looks=len(state.scenes))
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
    rows: list[SiteRow] = []
    for frame, in_catalog in ((catalog, True), (candidates.to_crs(4326), False)):
        for row in frame.itertuples():
            sid = str(row.site_id)
            null = nulls.get(sid)
            rows.append(site_row(row, in_catalog, fits[sid], series[sid], calibration, config,
                                  footprint_m2=masks[sid].footprint_area_px * pa, null=null,
                                  regions=None if in_catalog else regions,
                                  baseline=baselines.get(sid), shared=shared.get(sid)))
    table = gpd.GeoDataFrame(rows, geometry="geometry", crs=4326) if rows else empty_site_table()
    rejected = table[~table["in_catalog"].astype(bool)
                     & ~table["status"].isin(["candidate", "excluded"])]
    table = table.drop(rejected.index) if len(rejected) else table
    hotspots = pd.concat(state.hotspots, ignore_index=True) if state.hotspots else \
        gpd.GeoDataFrame({"date": []}, geometry=[], crs=state.grid.crs)
    hotspots = gpd.GeoDataFrame(hotspots, geometry="geometry", crs=state.grid.crs).to_crs(4326)
    run = {"calibration": calibration.as_dict(),
           "baselines": {r["site_id"]: pick(r, BASELINE_COLUMNS) for r in rows},
           "night_looks": sum(s.night for s in state.scenes),
           "rejected_candidates": [_rejected_entry(r) for _, r in rejected.iterrows()]}
    return ScanResult(table, hotspots, series, state, fits, masks, run, placebos, baselines,
                      nulls)


def _rejected_entry(row: Any) -> dict[str, Any]:
    """Return a rejected candidate for run.json: why, its heat, where it is (WGS84 degrees).

    With the first and last clear looks its fitted heat covers (``first_seen``,
    ``last_seen``): for a rise a new roof explains as well, the date to fetch imagery from
    before, where a power-on step would show. And how many of the scene's other searched
    regions change as it does (``shared_change_regions`` of ``searched_regions``: a land event
    moves many at one look), whole numbers as in ``sites.geojson``.
    """
    def cell(key: str) -> Any:
        # a count column holding a None is float in pandas: counts go back to whole numbers
        v = json_value(row[key])
        return int(v) if v is not None and key in INTEGER_PROPERTIES else v

    where = row.geometry.representative_point()
    keys = ("site_id", "rejected_because", "rejected_kind", "heat_mw", "heat_mw_low",
            "heat_mw_high", "persistence", "pattern", "first_seen", "last_seen",
            "shared_change_regions", "searched_regions", "busiest_other_look_regions",
            "shared_change_p")
    return {**{k: cell(k) for k in keys},
            "lon": round(float(where.x), 6), "lat": round(float(where.y), 6)}
