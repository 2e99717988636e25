"""From solar-decoupled excess (K m2) to heat (MW): a physics coefficient and a fitted one.

The integrated excess of a campus scales with the heat it rejects; the ratio ``k`` (K m2 per
MW) depends on the cooling: dry coolers put nearly all heat into warm air, evaporative towers
77-95% into vapour (SCIENCE.md, energy_facts.yaml ``heat_rejection``).

Two coefficients are always computed:

* **physics** (:func:`physics_calibration`): from sourced facts only, no declared power: a
  cooling yard's excess is its temperature excess times its area, and its area per MW is one
  over its heat flux, so ``k = exhaust excess / yard heat flux`` (``models/data/energy.yaml``,
  ``heat_coefficient``), and the other cooling types scale by their sensible heat fraction;
* **fitted** (:func:`calibrate`): the median of ``excess / declared power`` over the
  catalogued sites that declare a power, with the scatter of the leave-one-out errors as its
  uncertainty (a lone false declaration moves neither); cooling
  types scale by the ratios of ``power.default_k_m2_per_mw``. With fewer than
  ``power.min_calibration_sites`` sites it is the physics coefficient.

A site's own declaration never enters the coefficient its verdict is made with
(:class:`CalibrationSet`: leave-one-out), and a fitted coefficient can absorb a bias common to
all declarations (all 3x over-claimed): the physics one, which cannot, is set beside it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

import numpy as np

from models.energy_data import load_facts
from pipeline.core.config import PowerConfig

#: Two-sided 90% interval half-width in standard deviations.
Z90 = 1.6449
#: Median absolute deviation to standard deviation, for normal errors.
MAD_TO_SIGMA = 1.4826

CalibrationMode = Literal["fitted", "physics"]


@dataclass(frozen=True)
class CalibrationSite:
    """A site with a measured heat term and a reported power."""

    site_id: str
    heat_k_m2: float
    reported_mw: float
    cooling: str


@dataclass(frozen=True)
class Calibration:
    """A dry-cooling coefficient, its log-space uncertainty, and the declarations behind it.

    ``ratios`` (cooling type over dry) and ``cooling_sigma`` (extra log uncertainty of that
    ratio) override the configured ratios when set (the physics coefficient sets them).
    """

    method: str  # "fitted" or "physics"
    k_dry_k_m2_per_mw: float
    sigma_log: float
    sites: list[str] = field(default_factory=list)
    loo_ratios: dict[str, float] = field(default_factory=dict)
    loo_k: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)
    cooling_sigma: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready record for run.json."""
        return asdict(self)

    def interval(self) -> tuple[float, float]:
        """90% interval of the dry coefficient, K m2 per MW."""
        spread = math.exp(Z90 * self.sigma_log)
        return self.k_dry_k_m2_per_mw / spread, self.k_dry_k_m2_per_mw * spread

    def sigma_for(self, cooling: str | None) -> float:
        """Log uncertainty of the coefficient of a cooling type."""
        extra = self.cooling_sigma.get(cooling or "", 0.0)
        return math.hypot(self.sigma_log, extra)


def cooling_ratio(cooling: str | None, config: PowerConfig,
                  calibration: Calibration | None = None) -> float:
    """Coefficient of a cooling type relative to dry cooling (1.0 for dry)."""
    table = config.default_k_m2_per_mw
    key = cooling if cooling in table else config.default_cooling
    if calibration is not None and key in calibration.ratios:
        return calibration.ratios[key]
    return table[key] / table["dry"]


def _log_sigma(low: float, high: float) -> float:
    """Log-space sigma of a range read as a 90% interval."""
    return math.log(high / low) / (2 * Z90)


def physics_calibration(config: PowerConfig) -> Calibration:
    """Return the physics-only coefficient: no declared power enters it.

    ``k = 1e6 * exhaust_excess_k / (flux_over_peak_sun * peak_sun_w_m2)`` K m2 per MW, each
    range of ``models/data/energy.yaml`` ``heat_coefficient`` read as a 90% interval and the
    two combined in log space; evaporative and hybrid cooling scale by their sensible fraction
    ``1 - latent_fraction`` (``cooling``), with its range as extra uncertainty.

    Examples
    --------
    >>> cal = physics_calibration(PowerConfig())
    >>> cal.method, round(cal.k_dry_k_m2_per_mw), [round(v) for v in cal.interval()]
    ('physics', 3055, [1649, 5659])
    """
    facts = load_facts()
    hc = facts.heat_coefficient
    ex, fx = hc.exhaust_excess_k, hc.flux_over_peak_sun
    k = 1e6 * ex.central / (fx.central * hc.peak_sun_w_m2)
    sigma = math.hypot(_log_sigma(ex.low, ex.high), _log_sigma(fx.low, fx.high))
    ratios, extra = {}, {}
    for cooling in config.default_k_m2_per_mw:
        lf = facts.cooling_facts(cooling).latent_fraction
        ratios[cooling] = 1.0 - lf.central
        extra[cooling] = _log_sigma(1.0 - lf.high, 1.0 - lf.low) if lf.high > lf.low else 0.0
    return Calibration("physics", k, sigma, ratios=ratios, cooling_sigma=extra)


