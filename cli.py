"""Heatwatch command line: thin commands that parse options, call the library, write outputs.

Every command shares the options defined in :mod:`pipeline.cli_options`-style helpers below
(``--config``, ``--out``). Errors derived from :class:`pipeline.core.errors.HeatwatchError`
are printed as one clear line and turn into a non-zero exit code; anything else is a bug and
shows a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from pipeline import __version__
from pipeline.core.config import Config, load_config
from pipeline.core.errors import HeatwatchError

if TYPE_CHECKING:
    from rich.progress import Progress

app = typer.Typer(
    name="heatwatch",
    help="Watch AI datacenters from space through their heat.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

# Shared options -------------------------------------------------------------------------------
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML file overriding configs/default.yaml."),
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if absent).")]


class Calibration(str, Enum):
    """Choices of --calibration."""

    fitted = "fitted"
    physics = "physics"


CalibrationOpt = Annotated[
    Calibration | None,
    typer.Option("--calibration", help="Coefficient that turns excess into MW for the verdicts: "
                 "'fitted' on the other catalogued sites' declarations (leave-one-out) or "
                 "'physics' (sourced facts, no declaration used); both are always reported. "
                 "Default: power.calibration."),
]


def _config(path: Path | None, overrides: dict | None = None,
            calibration: Calibration | None = None) -> Config:
    if calibration is not None:
        overrides = dict(overrides or {})
        overrides["power"] = {**overrides.get("power", {}), "calibration": calibration.value}
    return load_config(path, overrides=overrides)


#: Verdicts as the tables show them (the full words, margins and coefficients are in
#: sites.geojson and the reports; :data:`VERDICT_CAPTION` says what they mean).
_SHORT_VERDICT = {"refuted: over-declared": "refuted: over", "refuted: under-reported":
                  "refuted: under"}
VERDICT_CAPTION = ("verdict: the declared power tested against the heat interval; refuted: over "
                   "= declared more than the heat allows, refuted: under = less; not refuted is "
                   "no verification (margin and coefficient in sites.geojson and the reports)")


def _verdict_cell(verdict: object) -> str:
    """Return a verdict in the few characters a table column has."""
    return "-" if verdict is None else _SHORT_VERDICT.get(str(verdict), str(verdict))


def _calibration_line(run: Mapping[str, Any]) -> str:
    """Say which coefficient made the verdicts and whose declarations fed it."""
    cal = run.get("calibration", {})
    used = ", ".join(cal.get("declarations_used", [])) or "none"
    own = " (each site's own left out of its verdict)" if cal.get("declarations_used") else ""
    return (f"verdicts from the {cal.get('mode', cal.get('method'))} coefficient; "
            f"declarations used for the calibration: {used}{own}")


def _fail(exc: HeatwatchError) -> typer.Exit:
    console.print(f"[bold red]error:[/] {escape(str(exc))}")
    return typer.Exit(code=2)


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(f"heatwatch {__version__}")
        raise typer.Exit()


# Commands are added below, one section each. ---------------------------------------------------


# discover ---------------------------------------------------------------------------------------
def _read_region(path: Path):  # type: ignore[no-untyped-def]
    import geopandas as gpd

    from pipeline.core.errors import ConfigError

    if not path.is_file():
        raise ConfigError(f"region {path} is not a file; pass a GeoJSON polygon of the area")
    try:
        return gpd.read_file(path)
    except Exception as exc:  # any GDAL/pyogrio failure is a bad input file
        raise ConfigError(f"cannot read region {path}: {exc}") from exc


def _print_candidates(cands) -> None:  # type: ignore[no-untyped-def]
    rows = []
    for s in cands.to_dict("records"):
        rows.append([str(s["rank"]), s["site_id"], s["tile_id"], _status_cell(s),
                     *_heat_cells(s.get("heat_mw"), s.get("heat_mw_low"), s.get("heat_mw_high")),
                     _cell(s.get("persistence"), "{:.2f}"), _cell(s.get("first_seen")),
                     _cell(s.get("last_seen"))])
    # an excluded place shows its exclusion label in the status column
    _print_table("Heatwatch discover: ranked candidates",
                 ["rank", "site", "tile", "status", "heat MW", "[90%]", "persist.",
                  "first seen", "last seen"], rows,
                 right={"rank", "heat MW", "[90%]", "persist."},
                 stack={"tile", "[90%]", "last seen"}, empty="no candidate in the region")


@app.command()
def discover(
    region: Annotated[Path, typer.Option(help="GeoJSON polygon(s) of the region to search.")],
    out: OutOpt,
    imagery: Annotated[Path | None, typer.Option(
        help="Folder of Landsat C2 products over the region (with --source sentinelhub: the "
             "folder the tiles are fetched into, one subfolder per tile; default "
             "OUT/imagery).")] = None,
    start: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="First acquisition date used (from each MTL).")] = None,
    end: Annotated[datetime | None, typer.Option(
        formats=["%Y-%m-%d"], help="Last acquisition date used (inclusive).")] = None,
    sites: Annotated[Path | None, typer.Option(
        help="Site catalog (GeoJSON/GPKG/CSV); catalogued sites are not reported.")] = None,
    exclusions: Annotated[Path | None, typer.Option(
        help="GeoJSON of known non-datacenter heat sources; nearby candidates are labelled.",
    )] = None,
    workers: Annotated[int | None, typer.Option(
        min=0, help="Local Dask worker processes (0: run in this process, no Dask).")] = None,
    scheduler: Annotated[str | None, typer.Option(
        help="Address of a running dask.distributed scheduler, e.g. tcp://host:8786.")] = None,
    config: ConfigOpt = None,
    source: Annotated[str, typer.Option(
        help="'local': --imagery holds the products; 'sentinelhub': fetch every tile from "
             "Sentinel Hub into --imagery first (needs --start and --end).")] = "local",
    calibration: CalibrationOpt = None,
) -> None:
    """Flag new large sites over a region: tiles scanned in parallel, merged and ranked.

    With --source sentinelhub each tile is fetched on its own (answers cached in
    sentinelhub.cache_dir, so a re-run fetches nothing it has) and scanned on its own crops;
    OUT/fetch.json records the requests and processing units.
    """
    from pipeline.core.errors import ConfigError
    from pipeline.discover.run import region_tiles, run_discover, tile_sites

    overrides: dict = {"discover": {}}
    if workers:
        overrides["discover"]["n_workers"] = workers
    if scheduler:
        overrides["discover"]["scheduler_address"] = scheduler
    try:
        cfg = _config(config, overrides, calibration)
        area = _read_region(region)
        catalog = None
        if sites is not None:
            from aoi.sites import read_sites

            catalog = read_sites(sites, max_area_km2=cfg.grid.max_site_area_km2)
        excl = None if exclusions is None else _read_exclusions(exclusions)
        fetched = None
        if source == "sentinelhub":
            if start is None or end is None:
                raise ConfigError("--source sentinelhub needs --start and --end "
                                  "(e.g. --start 2024-01-01 --end 2024-12-31)")
            imagery = imagery or out / "imagery"
            # the tile grids already carry their overlap: fetch them as they are
            areas = _fetchable(tile_sites(region_tiles(area, cfg)), cfg)
            fetched = _fetch_areas(areas, start, end, imagery, cfg, margin_m=0.0,
                                   record=out / "fetch.json",
                                   about={"command": "discover", "region_file": str(region)})
        elif source != "local":
            raise ConfigError(f"--source {source!r}: use 'local' or 'sentinelhub'")
        elif imagery is None:
            raise ConfigError("give --imagery FOLDER (Landsat C2 products over the region), or "
                              "--source sentinelhub --start D --end D to fetch them")
        with _progress() as progress:
            task = progress.add_task("tiles", total=None)
            result = run_discover(
                imagery, area, cfg, out_dir=out, sites=catalog, exclusions=excl,
                start=start.date() if start else None, end=end.date() if end else None,
                client=False if workers == 0 and not scheduler else None,
                on_total=lambda n: progress.update(task, total=n),
                progress=lambda o: progress.update(task, advance=1,
                                                   description=f"{o.tile_id} {o.status}"),
                per_tile=fetched is not None)
            progress.update(task, description="tiles done")
    except HeatwatchError as exc:
        raise _fail(exc) from exc
    if fetched is not None:
        _print_fetch(fetched, imagery)
    _print_candidates(result.candidates)
    failed = [o for o in result.outcomes if o.status == "failed"]
    for o in failed:
        console.print(f"[yellow]tile failed[/] {o.tile_id}: {escape(o.message or '')}")
    resumed = sum(o.status == "resumed" for o in result.outcomes)
    console.print(f"{len(result.tiles)} tile(s), {resumed} resumed; outputs in {out}",
                  markup=False)
    if failed or (fetched is not None and fetched.failures):
        raise typer.Exit(code=EXIT_PARTIAL)


# report -----------------------------------------------------------------------------------------
@app.command()
def report(
    out_dir: Annotated[Path, typer.Argument(help="Output folder of a finished scan (run.json).")],
    no_evidence: Annotated[bool, typer.Option(
        "--no-evidence", help="Keep the evidence PNGs; rebuild only the reports and map.")] = False,
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Skip the PDF reports.")] = False,
) -> None:
    """(Re)build evidence maps, site reports and the interactive map from a finished scan."""
    from pipeline.report.build import build_report

    try:
        written = build_report(out_dir, evidence=not no_evidence, pdf=not no_pdf)
    except HeatwatchError as exc:
        raise _fail(exc) from exc
    console.print(f"{len(written['reports'])} site report(s) in {out_dir / 'reports'}, "
                  f"{len(written['evidence'])} evidence figure(s), map: {written['map']}",
                  markup=False)
    _print_not_covered([{"site_id": s} for s in written.get("not_covered", [])])


def _print_not_covered(sites: Sequence[Mapping[str, Any]]) -> None:
    from pipeline.report.files import not_covered_line

    line = not_covered_line(list(sites))
    if line:
        console.print(f"[yellow]note[/] {escape(line)}")


# monitor, history -------------------------------------------------------------------------------
StoreOpt = Annotated[
    Path | None,
    typer.Option("--store", help="History store (default: monitor.store of the configuration)."),
]


def _alert_line(alert) -> None:  # type: ignore[no-untyped-def]
    from rich.markup import escape

    Console().print(f"[bold yellow]alert[/] {escape(alert.kind)}: {escape(alert.message)}")


@app.command()
def monitor(
    config: ConfigOpt = None,
    imagery: Annotated[Path | None, typer.Option(
        "--imagery", help="Local folder of products (default: monitor.imagery_dir).")] = None,
    sites: Annotated[Path | None, typer.Option(
        "--sites", help="Site catalog (default: the shipped Epoch catalog).")] = None,
    backfill: Annotated[bool | None, typer.Option(
        "--backfill/--no-backfill",
        help="Alert on every past change of a site new to the store, or only on its latest "
             "date (default: monitor.backfill, false: no flood of past alerts).")] = None,
    calibration: CalibrationOpt = None,
) -> None:
    """Scan new scenes of the catalog sites into the history store and raise alerts."""
    from pipeline.monitor.run import run_monitor

    try:
        cfg = _config(config, None if backfill is None else {"monitor": {"backfill": backfill}},
                      calibration)
        if sites is not None:
            from aoi.sites import read_sites

            table = read_sites(sites, max_area_km2=cfg.grid.max_site_area_km2)
        else:
            from aoi.catalog import load_catalog

            table = load_catalog()
        with _progress() as progress:
            task = progress.add_task("monitor", total=None)
            report = run_monitor(cfg, imagery_dir=imagery, sites=table, echo=_alert_line,
                                 progress=lambda pid: progress.update(task, advance=1,
                                                                      description=pid[:25]))
            progress.update(task, description="monitor done")
    except HeatwatchError as exc:
        raise _fail(exc) from exc
    for s in report.skipped:
        console.print(f"[yellow]skipped[/] {s['path']}: {s['message']}", markup=False)
    for p in report.problems:
        console.print(f"problem: {p}", markup=False)
    if report.uncovered_sites:
        console.print(f"{len(report.uncovered_sites)} site(s) outside every scene", markup=False)
    if report.statuses:
        _print_table("Heatwatch monitor: latest status",
                     ["site", "as of", "status", "heat MW", "[90%]", "first seen", "last seen",
                      "verdict"],
                     [[_sites_cell(s["site_id"]), s["as_of_date"], _status_cell(s),
                       *_heat_cells(s["heat_mw"], s["heat_mw_low"], s["heat_mw_high"]),
                       s["first_seen"] or "-", s["last_seen"] or "-",
                       _verdict_cell(s["verdict"])]
                      for s in report.statuses],
                     right={"heat MW", "[90%]"}, stack={"status", "[90%]", "last seen"})
    if report.nothing_new:
        console.print(f"no new scene; store {report.store} unchanged", markup=False)
    else:
        console.print(f"run {report.run_id}: {len(report.new_products)} new product(s), "
                      f"{report.n_scenes_scanned} scene(s) scanned, {len(report.alerts)} new "
                      f"alert(s); store {report.store}, alerts {report.alerts_file}", markup=False)
    if report.skipped or report.problems:
        raise typer.Exit(code=EXIT_PARTIAL)


@app.command()
def history(
    site_id: Annotated[str, typer.Argument(help="Site id, as in the history store.")],
    store: StoreOpt = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write a PNG here.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Print a site's time series from the history store (and plot it with --plot)."""
    from pipeline.core.errors import StoreError
    from pipeline.monitor.run import history_frame, write_history_plot
    from pipeline.monitor.store import HistoryStore, store_exists

    try:
        path = store or _config(config).monitor.store
        if not store_exists(path):
            raise StoreError(f"no history store at {path}; run `heatwatch monitor` first or "
                             "pass --store FILE")
        with HistoryStore(path) as st:
            frame = history_frame(st, site_id)
        if plot is not None:
            write_history_plot(frame, site_id, plot)
    except HeatwatchError as exc:
        raise _sites_fail(exc) from exc
    _print_table(
        f"{site_id}: {len(frame)} look(s)",
        ["date", "clear", "excess K m²", "heat MW", "active", "status", "status MW", "[90%]",
         "verdict"],
        [[str(r["date"]), "yes" if r["clear"] == 1 else "no",
          _sites_cell(r["excess_k_m2"], "{:,.0f}"), _sites_cell(r["heat_mw"], "{:.0f}"),
          "yes" if r["active"] == 1 else "", _status_cell(r),
          *_heat_cells(r["status_heat_mw"], r["heat_mw_low"], r["heat_mw_high"]),
          _verdict_cell(r["verdict"])] for r in frame.to_dict("records")],
        right={"excess K m²", "heat MW", "status MW", "[90%]"},
        stack={"active", "[90%]"},
        caption="heat MW: the look's residual heat; status: as of the look's date")
    if plot is not None:
        console.print(f"plot written to {plot}", markup=False)


