"""Changes a site shares with the scene's searched regions (pipeline.science.scene_events)."""

from math import comb

import numpy as np
import pytest

from pipeline.science.scene_events import Change, fit_changes, shared_changes


def test_a_fit_s_changes_sit_at_its_first_active_look_and_the_first_look_after():
    clear = np.ones(10, dtype=bool)
    clear[[2, 5]] = False  # clouded scenes: the fit's indices count clear looks only
    looks = np.flatnonzero(clear)  # scenes 0 1 3 4 6 7 8 9
    assert fit_changes("onset", 3, 8, clear) == [Change("rise", int(looks[3]))] == [
        Change("rise", 4)]
    assert fit_changes("shutdown", 0, 4, clear) == [Change("fall", 6)]
    assert fit_changes("window", 2, 5, clear) == [Change("rise", 3), Change("fall", 7)]
    # a window running to the last look has no fall; no change in the others
    assert fit_changes("window", 2, 8, clear) == [Change("rise", 3)]
    for pattern in ("always", "never", "insufficient"):
        assert fit_changes(pattern, 0, 8, clear) == []
    assert fit_changes("onset", None, None, clear) == []


def test_a_land_event_is_shared_by_every_region_it_moves_and_a_campus_by_none():
    rng = np.random.default_rng(3)
    n_looks, event = 46, 30
    # 12 regions over fields harvested at look 30 (seen there or, clouded, one look later),
    # 20 over land that rises at looks of its own, one campus powering on at look 12
    changes = {f"field-{i}": [Change("rise", event + int(rng.integers(0, 2)))]
               for i in range(12)}
    spread = rng.choice(np.r_[0:9, 16:28, 33:n_looks], size=20, replace=False)
    changes |= {f"land-{i}": [Change("rise", int(look))] for i, look in enumerate(spread)}
    changes["campus"] = [Change("rise", 12)]
    shared = shared_changes(changes, searched=set(changes), n_looks=n_looks)
    assert all(shared[f"field-{i}"][:2] == (11, 32) for i in range(12))
    assert shared["campus"][:2] == (0, 32)
    # the land rises one region a look, never within reach of the event (looks 29-32)
    assert all(shared[f"field-{i}"].busiest_other <= 3 for i in range(12))
    assert all(shared[f"field-{i}"].land_event(0.001) for i in range(12))
    assert not shared["campus"].land_event(0.5) and shared["campus"].busiest_other >= 11
    # a fall at the campus's look is another change, and two looks away is not the same look
    changes["stop"] = [Change("fall", 12)]
    changes["next"] = [Change("rise", 14)]

    def campus(reach: int) -> tuple[int, int]:
        return shared_changes(changes, searched=set(changes), n_looks=n_looks,
                              reach=reach)["campus"][:2]

    assert campus(1) == (0, 34) and campus(2) == (1, 34)


def test_the_chance_of_as_many_is_the_binomial_tail_of_independent_timing():
    # 4 of the 20 other rising regions within a look of look 10 of 30: each is there at 3 of
    # the 30 looks under independent timing, q = 0.1; p = P(X >= 4), X ~ Binomial(20, 0.1)
    looks = [9, 10, 10, 11, *range(7), *range(14, 23)]  # 20 others
    changes = {f"r{i}": [Change("rise", look)] for i, look in enumerate(looks)}
    changes["site"] = [Change("rise", 10)]
    changes["quiet"] = [Change("fall", 20)]  # a fall: not among the regions that could rise
    shared = shared_changes(changes, searched=set(changes), n_looks=30)["site"]
    tail = sum(comb(20, k) * 0.1 ** k * 0.9 ** (20 - k) for k in range(4, 21))
    assert shared.regions == 4 and shared.of == 21
    assert shared.p_value == pytest.approx(tail, rel=1e-9)  # 0.133
    # the busiest other look: the land's one-a-look rises reach 3 regions each at most
    assert shared.busiest_other == 3
    assert shared.land_event(0.2) and not shared.land_event(0.1)  # the level decides


def test_a_season_piling_changes_at_several_looks_is_no_one_look_event():
    # 10 regions rise at look 10 and 10 at look 30: either look is as busy as the other, so
    # neither is an event of its own however unlikely independent timing makes it
    changes = {f"a{i}": [Change("rise", 10)] for i in range(10)}
    changes |= {f"b{i}": [Change("rise", 30)] for i in range(10)}
    shared = shared_changes(changes, searched=set(changes), n_looks=46)
    assert shared["a0"][:3] == (9, 19, 10) and shared["a0"].p_value < 1e-5
    assert not shared["a0"].land_event(0.001) and not shared["b0"].land_event(0.001)
    # one more region at look 30 makes it the busiest look: its regions are an event
    changes["b10"] = [Change("rise", 30)]
    shared = shared_changes(changes, searched=set(changes), n_looks=46)
    assert shared["b0"][:3] == (10, 20, 10)
    assert not shared["b0"].land_event(0.001)  # as many (10) at look 10: no more than there
    changes["b11"] = [Change("rise", 31)]
    shared = shared_changes(changes, searched=set(changes), n_looks=46)
    assert shared["b0"].regions == 11 and shared["b0"].land_event(0.001)
    assert not shared["a0"].land_event(0.001)


@pytest.mark.parametrize("pattern", ["onset", "shutdown", "window"])
def test_a_change_is_shared_by_a_change_the_same_way_at_the_same_look(pattern):
    site = fit_changes("window", 5, 9, np.ones(12, dtype=bool))  # rise at 5, fall at 9
    region = {"onset": [Change("rise", 5)], "shutdown": [Change("fall", 5)],
              "window": [Change("rise", 2), Change("fall", 5)]}[pattern]
    shared = shared_changes({"site": site, "r": region}, searched={"site", "r"}, n_looks=12)
    # the window's own change is its rise at 5: a rise there shares it, a fall there does not
    assert shared["site"][:2] == (1 if pattern == "onset" else 0, 1)
    # a region's own change is its first (a window's rise at 2): the site's fall is at 9
    assert shared["r"][:2] == (1 if pattern == "onset" else 0, 1)


def test_listed_sites_are_measured_against_the_searched_regions_only():
    changes = {"DC-1": [Change("rise", 8)], "DC-2": [Change("rise", 8)],
               "candidate-1": [Change("rise", 9)], "candidate-2": []}
    shared = shared_changes(changes, searched={"candidate-1", "candidate-2"}, n_looks=20)
    assert shared["DC-1"][:2] == (1, 2) and shared["candidate-1"][:2] == (0, 1)
    assert "candidate-2" not in shared  # no change, nothing to share
