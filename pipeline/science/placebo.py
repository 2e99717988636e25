"""The empirical null of a site's heat statistics: the same footprint over background land.

Real land carries static temperature structure that no solar model removes (emissivity error of
the Level-2 product, terrain, soil: 0.3-1.0 K at 0.5-3 km scales), and crops whose contrast
follows a season of their own. Under a footprint of a square kilometre such structure integrates
to hundreds of MW at any fixed coefficient, so a threshold tuned on one kind of land sets no
false-alarm rate on another. The reference used here comes from the scenes themselves: the same
statistics measured over the same footprint shape moved to many places over background land in
the same stack (placebo footprints, in the spirit of contextual fire detection, Giglio et al.
2003, Remote Sens. Environ. 87:273, and of matched-control land-surface-temperature studies).

Three statistics are measured on each series of integrated excess ``E_t`` (footprint minus its
ring of surroundings, per clear look, from the scan's anomalies), with the solar loading ``s_t``
and weights ``1 / s_t**2`` as in :mod:`pipeline.science.activity`:

``always``
    ``H`` of ``E = a s + H``: the always-on excess, which a static offset makes as well.
``onset`` / ``shutdown``
    The largest rise (fall) ``H`` over change points ``k`` of
    ``E = a s + a2 s**2 + b + H [t >= k]``: a static offset has no step, so this null is
    narrower than the ``always`` one.

A site's p-value is its rank among its placebos, ``(1 + #{placebo >= site}) / (1 + N)``. Beyond
the placebos' range the rank cannot resolve the small probabilities a search over an area needs,
so the upper tail is modelled from the placebos themselves (peaks over threshold: an exponential
tail above their 80th percentile, scale the mean excess over it; heavier than a normal tail, so
land with heavy-tailed structure is not under-rated). That tail probability times the number of
footprint-sized places in 1,000 km2 is the false-alarm rate per 1,000 km2 that a threshold at
the site's statistic implies.

A search keeps a new site's power-on step only when a roof built mid-series (a change of solar
response without heat) does not explain it as well; its null then counts only the placebo rises
that make the same choice for a step (:func:`rises_beyond_roof`, :meth:`SiteNull.gated_by_roof`).
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass, field, replace

import numpy as np
from scipy.signal import fftconvolve
from scipy.stats import norm

from pipeline.science.footprint import MIN_RING_PIXELS, SiteMasks
from pipeline.science.greenness import greenness_excess
from pipeline.science.robust import MAD_TO_SIGMA

#: The statistics measured on every footprint, in this order.
STATISTICS = ("always", "onset", "shutdown", "window")

#: Fewest clear looks on each side of a change point.
MIN_SIDE = 4

#: Most pixels of a footprint's region, and of its ring, read per placement.
MAX_PIXELS = 800

#: Quantile of the placebos above which their tail is modelled as exponential.
TAIL_QUANTILE = 0.8

#: Floats of the window statistic's largest temporaries per block of series (about 32 MB).
WINDOW_FLOATS = 4e6


@dataclass(frozen=True)
class SiteNull:
    """A site's statistics against those of its placebo footprints.

    A search keeps a new site's power-on step only when a roof built mid-series does not
    explain it as well; ``beyond_roof`` holds, per statistic, which placebos' changes pass that
    same choice (:func:`rises_beyond_roof`). In the view :meth:`gated_by_roof` returns, a
    placebo whose change a roof explains counts as no exceedance: the rank p-value counts only
    the others, and the modelled tail is scaled by their share among the placebos the tail is
    fitted on, its top fifth (the joint chance that land makes a change this large *and* a
    step rather than a roof; the empirical joint share is its floor). The share is taken there
    because a change near the noise cannot beat a roof by a BIC margin whatever its shape: over
    all placebos it would mostly count how small their changes are. It is counted in
    footprints of distinct land (:attr:`n_independent`), plus one: where no change in the top
    fifth is a step, the tail drops by one over one more than the distinct places there,
    never to nothing.
    """

    site: dict[str, float]
    placebos: dict[str, np.ndarray]
    footprint_km2: float
    offsets: list[tuple[int, int]] = field(default_factory=list)
    #: How many footprints of distinct land the placebos cover (:func:`independent_footprints`);
    #: None: as many as there are placebos.
    independent: float | None = None
    #: Per statistic, one flag per placebo: its change is a step no roof explains as well.
    beyond_roof: dict[str, np.ndarray] = field(default_factory=dict)
    #: Whether :meth:`p_value`, :meth:`exceeds_all` and :meth:`tail_p` use ``beyond_roof``.
    roof_gated: bool = False
    #: The shape of each footprint's best-fitting fall, the site first, then its placebos: how
    #: much better a step than a change of solar response fits it (BIC,
    #: :func:`step_roof_gaps`). None: not measured (a searched site's null).
    fall_gaps: np.ndarray | None = None

    def gated_by_roof(self) -> SiteNull:
        """Return this null as a search judges a power-on step (see the class).

        Examples
        --------
        >>> ref = np.arange(20.0)  # the two largest placebo rises are roofs going up
        >>> beyond = np.arange(20) < 18
        >>> null = SiteNull({"onset": 18.5}, {"onset": ref}, 1.0, [(0, 0)] * 20,
        ...                 beyond_roof={"onset": beyond})
        >>> null.exceeds_all("onset"), null.gated_by_roof().exceeds_all("onset")
        (False, True)
        >>> round(null.p_value("onset"), 4), round(null.gated_by_roof().p_value("onset"), 4)
        (0.0952, 0.0476)
        """
        return replace(self, roof_gated=True)

    def _counted(self, statistic: str) -> np.ndarray:
        """Return flags of the finite placebos that count as exceedances (all, unless gated)."""
        ref = self.placebos[statistic]
        gate = self.beyond_roof.get(statistic) if self.roof_gated else None
        flags = np.ones(ref.shape, dtype=bool) if gate is None else np.asarray(gate, dtype=bool)
        return flags[np.isfinite(ref)]

    @property
    def n(self) -> int:
        """Number of placebo footprints."""
        return len(self.offsets)

    @property
    def n_independent(self) -> float:
        """How many independent footprints of land the placebos measure (at most :attr:`n`).

        Placebos are drawn at random over the background land; where that land holds room
        for only a few footprints of the site's size, hundreds of draws measure the same few
        places again, and their spread and tail rest on those few.
        """
        return float(self.n) if self.independent is None else min(float(self.n),
                                                                   self.independent)

    def _measured(self, statistic: str) -> tuple[float, np.ndarray]:
        """Return the site's statistic and those of the placebos that have one (finite)."""
        ref = self.placebos[statistic]
        return self.site[statistic], ref[np.isfinite(ref)]

    def p_value(self, statistic: str) -> float:
        """Rank p-value of the site among its placebos (1 when nothing to compare)."""
        v, ref = self._measured(statistic)
        if not np.isfinite(v) or not ref.size:
            return 1.0
        return float((1 + np.sum((ref >= v) & self._counted(statistic))) / (1 + ref.size))

    def exceeds_all(self, statistic: str) -> bool:
        """Whether the site's statistic lies above every placebo that has one.

        The same comparison as :meth:`p_value` (placebos without a statistic, e.g. too few
        clear looks on a side, take no part): the site's p-value is then its smallest,
        ``1 / (1 + finite placebos)``.

        Examples
        --------
        >>> ref = np.array([1.0, 2.0, np.nan, 3.0] * 5)
        >>> null = SiteNull({"always": 3.5}, {"always": ref}, 1.0, [(0, 0)] * 20)
        >>> null.exceeds_all("always"), round(null.p_value("always"), 4)  # 1 / (1 + 15)
        (True, 0.0625)
        """
        v, ref = self._measured(statistic)
        return bool(np.isfinite(v) and ref.size
                    and not np.any((ref >= v) & self._counted(statistic)))

    def z(self, statistic: str) -> float:
        """Robust z of the site's statistic against its placebos (NaN when too few)."""
        v, ref = self._measured(statistic)
        scale = self.scale(statistic)
        if not np.isfinite(v) or not scale > 0:  # NaN scale: fewer than 10 placebos
            return float("nan")
        return (v - float(np.median(ref))) / scale

    def scale(self, statistic: str) -> float:
        """Robust spread (MAD as sigma) of the placebos' statistic; NaN when too few.

        Examples
        --------
        >>> ref = np.array([-2.0, -1.0, 0.0, 1.0, 2.0] * 4)
        >>> null = SiteNull({"always": 0.0}, {"always": ref}, 1.0, [(0, 0)] * 20)
        >>> round(null.scale("always"), 4)  # MAD 1 x 1.4826
        1.4826
        """
        ref = self._measured(statistic)[1]
        if ref.size < 10:
            return float("nan")
        return MAD_TO_SIGMA * float(np.median(np.abs(ref - np.median(ref))))

    def fall_shape_z(self) -> float:
        """Robust z of the site's fall shape (:attr:`fall_gaps`) against its placebos' falls.

        A fall that a change of solar response explains within the activity fit's margin may
        still be shaped as a step far more clearly than the falls its land makes by itself;
        NaN when not measured or fewer than 10 placebos have a fall.

        Examples
        --------
        >>> gaps = np.array([12.0, *np.linspace(-2.0, 2.0, 20)])  # the site's first
        >>> null = SiteNull({}, {}, 1.0, [(0, 0)] * 20, fall_gaps=gaps)
        >>> round(null.fall_shape_z(), 1)  # (12 - 0) / (MAD 1.05 x 1.4826)
        7.7
        """
        if self.fall_gaps is None:
            return float("nan")
        # the same robust z as every statistic's (:meth:`z`), on the shapes
        shapes = replace(self, site={"fall_shape": float(self.fall_gaps[0])},
                         placebos={"fall_shape": np.asarray(self.fall_gaps[1:])})
        return shapes.z("fall_shape")

    def offset_bound(self, z: float) -> float:
        """Return ``z`` robust deviations of the placebos' always-on statistic (K m2).

        How large a footprint's static offset against its ring gets on this land; NaN when
        there are too few placebos.
        """
        return z * self.scale("always")

    def tail_p(self, statistic: str) -> float:
        """Return the probability that a placebo reaches the site's statistic (modelled tail).

        The empirical exceedance up to the placebos' ``TAIL_QUANTILE``; above it an exponential
        tail whose scale is the placebos' mean excess over that quantile, and never below the
        normal tail at the site's robust z (:meth:`z`). The exponential scale rests on the top
        fifth of the placebos, which on land with room for few footprints of the site's size
        are a few distinct places drawn again: it can come out shorter than the placebos' own
        robust spread allows, and land temperature is not lighter-tailed than normal.

        Examples
        --------
        Placebos whose top is bunched (200 draws of 20 evenly spread places): a site 3 robust
        deviations out, above them all, is as rare as a normal tail makes it (0.0013), not the
        1.5e-4 the exponential fitted to their top fifth would say.

        >>> few = np.repeat(np.linspace(-1.0, 1.0, 20), 10)
        >>> v = 3.0 * MAD_TO_SIGMA * float(np.median(np.abs(few - np.median(few))))
        >>> null = SiteNull({"always": v}, {"always": few}, 1.0, [(0, 0)] * 200)
        >>> round(null.z("always"), 6), null.exceeds_all("always")
        (3.0, True)
        >>> round(null.tail_p("always"), 5)
        0.00135
        """
        v, ref = self._measured(statistic)
        if not np.isfinite(v) or ref.size < 10:
            return 1.0
        counted = self._counted(statistic)
        u = float(np.quantile(ref, TAIL_QUANTILE))
        if not counted.all():  # gated by roof: the joint chance, its empirical share a floor
            # the share of steps among the placebos the tail is fitted on (their top fifth):
            # a change near the noise cannot be told from a roof, so over all placebos the
            # share falls with their size, and it is the large changes the site is set against;
            # counted in footprints of distinct land (a few places drawn again tell no more
            # than those few), one added as its prior
            top = ref >= u
            places = self.n_independent * top.sum() / max(self.n, 1)
            share = (1.0 + counted[top].mean() * places) / (1.0 + places)
            raw = replace(self, roof_gated=False).tail_p(statistic)
            return max(raw * share, float(np.mean((ref >= v) & counted)))
        if v <= u:
            return float(np.mean(ref >= v))
        scale = float(np.mean(ref[ref > u] - u)) if np.any(ref > u) else 0.0
        z = self.z(statistic)
        floor = float(norm.sf(z)) if np.isfinite(z) else 0.0
        if not scale > 0:
            return floor
        return max((1.0 - TAIL_QUANTILE) * float(np.exp(-(v - u) / scale)), floor)

    @property
    def places_per_1000_km2(self) -> float:
        """Number of footprint-sized places in 1,000 km2."""
        return 1000.0 / max(self.footprint_km2, 1e-6)

    def false_alarms_per_1000_km2(self, statistic: str) -> float:
        """Return the false alarms per 1,000 km2 of a threshold at the site's statistic."""
        return self.tail_p(statistic) * self.places_per_1000_km2

    def search_false_alarms_per_1000_km2(self, statistic: str) -> float:
        """Return the false alarms per 1,000 km2 of a search that chose the statistic.

        A search picks the pattern, and with it the statistic, so land has a chance on each of
        :data:`STATISTICS`: the rate of one times their number (Bonferroni).
        """
        return self.false_alarms_per_1000_km2(statistic) * len(STATISTICS)

    def resolved_false_alarms_per_1000_km2(self, *, searched: bool) -> float:
        """Return the smallest false-alarm rate per 1,000 km2 the placebos show directly.

        Without the modelled tail, the placebos can show a rate no smaller than one in their
        footprints of distinct land (:attr:`n_independent`, plus the site): ``1 / (1 + n)``
        times the footprint-sized places in 1,000 km2 (times the :data:`STATISTICS` for a
        search, as in :meth:`search_false_alarms_per_1000_km2`). A rate below it rests on the
        modelled tail alone (:meth:`tail_p`), an extrapolation beyond the land the scene holds.

        Examples
        --------
        >>> ref = np.arange(20.0)
        >>> null = SiteNull({"always": 30.0}, {"always": ref}, 0.5, [(0, 0)] * 20, 9.0)
        >>> null.resolved_false_alarms_per_1000_km2(searched=False)  # 1/10 x 2,000 places
        200.0
        >>> null.resolved_false_alarms_per_1000_km2(searched=True)
        800.0
        """
        rate = self.places_per_1000_km2 / (1.0 + self.n_independent)
        return rate * len(STATISTICS) if searched else rate


