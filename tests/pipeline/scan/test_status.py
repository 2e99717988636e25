"""Site statuses say what the evidence supports (pipeline.scan.sites.site_status, null_test)."""

from dataclasses import replace

import numpy as np
import pytest

from pipeline.core.config import Config
from pipeline.core.site_row import STATUSES
from pipeline.scan.sites import new_site_rejection, null_test, searched_test, site_status
from pipeline.science.activity import ActivityFit, fit_activity
from pipeline.science.placebo import SiteNull
from pipeline.science.power import HeatEstimate
from tests.support.sunlit_land import N_LOOKS, on_land, sun

CFG = Config()
#: an always-on new site judged by its placebo null alone (detection.always_on_candidates)
JUDGED = Config.model_validate({"detection": {"always_on_candidates": True}})


def _fit(pattern: str) -> ActivityFit:
    return ActivityFit(pattern, 3e5 if pattern != "never" else 0.0, 5e4, 0.0, 0.0,
                       None if pattern == "never" else 0, None, 30, 0.9, 0.9, np.zeros(30))


def _null(site: float, statistic: str = "always", n: int = 100) -> SiteNull:
    ref = np.random.default_rng(0).normal(0.0, 1e5, n)
    return SiteNull(site={k: (site if k == statistic else 0.0) for k in
                          ("always", "onset", "shutdown")},
                    placebos={k: ref for k in ("always", "onset", "shutdown")},
                    footprint_km2=0.5, offsets=[(0, 0)] * n)


@pytest.mark.parametrize(("high", "declared", "expected"), [
    (20.0, 300.0, "inactive"),      # the upper limit rules out half the declared power
    (400.0, 300.0, "undetermined"),  # the series could hide the declared power
    (20.0, None, "inactive"),       # below half of min_candidate_mw (50 MW)
    (30.0, None, "undetermined"),
])
def test_no_heat_is_inactive_only_when_the_limit_rules_the_power_out(high, declared, expected):
    est = HeatEstimate(0.0, 0.0, high)
    assert site_status(_fit("never"), est, None, declared_mw=declared, config=CFG) == expected


def test_a_seen_stop_is_inactive_only_outside_the_null_of_falls():
    est = HeatEstimate(100.0, 50.0, 200.0)
    fit = _fit("shutdown")
    real = null_test(fit, _null(8e5, "shutdown"), CFG, "shutdown")
    noise = null_test(fit, _null(1e5, "shutdown"), CFG, "shutdown")
    assert real["null_passed"] and not noise["null_passed"]
    assert site_status(fit, est, None, declared_mw=None, config=CFG,
                       stop_test=real) == "inactive"
    assert site_status(fit, est, None, declared_mw=None, config=CFG,
                       stop_test=noise) == "undetermined"


def test_always_on_new_site_needs_to_stand_far_outside_its_null():
    est = HeatEstimate(100.0, 50.0, 200.0)
    fit = _fit("always")
    far = null_test(fit, _null(6e5), CFG)
    near = null_test(fit, _null(3e5), CFG)  # 3 sigma: rare for one site, common in a search
    assert far["null_passed"] and far["null_p_value"] == pytest.approx(1 / 101)
    # 100 placebos of 0.5 km2: 2,000 places in 1,000 km2, one in 101 shown directly, for each
    # of the four statistics a search could have chosen; the rate below it is the tail's
    assert far["null_resolved_per_1000km2"] == pytest.approx(2000 / 101 * 4)
    assert far["null_false_alarm_per_1000km2"] < far["null_resolved_per_1000km2"]
    one = null_test(fit, _null(6e5), CFG, searched=False)
    assert one["null_resolved_per_1000km2"] == pytest.approx(2000 / 101)
    assert not near["null_passed"]
    # a catalogued site is one hypothesis: 3.5 sigma passes its one-sided 0.1% level
    assert null_test(fit, _null(3.5e5), CFG, searched=False)["null_passed"]
    assert not null_test(fit, _null(2.5e5), CFG, searched=False)["null_passed"]
    assert site_status(fit, est, near, declared_mw=None, config=CFG) == "undetermined"
    assert site_status(fit, est, far, declared_mw=None, config=CFG) == "active"
    assert site_status(_fit("onset"), est, None, declared_mw=None, config=CFG) == "active"


