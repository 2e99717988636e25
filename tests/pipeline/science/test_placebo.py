"""The placebo null: statistics on analytic series, the false-alarm rate it sets, placements."""

import numpy as np
import pytest
from scipy.stats import norm

from pipeline.science.footprint import SiteMasks
from pipeline.science.placebo import (
    JITTER,
    SiteNull,
    footprint_series,
    heat_statistics,
    land_modes,
    measure_placebos,
    placebo_offsets,
    placements,
)
from tests.support.sunlit_land import N_LOOKS, on_land, sun


def test_static_offset_is_always_on_but_has_no_step():
    s = sun()
    offset = 4e5 + 9e5 * s  # a static offset of a sunlit footprint: no change in the series
    st = heat_statistics(offset[None, :], s)
    assert st["always"][0] == pytest.approx(4e5, rel=1e-9)
    assert abs(st["onset"][0]) < 1e-3 and abs(st["shutdown"][0]) < 1e-3


def test_step_is_measured_at_its_size_whatever_the_offset():
    s = sun()
    t = np.arange(s.size)
    for offset in (0.0, 7e5):
        on = offset + 9e5 * s + 3e5 * (t >= 25)
        off = offset + 9e5 * s + 3e5 * (t < 18)
        st = heat_statistics(np.vstack([on, off]), s)
        assert st["onset"][0] == pytest.approx(3e5, rel=1e-9)
        assert st["shutdown"][1] == pytest.approx(3e5, rel=1e-9)


def test_missing_looks_are_left_out():
    s = sun()
    e = 2e5 + 5e5 * s
    e[::3] = np.nan
    assert heat_statistics(e[None, :], s)["always"][0] == pytest.approx(2e5, rel=1e-9)


def _null_of(ref: np.ndarray, site: float, km2: float = 0.5) -> SiteNull:
    stats = ("always", "onset", "shutdown")
    return SiteNull(site=dict.fromkeys(stats, site), placebos=dict.fromkeys(stats, ref),
                    footprint_km2=km2, offsets=[(0, 0)] * ref.size)


def test_tail_matches_exponential_land_and_is_conservative_on_normal_land():
    rng = np.random.default_rng(3)
    # exponential placebos: the modelled tail is the true one, 0.2 exp(-(v - q80))
    expo = rng.exponential(1.0, 4000)
    q80 = np.quantile(expo, 0.8)
    for v in (3.0, 5.0):
        assert _null_of(expo, v).tail_p("always") == pytest.approx(
            0.2 * np.exp(-(v - q80)), rel=0.25)
    # normal placebos: never below the true normal tail where the site beats them all
    gauss = rng.normal(0.0, 1.0, 4000)
    for v in (3.5, 4.5):
        assert _null_of(gauss, v).tail_p("always") >= norm.sf(v)
    # below the 80th percentile the empirical exceedance is used
    assert _null_of(gauss, 0.0).tail_p("always") == pytest.approx(0.5, abs=0.03)


def test_tail_is_never_lighter_than_normal_at_the_robust_spread():
    # few distinct places whose top is bunched (a bounded spread of land offsets): the
    # exponential fitted to their top fifth falls off faster than a normal tail with their
    # robust spread, and a site 2.5-4 robust deviations out would pass as rarer than it is
    few = np.repeat(np.linspace(-1.0, 1.0, 20), 10)
    sigma = 1.4826 * float(np.median(np.abs(few - np.median(few))))
    for z in (2.5, 3.0, 4.0):
        null = _null_of(few, z * sigma)
        assert null.z("always") == pytest.approx(z)
        assert null.tail_p("always") == pytest.approx(norm.sf(z), rel=1e-9)
    # far out on exponential land the exponential tail, heavier there, still decides
    rng = np.random.default_rng(3)
    expo = rng.exponential(1.0, 4000)
    far = _null_of(expo, 8.0)
    assert far.tail_p("always") > 10 * norm.sf(far.z("always"))


