"""Pure parts of the STAC source: search requests, asset picking, read windows, baselines, report.

Nothing here touches the network. A :class:`StacRequest` is the declarative search (its JSON
body is the cache key); :func:`pick_assets` finds band 10, ``QA_PIXEL`` and the MTL of an item
(and a Level-2 item's red and near-infrared reflectance, where the item has them) whatever the
catalog calls them; :func:`item_window` turns the item's ``proj:*`` fields into
the pixel window that covers a site's grid, so a cached window can be found again without
opening the remote file; :func:`baseline_period` says which before-state a site gets.

Asset keys differ between catalogs (checked against their published items):

* USGS LandsatLook (``landsat-c2l2-st``, ``landsat-c2l1``): ``lwir11``, ``qa_pixel``,
  ``MTL.json``/``MTL.txt``/``MTL.xml``;
* Microsoft Planetary Computer (``landsat-c2-l2``): ``lwir11``, ``qa_pixel``,
  ``mtl.json``/``mtl.txt``/``mtl.xml``, and ``red``/``nir08`` (``SR_B4``/``SR_B5``) in the same
  item. LandsatLook keeps reflectance in separate items (``landsat-c2l2-sr``): its ST items give
  no greenness, and a scan of them leaves that term out.

The keys are tried first; the file name the asset points to decides (``*_ST_B10.TIF`` for
Level-2, ``*_B10.TIF`` for Level-1, ``*_QA_PIXEL.TIF``, ``*_MTL.<fmt>``), so an unknown catalog
that keeps the USGS file names also works.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path
from typing import Any, Literal

from affine import Affine
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from rasterio.windows import Window, from_bounds

from pipeline.core.grid import Grid
from pipeline.core.product_id import ProductId

Level = Literal["L2", "L1"]

#: First Landsat 8 images (18 March 2013; USGS Landsat 8 mission page): no thermal Collection 2
#: product from OLI/TIRS exists before it, so no baseline starts earlier.
LANDSAT8_FIRST_DAY = date(2013, 3, 18)

#: Pixels read beyond the site's fetch grid on each side (the grid already holds the two the
#: reader pads with; one more absorbs rounding when the item's CRS differs from the grid's).
WINDOW_PAD_PX = 1

_KEYS: dict[str, tuple[str, ...]] = {
    "band_L2": ("lwir11", "ST_B10", "st_b10"),
    "band_L1": ("lwir11", "B10", "b10"),
    "qa": ("qa_pixel", "QA_PIXEL"),
    "red": ("red", "SR_B4", "sr_b4"),
    "nir": ("nir08", "SR_B5", "sr_b5"),
    "mtl": ("MTL.json", "mtl.json", "MTL.txt", "mtl.txt", "MTL.xml", "mtl.xml"),
}
_LEVELS = {"L2": ("L2SP",), "L1": ("L1TP", "L1GT", "L1GS")}
_NAMES = {
    "band_L2": re.compile(r"_ST_B10\.TIF$", re.IGNORECASE),
    "band_L1": re.compile(r"(?<!_ST)_B10\.TIF$", re.IGNORECASE),
    "qa": re.compile(r"_QA_PIXEL\.TIF$", re.IGNORECASE),
    "red": re.compile(r"_SR_B4\.TIF$", re.IGNORECASE),
    "nir": re.compile(r"_SR_B5\.TIF$", re.IGNORECASE),
    "mtl": re.compile(r"_MTL\.(json|txt|xml)$", re.IGNORECASE),
}


@dataclass(frozen=True)
class StacRequest:
    """One item search: collection, WGS84 bbox and inclusive UTC days.

    Examples
    --------
    >>> r = StacRequest("landsat-c2l1", "L1", (-90.1, 35.0, -90.0, 35.1),
    ...                 date(2024, 1, 1), date(2024, 12, 31))
    >>> r.body(page_size=100)["datetime"]
    '2024-01-01T00:00:00Z/2024-12-31T23:59:59Z'
    """

    collection: str
    level: Level
    bbox: tuple[float, float, float, float]
    start: date
    end: date

    def body(self, *, page_size: int) -> dict[str, Any]:
        """Return the STAC API ``/search`` body (JSON) of this request."""
        return {"collections": [self.collection], "bbox": [round(v, 6) for v in self.bbox],
                "datetime": f"{self.start:%Y-%m-%d}T00:00:00Z/{self.end:%Y-%m-%d}T23:59:59Z",
                "limit": page_size}


@dataclass(frozen=True)
class ItemAssets:
    """The assets of one item the pipeline reads, and what they say about the product."""

    item_id: str
    product_id: str
    level: Level
    band: str
    qa: str | None
    mtl: str
    mtl_format: str
    #: Red and near-infrared reflectance (SR_B4, SR_B5) of a Level-2 item that has both.
    red_nir: tuple[str, str] | None = None

    @property
    def acquisition(self) -> tuple[str, str, str]:
        """(spacecraft, path/row, date): Level-1 and Level-2 of one look share it."""
        parts = self.product_id.split("_")
        return parts[0], parts[2], parts[3]


def _http_href(asset: Any) -> str:
    """Return the asset's href, or an http(s) alternate when the main one is not (``s3://``)."""
    if not isinstance(asset, dict):
        return ""
    href = str(asset.get("href", ""))
    if href.startswith(("http://", "https://")):
        return href
    for alt in (asset.get("alternate") or {}).values():
        other = str((alt or {}).get("href", "")) if isinstance(alt, dict) else ""
        if other.startswith(("http://", "https://")):
            return other
    return href


