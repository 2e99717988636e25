"""Console presentation of a run's rows: rich tables and the lines the commands print.

The CLI parses options and calls the library; what it shows of the results is rendered here.
Like the rest of :mod:`pipeline.report`, this module reads rows (mappings, data frames), never
the scan. Cells are literal text (site ids and names are untrusted), never rich markup.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.markup import escape
from rich.progress import Progress, TaskID

from models.energy import Interval
from pipeline.core.config import Config
from pipeline.report.tables import (
    VERDICT_CAPTION,
    VERDICT_EVIDENCE,
    VERDICT_EVIDENCE_CAPTION,
    cell,
    energy_value,
    heat_cells,
    print_table,
    sites_cell,
    status_cell,
    verdict_cell,
    verdict_evidence_cells,
)

if TYPE_CHECKING:
    import pandas as pd

#: Messages, notes and progress go to stderr; tables to stdout.
console = Console(stderr=True)


def calibration_line(run: Mapping[str, Any]) -> str:
    """Say which coefficient made the verdicts and whose declarations fed it."""
    cal = run.get("calibration", {})
    used = ", ".join(cal.get("declarations_used", [])) or "none"
    own = " (each site's own left out of its verdict)" if cal.get("declarations_used") else ""
    return (f"verdicts from the {cal.get('mode', cal.get('method'))} coefficient; "
            f"declarations used for the calibration: {used}{own}")


def print_sites(sites: pd.DataFrame, rejected: Sequence[Mapping[str, Any]] = ()) -> None:
    """Print a scan's site table, its rejected candidates' summary and possible shutdowns."""
    rows = []
    for s in sites.to_dict("records"):
        rows.append([s["site_id"], status_cell(s),
                     *heat_cells(s.get("heat_mw"), s.get("heat_mw_low"), s.get("heat_mw_high")),
                     cell(s.get("first_seen")), cell(s.get("last_seen")),
                     cell(s.get("persistence"), "{:.2f}"), cell(s.get("n_clear")),
                     cell(s.get("reported_power_mw"), "{:.0f}"),
                     verdict_cell(s.get("verdict"))])
    print_table("Heatwatch scan", ["site", "status", "heat MW", "[90%]", "first seen",
                                    "last seen", "persist.", "clear", "declared MW", "verdict"],
                 rows, right={"heat MW", "[90%]", "persist.", "clear", "declared MW"},
                 stack={"[90%]", "last seen", "clear", "verdict"},
                 caption=VERDICT_CAPTION if any(r[-1] not in ("-", "inconclusive")
                                                for r in rows) else None,
                 empty="no catalogued site and no new-site candidate" + (
                     f"; {len(rejected)} rejected candidate(s), each with its reason in run.json"
                     if rejected else ""))
    print_below_threshold(rejected)
    for s in sites.to_dict("records"):
        since = s.get("possible_shutdown_since")
        if isinstance(since, str) and since:
            console.print(f"possible shutdown: {s['site_id']}'s clear looks since {since} show "
                          "less than a third of its heat; too few to call it, the next clear "
                          "looks will tell", markup=False)


def print_below_threshold(rejected: Sequence[Mapping[str, Any]]) -> None:
    """Say how many rejected regions had heat, and where the largest of each kind is.

    Those with heat below ``power.min_candidate_mw``, and those with more heat that were turned
    down for another reason (always on through the series, within their null, too little
    land), the largest with its reason: the regions an analyst may want to scan again.
    """
    hot = [r for r in rejected if isinstance(r.get("heat_mw"), int | float)
           and r["heat_mw"] > 0]  # the other rejections carry no heat
    below = [r for r in hot if _too_small(r)]
    above = [r for r in hot if not _too_small(r)]
    if below:
        top = max(below, key=lambda r: r["heat_mw"])
        console.print(f"{len(below)} region(s) with heat below power.min_candidate_mw, not "
                      f"reported as candidates; the largest: {_heat_at(top)}; all with their "
                      "place in run.json", markup=False)
    if above:
        top = max(above, key=lambda r: r["heat_mw"])
        console.print(f"{len(above)} region(s) with heat of at least power.min_candidate_mw "
                      f"rejected; the largest: {_heat_at(top)}: {top['rejected_because']}; "
                      "all with their reason and place in run.json", markup=False)


def _too_small(r: Mapping[str, Any]) -> bool:
    """Return whether a region was rejected for heat below ``power.min_candidate_mw``."""
    return r.get("rejected_kind") == "below_min_mw"


def _heat_at(r: Mapping[str, Any]) -> str:
    """Return a rejected region's heat, interval, place and id for one console line."""
    lat, lon = r["lat"], r["lon"]
    place = f"{abs(lat):.5f} {'N' if lat >= 0 else 'S'}, {abs(lon):.5f} {'E' if lon >= 0 else 'W'}"
    return (f"{r['heat_mw']:.0f} MW [{r['heat_mw_low']:.0f}-{r['heat_mw_high']:.0f}] at {place} "
            f"({r['site_id']})")


