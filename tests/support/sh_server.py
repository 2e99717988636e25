"""A fake Sentinel Hub on 127.0.0.1 for tests: OAuth token, Catalog search and Process API.

The real ``sentinelhub`` client is pointed at it (``base_url``/``token_url``), so tests see the
requests exactly as the client sends them. Every request is recorded. Answers are built from
small synthetic (or real, cropped) rasters with rasterio: the Process API mosaics the scenes of
the requested time range onto the requested bbox/CRS/resolution (nearest neighbour) and returns
B10, BQA and dataMask as one FLOAT32 GeoTIFF, the layout Heatwatch's evalscripts ask for.

Faults are switched on per path with :meth:`FakeSentinelHub.fail` (any status, body and
headers, ``times`` answers, optionally only for requests matching a predicate): 503 n times,
401, 429 with ``Retry-After`` (milliseconds, as Sentinel Hub sends it), malformed JSON, ...
"""

from __future__ import annotations

import base64
import json
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
from affine import Affine
from dateutil.parser import isoparse
from rasterio.crs import CRS
from rasterio.io import MemoryFile
from rasterio.transform import from_origin
from rasterio.warp import Resampling, reproject, transform_bounds

TOKEN_PATH = "/oauth/token"
CATALOG_PATH = "/api/v1/catalog/1.0.0/search"
PROCESS_PATH = "/api/v1/process"
CLIENT_ID = "heatwatch-test-client"
CLIENT_SECRET = "s3cr3t-DO-NOT-LEAK-7f9a2c"


@dataclass
class FakeScene:
    """One acquisition the server holds: its catalog item and B10/BQA/dataMask rasters."""

    product_id: str
    when: datetime
    b10: np.ndarray
    bqa: np.ndarray
    transform: Affine
    crs: CRS
    collection: str = "landsat-ot-l2"
    cloud_cover: float = 5.0
    sun_elevation: float | None = 55.0
    sun_azimuth: float | None = 140.0
    data_mask: np.ndarray | None = None
    #: Red and near-infrared surface reflectance (B04, B05); None: 0, as an empty band.
    b04: np.ndarray | None = None
    b05: np.ndarray | None = None

    @property
    def mask(self) -> np.ndarray:
        if self.data_mask is not None:
            return self.data_mask.astype(np.float32)
        return (np.isfinite(self.b10) & (self.b10 > 0)).astype(np.float32)

    def bounds_wgs84(self) -> tuple[float, float, float, float]:
        h, w = self.b10.shape
        t = self.transform
        return transform_bounds(self.crs, "EPSG:4326", t.c, t.f + h * t.e, t.c + w * t.a, t.f)

    def item(self) -> dict[str, Any]:
        """The STAC feature the catalog returns for this scene."""
        x0, y0, x1, y1 = self.bounds_wgs84()
        props: dict[str, Any] = {"datetime": self.when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                                 "eo:cloud_cover": self.cloud_cover,
                                 "platform": f"landsat-{int(self.product_id[3])}"}
        if self.sun_elevation is not None:
            props["view:sun_elevation"] = self.sun_elevation
        if self.sun_azimuth is not None:
            props["view:sun_azimuth"] = self.sun_azimuth
        ring = [[x0, y0], [x1, y0], [x1, y1], [x0, y1], [x0, y0]]
        return {"type": "Feature", "stac_version": "1.0.0", "id": self.product_id,
                "collection": self.collection, "bbox": [x0, y0, x1, y1],
                "geometry": {"type": "Polygon", "coordinates": [ring]}, "properties": props}