def test_the_test_reports_its_false_alarm_rate():
    far = null_test(_fit("always"), _null(8e5), CFG)
    # 8 sigma against N(0, 1e5) placebos over 0.5 km2 footprints: far below 0.5 per 1,000 km2
    assert far["null_false_alarm_per_1000km2"] < CFG.detection.false_alarm_per_1000km2
    # a new site: tail probability x 2,000 footprints of 0.5 km2 per 1,000 km2 x the four
    # statistics the search's choice of pattern ranges over
    assert far["null_false_alarm_per_1000km2"] == pytest.approx(far["null_tail_p"] * 2000 * 4)
    one = null_test(_fit("always"), _null(8e5), CFG, searched=False)
    assert one["null_false_alarm_per_1000km2"] == pytest.approx(one["null_tail_p"] * 2000)


def test_a_search_pays_for_choosing_the_pattern():
    # land whose always-on statistic alone would pass at 0.25 per 1,000 km2: the search could
    # have passed it on any of four statistics, so its family-wise rate is 1.0, above 0.5
    ref = np.random.default_rng(0).normal(0.0, 1e5, 100)
    u = np.quantile(ref, 0.8)
    scale = np.mean(ref[ref > u] - u)
    site = u + scale * np.log(0.2 / (0.25 / 2000))  # the exponential tail at 0.25 / 1,000 km2
    null = SiteNull(site={"always": site, "onset": 0.0, "shutdown": 0.0},
                    placebos={k: ref for k in ("always", "onset", "shutdown")},
                    footprint_km2=0.5, offsets=[(0, 0)] * 100)
    t = null_test(_fit("always"), null, CFG)
    assert t["null_p_value"] == pytest.approx(1 / 101)  # beyond every placebo
    assert t["null_false_alarm_per_1000km2"] == pytest.approx(1.0)
    assert not t["null_passed"]


def test_too_few_placebos_never_pass():
    t = null_test(_fit("always"), _null(6e5, n=5), CFG)
    assert t["null_n"] == 5 and not t["null_passed"]


def test_status_vocabulary_is_documented_once():
    from pathlib import Path

    doc = (Path(__file__).parents[3] / "docs" / "statuses.md").read_text(encoding="utf-8")
    for status in STATUSES:
        assert f"`{status}`" in doc


def test_a_stop_a_roof_change_explains_as_well_is_undetermined():
    from dataclasses import replace
    est = HeatEstimate(100.0, 50.0, 200.0)
    real = null_test(_fit("shutdown"), _null(8e5, "shutdown"), CFG, "shutdown")
    seen = replace(_fit("shutdown"), nuisance_gap=25.0)
    unseen = replace(_fit("shutdown"), nuisance_gap=3.0)
    assert site_status(seen, est, None, declared_mw=None, config=CFG,
                       stop_test=real) == "inactive"
    assert site_status(unseen, est, None, declared_mw=None, config=CFG,
                       stop_test=real) == "undetermined"


def test_no_heat_where_no_placebo_fits_is_undetermined():
    est = HeatEstimate(0.0, 0.0, 20.0)  # the limit alone would rule out 300 MW
    none = null_test(_fit("never"), _null(0.0, "shutdown", n=3), CFG, "shutdown",
                     searched=False)
    assert none["null_n"] == 3
    assert site_status(_fit("never"), est, None, declared_mw=300.0, config=CFG,
                       stop_test=none) == "undetermined"
    some = null_test(_fit("never"), _null(0.0, "shutdown"), CFG, "shutdown", searched=False)
    assert site_status(_fit("never"), est, None, declared_mw=300.0, config=CFG,
                       stop_test=some) == "inactive"


def test_a_window_ends_inactive_only_when_its_level_rules_running_out():
    """A window's heat falls back to the level before it; a campus running all series with a
    bump of land on top (a green season) shows the same window, so that level must rule out
    running the declared power before the site is called inactive (issue 18)."""
    from dataclasses import replace

    from pipeline.scan.sites import end_limit_mw
    from pipeline.science.power import physics_calibration

    cal = physics_calibration(CFG.power)
    est = HeatEstimate(100.0, 50.0, 200.0)
    stop = null_test(_fit("shutdown"), _null(8e5, "shutdown"), CFG, "shutdown")
    land = _null(0.0, n=100)  # static offsets of land: N(0, 1e5 K m2)
    k = cal.k_dry_k_m2_per_mw  # the physics dry coefficient, K m2 per MW
    # 300 MW declared; running all series it would hold 300 MW * k ~ 9e5 K m2 as its level
    running = replace(_fit("window"), baseline_k_m2=300.0 * k, nuisance_gap=50.0)
    idle = replace(_fit("window"), baseline_k_m2=0.0, nuisance_gap=50.0)
    lim_running = end_limit_mw(running, land, "dry", cal, CFG)
    lim_idle = end_limit_mw(idle, land, "dry", cal, CFG)
    assert lim_running > 300.0 > 150.0 > lim_idle
    assert site_status(running, est, None, declared_mw=300.0, config=CFG, stop_test=stop,
                       end_limit_mw=lim_running) == "undetermined"
    assert site_status(idle, est, None, declared_mw=300.0, config=CFG, stop_test=stop,
                       end_limit_mw=lim_idle) == "inactive"
    # no placebo fits: the land's offsets are not measured, nothing is ruled out
    assert end_limit_mw(idle, _null(0.0, n=3), "dry", cal, CFG) == float("inf")
    # a shutdown is a fall from running to its baseline: no window level to bound
    assert end_limit_mw(replace(idle, pattern="shutdown"), land, "dry", cal, CFG) == float("inf")


