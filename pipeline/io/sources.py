"""Choose an imagery source by name (``--source``): local folder, Sentinel Hub or STAC.

:func:`open_source` builds any of them; :func:`scan_source`, :func:`discover_source` and
:func:`fetch_source` check what each command needs first (period, sites, folder) and say which
option is missing. The remote sources are imported only when chosen: they load the optional
Sentinel Hub client (the STAC source shares its site checks), the one lazy import ``pipeline``
keeps.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any

from pipeline.core.config import Config
from pipeline.core.errors import ConfigError
from pipeline.io.source import ImagerySource, LocalSource, fetch_period

__all__ = ["discover_source", "fetch_source", "open_source", "scan_source"]


def open_source(name: str, folder: Path, config: Config, *, start: date | None = None,
                end: date | None = None, margin_m: float | None = None,
                record: Path | None = None, about: Mapping[str, Any] | None = None,
                level: str | None = None, baseline: bool = True) -> ImagerySource:
    """Return the source ``name`` reading (``local``) or fetching into ``folder``.

    A remote source fetches ``start`` to ``end`` with ``margin_m`` (default
    ``grid.margin_m``) around each area; with ``record`` it writes ``fetch.json`` there.

    Examples
    --------
    >>> from pipeline.core.config import load_config
    >>> open_source("local", Path("imagery"), load_config(environ={})).name
    'local'
    """
    if name == "local":
        return LocalSource(folder)
    if start is None or end is None:
        raise ConfigError(f"--source {name} needs --start and --end")
    margin = config.grid.margin_m if margin_m is None else margin_m
    if name == "stac":
        from pipeline.io.stac.source import StacSource

        return StacSource(folder, start, end, config.stac, margin, level=level,
                          baseline=baseline, record=record, about=about or {})
    if name == "sentinelhub":
        from pipeline.io.sentinelhub import SentinelHubSource

        return SentinelHubSource(folder, start, end, config.sentinelhub, margin, record=record,
                                 about=about or {})
    raise ConfigError(f"--source {name!r}: use 'local', 'sentinelhub' or 'stac'")


def scan_source(name: str, folder: Path, config: Config, *, sites_path: Path | None,
                start: str | None, end: str | None) -> ImagerySource:
    """Return the source of ``heatwatch scan --source NAME`` (remote: needs sites and period)."""
    if name == "local":
        return LocalSource(folder)
    if name not in ("sentinelhub", "stac"):
        raise ConfigError(f"--source {name!r}: use 'local', 'sentinelhub' or 'stac'")
    first, last = fetch_period(name, start, end, has_sites=sites_path is not None)
    if name == "stac":  # fetch.json beside the products: the scan reads its baselines
        return open_source(name, folder, config, start=first, end=last,
                           record=folder / "fetch.json",
                           about={"command": "scan --source stac", "sites_file": str(sites_path)})
    return open_source(name, folder, config, start=first, end=last)


def discover_source(name: str, folder: Path | None, out: Path, config: Config, *,
                    start: datetime | None, end: datetime | None,
                    region_file: Path) -> ImagerySource:
    """Return the source of ``heatwatch discover --source NAME``.

    Sentinel Hub fetches the tiles as they are (their grids already carry their overlap: no
    margin) into ``folder`` (default ``out/imagery``) and records ``out/fetch.json``.
    """
    if name == "sentinelhub":
        if start is None or end is None:
            raise ConfigError("--source sentinelhub needs --start and --end "
                              "(e.g. --start 2024-01-01 --end 2024-12-31)")
        return open_source(name, folder or out / "imagery", config, start=start.date(),
                           end=end.date(), margin_m=0.0, record=out / "fetch.json",
                           about={"command": "discover", "region_file": str(region_file)})
    if name != "local":
        raise ConfigError(f"--source {name!r}: use 'local' or 'sentinelhub'")
    if folder is None:
        raise ConfigError("give --imagery FOLDER (Landsat C2 products over the region), or "
                          "--source sentinelhub --start D --end D to fetch them")
    return LocalSource(folder)


def fetch_source(name: str, out: Path, config: Config, *, start: date, end: date,
                 level: str | None, baseline: bool, sites_file: Path) -> ImagerySource:
    """Return the source of ``heatwatch fetch --source NAME`` (records ``out/fetch.json``)."""
    if name not in ("sentinelhub", "stac"):
        raise ConfigError(f"--source {name!r}: use 'sentinelhub' or 'stac'")
    return open_source(name, out, config, start=start, end=end, record=out / "fetch.json",
                       about={"command": "fetch", "sites_file": str(sites_file)}, level=level,
                       baseline=baseline)