@dataclass(frozen=True)
class RegionNull:
    """The empirical null of the regions a search found (Efron 2004, JASA 99:96).

    Every region the candidate search found went through the same selection (hot pixels,
    merged, buffered), so their heat statistics per km2 form the reference that random
    placebos cannot: a footprint drawn around hot land is compared with others drawn the same
    way. Most searched regions are land; a campus stands out of their bulk (median and MAD).
    """

    median: dict[str, float]
    scale: dict[str, float]
    n: int

    @classmethod
    def from_nulls(cls, nulls: list[SiteNull]) -> RegionNull:
        """Build the null from the site statistics of the searched regions."""
        med, scale = {}, {}
        for stat in STATISTICS:
            v = np.array([x.site[stat] / x.footprint_km2 for x in nulls
                          if x.footprint_km2 > 0 and np.isfinite(x.site[stat])])
            m = float(np.median(v)) if v.size else float("nan")
            med[stat] = m
            scale[stat] = MAD_TO_SIGMA * float(np.median(np.abs(v - m))) if v.size else 0.0
        return cls(med, scale, len(nulls))

    def z(self, null: SiteNull, statistic: str) -> float:
        """Return a region's robust z among the searched regions (per km2)."""
        s = self.scale[statistic]
        if not s > 0 or not null.footprint_km2 > 0:
            return float("nan")
        return (null.site[statistic] / null.footprint_km2 - self.median[statistic]) / s


