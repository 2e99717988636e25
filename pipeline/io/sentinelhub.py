"""Sentinel Hub imagery source: Landsat 8/9 thermal acquisitions written as Collection 2 products.

The source does not hand arrays to the pipeline. It fetches each acquisition over each site and
writes it as a Collection-2-style product (band 10, ``QA_PIXEL``, ``MTL.json``) with
:mod:`pipeline.io.c2write`, one folder per site. The local reader then reads those folders like a
USGS download, so nothing downstream can tell the two sources apart.

Per site:

1. **Grid.** The scan's grid (:meth:`pipeline.core.grid.Grid.around`: footprint plus margin, WGS84
   UTM *north* zone of the centroid, 30 m) widened by two pixels and snapped outward to the
   Landsat Collection 2 pixel lattice, whose pixel centres lie on multiples of 30 m (edges at
   15 m modulo 30; see :func:`fetch_grid`). Sentinel Hub then returns the USGS pixels without
   resampling them (same UTM zone), the product is a true crop of the USGS one, and the reader
   puts fetched and downloaded products onto the scan grid by the same code path.
2. **Catalog.** One ``SentinelHubCatalog.search`` over the grid's bbox and the time range with
   ``eo:cloud_cover <= max_cloud_cover``. Items of one pass (same spacecraft, at most two
   minutes apart: adjacent WRS rows) form one acquisition, named after the item covering most of
   the grid. Level-2 ``L2SR`` items carry no thermal band and are left out.
3. **Process.** One Process API request per acquisition: the evalscript in
   ``pipeline/evalscripts`` returns ``B10``, ``BQA`` and ``dataMask`` (and, at Level-2, the
   red and near-infrared reflectance ``B04`` and ``B05``) as one FLOAT32 GeoTIFF
   (BQA is exact in float32) on the grid (bbox in the UTM CRS, 30 m, nearest resampling), with
   the time filter spanning the pass.

What Sentinel Hub returns for ``B10`` and how it is written back:

* ``LANDSAT_OT_L2``: surface temperature in K, the band's default unit. It is quantised with the
  USGS scale (``ST_B10`` DN, 0.00341802 K per DN + 149 K). Sentinel Hub derived it from those DN,
  and float32 holds ~300 K to ~3e-5 K, far below half a DN step, so the USGS DN come back exactly.
* ``LANDSAT_OT_L1``: top-of-atmosphere *brightness temperature* in K (the band's default unit;
  sentinelhub-py lists it as ``BRIGHTNESS_TEMPERATURE``), not the Level-1 counts. It is turned
  back into counts with the published band 10 constants of the spacecraft
  (:data:`TIRS_B10`) and written as a Level-1 product carrying those constants, so the reader's
  ``T = K2 / ln(K1 / L + 1)`` reproduces Sentinel Hub's brightness temperature to half a count
  (about 0.001 K at 300 K, 0.003 K at 220 K).
  The counts are an exact encoding of that temperature; they equal the USGS counts only in so far
  as Sentinel Hub used the same (per-instrument, fixed in Collection 2) constants.

Level-2 ``B04`` and ``B05`` are surface reflectance (their default unit), written back as
``SR_B4`` and ``SR_B5`` digital numbers with the USGS scale (2.75e-5 per DN - 0.2). Where
``dataMask`` is 0, band 10 and the reflectance are written as fill (DN 0) and ``QA_PIXEL`` as
the fill bit.

Caching, retries and secrets: every catalog and process answer goes through
:class:`pipeline.io.fetch_cache.FetchCache`; a run whose answers are all cached sends no request,
not even for a token. Retries are sentinelhub's own: 5xx and connection errors are retried
``max_retries`` times with exponential backoff (``backoff_s``, then x3); 429 waits for the
``Retry-After`` header, which Sentinel Hub gives in milliseconds. Credentials stay in ``SHConfig``;
DEBUG logging of ``requests_oauthlib`` (which prints the token request body, client secret
included) is held at INFO during a fetch, and messages never include the secret.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import math
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta, timezone
from importlib import resources
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import numpy as np
import requests
from affine import Affine
from dateutil.parser import isoparse
from geopandas import GeoDataFrame
from oauthlib.oauth2 import InsecureTransportError, OAuth2Error
from rasterio.errors import RasterioError
from rasterio.io import MemoryFile
from sentinelhub import CRS as SHCRS
from sentinelhub import (
    BBox,
    DataCollection,
    MimeType,
    ResamplingType,
    SentinelHubCatalog,
    SentinelHubDownloadClient,
    SentinelHubRequest,
    SHConfig,
)
from sentinelhub.decoding import decode_sentinelhub_err_msg
from sentinelhub.exceptions import (
    BaseSentinelHubException,
    DownloadFailedException,
    OutOfRequestsException,
)
from shapely.geometry import box, shape
from shapely.geometry.base import BaseGeometry

from pipeline.core.config import DiscoverConfig, SentinelHubConfig
from pipeline.core.errors import (
    AuthenticationError,
    ConfigError,
    FetchError,
    OutputError,
    SiteError,
)
from pipeline.core.grid import Grid
from pipeline.core.product_id import ProductId
from pipeline.core.sites import safe_name
from pipeline.io.c2write import write_l1_product, write_l2_product
from pipeline.io.fetch_cache import FetchCache, canonical_json
from pipeline.io.source import ImageryFolder, Progress, Ticker, write_fetch_record
from pipeline.science.calibrate import brightness_temperature_to_radiance
from pipeline.science.solar import sun_position

LOG = logging.getLogger(__name__)

#: Output pixel size: the 30 m grid of Collection 2 thermal products.
RESOLUTION_M = 30.0
#: Pixel edges of Collection 2 products sit at this offset modulo 30 m in their UTM zone (the
#: pixel centres on multiples of 30 m), e.g. both shared real samples (Liverpool LC08 L2SP:
#: x0 = 487005 m; Lahaina LC09 L1TP: x0 = 113985 m).
LATTICE_OFFSET_M = 15.0
#: Largest output side the Process API accepts, in pixels.
MAX_PIXELS = 2500
#: Items of one spacecraft closer in time than this are one pass (adjacent WRS rows).
PASS_GAP = timedelta(minutes=2)
#: Response header with the processing units a request cost (sentinelhub ``rate_limit.py``).
PU_HEADER = "x-processingunits-spent"
#: Band 10 constants printed in the MTL of every Collection 2 Level-1 product of the spacecraft
#: (``LEVEL1_RADIOMETRIC_RESCALING``, ``LEVEL1_THERMAL_CONSTANTS``; Landsat 8 and Landsat 9 Data
#: Users Handbooks; e.g. the shared LC09 Lahaina sample's MTL).
TIRS_B10: dict[int, dict[str, float]] = {
    8: {"radiance_mult": 3.342e-4, "radiance_add": 0.1, "k1": 774.8853, "k2": 1321.0789},
    9: {"radiance_mult": 3.8e-4, "radiance_add": 0.1, "k1": 799.0284, "k2": 1329.2405},
}
_EVALSCRIPTS = {"LANDSAT_OT_L2": "landsat_ot_l2.js", "LANDSAT_OT_L1": "landsat_ot_l1.js"}
_LEVELS = {"LANDSAT_OT_L2": ("L2SP",), "LANDSAT_OT_L1": ("L1TP", "L1GT", "L1GS")}
_CREDENTIAL_LOGGERS = ("requests_oauthlib", "oauthlib")



class _Unreachable(FetchError):
    """The service cannot be reached at all: the run stops (its answers so far stay cached)."""


@dataclass
class FetchReport:
    """What a fetch did: products written, requests sent, units spent, failures.

    ``products`` holds ``"<site folder>/<product id>"`` entries, ``site_dirs`` the folder written
    for each site, ``failures`` ``(site_id, product_id or None, message)`` triples.
    """

    collection: str
    base_url: str
    profile: str | None = None
    products: list[str] = field(default_factory=list)
    n_requests: int = 0
    n_cached: int = 0
    processing_units: float = 0.0
    failures: list[tuple[str, str | None, str]] = field(default_factory=list)
    site_dirs: dict[str, Path] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-compatible data (for ``fetch.json`` and ``run.json``)."""
        return {
            "collection": self.collection, "base_url": self.base_url, "profile": self.profile,
            "n_requests": self.n_requests, "n_cached": self.n_cached,
            "processing_units": round(self.processing_units, 6), "products": self.products,
            "site_dirs": {k: str(v) for k, v in self.site_dirs.items()},
            "failures": [{"site_id": s, "product_id": p, "message": m}
                         for s, p, m in self.failures],
        }