def test_a_new_site_s_rise_a_roof_explains_as_well_is_no_candidate():
    """A roof built mid-series must stay inactive: a new site whose power-on step a change of
    solar response without heat fits within persistence.change_bic_margin is rejected, a step
    the roof cannot explain is a candidate (issue 18)."""
    from dataclasses import replace

    from pipeline.scan.sites import new_site_rejection

    est = HeatEstimate(120.0, 80.0, 160.0)
    passed = null_test(_fit("onset"), _null(8e5, "onset"), CFG, "onset")
    assert passed["null_passed"]
    margin = CFG.persistence.change_bic_margin
    ambiguous = replace(_fit("onset"), nuisance_gap=margin - 6.0)
    clear = replace(_fit("onset"), nuisance_gap=margin + 6.0)
    why = new_site_rejection(ambiguous, est, passed, CFG)
    assert why is not None and why.kind == "roof_explains" and "roof" in why.reason
    assert "or better" not in why.reason
    assert new_site_rejection(clear, est, passed, CFG) is None
    # a roof that fits a little better than the step (the fit keeps the step, its gap
    # negative): the same rejection, saying so; not "follows the sun, no compute heat"
    behind = new_site_rejection(replace(_fit("onset"), nuisance_gap=-1.0), est, passed, CFG)
    assert behind.kind == "roof_explains" and "as well or better (BIC gap -1.0" in behind.reason
    # the other reasons keep their order: no heat, too little heat, the null; each with its code
    never = new_site_rejection(_fit("never"), est, None, CFG)
    assert never.kind == "follows_sun" and "follows the sun" in never.reason
    small = HeatEstimate(CFG.power.min_candidate_mw / 2, 10.0, 40.0)
    low = new_site_rejection(clear, small, passed, CFG)
    assert low.kind == "below_min_mw" and "min_candidate_mw" in low.reason
    failed = null_test(_fit("onset"), _null(1e5, "onset"), CFG, "onset")
    out = new_site_rejection(clear, est, failed, CFG)
    assert out.kind == "within_null" and "null" in out.reason
    assert new_site_rejection(_fit("insufficient"), est, None, CFG).kind == "too_few_looks"


def test_an_always_on_new_site_is_no_candidate_by_itself():
    """A static land offset is always on too: a new site with no change in the series is
    turned down, with its standing in the null and what would settle it (issue 18: "a
    constant offset of unknown origin is not evidence of compute")."""
    est = HeatEstimate(300.0, 200.0, 400.0)
    far = null_test(_fit("always"), _null(8e5), CFG)
    # 8e5 against 100 draws of N(0, 1e5): about 8 robust deviations, beyond every placebo
    assert far["null_passed"] and far["null_z"] == pytest.approx(8.0, abs=1.0)
    rejection = new_site_rejection(_fit("always"), est, far, CFG)
    assert rejection is not None and rejection.kind == "always_on"
    why = rejection.reason
    assert why.startswith("always on through the series, no onset")
    assert f"robust z {far['null_z']:.1f}" in why and "before it stood" in why
    # the same site judged by its null alone, as before the rule, is a candidate
    assert new_site_rejection(_fit("always"), est, far, JUDGED) is None
    # a new site's power-on step is a change: judged by its null, not by this rule
    onset = null_test(_fit("onset"), _null(8e5, "onset"), CFG, "onset")
    clear = ActivityFit("onset", 3e5, 5e4, 0.0, 0.0, 12, None, 30, 0.9, 0.9, np.zeros(30),
                        nuisance_gap=CFG.persistence.change_bic_margin + 6.0)
    assert new_site_rejection(clear, est, onset, CFG) is None
    # without a null (none measured) the reason still says what would settle it
    assert "no evidence of compute" in new_site_rejection(_fit("always"), est, None, CFG).reason
    # a catalogued campus is a hypothesis, not a search: running all series it stays active
    assert site_status(_fit("always"), est, None, declared_mw=300.0, config=CFG) == "active"