def footprint_series(stack: np.ndarray, region: np.ndarray, ring: np.ndarray, *,
                     pixel_area: float, min_clear_fraction: float) -> np.ndarray:
    """Integrated excess (K m2) of a footprint in every look of ``stack`` (n, h, w).

    ``(mean clear region - mean clear ring) * region pixels * pixel_area``; NaN where less than
    ``min_clear_fraction`` of the region or fewer than ``MIN_RING_PIXELS`` ring pixels are clear.

    Examples
    --------
    >>> a = np.zeros((2, 5, 5)); a[:, 2, 2] = 9.0; a[1, 0, 0] = np.nan
    >>> reg = np.zeros((5, 5), bool); reg[2, 2] = True
    >>> footprint_series(a, reg, ~reg, pixel_area=900.0, min_clear_fraction=0.8).tolist()
    [8100.0, nan]
    """
    part = region | ring
    return _excess(stack[:, part], region[part], n_region=int(region.sum()),
                   pixel_area=pixel_area, min_clear_fraction=min_clear_fraction)


def _excess(values: np.ndarray, in_region: np.ndarray, *, n_region: int, pixel_area: float,
            min_clear_fraction: float) -> np.ndarray:
    """Integrated excess of footprints from their pixels (last axis), region marked ``in_region``.

    ``values`` holds a footprint's region and ring pixels (all, or a regular subsample) along
    its last axis, any leading axes (looks, placements); the means of the clear ones, as two
    sums over that axis, give ``(region - ring) * n_region * pixel_area``, NaN where too few
    are clear.
    """
    ok = np.isfinite(values)
    weights = np.column_stack([in_region, ~in_region]).astype(np.float32)
    sums = np.where(ok, values, 0.0).astype(np.float32) @ weights
    counts = ok.astype(np.float32) @ weights
    with np.errstate(invalid="ignore", divide="ignore"):
        means = sums.astype(np.float64) / counts
    e = (means[..., 0] - means[..., 1]) * n_region * pixel_area
    need = min(MIN_RING_PIXELS, max(int((~in_region).sum()), 1))
    bad = (counts[..., 0] < min_clear_fraction * int(in_region.sum()) - 1e-6) | (
        counts[..., 1] < need)
    return np.where(bad, np.nan, e)