@dataclass(frozen=True)
class _Acquisition:
    site_id: str
    folder: Path
    grid: Grid
    product_id: str
    acquired: datetime
    time_range: tuple[datetime, datetime]
    properties: dict[str, Any]
    lonlat: tuple[float, float]


# Configuration -------------------------------------------------------------------------------


def load_evalscript(collection: str) -> str:
    """Return the evalscript shipped for ``collection`` (``pipeline/evalscripts/*.js``).

    Examples
    --------
    >>> load_evalscript("LANDSAT_OT_L2").splitlines()[0]
    '//VERSION=3'
    """
    if collection not in _EVALSCRIPTS:
        raise ConfigError(f"no evalscript for collection {collection!r}; use one of "
                          f"{', '.join(_EVALSCRIPTS)}")
    folder = resources.files("pipeline").joinpath("evalscripts")
    return folder.joinpath(_EVALSCRIPTS[collection]).read_text(encoding="utf-8")


def landsat_collection(name: str, base_url: str) -> DataCollection:
    """Return the Landsat data collection ``name`` served from ``base_url``.

    sentinelhub sends Process API requests to the ``service_url`` of the data collection when it
    has one, whatever ``SHConfig.sh_base_url`` says (``SentinelHubBaseApiRequest._get_base_url``);
    ``LANDSAT_OT_L1/L2`` carry the US West URL. A collection bound to ``base_url`` is therefore
    derived with :meth:`DataCollection.define_from` (named after a hash of the URL, so calling
    this again returns the same collection).

    Examples
    --------
    >>> landsat_collection("LANDSAT_OT_L2", "http://127.0.0.1:8080").service_url
    'http://127.0.0.1:8080'
    """
    try:
        stock = DataCollection[name]
    except KeyError:
        raise ConfigError(f"unknown Sentinel Hub collection {name!r}; use LANDSAT_OT_L2 or "
                          "LANDSAT_OT_L1") from None
    url = base_url.rstrip("/")
    if (stock.service_url or "").rstrip("/") == url:
        return stock
    tag = hashlib.sha256(url.encode("utf-8")).hexdigest()[:10]
    return stock.define_from(f"{name}_AT_{tag}", service_url=url)