def test_a_search_needs_placebos_on_enough_distinct_land():
    # the same statistic, beyond every one of 100 placebos, far outside their tail; but when
    # the placebos measure only 4 footprints of distinct land (many draws on a small patch),
    # a search's false-alarm rate cannot rest on them
    base = _null(8e5)
    few = SiteNull(base.site, base.placebos, base.footprint_km2, base.offsets, independent=4.0)
    assert null_test(_fit("always"), base, CFG)["null_passed"]
    t = null_test(_fit("always"), few, CFG)
    assert not t["null_passed"] and t["null_n_independent"] == 4.0
    why = new_site_rejection(_fit("always"), HeatEstimate(300.0, 200.0, 400.0), t, JUDGED)
    assert why.kind == "too_little_land"
    assert "4.0 footprints of distinct background land" in why.reason
    # a catalogued site is one hypothesis, judged by its robust z as before
    assert null_test(_fit("always"), few, CFG, searched=False)["null_passed"]


def test_a_site_above_every_placebo_with_a_statistic_exceeds_them_all():
    # 10 of 100 placebos have no statistic (too few clear looks): the site stands above the
    # other 90, its rank p-value is 1/91, and "exceeds every placebo" must mean those 90 (the
    # old rule asked for p <= 1/101 and rejected it with a reason that said p = 0.011)
    base = _null(8e5)
    ref = base.placebos["always"].copy()
    ref[::10] = np.nan
    gaps = SiteNull(base.site, {k: ref for k in base.placebos}, base.footprint_km2,
                    base.offsets)
    assert gaps.exceeds_all("always") and gaps.p_value("always") == pytest.approx(1 / 91)
    t = null_test(_fit("always"), gaps, CFG)
    assert t["null_passed"] and t["null_n"] == 100
    # a placebo that reaches the site's statistic still rejects it
    ref2 = ref.copy()
    ref2[1] = 8e5
    tied = SiteNull(base.site, {k: ref2 for k in base.placebos}, base.footprint_km2,
                    base.offsets)
    assert not tied.exceeds_all("always")
    assert not null_test(_fit("always"), tied, CFG)["null_passed"]


def test_a_null_just_short_of_ten_places_is_rejected_for_that_reason():
    # 9.96 footprints of distinct land is fewer than 10: the rule and its reason agree (the
    # column shows it rounded, 10.0; the comparison uses the count itself)
    base = _null(8e5)
    few = SiteNull(base.site, base.placebos, base.footprint_km2, base.offsets, independent=9.96)
    t = null_test(_fit("always"), few, CFG)
    assert not t["null_passed"]
    assert "footprints of distinct background land" in new_site_rejection(
        _fit("always"), HeatEstimate(300.0, 200.0, 400.0), t, JUDGED).reason


def _window_null(rise: float, fall: float, n: int = 100) -> SiteNull:
    # a bump 6 sigma above its placebos; its rise and fall as given (in placebo sigmas)
    ref = np.random.default_rng(0).normal(0.0, 1e5, n)
    site = {"always": 0.0, "window": 6e5, "onset": rise * 1e5, "shutdown": fall * 1e5}
    return SiteNull(site=site, placebos=dict.fromkeys(site, ref), footprint_km2=0.5,
                    offsets=[(0, 0)] * n)


def test_a_new_window_needs_a_rise_or_a_fall_of_its_own_outside_the_null():
    fit = _fit("window")
    # a season's bump: the window stands far out, its rise and fall do not
    bump = searched_test(fit, _window_null(2.0, 2.0), CFG)
    assert null_test(fit, _window_null(2.0, 2.0), CFG)["null_passed"]
    assert not bump["null_passed"] and bump["null_window_steps"] is False
    why = new_site_rejection(fit, HeatEstimate(150.0, 80.0, 300.0), bump, CFG)
    assert why.kind == "window_without_step" and "neither its rise nor its fall" in why.reason
    # a campus that powered on (or one that stopped) within the window has its step
    for rise, fall in ((6.0, 2.0), (2.0, 6.0)):
        test = searched_test(fit, _window_null(rise, fall), CFG)
        assert test["null_passed"] and "null_window_steps" not in test
        assert new_site_rejection(fit, HeatEstimate(150.0, 80.0, 300.0), test, CFG) is None
    # other patterns are judged on their own statistic alone
    on = _fit("onset")
    test = searched_test(on, _null(6e5, "onset"), CFG)
    assert test["null_passed"] and test["null_statistic"] == "onset"
    assert not searched_test(on, _null(2e5, "onset"), CFG)["null_passed"]