def test_false_alarm_rate_counts_the_footprints_in_1000_km2():
    rng = np.random.default_rng(4)
    ref = rng.exponential(1.0, 2000)
    small, large = _null_of(ref, 5.0, km2=0.25), _null_of(ref, 5.0, km2=1.0)
    assert small.false_alarms_per_1000_km2("always") == pytest.approx(
        small.tail_p("always") * 4000)
    assert small.false_alarms_per_1000_km2("always") == pytest.approx(
        4 * large.false_alarms_per_1000_km2("always"))


def test_rate_holds_on_noise_only_footprints():
    # footprints on land with no heat: a threshold at the rate's level passes about that share
    rng = np.random.default_rng(5)
    s = sun()
    e = rng.laplace(0, 1e5, (6000, s.size)) + 8e5 * s
    always = heat_statistics(e, s)["always"]
    ref, test = always[:3000], always[3000:]
    km2 = 1.0
    passed = [_null_of(ref, v, km2).false_alarms_per_1000_km2("always") <= 10.0 for v in test]
    # 10 per 1,000 km2 of 1 km2 footprints: p = 0.01 per footprint, conservative
    assert np.mean(passed) <= 0.012


def test_footprint_series_is_region_minus_ring_times_area():
    a = np.zeros((3, 20, 20), np.float32)
    region = np.zeros((20, 20), bool)
    region[8:12, 8:12] = True
    ring = np.zeros((20, 20), bool)
    ring[4:16, 4:16] = True
    ring &= ~region
    a[:, region] = 2.0
    a[1, ring] = 0.5
    a[2, 8:10, 8:12] = np.nan  # half the footprint clouded: below min_clear_fraction
    e = footprint_series(a, region, ring, pixel_area=900.0, min_clear_fraction=0.8)
    assert e[0] == pytest.approx(2.0 * 16 * 900.0)
    assert e[1] == pytest.approx(1.5 * 16 * 900.0)
    assert np.isnan(e[2])


def _masks(shape=(80, 80)):
    region = np.zeros(shape, bool)
    region[30:36, 30:36] = True
    ring = np.zeros(shape, bool)
    ring[26:40, 26:40] = True
    ring &= ~region
    return SiteMasks("s", region, region, ring)


def test_placebos_stay_on_background_land_and_off_the_site():
    m = _masks()
    eligible = np.ones((80, 80), bool)
    eligible[:, :20] = False  # a lake or another site
    offsets = placebo_offsets(m, eligible, n=60, rng=np.random.default_rng(0))
    assert len(offsets) == 60
    cols = m.window[1]
    for dr, dc in offsets:
        assert cols.start + dc + 4 >= 20 * 0.8  # the moved footprint is on eligible land
        assert abs(dr) >= 14 or abs(dc) >= 14  # and does not overlap the site's window


def test_a_hot_footprint_ranks_first_and_a_plain_one_does_not():
    rng = np.random.default_rng(1)
    s = sun(30)
    a = (rng.normal(0, 0.4, (30, 80, 80)) + 3.0 * s[:, None, None]).astype(np.float32)
    m = _masks()
    eligible = ~(m.integration | m.ring)
    plain = measure_placebos(a, m, eligible, pixel_area=900.0, min_clear_fraction=0.8,
                             n_placebos=80, rng=np.random.default_rng(2)).null(s)
    a[:, m.integration] += 2.5
    hot = measure_placebos(a, m, eligible, pixel_area=900.0, min_clear_fraction=0.8,
                           n_placebos=80, rng=np.random.default_rng(2)).null(s)
    assert hot.p_value("always") == pytest.approx(1 / 81)
    assert hot.false_alarms_per_1000_km2("always") < 0.5
    assert plain.p_value("always") > 0.01
    assert plain.false_alarms_per_1000_km2("always") > 10.0
    # the same series truncated, as the monitor replays a date
    assert hot.n == 80


