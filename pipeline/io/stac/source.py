"""STAC imagery source: Landsat Collection 2 thermal windows from a free archive, as C2 products.

Like :mod:`pipeline.io.sentinelhub`, this source writes Collection-2-layout products (band
10, ``QA_PIXEL``, MTL) into one folder per site, which the local reader then reads. Per site:

1. **Grid.** :func:`pipeline.io.sentinelhub.fetch_grid`: the scan grid plus two pixels,
   on the Landsat pixel lattice.
2. **Search.** :class:`pystac_client.Client` searches the Level-2 and/or Level-1 collection
   over the grid's WGS84 bbox (POST, paged through ``next`` links, at most ``stac.max_items``),
   once for the series and once for the site's baseline period (see
   :func:`pipeline.io.stac.items.baseline_period`). With ``stac.level = both`` a Level-1 item is
   kept only when its look has no Level-2 product: night scenes, which USGS processes to
   Level-1 only.
3. **Windows.** For each item, the pixel window covering the grid is computed from the item's
   ``proj:*`` fields; GDAL reads only that window of band 10 and ``QA_PIXEL`` through HTTP range
   requests (the COG header and the tiles it touches). The MTL is fetched whole (~15 kB).
4. **Write.** :func:`pipeline.io.c2write.write_window_product` writes the window under the
   product's own file names with the product's own MTL, its extent set to the window.

Every answer (search results, MTL text, each window as a small GeoTIFF) goes through
:class:`pipeline.io.fetch_cache.FetchCache`, keyed by the request with signed query strings
stripped, so a re-run sends no request at all. ``fetch.json`` records per product the item id,
the asset hrefs (never signed), the sha256 of the files written and the bytes read.
"""


from __future__ import annotations

import hashlib
import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from geopandas import GeoDataFrame

from pipeline.core.config import StacConfig
from pipeline.core.errors import ConfigError, FetchError, OutputError, SiteError
from pipeline.core.sites import safe_name
from pipeline.io.sentinelhub import _site_rows
from pipeline.io.source import ImageryFolder, Progress, Ticker, write_fetch_record
from pipeline.io.stac.fetcher import Look, StacFetcher
from pipeline.io.stac.http import Signer, make_signer, strip_query
from pipeline.io.stac.items import Level, StacFetchReport, baseline_period, first_timeline_date

__all__ = ["StacFetchReport", "StacSource", "fetch_sites_stac"]

LOG = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _levels(config: StacConfig, level: str | None) -> list[tuple[Level, str]]:
    chosen = level or config.level
    if chosen not in ("l2", "l1", "both"):
        raise ConfigError(f"--level {chosen!r}: use l2, l1 or both")
    out: list[tuple[Level, str]] = []
    if chosen in ("l2", "both"):
        out.append(("L2", config.collection_l2))
    if chosen in ("l1", "both"):
        out.append(("L1", config.collection_l1))
    return out