def _kept(errs: np.ndarray) -> np.ndarray:
    """Leave-one-out errors without those beyond 3 robust sigmas (false declarations)."""
    robust = MAD_TO_SIGMA * float(np.median(np.abs(errs)))
    return errs[np.abs(errs) <= 3 * max(robust, 0.05)]


def _combine(logk: float, errs: np.ndarray, prior: Calibration,
             prior_sites: float) -> tuple[float, float]:
    """Combine the sites' coefficient with the physics one; return (log k, predictive sigma).

    A normal model in log space with the physics coefficient as prior (conjugate, weight
    ``prior_sites``): the site-to-site scatter is the physics spread counted as
    ``prior_sites`` pseudo-sites pooled with the kept leave-one-out errors,
    ``s2 = (nu0 sigma0**2 + sum e**2) / (nu0 + n)``; the coefficient is the precision-weighted
    mean of the physics value (precision ``1 / sigma0**2``) and the sites' median (``n / s2``);
    a new site's log error has variance ``s2`` plus that of the coefficient. Few sites that
    agree by chance cannot make a narrow interval, and sites whose ratios scatter widely (heat
    mixed with static land offsets) lean on physics instead of giving an interval without
    bound.

    Examples
    --------
    >>> prior = Calibration("physics", 3000.0, 0.3)
    >>> k, sigma = _combine(math.log(3000.0), np.zeros(50), prior, 2.0)
    >>> round(math.exp(k)), round(sigma, 3)  # 50 agreeing sites: the prior's 2 of 52 remain
    (3000, 0.059)
    """
    kept = _kept(errs)
    n, s0 = kept.size, prior.sigma_log
    s2 = (prior_sites * s0**2 + float(np.sum(kept**2))) / (prior_sites + n)
    precision = 1.0 / s0**2 + n / s2
    mean = (math.log(prior.k_dry_k_m2_per_mw) / s0**2 + n * logk / s2) / precision
    return mean, math.sqrt(s2 + 1.0 / precision)


def calibrate(sites: Sequence[CalibrationSite], config: PowerConfig) -> Calibration:
    """Fit the dry coefficient on sites with reported power, with a leave-one-out error.

    The sites' coefficient is the median of their per-site ratios (in log space), combined with
    the physics coefficient as a prior (:func:`_combine`); its uncertainty comes from the
    leave-one-out errors of the sites pooled with the physics spread. With fewer than
    ``config.min_calibration_sites`` usable sites, the physics coefficient.

    Examples
    --------
    >>> cfg = PowerConfig()
    >>> sites = [CalibrationSite("a", 4.2e5, 100.0, "dry"),
    ...          CalibrationSite("b", 8.0e5, 200.0, "dry"),
    ...          CalibrationSite("c", 1.2e6, 300.0, "dry")]
    >>> cal = calibrate(sites, cfg)
    >>> cal.method, round(cal.k_dry_k_m2_per_mw)  # 4,000 from the sites, 3,055 from physics
    ('fitted', 3874)
    """
    usable = [s for s in sites if s.reported_mw > 0 and s.heat_k_m2 > 0]
    physics = physics_calibration(config)
    if len(usable) < config.min_calibration_sites:
        return physics
    logk = np.array([math.log(s.heat_k_m2 / (s.reported_mw * cooling_ratio(s.cooling, config)))
                     for s in usable])
    # median and median absolute error: one false declaration among several moves neither
    loo_ratio, loo_k = {}, {}
    for i, s in enumerate(usable):
        k_i = float(np.exp(np.median(np.delete(logk, i))))
        loo_k[s.site_id] = k_i
        predicted = s.heat_k_m2 / (k_i * cooling_ratio(s.cooling, config))
        loo_ratio[s.site_id] = predicted / s.reported_mw
    errs = np.log(np.array(list(loo_ratio.values())))
    mean, sigma = _combine(float(np.median(logk)), errs, physics, config.physics_prior_sites)
    # the sensible share of hybrid and evaporative cooling is as uncertain as physics says,
    # however the dry coefficient was found
    return Calibration("fitted", math.exp(mean), sigma, [s.site_id for s in usable], loo_ratio,
                       loo_k, cooling_sigma=dict(physics.cooling_sigma))