def test_a_new_onset_meets_only_the_placebo_rises_that_are_steps():
    # land whose largest rises are roofs going up (a change of solar response the search
    # calls no heat); only three small placebo rises are steps that beat a roof
    ref = np.random.default_rng(0).normal(0.0, 1e5, 100)
    ref[:5] = np.linspace(8e5, 9e5, 5)
    ref[[10, 11, 12]] = 0.0
    steps = np.zeros(100, dtype=bool)
    steps[[10, 11, 12]] = True
    site = {"always": 0.0, "onset": 1.4e6, "shutdown": 0.0, "window": 1.4e6}
    null = SiteNull(site=site, placebos=dict.fromkeys(site, ref), footprint_km2=0.5,
                    offsets=[(0, 0)] * 100, beyond_roof={"onset": steps})
    on = _fit("onset")
    raw = null.search_false_alarms_per_1000_km2("onset")
    assert raw > CFG.detection.false_alarm_per_1000km2  # the roofs' tail vetoes it
    test = null_test(on, null, CFG)
    # the land's chance of a step that large: the tail times the share of steps among the
    # top fifth the tail is fitted on (20 placebos, none of them a step): 1 in 1 + 20
    assert test["null_false_alarm_per_1000km2"] == pytest.approx(raw / 21)
    assert test["null_passed"]
    # were three of the largest rises steps, (1 + 3) in (1 + 20): land makes large steps
    # here, and the site no longer stands outside them
    large = np.zeros(100, dtype=bool)
    large[[0, 1, 2]] = True
    stepped = null_test(on, replace(null, beyond_roof={"onset": large}), CFG)
    assert stepped["null_false_alarm_per_1000km2"] == pytest.approx(raw * 4 / 21)
    assert not stepped["null_passed"]
    # a catalogued campus is one hypothesis, judged on the raw null as before
    cat = null_test(on, null, CFG, searched=False)
    assert cat["null_false_alarm_per_1000km2"] == pytest.approx(raw / 4)
    # a window's rise is no onset the search weighed against a roof: the raw null
    rise = null_test(_fit("window"), null, CFG, "onset")
    assert rise["null_false_alarm_per_1000km2"] == pytest.approx(raw)
    assert not rise["null_passed"]


def test_a_rejected_new_onset_says_it_met_the_land_s_steps():
    ref = np.random.default_rng(0).normal(0.0, 1e5, 100)
    site = {"always": 0.0, "onset": 3e5, "shutdown": 0.0, "window": 3e5}
    null = SiteNull(site=site, placebos=dict.fromkeys(site, ref), footprint_km2=0.5,
                    offsets=[(0, 0)] * 100, beyond_roof={"onset": np.ones(100, bool)})
    on = _fit("onset")
    test = null_test(on, null, CFG)
    assert not test["null_passed"]  # every placebo rise a step: 3 sigma is common
    reason = new_site_rejection(on, HeatEstimate(150.0, 80.0, 300.0), test, CFG).reason
    assert "land alone would make such a step (a rise no new roof explains)" in reason
    window = new_site_rejection(_fit("window"), HeatEstimate(150.0, 80.0, 300.0),
                                null_test(_fit("window"), null, CFG), CFG).reason
    assert "would reach it" in window


def test_a_listed_rise_within_land_s_own_rises_is_undetermined():
    """Plain land listed as a campus rises as often as land does (bench/footprint_ceiling.py):
    a catalogued onset is ``active`` only where its rise stands outside the placebo null of
    rises, as a stop must stand outside the null of falls (issue 18)."""
    est = HeatEstimate(100.0, 0.0, 200.0)
    fit = _fit("onset")
    real = null_test(fit, _null(8e5, "onset"), CFG, searched=False)
    land = null_test(fit, _null(1e5, "onset"), CFG, searched=False)  # 1 sigma of land
    assert real["null_passed"] and not land["null_passed"]
    assert site_status(fit, est, None, declared_mw=None, config=CFG,
                       rise_test=real) == "active"
    assert site_status(fit, est, None, declared_mw=None, config=CFG,
                       rise_test=land) == "undetermined"
    # placebos over 3 footprints of distinct land cannot say how often land rises: the
    # listing stands, as the heat interval does (maybe_land)
    few = {**land, "null_n_independent": 3.0}
    assert site_status(fit, est, None, declared_mw=None, config=CFG,
                       rise_test=few) == "active"
    # no rise test: a declared baseline is a before/after measurement of its own
    assert site_status(fit, est, None, declared_mw=None, config=CFG) == "active"


