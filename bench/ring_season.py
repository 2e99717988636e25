"""How much of a listed site's excess is the season of the crops in its ring.

Run from the repository root::

    python bench/ring_season.py               # the four widened development splits
    python bench/ring_season.py --worlds 2    # the first 2 worlds of each

A site's excess is its footprint less its ring (:func:`pipeline.science.footprint.measure_look`).
A campus's footprint is paved and roofed; the land around it may be farmland. When the crops
in the ring turn green they lose most of their daytime contrast, the ring cools, and the
excess rises with no change of heat. The generator keeps crops out of campus windows, not out
of their rings (``models.world``), as real campuses sit among fields.

For every listed campus of the widened development splits (``bench.accuracy.wide_suite`` and
``onset_suite``, first and second) it scans as ``bench/accuracy.py`` does and measures, from
the world's own crop fields (:func:`models.world.crop_loss`), the ring's seasonal cooling over
the site's clear looks: its range (largest less smallest) times the footprint's area, in MW of
dry-cooled heat at the world's coefficient (:func:`ring_season_mw`), the same unit as the
campus's visible heat. Per band of that size it counts the campuses, those running all series
and how many of those the scan fitted with a change they did not make (a rise, a fall, heat
that came and went), and the campuses that powered on or shut down with a wrong final status.

Only development splits are offered: the held-out ones stay out of every choice. Writes
``bench/results/ring-season.json`` (with ``--greenness``, scanned with ``reader.greenness`` on:
``ring-season-greenness.json``, with each campus's season left once the scan took its
greenness out); the benchmark reports, it tunes nothing.
"""

from __future__ import annotations

import functools
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as ``python bench/ring_season.py``
    sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    band_name,
    dev_split_args,
    envelope,
    finish,
    markdown_table,
    over_dev_splits,
    right_final_status,
    write_json,
)

#: Bands of the ring's seasonal cooling (MW of dry-cooled heat) the table counts by.
BANDS = ((0.0, 25.0), (25.0, 75.0), (75.0, 150.0), (150.0, float("inf")))

#: Fitted patterns that claim a change during the series.
CHANGES = ("onset", "shutdown", "window")


def on_world_grid(mask: np.ndarray, scan: Any, world: Any, shape: tuple[int, int]) -> np.ndarray:
    """Place a mask on the scan's grid (affine ``scan``) onto the world's (``world``, ``shape``).

    Both grids are north-up with the same pixel size; the scan's lies inside the world's.

    Examples
    --------
    >>> from affine import Affine
    >>> m = np.ones((2, 3), bool)
    >>> out = on_world_grid(m, Affine(30, 0, 60, 0, -30, 900), Affine(30, 0, 0, 0, -30, 960),
    ...                     (5, 6))
    >>> np.argwhere(out)[[0, -1]].tolist()
    [[2, 2], [3, 4]]
    """
    r0 = round((world.f - scan.f) / -world.e)
    c0 = round((scan.c - world.c) / world.a)
    h, w = mask.shape
    if scan.a != world.a or r0 < 0 or c0 < 0 or r0 + h > shape[0] or c0 + w > shape[1]:
        raise ValueError(f"the scan's grid ({scan}) does not lie inside the world's ({world})")
    out = np.zeros(shape, dtype=bool)
    out[r0:r0 + h, c0:c0 + w] = mask
    return out


def ring_season_mw(loss: np.ndarray, sun: np.ndarray, ring: np.ndarray, area_m2: float,
                   k_m2_per_mw: float) -> float:
    """Range of the ring's crop cooling over the looks, times the footprint's area, in MW.

    ``loss`` (looks x rows x cols, K per unit of sun) times each look's ``sun``, averaged over
    the ``ring``, is how much the crops cool the ring's mean on that look; a paved footprint
    does not cool, so the excess rises by as much over ``area_m2``. Its largest less its
    smallest value over the looks, over ``k_m2_per_mw``, is the heat the season could pass for.

    Examples
    --------
    >>> loss = np.zeros((2, 2, 2)); loss[1, 0, :] = 4.0  # half the ring loses 4 K per sun
    >>> ring = np.ones((2, 2), bool)
    >>> ring_season_mw(loss, np.array([0.5, 0.5]), ring, 1.0e6, 5000.0)  # 1 K over 1 km2
    200.0
    """
    cooling = loss[:, ring].mean(axis=1) * np.asarray(sun, dtype=float)
    return float((cooling.max() - cooling.min()) * area_m2 / k_m2_per_mw) if cooling.size \
        else float("nan")


