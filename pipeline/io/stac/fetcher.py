"""The network half of the STAC source: searches, MTLs and windows through the fetch cache.

:class:`StacFetcher` asks pystac-client for the items of a :class:`~pipeline.io.stac.items.
StacRequest`, fetches each product's MTL whole and reads the window of band 10 and
``QA_PIXEL`` (and of red and near-infrared reflectance, where the item has them) covering a
site's grid through GDAL's HTTP range requests; every answer goes through
:class:`pipeline.io.fetch_cache.FetchCache` (keys hold unsigned hrefs and the pixel window, so a
re-run finds them without a request), and errors become
:class:`~pipeline.core.errors.StacRequestError` with what to do. :func:`pipeline.io.stac.source.
fetch_sites_stac` drives it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, timezone
from pathlib import Path
from time import sleep
from typing import Any, cast

import numpy as np
import rasterio
import requests
from rasterio.errors import RasterioError
from rasterio.io import MemoryFile
from rasterio.windows import Window
from shapely.geometry.base import BaseGeometry

from pipeline.core.config import StacConfig
from pipeline.core.errors import OutputError, SiteError, StacRequestError, StacTimeoutError
from pipeline.core.grid import Grid
from pipeline.io.c2write import write_window_product
from pipeline.io.fetch_cache import FetchCache, canonical_json
from pipeline.io.mtl import read_mtl_groups
from pipeline.io.sentinelhub import fetch_grid
from pipeline.io.stac.http import (
    RETRY_STATUSES,
    Signer,
    check_endpoint,
    forget_remote_file,
    gdal_env,
    http_session,
    retry_policy,
    strip_query,
)
from pipeline.io.stac.items import (
    WINDOW_PAD_PX,
    ItemAssets,
    Level,
    StacFetchReport,
    StacRequest,
    item_window,
    pick_assets,
    window_for,
)


@dataclass(frozen=True)
class Look:
    """One acquisition to read over one site: the item, its assets, the site's grid and folder."""

    site_id: str
    folder: Path
    grid: Grid
    item: dict[str, Any]
    assets: ItemAssets


def _encode(array: np.ndarray, grid_window: tuple[Any, Any]) -> bytes:
    transform, crs = grid_window
    profile = {"driver": "GTiff", "height": array.shape[0], "width": array.shape[1], "count": 1,
               "dtype": str(array.dtype), "crs": crs, "transform": transform,
               "compress": "deflate"}
    with MemoryFile() as mem:
        with mem.open(**profile) as dst:
            dst.write(array, 1)
        return bytes(mem.read())


def _decode(data: bytes) -> tuple[np.ndarray, Any, Any]:
    with MemoryFile(data) as mem, mem.open() as src:
        return src.read(1), src.transform, src.crs


def _read_window(url: str, win: Window | str, grid: Grid) -> tuple[np.ndarray, Any, Any, Window]:
    """Open a remote COG and read one window (``"unknown"``: find it from the file's header)."""
    with rasterio.open(url) as src:
        if isinstance(win, str):
            found = window_for(grid, src.crs, src.transform, (src.height, src.width),
                               pad=WINDOW_PAD_PX)
            if found is None:
                raise SiteError("the item does not cover the site's grid")
            win = found
        return src.read(1, window=win), src.window_transform(win), src.crs, win


