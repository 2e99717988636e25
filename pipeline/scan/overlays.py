"""Which looks of a scan get a per-date anomaly overlay in its report rasters."""

from __future__ import annotations

import pandas as pd

#: At most this many per-date anomaly overlays are written (the last look always is one).
MAX_OVERLAY_DATES = 6


def overlay_products(series: dict[str, pd.DataFrame], *,
                     max_dates: int = MAX_OVERLAY_DATES) -> list[str]:
    """Product ids worth an anomaly overlay: last look, then each site's clearest active look.

    Parameters
    ----------
    series
        Per-site series as written to ``series/<site>.csv`` (``date``, ``product_id``,
        ``clear``, ``active``, ``clear_fraction``).
    max_dates
        Upper bound on the number of products returned.

    Returns
    -------
    list of str
        Distinct product ids, at most ``max_dates``, in time order.
    """
    picked: list[str] = []
    frames = [s for s in series.values() if len(s)]
    if frames:
        last = max(frames, key=lambda s: str(s["date"].iloc[-1]))
        picked.append(str(last["product_id"].iloc[-1]))
    for s in frames:
        act = s[s["active"].astype(bool) & s["clear"].astype(bool)]
        if len(act):
            best = act.sort_values(["clear_fraction", "date"], ascending=False).iloc[0]
            if str(best["product_id"]) not in picked:
                picked.append(str(best["product_id"]))
    picked = picked[:max_dates]
    when = {str(p): str(d) for s in frames for p, d in zip(s["product_id"], s["date"],
                                                          strict=True)}
    return sorted(picked, key=lambda p: (when.get(p, ""), p))
