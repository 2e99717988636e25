"""Solar-decoupled activity of one site over its clear looks.

Each clear look ``i`` gives the site's integrated excess ``E_i`` (K m2) and the solar loading
``s_i`` of the scene (see :mod:`pipeline.science.solar_index`). Sunlit roofs and bare ground make
excess that follows the sun; compute heat does not. The model is

    E_i = a * s_i + b + H * A_i

with ``A_i`` the activity indicator (1 while the site runs). Activity patterns (never active;
active all series; from an onset; until a shutdown; between an onset and a shutdown) are
fitted by weighted least squares (weights ``1 / s_i**2``: winter looks, with less sun, weigh
more; Huber-reweighted so one odd look cannot make or hide a change) and compared by BIC,
together with nuisance patterns without heat whose solar response changes once
(``E_i = a * s_i + a' * s_i * R_i``, with or without ``+ b``: a roof built on a construction
site adds excess that follows the sun, which must not read as compute heat). A change point
must beat the best steady pattern by ``change_bic_margin``. Where a roof leads but a power-on
step fits within that margin of it, the step is kept and ``nuisance_gap`` says by how much
the roof led (negative): the evidence does not tell them apart, and what follows from that
is the caller's rule, not the fit's (a catalogued campus's halls stand before it powers on, so
its step stands; a searched site's is rejected, :func:`pipeline.scan.sites.new_site_rejection`).
All patterns are compared on one robust loss at one noise scale (:func:`_deviance`); each
fit's own Huber weights would favour the worse pattern, whose misfit looks they down-weight.

``b`` (a static offset of the footprint against its surroundings) is identifiable only when
the series holds inactive looks as a baseline; for a site active all series it is taken as
zero, and the prior ``baseline_offset_k`` x area widens the heat interval instead; a pattern
whose fitted baseline exceeds twice that prior (or the land's own spread of offsets,
``max_baseline_k_m2``) is rejected: such an offset is heat that ran all along, or for a cool
one, a step of the land itself (a green-up under an onset's footprint). Only a shutdown may
fall to a level below the land's offsets (a campus that stopped over cool ground): the
``inactive`` status it leads to must still pass the placebo null of falls
(:func:`pipeline.scan.sites.site_status`), while a catalogued onset is taken as running with
no such test. A pattern with heat is kept only if ``H`` is positive, ``significance`` standard
errors from zero, above ``min_active_k_m2``, and its active period holds at least
``min_looks`` clear looks (a one-off event is not a site).

A shutdown needs ``MIN_SEGMENT`` clear looks after it. A site that stopped one or two clear
looks before the end is still fitted as running; :func:`unconfirmed_stop` flags it when its
last clear looks all show clearly less than a third of its heat.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, replace

import numpy as np

from pipeline.science.robust import MAD_TO_SIGMA, sigma_mad

#: Fewest clear looks in an inactive segment (the baseline before an onset or after a shutdown).
MIN_SEGMENT = 3

#: Fewest looks of a declared baseline (e.g. before construction, ``fetch.json``) for an onset at
#: its end: two give a static offset and its scatter; the date of the change is known, not found.
MIN_BASELINE_LOOKS = 2

#: A clear look shows no heat when its residual heat is below this share of the site's heat.
NO_HEAT_SHARE = 1.0 / 3.0


@dataclass(frozen=True)
class ActivityFit:
    """The selected activity pattern of a site and its numbers."""

    pattern: str  # "never", "always", "onset", "shutdown", "window", "insufficient"
    heat_k_m2: float
    heat_se_k_m2: float
    solar_k_m2: float
    baseline_k_m2: float
    start: int | None
    stop: int | None
    n_clear: int
    persistence: float
    stability: float
    residual_heat: np.ndarray
    #: The always-on heat term fitted whatever the pattern (K m2, may be negative; with a
    #: declared baseline, the earliest onset's), and its standard error with the static-offset
    #: prior (:attr:`always_se_k_m2`). They bound the heat a site could run unseen: for a site
    #: without detected heat (``never``, whose ``heat_se_k_m2`` is that error), so "not seen"
    #: is not "proven idle"; and for one whose running cannot be told from a static offset
    #: (``undetermined``, :func:`pipeline.scan.sites.site_heat`).
    always_k_m2: float = 0.0
    always_se_k_m2: float = float("nan")
    #: For a site running at the end: index (among the clear looks) of the first of the last
    #: clear looks that all show no heat, too few to make a shutdown (see
    #: :func:`unconfirmed_stop`); None when the last clear look shows heat.
    unconfirmed_stop: int | None = None
    #: How much better (BIC, at the selected model's scale) the selected pattern fits than the
    #: best change of solar response without heat (a roof built or removed, a ring whose land
    #: changed); infinite when no such change was fitted. Below ``change_bic_margin`` the
    #: series cannot tell the two apart: the seasonal shape of the change is not seen.
    #: Negative for a power-on step that a roof fits better, by less than that margin.
    nuisance_gap: float = float("inf")
    #: The pattern selected when the footprint's own annual cycle is fitted as well, as terms
    #: of no heat (:mod:`pipeline.science.season`): a searched onset's rise is kept only when
    #: it still rises there (:func:`pipeline.scan.sites.fit_site`). None: not tested.
    season_pattern: str | None = None
    #: For a searched window whose weeks are seen again in another year: the share of its
    #: bump those weeks show there (:func:`pipeline.science.season.comes_back`; near 1 for a
    #: season, near 0 for heat that came and went once). None: not tested.
    season_share: float | None = None
    #: For a searched window: the longest its heat can have lasted, in days from the clear look
    #: before it to the one after it (:func:`pipeline.science.season.span_days`). None: not a
    #: searched window.
    span_days: float | None = None

    @property
    def active_at_end(self) -> bool:
        """True when the site is running at the last clear look."""
        return self.pattern in ("always", "onset")

    @property
    def ever_active(self) -> bool:
        """True when the site ran during part of the series."""
        return self.pattern in ("always", "onset", "shutdown", "window")


@dataclass(frozen=True)
class _Candidate:
    pattern: str
    start: int | None
    stop: int | None
    active: np.ndarray
    with_baseline: bool
    #: For an onset whose halls went up earlier in the series: 1 from the look the roof
    #: stands (its solar response changes there, without heat), else None.
    roof: np.ndarray | None = None


def _candidates(n: int, min_active: int, baseline: int = 0) -> list[_Candidate]:
    """Every pattern to fit; with ``baseline`` known-inactive first looks, none active there.

    A declared baseline (looks before construction) is no change point found in the data: an
    onset right at its end needs only :data:`MIN_BASELINE_LOOKS` of it, and patterns with heat
    in it (always, shutdown, an onset inside it) are not fitted.
    """
    on = np.ones(n)
    idx = np.arange(n)
    cands = [_Candidate("never", None, None, np.zeros(n), False)]
    if baseline <= 0:
        cands.append(_Candidate("always", 0, n, on, False))
    for k in range(MIN_SEGMENT, n - MIN_SEGMENT + 1):
        a = (idx >= k).astype(float)
        cands.append(_Candidate("roof", None, None, a, False))
        cands.append(_Candidate("roof", None, None, a, True))
        if baseline > 0:
            continue
        if n - k >= min_active:
            cands.append(_Candidate("onset", k, n, a, True))
        if k >= min_active:
            cands.append(_Candidate("shutdown", 0, k, 1.0 - a, True))
    starts = range(MIN_SEGMENT, n - min_active - MIN_SEGMENT + 1)
    if baseline > 0:
        # onsets at the baseline's end (when it holds enough looks) or later
        first = baseline if baseline >= MIN_BASELINE_LOOKS else max(baseline, MIN_SEGMENT)
        if first < MIN_SEGMENT:  # halls roofed at the baseline's end: the nuisance there too
            a = (idx >= first).astype(float)
            cands += [_Candidate("roof", None, None, a, False),
                      _Candidate("roof", None, None, a, True)]
        cands += [_Candidate("onset", k, n, (idx >= k).astype(float), True)
                  for k in range(first, n - max(min_active, MIN_SEGMENT) + 1)]
        starts = range(first, n - min_active - MIN_SEGMENT + 1)
    for k in starts:
        for j in range(k + min_active, n - MIN_SEGMENT + 1):
            a = ((idx >= k) & (idx < j)).astype(float)
            cands.append(_Candidate("window", k, j, a, True))
    if baseline <= 0:
        cands += _roofed_onsets(n, min_active)
    return cands


def _roofed_onsets(n: int, min_active: int) -> list[_Candidate]:
    """Onsets of campuses whose halls were roofed earlier in the series.

    Halls stand months before power-on: the roof changes the footprint's solar response at
    look ``r`` (the ``roof`` nuisance), the heat steps on at a later look ``k``. Either alone
    leaves the other in the residuals, and a roof that can absorb a power-on step eats it
    (issue 18). At least :data:`MIN_SEGMENT` clear looks before the roof and between roof and
    onset, and ``min_active`` after the onset.
    """
    idx = np.arange(n)
    out = []
    for k in range(2 * MIN_SEGMENT, n - min_active + 1):
        a = (idx >= k).astype(float)
        for r in range(MIN_SEGMENT, k - MIN_SEGMENT + 1):
            out.append(_Candidate("onset", k, n, a, True, roof=(idx >= r).astype(float)))
    return out


def _n_params(c: _Candidate) -> int:
    # a, (+H), (+b), plus one per change point; "roof": a, a', (+b), change point
    if c.pattern == "roof":
        return 4 if c.with_baseline else 3
    if c.roof is not None:
        return 6  # an onset's four, the roof's response change and its change point
    return {"never": 1, "always": 2, "onset": 4, "shutdown": 4, "window": 6}[c.pattern]


def _design(s: np.ndarray, c: _Candidate, nuisance: np.ndarray | None = None) -> np.ndarray:
    if c.pattern == "roof":
        # no heat: the solar response changes once (a roof built on a construction site),
        # with or without a static offset of the footprint
        cols = [s, s * c.active] + ([np.ones_like(s)] if c.with_baseline else [])
    else:
        cols = [s]
        if c.pattern != "never":
            cols.append(c.active)
        if c.with_baseline:
            cols.append(np.ones_like(s))
        if c.roof is not None:  # after heat and offset: coef[1] and coef[2] keep their meaning
            cols.append(s * c.roof)
    if nuisance is not None:  # the land's own modes, last (the other columns keep their place)
        cols += list(nuisance.T)
    return np.column_stack(cols)


#: Most re-selections with the scale of the selected model.
SCALE_ITERATIONS = 3

#: Huber tuning constant (in robust standard deviations) of the reweighting.
HUBER_C = 2.0


def _wls(x: np.ndarray, y: np.ndarray, w: np.ndarray,
         robust_iterations: int = 2) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weighted least squares of a stack of designs ``x`` (k, n, p) at once, Huber-reweighted.

    One odd look (a missed cloud edge) then cannot make or hide a change point. All designs
    share ``y`` and the prior weights ``w``; each gets its own Huber weights. Solved by the
    normal equations with a pseudo-inverse, so a singular design (constant ``s``) gets the
    minimum-norm solution and an infinite covariance; thousands of small fits per site made a
    loop of :func:`numpy.linalg.lstsq` the slowest part of a scan.

    Returns
    -------
    coef, cov, resid
        Per design: coefficients (k, p), their covariance (k, p, p), and the residuals scaled
        by ``sqrt(w)`` (k, n) (the prior weights, not the Huber ones: models are compared on
        these, see :func:`_deviance`).
    """
    k, n, p = x.shape
    xt = x.transpose(0, 2, 1)
    sw = np.sqrt(w)
    w_eff = np.broadcast_to(w, (k, n)).copy()
    for it in range(robust_iterations + 1):
        normal = (xt * w_eff[:, None, :]) @ x
        inverse = np.linalg.pinv(normal, hermitian=True)
        coef = (inverse @ ((xt * w_eff[:, None, :]) @ y)[..., None])[..., 0]
        if it == robust_iterations:
            break
        r = (y - (x @ coef[..., None])[..., 0]) * sw
        scale = MAD_TO_SIGMA * np.median(np.abs(r - np.median(r, axis=1, keepdims=True)),
                                         axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            a = np.abs(r) / (HUBER_C * scale[:, None])
        update = w * np.where(a > 1, 1 / np.maximum(a, 1e-12), 1.0)
        w_eff = np.where((scale > 0)[:, None], update, w_eff)  # scale 0: weights stay
    fitted = (x @ coef[..., None])[..., 0]
    resid = (y - fitted) * np.sqrt(w_eff)
    sigma2 = np.einsum("kn,kn->k", resid, resid) / max(n - p, 1)
    full_rank = np.linalg.matrix_rank(normal, hermitian=True) == p
    cov = np.where(full_rank[:, None, None], sigma2[:, None, None] * inverse, np.inf)
    return coef, cov, (y - fitted) * sw


def _fit_all(cands: list[_Candidate], s: np.ndarray, e: np.ndarray, w: np.ndarray,
             nuisance: np.ndarray | None = None
             ) -> Iterator[tuple[_Candidate, tuple[np.ndarray, np.ndarray, np.ndarray]]]:
    """Fit every candidate pattern, the designs of one width in one :func:`_wls` call."""
    designs = [_design(s, c, nuisance) for c in cands]
    for width in sorted({x.shape[1] for x in designs}):
        idx = [i for i, x in enumerate(designs) if x.shape[1] == width]
        coef, cov, resid = _wls(np.stack([designs[i] for i in idx]), e, w)
        for j, i in enumerate(idx):
            yield cands[i], (coef[j], cov[j], resid[j])


def fit_activity(
    excess_k_m2: np.ndarray,
    solar: np.ndarray,
    *,
    area_m2: float,
    min_looks: int = 4,
    significance: float = 3.0,
    min_active_k_m2: float = 5.0e4,
    baseline_offset_k: float = 0.2,
    change_bic_margin: float = 10.0,
    max_baseline_k_m2: float | None = None,
    night: np.ndarray | None = None,
    baseline_looks: int = 0,
    nuisance: np.ndarray | None = None,
    offset_sd_k_m2: float | None = None,
) -> ActivityFit:
    """Select the activity pattern of a site from its clear looks (time-ordered).

    Parameters
    ----------
    excess_k_m2
        Integrated excess of each clear look (K m2).
    solar
        Solar loading of each look (dimensionless, clear-sky irradiance / 1000 W m-2).
    area_m2
        Integration area, for the baseline prior of sites active all series.
    min_looks
        Fewer clear looks give the pattern ``"insufficient"``.
    significance, min_active_k_m2
        A heat term must exceed both ``significance`` standard errors and this floor.
    baseline_offset_k
        Prior on a static temperature offset of the footprint (K), used when no inactive
        baseline exists.
    change_bic_margin
        How much lower the BIC of a pattern with a change point must be than the best steady
        pattern (never / always) to be chosen; 10 is "very strong" evidence.
    max_baseline_k_m2
        Largest static offset (K m2) a pattern with a baseline may fit; default twice the
        prior ``baseline_offset_k`` x area. The scan passes the spread of static offsets of
        its placebo footprints (:mod:`pipeline.science.placebo`) when that is larger: on land with
        more static structure, a power-on step over a footprint with an offset must be kept.
    night
        True for night looks (``solar`` 0 there: no sun, no land-cover solar pattern). Their
        noise has no solar part but keeps its weather and atmosphere part, unknown here; each
        weighs as much as the lowest-sun day look (``1 / s**2`` would make one night look
        outweigh a whole summer). No separate offset is fitted for them: with a night look
        or two per site a free offset would absorb them whole.
    baseline_looks
        How many of the first clear looks fall in a declared baseline period (before
        construction, :mod:`pipeline.scan.run`): known inactive, ``A = 0`` there. Patterns with
        heat in them are not fitted, an onset at its end needs only
        :data:`MIN_BASELINE_LOOKS`, and its static offset ``b`` is measured there, so a
        campus running all the main series gets a before/after measurement.
    nuisance
        (n, q) shapes the land itself takes over the looks (crop phenology, seasonal soil
        moisture: :func:`pipeline.science.placebo.land_modes` from the scene's placebo footprints),
        fitted with every pattern as terms of no heat: a green season that raises a footprint
        against its ring for two months is then not a heat window, a phenology that bends
        the solar response not a shutdown. Every pattern gets the same ``q`` terms.
    offset_sd_k_m2
        The spread of static offsets of footprints of this shape on this land (K m2; the scan
        passes the robust deviation of its placebos' always-on statistic): where it exceeds
        ``baseline_offset_k`` x area it is the prior instead, so the heat interval of a site
        without a baseline (and the upper limit of one without heat) is as wide as the land
        makes it.

    Examples
    --------
    >>> s = np.linspace(0.4, 0.9, 20)
    >>> fit = fit_activity(8e5 * s + 4e5, s, area_m2=4e5)
    >>> fit.pattern, round(fit.heat_k_m2)
    ('always', 400000)
    >>> fit_activity(8e5 * s, s, area_m2=4e5).pattern
    'never'
    """
    e = np.asarray(excess_k_m2, dtype=float)
    s = np.asarray(solar, dtype=float)
    n = e.size
    if n < min_looks:
        return ActivityFit("insufficient", float("nan"), float("nan"), float("nan"), 0.0,
                           None, None, n, float("nan"), float("nan"), np.full(n, np.nan))
    dark = np.zeros(n, dtype=bool) if night is None else np.asarray(night, dtype=bool)
    w = 1.0 / np.maximum(s, 0.05) ** 2
    if dark.any():
        lowest_sun = float(np.min(s[~dark])) if (~dark).any() else 1.0
        w[dark] = 1.0 / max(lowest_sun, 0.05) ** 2
    w = w / w.mean()
    baseline_looks = max(0, min(int(baseline_looks), n))
    fits: list[_Fit] = []
    baseline_offset_k, max_baseline = _offset_priors(baseline_offset_k, area_m2,
                                                     max_baseline_k_m2, offset_sd_k_m2)
    always: tuple[np.ndarray, np.ndarray] | None = None
    cands = _candidates(n, min_looks, baseline_looks)
    # the always-on heat term, or with a baseline the earliest onset: kept even if not
    # significant, it bounds undetected heat
    bound = next((c for c in cands if c.pattern in ("always", "onset")), None)
    q = 0 if nuisance is None else np.asarray(nuisance).reshape(n, -1).shape[1]
    nuis = np.asarray(nuisance, dtype=float).reshape(n, q) if q else None
    for cand, (coef, cov, resid) in _fit_all(cands, s, e, w, nuis):
        if cand is bound:
            always = (coef, cov)
        if cand.with_baseline and _offset_beyond_land(cand, float(coef[2]), max_baseline):
            continue
        if cand.pattern not in ("never", "roof"):
            heat, se = coef[1], float(np.sqrt(max(cov[1, 1], 0.0)))
            if not (heat > 0 and heat > significance * se and heat >= min_active_k_m2):
                continue
        fits.append(_Fit(cand, coef, cov, resid))
    # One loss and one scale for every model: start from the tightest fit's scale, then use
    # the scale of the selected model until the selection settles (a relative floor keeps
    # noise-free synthetic inputs finite).
    floor = 1e-6 * max(float(np.median(np.abs(e))), 1.0)
    chosen = _select(fits, max(min(sigma_mad(f.resid) for f in fits), floor), n,
                     change_bic_margin)
    for _ in range(SCALE_ITERATIONS):
        again = _select(fits, max(sigma_mad(chosen.resid), floor), n, change_bic_margin)
        if again is chosen:
            break
        chosen = again
    if chosen.cand.pattern == "roof":
        chosen = next(f for f in fits if f.cand.pattern == "never")
    gap = _nuisance_gap(fits, chosen, max(sigma_mad(chosen.resid), floor), n)
    land = nuis @ chosen.coef[-q:] if nuis is not None else 0.0
    fit = _result(chosen.cand, chosen.coef, chosen.cov, e - land, s, area_m2, baseline_offset_k)
    fit = _with_always(fit, always, 0.0 if baseline_looks else baseline_offset_k * area_m2)
    return replace(fit, nuisance_gap=gap,
                   unconfirmed_stop=unconfirmed_stop(fit, significance=significance,
                                                     min_looks=min_looks))


def _with_always(fit: ActivityFit, always: tuple[np.ndarray, np.ndarray] | None,
                 offset_prior_k_m2: float) -> ActivityFit:
    """Return ``fit`` with the always-on heat term and its error (the bound of unseen heat)."""
    if always is None:
        return fit
    coef, cov = always
    se = _heat_se(cov, offset_prior_k_m2)
    fit = replace(fit, always_k_m2=float(coef[1]), always_se_k_m2=se)
    # a site without detected heat: its heat's error is the one of what it could hide
    return replace(fit, heat_se_k_m2=se) if fit.pattern == "never" else fit


def _offset_priors(baseline_offset_k: float, area_m2: float, max_baseline_k_m2: float | None,
                   offset_sd_k_m2: float | None) -> tuple[float, float]:
    """Return the static-offset prior (K) and the largest baseline a fit may take (K m2)."""
    spread = max_baseline_k_m2 if max_baseline_k_m2 is not None and np.isfinite(
        max_baseline_k_m2) else 0.0
    max_baseline = max(2.0 * baseline_offset_k * area_m2, spread)
    if offset_sd_k_m2 is not None and np.isfinite(offset_sd_k_m2) and area_m2 > 0:
        baseline_offset_k = max(baseline_offset_k, float(offset_sd_k_m2) / area_m2)
    return baseline_offset_k, max_baseline


def _offset_beyond_land(cand: _Candidate, offset_k_m2: float, max_baseline: float) -> bool:
    """Return True when a pattern's static offset is more than the land makes (see the module).

    Above ``max_baseline`` the offset is heat running before an onset or after a stop. Below
    ``-max_baseline`` it is a cool step of the land, except after a shutdown, whose stop must
    still stand outside the placebo null of falls before a site is called ``inactive``.

    Examples
    --------
    >>> stop = _Candidate("shutdown", 0, 10, np.ones(20), True)
    >>> rise = _Candidate("onset", 10, 20, np.ones(20), True)
    >>> _offset_beyond_land(stop, -3e5, 2e5), _offset_beyond_land(stop, 3e5, 2e5)
    (False, True)
    >>> _offset_beyond_land(rise, -3e5, 2e5), _offset_beyond_land(rise, 1e5, 2e5)
    (True, False)
    """
    if cand.pattern == "shutdown":
        return offset_k_m2 > max_baseline
    return abs(offset_k_m2) > max_baseline


def unconfirmed_stop(fit: ActivityFit, *, significance: float, min_looks: int) -> int | None:
    """Return where a shutdown may have begun that the series cannot confirm yet.

    A shutdown needs :data:`MIN_SEGMENT` clear looks after it; a campus that stopped one or two
    clear looks before the end of the series is still fitted as running. This finds that case:
    the last clear looks of a site running at the end all show less than
    :data:`NO_HEAT_SHARE` of its heat, each by more than ``significance`` times the robust
    scatter of the residual heat of the looks before them (at least ``min_looks`` of them).

    Returns
    -------
    int or None
        Index, among the clear looks, of the first look of that run; None when the site is not
        running at the end or its last clear look shows heat.

    Examples
    --------
    >>> r = np.array([5.0, 5.2, 4.8, 5.1, 4.9, 5.0, 0.3])
    >>> fit = ActivityFit("always", 5.0, 0.5, 0.0, 0.0, 0, 7, 7, 1.0, 1.0, r)
    >>> unconfirmed_stop(fit, significance=3.0, min_looks=4)
    6
    >>> r[-1] = 2.0  # 40% of the heat: not "no heat"
    >>> unconfirmed_stop(replace(fit, residual_heat=r), significance=3.0, min_looks=4) is None
    True
    """
    if not fit.active_at_end or fit.start is None or not fit.heat_k_m2 > 0:
        return None
    r = fit.residual_heat
    first = r.size
    while first > fit.start and r[first - 1] < NO_HEAT_SHARE * fit.heat_k_m2:
        first -= 1
    before = r[fit.start:first]
    if first == r.size or before.size < min_looks:
        return None
    scatter = sigma_mad(before)
    return first if bool(np.all(fit.heat_k_m2 - r[first:] > significance * scatter)) else None


@dataclass(frozen=True)
class _Fit:
    cand: _Candidate
    coef: np.ndarray
    cov: np.ndarray
    resid: np.ndarray


def _deviance(resid: np.ndarray, scale: float) -> float:
    """Twice the Huber loss of the residuals at a fixed scale (chi-square for inliers).

    Comparing models by the residual sum of squares under each model's own Huber weights
    would favour the worse model, whose misfit looks it down-weights; a common loss and scale
    make the comparison fair (robust Schwarz criterion, Machado 1993).
    """
    u = np.abs(resid) / scale
    return float(np.sum(np.where(u <= HUBER_C, u * u, 2 * HUBER_C * u - HUBER_C**2)))


def _bic(f: _Fit, scale: float, n: int) -> float:
    return _deviance(f.resid, scale) + _n_params(f.cand) * np.log(n)


def _nuisance_gap(fits: list[_Fit], chosen: _Fit, scale: float, n: int) -> float:
    """BIC of the best no-heat change of solar response minus that of ``chosen``."""
    roofs = [_bic(f, scale, n) for f in fits if f.cand.pattern == "roof"]
    return float(min(roofs) - _bic(chosen, scale, n)) if roofs else float("inf")


def _select(fits: list[_Fit], scale: float, n: int, change_bic_margin: float) -> _Fit:
    def bic(f: _Fit) -> float:
        return _deviance(f.resid, scale) + _n_params(f.cand) * np.log(n)

    steady = [f for f in fits if f.cand.pattern in ("never", "always")]
    changes = [f for f in fits if f.cand.pattern not in ("never", "always")]
    chosen = min(steady, key=bic)
    if changes:
        change = min(changes, key=bic)
        heats = [f for f in changes if f.cand.pattern == "onset"]
        if change.cand.pattern == "roof" and heats:
            # a new roof and a power-on step that the evidence cannot tell apart: the step is
            # kept, with the roof's lead in its nuisance_gap, and the caller decides (a
            # catalogued campus's halls stand before power-on; a searched site's rise is
            # rejected). Not a fall: a campus that shuts down keeps its roofs, so a fall that
            # a change of solar response explains as well is no evidence of a shutdown
            step = min(heats, key=bic)
            if bic(step) < bic(change) + change_bic_margin:
                change = step
        # A change point must be strongly supported (Kass & Raftery 1995: BIC difference > 10)
        if bic(change) < bic(chosen) - change_bic_margin:
            chosen = change
    return chosen


def _heat_se(cov: np.ndarray, offset_prior_k_m2: float) -> float:
    """Return the heat term's standard error (K m2), the static-offset prior added in quadrature.

    Examples
    --------
    >>> _heat_se(np.diag([1.0, 9.0e4]), 400.0)
    500.0
    """
    return float(np.hypot(np.sqrt(max(cov[1, 1], 0.0)), offset_prior_k_m2))


def _result(cand: _Candidate, coef: np.ndarray, cov: np.ndarray, e: np.ndarray, s: np.ndarray,
            area_m2: float, baseline_offset_k: float) -> ActivityFit:
    n = e.size
    a = float(coef[0])
    if cand.pattern == "never":
        resid = e - a * s
        thr = max(float(np.median(np.abs(resid))) * 3, 1.0)
        return ActivityFit("never", 0.0, 0.0, a, 0.0, None, None, n,
                           float(np.mean(resid > thr)), float("nan"), resid)
    heat = float(coef[1])
    base = float(coef[2]) if cand.with_baseline else 0.0
    # without a fitted baseline, a static offset of the footprint is a prior on the heat
    se = _heat_se(cov, 0.0 if cand.with_baseline else baseline_offset_k * area_m2)
    resid_heat = e - a * s - base
    if cand.roof is not None:
        resid_heat = resid_heat - float(coef[3]) * s * cand.roof
    act = cand.active.astype(bool)
    inside = resid_heat[act]
    persistence = float(np.mean(inside > 0.5 * heat)) if inside.size else 0.0
    spread = sigma_mad(inside) if inside.size else 0.0
    stability = float(max(0.0, 1.0 - spread / heat))
    return ActivityFit(cand.pattern, heat, se, a, base, cand.start, cand.stop, n, persistence,
                       stability, resid_heat)
