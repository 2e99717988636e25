"""A site's placebo null as a table: the numbers behind its null test, for a third party.

Each row is one footprint: the site itself first, then every placebo footprint (the site's
integration region and ring moved to background land of the same scan,
:mod:`pipeline.science.placebo`), with its shift and the four heat statistics the null test
compares. From these rows anyone can recount the site's rank p-value
``(1 + #{placebo >= site}) / (1 + N)`` and robust z (the placebos' median and MAD), and see the
land's own spread that the site's verdict rests on (``nulls/<site>.csv``).
"""

from __future__ import annotations

from typing import Final

import numpy as np
import pandas as pd

from pipeline.science.placebo import STATISTICS, SiteNull

#: Columns of ``nulls/<site>.csv`` and what each holds.
NULL_TABLE_COLUMNS: Final = {
    "footprint": '"site" (the first row) or "placebo"',
    "row_shift_px": "rows the placebo is moved by on the scan grid (down positive; site 0)",
    "col_shift_px": "columns the placebo is moved by on the scan grid (site 0)",
    "east_shift_m": "the same shift eastward (m)",
    "north_shift_m": "the same shift northward (m)",
    **{f"{s}_k_m2": f"the {s} statistic of the footprint (K m2; empty: not measured)"
       for s in STATISTICS},
    "onset_is_step": "a searched site's null: the placebo's rise is a step no new roof "
                     "explains as well (only those count against a found power-on step); "
                     "empty where not weighed",
    "fall_step_gap": "a listed site's null: how much better (BIC) a step than a change of "
                     "solar response fits the footprint's best-fitting fall (the site's robust z "
                     "among the placebos' is its null_fall_shape_z); empty where not measured",
}


def null_frame(null: SiteNull, resolution_m: float) -> pd.DataFrame:
    """Return a site's null as one row per footprint, the site first (:data:`NULL_TABLE_COLUMNS`).

    For a found site, each placebo's statistics are those of the hottest of its place and its
    eight neighbours one search reach away (as the search placed the site); its shift is the
    place drawn.

    Examples
    --------
    >>> null = SiteNull({s: 9.0 for s in STATISTICS},
    ...                 {s: np.array([1.0, 2.0]) for s in STATISTICS}, 0.2, [(3, -1), (0, 4)],
    ...                 beyond_roof={"onset": np.array([True, False])})
    >>> t = null_frame(null, 30.0)
    >>> t[["footprint", "row_shift_px", "east_shift_m", "north_shift_m"]].values.tolist()
    [['site', 0, 0.0, 0.0], ['placebo', 3, -30.0, -90.0], ['placebo', 0, 120.0, 0.0]]
    >>> t["onset_k_m2"].tolist(), t["onset_is_step"].tolist()
    ([9.0, 1.0, 2.0], [None, True, False])
    >>> from dataclasses import replace
    >>> null_frame(replace(null, fall_gaps=np.array([7.5, -0.4, 0.3])), 30.0)[
    ...     "fall_step_gap"].tolist()
    [7.5, -0.4, 0.3]
    """
    shifts = np.array([(0, 0), *null.offsets], dtype=np.int64).reshape(-1, 2)
    frame = pd.DataFrame({
        "footprint": ["site"] + ["placebo"] * len(null.offsets),
        "row_shift_px": shifts[:, 0],
        "col_shift_px": shifts[:, 1],
        "east_shift_m": shifts[:, 1] * float(resolution_m),
        "north_shift_m": -shifts[:, 0] * float(resolution_m),
    })
    for s in STATISTICS:
        placebos = np.asarray(null.placebos.get(s, np.full(len(null.offsets), np.nan)),
                              dtype=float)
        frame[f"{s}_k_m2"] = np.concatenate([[null.site.get(s, np.nan)], placebos])
    steps = null.beyond_roof.get("onset")
    frame["onset_is_step"] = pd.Series(
        [None, *(bool(v) for v in steps)] if steps is not None and len(steps) == len(
            null.offsets) else [None] * len(frame), dtype=object)
    falls = null.fall_gaps
    frame["fall_step_gap"] = np.asarray(falls, dtype=float) if falls is not None and len(
        falls) == len(frame) else np.nan
    return frame
