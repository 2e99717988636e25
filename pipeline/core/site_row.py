"""The site verdict every stage shares: one row of ``sites.geojson``, typed key by key.

The scan makes it (:func:`pipeline.scan.sites.site_row`), writes it (the properties of each
feature of ``sites.geojson``; ``geometry`` is the feature's geometry), and every other stage
reads it back: the monitor replays and stores it, the reports, web map, PDF and evidence
figures show it, discover ranks it into ``candidates.csv``. :class:`SiteRow` is the one place
its keys, their types and their meanings (with units) are written down. Annotate a record as
:class:`SiteRow` and mypy rejects a misspelt key: ``row["heat_mw_hihg"]`` by itself,
``row.get("heat_mw_hihg")`` through the project's plugin (``tools/mypy_typeddict_get.py``; PEP
589 lets ``.get`` take any key). A ``Mapping[str, Any]`` view is unchecked: only for code that
takes other rows too.

The row is built from column groups, each a small ``TypedDict`` that the module filling it
returns and :func:`~pipeline.scan.sites.site_row` unpacks (``**``) into the row:
:class:`DensityColumns`, :class:`EnergyColumns`, :class:`CalibrationColumns`,
:class:`NullColumns`, :class:`BaselineColumns`. Their key tuples (:data:`NULL_COLUMNS`,
:data:`BASELINE_COLUMNS`, :data:`ENERGY_COLUMNS`, ...) are derived from them, never re-typed.

Keys and values are exactly those of the files: a missing number is ``None`` (JSON ``null``),
dates are ISO ``YYYY-MM-DD`` strings. This module imports nothing of the project (layer
``core``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any, Final, Literal, TypedDict, get_args, get_type_hints

__all__ = [
    "BASELINE_COLUMNS",
    "CALIBRATION_COLUMNS",
    "COMES_BACK_SHARE",
    "DENSITY_COLUMNS",
    "ENERGY_COLUMNS",
    "INCONCLUSIVE",
    "INTEGER_PROPERTIES",
    "NOT_REFUTED",
    "NULL_COLUMNS",
    "OVER",
    "REFUTED",
    "REJECTION_KINDS",
    "SITE_PROPERTIES",
    "STATUSES",
    "STATUS_KEYS",
    "UNDER",
    "VERDICTS",
    "BaselineColumns",
    "CalibrationColumns",
    "CheckColumns",
    "DensityColumns",
    "EnergyColumns",
    "NullColumns",
    "RejectionKind",
    "SiteRow",
    "Status",
    "StatusRow",
    "StoredStatus",
    "Verdict",
    "pick",
]

#: A site's status (meaning: docs/statuses.md and :func:`pipeline.scan.sites.site_status`).
Status = Literal["active", "inactive", "undetermined", "insufficient_data", "candidate",
                 "excluded"]
#: Every status, in the order docs/statuses.md lists them.
STATUSES: tuple[Status, ...] = get_args(Status)

#: Why a searched place is no candidate, as a code (``rejected_kind``; its words and figures are
#: ``rejected_because``): too few clear looks; excess that follows the sun; heat below
#: ``power.min_candidate_mw``; a rise that a new roof explains as well; a season of its own;
#: heat that came and went within less than a season; a change that many other searched regions
#: make at its look (a land event); always on with no onset;
#: too few placebo footprints, or too little distinct land under them, for a null; a window
#: whose rise and fall do not stand out on their own; heat within its scene's null.
RejectionKind = Literal["too_few_looks", "follows_sun", "below_min_mw", "roof_explains",
                        "own_season", "brief_window", "land_event", "always_on",
                        "too_few_placebos", "too_little_land", "window_without_step",
                        "within_null"]
#: Every rejection code, in the order :func:`pipeline.scan.sites.new_site_rejection` tests them.
REJECTION_KINDS: tuple[RejectionKind, ...] = get_args(RejectionKind)


def change_word(pattern: str | None) -> str:
    """Return the word for a site's fitted change: "fall" after a shutdown, else "rise".

    The rejection reason (:func:`pipeline.scan.sites.land_event_reason`) and the report's
    sentence on a shared change (:func:`pipeline.report.build.shared_sentence`) say it alike.

    Examples
    --------
    >>> change_word("shutdown"), change_word("onset"), change_word("window")
    ('fall', 'rise', 'rise')
    """
    return "fall" if pattern == "shutdown" else "rise"


#: The row's ``season_share`` at which a searched window's bump is a season of its own, not
#: heat that came and went once (:func:`pipeline.science.season.comes_back`,
#: :func:`pipeline.scan.sites.new_site_rejection`): half. A season comes back whole but for
#: its year-to-year spread; heat that came and went once leaves those weeks at the land's
#: level, 0 but for the looks' noise.
COMES_BACK_SHARE: Final = 0.5

#: The verdict of the energy model on a declaration (:mod:`models.energy_check`).
Verdict = Literal["not refuted", "refuted: under-reported", "refuted: over-declared",
                  "inconclusive"]
NOT_REFUTED: Final = "not refuted"
UNDER: Final = "refuted: under-reported"
OVER: Final = "refuted: over-declared"
INCONCLUSIVE: Final = "inconclusive"
#: Every verdict.
VERDICTS: tuple[Verdict, ...] = get_args(Verdict)
#: The verdicts that refute a declaration.
REFUTED: tuple[Verdict, ...] = (UNDER, OVER)


class DensityColumns(TypedDict):
    """Heat over the footprint's area (:func:`pipeline.scan.sites.power_density`)."""

    footprint_m2: float | None  # area of the site's footprint (m2)
    power_density_w_m2: float | None  # heat_mw over footprint_m2 (W/m2)
    power_density_w_m2_low: float | None  # heat_mw_low over footprint_m2 (W/m2)
    power_density_w_m2_high: float | None  # heat_mw_high over footprint_m2 (W/m2)


