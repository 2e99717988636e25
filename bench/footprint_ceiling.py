"""What the evidence says of each new onset on its true footprint: search or evidence?

Run from the repository root::

    python bench/footprint_ceiling.py                  # the widened new-onset development split
    python bench/footprint_ceiling.py --second         # its second development split
    python bench/footprint_ceiling.py --scene-px 500   # in 15 km scenes (more land around)
    python bench/footprint_ceiling.py --earlier-looks 46   # seen a year longer, before it

A new campus that powers on mid-series can be missed by the scan for two reasons: the search
drew a footprint that holds too much land beside the campus (or none at all), or the evidence
on the campus itself does not stand out of its land. This benchmark tells them apart. For every
world of a widened new-onset split (``bench.accuracy.onset_suite``) it adds the true polygon of
each new campus with at least ``bench.accuracy.ONSET_VISIBLE_MW`` of visible heat to the
world's site file, without any declaration, scans the world as ``bench/accuracy.py`` does, and
judges that footprint as the search would judge a region it found: the roof-gated placebo null
and the roof test (:func:`pipeline.scan.sites.searched_test`,
:func:`pipeline.scan.sites.new_site_rejection`). The other regions the search found are not a
reference here (a footprint nobody searched for went through no selection), so the region test
is left out. Beside it, from the accuracy results of the same split
(``bench/results/accuracy-wide-onset*.json``), whether the scan itself found the campus, and
the status the polygon gets as a listed site.

A listed site is one hypothesis whose rise counts as heat even where a roof explains it as well,
so its ``active`` says less than a candidate's. How often plain land gets it is measured in a
second scan of the same world: each new campus's polygon moved 2 km north, south, east and west
(where it stays on the grid and 300 m clear of everything the world holds) and listed the same
way.

``--scene-px`` and ``--earlier-looks`` are ``bench/accuracy.py``'s: the same worlds with more
land around them (a search's false-alarm rate needs room for placebos of a campus's size), or
with more seasons before them (a step stays, a season comes back). The scan's own finds are
then read from the accuracy results of the same options, where they have been run.

Only the development splits are offered: the held-out ones stay out of every choice.
Writes ``bench/results/footprint-ceiling-wide-onset[-second][-scene-px N][-earlier-looks N].json``;
the benchmark reports, it tunes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from the repository root
    sys.path.insert(0, str(ROOT))

from bench._common import RESULTS, band_name, envelope, finish, write_json  # noqa: E402
from bench.ring_season import BANDS, ring_season  # noqa: E402
from pipeline.core.grid import from_lonlat  # noqa: E402
from pipeline.core.site_row import null_judges  # noqa: E402

#: Prefix of the site ids given to the true polygons.
PREFIX = "TRUE-"
#: Prefix of the site ids of the campus polygons moved over plain land.
LAND_PREFIX = "LAND-"
#: How far each campus polygon is moved to land on plain land (m).
LAND_SHIFT_M = 2000.0
#: Clearance of a moved polygon from the grid's edge and everything the world holds (m).
LAND_CLEARANCE_M = 300.0


def listed(collection: dict[str, Any], polygons: list[tuple[str, str, Any]]) -> dict[str, Any]:
    """Return the site file ``collection`` with ``(site_id, cooling, lon/lat ring)`` sites added.

    Each is added with no declared power, so the scan measures it as a footprint nobody
    declared.

    Examples
    --------
    >>> ring = [(0.0, 0.0), (0.01, 0.0), (0.01, 0.01), (0.0, 0.0)]
    >>> out = listed({"type": "FeatureCollection", "features": []}, [("TRUE-S2", "dry", ring)])
    >>> f = out["features"][0]
    >>> f["properties"]["site_id"], f["properties"]["reported_power_mw"], f["geometry"]["type"]
    ('TRUE-S2', None, 'Polygon')
    """
    features = list(collection.get("features", []))
    for sid, cooling, ring in polygons:
        features.append({
            "type": "Feature",
            "properties": {"site_id": sid, "name": sid, "operator": "unknown",
                           "reported_power_mw": None, "cooling": cooling},
            "geometry": {"type": "Polygon", "coordinates": [[list(p) for p in ring]]}})
    return {"type": "FeatureCollection", "features": features}


def land_polygons(truth: Any, campuses: list[Any]) -> list[tuple[str, str, Any]]:
    """Each campus's polygon moved :data:`LAND_SHIFT_M` north, south, east and west.

    Kept where it stays :data:`LAND_CLEARANCE_M` inside the grid and as far from every
    campus, warehouse, construction site, fire and power plant the world holds: campus-shaped
    footprints of plain land, as ``(site_id, cooling, lon/lat ring)``.
    """
    import geopandas as gpd
    from shapely.affinity import translate
    from shapely.geometry import Polygon, box

    g = truth.grid
    a, _, x0, _, e, y0 = g.transform
    grid = box(min(x0, x0 + a * g.width), min(y0, y0 + e * g.height),
               max(x0, x0 + a * g.width), max(y0, y0 + e * g.height))
    held = [c.footprint_lonlat for c in truth.campuses] + [
        f.footprint_lonlat for f in (*truth.warehouses, *truth.construction, *truth.fires,
                                     *truth.power_plants)]
    taken = gpd.GeoSeries([Polygon(r) for r in held], crs=4326).to_crs(g.epsg).buffer(
        LAND_CLEARANCE_M).union_all()
    inside = grid.buffer(-LAND_CLEARANCE_M)
    d = LAND_SHIFT_M
    out = []
    for c in campuses:
        poly = from_lonlat(Polygon(c.footprint_lonlat), g.epsg)
        for side, (dx, dy) in zip("NSEW", ((0, d), (0, -d), (d, 0), (-d, 0)), strict=True):
            moved = translate(poly, dx, dy)
            if inside.contains(moved) and not moved.intersects(taken):
                ring = gpd.GeoSeries([moved], crs=g.epsg).to_crs(4326).iloc[0].exterior.coords
                out.append((f"{LAND_PREFIX}{c.site_id}-{side}", c.cooling, list(ring)))
    return out


def new_onsets(truth: Any, visible_mw: float) -> list[Any]:
    """The uncatalogued campuses of ``truth`` that power on during the series, visibly enough.

    Visible heat as ``bench/accuracy.py`` counts it (:func:`bench.accuracy.visible_mw`).
    """
    from bench.accuracy import onset_in_series
    from bench.accuracy import visible_mw as visible

    k_dry = truth.spec.k_m2_per_mw_dry
    return [c for c in truth.campuses if not c.in_catalog and onset_in_series(c)
            and visible(c, k_dry) >= visible_mw]


def _scan_listed(out: Path, truth: Any, config: Any, polygons: list[tuple[str, str, Any]],
                 name: str) -> Any:
    """Scan the world in ``out`` with ``polygons`` added to its site file (as ``name``)."""
    import geopandas as gpd

    from aoi.sites import read_sites
    from pipeline.scan.run import run_scan

    sites = out / "sites.geojson"
    collection = json.loads(sites.read_text()) if sites.exists() else {}
    (out / name).write_text(json.dumps(listed(collection, polygons)))
    exclusions = gpd.read_file(out / "exclusions.geojson") if truth.power_plants else None
    return run_scan(out, config, sites=read_sites(out / name), exclusions=exclusions)


def measure_world(spec: Any, workdir: Path, config: Any, visible_mw: float
                  ) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Scan ``spec`` with its new onsets' true polygons listed, then with them moved to land.

    Returns one record per new onset (its true polygon judged as searched and as listed) and
    one per polygon of plain land (its status as a listed site).
    """
    from bench.accuracy import _nearest_index
    from bench.accuracy import visible_mw as visible
    from models.world import generate_world
    from pipeline.scan.sites import new_site_rejection, searched_test
    from pipeline.science.power import HeatEstimate

    out = workdir / spec.name
    truth = generate_world(spec, out, overwrite=True)
    campuses = new_onsets(truth, visible_mw)
    if not campuses:
        return [], []
    result = _scan_listed(out, truth, config, [(PREFIX + c.site_id, c.cooling, c.footprint_lonlat)
                                               for c in campuses], "true_sites.geojson")
    solar = np.array([sc.solar for sc in result.state.scenes], dtype=float)
    dates = [a.date for a in truth.acquisitions]
    records = []
    for c in campuses:
        sid = PREFIX + c.site_id
        row = result.sites[result.sites["site_id"] == sid].iloc[0]
        fit = result.fits[sid]
        placebos = result.placebos.get(sid)
        null = None if placebos is None else placebos.null(
            solar, modes=config.persistence.land_modes,
            roof_margin=config.persistence.change_bic_margin)
        test = searched_test(fit, null, config)
        est = HeatEstimate(*(float(row[k] or 0.0) for k in ("heat_mw", "heat_mw_low",
                                                             "heat_mw_high")))
        why = new_site_rejection(fit, est, test, config)
        first = _nearest_index(dates, row["first_seen"])
        start = [lk.active for lk in c.looks].index(True)
        records.append({
            "world": spec.name, "site_id": c.site_id, "power_mw": c.power_mw,
            "visible_mw": visible(c, truth.spec.k_m2_per_mw_dry),
            "pattern": fit.pattern, "nuisance_gap": float(fit.nuisance_gap),
            # listed without a declaration, as an analyst would list a suspected campus
            "status_as_listed": str(row["status"]),
            "null_z_as_listed": row["null_z"],
            "heat_mw": float(row["heat_mw"] or 0.0),
            "onset_error_acq": None if first is None or fit.pattern != "onset"
            else first - start,
            "passes_as_searched": why is None, "rejected_because": why,
            "null_false_alarm_per_1000km2": None if test is None
            else float(test["null_false_alarm_per_1000km2"]),
            "null_n_independent": None if test is None else float(test["null_n_independent"]),
            # the crop season of its ring (bench/ring_season.py), and how much of it falls
            # across the power-on
            **ring_season(spec, truth, result, sid, c.onset),
        })
    land = land_polygons(truth, campuses)
    if not land:
        return records, []
    rows = _scan_listed(out, truth, config, land, "land_sites.geojson").sites.set_index(
        "site_id")
    return records, [{"world": spec.name, "site_id": sid,
                      "status_as_listed": str(rows.at[sid, "status"]),
                      "pattern": str(rows.at[sid, "pattern"]),
                      "roof_gap": rows.at[sid, "roof_gap"],
                      "heat_mw": rows.at[sid, "heat_mw"],
                      "null_statistic": rows.at[sid, "null_statistic"],
                      "null_z": rows.at[sid, "null_z"],
                      # with null_z: whether the null can judge a listed onset (null_judges)
                      "null_n_independent": rows.at[sid, "null_n_independent"]}
                     for sid, _, _ in land]


