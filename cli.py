"""Heatwatch command line: each command parses options, calls the library, prints the results.

Shared options are defined once below; :mod:`pipeline.report.console` renders what is printed.
A :class:`pipeline.core.errors.HeatwatchError` is printed as one line and exits with code 2;
anything else is a bug and shows a traceback.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from enum import Enum
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape

from pipeline import __version__
from pipeline.core.config import Config, load_config
from pipeline.core.errors import HeatwatchError
from pipeline.report import console as show
from pipeline.report.console import console

if TYPE_CHECKING:
    import geopandas as gpd

app = typer.Typer(name="heatwatch", help="Watch AI datacenters from space through their heat.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)

#: Exit code when the job finished but some inputs were skipped (reported on stderr).
EXIT_PARTIAL = 3

# Shared options -------------------------------------------------------------------------------
ConfigOpt = Annotated[Path | None, typer.Option(
    "--config", "-c", help="YAML file overriding configs/default.yaml.")]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if absent).")]
ExclusionsOpt = Annotated[Path | None, typer.Option(
    help="GeoJSON of known non-datacenter heat sources; nearby candidates are labelled.")]


class Calibration(str, Enum):
    """Choices of --calibration."""

    fitted = "fitted"
    physics = "physics"


CalibrationOpt = Annotated[Calibration | None, typer.Option(
    "--calibration", help="Coefficient that turns excess into MW for the verdicts: 'fitted' on "
    "the other catalogued sites' declarations (leave-one-out) or 'physics' (sourced facts, no "
    "declaration used); both are always reported. Default: power.calibration.")]


def _config(path: Path | None, overrides: dict | None = None,
            calibration: Calibration | None = None) -> Config:
    if calibration is not None:
        overrides = dict(overrides or {})
        overrides["power"] = {**overrides.get("power", {}), "calibration": calibration.value}
    return load_config(path, overrides=overrides)


def _read_sites(path: Path, cfg: Config) -> gpd.GeoDataFrame:
    from aoi.sites import read_sites

    return read_sites(path, max_area_km2=cfg.grid.max_site_area_km2)


@contextmanager
def _errors() -> Iterator[None]:
    """Print a HeatwatchError as one line (site ids and names escaped) and exit with code 2."""
    try:
        yield
    except HeatwatchError as exc:
        console.print(f"[bold red]error:[/] {escape(str(exc))}")
        raise typer.Exit(code=2) from exc


def _partial(partial: bool) -> None:
    if partial:
        raise typer.Exit(code=EXIT_PARTIAL)


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(f"heatwatch {__version__}")
        raise typer.Exit()


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
    exclusions: ExclusionsOpt = None,
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
    from pipeline.discover.run import run_discover
    from pipeline.io.sources import discover_source
    from pipeline.io.vectors import read_exclusions, read_region

    overrides = {"discover": {k: v for k, v in (("n_workers", workers),
                                                ("scheduler_address", scheduler)) if v}}
    with _errors():
        cfg = _config(config, overrides, calibration)
        area = read_region(region)
        catalog = None if sites is None else _read_sites(sites, cfg)
        excl = None if exclusions is None else read_exclusions(exclusions)
        src = discover_source(source, imagery, out, cfg, start=start, end=end,
                              region_file=region)
        with show.bars() as bars:
            result = run_discover(
                src, area, cfg, out_dir=out, sites=catalog, exclusions=excl,
                start=start.date() if start else None, end=end.date() if end else None,
                client=False if workers == 0 and not scheduler else None,
                on_total=lambda n: bars.total(n, "tiles"), fetch_progress=bars.fetch,
                progress=bars.tile)
    _partial(show.print_discover(result, out, src.report, Path(src.provenance()["imagery_dir"])))


@app.command()
def report(
    out_dir: Annotated[Path, typer.Argument(help="Output folder of a finished scan (run.json).")],
    no_evidence: Annotated[bool, typer.Option(
        "--no-evidence", help="Keep the evidence PNGs; rebuild only the reports and map.")] = False,
    no_pdf: Annotated[bool, typer.Option("--no-pdf", help="Skip the PDF reports.")] = False,
) -> None:
    """(Re)build evidence maps, site reports and the interactive map from a finished scan."""
    from pipeline.report.build import build_report

    with _errors():
        written = build_report(out_dir, evidence=not no_evidence, pdf=not no_pdf)
    show.print_report(written, out_dir)


StoreOpt = Annotated[Path | None, typer.Option(
    "--store", help="History store (default: monitor.store of the configuration).")]


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
    source: Annotated[str | None, typer.Option(
        help="'local' (--imagery), 'sentinelhub' or 'stac' (fetch since monitor.fetch_start "
             "into monitor.fetch_dir). Default: monitor.source.")] = None,
) -> None:
    """Scan new scenes of the catalog sites into the history store and raise alerts."""
    from aoi.catalog import load_catalog
    from pipeline.monitor.run import run_monitor

    given = {k: v for k, v in (("backfill", backfill), ("source", source)) if v is not None}
    with _errors():
        cfg = _config(config, {"monitor": given} if given else None, calibration)
        table = load_catalog() if sites is None else _read_sites(sites, cfg)
        with show.bars() as bars:
            report = run_monitor(cfg, imagery_dir=imagery, sites=table, echo=show.alert_line,
                                 progress=lambda pid: bars.step(pid, "monitor"))
    _partial(show.print_monitor(report))


@app.command()
def history(
    site_id: Annotated[str, typer.Argument(help="Site id, as in the history store.")],
    store: StoreOpt = None,
    plot: Annotated[Path | None, typer.Option("--plot", help="Also write a PNG here.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Print a site's time series from the history store (and plot it with --plot)."""
    from pipeline.monitor.run import read_history, write_history_plot

    with _errors():
        frame = read_history(store or _config(config).monitor.store, site_id)
        if plot is not None:
            write_history_plot(frame, site_id, plot)
    show.print_history(site_id, frame, plot=plot)


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
    from pipeline.io.sources import fetch_source

    overrides = {} if collection is None else {"sentinelhub": {"collection": collection}}
    with _errors():
        cfg = _config(config, overrides)
        site_table = _read_sites(sites, cfg)
        src = fetch_source(source, out, cfg, start=start.date(), end=end.date(), level=level,
                           baseline=baseline, sites_file=sites)
        with show.bars() as bars:
            src.folders(site_table, progress=bars.fetch)
    _partial((show.print_stac_fetch if source == "stac" else show.print_fetch)(src.report, out))