class CheckColumns(TypedDict):
    """The energy model's cross-reference (:meth:`models.energy_check.CrossCheck.as_properties`)."""

    implied_h100e: float | None  # H100-equivalents the heat implies, central (count)
    implied_h100e_low: float | None  # implied_h100e, low end of its 90% interval (count)
    implied_h100e_high: float | None  # implied_h100e, high end of its 90% interval (count)
    implied_flops: float | None  # dense BF16 peak the implied accelerators give (FLOP/s)
    verdict: Verdict  # the declared power tested against the heat interval
    verdict_margin: float | None  # factor by which the deciding check passed or failed
    verdict_reason: str  # the verdict in one sentence, numbers included


class EnergyColumns(CheckColumns):
    """The energy cross-reference of a site's heat (:func:`pipeline.scan.sites._energy`).

    All ``None`` (verdict ``inconclusive``) for a place that implies no accelerators:
    excluded, rejected, or without a finite heat (:data:`pipeline.scan.sites.NO_COMPUTE`).
    """

    implied_flop_total: float | None  # BF16 FLOP at peak over the active dates (FLOP)
    accelerator: str | None  # accelerators behind the implied compute (name or name:count)
    accelerator_source: str | None  # "site catalog" or "assumed (power.assumed_accelerator)"


class CalibrationColumns(TypedDict):
    """Which coefficient made the verdict, and the physics one's heat and verdict.

    :func:`pipeline.scan.verdicts.calibration_columns`.
    """

    verdict_calibration: str  # the coefficient behind `verdict` and whose declarations it used
    verdict_fitted: Verdict | None  # verdict with the fitted coefficient (None: none fitted)
    verdict_physics: Verdict  # verdict with the physics coefficient (no declaration used)
    heat_mw_physics: float | None  # heat with the physics coefficient, central (MW)
    heat_mw_physics_low: float | None  # heat_mw_physics, low end of its 90% interval (MW)
    heat_mw_physics_high: float | None  # heat_mw_physics, high end of its 90% interval (MW)
    k_m2_per_mw_physics: float | None  # physics coefficient for the site's cooling (K m2/MW)
    calibration_agreement: str  # "agree", "disagree" or "physics only"
    calibration_note: str  # why the two coefficients agree or not