class StacFetcher:
    """Searches, MTLs and windows of one run, through the cache, with error translation."""

    def __init__(self, config: StacConfig, report: StacFetchReport,
                 signer: Signer | None) -> None:
        self.config, self.report, self.sign = config, report, signer
        self.endpoint = check_endpoint(config.endpoint)
        self.cache = FetchCache(config.cache_dir)
        self._client: Any = None
        self._session: requests.Session | None = None

    # errors

    def _translate(self, exc: BaseException, url: str) -> StacRequestError:
        cause = exc.__context__ if exc.__context__ is not None else exc
        if isinstance(cause, requests.Timeout) or "timed out" in str(exc).lower():
            return StacTimeoutError(
                f"{url} did not answer within stac.timeout_s = {self.config.timeout_s:g} s "
                f"({self.config.max_retries} retries); run again later or raise "
                "stac.timeout_s (answers so far are cached)")
        status = getattr(exc, "status_code", None)
        if isinstance(cause, requests.exceptions.RetryError) or status in (429, 500, 502, 503,
                                                                           504):
            return StacRequestError(
                f"{url} kept failing (HTTP {status or '5xx/429'}) after stac.max_retries = "
                f"{self.config.max_retries} retries; the server is busy or rate-limiting: run "
                "again later (answers so far are cached)")
        if isinstance(cause, requests.ConnectionError):
            return StacRequestError(f"cannot reach {url}; check the network and stac.endpoint "
                                    f"({self.endpoint})")
        return StacRequestError(f"{url} answered HTTP {status or '?'}: {str(exc)[:300]}; check "
                                "stac.endpoint and the collection names stac.collection_l2/l1")

    # searches

    def _search_remote(self, request: StacRequest) -> list[dict[str, Any]]:
        from pystac_client import Client
        from pystac_client.exceptions import APIError
        from pystac_client.stac_api_io import StacApiIO

        try:
            if self._client is None:
                io = StacApiIO(timeout=self.config.timeout_s, max_retries=retry_policy(self.config))
                io.session.headers["User-Agent"] = "heatwatch-stac"
                self._client = Client.open(self.endpoint, stac_io=io,
                                           timeout=self.config.timeout_s)
            search = self._client.search(method="POST", max_items=self.config.max_items,
                                         **request.body(page_size=self.config.page_size))
            return list(search.items_as_dicts())
        except APIError as exc:
            raise self._translate(exc, f"{self.endpoint}/search") from None
        except NotImplementedError as exc:
            raise StacRequestError(f"{self.endpoint} is not a STAC API with item search ({exc}); "
                                   "check stac.endpoint") from None

    def search(self, request: StacRequest) -> list[dict[str, Any]]:
        """Return the items of one search (cached; unsettled searches are repeated)."""
        key = {"method": "POST", "url": f"{self.endpoint}/search",
               "body": request.body(page_size=self.config.page_size),
               "max_items": self.config.max_items}
        entry = self.cache.get(key)
        if entry is not None and entry.info.get("settled"):
            self.report.n_cached += 1
            return list(json.loads(entry.read())["features"])
        self.report.n_requests += 1
        items = self._search_remote(request)
        if len(items) >= self.config.max_items:
            self.report.failures.append(("*", None, f"a search returned stac.max_items = "
                                         f"{self.config.max_items} items and may be cut short; "
                                         "raise stac.max_items"))
        age = datetime.now(timezone.utc) - datetime.combine(request.end, time.max, timezone.utc)
        settled = age > timedelta(days=self.config.catalog_refresh_days)
        self.cache.put(key, canonical_json({"features": items}), suffix=".json",
                       info={"url": f"{self.endpoint}/search", "settled": settled,
                             "n_features": len(items)})
        return items

    # assets

    def _signed(self, href: str) -> str:
        return self.sign(href) if self.sign is not None else href

    def mtl(self, look: Look) -> Path:
        """Return the path of the cached MTL of a look (fetched whole on first use)."""
        href = strip_query(look.assets.mtl)
        key = {"method": "GET", "href": href}
        entry = self.cache.get(key)
        if entry is None:
            if self._session is None:
                self._session = http_session(self.config)
            self.report.n_requests += 1
            try:
                resp = self._session.get(self._signed(look.assets.mtl),
                                         timeout=self.config.timeout_s)
            except requests.RequestException as exc:
                raise self._translate(exc, href) from None
            if resp.status_code != 200:
                exc2 = StacRequestError(resp.text[:200])
                exc2.status_code = resp.status_code  # type: ignore[attr-defined]
                raise self._translate(exc2, href)
            self._count(look.site_id, len(resp.content))
            entry = self.cache.put(key, resp.content, suffix=f".{look.assets.mtl_format}",
                                   info={"url": href, "item_id": look.assets.item_id})
        else:
            self.report.n_cached += 1
        return entry.response_path

    def _probe(self, site_id: str, href: str) -> str | None:
        """Read the first bytes of an asset through ``requests`` (retries, Retry-After).

        Returns None when the host serves a TIFF there (so a failed GDAL read is worth
        repeating), else what is wrong, with what to do.
        """
        if self._session is None:
            self._session = http_session(self.config)
        clean = strip_query(href)
        try:
            resp = self._session.get(self._signed(href), headers={"Range": "bytes=0-3"},
                                     timeout=self.config.timeout_s)
        except requests.Timeout:
            return (f"no answer within stac.timeout_s = {self.config.timeout_s:g} s; run again "
                    "later or raise stac.timeout_s")
        except requests.RequestException as exc:
            return (f"{type(exc).__name__} after stac.max_retries = {self.config.max_retries} "
                    "retries; the host is busy or rate-limiting, run again later")
        self._count(site_id, len(resp.content))
        if resp.status_code in RETRY_STATUSES:
            return (f"HTTP {resp.status_code} after stac.max_retries = "
                    f"{self.config.max_retries} retries; the host is busy or rate-limiting, "
                    "run again later (answers so far are cached)")
        if resp.status_code >= 400:
            return (f"HTTP {resp.status_code}; the catalog points to an asset the host does not "
                    "serve (or it needs signing: stac.sign)")
        if resp.content[:4] not in (b"II*\x00", b"MM\x00*", b"II+\x00", b"MM\x00+"):
            return f"{clean} is not a GeoTIFF (it starts with {resp.content[:4]!r})"
        return None

    def _count(self, site_id: str, n: int | None) -> None:
        if n is None:
            self.report.bytes_unmeasured = True
            return
        self.report.bytes_read += n
        self.report.site_bytes[site_id] = self.report.site_bytes.get(site_id, 0) + n

    def window(self, look: Look, href: str) -> tuple[np.ndarray, Any, Any]:
        """Return (digital numbers, transform, CRS) of the window of ``href`` over the site."""
        clean = strip_query(href)
        win = item_window(look.item, href, look.grid)
        if win is None:
            raise SiteError("the item does not cover the site's grid")
        # the request is "the window of this file over this grid": known without opening the
        # file even when the item has no proj:* fields (the window is then found in its header)
        g = look.grid
        key = {"method": "GET", "href": clean, "pad_px": WINDOW_PAD_PX,
               "grid": {"crs": g.crs.to_string(), "transform": list(g.transform)[:6],
                        "shape": list(g.shape)}}
        entry = self.cache.get(key)
        if entry is not None:
            self.report.n_cached += 1
            return _decode(entry.read())
        self.report.n_requests += 1
        with gdal_env(self.config) as counter:
            for attempt in range(self.config.max_retries + 1):
                url = f"/vsicurl/{self._signed(href)}"
                try:
                    data, transform, crs, w = _read_window(url, win, look.grid)
                    break
                except RasterioError as exc:
                    text = str(exc).replace(url, clean).replace(self._signed(href), clean)
                    forget_remote_file(url)
                    # GDAL retries 5xx range reads, but neither the first request of an open
                    # nor a 429 (it ignores Retry-After) and then says only "not recognized":
                    # ask the host ourselves (waiting as it says), and read again if it is fine
                    trouble = self._probe(look.site_id, href)
                    if trouble is None and attempt < self.config.max_retries:
                        sleep(self.config.backoff_s * 2 ** attempt)
                        continue
                    raise StacRequestError(f"{clean} cannot be read as a GeoTIFF window: "
                                           f"{trouble or text}") from None
        self._count(look.site_id, counter.downloaded)
        self.cache.put(key, _encode(data, (transform, crs)), suffix=".tif",
                       info={"url": clean, "item_id": look.assets.item_id,
                             "window": [int(w.col_off), int(w.row_off), int(w.width),
                                        int(w.height)],
                             "bytes_read": counter.downloaded})
        return data, transform, crs

    # planning

    def looks(self, site_id: str, geometry: BaseGeometry, folder: Path, margin_m: float,
              periods: list[tuple[date, date]], levels: list[tuple[Level, str]]) -> list[Look]:
        """Return the looks to read over one site (one product per acquisition)."""
        grid = fetch_grid(geometry, margin_m=margin_m)
        bbox = grid.bounds_in("EPSG:4326")
        found: dict[str, Look] = {}
        for first, last in periods:
            for level, collection in levels:
                for item in self.search(StacRequest(collection, level, bbox, first, last)):
                    picked = pick_assets(item, level)
                    if isinstance(picked, str):
                        self.report.failures.append((site_id, str(item.get("id")),
                                                     f"{picked}; skipped"))
                        continue
                    cloud = item.get("properties", {}).get("eo:cloud_cover")
                    if isinstance(cloud, int | float) and cloud > self.config.max_cloud_cover:
                        continue
                    found.setdefault(picked.product_id, Look(site_id, folder, grid, item,
                                                              picked))
        by_look: dict[tuple[str, str, str], list[Look]] = {}
        for look in found.values():
            by_look.setdefault(look.assets.acquisition, []).append(look)
        # one product per acquisition: Level-2 where there is one, the newest processing
        return [sorted(group, key=lambda lk: (lk.assets.level == "L2", lk.assets.product_id))[-1]
                for _, group in sorted(by_look.items())]

    def write(self, look: Look) -> list[Path]:
        """Fetch (or take from the cache) a look's windows and MTL; write the product."""
        mtl_path = self.mtl(look)
        band_key = "FILE_NAME_BAND_ST_B10" if look.assets.level == "L2" else "FILE_NAME_BAND_10"
        dn, transform, crs = self.window(look, look.assets.band)
        bands = {band_key: dn}
        more = {"FILE_NAME_QUALITY_L1_PIXEL": look.assets.qa}
        if look.assets.red_nir is not None:
            more.update(zip(("FILE_NAME_BAND_4", "FILE_NAME_BAND_5"), look.assets.red_nir,
                            strict=True))
        for key, href in more.items():
            if href is None:
                continue
            extra, extra_tr, _ = self.window(look, href)
            if extra.shape == dn.shape and extra_tr == transform:  # on band 10's lattice
                bands[key] = extra
        groups = read_mtl_groups(mtl_path)
        pid = groups["PRODUCT_CONTENTS"].get("LANDSAT_PRODUCT_ID")
        if pid != look.assets.product_id:
            raise StacRequestError(f"the MTL of item {look.assets.item_id} is for {pid}, not "
                                   f"{look.assets.product_id}; the catalog entry is broken")
        try:
            return write_window_product(look.folder, groups=groups, bands=bands,
                                        transform=transform, crs=crs,
                                        mtl_format=cast(Any, look.assets.mtl_format))
        except (OSError, RasterioError) as exc:
            raise OutputError(f"cannot write {pid} into {look.folder}: {exc}") from exc