def _shaped_null(site_gap: float, n: int = 100) -> SiteNull:
    """A fall null whose placebos' fall shapes spread N(0, 1) and the site's is ``site_gap``."""
    gaps = np.random.default_rng(1).normal(0.0, 1.0, n)
    return replace(_null(8e5, "shutdown", n), fall_gaps=np.concatenate([[site_gap], gaps]))


def test_a_stop_a_roof_explains_as_well_is_seen_when_shaped_beyond_its_land_s_falls():
    est = HeatEstimate(100.0, 50.0, 200.0)
    unseen = replace(_fit("shutdown"), nuisance_gap=3.0)  # a roof fits within the margin
    beyond = null_test(unseen, _shaped_null(8.0), CFG, "shutdown", searched=False)
    within = null_test(unseen, _shaped_null(1.5), CFG, "shutdown", searched=False)
    assert beyond["null_fall_shape_z"] > 5.0 and within["null_fall_shape_z"] < 2.5

    def status(fit: ActivityFit, test: dict, days: float = 200.0, **kw) -> str:
        return site_status(fit, est, None, declared_mw=None, config=CFG, stop_test=test,
                           heat_days=days, **kw)

    assert status(unseen, beyond) == "inactive"
    assert status(unseen, within) == "undetermined"
    # heat seen for less than a season before the fall: the end of a bump of land is shaped
    # as a step too
    assert status(unseen, beyond, days=56.0) == "undetermined"
    assert status(unseen, beyond, days=CFG.detection.min_window_days) == "inactive"
    # the fall itself must still stand outside the null of falls
    small = null_test(unseen, replace(_shaped_null(8.0), site={
        "always": 0.0, "onset": 0.0, "shutdown": 1e5}), CFG, "shutdown", searched=False)
    assert not small["null_passed"] and status(unseen, small) == "undetermined"
    # placebos over too little distinct land cannot set what land's falls look like
    few = null_test(unseen, replace(_shaped_null(8.0), independent=6.0), CFG, "shutdown",
                    searched=False)
    assert status(unseen, few) == "undetermined"
    # a window's end is judged as before: its level must also rule running out
    window = replace(_fit("window"), nuisance_gap=3.0)
    assert status(window, beyond, end_limit_mw=1.0) == "undetermined"
    # and a stop the activity fit tells from a roof needs no shape, however brief its heat
    assert status(replace(unseen, nuisance_gap=25.0), within, days=0.0) == "inactive"


def test_a_fall_s_shape_is_measured_only_where_asked():
    fit = _fit("shutdown")
    assert np.isnan(null_test(fit, _null(8e5, "shutdown"), CFG, "shutdown")[
        "null_fall_shape_z"])
    assert np.isnan(null_test(fit, _shaped_null(8.0), CFG, "onset")["null_fall_shape_z"])


def test_a_stop_the_fit_cannot_tell_from_a_roof_is_seen_by_its_shape():
    # heat until look 28, as the sun climbs out of winter: the activity fit's roof (a change
    # of solar response) comes within its margin, but no placebo's fall is as clearly a step
    s, t = sun(), np.arange(N_LOOKS)
    site, placebos = on_land(2, 3e5 * s + 1.5e5 * (t < 28))
    fit = fit_activity(site, s, area_m2=3e5)
    assert fit.pattern == "shutdown" and fit.stop == 28
    assert fit.nuisance_gap < CFG.persistence.change_bic_margin
    test = null_test(fit, placebos.null(s, fall_shape=True), CFG, "shutdown", searched=False)
    assert test["null_passed"] and test["null_fall_shape_z"] > 5.0
    # its heat seen from the first look to look 27 (8-day looks: 216 days)
    assert site_status(fit, HeatEstimate(50.0, 20.0, 80.0), None, declared_mw=None,
                       config=CFG, stop_test=test, heat_days=216.0) == "inactive"
