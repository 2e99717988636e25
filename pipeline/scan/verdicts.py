"""Which coefficient made a site's verdict, and whether the physics coefficient agrees.

A site's verdict tests its declared power against its observed heat. The heat comes from a
coefficient (:mod:`pipeline.science.power`): ``fitted`` on the *other* sites' declarations
(leave-one-out), or ``physics`` (no declaration at all). A fitted coefficient absorbs a bias
common to every declaration (all over-claimed 3x: every heat estimate 3x, every verdict
"not refuted"); the physics coefficient cannot, so the verdict is always also made with it,
and a row says when the two disagree: the fitted coefficient lies outside the physics
interval, or one refutes the declaration where the other does not (or the other way).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from models.energy_check import cross_reference
from models.energy_types import Interval
from pipeline.core.config import Config
from pipeline.core.site_row import (
    INCONCLUSIVE,
    MIN_PLACEBOS,
    REFUTED,
    CalibrationColumns,
    Verdict,
    land_coverage,
    null_judges,
    row_hidden,
)
from pipeline.science.power import (
    Z90,
    Calibration,
    CalibrationSet,
    CalibrationSite,
    HeatEstimate,
    heat_mw,
    site_coefficient,
)

#: The least visible cooling type, the upper reach of a site whose cooling is unknown.
WORST = "evaporative"

#: ``calibration_agreement`` values.
AGREE, DISAGREE, PHYSICS_ONLY = "agree", "disagree", "physics only"


def describe(cal: Calibration) -> str:
    """Say which coefficient this is and whose declarations it used.

    Examples
    --------
    >>> describe(Calibration("fitted", 4000.0, 0.1, sites=["a", "b"]))
    'fitted on the declarations of a, b'
    >>> describe(Calibration("physics", 3055.0, 0.37))
    'physics (no declaration used)'
    """
    if cal.method == "physics":
        return "physics (no declaration used)"
    return f"{cal.method} on the declarations of {', '.join(cal.sites)}"


def term_heat(heat_k_m2: float, heat_se_k_m2: float, cooling: str, calibration: Calibration,
              config: Config, *, hidden: tuple[float, float] | None = None) -> HeatEstimate:
    """Heat (MW) of a site's heat term with its 90% interval, at one cooling type.

    The conversion the scan (:func:`pipeline.scan.sites.site_heat`) and its what-ifs
    (:func:`recheck`) share. ``hidden`` is an always-on term (K m2 and its standard error)
    that the upper end also holds: the heat a site could run unseen where nothing says the
    level its fit gives to land is land (docs/statuses.md). A negative term counts as 0: its
    upper limit is then its error's alone.

    Examples
    --------
    >>> from pipeline.science.power import physics_calibration
    >>> cfg = Config()
    >>> cal = physics_calibration(cfg.power)
    >>> plain = term_heat(3e5, 1e5, "dry", cal, cfg)
    >>> held = term_heat(3e5, 1e5, "dry", cal, cfg, hidden=(1e6, 1e5))
    >>> held.mw == plain.mw and held.low == plain.low and held.high > 2 * plain.high
    True
    >>> term_heat(3e5, 1e5, "dry", cal, cfg, hidden=(-1e6, 1e5)) == plain
    True
    """
    est = heat_mw(heat_k_m2, heat_se_k_m2, cooling=cooling, calibration=calibration,
                  config=config.power)
    if hidden is None:
        return est
    high = heat_mw(max(hidden[0], 0.0), hidden[1], cooling=cooling, calibration=calibration,
                   config=config.power).high
    return HeatEstimate(est.mw, est.low, max(est.high, high)) if math.isfinite(high) else est


def reach(at: Callable[[str], HeatEstimate], cooling: str, *, unknown: bool) -> HeatEstimate:
    """Return a site's heat at its cooling, reaching to :data:`WORST` where that is ``unknown``.

    ``at`` gives the heat at one cooling type. With the cooling unknown the central value is
    the assumed type's and the interval spans both types' (the least visible cooling type
    implies the most power for the same heat).

    Examples
    --------
    >>> at = {"dry": HeatEstimate(100.0, 50.0, 200.0),
    ...       WORST: HeatEstimate(300.0, 150.0, 600.0)}.__getitem__
    >>> reach(at, "dry", unknown=True)
    HeatEstimate(mw=100.0, low=50.0, high=600.0)
    >>> reach(at, "dry", unknown=False)
    HeatEstimate(mw=100.0, low=50.0, high=200.0)
    """
    est = at(cooling)
    if not unknown:
        return est
    alt = at(WORST)
    return HeatEstimate(est.mw, min(est.low, alt.low), max(est.high, alt.high))


def heat_may_be_land(status: str | None, pattern: str | None) -> bool:
    """Whether a site's fitted heat may all be land: an ``undetermined`` always-on or window.

    ``undetermined`` says the series cannot tell running from land here (docs/statuses.md).
    For an ``always`` fit the heat may be a static offset of the footprint; for a ``window``
    (heat that came and went) it may be a bump of land (a green season) on a site that runs
    all series, or on one that never ran. Either way the fitted heat does not bound the site's
    heat from below. A ``shutdown`` whose stop is not seen keeps its heat before the stop.

    Examples
    --------
    >>> heat_may_be_land("undetermined", "window"), heat_may_be_land("active", "window")
    (True, False)
    >>> heat_may_be_land("undetermined", "shutdown")
    False
    """
    return status == "undetermined" and pattern in ("always", "window")


def maybe_land(est: HeatEstimate, evidence: Mapping[str, Any] | None, *,
               undetermined: bool = False) -> HeatEstimate:
    """Return the heat interval reaching 0 when the heat does not stand outside its null.

    The same when the site's status is ``undetermined`` (running cannot be told from a static
    offset: docs/statuses.md).

    ``evidence`` is the site's :func:`null_test`: a statistic that land alone reaches as
    often (placebo footprints) may be all land, so the heat it implies cannot bound the site's
    heat from below (no "under-reported" verdict, no "running" claim rests on it); its central
    value and upper end stand. Without a null to judge by (fewer than ``MIN_PLACEBOS``
    placements, e.g. a footprint too large for its imagery) the fit's interval stands.

    Examples
    --------
    >>> maybe_land(HeatEstimate(120.0, 60.0, 240.0), {"null_passed": False, "null_n": 200})
    HeatEstimate(mw=120.0, low=0.0, high=240.0)
    >>> maybe_land(HeatEstimate(120.0, 60.0, 240.0), {"null_passed": True, "null_n": 200}).low
    60.0
    >>> maybe_land(HeatEstimate(120.0, 60.0, 240.0), {"null_passed": False, "null_n": 3}).low
    60.0
    """
    # a null that cannot judge (too few placebos, or a statistic with too few looks on a side
    # of its change) leaves the fit's interval standing
    z = evidence.get("null_z") if evidence is not None else None
    judged = z is None or (isinstance(z, float) and math.isfinite(z))
    land = evidence is not None and not evidence["null_passed"] and judged and (
        (evidence["null_n"] or 0) >= MIN_PLACEBOS)
    if not (land or undetermined):
        return est
    return HeatEstimate(est.mw, 0.0, est.high)


def unmeasured_land(evidence: Mapping[str, Any] | None, *,
                    declared_baseline: bool = False) -> str | None:
    """Say why the land's part in a site's heat was not measured; None where it was.

    A site's heat statistic is its footprint's excess or step, and land adds to it or takes
    from it. How much is read off the placebo footprints (the heat interval's land spread); a
    null that cannot judge (:func:`pipeline.core.site_row.null_judges`: placebos over fewer
    than ``MIN_PLACEBOS`` footprints of distinct land, or none) has not measured it. A declared
    baseline measured the site's own land before it ran; no null (``evidence`` None: no
    placebos drawn at all) leaves the fit's own interval to speak. A site without heat is
    judged by the null of its always-on excess, the term its upper limit rests on
    (:func:`pipeline.scan.sites.site_row`).

    Examples
    --------
    >>> few = {"null_z": 9.0, "null_n_independent": 4.8, "null_passed": True, "null_n": 200}
    >>> unmeasured_land(few)
    'its placebos cover only 4.8 footprints of distinct land, fewer than 10'
    >>> unmeasured_land(few, declared_baseline=True) is None
    True
    >>> unmeasured_land({**few, "null_n_independent": 30.0}) is None
    True
    """
    if evidence is None or declared_baseline or null_judges(evidence):
        return None
    return land_coverage(evidence)


def row_unmeasured(row: Mapping[str, Any]) -> str | None:
    """Return why land's part in a written site row's heat was not measured (None: it was).

    The row's ``land_unmeasured`` (``sites.geojson``, ``run.json``); rows written before that
    column existed are judged by their null columns (:func:`unmeasured_land`).

    Examples
    --------
    >>> row = {"null_statistic": "onset", "null_z": 9.0, "null_n_independent": 3.0,
    ...        "baseline": "series"}
    >>> row_unmeasured(row)
    'its placebos cover only 3.0 footprints of distinct land, fewer than 10'
    >>> row_unmeasured({**row, "baseline": "declared (fetch.json)"}) is None
    True
    >>> row_unmeasured({**row, "null_statistic": None}) is None  # no null drawn
    True
    >>> row_unmeasured({**row, "land_unmeasured": None}) is None  # the scan's own word
    True
    >>> row_unmeasured({**row, "land_unmeasured": float("nan")}) is None
    True
    """
    if "land_unmeasured" in row:  # a table read back may hold NaN for None
        said = row["land_unmeasured"]
        return said if isinstance(said, str) and said else None
    judged_by = row if isinstance(row.get("null_statistic"), str) else None
    return unmeasured_land(judged_by, declared_baseline=str(row.get("baseline") or "")
                           .startswith("declared"))


def withheld(verdict: Verdict, reason: str, margin: float | None,
             unmeasured: str | None) -> tuple[Verdict, str, float | None]:
    """Return a verdict, its reason and margin, a refutation withheld where needed.

    A refutation says the heat interval lies wholly above (under-reported) or below
    (over-declared) what the declaration allows, land's part in it included. Where the site's
    null could not measure what land adds or takes away (``unmeasured``, from
    :func:`unmeasured_land`), nothing says how large that part is: a land event in the
    footprint (a field's harvest, a front) reads as heat, and a footprint on land cooler than
    its ring hides heat, by more than the activity model's static-offset prior
    (``persistence.baseline_offset_k``) allows on real land. The verdict is then
    ``inconclusive``, and its reason says why and what settles it (no margin: no check
    decided it).

    Examples
    --------
    >>> under = ("refuted: under-reported", "observed heat 900 MW lies above", 3.2)
    >>> withheld(*under, "no placebo footprint of its size fits on its land")[::2]
    ('inconclusive', None)
    >>> withheld(*under, None)[::2]
    ('refuted: under-reported', 3.2)
    >>> over = ("refuted: over-declared", "observed heat 0 MW [0, 271] lies below", 1.06)
    >>> withheld(*over, "no placebo footprint of its size fits on its land")[::2]
    ('inconclusive', None)
    """
    if unmeasured is None or verdict not in REFUTED:
        return verdict, reason, margin
    return INCONCLUSIVE, (f"{reason}; but {unmeasured}: how much of that heat land makes or "
                          "hides is not measured here, so no refutation rests on it (scan a "
                          "larger area around the site, or declare a baseline from before it "
                          "ran)"), None


def _verdict(est: HeatEstimate, declared_mw: float | None, cooling: str,
             unmeasured: str | None = None) -> tuple[Verdict, Any]:

    if not all(math.isfinite(v) for v in (est.mw, est.low, est.high)):
        return "inconclusive", None
    check = cross_reference(Interval(est.mw, est.low, max(est.high, est.mw)),
                            declared_power_mw=declared_mw, cooling=cooling)
    verdict, _, margin = withheld(check.verdict, check.reason, check.margin, unmeasured)
    return verdict, margin


def _refutes(verdict: str) -> str | None:
    """Return the refutation a verdict makes, if any (not refuted, inconclusive: none)."""
    return verdict if verdict.startswith("refuted") else None


def _inside(fitted: Calibration, physics: Calibration, cooling: str, config: Config) -> bool:
    k_fit = site_coefficient(cooling, fitted, config.power)
    k_phys = site_coefficient(cooling, physics, config.power)
    spread = math.exp(Z90 * physics.sigma_for(cooling))
    return k_phys / spread <= k_fit <= k_phys * spread


def calibration_columns(site_id: str, heat_of: Callable[[Calibration], HeatEstimate], *,
                        cooling: str, declared_mw: float | None, verdict: Verdict,
                        calibrations: CalibrationSet, config: Config,
                        unmeasured: str | None = None) -> CalibrationColumns:
    """Return the physics heat and verdict of a site and the agreement of the two coefficients.

    ``heat_of`` turns a calibration into the site's heat interval; ``verdict`` is the verdict
    already made with ``calibrations.for_site(site_id)``; ``unmeasured`` says why land's part
    in the heat was not measured (:func:`unmeasured_land`; each verdict is then
    :func:`withheld` as that one was).
    """
    used = calibrations.for_site(site_id)
    phys = calibrations.physics
    fitted = calibrations.fitted_for(site_id)
    est_phys = heat_of(phys)
    v_phys, _ = _verdict(est_phys, declared_mw, cooling, unmeasured)
    if fitted.method == "physics":
        agreement, note = PHYSICS_ONLY, "no fitted coefficient without this site's declaration"
        v_fit = v_phys
    else:
        v_fit = verdict if used is fitted else _verdict(heat_of(fitted), declared_mw, cooling,
                                                        unmeasured)[0]
        problems = []
        if not _inside(fitted, phys, cooling, config):
            lo, hi = phys.interval()
            problems.append(f"the fitted coefficient {fitted.k_dry_k_m2_per_mw:,.0f} K m2/MW "
                            f"(dry) lies outside the physics interval [{lo:,.0f}, {hi:,.0f}]: "
                            "the declarations it was fitted on may share a bias")
        if _refutes(v_fit) != _refutes(v_phys):
            problems.append(f"the fitted coefficient says {v_fit!r}, the physics one {v_phys!r}")
        agreement = DISAGREE if problems else AGREE
        note = "; ".join(problems) or "fitted and physics coefficients agree"
    def rnd(v: float) -> float | None:
        return None if not math.isfinite(v) else round(v, 1)

    return {"verdict_calibration": describe(used),
            "verdict_fitted": v_fit if fitted.method != "physics" else None,
            "verdict_physics": v_phys,
            "heat_mw_physics": rnd(est_phys.mw), "heat_mw_physics_low": rnd(est_phys.low),
            "heat_mw_physics_high": rnd(est_phys.high),
            "k_m2_per_mw_physics": rnd(site_coefficient(cooling, phys, config.power)),
            "calibration_agreement": agreement, "calibration_note": note}


def recheck(rows: list[Mapping[str, Any]], declared: Mapping[str, float], config: Config,
            *, calibration_sites: list[str]) -> dict[str, dict[str, Any]]:
    """Redo the verdicts of scanned, heat-bearing sites under other declarations.

    A what-if on one scan (no rescan): each row needs ``site_id``, ``excess_k_m2``,
    ``excess_se_k_m2`` and ``cooling``, and ``hidden_k_m2`` and ``hidden_se_k_m2`` to widen
    the upper end as the scan does (:func:`row_hidden`); ``declared`` maps site ids to
    declared MW, and the sites in ``calibration_sites`` (``run.json``
    ``calibration.declarations_used``) are fitted on, with those declarations. Returns per
    site the fitted (leave-one-out) and physics verdicts with their margins, and whether the
    site's fitted coefficient lies outside the physics interval (``coefficient_flagged``, the
    guard of :func:`calibration_columns`).
    """
    def cooling_of(row: Mapping[str, Any]) -> str:
        c = str(row.get("cooling") or config.power.default_cooling)
        return c if c in config.power.default_k_m2_per_mw else config.power.default_cooling

    by_id = {str(r["site_id"]): r for r in rows}
    sites = [CalibrationSite(sid, float(by_id[sid]["excess_k_m2"]), float(declared[sid]),
                             cooling_of(by_id[sid]))
             for sid in calibration_sites if sid in by_id and sid in declared]
    out: dict[str, dict[str, Any]] = {}
    for mode in ("fitted", "physics"):
        cs = CalibrationSet.build(sites, config.power, mode)  # type: ignore[arg-type]
        for sid, row in by_id.items():
            if sid not in declared or not float(row.get("excess_k_m2") or 0) > 0:
                continue
            cooling = cooling_of(row)
            cal = cs.for_site(sid)
            ex, se = float(row["excess_k_m2"]), float(row["excess_se_k_m2"])
            # as the scan: an unknown cooling reaches to the least visible type, and the
            # upper end holds the always-on heat the scan's does
            est = reach(partial(term_heat, ex, se, calibration=cal, config=config,
                                hidden=row_hidden(row)),
                        cooling, unknown=str(row.get("cooling", "")).startswith("unknown"))
            # as the scan: heat inside its land null, or of an undetermined site, may be land;
            # no refutation where the null could not measure the land
            z = row.get("null_z")
            est = maybe_land(est, {"null_passed": bool(row.get("null_passed")),
                                   "null_n": row.get("null_n") or 0,
                                   "null_z": float("nan") if z is None else float(z)},
                             undetermined=heat_may_be_land(row.get("status"),
                                                           row.get("pattern")))
            v, m = _verdict(est, declared[sid], cooling, row_unmeasured(row))
            fit = cs.fitted_for(sid)
            out.setdefault(sid, {})[mode] = {
                "verdict": v, "margin": m, "heat_mw": [est.low, est.mw, est.high],
                # the guard: is the fitted coefficient outside the physics interval?
                "coefficient_flagged": fit.method != "physics"
                and not _inside(fit, cs.physics, cooling, config)}
    return out