class NullColumns(TypedDict):
    """The placebo test of the site's heat statistic (:func:`pipeline.scan.sites.null_test`).

    All ``None`` when there is no heat statistic or no null to judge it.
    """

    null_statistic: str | None  # statistic judged: "always", "onset", "window", "shutdown"
    null_z: float | None  # robust z of the statistic among its placebo footprints
    null_p_value: float | None  # rank p-value among the placebo footprints
    null_tail_p: float | None  # the placebos' modelled tail probability of the statistic
    null_n: int | None  # number of placebo footprints of the site's size
    null_n_independent: float | None  # distinct land footprints placebos cover, rounded down
    null_false_alarm_per_1000km2: float | None  # land reaching it per 1000 km2 (new onset: steps)
    null_resolved_per_1000km2: float | None  # lowest rate its placebos show without a tail
    null_region_z: float | None  # robust z above the other regions the same search found
    null_fall_shape_z: float | None  # a listed fall's step shape: robust z among its land's falls
    null_passed: bool | None  # the statistic stands outside its null (docs/statuses.md)


class BaselineColumns(TypedDict):
    """Which period served as the site's before-state (:mod:`pipeline.scan.baseline`)."""

    baseline: str  # "declared (<source>)", "series" or "none"
    baseline_start: str | None  # first date of the baseline period (ISO date)
    baseline_end: str | None  # last date of the baseline period (ISO date)
    baseline_looks: int  # clear looks inside the baseline period


class SiteRow(DensityColumns, EnergyColumns, CalibrationColumns, NullColumns,
              BaselineColumns):
    """One site's verdict: a feature of ``sites.geojson`` (properties plus geometry).

    The keys of the column groups it inherits are part of it; the file's key order is that of
    :func:`pipeline.scan.sites.site_row`.
    """

    site_id: str  # the catalog's id, or a searched candidate's id
    name: str | None  # the catalog's name
    operator: str | None  # the catalog's operator
    in_catalog: bool  # catalogued (a hypothesis) rather than found by the search
    status: Status  # the site's status (docs/statuses.md)
    pattern: str  # activity pattern: never, always, onset, shutdown, window, insufficient
    persistence: float | None  # share of active looks whose heat exceeds half the fitted heat
    stability: float | None  # 1 - robust spread of the active looks' heat over the heat
    roof_gap: float | None  # BIC lead over a new or removed roof (< 0: the roof leads; None: none)
    own_season: str | None  # an onset's pattern, its own annual cycle fitted (None: untested)
    season_share: float | None  # share of a window's bump seen a year apart (None: untested)
    shared_change_regions: int | None  # other searched regions with the same change (None: none)
    searched_regions: int | None  # other searched regions in the scene (None: no change)
    busiest_other_look_regions: int | None  # most regions sharing it at another look (None: none)
    shared_change_p: float | None  # chance of as many under independent timing (None: no change)
    n_clear: int  # clear looks of the site
    n_looks: int  # looks of the site (clear or not)
    excess_k_m2: float | None  # fitted heat term, the footprint's integrated excess (K m2)
    excess_se_k_m2: float | None  # its standard error, land's spread included (K m2)
    land_se_k_m2: float | None  # what land alone gives the same statistic (K m2)
    land_unmeasured: str | None  # why land's part in the heat is not measured (no refutation)
    hidden_k_m2: float | None  # always-on term the upper end also holds (K m2; None: none)
    hidden_se_k_m2: float | None  # its standard error (K m2)
    solar_k_m2: float | None  # fitted solar response per unit solar loading (K m2)
    heat_mw: float | None  # heat, central (MW)
    heat_mw_low: float | None  # low end of the 90% interval; 0 where it may be all land (MW)
    heat_mw_high: float | None  # high end of the 90% interval (MW)
    heat_calibration: str  # method of the coefficient behind heat_mw: "fitted" or "physics"
    k_m2_per_mw: float | None  # central coefficient behind heat_mw (K m2/MW)
    cooling: str  # the catalog's cooling, else "unknown (<default> assumed)"
    first_seen: str | None  # first active look (ISO date)
    last_seen: str | None  # last active look (ISO date)
    possible_shutdown_since: str | None  # first of the last clear looks without heat (date)
    reported_power_mw: float | None  # declared power in force on the last look (MW)
    reported_power_since: str | None  # date that declaration took effect (ISO date)
    reported_power_as_of: str | None  # the last look's date, when a power is declared
    data_credit: str | None  # credit line of the site's catalog data
    rejected_because: str | None  # why a searched place is no candidate (None: not rejected)
    rejected_kind: RejectionKind | None  # that reason's code, docs/statuses.md (None: none)
    exclusion: str | None  # label of the known non-datacenter heat source nearby
    n_night_looks: int  # night looks of the site
    geometry: Any  # the footprint, lon/lat (shapely geometry; the feature's geometry in files)