@dataclass(frozen=True)
class CalibrationSet:
    """The coefficients of one run: which one makes each site's verdict, and the physics guard.

    ``fitted`` is fitted on every declaring site (used for sites that were not in the fit, i.e.
    whose declaration it did not see); ``own`` holds, for each site in the fit, the calibration
    fitted without it (its leave-one-out coefficient *and* uncertainty), or the physics one
    when too few other sites remain. ``mode="physics"`` makes every verdict with ``physics``.
    """

    mode: CalibrationMode
    fitted: Calibration
    physics: Calibration
    own: dict[str, Calibration] = field(default_factory=dict)

    @classmethod
    def build(cls, sites: Sequence[CalibrationSite], config: PowerConfig,
              mode: CalibrationMode = "fitted") -> CalibrationSet:
        """Fit on ``sites``, once with all of them and once without each.

        Examples
        --------
        >>> sites = [CalibrationSite(s, 4e3 * p, p, "dry") for s, p in [("a", 100), ("b", 200),
        ...          ("c", 300)]]
        >>> cs = CalibrationSet.build(sites, PowerConfig())
        >>> cs.for_site("a").sites, cs.for_site("new").sites
        (['b', 'c'], ['a', 'b', 'c'])
        """
        fitted = calibrate(sites, config)
        own = {s.site_id: calibrate([o for o in sites if o.site_id != s.site_id], config)
               for s in sites if s.site_id in fitted.sites}
        return cls(mode, fitted, physics_calibration(config), own)

    def fitted_for(self, site_id: str) -> Calibration:
        """Return the fitted calibration that did not see the site's declaration."""
        return self.own.get(site_id, self.fitted)

    def for_site(self, site_id: str) -> Calibration:
        """Return the calibration that makes the site's verdict.

        That is the physics one in ``mode="physics"``, else :meth:`fitted_for` (never fitted on
        the site's own declaration).
        """
        return self.physics if self.mode == "physics" else self.fitted_for(site_id)

    @property
    def declarations_used(self) -> list[str]:
        """Sites whose declared power fed the verdicts' coefficient (none in physics mode)."""
        return [] if self.mode == "physics" else list(self.fitted.sites)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready record for run.json.

        The fit on every declaring site (its keys at the top level), the mode, whose
        declarations the verdicts used, the physics coefficient with its 90% interval, and each
        fitted site's leave-one-out calibration.
        """
        lo, hi = self.physics.interval()
        return {**self.fitted.as_dict(),  # the fit on every declaring site, as before
                "mode": self.mode, "declarations_used": self.declarations_used,
                "physics": {**self.physics.as_dict(), "interval_90": [lo, hi]},
                "leave_one_out": {sid: {"method": c.method, "k_dry_k_m2_per_mw":
                                        c.k_dry_k_m2_per_mw, "sigma_log": c.sigma_log,
                                        "sites": c.sites}
                                  for sid, c in self.own.items()}}


@dataclass(frozen=True)
class HeatEstimate:
    """Heat rejected by a site, MW, with a 90% interval."""

    mw: float
    low: float
    high: float


def site_coefficient(cooling: str | None, calibration: Calibration, config: PowerConfig) -> float:
    """K m2 of solar-decoupled excess per MW of heat for a site of this cooling type.

    A site whose own declaration must not calibrate it gets its calibration from
    :meth:`CalibrationSet.for_site` (leave-one-out).
    """
    return calibration.k_dry_k_m2_per_mw * cooling_ratio(cooling, config, calibration)


def heat_mw(heat_k_m2: float, heat_se_k_m2: float, *, cooling: str | None,
            calibration: Calibration, config: PowerConfig) -> HeatEstimate:
    """Convert a heat term to MW with an interval from its standard error and the calibration."""
    k = site_coefficient(cooling, calibration, config)
    spread = math.exp(Z90 * calibration.sigma_for(cooling))
    if not np.isfinite(heat_k_m2) or heat_k_m2 <= 0:
        return HeatEstimate(0.0, 0.0, max(Z90 * heat_se_k_m2, 0.0) / k * spread
                            if np.isfinite(heat_se_k_m2) else float("nan"))
    lo_k = max(heat_k_m2 - Z90 * heat_se_k_m2, 0.0)
    hi_k = heat_k_m2 + Z90 * heat_se_k_m2
    return HeatEstimate(heat_k_m2 / k, lo_k / k / spread, hi_k / k * spread)
