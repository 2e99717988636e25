"""HTTP plumbing of the STAC source: retries, timeouts, URL signing, GDAL range reads, byte counts.

Two clients talk to the network. ``requests`` (through pystac-client's :class:`StacApiIO`, and
for MTL files) retries 5xx answers, connection errors and 429 with a bounded
:class:`urllib3.Retry` that honours ``Retry-After`` up to ``stac.max_retry_after_s``. GDAL reads
the rasters through ``/vsicurl/`` with HTTP range requests; its retries are set with the same
bounds for 5xx (``GDAL_HTTP_MAX_RETRY``, ``GDAL_HTTP_RETRY_DELAY``, ``GDAL_HTTP_RETRY_CODES``)
and ``GDAL_DISABLE_READDIR_ON_OPEN`` keeps it from listing the remote folder. GDAL (3.10)
retries a 429 without reading ``Retry-After`` and does not retry the first request of an open
(it then only says "not recognized as being in a supported file format"), so 429 is not in its
list and a failed read comes back to the caller: it reads the file's first bytes through
``requests``, whose retry policy waits the ``Retry-After`` the host gives, and reads the window
again if the host serves a TIFF (bounded by ``stac.max_retries``).

Bytes received are counted on both paths: ``requests`` bodies by length, GDAL's by its own
network statistics (``CPL_VSIL_NETWORK_STATS_ENABLED``, read from rasterio's GDAL library; when
that library cannot be told apart, e.g. two bundled GDALs and neither rasterio's, the GDAL bytes
are reported as unknown, not zero).

Signed URLs (Planetary Computer SAS tokens) are only ever used to open a connection: every href
recorded in provenance or in a cache key goes through :func:`strip_query` first.
"""

from __future__ import annotations

import ctypes
import json
import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import rasterio
import requests
from requests.adapters import HTTPAdapter
from urllib3 import Retry

from pipeline.core.config import StacConfig
from pipeline.core.errors import ConfigError

LOG = logging.getLogger(__name__)

#: HTTP statuses retried by both clients (transient server states and rate limits).
RETRY_STATUSES = (429, 500, 502, 503, 504)

#: ``sign(href) -> href``: adds whatever the endpoint needs (a SAS token) to an asset URL.
Signer = Callable[[str], str]


def strip_query(href: str) -> str:
    """Return ``href`` without query string and fragment (drops signing tokens).

    Examples
    --------
    >>> strip_query("https://x.blob.core.windows.net/c/a_B10.TIF?st=1&sig=SECRET")
    'https://x.blob.core.windows.net/c/a_B10.TIF'
    """
    parts = urlsplit(href)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


class _CappedRetry(Retry):
    """urllib3 Retry whose ``Retry-After`` waits are capped (a server may ask for hours)."""

    cap_s: float = 60.0

    def get_retry_after(self, response: Any) -> float | None:
        wait = super().get_retry_after(response)
        return None if wait is None else min(wait, self.cap_s)

    def new(self, **kw: Any) -> _CappedRetry:
        fresh = super().new(**kw)
        fresh.cap_s = self.cap_s
        return fresh  # type: ignore[return-value]


def retry_policy(config: StacConfig) -> Retry:
    """Return the bounded retry policy of ``requests`` calls (POST searches included)."""
    retry = _CappedRetry(total=config.max_retries, connect=config.max_retries,
                         read=config.max_retries, status=config.max_retries,
                         backoff_factor=config.backoff_s, status_forcelist=RETRY_STATUSES,
                         allowed_methods=None, respect_retry_after_header=True,
                         raise_on_status=False)
    retry.cap_s = config.max_retry_after_s
    return retry


def http_session(config: StacConfig) -> requests.Session:
    """Return a ``requests`` session with the retry policy mounted for http and https."""
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry_policy(config))
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers["User-Agent"] = "heatwatch-stac"
    return session


def make_signer(config: StacConfig) -> Signer | None:
    """Return the URL signer named by ``stac.sign`` (``none`` or ``planetary_computer``).

    ``planetary_computer`` uses :func:`planetary_computer.sign` (anonymous SAS tokens from the
    token endpoint, ``PC_SDK_SUBSCRIPTION_KEY`` if set in the environment); ``stac.token_url``
    overrides that endpoint (``PC_SDK_SAS_URL``, e.g. a local test server).
    """
    if config.sign == "none":
        return None
    import planetary_computer
    from planetary_computer.settings import Settings

    if config.token_url:
        # planetary_computer reads PC_SDK_SAS_URL once into a cached Settings object
        Settings.get().sas_url = config.token_url.rstrip("/")
    return lambda href: str(planetary_computer.sign_url(href))


# GDAL -------------------------------------------------------------------------------------------