def heat_statistics(excess: np.ndarray, solar: np.ndarray,
                    nuisance: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Return the ``always``, ``onset``, ``shutdown`` and ``window`` statistics of many series.

    Parameters
    ----------
    excess
        (P, n) integrated excess per series and look (NaN: not clear).
    solar
        (n,) solar loading of the looks.
    nuisance
        Optional (n, q) shapes of the land over the looks (:func:`land_modes`), fitted with
        every statistic as terms of no heat, as the activity fit does.

    Examples
    --------
    >>> s = np.tile([0.4, 0.65, 0.9], 4)  # the sun alike before and after the step
    >>> e = np.vstack([3.0 * s + 2.0, 3.0 * s + 2.0 * (np.arange(12) >= 6)])
    >>> st = heat_statistics(e, s)
    >>> np.round(st["always"], 6).tolist(), np.round(st["onset"], 6).tolist()[1]
    ([2.0, 1.0], 2.0)
    """
    w, y, ok, s0, extra = _terms(excess, solar, nuisance)
    out = {"always": _always(w, np.stack([np.ones_like(s0), s0, *extra], axis=-1), y)}
    steady = np.stack([s0, s0 * s0, np.ones_like(s0), *extra], axis=-1)  # (n, q)
    onset, shutdown = _steps(w, steady, y, ok)
    out["onset"], out["shutdown"] = onset, shutdown
    # every window of every series at once takes series x looks**2 x terms floats: a block of
    # series at a time keeps that near WINDOW_FLOATS (the rows are independent)
    block = max(1, int(WINDOW_FLOATS // ((s0.size + 1) ** 2 * steady.shape[1])))
    out["window"] = np.concatenate([_windows(w[i:i + block], steady, y[i:i + block],
                                             ok[i:i + block])
                                    for i in range(0, w.shape[0], block)]) if w.shape[0] else \
        np.zeros(0)
    return out


def _terms(excess: np.ndarray, solar: np.ndarray, nuisance: np.ndarray | None
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[np.ndarray]]:
    """Weights ``1 / s**2`` (0 where not clear), values, clear flags, sun and nuisance columns."""
    e = np.atleast_2d(np.asarray(excess, dtype=np.float64))
    s = np.asarray(solar, dtype=np.float64)
    ok = np.isfinite(e) & np.isfinite(s)[None, :] & (s > 0)[None, :]
    w = np.where(ok, 1.0 / np.maximum(s, 0.05)[None, :] ** 2, 0.0)
    y = np.where(ok, e, 0.0)
    s0 = np.where(np.isfinite(s), s, 0.0)
    extra = [] if nuisance is None else list(np.asarray(nuisance, dtype=np.float64).reshape(
        s.size, -1).T)
    return w, y, ok, s0, extra


def rises_beyond_roof(excess: np.ndarray, solar: np.ndarray, margin: float,
                      nuisance: np.ndarray | None = None) -> np.ndarray:
    """Whether each series' rise is a step that no change of solar response explains as well.

    A new site's power-on step is kept only when a roof built mid-series (its solar response
    changing once, no heat) does not explain its rise as well, by ``margin`` in BIC
    (:func:`pipeline.science.activity.fit_activity`, ``persistence.change_bic_margin``). The
    same choice made on a placebo footprint, with the activity fit's terms: the best step up
    of ``E = a s + b + H [t >= k]`` (``H > 0``) against the best change of solar response
    ``E = a s + b + d s [t >= k]``, both by weighted least squares over their change points
    (and the land's modes, as every statistic takes them). They have as many terms, so BIC
    compares their residual sums of squares at the step's noise scale. Land that warms as a
    roof goes up, or as a field dries in the rising sun, is a change of solar response; a
    campus's heat is a step. (No ``s**2`` term here: with it a change of solar response
    mimics a step over a year of suns, and the activity fit that makes the choice for the
    site has none.)

    Examples
    --------
    >>> s = 0.65 + 0.25 * np.sin(np.linspace(0, 2 * np.pi, 40))
    >>> rng = np.random.default_rng(0)
    >>> t, noise = np.arange(40), rng.normal(0, 0.02, (2, 40))
    >>> step = 1.0 * s + 0.5 * (t >= 20) + noise[0]  # heat from look 20
    >>> roof = 1.0 * s + 0.8 * s * (t >= 20) + noise[1]  # a roof from look 20, no heat
    >>> rises_beyond_roof(np.vstack([step, roof]), s, 10.0).tolist()
    [True, False]
    """
    gap = step_roof_gaps(excess, solar, 1, nuisance)
    return ~np.isnan(gap) & (gap >= margin)


def step_roof_gaps(excess: np.ndarray, solar: np.ndarray, sign: int,
                   nuisance: np.ndarray | None = None) -> np.ndarray:
    """How much better a step than a change of solar response fits each series' change (BIC).

    The best step of heat of the given ``sign`` (``+1`` a rise, ``-1`` a fall) of
    ``E = a s + b + H [t >= k]`` against the best change of solar response
    ``E = a s + b + d s [t >= k]``, both by weighted least squares over their change points
    (and the land's modes): they have as many terms, so the BIC gap is the difference of their
    residual sums of squares over the step's noise variance (:func:`rises_beyond_roof`).
    Positive where the change is shaped as a step (a campus's heat), negative where the
    seasonal shape of a change of solar response fits it better (a roof, a field's season).

    Returns
    -------
    numpy.ndarray
        One gap per series; NaN where no step of that sign fits (too few clear looks), +inf
        where no change of solar response does.

    Examples
    --------
    >>> s = 0.65 + 0.25 * np.sin(np.linspace(0, 2 * np.pi, 40))
    >>> rng = np.random.default_rng(1)
    >>> t, noise = np.arange(40), rng.normal(0, 0.02, (2, 40))
    >>> stop = 1.0 * s + 0.5 * (t < 20) + noise[0]  # heat until look 20
    >>> land = 1.0 * s - 0.8 * s * (t >= 20) + noise[1]  # a field greening from look 20
    >>> gaps = step_roof_gaps(np.vstack([stop, land]), s, -1)
    >>> bool(gaps[0] > 10), bool(gaps[1] < 0)
    (True, True)
    """
    w, y, ok, s0, extra = _terms(excess, solar, nuisance)
    p, n = w.shape
    if n < 2 * MIN_SIDE:
        return np.full(p, np.nan)
    steady = np.stack([s0, np.ones_like(s0), *extra], axis=-1)
    h, rss_step, ok_step = _step_fits(w, steady, y, ok, np.ones_like(s0))
    _, rss_roof, ok_roof = _step_fits(w, steady, y, ok, s0)
    step = np.min(np.where(ok_step & (sign * h > 0), rss_step, np.inf), axis=1)
    roof = np.min(np.where(ok_roof, rss_roof, np.inf), axis=1)
    dof = np.maximum(ok.sum(1) - steady.shape[1] - 2, 1)
    scale2 = np.maximum(step / dof, 1e-12 * np.maximum(np.sum(w * y * y, axis=1), 1e-300))
    with np.errstate(invalid="ignore"):
        return np.where(np.isfinite(step), (roof - step) / scale2, np.nan)


def _always(w: np.ndarray, base: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Return the intercept ``H`` of ``E = H + a s (+ nuisance)`` per series (``base``: 1 first)."""
    g = np.einsum("pt,ti,tj->pij", w, base, base)
    r = np.einsum("pt,ti,pt->pi", w, base, y)
    q = base.shape[1]
    good = ((w > 0).sum(1) >= q + 1) & (np.linalg.cond(g) < 1e12)
    g = np.where(good[:, None, None], g, np.eye(q))
    h = np.linalg.solve(g, r[..., None])[:, 0, 0]
    return np.where(good, h, np.nan)


def _steps(w: np.ndarray, steady: np.ndarray, y: np.ndarray,
           ok: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Largest rise and fall of ``E = a s + a2 s**2 + b + H [t >= k]`` over change points ``k``.

    The ``s**2`` term takes up a solar response that is not quite linear in the solar index
    (land covers whose contrast saturates with the sun), which a step would otherwise absorb.
    ``steady`` (n, q) holds those columns and any nuisance terms.
    """
    p, n = w.shape
    if n < 2 * MIN_SIDE:
        nan = np.full(p, np.nan)
        return nan, nan
    h, _, valid = _step_fits(w, steady, y, ok, np.ones(n))
    any_valid = valid.any(axis=1)
    rise = np.where(any_valid, np.max(np.where(valid, h, -np.inf), axis=1), np.nan)
    fall = np.where(any_valid, np.max(np.where(valid, -h, -np.inf), axis=1), np.nan)
    return rise, fall


def _step_fits(w: np.ndarray, steady: np.ndarray, y: np.ndarray, ok: np.ndarray,
               column: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Fit ``E = steady terms + H column [t >= k]`` at every change point ``k`` of every series.

    ``column`` is ones for a step of heat, the solar loading for a change of solar response.
    Returns ``H``, the weighted residual sum of squares and whether the fit is valid (at least
    :data:`MIN_SIDE` clear looks on each side, well conditioned), each (series, k).
    """
    p, n = w.shape

    def tail(v: np.ndarray) -> np.ndarray:
        return np.cumsum(v[:, ::-1], axis=1)[:, ::-1]  # sums over t >= k, every k at once

    q = steady.shape[1]
    base = np.broadcast_to(steady[None], (p, n, q))
    wb = w[..., None] * base
    wc = w * column[None, :]
    a = np.empty((p, n, q + 1, q + 1))
    a[..., :q, :q] = np.einsum("pti,ptj->pij", wb, base)[:, None, :, :]
    cross = tail(wc[..., None] * base)  # (p, n, q): sum over t >= k of w * c * base
    a[..., :q, q] = cross
    a[..., q, :q] = cross
    a[..., q, q] = tail(wc * column[None, :])
    rhs = np.empty((p, n, q + 1))
    rhs[..., :q] = np.einsum("pti,pt->pi", wb, y)[:, None, :]
    rhs[..., q] = tail(wc * y)
    after = tail(ok.astype(float))
    before = ok.sum(1)[:, None] - after
    valid = (after >= MIN_SIDE) & (before >= MIN_SIDE)
    cond = np.linalg.cond(np.where(valid[..., None, None], a, np.eye(q + 1)))
    valid &= cond < 1e12
    a[~valid] = np.eye(q + 1)
    coef = np.linalg.solve(a, rhs[..., None])[..., 0]
    rss = np.sum(w * y * y, axis=1)[:, None] - np.einsum("pki,pki->pk", coef, rhs)
    return np.where(valid, coef[..., q], np.nan), np.where(valid, rss, np.inf), valid


def _windows(w: np.ndarray, steady: np.ndarray, y: np.ndarray, ok: np.ndarray) -> np.ndarray:
    """Largest ``H`` of ``E = a s + a2 s**2 + b + H [k <= t < j]`` over windows ``(k, j)``.

    A bump of heat that comes and goes (a campus that ran for a while) against the bumps the
    land makes by itself (a green season that lifts a footprint against its ring for weeks).
    Windows that reach the last look are onsets, so this is never below the ``onset``
    statistic. Solved for every window at once through the Schur complement of the steady
    part (``s``, ``s**2``, ``1`` and any nuisance terms: ``steady``) of the normal equations.
    """
    p, n = w.shape
    if n < 2 * MIN_SIDE:
        return np.full(p, np.nan)
    q = steady.shape[1]
    base = np.broadcast_to(steady[None], (p, n, q))
    wb = w[..., None] * base
    g = np.einsum("pti,ptj->pij", wb, base)
    rb = np.einsum("pti,pt->pi", wb, y)
    good = np.linalg.cond(g) < 1e12
    g = np.where(good[:, None, None], g, np.eye(q))
    gi = np.linalg.inv(g)

    def upto(v: np.ndarray) -> np.ndarray:  # sums over t < k, k = 0..n, along axis 1
        z = np.zeros((v.shape[0], 1, *v.shape[2:]))
        return np.concatenate([z, np.cumsum(v, axis=1)], axis=1)

    cw, cwb, cwy, cok = upto(w), upto(wb), upto(w * y), upto(ok.astype(float))
    # window [k, j): differences of the running sums, (p, k, j, ...)
    d = cw[:, None, :] - cw[:, :, None]
    c = cwb[:, None, :, :] - cwb[:, :, None, :]
    ra = cwy[:, None, :] - cwy[:, :, None]
    inside = cok[:, None, :] - cok[:, :, None]
    outside = ok.sum(1)[:, None, None] - inside
    u = np.einsum("pij,pj->pi", gi, rb)
    num = ra - np.einsum("pkji,pi->pkj", c, u)
    den = d - np.einsum("pkji,pil,pkjl->pkj", c, gi, c)
    valid = (inside >= MIN_SIDE) & (outside >= MIN_SIDE) & (den > 1e-9 * np.maximum(d, 1e-300))
    valid &= good[:, None, None]
    with np.errstate(invalid="ignore", divide="ignore"):
        h = np.where(valid, num / np.where(valid, den, 1.0), -np.inf)
    best = h.reshape(p, -1).max(axis=1)
    return np.where(np.isfinite(best), best, np.nan)


def placements(masks: SiteMasks, eligible: np.ndarray, *, min_eligible: float = 0.8,
               min_ring_eligible: float = 0.5) -> np.ndarray:
    """Return where a site's window may be moved to measure background land.

    Element ``[r, c]`` of the result is True when the window moved to top-left ``(r, c)`` stays
    inside the grid, does not overlap the site's own window, and at least ``min_eligible`` of
    the moved integration region, and ``min_ring_eligible`` of its ring, lie on ``eligible``
    pixels (background land: no site, no candidate, no water). Shape ``(rows - h + 1,
    cols - w + 1)`` for a window of ``h`` x ``w``; empty when the window does not fit.

    Examples
    --------
    >>> reg = np.zeros((12, 12), bool); reg[1:3, 1:3] = True
    >>> m = SiteMasks("x", reg, reg, np.zeros((12, 12), bool))
    >>> ok = placements(m, np.ones((12, 12), bool))
    >>> ok.shape, bool(ok[1, 1]), bool(ok[5, 5])  # not on the site itself; elsewhere free
    ((11, 11), False, True)
    """
    rows, cols = masks.window
    gh, gw = eligible.shape
    h, w = rows.stop - rows.start, cols.stop - cols.start
    if rows.stop <= rows.start or h >= gh or w >= gw:
        return np.zeros((0, 0), dtype=bool)
    region = masks.integration[rows, cols]
    ring = masks.ring[rows, cols]
    # eligible share under the moved region and ring for every placement at once
    e = eligible.astype(np.float64)
    share_region = fftconvolve(e, region[::-1, ::-1].astype(np.float64), mode="valid")
    share_region /= max(int(region.sum()), 1)
    ok = share_region >= min_eligible - 1e-9
    if ring.any():
        share_ring = fftconvolve(e, ring[::-1, ::-1].astype(np.float64), mode="valid")
        ok &= share_ring / int(ring.sum()) >= min_ring_eligible - 1e-9
    r0, c0 = np.mgrid[0:gh - h + 1, 0:gw - w + 1]
    ok &= ~((np.abs(r0 - rows.start) < h) & (np.abs(c0 - cols.start) < w))  # not on the site
    return ok


def independent_footprints(region: np.ndarray, offsets: list[tuple[int, int]],
                           shape: tuple[int, int]) -> float:
    """Return how many footprints of distinct land the placebos cover.

    The area of the union of the ``region`` (a boolean mask of the site's window) moved by
    each of the ``offsets`` (inside a grid of ``shape``), in units of the region's own area:
    200 placebos on land that holds room for 5 footprints measure about 5 places, not 200.

    Examples
    --------
    >>> reg = np.zeros((4, 4), bool); reg[:2, :2] = True  # a 2 x 2 px footprint
    >>> independent_footprints(reg, [(0, 4), (0, 5), (4, 0)], (12, 12))  # 2 overlap by half
    2.5
    """
    rr, cc = np.nonzero(region)
    if not rr.size or not offsets:
        return 0.0
    off = np.asarray(offsets, dtype=np.int64)
    r = (rr[None, :] + off[:, :1]).ravel()
    c = (cc[None, :] + off[:, 1:]).ravel()
    inside = (r >= 0) & (r < shape[0]) & (c >= 0) & (c < shape[1])
    canvas = np.zeros(shape, dtype=bool)
    canvas[r[inside], c[inside]] = True
    return int(canvas.sum()) / rr.size


def placebo_rng(seed: int, site_id: str) -> np.random.Generator:
    """Return the generator of one site's placebo placements, keyed by its seed and its id.

    Keyed by the id (a CRC-32 of its UTF-8 bytes, stable across runs and machines), not by the
    site's place in a list: the sites listed in another order keep their placebos, and so
    their verdicts. (A site added or removed still changes the others' placebos where it
    changes the background land they may stand on.)

    >>> a = placebo_rng(0, "DC-A").integers(1_000_000, size=3)
    >>> bool((a == placebo_rng(0, "DC-A").integers(1_000_000, size=3)).all())
    True
    >>> bool((a == placebo_rng(1, "DC-A").integers(1_000_000, size=3)).any())
    False
    """
    return np.random.default_rng([seed, zlib.crc32(site_id.encode("utf-8"))])


def placebo_offsets(masks: SiteMasks, eligible: np.ndarray, *, n: int,
                    rng: np.random.Generator, min_eligible: float = 0.8,
                    min_ring_eligible: float = 0.5,
                    allowed: np.ndarray | None = None) -> list[tuple[int, int]]:
    """Up to ``n`` (row, col) shifts of a site's window to background land (:func:`placements`).

    ``allowed``: the :func:`placements` of ``masks`` on ``eligible`` when already computed.
    """
    ok = allowed if allowed is not None else placements(
        masks, eligible, min_eligible=min_eligible, min_ring_eligible=min_ring_eligible)
    where = np.flatnonzero(ok)
    if not where.size:
        return []
    pick = rng.choice(where, size=min(n, where.size), replace=False)
    rows, cols = masks.window
    return [(int(i // ok.shape[1]) - rows.start, int(i % ok.shape[1]) - cols.start)
            for i in pick]


@dataclass(frozen=True)
class PlaceboSeries:
    """A site's integrated excess per look (row 0) and that of its placebo footprints."""

    excess: np.ndarray
    footprint_km2: float
    offsets: list[tuple[int, int]]
    #: (placebos, shifts, looks): each placebo moved by the shifts of :data:`JITTER` times the
    #: search's reach (a found site's footprint sits where its heat is; a placebo is measured
    #: where its land is hottest nearby, as the search would have put it). None: not measured.
    nearby: np.ndarray | None = None
    #: How many footprints of distinct land the placebos cover (:func:`independent_footprints`).
    independent: float | None = None
    #: The vegetation cover of the site (row 0) and its placebos integrated like their excess,
    #: whose greenness was taken out of ``excess`` (:mod:`pipeline.science.greenness`); None:
    #: no cover measured.
    cover_excess: np.ndarray | None = None

    def modes(self, looks: np.ndarray, solar: np.ndarray, k: int) -> np.ndarray:
        """Return the land's ``k`` common modes (:func:`land_modes`) over the ``looks`` (mask)."""
        looks = np.asarray(looks, dtype=bool)
        return land_modes(self.excess[1:, :looks.size][:, looks],
                          np.asarray(solar, dtype=float)[looks], k)

    def null(self, solar: np.ndarray, n_looks: int | None = None, modes: int = 0,
             roof_margin: float | None = None, fall_shape: bool = False) -> SiteNull:
        """Return the site's statistics and its placebos' over the first ``n_looks`` looks.

        With ``modes`` the land's common modes over the site's clear looks
        (:meth:`modes`) are fitted as no-heat terms with every statistic, site and placebos
        alike, as the activity fit takes them. With ``roof_margin`` (a searched site's
        ``persistence.change_bic_margin``) each placebo's rise is also put to the choice
        between a step and a roof (:func:`rises_beyond_roof`; :meth:`SiteNull.gated_by_roof`).
        With ``fall_shape`` (a catalogued site) the shape of every footprint's best fall is
        measured too (:attr:`SiteNull.fall_gaps`), each at its own place.
        """
        n = self.excess.shape[1] if n_looks is None else n_looks
        s = np.asarray(solar, dtype=float)[:n]
        nuis = None
        if modes > 0:
            looks = np.isfinite(self.excess[0, :n]) & np.isfinite(s)
            shapes = self.modes(looks, s, modes)
            if shapes.size:
                nuis = np.zeros((n, shapes.shape[1]))
                nuis[looks] = shapes  # the other looks are not clear on the site: left out below
                s = np.where(looks, s, np.nan)
        stats = heat_statistics(self.excess[:, :n], s, nuis)
        placebos = {k: v[1:] for k, v in stats.items()}
        roofless: dict[str, np.ndarray] = {}
        if roof_margin is not None:
            roofless["onset"] = rises_beyond_roof(self.excess[1:, :n], s, roof_margin, nuis)
        if self.nearby is not None and self.nearby.size:
            # each placebo is measured where it is hottest nearby (largest always-on
            # excess), as the search put the site's footprint where its heat is; every
            # statistic is then taken at that place (NaN placements do not count)
            p, m = self.nearby.shape[:2]
            moved = self.nearby[..., :n].reshape(p * m, n)
            more = {k: np.column_stack([placebos[k], v.reshape(p, m)]) for k, v in
                    heat_statistics(moved, s, nuis).items()}
            hot = more["always"]
            pick = np.argmax(np.where(np.isfinite(hot), hot, -np.inf), axis=1)
            keep = np.isfinite(placebos["always"])
            for k, v in more.items():
                placebos[k] = np.where(keep, v[np.arange(p), pick], placebos[k])
            if roof_margin is not None:  # the step-or-roof flag at the same place
                both = np.column_stack([roofless["onset"], rises_beyond_roof(
                    moved, s, roof_margin, nuis).reshape(p, m)])
                roofless["onset"] = np.where(keep, both[np.arange(p), pick], roofless["onset"])
        falls = step_roof_gaps(self.excess[:, :n], s, -1, nuis) if fall_shape else None
        return SiteNull(site={k: float(v[0]) for k, v in stats.items()}, placebos=placebos,
                        footprint_km2=self.footprint_km2, offsets=self.offsets,
                        independent=self.independent, beyond_roof=roofless, fall_gaps=falls)


def measure_placebos(anomalies: np.ndarray, masks: SiteMasks, eligible: np.ndarray, *,
                     pixel_area: float, min_clear_fraction: float, n_placebos: int,
                     rng: np.random.Generator, reach: int = 0,
                     greenness: tuple[np.ndarray, np.ndarray] | None = None) -> PlaceboSeries:
    """Measure a site and its placebo footprints in the scan's anomaly stack (n, rows, cols).

    ``greenness``: the scan's vegetation cover stack (n, rows, cols) and each scene's slope of
    temperature against it (n,); every footprint's cover is integrated like its excess, and
    the excess its greenness explains is taken out of it
    (:func:`pipeline.science.greenness.greenness_excess`).

    Examples
    --------
    >>> rng = np.random.default_rng(0)
    >>> a = rng.normal(0, 0.3, (12, 60, 60)).astype(np.float32)
    >>> reg = np.zeros((60, 60), bool); reg[5:9, 5:9] = True
    >>> ring = np.zeros((60, 60), bool); ring[2:12, 2:12] = True; ring &= ~reg
    >>> a[:, reg] += 3.0  # always-on heat of 3 K over the footprint
    >>> m = SiteMasks("x", reg, reg, ring)
    >>> series = measure_placebos(a, m, ~(reg | ring), pixel_area=900.0,
    ...                           min_clear_fraction=0.8, n_placebos=50, rng=rng)
    >>> null = series.null(np.linspace(0.4, 0.9, 12))
    >>> null.n, null.p_value("always") == 1 / 51, null.false_alarms_per_1000_km2("always") < 1e-9
    (50, True, True)
    """
    rows, cols = masks.window
    region, ring = masks.integration[rows, cols], masks.ring[rows, cols]
    allowed = placements(masks, eligible)  # where a placebo, moved or not, may be measured
    offsets = placebo_offsets(masks, eligible, n=n_placebos, rng=rng, allowed=allowed)
    n_looks = anomalies.shape[0]
    if rows.stop <= rows.start:
        return PlaceboSeries(np.full((1, n_looks), np.nan), 0.0, [])
    # gather only the region and ring pixels of every placement, a block of placements at a
    # time, from the stack viewed as (looks, pixels)
    n_cols = anomalies.shape[2]
    flat = anomalies.reshape(n_looks, -1)
    rr, cc = np.nonzero(region | ring)
    in_region = region[rr, cc]
    # a regular subsample of at most MAX_PIXELS of each part: the means of a 1-3 km2 ring or
    # region hardly change, and the cost of hundreds of placements falls with it
    keep = np.zeros(rr.size, dtype=bool)
    for part in (in_region, ~in_region):
        at = np.flatnonzero(part)
        keep[at[::max(1, -(-at.size // MAX_PIXELS))]] = True
    rr, cc, in_region = rr[keep], cc[keep], in_region[keep]
    base = (rr + rows.start) * n_cols + (cc + cols.start)
    shifts = np.array([(0, 0), *offsets], dtype=np.int64)
    n_region = int(region.sum())

    def gather(at: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
        """Excess (placements, looks) at ``at`` shifts less what their cover explains; cover."""
        e = _gather(flat, at, base, in_region, n_cols=n_cols, n_region=n_region,
                    pixel_area=pixel_area, min_clear_fraction=min_clear_fraction)
        if greenness is None:
            return e, None
        g = _gather(greenness[0].reshape(n_looks, -1), at, base, in_region, n_cols=n_cols,
                    n_region=n_region, pixel_area=pixel_area,
                    min_clear_fraction=min_clear_fraction)
        return e - greenness_excess(g, greenness[1]), g

    out, cover = gather(shifts)
    nearby = None
    if reach > 0 and offsets:
        jit = np.array(JITTER, dtype=np.int64) * reach
        moved = (shifts[1:, None, :] + jit[None, :, :]).reshape(-1, 2)
        # a moved placebo obeys the placebos' own rules (inside the grid, on background land,
        # off the site): one moved onto a campus or the site would measure heat, not land
        r, c = rows.start + moved[:, 0], cols.start + moved[:, 1]
        inside = (r >= 0) & (r < allowed.shape[0]) & (c >= 0) & (c < allowed.shape[1])
        inside[inside] = allowed[r[inside], c[inside]]
        got = np.full((len(moved), n_looks), np.nan)
        got[inside] = gather(moved[inside])[0]
        nearby = got.reshape(len(offsets), len(jit), n_looks)
    # the region is a mask of the window; a placebo's offset moves the window
    independent = independent_footprints(
        region, [(rows.start + dy, cols.start + dx) for dy, dx in offsets],
        anomalies.shape[1:])
    return PlaceboSeries(out, masks.integration_area_px * pixel_area / 1e6, offsets, nearby,
                         independent, cover)


#: Shifts (in units of the search's reach) at which a placebo is also measured, for the null of
#: a found site: the eight neighbours of its place.
JITTER = ((-1, -1), (-1, 0), (-1, 1), (0, -1), (0, 1), (1, -1), (1, 0), (1, 1))


def _gather(flat: np.ndarray, shifts: np.ndarray, base: np.ndarray, in_region: np.ndarray, *,
            n_cols: int, n_region: int, pixel_area: float,
            min_clear_fraction: float) -> np.ndarray:
    """Integrated excess (placements, looks) of a footprint's pixels ``base`` moved by ``shifts``.

    ``flat`` is the stack viewed as (looks, pixels) of a grid ``n_cols`` wide.
    """
    n_looks = flat.shape[0]
    out = np.empty((len(shifts), n_looks))
    block = max(1, int(4e6 // max(1, n_looks * base.size)))
    for start in range(0, len(shifts), block):
        sh = shifts[start:start + block]
        idx = base[None, :] + (sh[:, 0] * n_cols + sh[:, 1])[:, None]  # (P, m)
        out[start:start + block] = _excess(
            flat[:, idx], in_region, n_region=n_region, pixel_area=pixel_area,
            min_clear_fraction=min_clear_fraction).T  # (looks, P) -> (P, looks)
    return out


def land_modes(placebo_excess: np.ndarray, solar: np.ndarray, k: int, *,
               min_clear_share: float = 0.9) -> np.ndarray:
    """Return the land's common temporal modes (n, ``k``) from placebo series (P, n) of looks.

    Land moves together across a scene in ways no function of the solar loading describes:
    crops green up and lose their contrast over weeks, a season's soil moisture comes and
    goes. Each placebo footprint's excess, once its static offset and linear solar response
    are removed (weighted least squares on ``[1, s]``, weights ``1 / s**2``), is a mix of these
    shared shapes and noise; the leading right singular vectors of those residuals (each
    placebo scaled to unit norm, so a few strong ones do not decide the shapes) are the modes.
    They are orthogonal to ``1`` and ``s`` in the fit's weights, so a site's static offset and
    always-on heat stay identified when its fit takes them as nuisance terms
    (:func:`pipeline.science.activity.fit_activity` ``nuisance``). A heat step is not spanned by
    them unless the land itself stepped. Placebos clear in fewer than ``min_clear_share`` of
    the looks are left out, the looks they miss are filled with their fitted ``[1, s]`` value.

    Returns an (n, 0) array when there are fewer than ``2 * k + 2`` usable placebos or
    fewer than ``k + 6`` looks.

    Examples
    --------
    >>> rng = np.random.default_rng(1)
    >>> s = np.linspace(0.3, 0.9, 30); season = np.exp(-((np.arange(30) - 15) / 4.0) ** 2)
    >>> p = rng.normal(0, 1, (80, 1)) * season + rng.normal(0, 1, (80, 1)) * s
    >>> m = land_modes(p + rng.normal(0, 0.05, p.shape), s, 1)
    >>> m.shape, bool(abs(np.corrcoef(m[:, 0], season)[0, 1]) > 0.9)
    ((30, 1), True)
    """
    x = np.atleast_2d(np.asarray(placebo_excess, dtype=np.float64))
    s = np.asarray(solar, dtype=np.float64)
    n = s.size
    if k <= 0 or n < k + 6:
        return np.zeros((n, 0))
    ok = np.isfinite(x)
    rows = ok.mean(axis=1) >= min_clear_share
    x, ok = x[rows], ok[rows]
    if x.shape[0] < 2 * k + 2:
        return np.zeros((n, 0))
    w = 1.0 / np.maximum(s, 0.05) ** 2
    w = w / w.mean()
    base = np.column_stack([np.ones(n), s])
    sw = np.sqrt(w)
    # whitened: the fit weighs looks by w, so the modes are taken in the same metric
    bw = base * sw[:, None]
    resid = np.empty_like(x)
    for i in range(x.shape[0]):
        m = ok[i]
        coef = np.linalg.lstsq(bw[m], x[i, m] * sw[m], rcond=None)[0]
        fitted = base @ coef
        resid[i] = np.where(m, x[i], fitted) - fitted
    r = resid * sw[None, :]
    norms = np.linalg.norm(r, axis=1)
    r = r[norms > 0] / norms[norms > 0, None]
    if r.shape[0] < 2 * k + 2:
        return np.zeros((n, 0))
    _, _, vt = np.linalg.svd(r, full_matrices=False)
    return (vt[:k].T / sw[:, None])