def test_a_bump_of_heat_is_a_window_at_its_height():
    s = sun()
    t = np.arange(s.size)
    bump = 5e5 + 9e5 * s + 3e5 * ((t >= 12) & (t < 24))
    st = heat_statistics(bump[None, :], s)
    assert st["window"][0] == pytest.approx(3e5, rel=1e-9)
    # a window reaching the last look is an onset: the window statistic is never below it
    on = 9e5 * s + 2e5 * (t >= 30)
    st = heat_statistics(on[None, :], s)
    assert st["window"][0] >= st["onset"][0] - 1e-6
    assert st["onset"][0] == pytest.approx(2e5, rel=1e-9)


def test_land_modes_recover_a_shared_green_season_and_leave_offset_and_sun_alone():
    rng = np.random.default_rng(3)
    s = sun()
    season = np.exp(-((np.arange(s.size) - 20) / 5.0) ** 2)  # crops green up for ~10 looks
    placebos = (rng.normal(0, 2e5, (120, 1)) * season + rng.normal(0, 3e5, (120, 1))
                + rng.normal(0, 5e5, (120, 1)) * s + rng.normal(0, 1e4, (120, s.size)))
    placebos[rng.random(placebos.shape) < 0.03] = np.nan  # a few cloudy looks
    modes = land_modes(placebos, s, 2)
    assert modes.shape == (s.size, 2)
    # the season lies in the span of the modes, the offset and the sun do not (weighted)
    w = 1 / s**2
    def explained(v):
        coef = np.linalg.lstsq(modes * np.sqrt(w)[:, None], v * np.sqrt(w), rcond=None)[0]
        fit = modes @ coef
        return 1 - np.sum(w * (v - fit) ** 2) / np.sum(w * v**2)
    base = np.column_stack([np.ones_like(s), s])
    resid_season = season - base @ np.linalg.lstsq(base * np.sqrt(w)[:, None],
                                                    season * np.sqrt(w), rcond=None)[0]
    assert explained(resid_season) > 0.95
    assert explained(np.ones_like(s)) < 1e-6 and explained(s) < 1e-6
    assert land_modes(placebos[:3], s, 2).shape == (s.size, 0)  # too few placebos: none


def test_nearby_placebos_share_the_search_choice_of_place():
    # hot specks scattered over the land: the search puts a footprint on one, so the null must
    # count a placebo at its hottest nearby place, not only where it happened to fall
    rng = np.random.default_rng(4)
    s = sun(30)
    a = rng.normal(0, 0.3, (30, 80, 80)).astype(np.float32)
    specks = rng.random((80, 80)) < 0.01
    a[:, specks] += 4.0
    m = _masks()
    eligible = ~(m.integration | m.ring)
    kw = dict(pixel_area=900.0, min_clear_fraction=0.8, n_placebos=80)
    plain = measure_placebos(a, m, eligible, rng=np.random.default_rng(2), **kw)
    near = measure_placebos(a, m, eligible, rng=np.random.default_rng(2), reach=3, **kw)
    assert plain.nearby is None and near.nearby.shape == (80, 8, 30)
    p0, p1 = plain.null(s).placebos["always"], near.null(s).placebos["always"]
    assert np.all(p1 >= p0 - 1e-6)  # the best nearby place is at least the place itself
    assert np.median(p1) > np.median(p0)  # and on speckled land, usually hotter
    # the placebos' own series (row 0 is the site) are the same either way
    np.testing.assert_allclose(near.excess, plain.excess)


def test_the_null_takes_out_the_land_modes_for_site_and_placebos_alike():
    # crops green up late in the series: in the plain statistics some placebos rise as much
    # as a real power-on step; with the land's modes fitted, the step stands out of them
    from pipeline.science.placebo import PlaceboSeries

    rng = np.random.default_rng(5)
    s = sun(40)
    t = np.arange(40)
    season = 1.0 / (1.0 + np.exp(-(t - 30) / 2.0))  # a green-up that reads as a rise
    series = (rng.normal(0, 3e5, (201, 1)) * season + rng.normal(0, 2e5, (201, 1)) * s
              + rng.normal(0, 1e4, (201, 40)))
    series[0] = 1e5 * s + 2e5 * (t >= 18) + rng.normal(0, 1e4, 40)  # the site: a real step
    pl = PlaceboSeries(series, 0.5, [(0, 0)] * 200)
    plain, fitted = pl.null(s), pl.null(s, modes=1)
    assert plain.p_value("onset") > 0.05  # the green-ups of many placebos outrise it
    assert fitted.p_value("onset") == pytest.approx(1 / 201)
    assert fitted.site["onset"] == pytest.approx(2e5, rel=0.1)