def season_left_mw(cooling: np.ndarray, removed_k_m2: np.ndarray, area_m2: float,
                   integration_m2: float, k_m2_per_mw: float) -> float:
    """Range of the ring's season once what the scan took out is subtracted, in MW.

    ``cooling`` (K, per look) is how much the crops cool the ring's mean, which over a paved
    footprint of ``area_m2`` is that much excess; ``removed_k_m2`` what the scan took out of
    each look as greenness (its ``greenness_k_m2``), integrated over its integration region of
    ``integration_m2``, so brought to the footprint's area as the season is. The range of the
    difference over ``k_m2_per_mw`` is the season the scan left.

    Examples
    --------
    A 2 K season over 1 km2 (400 MW at 5,000 K m2 per MW); the scan took out 1.5e6 K m2 of
    it over a region twice the footprint's area, so 0.75e6 over the footprint: 250 MW left.

    >>> season_left_mw(np.array([0.0, 2.0]), np.array([0.0, 1.5e6]), 1.0e6, 2.0e6, 5000.0)
    250.0
    """
    removed = np.asarray(removed_k_m2, dtype=float) * area_m2 / integration_m2
    return float(np.ptp(np.asarray(cooling, dtype=float) * area_m2 - removed)) / k_m2_per_mw


def change_kind(campus: Any) -> str:
    """What a campus did over the series, as the accuracy criteria count it.

    ``shuts down`` (:func:`bench.accuracy.shut_down`: its right final status is
    ``inactive``), else ``powers on`` (:func:`bench.accuracy.onset_in_series`), else
    ``running all series`` when it ran at all, else ``off all series``.

    Examples
    --------
    >>> from types import SimpleNamespace as N
    >>> def campus(*on):
    ...     return N(looks=[N(active=bool(a)) for a in on],
    ...              status_at_end="active" if on[-1] else "inactive")
    >>> [change_kind(campus(*a)) for a in ((1, 1), (0, 1), (1, 0), (0, 0), (0, 1, 0))]
    ['running all series', 'powers on', 'shuts down', 'off all series', 'shuts down']
    """
    from bench.accuracy import onset_in_series, shut_down

    if shut_down(campus):
        return "shuts down"
    if onset_in_series(campus):
        return "powers on"
    return "running all series" if any(lk.active for lk in campus.looks) else "off all series"


@functools.lru_cache(maxsize=2)
def _world_loss(spec: Any, days: tuple[date, ...]) -> tuple[np.ndarray, Any]:
    from models.world import crop_loss

    return crop_loss(spec, list(days))


def ring_season(spec: Any, truth: Any, result: Any, site_id: str,
                onset: date | None = None) -> dict[str, float]:
    """The ring's crop season of one measured site of a scan of ``spec``, from the truth.

    Over the site's clear looks: ``ring_season_mw`` (:func:`ring_season_mw`),
    ``ring_crop_share`` (share of ring pixels that are crops), ``season_shift_mw``, the
    ring's mean cooling from ``onset`` on less before it, in the same MW (positive: the season
    adds a rise to a power-on step, negative: it takes one away; NaN without ``onset`` or
    without a clear look on each side), and ``ring_season_left_mw``: the season's range once
    what the scan took out of the excess as greenness (its ``greenness_k_m2``) is subtracted,
    NaN where it took nothing out (products without red and near-infrared).
    """
    sun = {a.date: a.solar_loading * a.solar_factor for a in truth.acquisitions}
    series = result.series[site_id]
    looks = series[series["clear"].astype(bool)]
    seen = np.array([date.fromisoformat(str(d)[:10]) in sun for d in looks["date"]], dtype=bool)
    clear = [date.fromisoformat(str(d)[:10]) for d in looks["date"][seen]]
    days = tuple(sun)
    every, world_transform = _world_loss(spec, days)  # once per world, for all its sites
    loss = every[[days.index(d) for d in clear]]
    grid = result.state.grid
    masks = result.masks[site_id]
    ring = on_world_grid(masks.ring, grid.transform, world_transform,
                         (spec.size_px, spec.size_px))
    area = float(masks.footprint.sum()) * grid.pixel_area
    light = np.array([sun[d] for d in clear])
    cooling = loss[:, ring].mean(axis=1) * light if clear else np.zeros(0)
    left = season_left_mw(cooling, looks["greenness_k_m2"].to_numpy()[seen], area,
                          masks.integration_area_px * grid.pixel_area, spec.k_m2_per_mw_dry) \
        if "greenness_k_m2" in looks and clear else float("nan")
    after = np.array([onset is not None and d >= onset for d in clear], dtype=bool)
    shift = (cooling[after].mean() - cooling[~after].mean()) * area / spec.k_m2_per_mw_dry \
        if after.any() and (~after).any() else float("nan")
    return {"ring_season_mw": round(ring_season_mw(loss, light, ring, area,
                                                   spec.k_m2_per_mw_dry), 1),
            "ring_crop_share": round(float((loss > 0).any(axis=0)[ring].mean()), 2)
            if clear else 0.0,
            "season_shift_mw": round(float(shift), 1),
            "ring_season_left_mw": round(left, 1)}


