"""A local STAC API on 127.0.0.1 serving Landsat Collection 2 items and COGs, for tests.

The real ``pystac-client`` and rasterio/GDAL are pointed at it. It serves the landing page,
``/conformance``, ``/collections``, ``/search`` (GET and POST, paged through ``next`` links)
and the asset files under ``/files/`` with HTTP range requests (206 Partial Content, bytes
counted per file). Items follow the USGS LandsatLook format: ids like
``LC08_L2SP_022035_20240305_20240315_02_T1_ST``, ``lwir11``/``qa_pixel``/``MTL.json``/``MTL.txt``
assets, ``proj:epsg``/``proj:shape``/``proj:transform`` and ``landsat:*`` properties. The MTL
files are the real USGS MTLs of the samples (``tests.conftest.shared_sample``) with identity,
date, sun and extent edited for each synthetic scene.

Faults are switched on per path prefix with :meth:`StacWorld.fail`: a status (``503``, ``429``
with ``Retry-After``) or ``"timeout"`` (the answer is held longer than the client waits).
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import numpy as np
import rasterio
from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_bounds

from pipeline.io.c2write import kelvin_to_st_dn, reflectance_to_sr_dn
from pipeline.io.mtl import read_mtl_groups, write_mtl
from pipeline.science.calibrate import brightness_temperature_to_radiance
from tests.conftest import COLOMBIA, LAHAINA, shared_sample

L2_MTL = shared_sample(COLOMBIA) / "LC08_L2SP_008059_20191201_20200825_02_T1_MTL.json"
L1_MTL = shared_sample(LAHAINA) / "LC09_L1TP_063046_20230714_20230714_02_T1_MTL.txt"


@dataclass
class Scene:
    """One acquisition: product id, time, kelvin field, and whether it is a night Level-1 look."""

    product_id: str
    when: datetime
    kelvin: np.ndarray
    transform: Affine
    crs: CRS
    cloud_cover: float = 3.0
    sun_elevation: float = 40.0
    night: bool = False
    #: Surface reflectance by band (4 red, 5 near-infrared): written as SR_B4/SR_B5 COGs and
    #: served as ``red``/``nir08`` assets of the item (as Planetary Computer's items carry them).
    reflectance: dict[int, np.ndarray] | None = None

    @property
    def level(self) -> str:
        return "L2" if "_L2SP_" in self.product_id else "L1"


def write_cog(path: Path, array: np.ndarray, transform: Affine, crs: CRS, *, block: int = 256,
              nodata: int = 0) -> None:
    """Write a Cloud-Optimized GeoTIFF (tiled, deflate, header first) with rasterio."""
    with rasterio.open(path, "w", driver="COG", height=array.shape[0], width=array.shape[1],
                       count=1, dtype=str(array.dtype), crs=crs, transform=transform,
                       nodata=nodata, compress="deflate", blocksize=block,
                       overviews="NONE") as dst:
        dst.write(array, 1)


def _mtl_groups(scene: Scene) -> dict[str, dict[str, str]]:
    groups = read_mtl_groups(L2_MTL if scene.level == "L2" else L1_MTL)
    pid = scene.product_id
    pc = groups["PRODUCT_CONTENTS"]
    pc["LANDSAT_PRODUCT_ID"] = pid
    pc["PROCESSING_LEVEL"] = pid.split("_")[1]
    for key in list(pc):
        if key.startswith("FILE_NAME_"):
            old = pc[key]
            pc[key] = pid + old[old.index("_02_T1") + len("_02_T1"):] if "_02_T1" in old else old
    ia = groups["IMAGE_ATTRIBUTES"]
    ia["SPACECRAFT_ID"] = f"LANDSAT_{int(pid[2:4])}"
    ia["WRS_PATH"], ia["WRS_ROW"] = str(int(pid[10:13])), str(int(pid[13:16]))
    ia["DATE_ACQUIRED"] = f"{scene.when:%Y-%m-%d}"
    ia["SCENE_CENTER_TIME"] = f"{scene.when:%H:%M:%S}.1234560Z"
    ia["CLOUD_COVER"] = f"{scene.cloud_cover:.2f}"
    ia["SUN_ELEVATION"] = f"{scene.sun_elevation:.8f}"
    ia["SUN_AZIMUTH"] = "140.00000000"
    if scene.night:
        ia["DAY_NIGHT_FLAG"] = "NIGHT"
    proj = groups["PROJECTION_ATTRIBUTES"]
    lines, samples = scene.kelvin.shape
    ul_x, ul_y = scene.transform.c + 15, scene.transform.f - 15
    proj["UTM_ZONE"] = str(scene.crs.to_epsg() - 32600)
    for kind in ("THERMAL", "REFLECTIVE"):
        proj[f"{kind}_LINES"], proj[f"{kind}_SAMPLES"] = str(lines), str(samples)
    lr_x, lr_y = ul_x + 30 * (samples - 1), ul_y - 30 * (lines - 1)
    for c, (x, y) in {"UL": (ul_x, ul_y), "UR": (lr_x, ul_y), "LL": (ul_x, lr_y),
                      "LR": (lr_x, lr_y)}.items():
        proj[f"CORNER_{c}_PROJECTION_X_PRODUCT"] = f"{x:.1f}"
        proj[f"CORNER_{c}_PROJECTION_Y_PRODUCT"] = f"{y:.1f}"
    return groups


def _l1_counts(kelvin: np.ndarray, groups: dict[str, dict[str, str]]) -> np.ndarray:
    res, k = groups["LEVEL1_RADIOMETRIC_RESCALING"], groups["LEVEL1_THERMAL_CONSTANTS"]
    rad = brightness_temperature_to_radiance(kelvin, k1=float(k["K1_CONSTANT_BAND_10"]),
                                             k2=float(k["K2_CONSTANT_BAND_10"]))
    q = np.rint((rad - float(res["RADIANCE_ADD_BAND_10"])) / float(res["RADIANCE_MULT_BAND_10"]))
    return np.clip(q, 1, 65535).astype(np.uint16)


@dataclass
class StacWorld:
    """Items and files of the fake archive, the log of what was asked, and faults to inject."""

    root: Path
    items: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    base_url: str = ""
    requests: list[tuple[str, str, str | None, int, int]] = field(default_factory=list)
    bytes_served: dict[str, int] = field(default_factory=dict)
    #: (method, file or path, status, monotonic time) of every fault and file answer
    stamps: list[tuple[str, str, int | str, float]] = field(default_factory=list)
    faults: dict[str, list[tuple[int | str, dict[str, str]]]] = field(default_factory=dict)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def fail(self, prefix: str, status: int | str, times: int = 1,
             headers: dict[str, str] | None = None, method: str | None = None) -> None:
        """Answer the next ``times`` requests under ``prefix`` with ``status`` (or a hang).

        ``method`` restricts the fault to one HTTP method (e.g. ``GET``: range reads, not the
        ``HEAD`` GDAL opens a remote file with).
        """
        key = prefix if method is None else f"{method} {prefix}"
        self.faults.setdefault(key, []).extend([(status, headers or {})] * times)

    def add(self, scene: Scene, collection: str, *, block: int = 256,
            link_from: str | None = None, qa: np.ndarray | None = None) -> dict[str, Any]:
        """Write a scene's COGs and MTLs and return its STAC item (USGS LandsatLook format).

        ``link_from``: another product id of the same level whose rasters this one reuses
        (symbolic links; for benchmarks that need many full-size scenes).
        """
        groups = _mtl_groups(scene)
        pid = scene.product_id
        suffix = "ST_B10" if scene.level == "L2" else "B10"
        if link_from is not None:
            for part in (suffix, "QA_PIXEL"):
                (self.root / f"{pid}_{part}.TIF").symlink_to(self.root / f"{link_from}_{part}.TIF")
        else:
            dn = (kelvin_to_st_dn(scene.kelvin) if scene.level == "L2"
                  else _l1_counts(scene.kelvin, groups))
            if qa is None:
                qa = np.full(scene.kelvin.shape, 21824, dtype=np.uint16)  # clear
            write_cog(self.root / f"{pid}_{suffix}.TIF", dn, scene.transform, scene.crs,
                      block=block)
            write_cog(self.root / f"{pid}_QA_PIXEL.TIF", qa, scene.transform, scene.crs,
                      block=block, nodata=1)
            for band, rho in (scene.reflectance or {}).items():
                write_cog(self.root / f"{pid}_SR_B{band}.TIF", reflectance_to_sr_dn(rho),
                          scene.transform, scene.crs, block=block)
        write_mtl(groups, self.root / f"{pid}_MTL.json")
        write_mtl(groups, self.root / f"{pid}_MTL.txt")
        h, w = scene.kelvin.shape
        left, top = scene.transform.c, scene.transform.f
        bounds = (left, top - 30 * h, left + 30 * w, top)
        lon0, lat0, lon1, lat1 = transform_bounds(scene.crs, "EPSG:4326", *bounds)
        href = f"{{base}}/files/{pid}"
        item_id = pid + ("_ST" if scene.level == "L2" else "")
        cog = "image/vnd.stac.geotiff; cloud-optimized=true"
        item = {
            "type": "Feature", "stac_version": "1.0.0", "id": item_id, "collection": collection,
            "stac_extensions": [
                "https://landsat.usgs.gov/stac/landsat-extension/v1.1.1/schema.json",
                "https://stac-extensions.github.io/projection/v1.0.0/schema.json",
                "https://stac-extensions.github.io/view/v1.0.0/schema.json",
                "https://stac-extensions.github.io/eo/v1.0.0/schema.json"],
            "bbox": [lon0, lat0, lon1, lat1],
            "geometry": {"type": "Polygon", "coordinates": [[[lon0, lat0], [lon1, lat0],
                                                             [lon1, lat1], [lon0, lat1],
                                                             [lon0, lat0]]]},
            "properties": {
                "datetime": scene.when.strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "eo:cloud_cover": scene.cloud_cover,
                "view:sun_elevation": scene.sun_elevation, "view:sun_azimuth": 140.0,
                "view:off_nadir": 0, "platform": f"LANDSAT_{int(pid[2:4])}",
                "instruments": ["OLI", "TIRS"],
                "landsat:cloud_cover_land": scene.cloud_cover,
                "landsat:wrs_type": "2", "landsat:wrs_path": pid[10:13],
                "landsat:wrs_row": pid[13:16], "landsat:collection_category": "T1",
                "landsat:collection_number": "02", "landsat:correction": pid.split("_")[1],
                "landsat:scene_id": f"LC{int(pid[2:4])}{pid[10:16]}{scene.when:%Y%j}LGN00",
                "proj:epsg": scene.crs.to_epsg(), "proj:shape": [h, w],
                "proj:transform": [30.0, 0.0, left, 0.0, -30.0, top, 0.0, 0.0, 1.0]},
            "assets": {
                "lwir11": {"href": f"{href}_{suffix}.TIF", "type": cog, "roles": ["data"],
                           "title": f"{'Surface Temperature ' if scene.level == 'L2' else ''}"
                                    "Band 10"},
                "qa_pixel": {"href": f"{href}_QA_PIXEL.TIF", "type": cog,
                             "roles": ["cloud", "cloud-shadow", "snow-ice", "water-mask"]},
                "MTL.json": {"href": f"{href}_MTL.json", "type": "application/json",
                             "roles": ["metadata"]},
                "MTL.txt": {"href": f"{href}_MTL.txt", "type": "text/plain",
                            "roles": ["metadata"]},
                **{key: {"href": f"{href}_SR_B{band}.TIF", "type": cog,
                         "roles": ["data", "reflectance"]}
                   for band, key in ((4, "red"), (5, "nir08"))
                   if band in (scene.reflectance or {})}},
            "links": []}
        self.items.setdefault(collection, []).append(item)
        return item

    def file_size(self, name: str) -> int:
        return (self.root / name).stat().st_size


def _matches(item: dict[str, Any], collections: list[str] | None,
             bbox: list[float] | None, when: str | None) -> bool:
    if collections and item["collection"] not in collections:
        return False
    if bbox:
        b = item["bbox"]
        if bbox[0] > b[2] or bbox[2] < b[0] or bbox[1] > b[3] or bbox[3] < b[1]:
            return False
    if when:
        lo, _, hi = when.partition("/")
        t = item["properties"]["datetime"]
        if (lo not in ("", "..") and t < lo) or (hi not in ("", "..") and t > hi):
            return False
    return True


def _handler(world: StacWorld) -> type[BaseHTTPRequestHandler]:  # noqa: C901 - one class
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, ctype: str = "application/json",
                  headers: dict[str, str] | None = None) -> None:
            headers = dict(headers or {})
            length = headers.pop("Content-Length-Full", None) or str(len(body))
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", length)
            for k, v in headers.items():
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def _json(self, obj: Any, status: int = 200) -> None:
            self._send(status, json.dumps(obj).encode("utf-8"), "application/geo+json"
                       if isinstance(obj, dict) and obj.get("type") == "FeatureCollection"
                       else "application/json")

        def _fault(self, path: str) -> bool:
            with world.lock:
                for key, queue in world.faults.items():
                    method, _, prefix = key.rpartition(" ")
                    if method and method != self.command:
                        continue
                    if path.startswith(prefix) and queue:
                        status, headers = queue.pop(0)
                        break
                else:
                    return False
            world.requests.append((self.command, path, None, -1, 0))
            world.stamps.append((self.command, path.removeprefix("/files/"), status,
                                 time.monotonic()))
            if status == "timeout":
                time.sleep(3.0)
                status = 504
            self._send(int(status), b'{"code":"fault","description":"injected"}',
                       headers=headers)
            return True

        def _landing(self) -> dict[str, Any]:
            b = world.base_url
            return {"type": "Catalog", "id": "fake-landsatlook", "stac_version": "1.0.0",
                    "description": "local test STAC API",
                    "conformsTo": ["https://api.stacspec.org/v1.0.0/core",
                                   "https://api.stacspec.org/v1.0.0/item-search",
                                   "https://api.stacspec.org/v1.0.0/collections"],
                    "links": [{"rel": "self", "href": f"{b}/", "type": "application/json"},
                              {"rel": "root", "href": f"{b}/", "type": "application/json"},
                              {"rel": "data", "href": f"{b}/collections"},
                              {"rel": "conformance", "href": f"{b}/conformance"},
                              {"rel": "search", "href": f"{b}/search", "method": "GET",
                               "type": "application/geo+json"},
                              {"rel": "search", "href": f"{b}/search", "method": "POST",
                               "type": "application/geo+json"}]}

        def _search(self, params: dict[str, Any]) -> None:
            b = world.base_url
            cols = params.get("collections")
            if isinstance(cols, str):
                cols = cols.split(",")
            bbox = params.get("bbox")
            if isinstance(bbox, str):
                bbox = [float(v) for v in bbox.split(",")]
            limit = int(params.get("limit") or 10)
            token = int(params.get("token") or 0)
            hits = [i for c in sorted(world.items) for i in world.items[c]
                    if _matches(i, cols, bbox, params.get("datetime"))]
            hits.sort(key=lambda i: i["properties"]["datetime"])
            page = [json.loads(json.dumps(i).replace("{base}", b))
                    for i in hits[token:token + limit]]
            links = []
            if token + limit < len(hits):
                if self.command == "POST":
                    links.append({"rel": "next", "href": f"{b}/search", "method": "POST",
                                  "body": {**params, "token": str(token + limit)},
                                  "merge": False})
                else:
                    query = "&".join(
                        f"{k}={','.join(map(str, v)) if isinstance(v, list) else v}"
                        for k, v in {**params, "token": token + limit}.items())
                    links.append({"rel": "next", "href": f"{b}/search?{query}"})
            self._json({"type": "FeatureCollection", "features": page, "links": links,
                        "numberReturned": len(page), "numberMatched": len(hits)})

        def do_HEAD(self) -> None:
            self.do_GET()

        def do_GET(self) -> None:
            url = urlsplit(self.path)
            path = url.path.rstrip("/") or "/"
            if self._fault(path):
                return
            if path.startswith("/files/"):
                return self._file(path[len("/files/"):])
            world.requests.append((self.command, path, None, 200, 0))
            if path == "/":
                return self._json(self._landing())
            if path == "/conformance":
                return self._json({"conformsTo": self._landing()["conformsTo"]})
            if path == "/collections":
                return self._json({"collections": [{"id": c, "type": "Collection"}
                                                   for c in sorted(world.items)], "links": []})
            if path.startswith("/collections/"):
                return self._json({"id": path.split("/")[2], "type": "Collection",
                                   "stac_version": "1.0.0", "links": [], "license": "PDDL-1.0",
                                   "description": "fake", "extent": {}})
            if path == "/search":
                params = {k: v[0] for k, v in parse_qs(url.query).items()}
                return self._search(params)
            if path.startswith("/sas/token/"):  # Planetary Computer's SAS token endpoint
                return self._json({"msft:expiry": "2099-01-01T00:00:00Z",
                                   "token": "st=2024-01-01&se=2099-01-01&sp=rl&sig=TEST-SIG"})
            self._json({"code": "NotFound"}, 404)

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            path = urlsplit(self.path).path.rstrip("/")
            if self._fault(path):
                return
            world.requests.append((self.command, path, None, 200, 0))
            if path != "/search":
                return self._json({"code": "NotFound"}, 404)
            self._search(json.loads(body or b"{}"))

        def _file(self, name: str) -> None:
            target = world.root / re.sub(r"[^A-Za-z0-9_.]", "", name)
            if not target.is_file():
                world.requests.append((self.command, name, None, 404, 0))
                return self._send(404, b"not found", "text/plain")
            size = target.stat().st_size
            rng = self.headers.get("Range")
            ctype = "image/tiff" if name.upper().endswith(".TIF") else "text/plain"
            m = re.fullmatch(r"bytes=(\d+)-(\d*)", rng or "")
            start, stop = 0, size - 1
            if m:
                start = int(m.group(1))
                stop = min(int(m.group(2)) if m.group(2) else size - 1, size - 1)
                headers = {"Content-Range": f"bytes {start}-{stop}/{size}",
                           "Accept-Ranges": "bytes"}
                status = 206
            else:
                headers, status = {"Accept-Ranges": "bytes"}, 200
            part = b""
            if self.command != "HEAD":
                with target.open("rb") as f:
                    f.seek(start)
                    part = f.read(stop - start + 1)
            if self.command == "HEAD" and status == 200:
                headers["Content-Length-Full"] = str(size)
            sent = 0 if self.command == "HEAD" else len(part)
            with world.lock:
                world.bytes_served[name] = world.bytes_served.get(name, 0) + sent
                world.requests.append((self.command, name, rng, status, sent))
                world.stamps.append((self.command, name, status, time.monotonic()))
            self._send(status, part, ctype, headers)

    return Handler


@dataclass
class Server:
    world: StacWorld
    httpd: ThreadingHTTPServer
    thread: threading.Thread

    @property
    def url(self) -> str:
        return self.world.base_url


def serve(world: StacWorld) -> Iterator[Server]:
    """Run the server for ``world`` in a thread (a generator for pytest fixtures)."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(world))
    httpd.daemon_threads = True
    world.base_url = f"http://127.0.0.1:{httpd.server_address[1]}"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield Server(world, httpd, thread)
    finally:
        httpd.shutdown()
        httpd.server_close()


def utc(y: int, m: int, d: int, hh: int = 16, mm: int = 30) -> datetime:
    """Return a UTC datetime (helper for scene dates)."""
    return datetime(y, m, d, hh, mm, 5, tzinfo=timezone.utc)