def _href(assets: dict[str, Any], kind: str) -> str | None:
    for key in _KEYS[kind]:
        href = _http_href(assets.get(key))
        if href and _NAMES[kind].search(href.split("?")[0]):
            return href
    for asset in assets.values():
        href = _http_href(asset)
        if href and _NAMES[kind].search(href.split("?")[0]):
            return href
    return None


def pick_assets(item: dict[str, Any], level: Level) -> ItemAssets | str:
    """Return the item's band 10, QA_PIXEL and MTL hrefs, or why the item cannot be used.

    Examples
    --------
    >>> base = "https://h/LC09_L1TP_063046_20230714_20230714_02_T1"
    >>> item = {"id": "x", "assets": {"lwir11": {"href": base + "_B10.TIF"},
    ...                               "MTL.txt": {"href": base + "_MTL.txt"}}}
    >>> pick_assets(item, "L1").product_id
    'LC09_L1TP_063046_20230714_20230714_02_T1'
    >>> s3 = {"id": "y", "assets": {k: {"href": v["href"].replace("https://h", "s3://b")}
    ...                             for k, v in item["assets"].items()}}
    >>> pick_assets(s3, "L1")[:26]
    'assets only at s3:// (requ'
    >>> s3["assets"]["lwir11"]["alternate"] = {"https": item["assets"]["lwir11"]}
    >>> s3["assets"]["MTL.txt"]["alternate"] = {"https": item["assets"]["MTL.txt"]}
    >>> pick_assets(s3, "L1").band == item["assets"]["lwir11"]["href"]
    True
    """
    assets = item.get("assets")
    if not isinstance(assets, dict):
        return "item has no assets"
    band, mtl = _href(assets, f"band_{level}"), _href(assets, "mtl")
    if band is None:
        return f"no {'ST_B10' if level == 'L2' else 'B10'} asset (Level-2 SR-only product?)"
    if mtl is None:
        return "no MTL asset"
    if not all(h.startswith(("http://", "https://")) for h in (band, mtl)):
        return (f"assets only at {band.split('/')[0]}// (requester-pays buckets need an AWS "
                "account); use an endpoint with https assets: the USGS LandsatLook server or "
                "Planetary Computer (stac.endpoint)")
    name = band.split("?")[0].rsplit("/", 1)[-1]
    pid = re.sub(r"_(ST_)?B10\.TIF$", "", name, flags=re.IGNORECASE)
    m = ProductId.match(pid)
    if m is None or not m.has_band10 or m.level not in _LEVELS[level]:
        return f"{name} is not a Landsat 8/9 Collection 2 {level} band 10 file"
    fmt = mtl.split("?")[0].rsplit(".", 1)[-1].lower()
    qa, red, nir = (h if h and h.startswith(("http://", "https://")) else None
                    for h in (_href(assets, k) for k in ("qa", "red", "nir")))
    red_nir = (red, nir) if red and nir and level == "L2" else None
    return ItemAssets(str(item.get("id")), pid, level, band, qa, mtl, fmt, red_nir)


