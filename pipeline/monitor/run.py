"""Monitoring: scan what is new, append it to the history store, raise and deliver alerts.

A monitoring run over a folder of scenes (local, or fetched from Sentinel Hub into one folder a
site):

1. finds, for each catalogued site the scenes cover, the products not yet observed for it
   (products recorded as skipped are not retried). Without any, the run adds nothing; it only
   delivers alerts left pending by an interrupted run. A site added to the catalog therefore
   gets its whole history on the next run, and sites with nothing new are left untouched;
2. otherwise scans **all** the folder's products, not only the new ones: the activity model
   (:func:`pipeline.science.activity.fit_activity`) needs a site's whole series, and a new look can
   revise the onset, the baseline and the heat of the past. The observations of every scene
   are therefore *upserted* (the newest fit wins) for the sites with something new;
3. replays the site status *as of* each acquisition date from the site's earliest new one on:
   the model fitted to the scenes up to that date (:func:`statuses_as_of`). A status depends
   only on the scenes up to its date (for a given set of catalogued sites, which fixes the scan
   grid and the heat calibration), so the status sequence, and the alerts derived from it
   (:mod:`pipeline.monitor.alerts`, which replays the stored statuses before the new ones), do not
   depend on how the scenes were split between runs: two runs on the halves of a folder give
   the same store and alerts as one run on all of it (with ``monitor.backfill``). A site new
   to the store gets its whole history, but by default alerts only on its latest date; each
   status is stored with its status and heat interval made to agree (:func:`stored_status`);
4. writes scenes, observations, detections, statuses and alerts in one transaction
   (:meth:`pipeline.monitor.store.HistoryStore.commit_run`): a killed run leaves the store unchanged
   and the next run redoes it;
5. delivers the alerts not yet delivered: JSON-lines file, console, webhook.

Test hooks (for the tests that kill a real process; never set them in production):
``HEATWATCH_TEST_PAUSE_BEFORE_COMMIT=seconds`` sleeps inside the store transaction right before
its commit, ``HEATWATCH_TEST_PAUSE_BEFORE_NOTIFY=seconds`` after the commit and before the
alerts are delivered; each prints a ``heatwatch-test: ...`` line to stderr first.
"""

from __future__ import annotations

import os
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from functools import partial
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd

from pipeline.core.config import Config
from pipeline.core.errors import ConfigError, NoDataError, StoreError
from pipeline.core.outputs import write_png
from pipeline.core.site_row import SiteRow, StatusRow, StoredStatus
from pipeline.core.sites import split_covered
from pipeline.io.reader import ProductFiles, discover_products
from pipeline.io.source import ImagerySource, LocalSource
from pipeline.io.sources import open_source
from pipeline.monitor.alerts import Alert, AlertRule, Delivery, alert_sequence, deliver
from pipeline.monitor.store import HistoryStore, RunRecord, store_exists
from pipeline.scan.area import imagery_footprint
from pipeline.scan.run import apply_solar_index, run_scan
from pipeline.scan.sites import (
    annotate_series,
    catalog_frame,
    fit_site,
    known_cooling,
    land_se,
    site_interval,
    site_row,
)
from pipeline.science.activity import ActivityFit
from pipeline.science.declared import declaration_on
from pipeline.science.power import (
    CalibrationSet,
    CalibrationSite,
    HeatEstimate,
    cooling_ratio,
    heat_mw,
    site_coefficient,
)
from pipeline.science.robust import sigma_mad

PAUSE_BEFORE_COMMIT_ENV = "HEATWATCH_TEST_PAUSE_BEFORE_COMMIT"
PAUSE_BEFORE_NOTIFY_ENV = "HEATWATCH_TEST_PAUSE_BEFORE_NOTIFY"

@dataclass
class MonitorReport:
    """What a monitoring run did."""

    run_id: str | None
    store: Path
    alerts_file: Path
    new_products: list[str] = field(default_factory=list)
    n_scenes_scanned: int = 0
    alerts: list[Alert] = field(default_factory=list)
    delivery: Delivery = field(default_factory=Delivery)
    statuses: list[StoredStatus] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)
    uncovered_sites: list[str] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def nothing_new(self) -> bool:
        """Whether the run found no new product."""
        return not self.new_products


