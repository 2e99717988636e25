"""What the evidence says of each new onset on its true footprint: search or evidence?

Run from the repository root::

    python bench/footprint_ceiling.py                  # the widened new-onset development split
    python bench/footprint_ceiling.py --second         # its second development split

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
(``bench/results/accuracy-wide-onset*.json``), whether the scan itself found the campus.

Only the development splits are offered: the held-out ones stay out of every choice.
Writes ``bench/results/footprint-ceiling-wide-onset[-second].json``; the benchmark reports,
it tunes nothing.
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

from bench._common import RESULTS, envelope, finish, write_json  # noqa: E402

#: Prefix of the site ids given to the true polygons.
PREFIX = "TRUE-"


def true_sites(collection: dict[str, Any], campuses: list[Any]) -> dict[str, Any]:
    """Return the site file ``collection`` with the true polygon of each of ``campuses`` added.

    Each is added as a site ``TRUE-<site_id>`` with no declared power (its cooling kept), so the
    scan measures it as a footprint nobody declared.

    Examples
    --------
    >>> from types import SimpleNamespace
    >>> c = SimpleNamespace(site_id="S2", cooling="dry",
    ...                     footprint_lonlat=[(0.0, 0.0), (0.01, 0.0), (0.01, 0.01), (0.0, 0.0)])
    >>> out = true_sites({"type": "FeatureCollection", "features": []}, [c])
    >>> f = out["features"][0]
    >>> f["properties"]["site_id"], f["properties"]["reported_power_mw"], f["geometry"]["type"]
    ('TRUE-S2', None, 'Polygon')
    """
    features = list(collection.get("features", []))
    for c in campuses:
        features.append({
            "type": "Feature",
            "properties": {"site_id": PREFIX + c.site_id, "name": f"true footprint of {c.site_id}",
                           "operator": "unknown", "reported_power_mw": None,
                           "cooling": c.cooling},
            "geometry": {"type": "Polygon",
                         "coordinates": [[list(p) for p in c.footprint_lonlat]]}})
    return {"type": "FeatureCollection", "features": features}


def new_onsets(truth: Any, visible_mw: float) -> list[Any]:
    """The uncatalogued campuses of ``truth`` that power on during the series, visibly enough.

    Visible heat as ``bench/accuracy.py`` counts it: the excess the world put there over its dry
    coefficient (MW of dry cooling).
    """
    out = []
    for c in truth.campuses:
        active = [lk.active for lk in c.looks]
        if c.in_catalog or not any(active) or active[0]:
            continue
        if c.expected_excess_k_m2 / truth.spec.k_m2_per_mw_dry >= visible_mw:
            out.append(c)
    return out


def measure_world(spec: Any, workdir: Path, config: Any, visible_mw: float
                  ) -> list[dict[str, Any]]:
    """Scan ``spec`` with its new onsets' true polygons as sites; one record per new onset."""
    import geopandas as gpd

    from aoi.sites import read_sites
    from bench.accuracy import _nearest_index
    from models.world import generate_world
    from pipeline.scan.run import run_scan
    from pipeline.scan.sites import new_site_rejection, searched_test
    from pipeline.science.power import HeatEstimate

    out = workdir / spec.name
    truth = generate_world(spec, out, overwrite=True)
    campuses = new_onsets(truth, visible_mw)
    if not campuses:
        return []
    listed = out / "sites.geojson"
    collection = json.loads(listed.read_text()) if listed.exists() else {}
    (out / "true_sites.geojson").write_text(json.dumps(true_sites(collection, campuses)))
    exclusions = gpd.read_file(out / "exclusions.geojson") if truth.power_plants else None
    result = run_scan(out, config, sites=read_sites(out / "true_sites.geojson"),
                      exclusions=exclusions)
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
            "visible_mw": c.expected_excess_k_m2 / truth.spec.k_m2_per_mw_dry,
            "pattern": fit.pattern, "nuisance_gap": float(fit.nuisance_gap),
            # listed without a declaration, as an analyst would list a suspected campus
            "status_as_listed": str(row["status"]),
            "heat_mw": float(row["heat_mw"] or 0.0),
            "onset_error_acq": None if first is None or fit.pattern != "onset"
            else first - start,
            "passes_as_searched": why is None, "rejected_because": why,
            "null_false_alarm_per_1000km2": None if test is None
            else float(test["null_false_alarm_per_1000km2"]),
            "null_n_independent": None if test is None else float(test["null_n_independent"]),
        })
    return records


def _scan_found(path: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """The accuracy results' records of the same split, by (world, site id); {} without them."""
    if not path.exists():
        return {}
    doc = json.loads(path.read_text())
    return {(w["world"], c["site_id"]): c for w in doc["worlds"] for c in w["campuses"]}


def summarise(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Counts of new onsets that pass on their true footprint, and that the scan found.

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

    return {"new_onsets": len(records), "pass_on_true_footprint": n("passes_as_searched"),
            "within_2_on_true_footprint": sum(
                1 for r in records if r["passes_as_searched"]
                and r["onset_error_acq"] is not None and abs(r["onset_error_acq"]) <= 2),
            "active_as_listed": n("status_as_listed", "active"),
            "found_by_scan": n("scan_found"),
            "pass_on_true_footprint_missed_by_scan": sum(
                1 for r in records if r["passes_as_searched"] and r.get("scan_found") is False)}


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark on one development split and print one line per new onset."""
    from bench.accuracy import ONSET_VISIBLE_MW, onset_suite
    from pipeline.core.config import Config

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--second", action="store_true",
                    help="the second new-onset development split (seeds 500+)")
    ap.add_argument("--worlds", type=int, default=None, help="only the first N worlds")
    ap.add_argument("--out", type=Path, default=RESULTS)
    args = ap.parse_args(argv)
    name = "wide-onset-second" if args.second else "wide-onset"
    suite = onset_suite(second=args.second, n_worlds=args.worlds)
    found = _scan_found(args.out / f"accuracy-{name}.json")
    config, t0, records = Config(), time.perf_counter(), []
    with tempfile.TemporaryDirectory() as tmp:
        for spec in suite:
            for r in measure_world(spec, Path(tmp), config, ONSET_VISIBLE_MW):
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
                   + (" --second" if args.second else ""),
                   config={"split": name, "worlds": [s.name for s in suite],
                           "visible_mw": ONSET_VISIBLE_MW})
    doc.update(summary=summarise(records), records=records)
    finish(doc, t0)
    write_json(doc, args.out / f"footprint-ceiling-{name}.json")
    print(json.dumps(doc["summary"]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