def _proj(item: dict[str, Any], asset_key_href: str) -> tuple[CRS, Affine, tuple[int, int]] | None:
    """Return CRS, transform and shape of the asset from ``proj:*`` (asset level, then item)."""
    asset = next((a for a in item.get("assets", {}).values()
                  if isinstance(a, dict) and a.get("href") == asset_key_href), {})
    props = item.get("properties", {})

    def get(name: str) -> Any:
        return asset.get(name, props.get(name))

    code = get("proj:code") or (f"EPSG:{get('proj:epsg')}" if get("proj:epsg") else None)
    tr, shape = get("proj:transform"), get("proj:shape")
    if not code or not tr or not shape or len(tr) < 6 or len(shape) != 2:
        return None
    try:
        return (CRS.from_user_input(code), Affine(*[float(v) for v in tr[:6]]),
                (int(shape[0]), int(shape[1])))
    except (ValueError, TypeError):
        return None


def window_for(grid: Grid, crs: CRS, transform: Affine, shape: tuple[int, int],
               *, pad: int = WINDOW_PAD_PX) -> Window | None:
    """Return the whole-pixel window of a raster covering ``grid`` (plus ``pad``), or None.

    Examples
    --------
    >>> g = Grid(CRS.from_epsg(32616), Affine(30, 0, 600015, 0, -30, 3900015), (10, 10))
    >>> window_for(g, CRS.from_epsg(32616), Affine(30, 0, 600015 - 3000, 0, -30, 3900015),
    ...            (256, 256))
    Window(col_off=99, row_off=0, width=12, height=11)
    """
    bounds = grid.bounds if crs == grid.crs else transform_bounds(grid.crs, crs, *grid.bounds,
                                                                  densify_pts=21)
    win = from_bounds(*bounds, transform=transform)
    c0 = math.floor(win.col_off + 1e-6) - pad
    r0 = math.floor(win.row_off + 1e-6) - pad
    c1 = math.ceil(win.col_off + win.width - 1e-6) + pad
    r1 = math.ceil(win.row_off + win.height - 1e-6) + pad
    c0, r0, c1, r1 = max(c0, 0), max(r0, 0), min(c1, shape[1]), min(r1, shape[0])
    if c1 <= c0 or r1 <= r0:
        return None
    return Window(c0, r0, c1 - c0, r1 - r0)


def item_window(item: dict[str, Any], href: str, grid: Grid) -> Window | str | None:
    """Return the window of asset ``href`` over ``grid``; ``"unknown"`` without ``proj:*``."""
    proj = _proj(item, href)
    if proj is None:
        return "unknown"
    return window_for(grid, *proj, pad=WINDOW_PAD_PX)


def first_timeline_date(timeline: Any) -> date | None:
    """Return the earliest date of a catalog timeline (JSON text or list), or None.

    Examples
    --------
    >>> first_timeline_date('[{"date": "2024-06-01"}, {"date": "2023-10-02"}]')
    datetime.date(2023, 10, 2)
    """
    if isinstance(timeline, str):
        try:
            timeline = json.loads(timeline) if timeline.strip() else []
        except ValueError:
            return None
    days = []
    for entry in timeline if isinstance(timeline, list) else []:
        try:
            days.append(date.fromisoformat(str(entry["date"])[:10]))
        except (KeyError, TypeError, ValueError):
            continue
    return min(days) if days else None


