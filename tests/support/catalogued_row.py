"""One catalogued campus's row from :func:`pipeline.scan.sites.site_row`, its fit given.

A catalogued 80 MW dry campus on a 1 km2 footprint, judged with the physics coefficient (no
other declaration to fit on), against a placebo null whose every statistic the site exceeds by
``site_sd`` of the placebos' spread: tests of the status and verdict rules
(``tests/pipeline/scan/test_undetermined_window.py``, ``test_unmeasured_land.py``).
"""

from collections import namedtuple

import numpy as np
import pandas as pd
from shapely.geometry import Point

from pipeline.core.config import Config
from pipeline.scan.baseline import Baseline
from pipeline.scan.sites import site_row
from pipeline.science.activity import ActivityFit
from pipeline.science.placebo import SiteNull
from pipeline.science.power import CalibrationSet

CFG = Config()
N = 30  # clear looks
DECLARED_MW = 80.0
Row = namedtuple("Row", "site_id name operator cooling reported_power_mw geometry")


def catalogued_row(fit: ActivityFit, *, site_sd: float = 12.0, baseline: Baseline | None = None,
                   independent: float | None = None,
                   declared_mw: float = DECLARED_MW) -> dict:
    """Return the row of a catalogued campus fitted as ``fit``.

    ``independent``: how many footprints of distinct land the 200 placebos cover (None: 200).
    """
    series = pd.DataFrame({"date": [f"2024-{1 + i // 3:02d}-{1 + 9 * (i % 3):02d}"
                                    for i in range(N)],
                           "clear": True, "active": False, "day_night": "DAY",
                           "excess_k_m2": 1e5, "solar_loading": 0.6})
    ref = np.random.default_rng(0).normal(0.0, 5e4, 200)
    stats = ("always", "onset", "shutdown", "window")
    null = SiteNull(dict.fromkeys(stats, site_sd * 5e4), dict.fromkeys(stats, ref), 1.0,
                    [(0, 0)] * 200, independent=independent)
    out = site_row(Row("S1", "Campus", None, "dry", declared_mw, Point(0, 0)), True, fit,
                   series, CalibrationSet.build([], CFG.power, "fitted"), CFG,
                   footprint_m2=1e6, null=null, baseline=baseline)
    return dict(out)
