"""A year of 8-day looks of one searched region, to fit and judge as the scan does.

The region's sunlit contrast against its ring, the look-to-look weather a scene's solar index
carries, and heat given per look (:func:`year_of_looks`), over a 0.36 km2 footprint
(:func:`region_masks`): tests of the rules on a new site's change
(``tests/pipeline/scan/test_land_event.py``, ``test_brief_window.py``).
"""

import numpy as np
import pandas as pd

from pipeline.science.footprint import SiteMasks

N_LOOKS = 46  # a year of 8-day looks
#: Days of each look after the first (2023-04-13).
LOOK_DAYS = np.arange(0, 8 * N_LOOKS, 8)
#: The looks' noise (K m2): a step of 2.5e5 K m2 is ten of it, well above min_active_k_m2.
NOISE = 2.0e4


def region_masks(sid: str = "region-1") -> SiteMasks:
    """A 20 x 20 px footprint in a ring 5 px wide."""
    footprint = np.zeros((40, 40), dtype=bool)
    footprint[10:30, 10:30] = True
    ring = np.zeros_like(footprint)
    ring[5:35, 5:35] = True
    return SiteMasks(sid, footprint, footprint, ring & ~footprint)


def year_of_looks(seed: int, heat_k_m2: np.ndarray) -> pd.DataFrame:
    """The region's series: sunlit contrast, weather and ``heat_k_m2`` (one value per look)."""
    rng = np.random.default_rng(seed)
    dates = np.datetime64("2023-04-13") + LOOK_DAYS.astype("timedelta64[D]")
    day = (dates - np.datetime64("2023-01-01")).astype(float)
    solar = (0.65 + 0.25 * np.cos(2 * np.pi * (day - 172) / 365.25)) * (
        1 + 0.08 * rng.normal(size=day.size))
    excess = 3.0e5 * solar + heat_k_m2 + rng.normal(0, NOISE, day.size)
    return pd.DataFrame({"date": dates.astype(str), "excess_k_m2": excess,
                         "solar_loading": solar})
