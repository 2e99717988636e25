"""Changes a site shares with the scene's searched regions (pipeline.science.scene_events)."""

import numpy as np
import pytest

from pipeline.science.scene_events import Change, Shared, fit_changes, shared_changes


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
    shared = shared_changes(changes, searched=set(changes))
    assert all(shared[f"field-{i}"] == Shared(11, 32) for i in range(12))
    assert shared["campus"] == Shared(0, 32)
    # a fall at the campus's look is another change, and two looks away is not the same look
    changes["stop"] = [Change("fall", 12)]
    changes["next"] = [Change("rise", 14)]
    assert shared_changes(changes, searched=set(changes))["campus"] == Shared(0, 34)
    assert shared_changes(changes, searched=set(changes), reach=2)["campus"] == Shared(1, 34)


@pytest.mark.parametrize("pattern", ["onset", "shutdown", "window"])
def test_a_change_is_shared_by_a_change_the_same_way_at_the_same_look(pattern):
    site = fit_changes("window", 5, 9, np.ones(12, dtype=bool))  # rise at 5, fall at 9
    region = {"onset": [Change("rise", 5)], "shutdown": [Change("fall", 5)],
              "window": [Change("rise", 2), Change("fall", 5)]}[pattern]
    shared = shared_changes({"site": site, "r": region}, searched={"site", "r"})
    # the window's own change is its rise at 5: a rise there shares it, a fall there does not
    assert shared["site"] == Shared(1 if pattern == "onset" else 0, 1)
    # a region's own change is its first (a window's rise at 2): the site's fall is at 9
    assert shared["r"] == Shared(1 if pattern == "onset" else 0, 1)


def test_listed_sites_are_measured_against_the_searched_regions_only():
    changes = {"DC-1": [Change("rise", 8)], "DC-2": [Change("rise", 8)],
               "candidate-1": [Change("rise", 9)], "candidate-2": []}
    shared = shared_changes(changes, searched={"candidate-1", "candidate-2"})
    assert shared["DC-1"] == Shared(1, 2) and shared["candidate-1"] == Shared(0, 1)
    assert "candidate-2" not in shared  # no change, nothing to share
