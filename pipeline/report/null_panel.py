"""The evidence figure's null panel: a site's heat statistic among those of its own land.

A site's test compares one heat statistic (the always-on excess, the largest rise, fall or
bump: ``null_statistic``) with the same statistic measured on placebo footprints, the site's
shape moved over background land of the same scenes (docs/statuses.md). The panel draws the
placebos' values as a histogram and the site's as a line, from ``nulls/<site>.csv`` alone,
so a reader sees how far outside its land's own range a verdict stands, not only a p-value.
For a searched site's power-on step, the placebo rises a new roof explains as well are drawn
apart: they do not count against it (:func:`pipeline.core.site_row.rate_counts_steps`).
"""

from __future__ import annotations

from typing import Any, Final

import numpy as np
import pandas as pd

from pipeline.core.site_row import SiteRow, rate_counts_steps

#: How each statistic reads on the panel.
STATISTIC_LABELS: Final = {"always": "always-on excess", "onset": "largest rise",
                           "shutdown": "largest fall", "window": "largest bump (window)"}


def null_values(null: pd.DataFrame, site: SiteRow) -> tuple[float, np.ndarray, np.ndarray]:
    """Return the site's judged statistic (K m2), its placebos' (finite) and which count.

    Examples
    --------
    >>> t = pd.DataFrame({"footprint": ["site", "placebo", "placebo", "placebo"],
    ...                   "onset_k_m2": [5.0, 1.0, float("nan"), 6.0],
    ...                   "onset_is_step": [None, True, True, False]})
    >>> v, ref, counts = null_values(t, {"null_statistic": "onset", "in_catalog": False,
    ...                                  "pattern": "onset"})
    >>> v, ref.tolist(), counts.tolist()  # the roof-like rise of 6 does not count
    (5.0, [1.0, 6.0], [True, False])
    """
    stat = site.get("null_statistic")
    col = f"{stat}_k_m2"
    if not stat or col not in null or "footprint" not in null:
        return float("nan"), np.zeros(0), np.zeros(0, dtype=bool)
    own = pd.to_numeric(null.loc[null["footprint"] == "site", col], errors="coerce")
    placebos = null[null["footprint"] == "placebo"]
    ref = pd.to_numeric(placebos[col], errors="coerce").to_numpy(dtype=float)
    counts = np.ones(ref.size, dtype=bool)
    if rate_counts_steps(bool(site.get("in_catalog", True)), site.get("pattern"), stat) and \
            "onset_is_step" in placebos:
        flags = placebos["onset_is_step"].map(
            {True: True, False: False, "True": True, "False": False})
        counts = flags.fillna(True).to_numpy(dtype=bool)
    ok = np.isfinite(ref)
    return (float(own.iloc[0]) if len(own) else float("nan")), ref[ok], counts[ok]


def _fmt(v: Any, spec: str) -> str:
    return format(float(v), spec) if isinstance(v, int | float) and np.isfinite(v) else "n/a"


def null_panel(ax: Any, null: pd.DataFrame, site: SiteRow, mw_per_k_m2: float | None) -> bool:
    """Draw the site's statistic against its placebos' on ``ax``; False when there is none.

    ``mw_per_k_m2``: the site's central coefficient (MW per K m2), to read the statistic as heat;
    without it the axis stays in K m2.
    """
    value, ref, counts = null_values(null, site)
    if not ref.size:
        return False
    stat = str(site.get("null_statistic"))
    scale, unit = (mw_per_k_m2, "MW, central calibration") if mw_per_k_m2 else \
        (1e-3, "10³ K m²")
    edges = np.histogram_bin_edges(np.append(ref, value if np.isfinite(value) else ref[0])
                                   * scale, bins=30)
    parts = [ref[counts] * scale, ref[~counts] * scale]
    labels = [f"placebo footprints ({int(counts.sum())})",
              f"rise a new roof explains as well, not counted ({int((~counts).sum())})"]
    keep = [i for i, p in enumerate(parts) if p.size]
    ax.hist([parts[i] for i in keep], edges, stacked=True,
            color=[("0.5", "0.82")[i] for i in keep], label=[labels[i] for i in keep])
    if np.isfinite(value):
        ax.axvline(value * scale, color="C3", lw=2,
                   label=f"this site: rank p = {_fmt(site.get('null_p_value'), '.3g')}, "
                         f"robust z = {_fmt(site.get('null_z'), '.1f')}")
    ax.set_xlabel(f"{STATISTIC_LABELS.get(stat, stat)} ({unit})")
    ax.set_ylabel("placebo footprints")
    distinct = _fmt(site.get("null_n_independent"), ".1f")
    ax.set_title(f"its land's own {STATISTIC_LABELS.get(stat, stat)}:\n{ref.size} placebos "
                 f"over {distinct} footprints of distinct land", fontsize=9)
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.14), frameon=False)
    return True