def sh_config_for(config: SentinelHubConfig, sh_config: SHConfig | None = None) -> SHConfig:
    """Build the ``SHConfig`` of a fetch: credentials from sentinelhub, the rest from Heatwatch.

    Credentials come from ``sh_config`` when given, else from ``SHConfig(config.profile)``
    (sentinelhub's precedence: ``SH_CLIENT_ID``/``SH_CLIENT_SECRET`` over the profile in its
    ``config.toml``). Base and token URLs, timeouts and retry limits always come from ``config``.

    Raises
    ------
    ConfigError
        If the named profile does not exist or sentinelhub's configuration file is unreadable.
    """
    if sh_config is None:
        try:
            sh_config = SHConfig(config.profile)
        except KeyError:
            raise ConfigError(f"Sentinel Hub profile {config.profile!r} is not in "
                              f"{SHConfig.get_config_location()}; create it (sentinelhub.config "
                              "--profile NAME) or fix sentinelhub.profile") from None
        except (OSError, ValueError) as exc:
            raise ConfigError(f"cannot read {SHConfig.get_config_location()}: "
                              f"{type(exc).__name__}") from None
    sh = sh_config.copy()
    sh.sh_base_url = config.base_url.rstrip("/")
    sh.sh_token_url = config.token_url
    sh.download_timeout_seconds = config.timeout_s
    sh.max_download_attempts = config.max_retries + 1  # 5xx and connection errors
    sh.download_sleep_time = config.backoff_s  # then x3 per attempt (sentinelhub handlers.py)
    sh.max_retries = config.max_retries + 1  # 429 answers: attempts, counted by sentinelhub
    return sh


@contextlib.contextmanager
def _quiet_credential_logs() -> Iterator[None]:
    """Hold OAuth libraries at INFO: their DEBUG lines print the token request body."""
    names = [n for n in list(logging.root.manager.loggerDict)
             if n.split(".")[0] in _CREDENTIAL_LOGGERS] + list(_CREDENTIAL_LOGGERS)
    saved = {n: logging.getLogger(n).level for n in names}
    for n in names:
        if logging.getLogger(n).getEffectiveLevel() < logging.INFO:
            logging.getLogger(n).setLevel(logging.INFO)
    try:
        yield
    finally:
        for n, level in saved.items():
            logging.getLogger(n).setLevel(level)


# Conversions ---------------------------------------------------------------------------------