def site_records(spec: Any, workdir: Path, config: Any) -> list[dict[str, Any]]:
    """Scan one world; return a record per listed campus the scan measured."""
    from bench.accuracy import scan_world, visible_mw

    truth, result, _ = scan_world(spec, workdir, config)
    sites = result.sites.set_index(result.sites["site_id"].astype(str))
    out = []
    for c in truth.campuses:
        sid = c.site_id
        if not c.in_catalog or sid not in result.masks or sid not in sites.index:
            continue
        row = sites.loc[sid]
        fitted = row["pattern"] if isinstance(row["pattern"], str) else None
        kind = change_kind(c)
        season = ring_season(spec, truth, result, sid, c.onset)
        out.append({"world": spec.name, "site": sid, "truth": kind,
                    "visible_mw": round(visible_mw(c, spec.k_m2_per_mw_dry), 1),
                    "ring_crop_share": season["ring_crop_share"],
                    "ring_season_mw": season["ring_season_mw"],
                    "ring_season_left_mw": season["ring_season_left_mw"],
                    "status": row["status"], "pattern": fitted,
                    "right_final_status": bool(right_final_status(
                        {"status": row["status"], "shut_down": kind == "shuts down"}))
                    if kind in ("powers on", "shuts down") else None})
    return out


def summarise(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per band of ring season: campuses, those running all series and fitted with a change,
    and the power-ons and shutdowns with a wrong final status.

    Examples
    --------
    >>> recs = [{"ring_season_mw": m, "truth": t, "pattern": p, "right_final_status": r}
    ...         for m, t, p, r in ((10.0, "running all series", "always", None),
    ...                            (90.0, "running all series", "onset", None),
    ...                            (90.0, "shuts down", "always", False))]
    >>> for b in summarise(recs):
    ...     print(b["band"], b["campuses"], b["running_all_series"], b["fitted_a_change"],
    ...           b["changes"], b["wrong_status"])
    0-25 MW 1 1 0 0 0
    25-75 MW 0 0 0 0 0
    75-150 MW 2 1 1 1 1
    150+ MW 0 0 0 0 0
    """
    out = []
    for lo, hi in BANDS:
        here = [r for r in records if lo <= r["ring_season_mw"] < hi]
        running = [r for r in here if r["truth"] == "running all series"]
        changed = [r for r in here if r["right_final_status"] is not None]
        out.append({"band": band_name(lo, hi),
                    "campuses": len(here), "running_all_series": len(running),
                    "fitted_a_change": sum(r["pattern"] in CHANGES for r in running),
                    "changes": len(changed),
                    "wrong_status": sum(not r["right_final_status"] for r in changed)})
    return out


def left_summary(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Median ring season before and after the scan's greenness correction, MW.

    Over the campuses whose scan took greenness out (``ring_season_left_mw`` not NaN); also
    how many of them have a season of at least their visible heat, before and after.

    Examples
    --------
    >>> recs = [{"ring_season_mw": a, "ring_season_left_mw": b, "visible_mw": v}
    ...         for a, b, v in ((120.0, 20.0, 100.0), (40.0, 30.0, 35.0),
    ...                         (10.0, float("nan"), 5.0))]
    >>> list(left_summary(recs).values())
    [2, 80.0, 25.0, 2, 0]
    """
    done = [r for r in records if np.isfinite(r["ring_season_left_mw"])]
    return {"campuses": len(done),
            "median_season_mw": float(np.median([r["ring_season_mw"] for r in done]))
            if done else float("nan"),
            "median_left_mw": float(np.median([r["ring_season_left_mw"] for r in done]))
            if done else float("nan"),
            "at_least_visible_before": sum(r["ring_season_mw"] >= r["visible_mw"] for r in done),
            "at_least_visible_after": sum(r["ring_season_left_mw"] >= r["visible_mw"]
                                          for r in done)}


def markdown(summary: list[dict[str, Any]]) -> str:
    """Render the summary as the table docs/benchmarks.md quotes."""
    rows = [[b["band"], b["campuses"],
             f"{b['fitted_a_change']} of {b['running_all_series']}",
             f"{b['wrong_status']} of {b['changes']}"] for b in summary]
    return markdown_table(["ring's crop season (MW of dry heat)", "listed campuses",
                           "running all series: fitted a change",
                           "powering on or shutting down: wrong final status"], rows, "lrrr")


def main(argv: list[str] | None = None) -> int:
    """Scan the development splits and print the table; write the records and summary."""
    from pipeline.core.config import Config, ReaderConfig

    args = dev_split_args(__doc__.splitlines()[0], argv, greenness=True)
    t0 = time.perf_counter()
    config = Config(reader=ReaderConfig(greenness=args.greenness))
    records, splits = over_dev_splits(site_records, config, args.worlds,
                                      "listed campus(es)")
    summary = summarise(records)
    flags = (f" --worlds {args.worlds}" if args.worlds else "") + (
        " --greenness" if args.greenness else "")
    doc = envelope("ring-season", command="python bench/ring_season.py" + flags,
                   config={"splits": splits, "bands_mw": [list(b) for b in BANDS],
                           "greenness": args.greenness})
    doc.update(summary=summary, records=records)
    if args.greenness:
        doc["greenness"] = left = left_summary(records)
    finish(doc, t0)
    write_json(doc, args.out / ("ring-season-greenness.json" if args.greenness
                                else "ring-season.json"))
    print(markdown(summary))
    if args.greenness:
        print(f"after the scan's greenness correction ({left['campuses']} campuses): median "
              f"ring season {left['median_season_mw']:.0f} -> {left['median_left_mw']:.0f} MW; "
              f"at least the campus's visible heat {left['at_least_visible_before']} -> "
              f"{left['at_least_visible_after']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
