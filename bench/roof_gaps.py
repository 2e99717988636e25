"""How well the roof gap and the own season tell a power-on from a new roof or land.

Run from the repository root::

    python bench/roof_gaps.py               # the four widened development splits
    python bench/roof_gaps.py --worlds 2    # the first 2 worlds of each

A new site whose heat is a power-on step must beat a roof built mid-series (a change of solar
response without heat) by ``persistence.change_bic_margin``: its ``roof_gap``
(:func:`pipeline.scan.sites.new_site_rejection`). This benchmark asks how well that gap
separates. For every world of the widened development splits (``bench.accuracy.wide_suite``
and ``onset_suite``, first and second) it scans as ``bench/accuracy.py`` does and takes every
region the search found, candidate or rejected, that is fitted as an onset. Each is matched to
the truth object its footprint covers most, at least :data:`MIN_COVER` of it: a new campus
that powers on, a new campus running all series, a construction site (a roof built during the
series), a warehouse, a fire; else plain land. Per kind it counts the regions, those whose gap
reaches the margin, their median gap, those that still rise with their footprint's own annual
cycle fitted as no heat (``season_pattern`` an onset or a window:
:func:`pipeline.scan.sites.fit_site`), and how each was judged (``candidate`` or its
``rejected_kind``).

Only development splits are offered: the held-out ones stay out of every choice. Writes
``bench/results/roof-gaps.json``; the benchmark reports, it tunes nothing.
"""

from __future__ import annotations

import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as ``python bench/roof_gaps.py``
    sys.path.insert(0, str(ROOT))

from bench._common import (  # noqa: E402
    dev_split_args,
    envelope,
    finish,
    markdown_table,
    over_dev_splits,
    write_json,
)

#: Least share of a truth object a region's footprint must cover to be matched to it.
MIN_COVER = 0.2

#: Kinds of what a region lies over, in the order of the table.
KINDS = ("new campus powering on", "new campus running all series", "construction site",
         "warehouse", "fire", "plain land")


def truth_objects(truth: Any, grid: Any) -> list[tuple[str, str, np.ndarray]]:
    """Return ``(kind, name, mask on grid)`` of every uncatalogued campus and confuser."""
    from shapely.geometry import Polygon

    from bench.accuracy import onset_in_series
    from pipeline.core.grid import from_lonlat
    from pipeline.science.footprint import burn

    out = []
    for c in truth.campuses:
        if not c.in_catalog:
            kind = KINDS[0] if onset_in_series(c) else KINDS[1]
            out.append((kind, c.site_id, burn(from_lonlat(c.footprint, grid.crs), grid)))
    for kind, items in ((KINDS[2], truth.construction), (KINDS[3], truth.warehouses),
                        (KINDS[4], truth.fires)):
        out += [(kind, f.name, burn(from_lonlat(Polygon(f.footprint_lonlat), grid.crs), grid))
                for f in items]
    return out


def lies_over(footprint: np.ndarray, objects: list[tuple[str, str, np.ndarray]]
              ) -> tuple[str, str | None]:
    """Return the kind and name of the object ``footprint`` covers most (plain land: none).

    Examples
    --------
    >>> a = np.zeros((4, 4), bool); a[:2, :2] = True
    >>> b = np.zeros((4, 4), bool); b[3, 3] = True
    >>> lies_over(a, [("warehouse", "w", a), ("fire", "f", b)])
    ('warehouse', 'w')
    >>> lies_over(b, [("warehouse", "w", a)])
    ('plain land', None)
    """
    best, share = (KINDS[-1], None), 0.0
    for kind, name, mask in objects:
        s = float((footprint & mask).sum() / max(int(mask.sum()), 1))
        if s >= MIN_COVER and s > share:
            best, share = (kind, name), s
    return best