def _heat_cells(heat: object, low: object, high: object) -> list[str]:
    """Cells of a heat figure and its interval: ``["497", "[232-966]"]`` (``"-"`` if none)."""
    def num(v: object) -> str:
        return f"{v:.0f}" if isinstance(v, int | float) and v == v else "?"

    if not isinstance(heat, int | float) or heat != heat:
        return ["-", "-"]
    return [num(heat), f"[{num(low)}-{num(high)}]"]


# fetch ------------------------------------------------------------------------------------------
@app.command()
def fetch(
    sites: Annotated[Path, typer.Option("--sites", help="Sites file (GeoJSON, GPKG or CSV).")],
    start: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="First day, UTC.")],
    end: Annotated[datetime, typer.Option(formats=["%Y-%m-%d"], help="Last day, UTC, included.")],
    out: OutOpt,
    config: ConfigOpt = None,
    collection: Annotated[str | None, typer.Option(
        help="LANDSAT_OT_L2 (surface temperature) or LANDSAT_OT_L1 (brightness temperature); "
             "default from the configuration.")] = None,
    source: Annotated[str, typer.Option(
        help="'sentinelhub' (account needed) or 'stac' (free Landsat Collection 2 archives: "
             "stac.endpoint, USGS LandsatLook by default).")] = "sentinelhub",
    level: Annotated[str | None, typer.Option(
        help="stac: l2 (surface temperature), l1 (counts) or both (Level-2 where there is one, "
             "Level-1 night looks); default stac.level.")] = None,
    baseline: Annotated[bool, typer.Option(
        "--baseline/--no-baseline",
        help="stac: also fetch each site's before-state period (before its first Epoch "
             "timeline date, else stac.baseline_years before --start).")] = True,
) -> None:
    """Fetch Landsat 8/9 thermal imagery over sites, as Collection 2 products.

    Writes one product folder per site below OUT and OUT/fetch.json (requests, failures; with
    --source stac also bytes read, item provenance and each site's baseline period).

    Answers are cached (sentinelhub.cache_dir, stac.cache_dir): a re-run fetches nothing it
    already has.

    Credentials: SH_CLIENT_ID/SH_CLIENT_SECRET or the sentinelhub profile (never printed); the
    STAC archives need none.
    """
    from aoi.sites import read_sites

    overrides = {} if collection is None else {"sentinelhub": {"collection": collection}}
    try:
        cfg = _config(config, overrides)
        site_table = read_sites(sites, max_area_km2=cfg.grid.max_site_area_km2)
        if source == "stac":
            stac_report = _fetch_stac(site_table, start.date(), end.date(), out, cfg, level=level,
                                      baseline=baseline,
                                      about={"command": "fetch", "sites_file": str(sites)})
        elif source != "sentinelhub":
            from pipeline.core.errors import ConfigError

            raise ConfigError(f"--source {source!r}: use 'sentinelhub' or 'stac'")
    except HeatwatchError as exc:
        raise _fail(exc) from exc
    if source == "stac":
        _print_stac_fetch(stac_report, out)
        if stac_report.failures:
            raise typer.Exit(code=EXIT_PARTIAL)
        return
    try:
        report = _fetch_areas(site_table, start, end, out, cfg, margin_m=cfg.grid.margin_m,
                              record=out / "fetch.json",
                              about={"command": "fetch", "sites_file": str(sites)})
    except HeatwatchError as exc:
        raise _fail(exc) from exc
    _print_fetch(report, out)
    if report.failures:
        raise typer.Exit(code=EXIT_PARTIAL)