def test_a_placebo_moved_nearby_stays_on_background_land():
    # a campus stands a few pixels beside background land: a placebo moved by the search's
    # reach must not land on it (it would measure the campus, not land, and make a real
    # site look ordinary), nor on the site itself
    rng = np.random.default_rng(6)
    s = sun(30)
    a = rng.normal(0, 0.3, (30, 80, 80)).astype(np.float32)
    campus = np.zeros((80, 80), dtype=bool)
    campus[50:70, 50:70] = True
    a[:, campus] += 6.0
    m = _masks()
    eligible = ~(m.integration | m.ring | campus)
    near = measure_placebos(a, m, eligible, pixel_area=900.0, min_clear_fraction=0.8,
                            n_placebos=80, rng=np.random.default_rng(2), reach=6)
    ok = placements(m, eligible)
    rows, cols = m.window
    for i, (dr, dc) in enumerate(near.offsets):
        for j, (jr, jc) in enumerate(np.array(JITTER) * 6):
            r, c = rows.start + dr + jr, cols.start + dc + jc
            allowed = 0 <= r < ok.shape[0] and 0 <= c < ok.shape[1] and ok[r, c]
            assert allowed or np.all(np.isnan(near.nearby[i, j]))
    # so no placebo, moved or not, reaches the campus's heat (6 K over the region)
    hot = near.null(s).placebos["always"]
    region_m2 = m.integration_area_px * 900.0
    assert np.nanmax(hot) < 0.5 * 6.0 * region_m2


def test_the_window_statistic_is_the_same_a_block_of_series_at_a_time(monkeypatch):
    # the windows of many series are solved a block at a time to bound memory; the rows are
    # independent, so blocks of one series give what one block of all gives
    import pipeline.science.placebo as placebo

    rng = np.random.default_rng(8)
    s = sun(30)
    e = rng.normal(0, 1e5, (7, 30)) + 3e5 * (np.arange(30) >= 12)
    e[2, 5] = np.nan
    whole = heat_statistics(e, s)["window"]
    monkeypatch.setattr(placebo, "WINDOW_FLOATS", 1.0)  # one series per block
    np.testing.assert_array_equal(heat_statistics(e, s)["window"], whole)
    assert whole.shape == (7,) and np.all(np.isfinite(whole))


def test_a_search_counts_every_statistic_it_could_have_chosen():
    ref = np.random.default_rng(9).normal(0.0, 1.0, 100)
    null = SiteNull({"always": 3.0}, {"always": ref}, footprint_km2=0.5, offsets=[(0, 0)] * 100)
    one = null.false_alarms_per_1000_km2("always")
    assert one == pytest.approx(null.tail_p("always") * 1000 / 0.5)
    assert null.search_false_alarms_per_1000_km2("always") == pytest.approx(4 * one)


def test_placebos_on_a_small_patch_of_land_count_as_the_few_places_they_are():
    # 54 placements fit on a 16 x 16 px patch of background land, but a 6 x 6 px footprint
    # moved over it (at most one px off it: 80% of the footprint on land) covers at most
    # 17 x 17 px: 8 footprints of distinct land, whatever the number of draws
    s = sun(30)
    a = np.random.default_rng(1).normal(0, 0.4, (30, 80, 80)).astype(np.float32)
    m = _masks()
    patch = np.zeros((80, 80), bool)
    patch[:16, 64:] = True
    few = measure_placebos(a, m, patch, pixel_area=900.0, min_clear_fraction=0.8,
                           n_placebos=200, rng=np.random.default_rng(2)).null(s)
    assert few.n == 54 and few.n_independent <= 17 * 17 / 36
    wide = measure_placebos(a, m, ~(m.integration | m.ring), pixel_area=900.0,
                            min_clear_fraction=0.8, n_placebos=200,
                            rng=np.random.default_rng(2)).null(s)
    assert wide.n == 200 and wide.n_independent > 50  # 6,100 px of land: up to 170