@dataclass
class _Batch:
    """One folder of products and the sites to monitor in it."""

    folder: Path
    sites: gpd.GeoDataFrame


# Status replay (pure compute) ------------------------------------------------------------------


def statuses_as_of(result: Any, catalog: gpd.GeoDataFrame, config: Config,
                   dates: list[str]) -> tuple[list[StatusRow], dict[str, float]]:
    """Return each catalogued site's status as of each date, from one full scan.

    The status as of a date is the activity model, the excess-to-MW calibration and the
    energy model's verdict applied to the site series truncated at that date, i.e. what a scan
    of the scenes up to that date would report for the catalogued sites.

    Parameters
    ----------
    result
        A :class:`pipeline.scan.run.ScanResult` over all the scenes.
    catalog
        The catalogued sites of the scan.
    config
        The configuration of the scan.
    dates
        Acquisition dates (``YYYY-MM-DD``), ascending.

    Returns
    -------
    statuses : list of dict
        One row a site and date (:class:`pipeline.core.site_row.StatusRow`), ordered by date
        then site.
    k_m2_per_mw : dict
        The excess-to-MW coefficient of each site at the last date (to express each look's
        residual heat in MW).
    """
    cat = catalog_frame(catalog)
    pixel_area = result.state.grid.pixel_area
    scenes = result.state.scenes
    out: list[StatusRow] = []
    coeffs: dict[str, float] = {}
    for day in dates:
        # the scan chooses its solar index from the scenes it sees: choose on the prefix too
        n = sum(1 for s in scenes if s.date <= day)
        prefix = [replace(s) for s in scenes[:n]]
        apply_solar_index(prefix, config.persistence.solar_index)
        fitted = []
        for row in cat.itertuples():
            sid = str(row.site_id)
            raw = result.series[sid].iloc[:n].reset_index(drop=True)
            raw["solar_loading"] = [s.solar for s in prefix]
            placebos = getattr(result, "placebos", {}).get(sid)
            null = None if placebos is None else placebos.null(
                np.array([s.solar for s in prefix]), n, modes=config.persistence.land_modes,
                fall_shape=True)
            baseline = getattr(result, "baselines", {}).get(sid)
            fit = fit_site(raw, result.masks[sid], pixel_area, config, null, baseline=baseline,
                       placebos=placebos)
            fitted.append((row, fit, annotate_series(raw, fit), null, baseline))
        # the declaration in force on the day, as the scan's calibration (0 MW: none yet)
        declared = {str(r.site_id): declaration_on(r, day) for r, _, _, _, _ in fitted}
        cal = CalibrationSet.build([CalibrationSite(str(r.site_id), f.heat_k_m2,
                                                    float(declared[str(r.site_id)].mw or 0.0),
                                                    r.cooling or config.power.default_cooling)
                                    for r, f, _, _, _ in fitted
                                    if f.ever_active and declared[str(r.site_id)].declared],
                                   config.power, config.power.calibration)
        for row, fit, series, null, baseline in fitted:
            sid = str(row.site_id)
            site = site_row(row, True, fit, series, cal, config,
                             footprint_m2=result.masks[sid].footprint_area_px * pixel_area,
                             null=null, baseline=baseline)
            site = stored_status(site, _heat_now(row, fit, cal, config), alert_rule(config),
                                 may_hide=partial(_may_hide_mw, row, fit, null, cal, config))
            out.append({"site_id": site["site_id"], "as_of_date": day,
                        "status": site["status"], "pattern": site["pattern"],
                        "heat_mw": site["heat_mw"], "heat_mw_low": site["heat_mw_low"],
                        "heat_mw_high": site["heat_mw_high"], "first_seen": site["first_seen"],
                        "last_seen": site["last_seen"], "verdict": site["verdict"],
                        "verdict_margin": site["verdict_margin"],
                        "verdict_physics": site["verdict_physics"],
                        "reported_power_mw": site["reported_power_mw"],
                        "n_clear": site["n_clear"],
                        "possible_shutdown_since": site["possible_shutdown_since"],
                        "status_note": site["status_note"]})
            coeffs[sid] = site_coefficient(site["cooling"], cal.for_site(sid), config.power)
    return out, coeffs