def print_candidates(cands: pd.DataFrame) -> None:
    """Print discovery's ranked candidates."""
    rows = []
    for s in cands.to_dict("records"):
        rows.append([str(s["rank"]), s["site_id"], s["tile_id"], status_cell(s),
                     *heat_cells(s.get("heat_mw"), s.get("heat_mw_low"), s.get("heat_mw_high")),
                     cell(s.get("persistence"), "{:.2f}"), cell(s.get("first_seen")),
                     cell(s.get("last_seen"))])
    # an excluded place shows its exclusion label in the status column
    print_table("Heatwatch discover: ranked candidates",
                 ["rank", "site", "tile", "status", "heat MW", "[90%]", "persist.",
                  "first seen", "last seen"], rows,
                 right={"rank", "heat MW", "[90%]", "persist."},
                 stack={"tile", "[90%]", "last seen"}, empty="no candidate in the region")


def print_not_covered(sites: Sequence[Mapping[str, Any]]) -> None:
    """Name the sites no scene covers (none: print nothing)."""
    from pipeline.report.files import not_covered_line  # lazy: see tables.status_cell

    line = not_covered_line([dict(s) for s in sites])
    if line:
        console.print(f"[yellow]note[/] {escape(line)}")


def print_coverage(grid: dict[str, Any], cfg: Config) -> None:
    """Say so when new sites were searched in only part of the imagery."""
    imagery, scanned = grid.get("imagery_km2"), grid.get("scanned_km2")
    if imagery and scanned is not None and scanned < 0.99 * imagery:
        console.print(
            f"[yellow]note[/] new sites were searched in {scanned:,.0f} of {imagery:,.0f} km2 of "
            f"imagery: the catalog's extent plus grid.margin_m = {cfg.grid.margin_m:g} m. To "
            "search the rest, run `heatwatch discover` or raise grid.margin_m.")


def print_fetch(report: Any, out: Path) -> bool:
    """Print a Sentinel Hub fetch: failures, products, requests, units; True if any failed."""
    for site_id, product_id, message in report.failures:
        console.print(f"[yellow]failed[/] {escape(site_id)} {product_id or ''}: {escape(message)}")
    console.print(f"{len(report.products)} product(s) in {out}; {report.n_requests} request(s), "
                  f"{report.n_cached} answered from the cache, "
                  f"{report.processing_units:.3g} processing units")
    return bool(report.failures)


def print_stac_fetch(report: Any, out: Path) -> bool:
    """Print a STAC fetch: failures, products, requests, bytes, baselines; True if any failed."""
    for site_id, product_id, message in report.failures:
        console.print(f"[yellow]failed[/] {escape(site_id)} {product_id or ''}: {escape(message)}")
    read = report.to_dict()["bytes_read"]
    console.print(f"{len(report.products)} product(s) in {out}; {report.n_requests} request(s), "
                  f"{report.n_cached} answered from the cache, "
                  f"{'?' if read is None else f'{read / 1e6:.3g} MB'} read")
    for site_id, per_year in report.bytes_per_site_year().items():
        console.print(f"  {escape(site_id)}: {per_year / 1e6:.3g} MB per site-year")
    for site_id, b in report.baseline.items():
        console.print(f"  {escape(site_id)}: baseline {b.start} to {b.end} ({b.basis})")
    return bool(report.failures)