class StatusRow(TypedDict):
    """A catalogued site's status as of one date: the monitor's history and its alerts.

    The :class:`SiteRow` of the scenes up to that date, cut to these keys (their meanings are
    :class:`SiteRow`'s), with the date and the monitor's note
    (:func:`pipeline.monitor.run.stored_status`).
    """

    site_id: str  # as in SiteRow
    as_of_date: str  # date of the last scene the status was fitted on (ISO date)
    status: Status
    pattern: str
    heat_mw: float | None  # the heat as of the date: after a seen stop, that after it (MW)
    heat_mw_low: float | None
    heat_mw_high: float | None
    first_seen: str | None
    last_seen: str | None
    verdict: Verdict
    verdict_margin: float | None  # how close the verdict was (the audit of a stored verdict)
    verdict_physics: Verdict  # the verdict with the physics coefficient, beside `verdict`
    reported_power_mw: float | None
    n_clear: int
    possible_shutdown_since: str | None
    status_note: str | None  # why a fitted stop is stored undetermined (None: no such case)


class StoredStatus(StatusRow):
    """A :class:`StatusRow` as the history store holds it (table ``site_status``)."""

    run_id: str  # the monitoring run that last wrote it


#: Fewest placebo footprints, and footprints of distinct land among them, for a null to judge a
#: site (pipeline.science.placebo): a footprint too large for its imagery has fewer.
MIN_PLACEBOS: Final = 10


def null_judges(test: Mapping[str, Any]) -> bool:
    """Whether a placebo null can judge a site's statistic: a finite z, enough distinct land.

    Hundreds of placebos over a few footprints of distinct land (a campus too large for its
    scene) measure those few places again: they cannot say how often land alone makes the
    statistic (:data:`MIN_PLACEBOS`, :attr:`pipeline.science.placebo.SiteNull.n_independent`).

    Examples
    --------
    >>> null_judges({"null_z": 1.2, "null_n_independent": 14.0})
    True
    >>> null_judges({"null_z": 1.2, "null_n_independent": 3.3})
    False
    """
    z, independent = test.get("null_z"), test.get("null_n_independent")
    return bool(z is not None and math.isfinite(z) and independent is not None
                and independent >= MIN_PLACEBOS)


def land_coverage(test: Mapping[str, Any]) -> str:
    """Say why a site's placebo null cannot judge it (:func:`null_judges` False).

    Examples
    --------
    >>> land_coverage({"null_z": 0.4, "null_n_independent": 3.3})
    'its placebos cover only 3.3 footprints of distinct land, fewer than 10'
    >>> land_coverage({"null_z": float("nan"), "null_n_independent": 0.0})
    'no placebo footprint of its size fits on its land'
    """
    distinct = test.get("null_n_independent")
    if not isinstance(distinct, int | float) or not distinct > 0:
        return "no placebo footprint of its size fits on its land"
    if distinct < MIN_PLACEBOS:
        return (f"its placebos cover only {distinct:.1f} footprints of distinct land, fewer "
                f"than {MIN_PLACEBOS}")
    return "its statistic could not be set against its placebos"