def test_the_rate_the_placebos_show_directly_is_one_in_their_distinct_land():
    # 200 draws over the 8 footprints of distinct land of the patch above: without the
    # modelled tail they can show no rate below one in 1 + 8 places; far beyond them the tail
    # claims far less, and the rate it claims is then an extrapolation
    ref = np.random.default_rng(3).normal(0.0, 1.0, 200)
    null = SiteNull({"always": 12.0}, {"always": ref}, footprint_km2=2.0,
                    offsets=[(0, 0)] * 200, independent=8.0)
    direct = 1000 / 2.0 / 9  # 500 footprint-sized places in 1,000 km2, one in nine
    assert null.resolved_false_alarms_per_1000_km2(searched=False) == pytest.approx(direct)
    assert null.resolved_false_alarms_per_1000_km2(searched=True) == pytest.approx(4 * direct)
    assert null.search_false_alarms_per_1000_km2("always") < 1e-3 * direct
    # more distinct land resolves smaller rates: 200 places, one in 201
    wide = SiteNull({"always": 12.0}, {"always": ref}, footprint_km2=2.0,
                    offsets=[(0, 0)] * 200)
    assert wide.resolved_false_alarms_per_1000_km2(searched=False) == pytest.approx(500 / 201)


def test_the_roof_gate_counts_its_share_of_steps_in_distinct_land():
    # 200 placebos over 20 places of distinct land; the tail is fitted on their top fifth,
    # the 4 highest places (40 placebos). The land's chance of a step is counted among those:
    # with no step there it is not 1 in 201 draws, nor 1 in 21 places, but at most 1 in 5
    ref = np.repeat(np.linspace(-1.0, 1.0, 20), 10)
    order = np.arange(200)
    for steps, share in ((np.zeros(200, bool), 1 / 5),
                         # steps among the small changes only (the 5 lowest places): a change
                         # near the noise says nothing of how often a large one is a step
                         (order < 50, 1 / 5),
                         # the 2 highest places' changes are steps: half the top, 1 + 2 of 5
                         (order >= 180, 3 / 5)):
        null = SiteNull({"onset": 2.5}, {"onset": ref}, 1.0, [(0, 0)] * 200, 20.0,
                        beyond_roof={"onset": steps})
        raw = null.tail_p("onset")
        assert 0 < raw < 0.01
        assert null.gated_by_roof().tail_p("onset") == pytest.approx(raw * share)
    # the ungated null is untouched
    assert null.tail_p("onset") == raw


def test_a_fall_that_follows_the_sun_is_no_step_however_large():
    # a field greening from look 28 (its solar response falls), with no heat at all
    s, t = sun(), np.arange(N_LOOKS)
    _, placebos = on_land(1, 3e5 * s + 1.5e5 - 3.5e5 * s * (t >= 28))
    null = placebos.null(s, fall_shape=True)
    assert null.fall_gaps is not None and null.fall_gaps.shape == (201,)
    assert null.fall_shape_z() < 0.0  # shaped as a change of solar response, not a step
    # a step of heat that stops there is shaped as one, far beyond the land's falls
    _, stop = on_land(2, 3e5 * s + 1.5e5 * (t < 28))
    assert stop.null(s, fall_shape=True).fall_shape_z() > 5.0
    # not measured unless asked (a searched site's null)
    plain = placebos.null(s)
    assert plain.fall_gaps is None and np.isnan(plain.fall_shape_z())