def alert_rule(config: Config) -> AlertRule:
    """Return the interval thresholds of the status rules, for alerts and stored statuses."""
    return AlertRule(inactive_fraction=config.persistence.inactive_fraction,
                     min_candidate_mw=config.power.min_candidate_mw)


def _heat_now(row: Any, fit: ActivityFit, cal: CalibrationSet,
              config: Config) -> HeatEstimate | None:
    """Return the heat (MW) of the clear looks after a seen stop, None without one.

    A ``shutdown`` or ``window`` fit's heat is what the site ran at *before* its stop; the heat
    as of the date is the level of the looks after it (their residual heat, mean and standard
    error, converted as the scan converts heat; unknown cooling widens the upper limit to the
    least visible cooling type, as the scan does).
    """
    if fit.pattern not in ("shutdown", "window") or fit.stop is None:
        return None
    after = np.asarray(fit.residual_heat[fit.stop:], dtype=float)
    after = after[np.isfinite(after)]
    if after.size == 0:
        return None
    mean = float(np.mean(after))
    se = float(sigma_mad(after) / np.sqrt(after.size)) if after.size > 1 else abs(mean)
    known = known_cooling(row)
    calibration = cal.for_site(str(row.site_id))  # never fitted on the site's own declaration
    coolings = [known] if known else [config.power.default_cooling, min(
        config.power.default_k_m2_per_mw,
        key=lambda c: cooling_ratio(c, config.power, calibration))]
    ests = [heat_mw(mean, se, cooling=c, calibration=calibration, config=config.power)
            for c in coolings]
    return HeatEstimate(ests[0].mw, min(e.low for e in ests), max(e.high for e in ests))


def _may_hide_mw(row: Any, fit: ActivityFit, null: Any, cal: CalibrationSet,
                 config: Config) -> float:
    """Return the upper limit (MW) of what an always-on term could hide in a site's series.

    The scan's own bound of an ``undetermined`` catalogued site
    (:func:`pipeline.scan.sites.site_interval` with ``hidden``).
    """
    return site_interval(fit, known_cooling(row), cal.for_site(str(row.site_id)), config,
                         land_k_m2=land_se(fit, null), hidden=True).high


class NotedSite(SiteRow):
    """A site row as the monitor stores it: with why a fitted stop is ``undetermined``."""

    status_note: str | None  # the reason, None when the status stands as the scan made it


def stored_status(site: SiteRow, heat_now: HeatEstimate | None, rule: AlertRule, *,
                  may_hide: Callable[[], float] | None = None) -> NotedSite:
    """Return a status row whose status and heat interval agree, as the history stores it.

    A seen stop (``heat_now``: the heat of the looks after it) is stored ``inactive`` only when
    the intervals support the fall across the threshold of the status rules
    (:meth:`pipeline.monitor.alerts.AlertRule.threshold_mw`): the heat before the stop (the fit's
    interval) has its low end above it, and the heat after it its upper limit below it. The row
    then shows the heat *as of its date*, that after the stop. Otherwise it is stored
    ``undetermined`` with the fit's interval (the heat the site may be running) and the reason
    in ``status_note``. So ``inactive`` never stands beside an interval whose low end is above
    the threshold. As every ``undetermined`` row's, its upper end is then at least
    ``may_hide()``: the upper limit of what an always-on term could hide in the series
    (:func:`pipeline.scan.sites.site_heat`, ``hidden``; docs/statuses.md), asked for only
    then.

    Examples
    --------
    >>> row = {"status": "inactive", "pattern": "shutdown", "heat_mw": 174.0,
    ...        "heat_mw_low": 16.0, "heat_mw_high": 1878.0, "reported_power_mw": 44.0}
    >>> out = stored_status(row, HeatEstimate(1.0, 0.0, 42.0), AlertRule())
    >>> out["status"]
    'undetermined'
    >>> out["status_note"]
    'a stop was fitted, but the heat before it [16-1878 MW] does not stand above 22 MW'
    >>> stored_status(row, HeatEstimate(1.0, 0.0, 42.0), AlertRule(),
    ...               may_hide=lambda: 2500.0)["heat_mw_high"]
    2500.0
    >>> out = stored_status({**row, "heat_mw_low": 80.0}, HeatEstimate(1.0, 0.0, 9.0), AlertRule())
    >>> out["status"], out["heat_mw"], out["heat_mw_high"]
    ('inactive', 1.0, 9.0)
    """
    out: NotedSite = {**site, "status_note": None}
    if out.get("status") != "inactive" or heat_now is None:
        return out  # an upper limit below the threshold: the status rule needs no more
    t = rule.threshold_mw(out)
    low, high = out.get("heat_mw_low"), out.get("heat_mw_high")
    if not (isinstance(low, int | float) and low > t):
        note = f"a stop was fitted, but the heat before it [{_mw(low)}-{_mw(high)} MW] " \
               f"does not stand above {t:.0f} MW"
    elif not heat_now.high < t:
        note = f"a stop was fitted, but the heat after it reaches {_mw(heat_now.high)} MW, " \
               f"not below {t:.0f} MW"
    else:
        out.update({"heat_mw": round(heat_now.mw, 1), "heat_mw_low": round(heat_now.low, 1),
                    "heat_mw_high": round(heat_now.high, 1)})
        return out
    bound = may_hide() if may_hide is not None else float("nan")
    if np.isfinite(bound) and not (isinstance(high, int | float) and high >= bound):
        out["heat_mw_high"] = round(float(bound), 1)
    return {**out, "status": "undetermined", "status_note": note}


