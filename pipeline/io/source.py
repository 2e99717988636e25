"""Where imagery comes from: one small interface for local folders, Sentinel Hub and STAC.

Every source ends as folders of Collection 2 products that :mod:`pipeline.io.reader` reads. A
local source *is* such a folder; a remote one (:class:`pipeline.io.sentinelhub.SentinelHubSource`,
:class:`pipeline.io.stac.source.StacSource`) fetches into one first. The scan, discovery and
monitoring runs take any :class:`ImagerySource` and ask it for the folders of an area's products
(:meth:`ImagerySource.folders`), so they never know where the pixels came from.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from geopandas import GeoDataFrame

from pipeline.core.errors import ConfigError
from pipeline.core.outputs import write_json

__all__ = ["FetchOutcome", "ImageryFolder", "ImagerySource", "LocalSource", "Progress", "Ticker",
           "as_source", "fetch_period", "write_fetch_record"]

#: ``progress(done, total, description)``, called as a fetch plans and reads its requests.
Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ImageryFolder:
    """A folder of products, and the sites it holds products for (``None``: the whole area)."""

    path: Path
    site_ids: tuple[str, ...] | None = None


class FetchOutcome(Protocol):
    """What a remote source's fetch did (``fetch.json``): its products and failures."""

    @property
    def products(self) -> list[str]:
        """Products written, ``"<site folder>/<product id>"``."""
        ...

    @property
    def failures(self) -> list[tuple[str, str | None, str]]:
        """``(site_id, product_id or None, message)`` of what could not be fetched."""
        ...

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-compatible data (``fetch.json``)."""
        ...


@runtime_checkable
class ImagerySource(Protocol):
    """Products for an area, as local folders of Collection 2 products.

    ``name`` is ``local``, ``sentinelhub`` or ``stac``; ``report`` is what the last
    :meth:`folders` call fetched (``None`` for a local source); :meth:`provenance` gives what a
    run's ``run.json`` records of the source.
    """

    @property
    def name(self) -> str:
        """``local``, ``sentinelhub`` or ``stac``."""
        ...

    @property
    def report(self) -> FetchOutcome | None:
        """What the last :meth:`folders` call fetched (``None``: nothing fetched)."""
        ...

    def folders(self, sites: GeoDataFrame | None, *,
                progress: Progress | None = None) -> list[ImageryFolder]:
        """Make the products over ``sites`` (or the whole area) local; return their folders."""
        ...

    def provenance(self) -> dict[str, Any]:
        """Return the source's entries of a run's provenance (``imagery_dir``)."""
        ...


@dataclass
class LocalSource:
    """A folder of products already on disk (subfolders included).

    Examples
    --------
    >>> LocalSource(Path("imagery")).folders(None)
    [ImageryFolder(path=PosixPath('imagery'), site_ids=None)]
    """

    path: Path
    name: str = "local"
    report: FetchOutcome | None = None

    def folders(self, sites: GeoDataFrame | None = None, *,
                progress: Progress | None = None) -> list[ImageryFolder]:
        """Return the folder itself: nothing to fetch."""
        return [ImageryFolder(Path(self.path))]

    def provenance(self) -> dict[str, Any]:
        """Return ``{"imagery_dir": folder}``."""
        return {"imagery_dir": str(self.path)}


def as_source(source: ImagerySource | str | os.PathLike[str]) -> ImagerySource:
    """Return ``source`` itself, or a :class:`LocalSource` for a folder path."""
    if isinstance(source, str | os.PathLike):
        return LocalSource(Path(source))
    return source


@dataclass
class Ticker:
    """Count the steps of a fetch and report them as ``progress(done, total, description)``.

    The total grows as the fetch learns how many products there are (:meth:`add`).

    Examples
    --------
    >>> seen = []
    >>> tick = Ticker(lambda *a: seen.append(a), total=1)
    >>> tick("search"); tick.add(1); tick("LC08_X")
    >>> seen
    [(1, 1, 'search'), (2, 2, 'LC08_X')]
    """

    progress: Progress | None
    total: int
    done: int = field(default=0)

    def add(self, n: int) -> None:
        """Add ``n`` steps to the total."""
        self.total += n

    def __call__(self, description: str) -> None:
        """Count one step done."""
        self.done += 1
        if self.progress is not None:
            self.progress(self.done, self.total, description)


def write_fetch_record(path: Path, report: FetchOutcome, *, start: date, end: date,
                       margin_m: float, about: Mapping[str, Any]) -> Path:
    """Write ``fetch.json``: what was asked (``about``, period, margin) and what the fetch did."""
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_json(path, {**about, "start": f"{start:%Y-%m-%d}", "end": f"{end:%Y-%m-%d}",
                             "margin_m": margin_m, **report.to_dict()})


def fetch_period(name: str, start: str | None, end: str | None, *,
                 has_sites: bool) -> tuple[date, date]:
    """Check what fetching from source ``name`` for a scan needs; return the period to fetch."""
    if not has_sites or start is None or end is None:
        raise ConfigError(f"--source {name} needs --sites, --start and --end "
                          "(e.g. --start 2024-01-01 --end 2024-12-31)")
    try:
        return date.fromisoformat(start), date.fromisoformat(end)
    except ValueError as exc:
        raise ConfigError(f"--start/--end must be dates like 2024-01-31 ({exc})") from exc