def brightness_temperature_to_counts(
    kelvin: np.ndarray, *, radiance_mult: float, radiance_add: float, k1: float, k2: float
) -> np.ndarray:
    """Encode brightness temperature (K) as Level-1 band 10 counts; NaN becomes fill (0).

    Inverse of the reader's calibration: ``L = K1 / (exp(K2 / T) - 1)``, then
    ``Q = round((L - RADIANCE_ADD) / RADIANCE_MULT)``, clipped to 1..65535.

    Examples
    --------
    >>> brightness_temperature_to_counts(np.array([300.0, np.nan]), **TIRS_B10[9]).tolist()
    [25071, 0]
    """
    with np.errstate(over="ignore", divide="ignore", invalid="ignore"):
        t = np.asarray(kelvin, dtype=np.float64)
        rad = brightness_temperature_to_radiance(np.where(t > 0, t, np.nan), k1=k1, k2=k2)
        q = np.rint((rad - radiance_add) / radiance_mult)
    ok = np.isfinite(q)
    return np.where(ok, np.clip(np.nan_to_num(q), 1, 65535), 0).astype(np.uint16)


def fetch_grid(geometry: BaseGeometry, *, margin_m: float) -> Grid:
    """Return the grid a site is fetched on: the scan grid, padded, on the Landsat lattice.

    The scan grid (:meth:`Grid.around` at 30 m) is widened by two pixels on each side, as the
    reader pads its reading window, and snapped outward so that pixel edges sit at
    :data:`LATTICE_OFFSET_M` modulo 30 m like those of USGS products. It therefore covers the
    scan grid with the neighbours bilinear resampling needs.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> g = fetch_grid(box(-75.0, 36.13, -74.99, 36.14), margin_m=300.0)
    >>> g.crs.to_epsg(), g.transform.c % 30, g.transform.f % 30
    (32618, 15.0, 15.0)
    """
    scan = Grid.around(geometry, margin_m=margin_m, resolution=RESOLUTION_M)
    left, bottom, right, top = scan.bounds
    pad, res, off = 2 * RESOLUTION_M, RESOLUTION_M, LATTICE_OFFSET_M

    def down(v: float) -> float:
        return math.floor((v - pad - off) / res) * res + off

    def up(v: float) -> float:
        return math.ceil((v + pad - off) / res) * res + off

    x0, y0, x1, y1 = down(left), down(bottom), up(right), up(top)
    return Grid(scan.crs, Affine(res, 0.0, x0, 0.0, -res, y1),
                (round((y1 - y0) / res), round((x1 - x0) / res)))


def _server_message(response: requests.Response | None) -> str:
    """Return the service's own words from an error answer (Sentinel Hub or OAuth JSON)."""
    if response is None:
        return ""
    try:
        body = response.json()
    except ValueError:
        return decode_sentinelhub_err_msg(response)
    err = body.get("error") if isinstance(body, dict) else None
    if isinstance(err, dict):
        return str(err.get("message") or err.get("reason") or json.dumps(err))
    if isinstance(err, str):
        return str(body.get("error_description") or err)
    return json.dumps(body)[:300]


def _header(headers: dict[str, Any], name: str) -> Any:
    return next((v for k, v in headers.items() if k.lower() == name), None)


def _processing_units(headers: dict[str, Any]) -> float:
    try:
        return float(_header(headers, PU_HEADER) or 0.0)
    except (TypeError, ValueError):
        return 0.0


#: The bands each collection's evalscript returns, in order.
ANSWER_BANDS = {"LANDSAT_OT_L2": ("B10", "BQA", "dataMask", "B04", "B05"),
                "LANDSAT_OT_L1": ("B10", "BQA", "dataMask")}


def _decode(content: bytes, grid: Grid, what: str, bands: tuple[str, ...]) -> np.ndarray:
    """Read the float32 answer (``bands``, in order), checked against the grid."""
    try:
        with MemoryFile(content) as mem, mem.open() as src:
            if src.count != len(bands):
                raise FetchError(f"{what}: the answer has {src.count} bands, not "
                                 f"{', '.join(bands)}; check pipeline/evalscripts")
            if (src.height, src.width) != grid.shape:
                raise FetchError(f"{what}: the answer is {src.height}x{src.width} pixels, the "
                                 f"grid {grid.shape[0]}x{grid.shape[1]}")
            if src.crs is not None and (src.crs != grid.crs or not src.transform.almost_equals(
                    grid.transform, precision=1e-3)):
                raise FetchError(f"{what}: the answer is not on the requested grid "
                                 f"({src.crs}, {tuple(src.transform)[:6]})")
            return src.read().astype(np.float32)
    except RasterioError as exc:
        raise FetchError(f"{what}: the answer is not a readable GeoTIFF ({exc})") from None


# One site and one acquisition ------------------------------------------------------------------