@dataclass(frozen=True)
class Baseline:
    """A site's before-state period, what it rests on, and the part still to fetch."""

    start: date
    end: date
    basis: Literal["epoch_timeline_first_date", "years_before_start"]
    fetch: tuple[date, date] | None

    def to_dict(self) -> dict[str, str]:
        """Return ``{"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}`` (the fetch.json contract)."""
        return {"start": self.start.isoformat(), "end": self.end.isoformat()}


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def baseline_period(first_day: date | None, *, start: date, end: date,
                    years: int) -> Baseline | None:
    """Return the before-state period of a site fetched over ``start``..``end``.

    The baseline ends the day before the site's first timeline date when the catalog knows it
    (construction start), else the day before ``start``; it begins ``years`` before the earlier
    of that date and ``start`` (never before :data:`LANDSAT8_FIRST_DAY`). Only its part before
    ``start`` has to be fetched; the part inside the series is already there.

    Examples
    --------
    >>> b = baseline_period(date(2023, 10, 2), start=date(2024, 1, 1), end=date(2024, 12, 31),
    ...                     years=1)
    >>> b.start, b.end, b.fetch
    (datetime.date(2022, 10, 2), datetime.date(2023, 10, 1), (datetime.date(2022, 10, 2), \
datetime.date(2023, 10, 1)))
    >>> baseline_period(None, start=date(2024, 1, 1), end=date(2024, 12, 31), years=1).fetch
    (datetime.date(2023, 1, 1), datetime.date(2023, 12, 31))
    """
    anchor = first_day if first_day is not None else start
    basis: Any = "epoch_timeline_first_date" if first_day is not None else "years_before_start"
    b_end = min(anchor, end + timedelta(days=1)) - timedelta(days=1)
    b_start = max(_years_before(min(anchor, start), years), LANDSAT8_FIRST_DAY)
    if b_end < b_start:
        return None
    fetch_end = min(b_end, start - timedelta(days=1))
    return Baseline(b_start, b_end, basis, (b_start, fetch_end) if b_start <= fetch_end else None)


@dataclass
class StacFetchReport:
    """What a STAC fetch did: products, provenance, requests, bytes read, baselines, failures."""

    endpoint: str
    collections: dict[str, str]
    products: list[str] = field(default_factory=list)
    provenance: list[dict[str, Any]] = field(default_factory=list)
    n_requests: int = 0
    n_cached: int = 0
    bytes_read: int = 0
    bytes_unmeasured: bool = False
    site_bytes: dict[str, int] = field(default_factory=dict)
    site_years: dict[str, float] = field(default_factory=dict)
    baseline: dict[str, Baseline] = field(default_factory=dict)
    failures: list[tuple[str, str | None, str]] = field(default_factory=list)
    site_dirs: dict[str, Path] = field(default_factory=dict)

    def bytes_per_site_year(self) -> dict[str, float]:
        """Bytes read per site and year of imagery covered (series plus fetched baseline)."""
        return {s: self.site_bytes.get(s, 0) / y for s, y in self.site_years.items() if y > 0}

    def to_dict(self) -> dict[str, Any]:
        """Return the report as JSON-compatible data (``fetch.json``)."""
        return {
            "source": "stac", "endpoint": self.endpoint, "collections": self.collections,
            "n_requests": self.n_requests, "n_cached": self.n_cached,
            "bytes_read": None if self.bytes_unmeasured else self.bytes_read,
            "bytes_read_per_site_year": {k: round(v) for k, v in
                                         self.bytes_per_site_year().items()},
            "products": self.products, "provenance": self.provenance,
            "baseline": {k: v.to_dict() for k, v in self.baseline.items()},
            "baseline_basis": {k: v.basis for k, v in self.baseline.items()},
            "site_dirs": {k: str(v) for k, v in self.site_dirs.items()},
            "failures": [{"site_id": s, "product_id": p, "message": m}
                         for s, p, m in self.failures],
        }