@app.command()
def energy(
    accelerator: Annotated[list[str] | None, typer.Option(
        "--accelerator", "-a", help="Accelerator name (repeat for a mix).")] = None,
    count: Annotated[list[int] | None, typer.Option(
        "--count", "-n", help="Number of accelerators (forward).")] = None,
    heat_mw: Annotated[float | None, typer.Option(
        help="MW to invert (inverse): heat rejected while training by default; see "
             "--convention.")] = None,
    convention: Annotated[str, typer.Option(
        help="What --heat-mw is: 'training' (heat rejected at training draw, what Landsat "
             "sees) or 'peak' (facility power at peak, Epoch AI's MW).")] = "training",
    heat_low: Annotated[float | None, typer.Option(help="Lower bound of the heat, MW.")] = None,
    heat_high: Annotated[float | None, typer.Option(help="Upper bound of the heat, MW.")] = None,
    cooling: Annotated[str | None, typer.Option(
        help="dry, evaporative or hybrid (default: unknown).")] = None,
    pue: Annotated[float | None, typer.Option(help="Fix the PUE (default: sourced range).")] = None,
    utilization: Annotated[float | None, typer.Option(
        help="Fix the training power fraction (default: range).")] = None,
    days: Annotated[float | None, typer.Option(help="Operating period, days (FLOP total).")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Energy model: accelerators -> power and heat, or observed heat -> implied accelerators."""
    from models.energy_query import answer

    with _errors():
        title, result = answer(accelerator or ["h100"], count, heat_mw=heat_mw,
                               heat_low=heat_low, heat_high=heat_high, convention=convention,
                               cooling=cooling, pue=pue, utilization=utilization, days=days)
    show.print_energy(title, result, as_json=as_json)


sites_app = typer.Typer(help="List, show and edit site catalogs (default: the shipped Epoch AI "
                        "campus catalog).", no_args_is_help=True)
app.add_typer(sites_app, name="sites")
SitesCatalogOpt = Annotated[Path | None, typer.Option(
    "--catalog", help="User catalog file (default: the shipped Epoch catalog).")]
SitesUserCatalogOpt = Annotated[Path, typer.Option(
    "--catalog", help="User catalog GeoJSON to update (created if absent).")]
SitesRadiusOpt = Annotated[float, typer.Option(
    "--radius-m", help="Footprint radius around points, metres.")]


@sites_app.command("list")
def sites_list(catalog: SitesCatalogOpt = None) -> None:
    """List the sites of a catalog: id, name, operator, power, H100e, cooling."""
    from aoi.catalog import catalog_credit, load_catalog

    with _errors():
        sites = load_catalog(catalog)
    show.print_catalog(sites, caption=catalog_credit(sites))


@sites_app.command("show")
def sites_show(
    site_id: Annotated[str, typer.Argument(help="Site id, as in `heatwatch sites list`.")],
    catalog: SitesCatalogOpt = None,
    geojson: Annotated[Path | None, typer.Option(
        "--geojson", help="Also write the site (footprint, declarations, timeline) to this "
                          "GeoJSON file, ready for --sites.")] = None,
) -> None:
    """Show one site: its attributes, footprint and dated timeline."""
    from aoi.catalog import catalog_credit, catalog_timeline, load_catalog
    from aoi.sites import select_site, write_sites
    from aoi.utm import area_km2
    from pipeline.science.declared import site_steps

    with _errors():
        sites = load_catalog(catalog)
        site = select_site(sites, site_id)
        timeline = catalog_timeline(site_id, sites)
        if geojson is not None:
            write_sites(sites[sites["site_id"] == site_id], geojson)
    steps = None if timeline.empty else site_steps(site)
    projected = set() if steps is None else set(steps.loc[steps["projected"], "date"])
    show.print_site(site, timeline, credit=catalog_credit(sites),
                    area_km2=area_km2(site.geometry), projected=projected)


@sites_app.command("add")
def sites_add(
    site_id: Annotated[str, typer.Option("--id", help="Unique id of the new site.")],
    name: Annotated[str, typer.Option("--name", help="Display name.")],
    lat: Annotated[float, typer.Option("--lat", help="Latitude, decimal degrees.")],
    lon: Annotated[float, typer.Option("--lon", help="Longitude, decimal degrees.")],
    catalog: SitesUserCatalogOpt,
    radius_m: SitesRadiusOpt = 1000.0,
    power_mw: Annotated[float | None, typer.Option(
        "--power-mw", help="Reported facility power, MW.")] = None,
    operator: Annotated[str | None, typer.Option("--operator", help="Operator.")] = None,
    cooling: Annotated[str | None, typer.Option(
        "--cooling", help="dry, evaporative or hybrid.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Add one site, a circle of --radius-m around --lat/--lon, to a user catalog."""
    from aoi.sites import site_from_point, update_site_file

    with _errors():
        limit = _config(config).grid.max_site_area_km2
        new = site_from_point(site_id, lon, lat, radius_m=radius_m, name=name, operator=operator,
                              reported_power_mw=power_mw, cooling=cooling, max_area_km2=limit)
        n = len(update_site_file(catalog, new, max_area_km2=limit))
    console.print(f"added {site_id!r} to {catalog} ({n} site(s))", markup=False)


@sites_app.command("import")
def sites_import(
    file: Annotated[Path, typer.Argument(help="GeoJSON, GeoPackage or CSV (lat/lon) sites.")],
    catalog: SitesUserCatalogOpt,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Replace sites whose ids are already present.")] = False,
    buffer_points: Annotated[bool, typer.Option(
        "--buffer-points", help="Accept Point features; buffer them.")] = False,
    radius_m: SitesRadiusOpt = 1000.0,
    layer: Annotated[str | None, typer.Option("--layer", help="GeoPackage layer.")] = None,
    config: ConfigOpt = None,
) -> None:
    """Validate a site file and merge it into a user catalog."""
    from aoi.sites import read_sites, update_site_file

    with _errors():
        limit = _config(config).grid.max_site_area_km2
        new = read_sites(file, max_area_km2=limit, default_buffer_m=radius_m,
                         buffer_points=buffer_points, layer=layer)
        n = len(update_site_file(catalog, new, replace=replace, max_area_km2=limit))
    console.print(f"imported {len(new)} site(s) from {file} into {catalog} ({n} site(s))",
                  markup=False)


@app.command()
def thermal(
    imagery_dir: Annotated[Path, typer.Argument(help="Folder of Landsat C2 products.")],
    out: OutOpt,
    config: ConfigOpt = None,
) -> None:
    """Calibrate, mask and normalise every scene: temperature and anomaly COGs per scene."""
    from pipeline.io.reader import Problem, discover_products
    from pipeline.scan.thermal import run_thermal

    with _errors():
        cfg = _config(config)
        with show.progress_bar() as progress:
            lines = show.SceneLines(progress, len(discover_products(imagery_dir)[0]), Problem)
            done, problems = run_thermal(imagery_dir, out, cfg, on_result=lines)
    raise typer.Exit(code=show.print_thermal(done, problems, lines.reported, out))


@app.command()
def scan(
    imagery_dir: Annotated[Path, typer.Argument(help="Folder of Landsat C2 products.")],
    out: OutOpt,
    sites: Annotated[Path | None, typer.Option(help="Site catalog (GeoJSON/GPKG/CSV).")] = None,
    exclusions: ExclusionsOpt = None,
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
    from pipeline.io.sources import scan_source
    from pipeline.scan.folder import scan_to_folder

    overrides: dict[str, Any] = {} if min_candidate_mw is None else {
        "power": {"min_candidate_mw": min_candidate_mw}}
    if baseline_end is not None:
        overrides["persistence"] = {"baseline_end": baseline_end}
    with _errors():
        cfg = _config(config, overrides, calibration)
        src = scan_source(source, imagery_dir, cfg, sites_path=sites, start=start, end=end)
        stac = source == "stac"  # the STAC fetch is shown as it goes; Sentinel Hub's after
        with show.bars() as bars:
            run = scan_to_folder(
                src, out, cfg, sites_path=sites, read_sites=lambda p: _read_sites(p, cfg),
                exclusions_path=exclusions, progress=bars.step, on_total=bars.total,
                fetch_progress=bars.fetch if stac else None,
                on_fetched=partial(show.print_stac_fetch, out=imagery_dir) if stac else None)
    if source == "sentinelhub":  # one scan a site, merged
        _partial(show.print_site_scans(run.sites, src.report))
    else:
        _partial(show.print_scan(run.results[0], out, cfg))


@app.command()
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="Output folder.")] = Path("demo-out"),
    config: ConfigOpt = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the synthetic world.")] = None,
) -> None:
    """Generate a synthetic year of Landsat scenes with known campuses, then scan it."""
    from models.world import demo_spec, generate_world
    from pipeline.scan.folder import scan_to_folder

    with _errors():
        cfg = _config(config)
        spec = demo_spec() if seed is None else demo_spec().model_copy(update={"seed": seed})
        world_dir = out / "imagery"
        with show.progress_bar() as progress:
            task = progress.add_task("generating world", total=spec.n_acquisitions)
            truth = generate_world(spec, world_dir,
                                   progress=lambda i, n: progress.update(task, completed=i))
        with show.bars() as bars:
            result = scan_to_folder(world_dir, out, cfg, sites_path=world_dir / "sites.geojson",
                                    read_sites=lambda p: _read_sites(p, cfg),
                                    exclusions_path=world_dir / "exclusions.geojson",
                                    progress=bars.step, on_total=bars.total).results[0]
    show.print_sites(result.sites, rejected=result.run.get("rejected_candidates", []))
    show.print_truth(truth.found(result.sites.to_dict("records")))
    console.print(f"outputs in {out} (evidence PNGs in {out / 'evidence'})")


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