def onset_regions(spec: Any, workdir: Path, config: Any) -> list[dict[str, Any]]:
    """Scan one world; return a record per searched region fitted as an onset."""
    from bench.accuracy import scan_world

    truth, result, _ = scan_world(spec, workdir, config)
    objects = truth_objects(truth, result.state.grid)
    sites = result.sites
    listed = set(sites.loc[sites["in_catalog"].astype(bool), "site_id"].astype(str))
    status = dict(zip(sites["site_id"].astype(str), sites["status"], strict=True))
    rejected = {str(e["site_id"]): e["rejected_kind"]
                for e in result.run.get("rejected_candidates", [])}
    out = []
    for sid, fit in result.fits.items():
        sid = str(sid)
        if sid in listed or fit.pattern != "onset" or sid not in result.masks:
            continue
        kind, name = lies_over(result.masks[sid].footprint, objects)
        gap = float(fit.nuisance_gap)
        out.append({"world": spec.name, "region": sid, "lies_over": kind, "object": name,
                    "roof_gap": round(gap, 1) if np.isfinite(gap) else None,
                    "season_pattern": fit.season_pattern,
                    "judged": rejected.get(sid) or status.get(sid, "?")})
    return out


def summarise(records: list[dict[str, Any]], margin: float) -> dict[str, dict[str, Any]]:
    """Per kind of ground: regions, how many reach the roof margin, median gap, judgements.

    Examples
    --------
    >>> recs = [{"lies_over": "plain land", "roof_gap": g, "season_pattern": p,
    ...          "judged": "within_null"}
    ...         for g, p in ((2.0, "never"), (12.0, "window"), (30.0, None))]
    >>> s = summarise(recs, 10.0)["plain land"]
    >>> s["regions"], s["beat_a_roof"], s["median_gap"], s["judged"]
    (3, 2, 12.0, {'within_null': 3})
    >>> s["season_tested"], s["rise_with_own_season"]
    (2, 1)
    """
    from pipeline.scan.sites import STILL_RISES

    out = {}
    for kind in KINDS:
        here = [r for r in records if r["lies_over"] == kind]
        if not here:
            continue
        gaps = [r["roof_gap"] for r in here if r["roof_gap"] is not None]
        tested = [r["season_pattern"] for r in here if r.get("season_pattern") is not None]
        out[kind] = {"regions": len(here),
                     "beat_a_roof": sum(g >= margin for g in gaps),
                     "median_gap": round(float(np.median(gaps)), 1) if gaps else None,
                     "season_tested": len(tested),
                     "rise_with_own_season": sum(p in STILL_RISES for p in tested),
                     "judged": dict(Counter(r["judged"] for r in here).most_common())}
    return out


def markdown(summary: dict[str, dict[str, Any]], margin: float) -> str:
    """Render the summary as the table docs/benchmarks.md quotes."""
    rows = [[kind, s["regions"], s["beat_a_roof"], s["median_gap"],
             f"{s['rise_with_own_season']} of {s['season_tested']}",
             ", ".join(f"{k} {v}" for k, v in s["judged"].items())]
            for kind, s in summary.items()]
    return markdown_table(["searched onset over", "regions", f"roof gap >= {margin:g}",
                           "median gap", "still rises with its own season", "judged"], rows,
                          "lrrrrl")


def main(argv: list[str] | None = None) -> int:
    """Scan the development splits and print the table; write the records and summary."""
    from pipeline.core.config import Config

    args = dev_split_args(__doc__.splitlines()[0], argv)
    config, t0 = Config(), time.perf_counter()
    margin = config.persistence.change_bic_margin
    records, splits = over_dev_splits(onset_regions, config, args.worlds, "searched onset(s)")
    summary = summarise(records, margin)
    doc = envelope("roof-gaps", command="python bench/roof_gaps.py" + (
        f" --worlds {args.worlds}" if args.worlds else ""),
        config={"splits": splits, "change_bic_margin": margin, "min_cover": MIN_COVER})
    doc.update(summary=summary, records=records)
    finish(doc, t0)
    write_json(doc, args.out / "roof-gaps.json")
    print(markdown(summary, margin))
    return 0


if __name__ == "__main__":
    sys.exit(main())