def _fetch_areas(areas, start: datetime, end: datetime, out: Path, cfg: Config, *,  # type: ignore[no-untyped-def]
                 margin_m: float, record: Path, about: Mapping[str, Any]):
    """Fetch ``areas`` (``site_id`` + polygon) from Sentinel Hub with a progress bar.

    Writes ``record`` (what was asked, requests, processing units, failures); returns the
    :class:`pipeline.io.sentinelhub.FetchReport`.
    """
    from pipeline.core.outputs import write_json
    from pipeline.io.sentinelhub import fetch_sites

    with _progress() as progress:
        task = progress.add_task("fetch", total=None)

        def step(done: int, total: int, description: str) -> None:
            progress.update(task, completed=done, total=total, description=description[:25])

        report = fetch_sites(areas, start=start.date(), end=end.date(), out_dir=out,
                             config=cfg.sentinelhub, margin_m=margin_m, progress=step)
        progress.update(task, description="fetch done")
    record.parent.mkdir(parents=True, exist_ok=True)
    write_json(record, {**about, "start": f"{start:%Y-%m-%d}", "end": f"{end:%Y-%m-%d}",
                        "margin_m": margin_m, **report.to_dict()})
    return report


def _fetch_stac(areas, start: date, end: date, out: Path, cfg: Config, *,  # type: ignore[no-untyped-def]
                level: str | None, baseline: bool, about: Mapping[str, Any]):
    """Fetch ``areas`` from the STAC archive with a progress bar; write OUT/fetch.json."""
    from pipeline.core.outputs import write_json
    from pipeline.io.stac.source import fetch_sites_stac

    with _progress() as progress:
        task = progress.add_task("fetch", total=None)

        def step(done: int, total: int, description: str) -> None:
            progress.update(task, completed=done, total=total, description=description[:25])

        report = fetch_sites_stac(areas, start=start, end=end, out_dir=out,
                                  config=cfg.stac, margin_m=cfg.grid.margin_m, level=level,
                                  baseline=baseline, progress=step)
        progress.update(task, description="fetch done")
    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "fetch.json", {**about, "start": f"{start:%Y-%m-%d}",
                                    "end": f"{end:%Y-%m-%d}", "margin_m": cfg.grid.margin_m,
                                    **report.to_dict()})
    return report