def print_truth(matches: Sequence[tuple[Any, Mapping[str, Any] | None]]) -> None:
    """Print the demo's campuses beside the scan rows that found them (``WorldTruth.found``)."""
    rows = []
    for c, found in matches:
        heat = None if found is None else found["heat_mw"]
        ratio = "-" if not heat or not c.power_mw else f"{heat / c.power_mw:.2f}"
        rows.append([c.site_id, "yes" if c.in_catalog else "no", f"{c.power_mw:.0f}",
                     c.status_at_end, "-" if found is None else found["site_id"],
                     "-" if found is None else found["status"], cell(heat, "{:.0f}"), ratio])
    print_table("Demo: scan against the world's truth",
                ["campus", "catalog", "true MW", "true status", "found as", "status",
                 "heat MW", "ratio"], rows, right={"true MW", "heat MW", "ratio"},
                stack={"true status", "status", "ratio"})


def alert_line(alert: Any) -> None:
    """Print an alert as it is delivered (the console sink of the monitor)."""
    Console().print(f"[bold yellow]alert[/] {escape(alert.kind)}: {escape(alert.message)}")


def print_statuses(statuses: Sequence[Mapping[str, Any]]) -> None:
    """Print the monitor's latest status of every site (nothing without statuses)."""
    if not statuses:
        return
    print_table("Heatwatch monitor: latest status",
                ["site", "as of", "status", "heat MW", "[90%]", "first seen", "last seen",
                 "verdict", *VERDICT_EVIDENCE],
                [[sites_cell(s["site_id"]), s["as_of_date"], status_cell(s),
                  *heat_cells(s["heat_mw"], s["heat_mw_low"], s["heat_mw_high"]),
                  s["first_seen"] or "-", s["last_seen"] or "-", verdict_cell(s["verdict"]),
                  *verdict_evidence_cells(s)]
                 for s in statuses],
                right={"heat MW", "[90%]", "margin"},
                stack={"status", "[90%]", "last seen", "margin"},
                caption=VERDICT_EVIDENCE_CAPTION)


def print_history(site_id: str, frame: pd.DataFrame, *, plot: Path | None = None) -> None:
    """Print a site's time series from the history store, one look a row (and ``plot``)."""
    print_table(
        f"{site_id}: {len(frame)} look(s)",
        ["date", "clear", "excess K m²", "heat MW", "active", "status", "status MW", "[90%]",
         "verdict", *VERDICT_EVIDENCE],
        [[str(r["date"]), "yes" if r["clear"] == 1 else "no",
          sites_cell(r["excess_k_m2"], "{:,.0f}"), sites_cell(r["heat_mw"], "{:.0f}"),
          "yes" if r["active"] == 1 else "", status_cell(r),
          *heat_cells(r["status_heat_mw"], r["heat_mw_low"], r["heat_mw_high"]),
          verdict_cell(r["verdict"]), *verdict_evidence_cells(r)]
         for r in frame.to_dict("records")],
        right={"excess K m²", "heat MW", "status MW", "[90%]", "margin"},
        stack={"active", "[90%]", "margin"},
        caption="heat MW: the look's residual heat; status: as of the look's date; "
                + VERDICT_EVIDENCE_CAPTION)
    if plot is not None:
        console.print(f"plot written to {plot}", markup=False)


def print_energy(title: str, result: Any, *, as_json: bool = False) -> None:
    """Print an energy-model result (:mod:`models.energy`): a table, or its JSON on stdout."""
    if as_json:
        print(json.dumps(result.as_dict(), indent=2))
        return
    rows = []
    for label, value, unit in result.rows():
        iv = value if isinstance(value, Interval) else Interval.point(value)
        bounds = (iv.low, iv.high) if iv.low != iv.high else (None, None)
        rows.append([label, *(energy_value(v, unit) for v in (iv.central, *bounds)), unit])
    print_table(title, ["quantity", "central", "low", "high", "unit"], rows,
                right={"central", "low", "high"},
                caption="low/high: every parameter at its extreme together")