def _mw(value: Any) -> str:
    return f"{value:.0f}" if isinstance(value, int | float) and np.isfinite(value) else "?"


# Rows for the store ----------------------------------------------------------------------------


def _product_date(pid: str) -> str:
    parts = pid.split("_")
    raw = parts[3] if len(parts) > 3 and len(parts[3]) == 8 and parts[3].isdigit() else None
    return f"{raw[:4]}-{raw[4:6]}-{raw[6:]}" if raw else "unknown"


def _scene_rows(result: Any, new: set[str], run_id: str) -> list[dict[str, Any]]:
    rows = []
    used = set()
    for s in result.run["scenes"]:
        used.add(s["product_id"])
        if s["product_id"] in new:
            rows.append({"product_id": s["product_id"], "date": str(s["acquisition_time"])[:10],
                         "spacecraft": s.get("spacecraft"),
                         "clear_fraction": s.get("clear_fraction"), "used": 1,
                         "first_run_id": run_id})
    rows += [{"product_id": p, "date": _product_date(p), "spacecraft": None,
              "clear_fraction": None, "used": 0, "first_run_id": run_id}
             for p in sorted(new - used)]
    return rows


def _observation_rows(result: Any, site_ids: list[str],
                      coeffs: dict[str, float]) -> list[dict[str, Any]]:
    rows = []
    for sid in site_ids:
        s = result.series[sid]
        k = coeffs.get(sid, np.nan)
        for r in s.itertuples():
            resid = float(r.residual_heat_k_m2)
            rows.append({"site_id": sid, "product_id": r.product_id, "date": r.date,
                         "clear_fraction": r.clear_fraction, "clear": bool(r.clear),
                         "excess_k_m2": r.excess_k_m2, "residual_heat_k_m2": resid,
                         "heat_mw": resid / k if np.isfinite(resid) and k > 0 else None,
                         "active": bool(r.active)})
    return rows


def _detection_rows(result: Any, new: set[str]) -> list[dict[str, Any]]:
    hs = result.hotspots
    if not len(hs) or "product_id" not in hs:
        return []
    hs = hs[hs["product_id"].isin(new)]
    index = hs.groupby("product_id").cumcount()
    return [{"product_id": r.product_id, "hotspot_index": int(i), "date": r.date,
             "area_m2": r.area_m2, "mean_anomaly_k": r.mean_anomaly_k,
             "max_anomaly_k": r.max_anomaly_k, "excess_k_m2": r.excess_k_m2,
             "wkt": r.geometry.wkt} for r, i in zip(hs.itertuples(), index, strict=True)]


# Batches ---------------------------------------------------------------------------------------


def _new_products(store: HistoryStore, products: list[ProductFiles],
                  site_ids: list[str]) -> dict[str, set[str]]:
    """Return, per site, the products not yet observed for it (nor recorded as skipped)."""
    ids = {p.product_id for p in products} - store.unused_products()
    return {sid: ids - seen for sid, seen in store.observed_products(site_ids).items()}