def rate_counts_steps(in_catalog: bool, pattern: str | None, statistic: str | None) -> bool:
    """Whether a site's null rate counts only the land's steps, not its roofs.

    A new (searched) site's power-on step is kept only when a roof built mid-series does not
    explain it as well, so its placebo rises make the same choice
    (:meth:`pipeline.science.placebo.SiteNull.gated_by_roof`, docs/statuses.md); every other
    null test counts every placebo.

    Examples
    --------
    >>> rate_counts_steps(False, "onset", "onset"), rate_counts_steps(True, "onset", "onset")
    (True, False)
    >>> rate_counts_steps(False, "window", "onset")  # a window's rise: no roof weighed
    False
    """
    return not in_catalog and pattern == "onset" and statistic == "onset"


#: How a rate of the land's steps reads ("land alone would ..."), where
#: :func:`rate_counts_steps`; else "reach it".
STEP_RATE: Final = "make such a step (a rise no new roof explains)"


def _keys(td: type) -> tuple[str, ...]:
    """Return the keys of a TypedDict in the order they are written."""
    return tuple(td.__annotations__)


#: Columns of the heat-per-area group.
DENSITY_COLUMNS: Final = _keys(DensityColumns)
#: Columns of the energy cross-reference.
ENERGY_COLUMNS: Final = _keys(EnergyColumns)
#: Columns of the coefficient check.
CALIBRATION_COLUMNS: Final = _keys(CalibrationColumns)
#: Columns of the placebo test in the site table.
NULL_COLUMNS: Final = _keys(NullColumns)
#: Columns saying which period served as a site's baseline (before-state).
BASELINE_COLUMNS: Final = _keys(BaselineColumns)
#: The status columns of a :class:`StatusRow` (all but its key, ``site_id`` and ``as_of_date``).
STATUS_KEYS: Final = _keys(StatusRow)[2:]
#: Every property of a ``sites.geojson`` feature (every :class:`SiteRow` key but geometry).
SITE_PROPERTIES: Final = tuple(sorted(set(SiteRow.__annotations__) - {"geometry"}))
#: The properties that are counts (whole numbers, or null): a table column holding a count and
#: a None is float in pandas, so writers cast these back (``write_geojson(integers=...)``).
INTEGER_PROPERTIES: Final = tuple(k for k, t in get_type_hints(SiteRow).items()
                                  if t is int or int in get_args(t))


def pick(row: Mapping[str, Any], keys: Iterable[str]) -> dict[str, Any]:
    """Return the columns ``keys`` of a row, in that order (a column group, e.g. the baseline).

    The keys come from a tuple of this module (derived from its TypedDicts), so they are the
    row's own: a ``Mapping`` view is all a loop over them needs.

    Examples
    --------
    >>> pick({"baseline": "none", "baseline_start": None, "baseline_end": None,
    ...       "baseline_looks": 0, "site_id": "a"}, BASELINE_COLUMNS)
    {'baseline': 'none', 'baseline_start': None, 'baseline_end': None, 'baseline_looks': 0}
    """
    return {k: row[k] for k in keys}


def row_hidden(row: Mapping[str, Any]) -> tuple[float, float] | None:
    """Return the always-on term a written site row's upper end holds (None: it holds none).

    The row's ``hidden_k_m2`` and ``hidden_se_k_m2`` (:func:`pipeline.scan.verdicts.term_heat`):
    read by the what-ifs (``recheck``) and the report. Rows written before those columns
    existed, and rows whose upper end does not hold the term, give None.

    Examples
    --------
    >>> row_hidden({"hidden_k_m2": 9e5, "hidden_se_k_m2": 2e5})
    (900000.0, 200000.0)
    >>> row_hidden({"hidden_k_m2": float("nan"), "hidden_se_k_m2": float("nan")}) is None
    True
    >>> row_hidden({"excess_k_m2": 9e5}) is None  # written before the columns existed
    True
    """
    k, se = row.get("hidden_k_m2"), row.get("hidden_se_k_m2")
    if k is None or se is None:
        return None
    k, se = float(k), float(se)  # a table read back holds NaN for None
    return (k, se) if math.isfinite(k) and math.isfinite(se) else None
