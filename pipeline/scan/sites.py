"""Site verdicts: from a site's look series to its status, heat interval and energy columns.

Public so that the monitor replays a site's verdict as of any date exactly as the scan makes
it: :func:`fit_site` (the activity model with the site's placebo null and baseline),
:func:`annotate_series` (the fit's looks marked active), :func:`site_row` (status, heat with
its 90% interval, placebo test, energy cross-reference, declared power, baseline), and the
rules behind them (:func:`null_test`, :func:`site_status`). The status vocabulary is
documented once in ``docs/statuses.md``.
"""

from __future__ import annotations

from dataclasses import replace
from functools import partial
from typing import Any, NamedTuple

import geopandas as gpd
import numpy as np
import pandas as pd
from scipy.stats import norm

from models.energy import inverse
from models.energy_check import cross_reference
from models.energy_types import Interval
from pipeline.core.config import Config
from pipeline.core.site_row import (
    COMES_BACK_SHARE,
    MIN_PLACEBOS,
    STEP_RATE,
    DensityColumns,
    EnergyColumns,
    NullColumns,
    RejectionKind,
    SiteRow,
    Status,
    change_word,
    null_judges,
    rate_counts_steps,
)
from pipeline.core.sites import SITE_COLUMNS
from pipeline.scan.baseline import Baseline, baseline_columns
from pipeline.scan.verdicts import (
    calibration_columns,
    heat_may_be_land,
    maybe_land,
    reach,
    term_heat,
    unmeasured_land,
    withheld,
)
from pipeline.science.activity import ActivityFit, fit_activity
from pipeline.science.declared import Declaration, declaration_on, site_credit
from pipeline.science.footprint import SiteMasks
from pipeline.science.placebo import (
    PlaceboSeries,
    RegionNull,
    SiteNull,
)
from pipeline.science.power import (
    Calibration,
    CalibrationSet,
    HeatEstimate,
    heat_mw,
    site_coefficient,
)
from pipeline.science.scene_events import Shared
from pipeline.science.season import (
    annual_cycle,
    beyond_sun,
    comes_back,
    seen_days,
    span_days,
    spans_a_year,
)


def catalog_frame(sites: gpd.GeoDataFrame | None) -> gpd.GeoDataFrame:
    """Return the site catalog with every column of :data:`SITE_COLUMNS` (empty without one)."""
    if sites is None or not len(sites):
        return gpd.GeoDataFrame({c: [] for c in SITE_COLUMNS}, geometry=[], crs=4326)
    out = sites.copy()
    for col in SITE_COLUMNS:
        if col not in out:
            out[col] = None
    return out


#: The patterns, fitted with a footprint's own annual cycle, in which a searched onset still
#: rises (:func:`fit_site`, :func:`new_site_rejection`): a step that the cycle turns into a
#: window (a rise with a later fall) has still risen.
STILL_RISES = ("onset", "window")


def fit_site(series: pd.DataFrame, masks: SiteMasks, pixel_area: float, config: Config,
             null: SiteNull | None = None, *, in_catalog: bool = True,
             baseline: Baseline | None = None,
             placebos: PlaceboSeries | None = None) -> ActivityFit:
    """Fit the activity model to a site's clear looks, with what its land and baseline say.

    The placebo null bounds the static offset a baseline may take and gives the land's own
    temporal modes (``persistence.land_modes``); a declared baseline's looks are known
    inactive. A power-on step the model cannot tell from a new roof is fitted as a step with
    the roof's lead in its ``nuisance_gap`` (:func:`pipeline.science.activity.fit_activity`):
    a catalogued site's halls may stand before it powers on, so its step stands; a searched
    site's is rejected (:func:`new_site_rejection`).

    A searched site fitted as an onset, over looks that span a year
    (:func:`pipeline.science.season.spans_a_year`), is fitted once more with its footprint's
    own annual cycle as terms of no heat (a field whose season lags the sun's: the part of
    the cycle the solar response does not make, :func:`pipeline.science.season.beyond_sun`);
    what that fit selects is its ``season_pattern``, and :func:`new_site_rejection` keeps the
    rise only when it still rises there. A searched ``window`` (heat that came and went)
    whose weeks are seen again in another year carries the share of its bump those weeks show
    there (its ``season_share``, :func:`pipeline.science.season.comes_back`): a season comes
    back, a campus that ran for a while and stopped does not. It also carries the longest its
    heat can have lasted (its ``span_days``, :func:`pipeline.science.season.span_days`). A
    catalogued site is one hypothesis, not a search, and is not put to this choice (its halls
    may stand before it powers on, as for the roof).
    """
    looks = (np.isfinite(series["excess_k_m2"]) & np.isfinite(series["solar_loading"])).to_numpy()
    clear = series[looks]
    p = config.persistence
    # the land's own shapes over these looks, from the scene's placebo footprints
    modes = placebos.modes(looks, series["solar_loading"].to_numpy(), p.land_modes) \
        if placebos is not None and p.land_modes > 0 else None
    if modes is not None and not modes.size:
        modes = None

    def fit(nuisance: np.ndarray | None) -> ActivityFit:
        return fit_activity(
            clear["excess_k_m2"].to_numpy(), clear["solar_loading"].to_numpy(),
            night=(clear["day_night"] == "NIGHT").to_numpy() if "day_night" in clear else None,
            baseline_looks=0 if baseline is None else baseline.looks(
                clear["date"].astype(str).tolist()),
            area_m2=masks.integration_area_px * pixel_area, min_looks=p.min_looks,
            significance=p.significance, min_active_k_m2=p.min_active_k_m2,
            baseline_offset_k=p.baseline_offset_k, change_bic_margin=p.change_bic_margin,
            max_baseline_k_m2=None if null is None else null.offset_bound(p.significance),
            offset_sd_k_m2=None if null is None else null.offset_bound(1.0),
            nuisance=nuisance)

    chosen = fit(modes)
    dates = clear["date"].to_numpy() if "date" in clear else np.array([], "datetime64[D]")
    if in_catalog:
        return chosen
    if chosen.pattern == "window" and chosen.start is not None and chosen.stop is not None:
        return replace(chosen, season_share=comes_back(
            dates, chosen.residual_heat, chosen.start, chosen.stop),
                       span_days=span_days(dates, chosen.start, chosen.stop))
    if chosen.pattern != "onset" or not spans_a_year(dates):
        return chosen
    cycle = beyond_sun(clear["solar_loading"].to_numpy(), annual_cycle(dates))
    if cycle is None:
        return chosen
    own = fit(cycle if modes is None else np.column_stack([modes, cycle]))
    return replace(chosen, season_pattern=own.pattern)


