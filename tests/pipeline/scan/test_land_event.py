"""A new site's change that many searched regions make at its look is a land event (issue 18).

Regions over a front of drying soil (or fields harvested across a district) all step up at
one look; a campus powers on at a look of its own. Each series is fitted as the scan fits a
searched region (:func:`pipeline.scan.sites.fit_site`), its change set against the others'
(:mod:`pipeline.science.scene_events`), and judged as the scan judges a new site.
"""

import numpy as np
import pandas as pd
import pytest

from pipeline.core.config import Config
from pipeline.scan.sites import fit_site, new_site_rejection
from pipeline.science.power import HeatEstimate
from pipeline.science.scene_events import fit_changes, shared_changes
from tests.support.searched_year import N_LOOKS, region_masks, year_of_looks

CFG = Config()
#: a step of heat (K m2) ten times its looks' noise, as in tests/pipeline/scan/test_own_season
STEP = 2.5e5
HEAT = HeatEstimate(120.0, 80.0, 160.0)  # above min_candidate_mw, whatever the coefficient


def _series(seed: int, step_at: int) -> pd.DataFrame:
    """A year of looks with a step of heat at look ``step_at``."""
    return year_of_looks(seed, STEP * (np.arange(N_LOOKS) >= step_at))


def _judge(steps: dict[str, int], land_event_p: float = CFG.detection.land_event_p):
    config = Config.model_validate({"detection": {"land_event_p": land_event_p}})
    fits = {sid: fit_site(_series(i, at), region_masks(sid), 900.0, config, in_catalog=False)
            for i, (sid, at) in enumerate(steps.items())}
    clear = np.ones(N_LOOKS, dtype=bool)
    shared = shared_changes({sid: fit_changes(f.pattern, f.start, f.stop, clear)
                             for sid, f in fits.items()}, searched=set(fits), n_looks=N_LOOKS)
    return fits, shared, {sid: new_site_rejection(f, HEAT, None, config, shared=shared[sid])
                          for sid, f in fits.items()}


def _scene(n_front: int) -> dict[str, int]:
    """``n_front`` regions on a front at look 30, land stepping at looks of its own, a campus."""
    steps = {f"front-{i}": 30 for i in range(n_front)}
    steps |= {f"land-{i}": look for i, look in enumerate((4, 8, 16, 20, 24, 36, 40))}
    return steps | {"campus": 12}


def test_a_front_s_regions_are_a_land_event_and_the_campus_a_candidate():
    fits, shared, why = _judge(_scene(12))
    assert all(f.pattern == "onset" for f in fits.values())
    for i in range(12):
        s = shared[f"front-{i}"]
        # 11 others at its look; elsewhere at most the one look of land (1 or 2 within reach)
        assert s.regions == 11 and s.busiest_other <= 2 and s.p_value < 1e-6
        assert why[f"front-{i}"].kind == "land_event"
        assert "shared by 11 of the scene's 19 other searched" in why[f"front-{i}"].reason
    assert shared["campus"].regions == 0 and why["campus"] is None
    # land stepping at looks of its own is never an event (the last, at look 40 of 46, is
    # turned down as a late roof: too few looks after it to tell)
    assert all(shared[f"land-{i}"].regions == 0 for i in range(7))
    assert all(getattr(why[f"land-{i}"], "kind", None) != "land_event" for i in range(7))


def test_two_regions_stepping_together_are_no_event():
    # two pieces of one campus, say: 1 region shares each one's step, which independent
    # timing puts at one look often: 1 - (1 - 3/46) ** 9 = 0.455 with 9 other rising regions
    _, shared, why = _judge(_scene(2))
    assert shared["front-0"].regions == 1
    assert shared["front-0"].p_value == pytest.approx(1 - (1 - 3 / 46) ** 9)
    assert why["front-0"] is None and why["front-1"] is None


@pytest.mark.parametrize(("land_event_p", "event"), [(1e-12, False), (1e-2, True)])
def test_the_level_sets_how_many_regions_make_an_event(land_event_p, event):
    # 5 of 13 rising regions at one look: p about 1e-3 (binomial, 3 looks of 46 within reach)
    _, shared, why = _judge(_scene(6), land_event_p=land_event_p)
    assert shared["front-0"].regions == 5 and 1e-4 < shared["front-0"].p_value < 1e-2
    assert (getattr(why["front-0"], "kind", None) == "land_event") is event