def print_site(site: pd.Series, timeline: pd.DataFrame, *, credit: str | None, area_km2: float,
               projected: Collection[str]) -> None:
    """Print one catalog site: its attributes, footprint and dated timeline.

    ``projected`` holds the timeline dates (``YYYY-MM-DD``) that are projections.
    """
    from rich.table import Table

    out = Console()
    info = Table(show_header=False, title=str(site["name"]), caption=credit)
    info.add_column("field", style="bold")
    info.add_column("value", overflow="fold")
    for key, value in site.items():
        if key not in ("geometry", "timeline", "sources"):
            info.add_row(str(key), sites_cell(value))
    centre = site.geometry.centroid
    info.add_row("footprint",
                 f"{area_km2:.2f} km² around lat {centre.y:.5f}, lon {centre.x:.5f}")
    out.print(info)
    if timeline.empty:
        out.print("no timeline")
        return
    print_table(
        "timeline", ["date", "power MW", "H100e", "water MGD", "status"],
        [[f"{e.date:%Y-%m-%d}" + (" projected" if f"{e.date:%Y-%m-%d}" in projected else ""),
          sites_cell(e.power_mw, "{:,.0f}"),
          sites_cell(e.h100e, "{:,.0f}"), sites_cell(e.water_mgd, "{:.3g}"),
          sites_cell(e.status)] for e in timeline.itertuples()],
        right={"power MW", "H100e", "water MGD"}, out=out)
    if projected:
        out.print("rows marked projected are dated after the data's release: Epoch's "
                  "projections, never compared with heat", markup=False)


# What each command prints after its run; True when the run was partial (exit code 3). ---------


def print_scan(result: Any, out: Path, cfg: Config) -> bool:
    """Print a scan (:class:`pipeline.scan.run.ScanResult`): sites, skipped, outputs, coverage."""
    print_sites(result.sites, rejected=result.run.get("rejected_candidates", []))
    skipped = result.run.get("skipped", [])
    for s in skipped:
        console.print(f"[yellow]skipped[/] {s['path']}: {s['message']}")
    console.print(f"outputs in {out}; {calibration_line(result.run)}", markup=False)
    print_not_covered(result.run.get("not_covered", []))
    print_coverage(result.run["grid"], cfg)
    return bool(skipped)


def print_site_scans(sites: pd.DataFrame, fetch: Any) -> bool:
    """Print per-site scans merged (Sentinel Hub) and the fetch's failures."""
    print_sites(sites)
    for f in fetch.failures:
        console.print(f"[yellow]fetch failed[/] {escape(str(f))}")
    return bool(fetch.failures)


def print_discover(result: Any, out: Path, fetch: Any = None,
                   imagery: Path | None = None) -> bool:
    """Print a discovery (:class:`pipeline.discover.run.DiscoverResult`) and its fetch."""
    if fetch is not None and imagery is not None:
        print_fetch(fetch, imagery)
    print_candidates(result.candidates)
    failed = [o for o in result.outcomes if o.status == "failed"]
    for o in failed:
        console.print(f"[yellow]tile failed[/] {o.tile_id}: {escape(o.message or '')}")
    rejected = result.run.get("rejected_candidates", [])
    if rejected:
        top = rejected[0]
        console.print(f"{len(rejected)} region(s) the tiles' searches rejected, each with its "
                      f"reason and place in discover.json; the hottest: "
                      f"{cell(top.get('heat_mw'), '{:.0f}')} MW at {top.get('lat')}, "
                      f"{top.get('lon')} (tile {top.get('tile_id')}): "
                      f"{top.get('rejected_because')}",
                      markup=False)
    resumed = sum(o.status == "resumed" for o in result.outcomes)
    console.print(f"{len(result.tiles)} tile(s), {resumed} resumed; outputs in {out}",
                  markup=False)
    return bool(failed or (fetch is not None and fetch.failures))


def print_monitor(report: Any) -> bool:
    """Print a monitoring run (:class:`pipeline.monitor.run.MonitorReport`)."""
    for s in report.skipped:
        console.print(f"[yellow]skipped[/] {s['path']}: {s['message']}", markup=False)
    for p in report.problems:
        console.print(f"problem: {p}", markup=False)
    if report.uncovered_sites:
        console.print(f"{len(report.uncovered_sites)} site(s) outside every scene", markup=False)
    print_statuses(report.statuses)
    if report.nothing_new:
        console.print(f"no new scene; store {report.store} unchanged", markup=False)
    else:
        console.print(f"run {report.run_id}: {len(report.new_products)} new product(s), "
                      f"{report.n_scenes_scanned} scene(s) scanned, {len(report.alerts)} new "
                      f"alert(s); store {report.store}, alerts {report.alerts_file}", markup=False)
    return bool(report.skipped or report.problems)