def _gdal_library() -> ctypes.CDLL | None:
    """Return the GDAL library rasterio has loaded (for its network statistics), or None."""
    try:
        maps = Path("/proc/self/maps").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    paths = sorted({line.split()[-1] for line in maps.splitlines()
                    if "libgdal" in line.split()[-1]})
    # wheels bundle their own GDAL (rasterio.libs, pyogrio.libs): take rasterio's; with one
    # shared system GDAL there is only one
    ours = [p for p in paths if "rasterio" in p]
    if ours or len(paths) == 1:
        paths = ours or paths
    else:
        return None
    for path in paths:
        try:
            lib = ctypes.CDLL(path)
            lib.VSINetworkStatsGetAsSerializedJSON.restype = ctypes.c_void_p
            lib.VSINetworkStatsGetAsSerializedJSON.argtypes = [ctypes.c_void_p]
            lib.VSIFree.argtypes = [ctypes.c_void_p]
            return lib
        except (OSError, AttributeError):
            continue
    return None


@dataclass
class GdalBytes:
    """Bytes GDAL downloaded inside one :func:`gdal_env` block (None: not measurable here)."""

    downloaded: int | None = None


def _gdal_downloaded(lib: ctypes.CDLL) -> int:
    ptr = lib.VSINetworkStatsGetAsSerializedJSON(None)
    if not ptr:
        return 0
    try:
        stats = json.loads(ctypes.string_at(ptr).decode("utf-8"))
    finally:
        lib.VSIFree(ptr)

    def walk(node: Any) -> int:
        if not isinstance(node, dict):
            return 0
        methods = node.get("methods", {})
        here = sum(int(m.get("downloaded_bytes", 0)) for m in methods.values()
                   if isinstance(m, dict))
        return here if methods else sum(walk(v) for k, v in node.items() if k != "methods")

    # the top level repeats the per-handler totals; count the handlers' own entries once
    return walk(stats.get("handlers", stats))


@contextmanager
def gdal_env(config: StacConfig) -> Iterator[GdalBytes]:
    """Open a rasterio environment for windowed HTTP reads and count the bytes they download.

    Raises
    ------
    ConfigError
        Never for the environment itself; listed for symmetry with the callers' contracts.
    """
    lib = _gdal_library()
    counter = GdalBytes(0 if lib is not None else None)
    options = {
        "GDAL_DISABLE_READDIR_ON_OPEN": "EMPTY_DIR",
        "CPL_VSIL_CURL_ALLOWED_EXTENSIONS": ".TIF,.tif,.tiff,.TIFF",
        "GDAL_HTTP_MAX_RETRY": str(config.max_retries),
        # GDAL reads a delay of 0 as "no retry"
        "GDAL_HTTP_RETRY_DELAY": f"{max(config.backoff_s, 0.01):g}",
        # 429 is left to the caller: GDAL 3.10 retries it without reading Retry-After
        "GDAL_HTTP_RETRY_CODES": ",".join(str(s) for s in RETRY_STATUSES if s != 429),
        "GDAL_HTTP_TIMEOUT": str(max(1, round(config.timeout_s))),
        "GDAL_HTTP_CONNECTTIMEOUT": str(max(1, round(config.timeout_s))),
        "GDAL_HTTP_MERGE_CONSECUTIVE_RANGES": "YES",
        "GDAL_HTTP_USERAGENT": "heatwatch-stac",
        "CPL_VSIL_CURL_CHUNK_SIZE": str(config.range_chunk_bytes),
        "GDAL_INGESTED_BYTES_AT_OPEN": str(config.range_chunk_bytes),
        "CPL_VSIL_NETWORK_STATS_ENABLED": "YES",
        "VSI_CACHE": "FALSE",
    }
    with rasterio.Env(**options):
        if lib is not None:
            lib.VSINetworkStatsReset()
        try:
            yield counter
        finally:
            if lib is not None:
                counter.downloaded = _gdal_downloaded(lib)
                lib.VSINetworkStatsReset()


def clear_gdal_http_cache() -> None:
    """Forget what GDAL has cached of remote files in this process (``VSICurlClearCache``).

    GDAL keeps downloaded ranges for the life of the process, so a second read of the same
    window costs nothing; tests and benchmarks call this to measure a cold read.
    """
    lib = _gdal_library()
    if lib is not None:
        lib.VSICurlClearCache()


def forget_remote_file(url: str) -> None:
    """Drop what GDAL cached about one remote file (a failed open is cached as 'not found')."""
    lib = _gdal_library()
    if lib is not None:
        lib.VSICurlPartialClearCache(url.encode("utf-8"))


def check_endpoint(url: str) -> str:
    """Return the endpoint URL without trailing slash, or raise if it is not http(s).

    Examples
    --------
    >>> check_endpoint("https://landsatlook.usgs.gov/stac-server/")
    'https://landsatlook.usgs.gov/stac-server'
    """
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(f"stac.endpoint {url!r} is not an http(s) URL; give the STAC API root, "
                          "e.g. https://landsatlook.usgs.gov/stac-server")
    return url.rstrip("/")