def annotate_series(series: pd.DataFrame, fit: ActivityFit) -> pd.DataFrame:
    """Return a copy of a look series with the fit's columns (clear, active, solar, residual)."""
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


def site_row(row: Any, in_catalog: bool, fit: ActivityFit, series: pd.DataFrame,
             calibrations: CalibrationSet, config: Config, *, footprint_m2: float,
             null: SiteNull | None = None, regions: RegionNull | None = None,
             baseline: Baseline | None = None, shared: Shared | None = None) -> SiteRow:
    """Return one site's verdict: the row ``sites.geojson`` holds.

    Its columns, their types, units and meanings: :class:`pipeline.core.site_row.SiteRow`
    (for readers of the files: ``docs/outputs.md``, generated from it).

    Status (:func:`site_status`), heat with its 90% interval (land's spread included, reaching
    0 where the heat does not stand outside its null), the placebo test, the declaration in
    force on the last look and the energy cross-reference, with the physics coefficient's
    verdict beside the one used (:func:`pipeline.scan.verdicts.calibration_columns`).
    ``shared``: how many of the scene's other searched regions change as the site does
    (:func:`pipeline.science.scene_events.shared_changes`); a new site's change they share
    beyond both nulls is a land event (:func:`new_site_rejection`).
    """
    known = known_cooling(row)
    cooling = known or config.power.default_cooling

    # the heat's uncertainty includes what land alone does to its statistic (placebos), and
    # heat that does not stand outside that null may all be land: its interval reaches 0
    land = land_se(fit, null)
    evidence = null_test(fit, null, config, searched=not in_catalog)

    # never fitted on this site's own declaration (leave-one-out), or physics-only
    calibration = calibrations.for_site(str(row.site_id))
    # the interval the status is judged on: what the fit and land's spread allow
    est = maybe_land(site_interval(fit, known, calibration, config, land_k_m2=land), evidence)
    active_dates = series.loc[series["active"], "date"]
    heat_days = seen_days(active_dates)  # how long its heat was seen (status, FLOP total)
    clear_dates = series.loc[series["clear"], "date"]
    stop = fit.unconfirmed_stop
    # the declaration in force on the last look (zero or none: nothing declared yet)
    as_of = str(series["date"].iloc[-1]) if len(series) else None
    decl = declaration_on(row, as_of) if as_of else Declaration(None)
    rep = decl.mw if decl.declared else None
    test = searched_test(fit, null, config, regions) if not in_catalog else None
    status = site_status(fit, est, test, declared_mw=rep, config=config,
                         stop_test=null_test(fit, null, config, "shutdown",
                                             searched=not in_catalog),
                         end_limit_mw=end_limit_mw(fit, null, cooling, calibration, config),
                         rise_test=evidence if in_catalog and baseline is None else None,
                         heat_days=heat_days)
    # the heat an always-on term could hide is within a listed site's upper end wherever the
    # level before or after its fitted change is not known to be land: running cannot be told
    # from a static offset (undetermined), or a change fitted with no declared baseline (a
    # rise or fall over a bump of land on a campus running all series puts the campus's level
    # into the static offset). A searched site's status is its search verdict instead.
    hidden = in_catalog and (status == "undetermined" or (
        baseline is None and fit.pattern in ("onset", "shutdown", "window")))
    held = hidden and fit.ever_active  # a site without heat: its upper end is that term
    # running cannot be told from land here (a static offset, a bump of land): the fitted
    # heat may be all land
    undetermined = heat_may_be_land(status, fit.pattern)

    def heat_of(cal: Calibration) -> HeatEstimate:
        """Return the row's heat under a coefficient: the interval its status leaves."""
        return maybe_land(site_interval(fit, known, cal, config, land_k_m2=land, hidden=hidden),
                          evidence, undetermined=undetermined)

    est = heat_of(calibration)
    rejected = None
    exclusion = getattr(row, "exclusion", None)
    exclusion = exclusion if isinstance(exclusion, str) and exclusion else None
    if not in_catalog:
        if exclusion:
            status = "excluded"
        else:
            rejected = new_site_rejection(fit, est, test, config, shared=shared)
            if rejected is None:
                status = "candidate"
    # a place near a known non-datacenter heat source, or rejected, implies no accelerators
    compute = status != "excluded" and rejected is None
    # no refutation where the null could not measure what land adds to or hides in the heat;
    # a site without heat bounds it by its always-on term, whose land is the always-on null
    land_test = evidence if evidence is not None or null is None else null_test(
        fit, null, config, "always", searched=not in_catalog)
    unmeasured = unmeasured_land(land_test, declared_baseline=baseline is not None)
    energy = _energy(est, rep, cooling, heat_days, config,
                     accelerator=site_accelerator(row, config),
                     unmeasured=unmeasured) if compute else NO_COMPUTE.copy()
    out: SiteRow = {
        "site_id": str(row.site_id),
        "name": getattr(row, "name", None),
        "operator": getattr(row, "operator", None),
        "in_catalog": in_catalog,
        "status": status,
        "pattern": fit.pattern,
        "persistence": round_or_none(fit.persistence, 3),
        "stability": round_or_none(fit.stability, 3),
        # below persistence.change_bic_margin the series cannot tell the fitted change (or its
        # absence) from a change of solar response without heat: a new roof, a cleared field
        "roof_gap": round_or_none(fit.nuisance_gap, 1),
        # a searched onset over a year of looks, fitted with its footprint's own annual cycle:
        # a rise that no longer rises there is a season (fit_site, new_site_rejection)
        "own_season": fit.season_pattern,
        "season_share": fit.season_share,
        # a land event moves many places at one look, a campus its own
        "shared_change_regions": None if shared is None else shared.regions,
        "searched_regions": None if shared is None else shared.of,
        "busiest_other_look_regions": None if shared is None else shared.busiest_other,
        "shared_change_p": None if shared is None else float(f"{shared.p_value:.3g}"),
        "n_clear": int(fit.n_clear),
        "n_looks": len(series),
        "excess_k_m2": round_or_none(fit.heat_k_m2 if fit.ever_active else 0.0, 0),
        "excess_se_k_m2": round_or_none(float(np.hypot(fit.heat_se_k_m2, land)), 0),
        "land_se_k_m2": round_or_none(land, 0),
        "land_unmeasured": unmeasured,
        # the always-on heat its upper end also holds (site_heat's hidden), for what-ifs
        "hidden_k_m2": round_or_none(fit.always_k_m2, 0) if held else None,
        "hidden_se_k_m2": round_or_none(fit.always_se_k_m2, 0) if held else None,
        "solar_k_m2": round_or_none(fit.solar_k_m2, 0),
        "heat_mw": round_or_none(est.mw, 1),
        "heat_mw_low": round_or_none(est.low, 1),
        "heat_mw_high": round_or_none(est.high, 1),
        # heat over the footprint's area, to set against the site power density of AI campuses
        **power_density(est, footprint_m2),
        "heat_calibration": calibration.method,
        # the central K m2 per MW behind heat_mw: a third party can redo the conversion
        "k_m2_per_mw": round_or_none(site_coefficient(cooling, calibration, config.power), 1),
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
                              calibrations=calibrations, config=config, unmeasured=unmeasured),
        # shown for every site; it decides for new sites (a catalogued one is no search, and
        # its test is the evidence above: searched=False)
        **_null_columns(test if not in_catalog else evidence),
        "rejected_because": rejected.reason if rejected else None,
        "rejected_kind": rejected.kind if rejected else None,
        "exclusion": exclusion,
        **baseline_columns(fit, series, baseline),
        "n_night_looks": int((series["day_night"] == "NIGHT").sum()) if len(series) else 0,
        "geometry": row.geometry,
    }
    return out


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
    places in 1,000 km2, times the four statistics its pattern could have rested on: the
    search chose the pattern) is at most ``detection.false_alarm_per_1000km2``. A catalogued
    site is one hypothesis, not a search: it passes when its robust z reaches the one-sided
    ``detection.site_alpha`` of a normal tail.

    A new site's power-on step is kept only when a roof built mid-series does not explain it
    as well (:func:`new_site_rejection`); its null makes the same choice for each placebo, and
    a placebo rise that a roof explains counts as none
    (:meth:`pipeline.science.placebo.SiteNull.gated_by_roof`).

    Random placebos do not share a new site's selection (its footprint was drawn around hot
    pixels), so a new site must also stand ``detection.region_null_z`` robust deviations above
    the bulk of the ``regions`` the same search found
    (:class:`pipeline.science.placebo.RegionNull`),
    when it found at least ``detection.min_search_regions``. And its placebos must cover at
    least ``MIN_PLACEBOS`` footprints of distinct land
    (:attr:`pipeline.science.placebo.SiteNull.n_independent`): where the land holds room for
    only a few footprints of its size, hundreds of placebos measure those few places again,
    and a search's false-alarm rate cannot rest on them.
    """
    stat = statistic or NULL_STATISTIC.get(fit.pattern)
    if null is None or stat is None:
        return None
    if rate_counts_steps(not searched, fit.pattern, stat):
        # its step has beaten a roof (new_site_rejection): so must the placebo rises it meets
        null = null.gated_by_roof()
    independent = null.n_independent  # rounded for the output only (_null_columns)
    if null.n < MIN_PLACEBOS:
        return {"null_statistic": stat, "null_z": float("nan"), "null_tail_p": 1.0,
                "null_p_value": 1.0, "null_n": null.n, "null_n_independent": independent,
                "null_false_alarm_per_1000km2": float("inf"),
                "null_resolved_per_1000km2": float("inf"), "null_region_z": float("nan"),
                "null_fall_shape_z": float("nan"), "null_passed": False}
    p, tail = null.p_value(stat), null.tail_p(stat)
    # a search picks the pattern: land has a chance on each statistic a pattern can rest on
    far = (null.search_false_alarms_per_1000_km2(stat) if searched
           else null.false_alarms_per_1000_km2(stat))
    d = config.detection
    region_z = float("nan")
    if searched:
        passed = far <= d.false_alarm_per_1000km2 and null.exceeds_all(stat)
        passed = passed and independent >= MIN_PLACEBOS
        if regions is not None and regions.n >= d.min_search_regions:
            region_z = regions.z(null, stat)
            passed = passed and bool(np.isfinite(region_z) and region_z >= d.region_null_z)
    else:
        # one hypothesis: its robust z at the one-sided site_alpha of a normal tail (a few
        # placebos on unseen heat sources or cloud edges must not veto a real change)
        z = null.z(stat)
        passed = bool(np.isfinite(z) and z >= norm.isf(d.site_alpha))
    return {"null_statistic": stat, "null_z": null.z(stat), "null_tail_p": tail,
            "null_p_value": p, "null_n": null.n, "null_n_independent": independent,
            "null_false_alarm_per_1000km2": far,
            "null_resolved_per_1000km2": null.resolved_false_alarms_per_1000_km2(
                searched=searched),
            "null_region_z": region_z,
            "null_fall_shape_z": null.fall_shape_z() if stat == "shutdown" else float("nan"),
            "null_passed": bool(passed)}


def searched_test(fit: ActivityFit, null: SiteNull | None, config: Config,
                  regions: RegionNull | None = None) -> dict[str, Any] | None:
    """Judge a new (searched) site against its null (:func:`null_test`), a window twice over.

    A ``window`` is heat that came and went, judged by the height of its bump. A season of
    crops makes such a bump too: the footprint warms as its field dries and cools as it greens
    (or the ring the other way round), with no step of its own at either end. A campus that
    powered on, or one that stopped, has one. So a new site's window also needs its rise
    (``onset``) or its fall (``shutdown``) to pass the same test on its own; when neither
    does, the test fails and says why (``null_window_steps`` False).
    """
    test = null_test(fit, null, config, regions=regions)
    if test is None or fit.pattern != "window" or not test["null_passed"]:
        return test
    steps = (null_test(fit, null, config, s, regions=regions) for s in ("onset", "shutdown"))
    if any(t is not None and t["null_passed"] for t in steps):
        return test
    return {**test, "null_passed": False, "null_window_steps": False}


def tenths_down(v: float | None) -> float | None:
    """Return ``v`` rounded down to tenths (None where not finite).

    Examples
    --------
    >>> tenths_down(9.96), tenths_down(14.0), tenths_down(float("nan"))
    (9.9, 14.0, None)
    """
    if v is None or not np.isfinite(v):
        return None
    return float(np.floor(round(v * 10, 6)) / 10)


def _null_columns(test: dict[str, Any] | None) -> NullColumns:
    if test is None:
        return {"null_statistic": None, "null_z": None, "null_p_value": None,
                "null_tail_p": None, "null_n": None, "null_n_independent": None,
                "null_false_alarm_per_1000km2": None, "null_resolved_per_1000km2": None,
                "null_region_z": None, "null_fall_shape_z": None, "null_passed": None}
    far, resolved = test["null_false_alarm_per_1000km2"], test["null_resolved_per_1000km2"]
    return {"null_statistic": test["null_statistic"], "null_z": round_or_none(test["null_z"], 2),
            "null_p_value": round_or_none(test["null_p_value"], 4),
            "null_tail_p": float(f"{test['null_tail_p']:.3g}"), "null_n": test["null_n"],
            # rounded down: a null over fewer than MIN_PLACEBOS never reads as enough (null_judges)
            "null_n_independent": tenths_down(test["null_n_independent"]),
            "null_false_alarm_per_1000km2": float(f"{far:.3g}") if np.isfinite(far) else None,
            "null_resolved_per_1000km2": float(f"{resolved:.3g}") if np.isfinite(resolved)
            else None,
            "null_region_z": round_or_none(test["null_region_z"], 2),
            "null_fall_shape_z": round_or_none(test.get("null_fall_shape_z"), 2),
            "null_passed": test["null_passed"]}


class Rejection(NamedTuple):
    """Why a searched place is no candidate: a code and the words a reader is shown."""

    kind: RejectionKind  # the code (``rejected_kind``)
    reason: str  # the reason with its figures and what to do (``rejected_because``)


def _null_reason(fit: ActivityFit, test: dict[str, Any]) -> Rejection:
    if test["null_n"] < MIN_PLACEBOS:
        return Rejection("too_few_placebos",
                         f"only {test['null_n']} placebo footprints of its size fit on background "
                         "land here, too few to tell its heat from land structure; scan a larger "
                         "area")
    if test["null_n_independent"] < MIN_PLACEBOS:
        return Rejection("too_little_land",
                         f"its {test['null_n']} placebo footprints cover only "
                         f"{test['null_n_independent']:.1f} footprints of distinct background "
                         "land, too few to set a search's false-alarm rate; scan a larger area")
    if test.get("null_window_steps") is False:
        return Rejection("window_without_step",
                         "its heat came and went (a window), but neither its rise nor its fall "
                         "stands outside its scene's null on its own: a season of crops makes "
                         f"such a bump (the bump's rank p {test['null_p_value']:.3f} among "
                         f"{test['null_n']} placebo footprints)")
    what = ("an always-on excess with no onset in the series" if fit.pattern == "always"
            else f"its {test['null_statistic']} step")
    rz = test.get("null_region_z")
    among = (f"; {rz:.1f} robust deviations above the other regions the search found"
             if rz is not None and np.isfinite(rz) else "")
    # a new site: a power-on step meets the land's steps only (null_test)
    reach = STEP_RATE if rate_counts_steps(False, fit.pattern, test["null_statistic"]) \
        else "reach it"
    return Rejection("within_null",
                     f"{what} does not stand far enough outside its scene's null (rank p "
                     f"{test['null_p_value']:.3f} among {test['null_n']} placebo footprints; "
                     f"land alone would {reach} {test['null_false_alarm_per_1000km2']:.3g} "
                     f"times per 1,000 km2{among})")


def new_site_rejection(fit: ActivityFit, est: HeatEstimate, test: dict[str, Any] | None,
                       config: Config, *, shared: Shared | None = None) -> Rejection | None:
    """Return why a new (searched) site is no candidate, or None when it is one.

    A new site needs compute heat (an activity pattern with heat), at least
    ``power.min_candidate_mw``, a change in the series (an always-on excess is no evidence by
    itself, :func:`always_on_reason`, unless ``detection.always_on_candidates``), a heat
    statistic far outside its scene's null (:func:`null_test`), and, when that heat is a
    power-on step, a step that a change of solar response without heat (a roof built
    mid-series) does not explain as well: its fit's ``nuisance_gap`` at least
    ``persistence.change_bic_margin``, and that its footprint's own annual cycle does not
    explain either (its ``season_pattern``, :func:`fit_site`, still an onset or a window). A
    catalogued campus's halls may stand before it powers on, so there the step is kept; a new
    site is a search, and "a roof built mid-series must stay inactive" (issue 18). When that
    heat came and went (a ``window``) and its weeks are seen again in another year, those
    weeks must show less than :data:`COMES_BACK_SHARE` of its bump (its ``season_share``),
    and it must be able to have lasted ``detection.min_window_days`` (its ``span_days``): a
    campus runs for months once powered on, a season of land comes and goes within one.
    A change that the scene's other searched regions share (``shared``) beyond independent
    timing and more than at any other look (:meth:`Shared.land_event` at
    ``detection.land_event_p``) is a land event, not a campus's own step.

    Examples
    --------
    >>> from pipeline.core.config import Config
    >>> on = ActivityFit("onset", 4e5, 2e4, 1e5, 0.0, 12, 30, 30, 0.9, 0.9, np.zeros(30),
    ...                  nuisance_gap=4.0)
    >>> why = new_site_rejection(on, HeatEstimate(120.0, 80.0, 160.0), None, Config())
    >>> why.kind, why.reason[:40]
    ('roof_explains', 'its rise a new roof (a change of solar r')
    """
    if fit.pattern == "insufficient":
        return Rejection("too_few_looks", f"only {fit.n_clear} clear looks, fewer than min_looks")
    if not fit.ever_active:
        return Rejection("follows_sun",
                         "excess follows the sun (sunlit roof or bare ground), no compute heat")
    if est.mw < config.power.min_candidate_mw:
        return Rejection("below_min_mw", f"heat {est.mw:.0f} MW below min_candidate_mw")
    if fit.pattern == "onset" and fit.nuisance_gap < config.persistence.change_bic_margin:
        better = " or better" if fit.nuisance_gap < 0 else ""
        return Rejection("roof_explains",
                         "its rise a new roof (a change of solar response without heat) "
                         f"explains as well{better} (BIC gap {fit.nuisance_gap:.1f} < "
                         "persistence.change_bic_margin)")
    if fit.pattern == "onset" and fit.season_pattern not in (None, *STILL_RISES):
        return Rejection("own_season", season_reason(fit.season_pattern))
    share = fit.season_share if fit.pattern == "window" else None
    if share is not None and share >= COMES_BACK_SHARE:
        return Rejection("own_season", comes_back_reason(share))
    span = fit.span_days if fit.pattern == "window" else None
    if span is not None and span < config.detection.min_window_days:
        return Rejection("brief_window",
                         brief_window_reason(span, config.detection.min_window_days))
    if shared is not None and shared.land_event(config.detection.land_event_p):
        return Rejection("land_event", land_event_reason(fit.pattern, shared))
    if fit.pattern == "always" and not config.detection.always_on_candidates:
        return Rejection("always_on", always_on_reason(test))
    if test is not None and not test["null_passed"]:
        return _null_reason(fit, test)
    return None


def season_reason(pattern: str) -> str:
    """Return why a new site's rise that its own annual cycle explains is no candidate.

    ``pattern`` is what the onset's fit with the footprint's own annual cycle selects.

    Examples
    --------
    >>> season_reason("never")[:50]
    'an annual cycle of its own (a field whose season l'
    >>> "shows a fall, no rise" in season_reason("shutdown")
    True
    """
    shows = {"never": "no heat", "always": "heat that ran all series, no step",
             "shutdown": "a fall, no rise"}.get(pattern, f"a {pattern}")
    return ("an annual cycle of its own (a field whose season lags the sun's) explains its rise "
            f"as well: with one fitted as no heat, its series shows {shows}; a step stays when "
            "a season repeats, so scan a longer series (more than a year) to tell them apart")


def comes_back_reason(share: float) -> str:
    """Return why a new site's bump that the same weeks of another year show again is none.

    Examples
    --------
    >>> comes_back_reason(0.83)[:62]
    'its bump comes back in the same weeks of another year at 83% o'
    """
    return (f"its bump comes back in the same weeks of another year at {share:.0%} of its "
            f"height (at least {COMES_BACK_SHARE:.0%}): a season of its own (a field whose "
            "season lags the sun's), not heat that came and went once")


def brief_window_reason(span: float, min_days: float) -> str:
    """Return why a new site's heat that came and went within less than a season is none.

    Examples
    --------
    >>> brief_window_reason(56.0, 90.0)[:72]
    'its heat came and went within at most 56 days (from the clear look befor'
    """
    return (f"its heat came and went within at most {span:.0f} days (from the clear look before "
            f"it to the one after it), less than detection.min_window_days ({min_days:.0f}): a "
            "campus runs for months once powered on, while a season of crops, snow or a flood "
            "comes and goes within one")


def land_event_reason(pattern: str, shared: Shared) -> str:
    """Return why a new site's change that many searched regions make at its look is none.

    Examples
    --------
    >>> why = land_event_reason("onset", Shared(17, 55, busiest_other=9, p_value=2e-9))
    >>> why.startswith("its rise is shared by 17 of the scene's 55 other searched regions")
    True
    >>> "at most 9" in why and "p 2e-09" in why
    True
    """
    return (f"its {change_word(pattern)} is shared by {shared.regions} of the scene's "
            f"{shared.of} other searched regions (the same look or one either side), more "
            f"than at any other look of the series (at most {shared.busiest_other}) and more "
            f"than independent timing would put at one look (p {shared.p_value:.1g}): a land "
            "event across the scene (fields harvested or greening, a front of dry soil), not a "
            "campus's own step")


def always_on_reason(test: dict[str, Any] | None) -> str:
    """Return why a new site always on through the series is no candidate, with its null figures.

    A static land offset (emissivity error of the Level-2 product, terrain, soil) is always on
    too, and on the benchmark's widened land no statistic of the placebo null told one from a
    campus running all series (docs/benchmarks.md, twelfth session): its false candidates
    were all such excesses, 3.6-8.3 robust deviations out, while a true one stood 4.4 out.
    A campus has a power-on date; imagery from before it shows the step.

    Examples
    --------
    >>> always_on_reason({"null_z": 12.34, "null_p_value": 0.005, "null_n": 200})[:80]
    'always on through the series, no onset (robust z 12.3, rank p 0.005 among 200 pl'
    >>> "scan imagery from before it stood" in always_on_reason(None)
    True
    """
    standing = ""
    if test is not None and np.isfinite(test["null_z"]):
        standing = (f" (robust z {test['null_z']:.1f}, rank p {test['null_p_value']:.3f} "
                    f"among {test['null_n']} placebo footprints)")
    return (f"always on through the series, no onset{standing}: a static land offset "
            "(emissivity, terrain, soil) is always on too, so it is no evidence of compute by "
            "itself; scan imagery from before it stood (a power-on step is evidence), or set "
            "detection.always_on_candidates to judge it by its placebo null alone")


def site_status(fit: ActivityFit, est: HeatEstimate, test: dict[str, Any] | None, *,
                declared_mw: float | None, config: Config,
                stop_test: dict[str, Any] | None = None,
                end_limit_mw: float = float("inf"),
                rise_test: dict[str, Any] | None = None,
                heat_days: float = 0.0) -> Status:
    """Return the status of a site from its activity fit, heat interval and placebo test.

    * ``active``: heat at the last clear look, from an onset in the series (a before/after
      measurement), or always on (for a new site: far outside its scene's placebo null). A
      listed site's onset must also stand outside the null of its land's rises
      (``rise_test``, its :func:`null_test` at ``detection.site_alpha``; none with a
      declared baseline) wherever that null can judge (:func:`null_judges`), else it is
      ``undetermined``: plain land listed as a campus rises as often;
    * ``inactive``: no heat at the end, and either its stop was seen (a shutdown whose fall
      stands outside the placebo null of falls, ``stop_test``), or its heat
      upper limit is below ``persistence.inactive_fraction`` of its declared power (else of
      ``power.min_candidate_mw``). A fall that a change of solar response explains as well
      is seen only by its shape (:func:`fall_shape_seen`, ``heat_days``: how long its heat
      was seen before it). After a ``window`` (heat that came and went) both are
      needed: the level it fell back to is the level before it, which a site running all
      series holds as well (a land bump on top of running heat makes the same window), so
      the heat that level could hide, ``end_limit_mw`` (:func:`end_limit_mw`), must be below
      that fraction too;
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
        # shape of the change not seen) is no evidence of a stop, unless its shape is a step
        # far more clearly than the falls its land makes (fall_shape_seen)
        seen = fit.nuisance_gap >= config.persistence.change_bic_margin or (
            fit.pattern == "shutdown" and fall_shape_seen(stop_test, config, heat_days))
        seen = seen and (stop_test is None or stop_test["null_passed"])
        if fit.pattern == "window":
            expected = declared_mw if declared_mw and declared_mw > 0 else \
                config.power.min_candidate_mw
            seen = seen and end_limit_mw < config.persistence.inactive_fraction * expected
        return "inactive" if seen else "undetermined"
    if fit.pattern == "onset":
        # a listed campus's rise, like its stop, must stand outside what land does by itself
        # where a null can tell (placebos over enough distinct land): plain land listed as a
        # campus rises as often (bench/footprint_ceiling.py)
        if rise_test is not None and null_judges(rise_test) and not rise_test["null_passed"]:
            return "undetermined"
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


def fall_shape_seen(stop_test: dict[str, Any] | None, config: Config,
                    heat_days: float) -> bool:
    """Whether a site's fall is shaped as a step far beyond the falls its land makes.

    The activity fit asks a stop to beat a change of solar response without heat by
    ``persistence.change_bic_margin``; on land whose own falls follow the sun, a real stop
    may not. Its placebos set what land does instead: the fall's shape (how much better a
    step than a change of solar response fits it,
    :func:`pipeline.science.placebo.step_roof_gaps`) against that of its placebos' falls, in
    robust deviations (``null_fall_shape_z``), at the one-sided ``detection.site_alpha`` of a
    normal tail, where the null can judge (placebos over at least ``MIN_PLACEBOS`` footprints
    of distinct land, :func:`null_judges`). And the heat it ends must have been seen for at
    least ``detection.min_window_days`` (``heat_days``, from the first to the last look with
    heat): the end of a bump of land (a season of crops, a flood, weeks long) is a fall
    shaped as a step too, and heat seen for less than a season cannot tell a stop from it.

    Examples
    --------
    >>> from pipeline.core.config import Config
    >>> test = {"null_z": 9.0, "null_n_independent": 40.0, "null_fall_shape_z": 5.4}
    >>> fall_shape_seen(test, Config(), 208.0)
    True
    >>> fall_shape_seen({**test, "null_fall_shape_z": 0.9}, Config(), 208.0)
    False
    >>> fall_shape_seen({**test, "null_n_independent": 6.0}, Config(), 208.0)  # little land
    False
    >>> fall_shape_seen(test, Config(), 56.0)  # heat seen for eight weeks: maybe a bump
    False
    """
    if stop_test is None or not null_judges(stop_test) \
            or not heat_days >= config.detection.min_window_days:
        return False
    z = stop_test.get("null_fall_shape_z", float("nan"))
    return bool(np.isfinite(z) and z >= norm.isf(config.detection.site_alpha))


def power_density(est: HeatEstimate, footprint_m2: float) -> DensityColumns:
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
        return round_or_none(mw * 1e6 / footprint_m2, 1) if footprint_m2 > 0 else None

    return {"footprint_m2": round_or_none(footprint_m2, 0), "power_density_w_m2": per_m2(est.mw),
            "power_density_w_m2_low": per_m2(est.low), "power_density_w_m2_high": per_m2(est.high)}


def end_limit_mw(fit: ActivityFit, null: SiteNull | None, cooling: str,
                 calibration: Calibration, config: Config) -> float:
    """Return the heat (MW, 90% upper limit) a site could run unseen after a ``window``.

    A window fit puts the site's level before and after its heat at one static offset ``b``
    against the ring. Whether that level is idle land or a campus running all series (with a
    bump of land on top: a green season, a solar index that follows the crops) the series
    cannot say; only how far ``b`` lies from the offsets land alone makes does. The limit is
    ``max(b, 0)`` plus ``Z90`` robust deviations of the placebos' always-on statistic (the
    land's static offsets), in MW at the site's coefficient. Infinite for other patterns
    (nothing to bound), and where fewer than ``MIN_PLACEBOS`` placebos fit (the land's
    offsets are not measured).

    Examples
    --------
    >>> from pipeline.core.config import Config
    >>> from pipeline.science.power import physics_calibration
    >>> cfg = Config()
    >>> cal = physics_calibration(cfg.power)
    >>> ref = np.array([-2.0, -1.0, 0.0, 1.0, 2.0] * 4) * 1e4  # robust sd 1.48e4 K m2
    >>> null = SiteNull({"always": 0.0}, {"always": ref}, 1.0, [(0, 0)] * 20)
    >>> w = ActivityFit("window", 4e5, 1e4, 0.0, 1e5, 3, 9, 30, 0.9, 0.9, np.zeros(30))
    >>> k = site_coefficient("dry", cal, cfg.power)
    >>> limit = end_limit_mw(w, null, "dry", cal, cfg)
    >>> bool(abs(limit * k / np.exp(1.6449 * cal.sigma_for("dry"))
    ...          - (1e5 + 1.6449 * 1.4826e4)) < 1.0)
    True
    """
    if fit.pattern != "window":
        return float("inf")
    sd = null.offset_bound(1.0) if null is not None and null.n >= MIN_PLACEBOS else float("nan")
    if not np.isfinite(sd):
        return float("inf")
    bound = heat_mw(max(fit.baseline_k_m2, 0.0), sd, cooling=cooling, calibration=calibration,
                    config=config.power)
    return bound.high if np.isfinite(bound.high) else float("inf")


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


def site_heat(fit: ActivityFit, cooling: str, calibration: Calibration, config: Config, *,
              land_k_m2: float = 0.0, hidden: bool = False) -> HeatEstimate:
    """Heat (MW) of a site with its 90% interval.

    The heat term's standard error is the fit's combined with ``land_k_m2``, what land alone
    gives the same statistic (:func:`land_se`). A site without detected heat gets 0 MW with an
    upper limit: the heat an always-on term could hide in its series
    (:attr:`ActivityFit.always_k_m2`), so "not seen" below the detection limit never reads
    as "proven idle" against a declared power.

    ``hidden``: nothing says the level its fit gives to land is land (status
    ``undetermined``, docs/statuses.md, or a listed site's change with no declared baseline:
    :func:`site_row`), so its upper end holds that always-on heat as well. A change fitted
    over a bump of land (a winter's low sun, a green season) on a campus running all series
    puts the campus's level into the fit's static offset; its heat would otherwise fall out
    of the interval, which then reads as a limit the evidence does not set.

    Examples
    --------
    >>> from pipeline.core.config import Config
    >>> from pipeline.science.power import physics_calibration
    >>> bump = ActivityFit("onset", 3e5, 1e5, 5e5, 7e5, 30, 40, 40, 0.3, 0.9, np.zeros(40),
    ...                    always_k_m2=1e6, always_se_k_m2=1e5)
    >>> cfg = Config()  # the physics coefficient: no declared site
    >>> plain, held = (site_heat(bump, "dry", physics_calibration(cfg.power), cfg, hidden=h)
    ...                for h in (False, True))
    >>> held.mw == plain.mw and held.low == plain.low and held.high > 2 * plain.high
    True
    """
    if fit.ever_active:
        return term_heat(fit.heat_k_m2, float(np.hypot(fit.heat_se_k_m2, land_k_m2)), cooling,
                         calibration, config,
                         hidden=(fit.always_k_m2, fit.always_se_k_m2) if hidden else None)
    # the always-on term: what the site could run unseen
    bound = heat_mw(max(fit.always_k_m2, 0.0), fit.heat_se_k_m2, cooling=cooling,
                    calibration=calibration, config=config.power)
    return HeatEstimate(0.0 if np.isfinite(bound.high) else float("nan"), 0.0, bound.high)


def known_cooling(row: Any) -> str | None:
    """Return a site's declared cooling type, None where its catalogue row gives none."""
    known = getattr(row, "cooling", None)
    return known if isinstance(known, str) and known else None


def site_interval(fit: ActivityFit, known: str | None, calibration: Calibration,
                  config: Config, *, land_k_m2: float = 0.0,
                  hidden: bool = False) -> HeatEstimate:
    """Heat (MW) of a site whose cooling may be unknown, with its 90% interval.

    :func:`site_heat` at the site's cooling; with the cooling unknown (``known`` None), the
    central value assumes ``power.default_cooling`` and the interval reaches up to what the
    least visible cooling type (evaporative towers) would imply.

    Examples
    --------
    >>> from pipeline.core.config import Config
    >>> from pipeline.science.power import physics_calibration
    >>> on = ActivityFit("onset", 1e6, 1e5, 5e5, 0.0, 10, 40, 40, 0.9, 0.9, np.zeros(40))
    >>> cfg = Config()
    >>> dry = site_interval(on, "dry", physics_calibration(cfg.power), cfg)
    >>> unknown = site_interval(on, None, physics_calibration(cfg.power), cfg)
    >>> unknown.mw == dry.mw and unknown.high > dry.high
    True
    """
    return reach(partial(site_heat, fit, calibration=calibration, config=config,
                         land_k_m2=land_k_m2, hidden=hidden),
                 known or config.power.default_cooling, unknown=known is None)


#: The energy columns of a place that implies no accelerators (no heat, excluded, rejected).
NO_COMPUTE: EnergyColumns = {
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


def _energy(est: Any, reported_mw: float | None, cooling: str, active_days: float,
            config: Config, *, accelerator: tuple[str, str] | None = None,
            unmeasured: str | None = None) -> EnergyColumns:
    """Energy-model cross-reference: implied H100-equivalents, FLOP/s and FLOP, verdict.

    ``active_days``: how long the site's heat was seen (the FLOP total's duration; 0: none).

    ``accelerator`` is ``(accelerators, source)`` from :func:`site_accelerator`; the row says
    which accelerators its implied compute assumes (``accelerator``, ``accelerator_source``).
    ``unmeasured``: why land's part in the heat was not measured (no refutation then:
    :func:`pipeline.scan.verdicts.withheld`).
    """
    heat = Interval.from_heat(est.mw, est.low, est.high)
    if heat is None:
        return NO_COMPUTE.copy()
    acc, source = accelerator or (config.power.assumed_accelerator, ASSUMED)
    check = cross_reference(heat, declared_power_mw=reported_mw, cooling=cooling,
                            accelerator=acc)
    props = check.as_properties()
    props["verdict"], props["verdict_reason"], props["verdict_margin"] = withheld(
        check.verdict, check.reason, check.margin, unmeasured)
    total = inverse(heat, accelerator=acc, cooling=cooling, active_days=active_days or None)
    flop = total.flop_bf16
    return {**props, "implied_h100e": round_or_none(props["implied_h100e"], 0),
            "implied_h100e_low": round_or_none(props["implied_h100e_low"], 0),
            "implied_h100e_high": round_or_none(props["implied_h100e_high"], 0),
            "implied_flop_total": None if flop is None else float(flop.central),
            "accelerator": check.implied.accelerator, "accelerator_source": source}


def json_value(v: Any) -> Any:
    """Return a table cell fit for JSON: a missing number (NaN in a float column) is None."""
    return None if isinstance(v, float) and not np.isfinite(v) else v


def round_or_none(v: float | None, nd: int) -> float | None:
    """Return ``v`` rounded to ``nd`` digits; None for a missing or non-finite value."""
    return None if v is None or not np.isfinite(v) else round(float(v), nd)
