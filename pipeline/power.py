"""From solar-decoupled excess (K m2) to heat (MW), calibrated on sites of known power.

The integrated excess of a campus scales with the heat it rejects; the ratio ``k`` (K m2 per
MW) depends on the cooling: dry coolers put nearly all heat into warm air, evaporative towers
77-95% into vapour (SCIENCE.md, energy_facts.yaml ``heat_rejection``). Ratios between cooling
types are fixed by configuration (relative to dry); the dry coefficient is fitted on the
catalogued sites that report their power (geometric mean of per-site ratios), with a
leave-one-out error as its uncertainty. Without enough such sites, the configured default and
its configured uncertainty are used, and the result says so.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from pipeline.config import PowerConfig

#: Two-sided 90% interval half-width in standard deviations.
Z90 = 1.6449


@dataclass(frozen=True)
class CalibrationSite:
    """A site with a measured heat term and a reported power."""

    site_id: str
    heat_k_m2: float
    reported_mw: float
    cooling: str


@dataclass(frozen=True)
class Calibration:
    """The fitted (or default) dry-cooling coefficient and its log-space uncertainty."""

    method: str  # "fitted" or "default"
    k_dry_k_m2_per_mw: float
    sigma_log: float
    sites: list[str] = field(default_factory=list)
    loo_ratios: dict[str, float] = field(default_factory=dict)
    loo_k: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict:
        """JSON-ready record for run.json."""
        return asdict(self)


def cooling_ratio(cooling: str | None, config: PowerConfig) -> float:
    """Coefficient of a cooling type relative to dry cooling (1.0 for dry)."""
    table = config.default_k_m2_per_mw
    key = cooling if cooling in table else config.default_cooling
    return table[key] / table["dry"]


def calibrate(sites: Sequence[CalibrationSite], config: PowerConfig) -> Calibration:
    """Fit the dry coefficient on sites with reported power, with a leave-one-out error.

    Examples
    --------
    >>> cfg = PowerConfig()
    >>> sites = [CalibrationSite("a", 4.2e5, 100.0, "dry"),
    ...          CalibrationSite("b", 8.0e5, 200.0, "dry"),
    ...          CalibrationSite("c", 1.2e6, 300.0, "dry")]
    >>> cal = calibrate(sites, cfg)
    >>> cal.method, round(cal.k_dry_k_m2_per_mw)
    ('fitted', 4066)
    """
    usable = [s for s in sites if s.reported_mw > 0 and s.heat_k_m2 > 0]
    if len(usable) < config.min_calibration_sites:
        return Calibration("default", config.default_k_m2_per_mw["dry"],
                           math.log1p(config.default_relative_uncertainty))
    logk = np.array([math.log(s.heat_k_m2 / (s.reported_mw * cooling_ratio(s.cooling, config)))
                     for s in usable])
    k = float(np.exp(logk.mean()))
    loo_ratio, loo_k = {}, {}
    for i, s in enumerate(usable):
        k_i = float(np.exp(np.delete(logk, i).mean()))
        loo_k[s.site_id] = k_i
        predicted = s.heat_k_m2 / (k_i * cooling_ratio(s.cooling, config))
        loo_ratio[s.site_id] = predicted / s.reported_mw
    errs = np.log(np.array(list(loo_ratio.values())))
    sigma = max(float(np.sqrt(np.mean(errs**2))), 0.05)
    return Calibration("fitted", k, sigma, [s.site_id for s in usable], loo_ratio, loo_k)


@dataclass(frozen=True)
class HeatEstimate:
    """Heat rejected by a site, MW, with a 90% interval."""

    mw: float
    low: float
    high: float


def site_coefficient(cooling: str | None, calibration: Calibration, config: PowerConfig,
                     k_dry: float | None = None) -> float:
    """K m2 of solar-decoupled excess per MW of heat for a site of this cooling type.

    ``k_dry`` overrides the calibration's dry coefficient (leave-one-out value for a site that
    was itself used in the fit).
    """
    return (k_dry or calibration.k_dry_k_m2_per_mw) * cooling_ratio(cooling, config)


def heat_mw(heat_k_m2: float, heat_se_k_m2: float, *, cooling: str | None,
            calibration: Calibration, config: PowerConfig,
            k_dry: float | None = None) -> HeatEstimate:
    """Convert a heat term to MW with an interval from its standard error and the calibration.

    ``k_dry`` overrides the calibration's coefficient (leave-one-out value for a site that was
    itself used in the fit).
    """
    k = site_coefficient(cooling, calibration, config, k_dry)
    if not np.isfinite(heat_k_m2) or heat_k_m2 <= 0:
        return HeatEstimate(0.0, 0.0, max(Z90 * heat_se_k_m2, 0.0) / k * math.exp(
            Z90 * calibration.sigma_log) if np.isfinite(heat_se_k_m2) else float("nan"))
    lo_k = max(heat_k_m2 - Z90 * heat_se_k_m2, 0.0)
    hi_k = heat_k_m2 + Z90 * heat_se_k_m2
    spread = math.exp(Z90 * calibration.sigma_log)
    return HeatEstimate(heat_k_m2 / k, lo_k / k / spread, hi_k / k * spread)