def _print_stac_fetch(report, out: Path) -> None:  # type: ignore[no-untyped-def]
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


def _fetchable(tiles, cfg: Config):  # type: ignore[no-untyped-def]
    """Return the tile areas if one request can fetch each; else say which setting to lower."""
    from pipeline.core.errors import ConfigError
    from pipeline.io.sentinelhub import MAX_PIXELS, fetch_grid

    widest = max((max(fetch_grid(g, margin_m=0.0).shape) for g in tiles.geometry), default=0)
    if widest > MAX_PIXELS:
        d = cfg.discover
        raise ConfigError(
            f"a tile of discover.tile_size_m = {d.tile_size_m:g} m with discover.tile_overlap_m "
            f"= {d.tile_overlap_m:g} m is {widest} pixels wide, above Sentinel Hub's "
            f"{MAX_PIXELS} pixels per request; lower discover.tile_size_m")
    return tiles


def _print_fetch(report, out: Path) -> None:  # type: ignore[no-untyped-def]
    for site_id, product_id, message in report.failures:
        console.print(f"[yellow]failed[/] {escape(site_id)} {product_id or ''}: {escape(message)}")
    console.print(f"{len(report.products)} product(s) in {out}; {report.n_requests} request(s), "
                  f"{report.n_cached} answered from the cache, "
                  f"{report.processing_units:.3g} processing units")


# energy -----------------------------------------------------------------------------------------
def _energy_value(value: object, unit: str) -> str:
    if not isinstance(value, int | float):
        return ""
    if unit in {"FLOP/s", "OP/s", "FLOP"}:
        return f"{value:.3g}"
    if unit in {"count", "H100e"}:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if unit in {"x", "kW"} else f"{value:,.1f}"