@dataclass
class Recorded:
    """One request the server received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)

    @property
    def form(self) -> dict[str, str]:
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Fault:
    """A canned answer replacing the normal one ``times`` times (for matching requests)."""

    status: int
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    times: int = 1
    match: Callable[[Recorded], bool] | None = None


def _jwt(claims: dict[str, Any]) -> str:
    def enc(d: dict[str, Any]) -> str:
        return base64.urlsafe_b64encode(json.dumps(d).encode()).decode().rstrip("=")

    return f"{enc({'alg': 'none', 'typ': 'JWT'})}.{enc(claims)}.c2ln"


def _json(status: int, obj: Any, headers: dict[str, str] | None = None) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json", **(headers or {})}, json.dumps(obj).encode()


class FakeSentinelHub:
    """The fake service; use as a context manager or call :meth:`start`/:meth:`stop`."""

    def __init__(self, scenes: Iterable[FakeScene] = (), *, client_id: str = CLIENT_ID,
                 client_secret: str = CLIENT_SECRET, token_path: str = TOKEN_PATH) -> None:
        self.scenes = list(scenes)
        self.client_id, self.client_secret, self.token_path = client_id, client_secret, token_path
        self.requests: list[Recorded] = []
        self.processing_units: list[float] = []
        self._faults: dict[str, list[Fault]] = {}
        self._tokens: set[str] = set()
        self._lock = threading.Lock()
        self._idle = threading.Condition(self._lock)  # notified when a request is done
        self._in_flight = 0
        self._stopped = False
        self._server: ThreadingHTTPServer | None = None
        self._port: int | None = None

    # lifecycle

    def start(self) -> FakeSentinelHub:
        self._stopped = False
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.fake = self  # type: ignore[attr-defined]
        threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01},
                         daemon=True).start()
        self._server, self._port = server, server.server_address[1]
        return self

    def stop(self, timeout: float = 30.0) -> None:
        """Stop answering, then wait for the requests being handled to finish.

        Handler threads must not outlive the test: one still mosaicking (rasterio) would run
        during a later test, where its warnings land. Idle keep-alive connections are not
        waited for; a request arriving on one after the stop is not answered.
        """
        with self._lock:
            self._stopped = True
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        with self._idle:
            if not self._idle.wait_for(lambda: self._in_flight == 0, timeout):
                raise RuntimeError(f"{self._in_flight} request(s) still being handled "
                                   f"{timeout:g} s after stop()")

    def __enter__(self) -> FakeSentinelHub:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """URL of the service (kept after :meth:`stop`, when nothing answers there any more)."""
        assert self._port is not None, "server never started"
        return f"http://127.0.0.1:{self._port}"

    @property
    def token_url(self) -> str:
        return self.base_url + self.token_path

    # test helpers

    def fail(self, path: str, status: int, *, times: int = 1, body: bytes | str = b"",
             headers: dict[str, str] | None = None,
             match: Callable[[Recorded], bool] | None = None) -> None:
        """Answer the next ``times`` (matching) requests to ``path`` with ``status``."""
        data = body.encode() if isinstance(body, str) else body
        with self._lock:
            self._faults.setdefault(path, []).append(Fault(status, data, headers or {}, times,
                                                           match))

    def requests_to(self, path: str) -> list[Recorded]:
        return [r for r in self.requests if r.path == path]

    def clear(self) -> None:
        """Forget the recorded requests and processing units (faults stay)."""
        with self._lock:
            self.requests.clear()
            self.processing_units.clear()

    # dispatch

    def handle(self, rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        with self._lock:
            self.requests.append(rec)
            fault = next((f for f in self._faults.get(rec.path, [])
                          if f.times > 0 and (f.match is None or f.match(rec))), None)
            if fault is not None:
                fault.times -= 1
        if fault is not None:
            return fault.status, {"Content-Type": "application/json", **fault.headers}, fault.body
        if rec.path == self.token_path:
            return self._token(rec)
        auth = rec.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or auth[7:] not in self._tokens:
            return _json(401, {"error": {"status": 401, "reason": "Unauthorized",
                                         "message": "You are not authorized! Please provide "
                                                    "a valid access token."}})
        if rec.path == CATALOG_PATH:
            return self._catalog(rec.json)
        if rec.path == PROCESS_PATH:
            return self._process(rec.json)
        return _json(404, {"error": {"status": 404, "message": f"no route {rec.path}"}})

    def _token(self, rec: Recorded) -> tuple[int, dict[str, str], bytes]:
        form = rec.form
        expected = {"grant_type": "client_credentials", "client_id": self.client_id,
                    "client_secret": self.client_secret}
        if any(form.get(k) != v for k, v in expected.items()):
            return _json(401, {"error": "invalid_client",
                               "error_description": "Invalid client or Invalid client "
                                                    "credentials"})
        token = _jwt({"azp": self.client_id, "sub": "test", "n": len(self._tokens)})
        with self._lock:
            self._tokens.add(token)
        return _json(200, {"access_token": token, "expires_in": 3600, "token_type": "Bearer",
                           "refresh_expires_in": 0, "not-before-policy": 0, "scope": "email"})

    def _catalog(self, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        start, end = (isoparse(t) for t in body["datetime"].split("/"))
        x0, y0, x1, y1 = body["bbox"]
        limit = re.search(r"eo:cloud_cover\s*(<=|<)\s*([\d.]+)", body.get("filter", "") or "")
        features = []
        for s in self.scenes:
            sx0, sy0, sx1, sy1 = s.bounds_wgs84()
            if s.collection not in body["collections"] or not start <= s.when <= end:
                continue
            if sx1 < x0 or sx0 > x1 or sy1 < y0 or sy0 > y1:
                continue
            if limit and not (s.cloud_cover <= float(limit[2]) if limit[1] == "<="
                              else s.cloud_cover < float(limit[2])):
                continue
            features.append(s.item())
        return _json(200, {"type": "FeatureCollection", "features": features, "links": [],
                           "context": {"limit": body.get("limit"), "returned": len(features)}})

    def _process(self, body: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
        bounds, data = body["input"]["bounds"], body["input"]["data"][0]
        crs = CRS.from_epsg(int(bounds["properties"]["crs"].rsplit("/", 1)[-1]))
        x0, y0, x1, y1 = bounds["bbox"]
        resx, resy = body["output"]["resx"], body["output"]["resy"]
        width, height = round((x1 - x0) / resx), round((y1 - y0) / resy)
        dst_tr = from_origin(x0, y1, resx, resy)
        tr = data["dataFilter"]["timeRange"]
        t0, t1 = isoparse(tr["from"]), isoparse(tr["to"])
        # the bands the evalscript's setup() asks for, in its order (its output returns them so)
        names = json.loads(re.search(r"bands:\s*(\[[^\]]*\])", body["evalscript"])[1])
        out = np.zeros((len(names), height, width), dtype=np.float32)
        scenes = sorted((s for s in self.scenes if s.collection == data["type"]
                         and t0 <= s.when <= t1), key=lambda s: s.when)
        for s in scenes:  # oldest first, so the most recent wins (mostRecent mosaicking)
            layers = []
            zero = np.zeros_like(s.mask)
            have = {"B10": np.nan_to_num(s.b10).astype(np.float32),
                    "BQA": s.bqa.astype(np.float32), "dataMask": s.mask,
                    "B04": zero if s.b04 is None else s.b04.astype(np.float32),
                    "B05": zero if s.b05 is None else s.b05.astype(np.float32)}
            for src in (have[n] for n in names):
                dst = np.zeros((height, width), dtype=np.float32)
                reproject(src, dst, src_transform=s.transform, src_crs=s.crs,
                          dst_transform=dst_tr, dst_crs=crs, resampling=Resampling.nearest,
                          init_dest_nodata=False)
                layers.append(dst)
            has = layers[names.index("dataMask")] > 0
            for i in range(len(names)):
                out[i][has] = layers[i][has]
        # FLOAT32 costs 2 units per 512 x 512 px and 3 bands; each further 3 bands, 1 more
        units = round(max(width * height / 512.0 ** 2, 0.01) * 2.0 * len(names) / 3, 6)
        with self._lock:
            self.processing_units.append(units)
        profile = {"driver": "GTiff", "width": width, "height": height, "count": len(names),
                   "dtype": "float32", "crs": crs, "transform": dst_tr}
        with MemoryFile() as mem:
            with mem.open(**profile) as dst_file:
                dst_file.write(out)
            content = mem.read()
        return 200, {"Content-Type": "image/tiff", "x-processingunits-spent": str(units)}, content


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def _serve(self) -> None:
        fake: FakeSentinelHub = self.server.fake  # type: ignore[attr-defined]
        with fake._lock:
            if fake._stopped:  # a kept-alive connection after stop(): nothing answers
                self.close_connection = True
                return
            fake._in_flight += 1
        try:
            self._answer(fake)
        finally:
            with fake._idle:
                fake._in_flight -= 1
                fake._idle.notify_all()

    def _answer(self, fake: FakeSentinelHub) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        rec = Recorded(self.command, urlsplit(self.path).path,
                       {k.lower(): v for k, v in self.headers.items()}, body)
        status, headers, content = fake.handle(rec)
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(content)))
        self.end_headers()
        self.wfile.write(content)

    do_GET = do_POST = _serve

    def log_message(self, format: str, *args: Any) -> None:
        pass


# Helpers for the tests that use the fake -------------------------------------------------------


def scene_from(made: Any, *, collection: str = "landsat-ot-l2", **kw: Any) -> FakeScene:
    """What Sentinel Hub would serve for a local product: B10 in K, BQA, dataMask, B04, B05.

    ``made`` is anything with ``band``, ``qa`` (or None) and ``mtl`` paths: a product written
    by the tests' ``make_product`` or a :class:`pipeline.io.reader.ProductFiles`.
    """
    import rasterio

    from pipeline.io.mtl import read_mtl
    from pipeline.science.calibrate import SR_ADD, SR_MULT, to_kelvin
    from pipeline.science.qa import encode

    meta = read_mtl(made.mtl)
    with rasterio.open(made.band) as src:
        dn, tr, crs = src.read(1), src.transform, src.crs
    if made.qa is not None:
        with rasterio.open(made.qa) as src:
            qa = src.read(1)
    else:
        qa = encode(shape=dn.shape)
    kelvin = np.nan_to_num(to_kelvin(dn, meta.calibration)).astype(np.float32)  # fill -> 0
    reflectance = {}
    for band in (4, 5):  # SR_B4 and SR_B5 beside band 10, when the product has them
        path = made.band.with_name(made.band.name.replace("_ST_B10", f"_SR_B{band}"))
        if "_ST_B10" in made.band.name and path.is_file():
            with rasterio.open(path) as src:
                sr = src.read(1)
            reflectance[f"b0{band}"] = np.where(sr > 0, sr * SR_MULT + SR_ADD, 0.0)
    return FakeScene(meta.product_id, meta.acquired, kelvin, qa, tr, crs, collection=collection,
                     cloud_cover=meta.cloud_cover, sun_elevation=meta.sun_elevation,
                     sun_azimuth=meta.sun_azimuth, data_mask=(dn != 0), **reflectance, **kw)


def isolate_sentinelhub(monkeypatch: Any, tmp_path: Any) -> Iterator[None]:
    """Fixture body: no user sentinelhub profile or credentials, plain http to 127.0.0.1."""
    from sentinelhub import SentinelHubDownloadClient

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))  # sentinelhub's config.toml
    for var in ("SH_CLIENT_ID", "SH_CLIENT_SECRET", "SH_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")  # the fake speaks plain http
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    SentinelHubDownloadClient.clear_cache()
    yield
    SentinelHubDownloadClient.clear_cache()