def _scan_found(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The accuracy results' records of the same split, by (world, site id); {} without them."""
    if not path.exists():
        return {}
    doc = json.loads(path.read_text())
    return {(w["world"], c["site_id"]): c for w in doc["worlds"] for c in w["campuses"]}


def summarise(records: list[dict[str, Any]],
              land: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    """Counts of new onsets that pass on their true footprint, and that the scan found.

    With ``land``, also how many polygons of plain land were listed, their statuses, and for
    how many of those with a heat statistic have no null that can judge it
    (:func:`pipeline.core.site_row.null_judges`: a finite z, placebos over enough distinct land).

    Examples
    --------
    >>> recs = [{"passes_as_searched": True, "onset_error_acq": 1, "scan_found": False},
    ...         {"passes_as_searched": False, "onset_error_acq": None, "scan_found": True},
    ...         {"passes_as_searched": True, "onset_error_acq": 5, "scan_found": True,
    ...          "status_as_listed": "active"}]
    >>> summarise(recs)["pass_on_true_footprint"], summarise(recs)["within_2_on_true_footprint"]
    (2, 1)
    """
    def n(key: str, want: Any = True) -> int:
        return sum(1 for r in records if r.get(key) == want)

    def by_season(lo: float, hi: float) -> dict[str, int]:
        here = [r for r in records if lo <= r.get("ring_season_mw", float("nan")) < hi]
        return {"new_onsets": len(here),
                "pass_on_true_footprint": sum(1 for r in here if r["passes_as_searched"])}

    return {"new_onsets": len(records), "pass_on_true_footprint": n("passes_as_searched"),
            # by the crop season of the ring (bench/ring_season.py)
            "by_ring_season": {band_name(lo, hi): by_season(lo, hi) for lo, hi in BANDS},
            "within_2_on_true_footprint": sum(
                1 for r in records if r["passes_as_searched"]
                and r["onset_error_acq"] is not None and abs(r["onset_error_acq"]) <= 2),
            "active_as_listed": n("status_as_listed", "active"),
            "found_by_scan": n("scan_found"),
            "pass_on_true_footprint_missed_by_scan": sum(
                1 for r in records if r["passes_as_searched"] and r.get("scan_found") is False),
            "land_listed": len(land or []),
            "land_statuses": {st: sum(1 for r in land or [] if r["status_as_listed"] == st)
                              for st in sorted({r["status_as_listed"] for r in land or []})},
            # a statistic its null cannot judge, by the rule site_status applies to a listed
            # onset (a polygon fitted `never` has no statistic to judge)
            "land_null_cannot_judge": sum(
                1 for r in land or [] if isinstance(r.get("null_statistic"), str)
                and not null_judges(r))}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on one development split and print one line per new onset."""
    from bench.accuracy import (
        ONSET_VISIBLE_MW,
        add_world_options,
        check_world_options,
        flags_suffix,
        onset_suite,
        option_flags,
        with_world_options,
    )
    from pipeline.core.config import Config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--second", action="store_true",
                    help="the second new-onset development split (seeds 500+)")
    ap.add_argument("--worlds", type=int, default=None, help="only the first N worlds")
    add_world_options(ap)
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    check_world_options(ap, args)
    options = option_flags(args, ("scene_px", "earlier_looks"))
    name = ("wide-onset-second" if args.second else "wide-onset") + flags_suffix(options)
    suite = with_world_options(onset_suite(second=args.second, n_worlds=args.worlds), args)
    found = _scan_found(args.out / f"accuracy-{name}.json")
    config, t0, records, land = Config(), time.perf_counter(), [], []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in suite:
            found_here, land_here = measure_world(spec, Path(tmp), config, ONSET_VISIBLE_MW)
            land += land_here
            for r in land_here:
                print(f"{r['world']:16s} {r['site_id']:12s} plain land, listed: "
                      f"{r['status_as_listed']} ({r['pattern']}, {r['null_statistic']} z "
                      f"{r['null_z']})", flush=True)
            for r in found_here:
                scan = found.get((r["world"], r["site_id"]))
                r["scan_found"] = None if scan is None else bool(scan["detected"])
                records.append(r)
                print(f"{r['world']:16s} {r['site_id']:4s} {r['visible_mw']:5.0f} MW visible: "
                      f"{'passes' if r['passes_as_searched'] else 'fails'} on its true "
                      f"footprint (onset error {r['onset_error_acq']}), "
                      f"{r['status_as_listed']} as a listed site; scan found it: "
                      f"{r['scan_found']}" + ("" if r["passes_as_searched"]
                                             else f"; {r['rejected_because']}"), flush=True)
    doc = envelope("footprint-ceiling", command="python bench/footprint_ceiling.py"
                   + (" --second" if args.second else "") + options,
                   config={"split": name, "worlds": [s.name for s in suite],
                           "visible_mw": ONSET_VISIBLE_MW})
    doc.update(summary=summarise(records, land), records=records, land=land)
    finish(doc, t0)
    write_json(doc, args.out / f"footprint-ceiling-{name}.json")
    print(json.dumps(doc["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