@dataclass
class _BatchOutcome:
    new: set[str] = field(default_factory=set)
    n_scanned: int = 0
    skipped: list[dict[str, str]] = field(default_factory=list)
    uncovered: list[str] = field(default_factory=list)


def _run_batch(batch: _Batch, config: Config, store: HistoryStore, record: RunRecord,
               progress: Callable[[str], None] | None) -> _BatchOutcome:

    outcome = _BatchOutcome()
    products, _ = discover_products(batch.folder)
    if not products:
        return outcome
    covered, uncovered = split_covered(batch.sites.to_crs(4326), imagery_footprint(products))
    outcome.uncovered = sorted(map(str, uncovered["site_id"]))
    site_ids = [str(s) for s in covered["site_id"]]
    if not site_ids:  # no catalogued site in these scenes: nothing to scan or remember
        return outcome
    new_for = _new_products(store, products, site_ids)
    outcome.new = set().union(*new_for.values())
    if not outcome.new:
        return outcome
    result = run_scan(batch.folder, config, sites=covered.reset_index(drop=True),
                      progress=progress)
    outcome.n_scanned = len(result.run["scenes"])
    outcome.skipped = list(result.run.get("skipped", []))
    record.scenes += _scene_rows(result, outcome.new - store.known_products(), record.run_id)
    record.detections += _detection_rows(result, outcome.new)
    used = {str(s["product_id"]): str(s["acquisition_time"])[:10] for s in result.run["scenes"]}
    starts = {sid: min(used[p] for p in new_for[sid] if p in used)
              for sid in site_ids if any(p in used for p in new_for[sid])}
    if not starts:
        return outcome
    all_dates = sorted(set(used.values()))
    statuses, coeffs = statuses_as_of(result, covered, config,
                                      [d for d in all_dates if d >= min(starts.values())])
    record.observations += _observation_rows(result, sorted(starts), coeffs)
    for sid, start in starts.items():
        seq: list[StoredStatus] = [{**s, "run_id": record.run_id} for s in statuses
                                   if s["site_id"] == sid and s["as_of_date"] >= start]
        record.site_status += seq
        history = store.statuses(sid, before=start)
        alerts = alert_sequence(history, seq, rule=alert_rule(config))
        if not history and not config.monitor.backfill and seq:
            # a site new to the store: its history is recorded, only its present is alerted
            last = max(s["as_of_date"] for s in seq)
            alerts = [a for a in alerts if a.as_of_date >= last]
        record.alerts += [a.row(record.run_id) for a in alerts]
    return outcome


def monitor_source(config: Config, imagery_dir: Path | None, now: datetime) -> ImagerySource:
    """Return the source ``monitor.source`` names: a local folder, Sentinel Hub or STAC.

    The remote sources fetch from ``monitor.fetch_start`` (default a year before ``now``) to
    ``now`` into ``monitor.fetch_dir`` (STAC also writes its ``fetch.json`` there, whose
    per-site baselines the scan uses).
    """
    mon = config.monitor
    if mon.source == "local":
        folder = imagery_dir or mon.imagery_dir
        if folder is None:
            raise ConfigError("no imagery folder: set monitor.imagery_dir in the configuration "
                              "or pass --imagery DIR")
        return LocalSource(Path(folder).expanduser())
    start = mon.fetch_start or default_fetch_start(now)
    fetch_dir = mon.fetch_dir.expanduser()
    # STAC writes fetch.json beside the products: the scan reads its per-site baselines
    record = fetch_dir / "fetch.json" if mon.source == "stac" else None
    try:
        return open_source(mon.source, fetch_dir, config, start=start, end=now.date(),
                           record=record, about={"command": "monitor"})
    except ImportError as exc:
        label = {"sentinelhub": "Sentinel Hub", "stac": "STAC"}.get(mon.source, mon.source)
        raise ConfigError(f"monitor.source is {mon.source!r} but the {label} source is not "
                          f"available in this installation ({exc}); use source: local with "
                          "monitor.imagery_dir") from exc