def _when(item: dict[str, Any]) -> datetime:
    when = isoparse(str(item["properties"]["datetime"]))
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _passes(items: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    groups: list[list[dict[str, Any]]] = []
    for item in sorted(items, key=lambda f: (f["id"][:4], _when(f))):
        last = groups[-1][-1] if groups else None
        if last and last["id"][:4] == item["id"][:4] and _when(item) - _when(last) <= PASS_GAP:
            groups[-1].append(item)
        else:
            groups.append([item])
    return sorted(groups, key=lambda g: _when(g[0]))


def _overlap(item: dict[str, Any], area: BaseGeometry) -> float:
    try:
        return float(shape(item["geometry"]).intersection(area).area)
    except (KeyError, TypeError, ValueError, AttributeError):
        return 0.0


def _write_product(acq: _Acquisition, bands: np.ndarray, collection: str) -> list[Path]:
    b10, bqa, mask = bands[:3]
    has_data = mask > 0.5
    valid = has_data & np.isfinite(b10) & (b10 > 0)
    kelvin = np.where(valid, b10, np.nan).astype(np.float64)
    finite = kelvin[valid]
    if finite.size and not 150.0 <= float(np.median(finite)) <= 400.0:
        raise FetchError(f"{acq.product_id}: B10 median {float(np.median(finite)):.4g} is no "
                         "temperature in kelvin; the deployment returns another unit")
    qa = np.where(has_data, np.rint(np.nan_to_num(bqa)), 1).astype(np.uint16)
    props = acq.properties
    cloud = props.get("eo:cloud_cover")  # USGS writes -1 when the cover is unknown
    elev, az = props.get("view:sun_elevation"), props.get("view:sun_azimuth")
    if elev is None or az is None:  # scene-centre angles unknown: the site's own sun position
        e, a = sun_position(acq.lonlat[1], acq.lonlat[0], acq.acquired)
        elev, az = float(e), float(a)
    common: dict[str, Any] = {
        "pid": acq.product_id, "transform": acq.grid.transform, "crs": acq.grid.crs,
        "acquired": acq.acquired, "sun_elevation": float(elev), "sun_azimuth": float(az),
        "cloud_cover": -1.0 if cloud is None else float(cloud), "qa_pixel": qa,
        "mtl_format": "json",
    }
    try:
        if collection == "LANDSAT_OT_L2":
            red, nir = (np.where(has_data, r, np.nan) for r in bands[3:5])
            return write_l2_product(acq.folder, kelvin=kelvin, reflectance={4: red, 5: nir},
                                    **common)
        c = TIRS_B10[ProductId.parse(acq.product_id).spacecraft]
        return write_l1_product(acq.folder, counts=brightness_temperature_to_counts(kelvin, **c),
                                radiance_mult=c["radiance_mult"], radiance_add=c["radiance_add"],
                                k1=c["k1"], k2=c["k2"], **common)
    except (OSError, RasterioError) as exc:
        raise OutputError(f"cannot write {acq.product_id} into {acq.folder}: {exc}") from exc


class _Fetcher:
    """Catalog and process requests of one run, through the cache, with error translation."""

    def __init__(self, config: SentinelHubConfig, sh: SHConfig, report: FetchReport) -> None:
        self.config, self.sh, self.report = config, sh, report
        self.collection = landsat_collection(config.collection, config.base_url)
        self.evalscript = load_evalscript(config.collection)
        self.cache = FetchCache(config.cache_dir)
        self._client: SentinelHubDownloadClient | None = None
        self._catalog: SentinelHubCatalog | None = None
        self._secrets = [s for s in (sh.sh_client_secret,) if s]

    # errors

    def _scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "***")
        return text

    def _auth_error(self, status: int | None, url: str, detail: str) -> AuthenticationError:
        where = (f"profile {self.config.profile!r} in {SHConfig.get_config_location()}"
                 if self.config.profile else "SH_CLIENT_ID/SH_CLIENT_SECRET or the default "
                 f"profile in {SHConfig.get_config_location()}")
        msg = (f"Sentinel Hub refused the request to {url} (HTTP {status or '?'}"
               f"{': ' + detail if detail else ''}). Check the OAuth client id and secret "
               f"({where}), the token URL {self.config.token_url}, and that the account has "
               f"access to {self.config.collection} on {self.config.base_url}")
        if status == 403:
            msg += "; HTTP 403 is also the answer when the account has no processing units left"
        return AuthenticationError(self._scrub(msg))

    def _translate(self, exc: Exception, url: str) -> FetchError:
        if isinstance(exc, OAuth2Error):
            detail = exc.description or exc.error or ""
            return self._auth_error(getattr(exc, "status_code", None), self.sh.sh_token_url,
                                    str(detail))
        if isinstance(exc, OutOfRequestsException):
            return FetchError(f"{url} kept answering 429 Too Many Requests after "
                              f"{self.sh.max_retries} attempts; wait for the account's rate "
                              "limit to recover and run again (answers so far are cached)")
        req = exc.request_exception if isinstance(exc, DownloadFailedException) else exc
        response = getattr(req, "response", None)
        status = getattr(response, "status_code", None)
        if status in (401, 403):
            return self._auth_error(status, url, self._scrub(_server_message(response)))
        if isinstance(req, requests.ConnectionError):
            return _Unreachable(f"cannot reach {url} after {self.sh.max_download_attempts} "
                                "attempts; check the network, sentinelhub.base_url and "
                                "sentinelhub.token_url (answers so far are cached)")
        if isinstance(req, requests.Timeout):
            return FetchError(f"{url} did not answer within sentinelhub.timeout_s = "
                              f"{self.config.timeout_s:g} s in {self.sh.max_download_attempts} "
                              "attempts; run again later or raise sentinelhub.timeout_s "
                              "(answers so far are cached)")
        if status is not None:
            detail = self._scrub(_server_message(response))[:300]
            return FetchError(f"{url} answered HTTP {status}: {detail or 'no message'}")
        return FetchError(self._scrub(f"request to {url} failed: {type(exc).__name__}: {exc}"))

    def _call(self, fn: Callable[[], Any], url: str) -> Any:
        if not (self.sh.sh_client_id and self.sh.sh_client_secret):
            where = (f"profile {self.config.profile!r} of {SHConfig.get_config_location()}"
                     if self.config.profile else "SH_CLIENT_ID and SH_CLIENT_SECRET")
            raise AuthenticationError(f"no Sentinel Hub credentials for {url}: set {where} "
                                      "(the answers needed are not all in the cache)")
        self.report.n_requests += 1
        try:
            return fn()
        except InsecureTransportError:
            raise ConfigError(f"sentinelhub.token_url {self.sh.sh_token_url} is not https, which "
                              "OAuth2 forbids; use the https URL of the deployment") from None
        except (OAuth2Error, BaseSentinelHubException, requests.RequestException) as exc:
            if isinstance(exc, BaseSentinelHubException) and not isinstance(
                    exc, DownloadFailedException):
                raise FetchError(f"malformed answer from {url}: {exc}") from None
            raise self._translate(exc, url) from None
        except (ValueError, KeyError, TypeError) as exc:
            raise FetchError(f"malformed answer from {url}: {type(exc).__name__}: "
                             f"{self._scrub(str(exc))[:200]}") from None

    # requests

    def search(self, grid: Grid, start: date, end: date) -> list[dict[str, Any]]:
        """Return the catalog items over the grid (cached; unsettled searches are repeated)."""
        if self._catalog is None:
            self._catalog = SentinelHubCatalog(config=self.sh)
        # The catalog takes WGS84; transform here (densified edges) rather than in sentinelhub.
        bbox = BBox(grid.bounds_in("EPSG:4326"), crs=SHCRS.WGS84)
        it = self._catalog.search(self.collection, time=(start, end), bbox=bbox,
                                  filter=f"eo:cloud_cover <= {self.config.max_cloud_cover:g}")
        request = {"method": "POST", "path": urlsplit(it.url).path, "body": it.params}
        entry = self.cache.get(request)
        if entry is not None and entry.info.get("settled"):
            self.report.n_cached += 1
            return list(json.loads(entry.read())["features"])
        try:
            features = self._call(lambda: list(it), it.url)
        except FetchError as exc:
            if entry is None or isinstance(exc, AuthenticationError):
                raise
            LOG.warning("catalog search failed (%s); using its answer cached at %s", exc,
                        entry.info.get("stored_at"))
            self.report.n_cached += 1
            return list(json.loads(entry.read())["features"])
        age = datetime.now(timezone.utc) - datetime.combine(end, time.max, timezone.utc)
        settled = age > timedelta(days=self.config.catalog_refresh_days)
        self.cache.put(request, canonical_json({"features": features}), suffix=".json",
                       info={"url": it.url, "settled": settled, "n_features": len(features)})
        return features

    def process(self, acq: _Acquisition) -> np.ndarray:
        """Return the answer (:data:`ANSWER_BANDS`) of one acquisition, cached or fetched."""
        epsg = acq.grid.crs.to_epsg()
        request = SentinelHubRequest(
            evalscript=self.evalscript,
            input_data=[SentinelHubRequest.input_data(
                self.collection, time_interval=acq.time_range,
                upsampling=ResamplingType.NEAREST, downsampling=ResamplingType.NEAREST)],
            responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
            bbox=BBox(acq.grid.bounds, crs=SHCRS(epsg)),
            resolution=(RESOLUTION_M, RESOLUTION_M), config=self.sh)
        download = request.download_list[0]
        url = str(download.url)
        key = {"method": "POST", "path": urlsplit(url).path, "body": download.post_values}
        what = f"{acq.product_id} over {acq.site_id}"
        entry = self.cache.get(key)
        if entry is not None:
            self.report.n_cached += 1
            return _decode(entry.read(), acq.grid, what, ANSWER_BANDS[self.config.collection])
        if self._client is None:
            self._client = SentinelHubDownloadClient(config=self.sh)
        client = self._client
        response = self._call(lambda: client.download([download], decode_data=False)[0], url)
        units = _processing_units(response.headers)
        self.report.processing_units += units
        bands = _decode(response.content, acq.grid, what, ANSWER_BANDS[self.config.collection])
        self.cache.put(key, response.content, suffix=".tif", info={
            "url": url, "processing_units": units, "product_id": acq.product_id,
            "content_type": _header(response.headers, "content-type")})
        return bands

    def plan(self, site_id: str, geometry: BaseGeometry, folder: Path, start: date, end: date,
             margin_m: float) -> list[_Acquisition]:
        """Return the acquisitions to fetch over one site."""
        grid = fetch_grid(geometry, margin_m=margin_m)
        if max(grid.shape) > MAX_PIXELS:
            raise SiteError(f"site {site_id!r} plus a {margin_m:g} m margin is {grid.shape[1]}x"
                            f"{grid.shape[0]} pixels, above the Process API limit of "
                            f"{MAX_PIXELS}; lower grid.margin_m or split the site")
        area = box(*grid.bounds_in("EPSG:4326"))
        items, levels = self.search(grid, start, end), _LEVELS[self.config.collection]
        kept = []
        for item in items:
            m = ProductId.match(str(item.get("id", "")))
            m = m if m is not None and m.has_band10 else None
            try:
                _when(item)
                cloud = item["properties"].get("eo:cloud_cover")
                cloudy = cloud is not None and float(cloud) > self.config.max_cloud_cover
            except (KeyError, TypeError, ValueError, AttributeError):
                m, cloudy = None, True
            if m is None:
                self.report.failures.append((site_id, str(item.get("id")), "catalog item is not "
                                             "a Landsat 8/9 Collection 2 product with band 10 "
                                             "and a datetime; "
                                             "skipped"))
            elif m.level in levels and not cloudy:
                kept.append(item)
        centre = geometry.centroid
        plans = []
        for group in _passes(kept):
            best = max(group, key=lambda f: _overlap(f, area))
            plans.append(_Acquisition(
                site_id, folder, grid, best["id"], _when(best),
                (_when(group[0]) - timedelta(seconds=1), _when(group[-1]) + timedelta(seconds=1)),
                dict(best.get("properties", {})), (centre.x, centre.y)))
        return plans