def print_thermal(done: Sequence[Any], problems: Sequence[Any], reported: Sequence[Any],
                  out: Path) -> int:
    """Print the end of ``heatwatch thermal``; return its exit code (0, 2 none done, 3 partial).

    ``reported`` are the problems already printed as they came.
    """
    for p in problems:  # files met while discovering (no MTL, duplicates, strays)
        if p not in reported:
            console.print(f"[yellow]ignored[/] {escape(str(p.path))}: {escape(p.message)}")
    console.print(f"{len(done)} scene(s) written to {out}, {len(problems)} problem(s)")
    if not done:
        console.print("[bold red]error:[/] no scene could be processed")
        return 2
    return 3 if problems else 0


# Progress -------------------------------------------------------------------------------------


def progress_bar() -> Progress:
    """Return a rich progress display on stderr (description, bar, n of N, time)."""
    from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


class Bars:
    """Progress bars made as the library reports, one a name (fetch, scan, tiles, monitor)."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.tasks: dict[str, TaskID] = {}

    def task(self, name: str) -> TaskID:
        """Return the bar ``name``, made on first use."""
        if name not in self.tasks:
            self.tasks[name] = self.progress.add_task(name, total=None)
        return self.tasks[name]

    def fetch(self, done: int, total: int, description: str) -> None:
        """Show a fetch's ``progress(done, total, description)``."""
        self.progress.update(self.task("fetch"), completed=done, total=total,
                             description=description[:25])

    def total(self, n: int, name: str = "scan") -> None:
        """Add ``n`` steps to the bar ``name`` (per-site scans add up)."""
        task = self.task(name)
        before = next(t.total for t in self.progress.tasks if t.id == task) or 0
        self.progress.update(task, total=before + n)

    def tile(self, outcome: Any) -> None:
        """Advance the ``tiles`` bar by a tile's outcome (``tile_id``, ``status``)."""
        self.progress.update(self.task("tiles"), advance=1,
                             description=f"{outcome.tile_id} {outcome.status}")

    def step(self, description: str, name: str = "scan") -> None:
        """Advance the bar ``name`` by one step, described (first 25 characters)."""
        self.progress.update(self.task(name), advance=1, description=description[:25])


@contextmanager
def bars() -> Iterator[Bars]:
    """Show progress bars while the block runs; each ends as ``<name> done`` on success."""
    with progress_bar() as progress:
        made = Bars(progress)
        yield made
        for name, task in made.tasks.items():
            progress.update(task, description=f"{name} done")


def print_catalog(sites: pd.DataFrame, *, caption: str | None) -> None:
    """Print a site catalog: id, name, operator, power, H100e, cooling."""
    h100e = sites["h100e"] if "h100e" in sites.columns else [None] * len(sites)
    print_table(
        f"{len(sites)} site(s)", ["id", "name", "operator", "power MW", "H100e", "cooling"],
        [[sites_cell(row.site_id), sites_cell(row.name), sites_cell(row.operator),
          sites_cell(row.reported_power_mw, "{:,.0f}"), sites_cell(h, "{:,.0f}"),
          sites_cell(row.cooling)] for row, h in zip(sites.itertuples(), h100e, strict=True)],
        right={"power MW", "H100e"}, stack={"operator"}, caption=caption)


class SceneLines:
    """``on_result`` of :func:`pipeline.scan.thermal.run_thermal`: a line and a step a scene.

    A result of ``problem_type`` (the reader's ``Problem``) is printed as skipped and kept in
    :attr:`reported`; any other result prints its ``line()``.
    """

    def __init__(self, progress: Progress, total: int, problem_type: type[Any]) -> None:
        self.progress, self.problem_type = progress, problem_type
        self.task = progress.add_task("thermal", total=total)
        self.reported: list[Any] = []

    def __call__(self, product: object, result: Any) -> None:
        """Print the scene's line (or why it was skipped) and advance the bar."""
        if isinstance(result, self.problem_type):
            self.reported.append(result)
            self.progress.console.print(f"[yellow]skipped[/] {escape(result.path.name)}: "
                                        f"{escape(result.message)}")
        else:
            self.progress.console.print(escape(result.line()))
        self.progress.advance(self.task)


def print_report(written: Mapping[str, Any], out_dir: Path) -> None:
    """Print what ``heatwatch report`` (re)built (:func:`pipeline.report.build.build_report`)."""
    console.print(f"{len(written['reports'])} site report(s) in {out_dir / 'reports'}, "
                  f"{len(written['evidence'])} evidence figure(s), map: {written['map']}",
                  markup=False)
    print_not_covered([{"site_id": s} for s in written.get("not_covered", [])])