def _batches(source: ImagerySource, sites: gpd.GeoDataFrame,
             problems: list[str]) -> list[_Batch]:
    """Fetch (for a remote source) and return the folders to scan, each with its sites."""
    folders = source.folders(sites)
    if source.report is not None:
        problems += [f"fetch {sid} {pid or ''}: {msg}" for sid, pid, msg in source.report.failures]
    batches = []
    for f in folders:
        if f.site_ids is None and source.report is None:
            batches.append(_Batch(f.path, sites))
        elif f.path.is_dir():  # a fetch that wrote nothing there leaves no folder
            mine = sites if f.site_ids is None else \
                sites[sites["site_id"].astype(str).isin(f.site_ids)]
            batches.append(_Batch(f.path, mine))
    return batches


# Run -------------------------------------------------------------------------------------------


def _pause(env: str, what: str) -> None:
    seconds = os.environ.get(env)
    if not seconds:
        return
    sys.stderr.write(f"heatwatch-test: paused {what}\n")
    sys.stderr.flush()
    time.sleep(float(seconds))


def run_monitor(
    config: Config,
    *,
    sites: gpd.GeoDataFrame,
    source: ImagerySource | None = None,
    imagery_dir: Path | None = None,
    store_path: Path | None = None,
    alerts_path: Path | None = None,
    now: datetime | None = None,
    echo: Callable[[Alert], None] | None = None,
    progress: Callable[[str], None] | None = None,
) -> MonitorReport:
    """Run one monitoring pass: scan what is new, store it, raise and deliver alerts.

    Parameters
    ----------
    config
        The validated configuration; its ``monitor`` section gives the defaults below.
    source
        Where the products come from (:class:`pipeline.io.source.ImagerySource`); default the
        one ``monitor.source`` names (:func:`monitor_source`).
    imagery_dir
        Local folder of products (default ``monitor.imagery_dir``); ignored for the
        ``sentinelhub`` and ``stac`` sources, which fetch into ``monitor.fetch_dir``.
    sites
        Catalogued sites (the CLI passes the shipped Epoch catalog by default,
        :func:`aoi.catalog.load_catalog`). Sites outside every scene are reported in
        :attr:`MonitorReport.uncovered_sites`.
    store_path, alerts_path
        History store and JSON-lines alert file (default ``monitor.store``, ``monitor.alerts``).
    now
        The run's clock (start time, Sentinel Hub end date); default the current UTC time.
    echo
        Called with each alert delivered (the console sink).
    progress
        Called with each product id scanned.

    Returns
    -------
    MonitorReport
        New products, alerts raised by this run, delivery results, latest statuses.

    Raises
    ------
    StoreError
        If the store is unreadable (the message says how to rebuild it).
    ConfigError, NoDataError, FetchError
        On a missing imagery folder, an unavailable source or a failed fetch.

    Examples
    --------
    >>> report = run_monitor(load_config("configs/monitor.yaml"),
    ...                      imagery_dir=Path("imagery"))  # doctest: +SKIP
    >>> [a.kind for a in report.alerts]  # doctest: +SKIP
    ['turned_active']
    """
    now = now or datetime.now(timezone.utc)
    mon = config.monitor
    store_path = Path(store_path or mon.store).expanduser()
    alerts_path = Path(alerts_path or mon.alerts).expanduser()
    if not len(sites):
        raise NoDataError("no site to monitor: the catalog is empty; pass --sites FILE")
    run_id = f"{now:%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"
    report = MonitorReport(run_id=None, store=store_path, alerts_file=alerts_path)
    with HistoryStore(store_path) as store:
        batches = _batches(source or monitor_source(config, imagery_dir, now), sites,
                           report.problems)
        record = RunRecord(run_id=run_id, started=now.isoformat())
        for batch in batches:
            out = _run_batch(batch, config, store, record, progress)
            report.new_products = sorted(set(report.new_products) | out.new)
            report.n_scenes_scanned += out.n_scanned
            report.skipped += out.skipped
            report.uncovered_sites += out.uncovered
        if report.new_products:
            known = store.alert_ids()
            report.alerts = [Alert.from_row(a) for a in record.alerts
                             if a["alert_id"] not in known]
            record.finished = datetime.now(timezone.utc).isoformat()
            store.commit_run(record, before_commit=lambda: _pause(PAUSE_BEFORE_COMMIT_ENV,
                                                                  "before commit"))
            report.run_id = run_id
            _pause(PAUSE_BEFORE_NOTIFY_ENV, "before notify")
        report.statuses = [s for sid in sorted(set(map(str, sites["site_id"])))
                           if (s := store.latest_status(sid)) is not None]
        pending = [Alert.from_row(a) for a in store.pending_alerts()]
        report.delivery = deliver(pending, jsonl=alerts_path, webhook_url=mon.webhook_url,
                                  webhook_timeout=mon.webhook_timeout_s, echo=echo)
        store.mark_notified(a.alert_id for a in pending)
    report.problems += report.delivery.problems
    return report