@app.command()
def energy(
    accelerator: Annotated[
        list[str] | None,
        typer.Option("--accelerator", "-a", help="Accelerator name (repeat for a mix)."),
    ] = None,
    count: Annotated[
        list[int] | None, typer.Option("--count", "-n", help="Number of accelerators (forward).")
    ] = None,
    heat_mw: Annotated[float | None, typer.Option(
        help="MW to invert (inverse): heat rejected while training by default; see "
             "--convention.")] = None,
    convention: Annotated[str, typer.Option(
        help="What --heat-mw is: 'training' (heat rejected at training draw, what Landsat "
             "sees) or 'peak' (facility power at peak, Epoch AI's MW).")] = "training",
    heat_low: Annotated[float | None, typer.Option(help="Lower bound of the heat, MW.")] = None,
    heat_high: Annotated[float | None, typer.Option(help="Upper bound of the heat, MW.")] = None,
    cooling: Annotated[
        str | None, typer.Option(help="dry, evaporative or hybrid (default: unknown).")
    ] = None,
    pue: Annotated[float | None, typer.Option(help="Fix the PUE (default: sourced range).")] = None,
    utilization: Annotated[
        float | None, typer.Option(help="Fix the training power fraction (default: range).")
    ] = None,
    days: Annotated[float | None, typer.Option(help="Operating period, days (FLOP total).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Energy model: accelerators -> power and heat, or observed heat -> implied accelerators."""
    import json

    from models.energy import ForwardResult, Interval, InverseResult, forward, inverse
    from pipeline.core.errors import EnergyModelError

    names = accelerator or ["h100"]
    try:
        if (heat_mw is None) == (not count):
            raise EnergyModelError("give either --count (forward) or --heat-mw (inverse)")
        if heat_mw is None and (heat_low is not None or heat_high is not None):
            raise EnergyModelError("--heat-low and --heat-high need --heat-mw")
        result: ForwardResult | InverseResult
        if count:
            if len(names) != len(count) or len(set(names)) != len(names):
                raise EnergyModelError("give one distinct --accelerator for each --count")
            hours = None if days is None else days * 24
            result = forward(
                dict(zip(names, count, strict=True)),
                utilization=utilization,
                pue=pue,
                cooling=cooling,
                hours=hours,
            )
            title = "Forward: " + ", ".join(f"{n:,} {a}" for a, n in result.cluster.counts.items())
        else:
            if len(names) != 1:
                raise EnergyModelError("the inverse takes a single --accelerator")
            assert heat_mw is not None
            low = heat_mw if heat_low is None else heat_low
            high = heat_mw if heat_high is None else heat_high
            result = inverse(
                Interval(heat_mw, low, high),
                accelerator=names[0],
                cooling=cooling,
                active_days=days,
                pue=pue,
                utilization=utilization,
                convention=convention,
            )
            what = ("MW of facility power at peak (Epoch AI's convention)"
                    if convention == "peak" else
                    "MW of heat rejected at training draw (--convention peak for peak "
                    "facility MW)")
            title = f"Inverse: {heat_mw:g} {what} as {result.accelerator}"
    except HeatwatchError as exc:
        raise _fail(exc) from exc
    if as_json:
        typer.echo(json.dumps(result.as_dict(), indent=2))
        return
    title += f" ({result.parameters.cooling} cooling)"
    rows = []
    for label, value, unit in result.rows():
        iv = value if isinstance(value, Interval) else Interval.point(value)
        bounds = (iv.low, iv.high) if iv.low != iv.high else (None, None)
        rows.append([label, *(_energy_value(v, unit) for v in (iv.central, *bounds)), unit])
    _print_table(title, ["quantity", "central", "low", "high", "unit"], rows,
                 right={"central", "low", "high"},
                 caption="low/high: every parameter at its extreme together")


# sites ------------------------------------------------------------------------------------------
sites_app = typer.Typer(
    help="List, show and edit site catalogs (default: the shipped Epoch AI campus catalog).",
    no_args_is_help=True,
)
app.add_typer(sites_app, name="sites")

SitesCatalogOpt = Annotated[
    Path | None,
    typer.Option("--catalog", help="User catalog file (default: the shipped Epoch catalog)."),
]
SitesUserCatalogOpt = Annotated[
    Path,
    typer.Option("--catalog", help="User catalog GeoJSON to update (created if absent)."),
]
SitesRadiusOpt = Annotated[
    float, typer.Option("--radius-m", help="Footprint radius around points, metres.")
]


def _sites_fail(exc: HeatwatchError) -> typer.Exit:
    # _fail escapes rich markup in messages (site ids and names are untrusted).
    return _fail(exc)


def _sites_cell(value: object, fmt: str = "{}") -> object:
    from rich.text import Text

    text = _cell(value, fmt)  # Text, not markup: catalog values are untrusted
    return Text(text, style="dim" if text == "-" else "")


@sites_app.command("list")
def sites_list(catalog: SitesCatalogOpt = None) -> None:
    """List the sites of a catalog: id, name, operator, power, H100e, cooling."""
    from aoi.catalog import catalog_credit, load_catalog

    try:
        sites = load_catalog(catalog)
    except HeatwatchError as exc:
        raise _sites_fail(exc) from exc
    h100e = sites["h100e"] if "h100e" in sites.columns else [None] * len(sites)
    _print_table(
        f"{len(sites)} site(s)", ["id", "name", "operator", "power MW", "H100e", "cooling"],
        [[_sites_cell(row.site_id), _sites_cell(row.name), _sites_cell(row.operator),
          _sites_cell(row.reported_power_mw, "{:,.0f}"), _sites_cell(h, "{:,.0f}"),
          _sites_cell(row.cooling)] for row, h in zip(sites.itertuples(), h100e, strict=True)],
        right={"power MW", "H100e"}, stack={"operator"}, caption=catalog_credit(sites))


@sites_app.command("show")
def sites_show(
    site_id: Annotated[str, typer.Argument(help="Site id, as in `heatwatch sites list`.")],
    catalog: SitesCatalogOpt = None,
    geojson: Annotated[Path | None, typer.Option(
        "--geojson", help="Also write the site (footprint, declarations, timeline) to this "
                          "GeoJSON file, ready for --sites.")] = None,
) -> None:
    """Show one site: its attributes, footprint and dated timeline."""
    from rich.table import Table

    from aoi.catalog import catalog_credit, catalog_timeline, load_catalog
    from aoi.sites import select_site, write_sites
    from aoi.utm import area_km2

    try:
        sites = load_catalog(catalog)
        site = select_site(sites, site_id)
        timeline = catalog_timeline(site_id, sites)
        if geojson is not None:
            write_sites(sites[sites["site_id"] == site_id], geojson)
    except HeatwatchError as exc:
        raise _sites_fail(exc) from exc
    out = Console()
    info = Table(show_header=False, title=str(site["name"]), caption=catalog_credit(sites))
    info.add_column("field", style="bold")
    info.add_column("value", overflow="fold")
    for key, value in site.items():
        if key not in ("geometry", "timeline", "sources"):
            info.add_row(str(key), _sites_cell(value))
    centre = site.geometry.centroid
    where = f"{area_km2(site.geometry):.2f} km² around lat {centre.y:.5f}, lon {centre.x:.5f}"
    info.add_row("footprint", where)
    out.print(info)
    if timeline.empty:
        out.print("no timeline")
        return
    from pipeline.science.declared import site_steps

    steps = site_steps(site)
    projected = set() if steps is None else set(steps.loc[steps["projected"], "date"])
    _print_table(
        "timeline", ["date", "power MW", "H100e", "water MGD", "status"],
        [[f"{e.date:%Y-%m-%d}" + (" projected" if f"{e.date:%Y-%m-%d}" in projected else ""),
          _sites_cell(e.power_mw, "{:,.0f}"),
          _sites_cell(e.h100e, "{:,.0f}"), _sites_cell(e.water_mgd, "{:.3g}"),
          _sites_cell(e.status)] for e in timeline.itertuples()],
        right={"power MW", "H100e", "water MGD"}, out=out)
    if projected:
        out.print("rows marked projected are dated after the data's release: Epoch's "
                  "projections, never compared with heat", markup=False)


@sites_app.command("add")
def sites_add(
    site_id: Annotated[str, typer.Option("--id", help="Unique id of the new site.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    lat: Annotated[float, typer.Option("--lat", help="Latitude, decimal degrees.")],
    lon: Annotated[float, typer.Option("--lon", help="Longitude, decimal degrees.")],
    catalog: SitesUserCatalogOpt,
    radius_m: SitesRadiusOpt = 1000.0,
    power_mw: Annotated[
        float | None, typer.Option("--power-mw", help="Reported facility power, MW.")
    ] = None,
    operator: Annotated[str | None, typer.Option("--operator", help="Operator.")] = None,
    cooling: Annotated[
        str | None, typer.Option("--cooling", help="dry, evaporative or hybrid.")
    ] = None,
    config: ConfigOpt = None,
) -> None:
    """Add one site, a circle of --radius-m around --lat/--lon, to a user catalog."""
    from aoi.sites import site_from_point, update_site_file

    try:
        limit = _config(config).grid.max_site_area_km2
        new = site_from_point(
            site_id,
            lon,
            lat,
            radius_m=radius_m,
            name=name,
            operator=operator,
            reported_power_mw=power_mw,
            cooling=cooling,
            max_area_km2=limit,
        )
        n = len(update_site_file(catalog, new, max_area_km2=limit))
    except HeatwatchError as exc:
        raise _sites_fail(exc) from exc
    console.print(f"added {site_id!r} to {catalog} ({n} site(s))", markup=False)


@sites_app.command("import")
def sites_import(
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage or CSV (lat/lon) sites.")],
    catalog: SitesUserCatalogOpt,
    replace: Annotated[
        bool, typer.Option("--replace", help="Replace sites whose ids are already present.")
    ] = False,
    buffer_points: Annotated[
        bool, typer.Option("--buffer-points", help="Accept Point features; buffer them.")
    ] = False,
    radius_m: SitesRadiusOpt = 1000.0,
    layer: Annotated[str | None, typer.Option("--layer", help="GeoPackage layer.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Validate a site file and merge it into a user catalog."""
    from aoi.sites import read_sites, update_site_file

    try:
        limit = _config(config).grid.max_site_area_km2
        new = read_sites(
            file,
            max_area_km2=limit,
            default_buffer_m=radius_m,
            buffer_points=buffer_points,
            layer=layer,
        )
        n = len(update_site_file(catalog, new, replace=replace, max_area_km2=limit))
    except HeatwatchError as exc:
        raise _sites_fail(exc) from exc
    console.print(
        f"imported {len(new)} site(s) from {file} into {catalog} ({n} site(s))", markup=False
    )


# thermal ----------------------------------------------------------------------------------------
#: Exit code when the job finished but some inputs were skipped (reported on stderr).
EXIT_PARTIAL = 3


def _progress() -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


@app.command()
def thermal(
    imagery_dir: Annotated[Path, typer.Argument(help="Folder of Landsat C2 products.")],
    out: OutOpt,
    config: ConfigOpt = None,
) -> None:
    """Calibrate, mask and normalise every scene: temperature and anomaly COGs per scene."""
    from pipeline.io.reader import Problem
    from pipeline.scan.thermal import run_thermal

    try:
        cfg = _config(config)
        from pipeline.io.reader import discover_products

        n = len(discover_products(imagery_dir)[0])
        with _progress() as progress:
            task = progress.add_task("thermal", total=n)

            reported: list[Problem] = []

            def report(product, result) -> None:  # type: ignore[no-untyped-def]
                if isinstance(result, Problem):
                    reported.append(result)
                    progress.console.print(f"[yellow]skipped[/] {escape(result.path.name)}: "
                                           f"{escape(result.message)}")
                else:
                    progress.console.print(escape(result.line()))
                progress.advance(task)

            done, problems = run_thermal(imagery_dir, out, cfg, on_result=report)
    except HeatwatchError as exc:
        raise _fail(exc) from exc
    for p in problems:  # files met while discovering (no MTL, duplicates, strays)
        if p not in reported:
            console.print(f"[yellow]ignored[/] {escape(str(p.path))}: {escape(p.message)}")
    console.print(f"{len(done)} scene(s) written to {out}, {len(problems)} problem(s)")
    if not done:
        console.print("[bold red]error:[/] no scene could be processed")
        raise typer.Exit(code=2)
    if problems:
        raise typer.Exit(code=EXIT_PARTIAL)


# tables -----------------------------------------------------------------------------------------
def _status_cell(row: Mapping[str, Any]) -> str:
    """Return a site's status, plus "possible shutdown" when its last clear looks lack heat.

    An excluded or rejected place carries its reason (``excluded: near X (power plant)``).
    """
    from pipeline.report.evidence import status_text

    since = row.get("possible_shutdown_since")
    status = "-" if _cell(row.get("status")) == "-" else status_text(dict(row))
    return f"{status}, possible shutdown" if isinstance(since, str) and since else status


def _cell(value: object, fmt: str = "{}") -> str:
    """Table cell text: '-' for missing values (None/NaN), else formatted."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return fmt.format(value)


def _print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]], *,
                 right: Collection[str] = (), stack: Collection[str] = (),
                 caption: str | None = None, empty: str = "none",
                 out: Console | None = None) -> None:
    """Print a table whole, on one line per row when it fits the terminal.

    Cells are literal text (no rich markup: site ids and names are untrusted) and fold
    instead of being cut with an ellipsis. When the table is wider than the terminal (80
    columns when the output is piped), each column named in ``stack`` goes under the column
    before it, two lines per row. Without rows, one line says ``title: empty``.
    """
    from rich import box
    from rich.table import Table
    from rich.text import Text

    out = out or Console()
    cells = [[c if isinstance(c, Text) else Text(str(c)) for c in row] for row in rows]
    if not cells:
        out.print(Text(f"{title}: {empty}"))
        return
    heads = list(columns)

    def build() -> Table:
        table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False,
                      collapse_padding=True)
        for h in heads:
            table.add_column(h, overflow="fold", justify="right" if h in right else "left")
        for row in cells:
            table.add_row(*row)
        return table

    table = build()
    natural = out.measure(table, options=out.options.update(max_width=100_000)).maximum
    if stack and natural > out.width:
        starts = [i for i, h in enumerate(columns) if i == 0 or h not in stack]
        groups = [range(a, b) for a, b in zip(starts, [*starts[1:], len(columns)], strict=True)]
        heads = ["\n".join(columns[j] for j in g) for g in groups]
        right = {h for h, g in zip(heads, groups, strict=True) if columns[g[0]] in right}
        cells = [[Text("\n").join(row[j] for j in g) for g in groups] for row in cells]
        table = build()
    out.print(table)


# scan -------------------------------------------------------------------------------------------
def _print_sites(sites, rejected: Sequence[Mapping[str, Any]] = ()) -> None:  # type: ignore[no-untyped-def]
    rows = []
    for s in sites.to_dict("records"):
        rows.append([s["site_id"], _status_cell(s),
                     *_heat_cells(s.get("heat_mw"), s.get("heat_mw_low"), s.get("heat_mw_high")),
                     _cell(s.get("first_seen")), _cell(s.get("last_seen")),
                     _cell(s.get("persistence"), "{:.2f}"), _cell(s.get("n_clear")),
                     _cell(s.get("reported_power_mw"), "{:.0f}"),
                     _verdict_cell(s.get("verdict"))])
    _print_table("Heatwatch scan", ["site", "status", "heat MW", "[90%]", "first seen",
                                    "last seen", "persist.", "clear", "declared MW", "verdict"],
                 rows, right={"heat MW", "[90%]", "persist.", "clear", "declared MW"},
                 stack={"[90%]", "last seen", "clear", "verdict"},
                 caption=VERDICT_CAPTION if any(r[-1] not in ("-", "inconclusive")
                                                for r in rows) else None,
                 empty="no catalogued site and no new-site candidate" + (
                     f"; {len(rejected)} rejected candidate(s), each with its reason in run.json"
                     if rejected else ""))
    _print_below_threshold(rejected)
    for s in sites.to_dict("records"):
        since = s.get("possible_shutdown_since")
        if isinstance(since, str) and since:
            console.print(f"possible shutdown: {s['site_id']}'s clear looks since {since} show "
                          "less than a third of its heat; too few to call it, the next clear "
                          "looks will tell", markup=False)


def _print_below_threshold(rejected: Sequence[Mapping[str, Any]]) -> None:
    """Say how many candidate regions had heat below min_candidate_mw, and where the largest is."""
    below = [r for r in rejected if isinstance(r.get("heat_mw"), int | float)
             and r["heat_mw"] > 0]  # the other rejections carry no heat
    if not below:
        return
    top = max(below, key=lambda r: r["heat_mw"])
    lat, lon = top["lat"], top["lon"]
    place = f"{abs(lat):.5f} {'N' if lat >= 0 else 'S'}, {abs(lon):.5f} {'E' if lon >= 0 else 'W'}"
    console.print(f"{len(below)} region(s) with heat below power.min_candidate_mw, not "
                  f"reported as candidates; the largest: {top['heat_mw']:.0f} MW "
                  f"[{top['heat_mw_low']:.0f}-{top['heat_mw_high']:.0f}] at {place} "
                  f"({top['site_id']}); all with their place in run.json", markup=False)


def scan_folder(imagery_dir: Path, out: Path, cfg: Config, sites_path: Path | None,
                figures: bool = True,
                exclusions_path: Path | None = None):  # type: ignore[no-untyped-def]
    """Run the scan with a progress bar and write its outputs (shared by scan and demo)."""
    from pipeline.core.errors import OutputError
    from pipeline.scan.output import write_scan
    from pipeline.scan.run import run_scan

    if out.exists() and not out.is_dir():  # fail before the scan, not after it
        raise OutputError(f"output folder {out} is a file; pass a folder with --out "
                          "(it is created if absent)")
    sites = _load_sites(sites_path, cfg)
    exclusions = None
    if exclusions_path is not None:
        exclusions = _read_exclusions(exclusions_path)
    with _progress() as progress:
        task = progress.add_task("scan", total=None)
        result = run_scan(imagery_dir, cfg, sites=sites, exclusions=exclusions,
                          on_total=lambda n: progress.update(task, total=n),
                          progress=lambda pid: progress.update(task, advance=1,
                                                               description=pid[:25]))
        progress.update(task, description="scan done")
    result.run["sites_file"] = None if sites_path is None else str(sites_path)
    result.run["exclusions_file"] = None if exclusions_path is None else str(exclusions_path)
    if sites_path is not None:
        from pipeline.core.outputs import sha256_file

        result.run["sites_sha256"] = sha256_file(sites_path)
    write_scan(result, out, figures=figures)
    return result


def _load_sites(sites_path: Path | None, cfg: Config):  # type: ignore[no-untyped-def]
    if sites_path is None:
        return None
    from aoi.sites import read_sites

    return read_sites(sites_path, max_area_km2=cfg.grid.max_site_area_km2)


def _scan_sentinelhub(fetch_dir: Path, out: Path, cfg: Config, sites_path: Path | None,
                      start: str | None, end: str | None,
                      exclusions_path: Path | None):  # type: ignore[no-untyped-def]
    """Fetch each site's acquisitions from Sentinel Hub into ``fetch_dir``, then scan each site.

    Sentinel Hub products are per-site crops (one folder per site), so each site is scanned
    on its own into ``OUT/<site>/`` and the site rows are merged into ``OUT/sites.geojson``.
    With one site per scan there is no cross-site calibration: heat uses the physics
    coefficient (no declaration), as with any site that has no other declaring site beside it.
    """
    import pandas as pd

    from pipeline.core.outputs import write_geojson, write_json
    from pipeline.core.sites import safe_name
    from pipeline.io.sentinelhub import fetch_sites

    first, last = _fetch_period("sentinelhub", sites_path, start, end)
    sites = _load_sites(sites_path, cfg)
    report = fetch_sites(sites, start=first, end=last, out_dir=fetch_dir,
                         config=cfg.sentinelhub, margin_m=cfg.grid.margin_m)
    rows, results = [], []
    for sid, folder in report.site_dirs.items():
        one = sites[sites["site_id"] == sid]
        site_file = folder / "site.geojson"
        write_geojson(site_file, one)
        result = scan_folder(folder, out / safe_name(sid), cfg, site_file,
                             exclusions_path=exclusions_path)
        rows.append(result.sites)
        results.append(result)
    merged = pd.concat(rows, ignore_index=True) if rows else sites.iloc[0:0]
    write_geojson(out / "sites.geojson", merged)
    write_json(out / "fetch.json", report.to_dict())
    return merged, results, report


def _fetch_period(source: str, sites_path: Path | None, start: str | None,
                  end: str | None) -> tuple[date, date]:
    """Check the options ``scan --source SOURCE`` needs and return the period to fetch."""
    from pipeline.core.errors import ConfigError

    if sites_path is None or start is None or end is None:
        raise ConfigError(f"--source {source} needs --sites, --start and --end "
                          "(e.g. --start 2024-01-01 --end 2024-12-31)")
    try:
        return date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise ConfigError(f"--start/--end must be dates like 2024-01-31 ({exc})") from exc


def _fetch_stac_for_scan(fetch_dir: Path, cfg: Config, sites_path: Path | None,
                        start: str | None, end: str | None) -> None:
    """Fetch the sites' looks (and baselines) from the STAC archive into ``fetch_dir``."""
    first, last = _fetch_period("stac", sites_path, start, end)
    assert sites_path is not None  # checked by _fetch_period
    report = _fetch_stac(_load_sites(sites_path, cfg), first, last, fetch_dir, cfg, level=None,
                         baseline=True, about={"command": "scan --source stac",
                                               "sites_file": str(sites_path)})
    _print_stac_fetch(report, fetch_dir)


def _read_exclusions(path: Path):  # type: ignore[no-untyped-def]
    import geopandas as gpd

    from pipeline.core.errors import SiteError

    if not path.is_file():
        raise SiteError(f"exclusion layer {path} is not a file; pass a GeoJSON of known heat "
                        "sources (power plants, smelters) with name and kind properties")
    try:
        return gpd.read_file(path)
    except Exception as exc:
        raise SiteError(f"cannot read exclusion layer {path}: {exc}") from exc


@app.command()
def scan(
    imagery_dir: Annotated[Path, typer.Argument(help="Folder of Landsat C2 products.")],
    out: OutOpt,
    sites: Annotated[Path | None, typer.Option(help="Site catalog (GeoJSON/GPKG/CSV).")] = None,
    exclusions: Annotated[Path | None, typer.Option(
        help="GeoJSON of known non-datacenter heat sources; nearby candidates are labelled.",
    )] = None,
    config: ConfigOpt = None,
    min_candidate_mw: Annotated[float | None, typer.Option(
        help="Report new sites from this heat (MW) up.")] = None,
    source: Annotated[str, typer.Option(
        help="'local': IMAGERY_DIR holds the products; 'sentinelhub' or 'stac': fetch into "
             "IMAGERY_DIR first (needs --sites, --start, --end).")] = "local",
    start: Annotated[str | None, typer.Option(
        help="First day to fetch (sentinelhub, stac).")] = None,
    end: Annotated[str | None, typer.Option(help="Last day to fetch (sentinelhub, stac).")] = None,
    baseline_end: Annotated[str | None, typer.Option(
        help="Looks up to this date (YYYY-MM-DD) are every site's baseline: known inactive, "
             "e.g. before construction. Default: fetch.json's per-site \"baseline\".")] = None,
    calibration: CalibrationOpt = None,
) -> None:
    """Find persistent compute heat: site status, heat (MW) with interval, new candidates."""
    overrides: dict[str, Any] = ({} if min_candidate_mw is None
                                 else {"power": {"min_candidate_mw": min_candidate_mw}})
    if baseline_end is not None:
        overrides["persistence"] = {"baseline_end": baseline_end}
    try:
        cfg = _config(config, overrides, calibration)
        if source == "sentinelhub":
            merged, _, report = _scan_sentinelhub(imagery_dir, out, cfg, sites, start, end,
                                                        exclusions)
            _print_sites(merged)
            for f in report.failures:
                console.print(f"[yellow]fetch failed[/] {escape(str(f))}")
            if report.failures:
                raise typer.Exit(code=EXIT_PARTIAL)
            return
        if source == "stac":
            _fetch_stac_for_scan(imagery_dir, cfg, sites, start, end)
        elif source != "local":
            from pipeline.core.errors import ConfigError

            raise ConfigError(f"--source {source!r}: use 'local', 'sentinelhub' or 'stac'")
        result = scan_folder(imagery_dir, out, cfg, sites, exclusions_path=exclusions)
    except HeatwatchError as exc:
        raise _fail(exc) from exc
    _print_sites(result.sites, rejected=result.run.get("rejected_candidates", []))
    skipped = result.run.get("skipped", [])
    for s in skipped:
        console.print(f"[yellow]skipped[/] {s['path']}: {s['message']}")
    console.print(f"outputs in {out}; {_calibration_line(result.run)}", markup=False)
    _print_not_covered(result.run.get("not_covered", []))
    _print_coverage(result.run["grid"], cfg)
    if skipped:
        raise typer.Exit(code=EXIT_PARTIAL)


def _print_coverage(grid: dict[str, Any], cfg: Config) -> None:
    """Say so when new sites were searched in only part of the imagery."""
    imagery, scanned = grid.get("imagery_km2"), grid.get("scanned_km2")
    if imagery and scanned is not None and scanned < 0.99 * imagery:
        console.print(
            f"[yellow]note[/] new sites were searched in {scanned:,.0f} of {imagery:,.0f} km2 of "
            f"imagery: the catalog's extent plus grid.margin_m = {cfg.grid.margin_m:g} m. To "
            "search the rest, run `heatwatch discover` or raise grid.margin_m.")


# demo -------------------------------------------------------------------------------------------
@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("demo-out"),
    config: ConfigOpt = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the synthetic world.")] = None,
) -> None:
    """Generate a synthetic year of Landsat scenes with known campuses, then scan it."""
    from models.world import demo_spec, generate_world

    try:
        cfg = _config(config)
        spec = demo_spec() if seed is None else demo_spec().model_copy(update={"seed": seed})
        world_dir = out / "imagery"
        with _progress() as progress:
            task = progress.add_task("generating world", total=spec.n_acquisitions)
            truth = generate_world(spec, world_dir,
                                   progress=lambda i, n: progress.update(task, completed=i))
        result = scan_folder(world_dir, out, cfg, world_dir / "sites.geojson",
                             exclusions_path=world_dir / "exclusions.geojson")
    except HeatwatchError as exc:
        raise _fail(exc) from exc
    _print_sites(result.sites, rejected=result.run.get("rejected_candidates", []))
    _print_truth(truth, result.sites)
    console.print(f"outputs in {out} (evidence PNGs in {out / 'evidence'})")


def _print_truth(truth, sites) -> None:  # type: ignore[no-untyped-def]
    by_id = {s["site_id"]: s for s in sites.to_dict("records")}
    rows = []
    for c in truth.campuses:
        found = by_id.get(c.site_id)
        if found is None:
            found = next((s for s in by_id.values() if not s["in_catalog"]
                          and _overlaps(s["geometry"], c.footprint)), None)
        heat = None if found is None else found["heat_mw"]
        ratio = "-" if not heat or not c.power_mw else f"{heat / c.power_mw:.2f}"
        rows.append([c.site_id, "yes" if c.in_catalog else "no", f"{c.power_mw:.0f}",
                     c.status_at_end, "-" if found is None else found["site_id"],
                     "-" if found is None else found["status"], _cell(heat, "{:.0f}"), ratio])
    _print_table("Demo: scan against the world's truth",
                 ["campus", "catalog", "true MW", "true status", "found as", "status",
                  "heat MW", "ratio"], rows, right={"true MW", "heat MW", "ratio"},
                 stack={"true status", "status", "ratio"})


def _overlaps(a, b) -> bool:  # type: ignore[no-untyped-def]
    return bool(a is not None and b is not None and a.intersects(b))


def _terminate(signum: int, frame: object) -> None:
    # SIGTERM unwinds like Ctrl-C: atomic writers remove their temporary files on the way out.
    raise SystemExit(128 + signum)


def main() -> None:  # pragma: no cover - console entry
    """Run the CLI, turning Heatwatch errors into a clean message and exit code 2."""
    import signal

    signal.signal(signal.SIGTERM, _terminate)
    try:
        app()
    except HeatwatchError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