# Public entry point --------------------------------------------------------------------------


def _site_rows(sites: GeoDataFrame) -> list[tuple[str, BaseGeometry]]:
    if "site_id" not in sites.columns:
        raise SiteError("the sites have no site_id column; give every site a unique site_id")
    if sites.crs is None:
        raise SiteError("the sites have no CRS; give them one (EPSG:4326 for lon/lat)")
    sites = sites.to_crs(4326) if sites.crs.to_epsg() != 4326 else sites
    ids = [str(s) for s in sites["site_id"]]
    dup = sorted({s for s in ids if ids.count(s) > 1})
    if dup:
        raise SiteError(f"site_id {dup[0]!r} is used twice; site ids must be unique")
    return [(sid, geom) for sid, geom in zip(ids, sites.geometry, strict=True) if geom is not None]


def fetch_sites(
    sites: GeoDataFrame,
    *,
    start: date,
    end: date,
    out_dir: Path,
    config: SentinelHubConfig,
    margin_m: float,
    sh_config: SHConfig | None = None,
    progress: Progress | None = None,
) -> FetchReport:
    """Fetch every Landsat acquisition over each site and write it as a Collection 2 product.

    Products go to ``out_dir/<safe site name>/`` (:func:`pipeline.core.sites.safe_name`), one
    folder per site, so :func:`pipeline.io.reader.discover_products` of a site's folder finds
    that site's products. A request that still fails after the retries is recorded in
    :attr:`FetchReport.failures` and the others go on.

    Parameters
    ----------
    sites
        Sites with ``site_id`` and a polygon (or point) geometry, any CRS (EPSG:4326 usually).
    start, end
        First and last day of the time range (UTC, inclusive).
    out_dir
        Folder receiving the per-site product folders.
    config
        The ``sentinelhub`` configuration section (collection, URLs, cache, retries).
    margin_m
        Margin around each site's bounds, in metres (``grid.margin_m``).
    sh_config
        sentinelhub configuration holding the credentials; default ``SHConfig(config.profile)``.
    progress
        Called as ``progress(done, total, description)`` after each request.

    Returns
    -------
    FetchReport
        Products written, requests sent and served from the cache, processing units spent and
        failures.

    Raises
    ------
    AuthenticationError
        On HTTP 401/403 or missing credentials (the message says what to check).
    FetchError
        If the service cannot be reached at all (answers so far stay cached).
    ConfigError, SiteError
        On a bad time range, profile or site table.

    Examples
    --------
    >>> report = fetch_sites(sites, start=date(2024, 1, 1), end=date(2024, 12, 31),
    ...                      out_dir=Path("imagery"), config=load_config().sentinelhub,
    ...                      margin_m=3000.0)  # doctest: +SKIP
    >>> report.n_requests, report.processing_units  # doctest: +SKIP
    (24, 1.9)
    """
    if start > end:
        raise ConfigError(f"start {start} is after end {end}; give --start before --end")
    rows = _site_rows(sites)
    sh = sh_config_for(config, sh_config)
    report = FetchReport(collection=config.collection, base_url=config.base_url,
                         profile=config.profile)
    fetcher = _Fetcher(config, sh, report)
    tick = Ticker(progress, total=len(rows))
    with _quiet_credential_logs():
        plans: list[_Acquisition] = []
        for site_id, geometry in rows:
            folder = Path(out_dir) / safe_name(site_id)
            report.site_dirs[site_id] = folder
            try:
                plans += fetcher.plan(site_id, geometry, folder, start, end, margin_m)
            except (AuthenticationError, _Unreachable):
                raise
            except (FetchError, SiteError) as exc:
                report.failures.append((site_id, None, str(exc)))
            tick(f"catalog {site_id}")
        tick.add(len(plans))
        for acq in plans:
            try:
                _write_product(acq, fetcher.process(acq), config.collection)
                report.products.append(f"{acq.folder.name}/{acq.product_id}")
            except (AuthenticationError, _Unreachable, OutputError):
                raise
            except FetchError as exc:
                report.failures.append((acq.site_id, acq.product_id, str(exc)))
            tick(acq.product_id)
    return report