def fetch_sites_stac(
    sites: GeoDataFrame,
    *,
    start: date,
    end: date,
    out_dir: Path,
    config: StacConfig,
    margin_m: float,
    level: str | None = None,
    baseline: bool = True,
    signer: Signer | None = None,
    progress: Progress | None = None,
) -> StacFetchReport:
    """Fetch the thermal windows of every Landsat look over each site from a STAC API.

    Products go to ``out_dir/<safe site name>/`` as Collection 2 files the local reader reads.
    A product that still fails after the retries is recorded in
    :attr:`StacFetchReport.failures` and the others go on; a failing search stops the run.

    Parameters
    ----------
    sites
        Sites with ``site_id`` and a geometry; a ``timeline`` column (Epoch catalog) dates
        the before-construction baseline.
    start, end
        First and last day of the series (UTC, inclusive).
    out_dir
        Folder receiving the per-site product folders.
    config
        The ``stac`` configuration section.
    margin_m
        Margin around each site, in metres (``grid.margin_m``).
    level
        ``l2``, ``l1`` or ``both`` (default ``config.level``).
    baseline
        Also fetch each site's before-state period (:func:`pipeline.io.stac.items.baseline_period`)
        and record it in :attr:`StacFetchReport.baseline`.
    signer
        URL signer (default: from ``config.sign``).
    progress
        Called as ``progress(done, total, description)``.

    Returns
    -------
    StacFetchReport

    Raises
    ------
    StacRequestError, StacTimeoutError
        If a search keeps failing (answers so far stay cached).
    ConfigError, SiteError
        On a bad time range, level, endpoint or site table.

    Examples
    --------
    >>> report = fetch_sites_stac(sites, start=date(2024, 1, 1), end=date(2024, 12, 31),
    ...                           out_dir=Path("imagery"), config=load_config().stac,
    ...                           margin_m=3000.0)  # doctest: +SKIP
    >>> report.bytes_per_site_year()  # doctest: +SKIP
    {'xai-colossus-1-memphis-tennessee': 41234567.0}
    """
    if start > end:
        raise ConfigError(f"start {start} is after end {end}; give --start before --end")
    rows = _site_rows(sites)
    levels = _levels(config, level)
    report = StacFetchReport(endpoint=config.endpoint,
                             collections={lv: c for lv, c in levels})
    fetcher = StacFetcher(config, report, signer if signer is not None else make_signer(config))
    timelines = (dict(zip([str(s) for s in sites["site_id"]], sites["timeline"], strict=True))
                 if "timeline" in sites.columns else {})
    tick = Ticker(progress, total=len(rows))
    plans: list[Look] = []
    for site_id, geometry in rows:
        folder = Path(out_dir) / safe_name(site_id)
        report.site_dirs[site_id] = folder
        periods = [(start, end)]
        years = ((end - start).days + 1) / 365.25
        if baseline:
            b = baseline_period(first_timeline_date(timelines.get(site_id)), start=start,
                                end=end, years=config.baseline_years)
            if b is not None:
                report.baseline[site_id] = b
                if b.fetch is not None:
                    periods.insert(0, b.fetch)
                    years += ((b.fetch[1] - b.fetch[0]).days + 1) / 365.25
        report.site_years[site_id] = years
        try:
            found = fetcher.looks(site_id, geometry, folder, margin_m, periods, levels)
            plans += found
            LOG.info("%s: %d look(s) to read over %s", site_id, len(found),
                     ", ".join(f"{a}..{b}" for a, b in periods))
        except SiteError as exc:
            report.failures.append((site_id, None, str(exc)))
        tick(f"search {site_id}")
    tick.add(len(plans))
    for look in plans:
        try:
            written = fetcher.write(look)
            report.products.append(f"{look.folder.name}/{look.assets.product_id}")
            report.provenance.append({
                "site_id": look.site_id, "item_id": look.assets.item_id,
                "product_id": look.assets.product_id, "level": look.assets.level,
                "assets": {k: strip_query(v) for k, v in (("band", look.assets.band),
                           ("qa_pixel", look.assets.qa), ("mtl", look.assets.mtl)) if v},
                "files": {p.name: _sha256(p) for p in written}})
        except OutputError:
            raise
        except (FetchError, SiteError) as exc:
            report.failures.append((look.site_id, look.assets.product_id, str(exc)))
        tick(look.assets.product_id)
    return report


@dataclass
class StacSource:
    """A STAC archive as an :class:`pipeline.io.source.ImagerySource`: fetch, then read locally.

    :meth:`folders` fetches every site's looks (and baselines) with :func:`fetch_sites_stac` into
    ``out_dir/<site>/`` and returns ``out_dir`` as one folder (the scan reads every site's
    windows together); with ``record`` it also writes that ``fetch.json`` (``about``, period,
    margin, report), whose per-site baselines the scan then uses.
    """

    out_dir: Path
    start: date
    end: date
    config: StacConfig
    margin_m: float
    level: str | None = None
    baseline: bool = True
    record: Path | None = None
    about: Mapping[str, Any] = field(default_factory=dict)
    signer: Signer | None = None
    name: str = "stac"
    report: StacFetchReport | None = None

    def folders(self, sites: GeoDataFrame | None, *,
                progress: Progress | None = None) -> list[ImageryFolder]:
        """Fetch the sites' windows; return ``out_dir``."""
        if sites is None:
            raise ConfigError("the STAC source fetches sites; give --sites")
        self.report = fetch_sites_stac(sites, start=self.start, end=self.end,
                                       out_dir=self.out_dir, config=self.config,
                                       margin_m=self.margin_m, level=self.level,
                                       baseline=self.baseline, signer=self.signer,
                                       progress=progress)
        if self.record is not None:
            write_fetch_record(self.record, self.report, start=self.start, end=self.end,
                               margin_m=self.margin_m, about=self.about)
        return [ImageryFolder(Path(self.out_dir))]

    def provenance(self) -> dict[str, Any]:
        """Return ``{"imagery_dir": out_dir}``."""
        return {"imagery_dir": str(self.out_dir)}