def history_frame(store: HistoryStore, site_id: str) -> pd.DataFrame:
    """Return a site's time series from the store: one row a look, with the status as of it.

    Columns: ``date``, ``product_id``, ``clear``, ``clear_fraction``, ``excess_k_m2``,
    ``residual_heat_k_m2``, ``heat_mw`` (the look's residual heat), ``active``, and the status
    as of that date: ``status``, ``status_heat_mw``, ``heat_mw_low``, ``heat_mw_high``,
    ``verdict`` with ``verdict_margin`` (how close it was) and ``verdict_physics`` (the
    verdict with the physics coefficient; both empty for statuses stored before schema
    version 4), ``possible_shutdown_since``, ``status_note`` (why a status is
    ``undetermined`` although the fit saw a stop, see :func:`stored_status`).
    """
    obs = store.table("observations", site_id=site_id)
    st = store.table("site_status", site_id=site_id)
    if obs.empty and st.empty:

        known = ", ".join(store.site_ids()[:20]) or "none yet"
        raise StoreError(f"site {site_id!r} has no history in {store.path} (sites: {known}); "
                         "run `heatwatch monitor` first or check the id")
    st = st.rename(columns={"as_of_date": "date", "heat_mw": "status_heat_mw"})
    keep = ["date", "status", "status_heat_mw", "heat_mw_low", "heat_mw_high", "verdict",
            "verdict_margin", "verdict_physics", "possible_shutdown_since", "status_note"]
    out = obs.drop(columns=["site_id"]).merge(st[keep], on="date", how="outer")
    return out.sort_values(["date", "product_id"], na_position="last").reset_index(drop=True)


def read_history(store_path: Path, site_id: str) -> pd.DataFrame:
    """Return :func:`history_frame` of ``site_id`` from the store file at ``store_path``."""
    if not store_exists(store_path):
        raise StoreError(f"no history store at {store_path}; run `heatwatch monitor` first or "
                         "pass --store FILE")
    with HistoryStore(store_path) as st:
        return history_frame(st, site_id)


def default_fetch_start(now: datetime) -> date:
    """Return the first day fetched when ``monitor.fetch_start`` is not set (a year back)."""
    return now.date() - timedelta(days=365)


def write_history_plot(frame: pd.DataFrame, site_id: str, path: str | Path) -> Path:
    """Write a PNG of a site's history (from :func:`history_frame`) atomically.

    Top: each clear look's excess and residual heat (K m2), active looks filled. Bottom: the
    status heat as of each date with its 90% interval (MW).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt


    when = pd.to_datetime(frame["date"], errors="coerce")
    fig, (top, bottom) = plt.subplots(2, 1, sharex=True, figsize=(8, 5.5))
    try:
        active = frame["active"].fillna(0).astype(bool)
        top.plot(when, frame["excess_k_m2"], "o", mfc="none", color="0.4", label="excess")
        top.plot(when, frame["residual_heat_k_m2"], ".-", color="tab:red", lw=0.8,
                 label="residual heat")
        top.plot(when[active], frame["residual_heat_k_m2"][active], "o", color="tab:red",
                 label="active look")
        top.set_ylabel("K m²")
        top.legend(fontsize=8, loc="upper left")
        top.set_title(f"{site_id}: history")
        heat = frame["status_heat_mw"].astype(float)
        bottom.fill_between(when, frame["heat_mw_low"].astype(float),
                            frame["heat_mw_high"].astype(float), color="tab:orange", alpha=0.3,
                            label="90% interval")
        bottom.plot(when, heat, "-", color="tab:orange", label="heat as of date")
        bottom.set_ylabel("MW")
        bottom.legend(fontsize=8, loc="upper left")
        fig.autofmt_xdate()
        fig.tight_layout()
        return write_png(path, fig, dpi=100)
    finally:
        plt.close(fig)  # also when plotting fails