def check_tile_size(tiles: GeoDataFrame, discover: DiscoverConfig) -> None:
    """Raise unless one request can fetch each tile; say which setting to lower."""
    widest = max((max(fetch_grid(g, margin_m=0.0).shape) for g in tiles.geometry), default=0)
    if widest > MAX_PIXELS:
        raise ConfigError(
            f"a tile of discover.tile_size_m = {discover.tile_size_m:g} m with "
            f"discover.tile_overlap_m = {discover.tile_overlap_m:g} m is {widest} pixels wide, "
            f"above Sentinel Hub's {MAX_PIXELS} pixels per request; lower discover.tile_size_m")


@dataclass
class SentinelHubSource:
    """Sentinel Hub as an :class:`pipeline.io.source.ImagerySource`: fetch, then read locally.

    :meth:`folders` fetches every site's acquisitions (:func:`fetch_sites`) into
    ``out_dir/<site>/`` and returns one folder per site (the products are per-site crops);
    with ``record`` it also writes that ``fetch.json`` (``about``, period, margin, report).
    """

    out_dir: Path
    start: date
    end: date
    config: SentinelHubConfig
    margin_m: float
    record: Path | None = None
    about: Mapping[str, Any] = field(default_factory=dict)
    sh_config: SHConfig | None = None
    name: str = "sentinelhub"
    report: FetchReport | None = None

    def folders(self, sites: GeoDataFrame | None, *,
                progress: Progress | None = None) -> list[ImageryFolder]:
        """Fetch the sites' acquisitions; return each site's folder."""
        if sites is None:
            raise ConfigError("the Sentinel Hub source fetches sites; give --sites (or a region)")
        self.report = fetch_sites(sites, start=self.start, end=self.end, out_dir=self.out_dir,
                                  config=self.config, margin_m=self.margin_m,
                                  sh_config=self.sh_config, progress=progress)
        if self.record is not None:
            write_fetch_record(self.record, self.report, start=self.start, end=self.end,
                               margin_m=self.margin_m, about=self.about)
        return [ImageryFolder(Path(folder), (sid,))
                for sid, folder in self.report.site_dirs.items()]

    def provenance(self) -> dict[str, Any]:
        """Return ``{"imagery_dir": out_dir}``."""
        return {"imagery_dir": str(self.out_dir)}
