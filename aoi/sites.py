"""Site files: read, validate and write the footprints Heatwatch watches.

A *site* is one row of a GeoDataFrame in EPSG:4326 with the columns :data:`SITE_COLUMNS`
(``site_id``, ``name``, ``operator``, ``reported_power_mw``, ``cooling``) plus ``geometry``
(Polygon or MultiPolygon) and any further attributes of the source. Every way in, a file
(:func:`read_sites`), a GeoDataFrame (:func:`sites_from_frame`) or a point
(:func:`site_from_point`), runs the same validation once:

* at least one site; every ``site_id`` present, text, unique;
* footprints are Polygon/MultiPolygon. Points are accepted, and buffered to a circle in the
  local UTM zone, only from CSV files (``lat``/``lon`` columns, optional ``radius_m`` column),
  from :func:`site_from_point`, or when ``buffer_points=True`` is passed;
* GeoJSON rings closed and coordinates numeric (checked on the raw JSON);
* longitudes in [-180, 180], latitudes in [-90, 90], with a hint when they look swapped;
* polygons valid (no self-intersection);
* polygons across the antimeridian written with a longitude span over 180° are split into a
  MultiPolygon at ±180° (see :func:`aoi.utm.split_antimeridian`);
* area at most ``max_area_km2`` (measured in the site's UTM zone);
* other CRSs (GeoPackage, GeoDataFrame) are reprojected to EPSG:4326.

Site ids are untrusted: use :func:`safe_name` to turn one into a file name.
"""

from __future__ import annotations

import difflib
import json
import logging
import math
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import geopandas as gpd
import pandas as pd
import pyogrio
from shapely.geometry import MultiPolygon, Point, Polygon, mapping
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from aoi._readers import RawSite, clean_value, frame_sites, read_csv, read_geojson, read_vector
from aoi._validate import COOLING_TYPES, SITE_COLUMNS, validate_raw_sites
from aoi.utm import (
    DEFAULT_RADIUS_M,
    site_utm_crs,
    utm_crs_for,
)
from pipeline.core.errors import OutputError, SiteError
from pipeline.core.outputs import atomic_path, write_text
from pipeline.core.sites import safe_name

__all__ = [
    "COOLING_TYPES",
    "DEFAULT_RADIUS_M",
    "JSON_COLUMNS",
    "SITE_COLUMNS",
    "merge_sites",
    "read_sites",
    "safe_name",
    "select_site",
    "site_from_point",
    "site_utm_crs",
    "sites_from_frame",
    "update_site_file",
    "utm_crs_for",
    "write_sites",
]

JSON_COLUMNS = ("timeline", "sources", "users")
"""Columns holding JSON text that :func:`write_sites` writes back as JSON structures."""

DEFAULT_MAX_AREA_KM2 = 100.0
_GEOJSON_SUFFIXES = (".geojson", ".json")


log = logging.getLogger(__name__)


def _format_of(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix in _GEOJSON_SUFFIXES:
        return "geojson"
    return "csv" if suffix == ".csv" else "vector"


def _check_input_file(path: Path) -> None:
    if path.is_dir():
        raise SiteError(f"{path} is a folder; give a site file (GeoJSON, GeoPackage or CSV)")
    if not path.exists():
        raise SiteError(f"site file {path} does not exist; check the path")
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise SiteError(f"cannot read site file {path}: {exc.strerror or exc}") from exc
    if size == 0:
        raise SiteError(f"site file {path} is empty; add at least one site")


# Public API -------------------------------------------------------------------------------------


def read_sites(
    path: str | Path,
    *,
    max_area_km2: float = DEFAULT_MAX_AREA_KM2,
    default_buffer_m: float = DEFAULT_RADIUS_M,
    buffer_points: bool = False,
    layer: str | None = None,
) -> gpd.GeoDataFrame:
    r"""Read and validate a site file: GeoJSON, GeoPackage (or other GDAL vector) or CSV.

    Parameters
    ----------
    path
        ``.geojson``/``.json`` (read by hand, RFC 7946), ``.csv`` (columns ``site_id``,
        ``lat``, ``lon`` and optionally ``name``, ``operator``, ``reported_power_mw``,
        ``cooling``, ``radius_m``) or a GDAL vector file such as ``.gpkg`` (any CRS).
    max_area_km2
        Largest allowed footprint (``grid.max_site_area_km2`` in the configuration).
    default_buffer_m
        Radius of the circle drawn around point sites (CSV rows without ``radius_m``, and
        Point features when ``buffer_points`` is true).
    buffer_points
        Accept Point features in GeoJSON/GeoPackage files and buffer them.
    layer
        Layer to read from a multi-layer GeoPackage.

    Returns
    -------
    geopandas.GeoDataFrame
        Sites in EPSG:4326: :data:`SITE_COLUMNS`, extra attributes (lists and mappings as JSON
        text), ``geometry``.

    Raises
    ------
    SiteError
        With the file, the feature and what to do, for any of the checks in the module notes.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> csv = pathlib.Path(tempfile.mkdtemp()) / "sites.csv"
    >>> _ = csv.write_text("site_id,lat,lon\ncolossus-1,35.0597,-90.1564\n")
    >>> sites = read_sites(csv)
    >>> sites.loc[0, "site_id"], round(float(sites.loc[0, "footprint_radius_m"]))
    ('colossus-1', 1000)
    """
    path = Path(path)
    _check_input_file(path)
    fmt = _format_of(path)
    point_radius = default_buffer_m if buffer_points else None
    if fmt == "geojson":
        raws = read_geojson(path, radius_m=point_radius)
    elif fmt == "csv":
        raws = read_csv(path, radius_m=default_buffer_m)
    else:
        raws = read_vector(path, layer=layer, radius_m=point_radius)
    sites = validate_raw_sites(raws, str(path), fmt, max_area_km2)
    for a, b, km2 in footprint_overlaps(sites):
        log.warning("%s: footprints of %r and %r overlap by %.2f km2; the scan attributes each "
                    "shared pixel once, to the site whose centroid is nearer, so the shared "
                    "heat is not counted twice (redraw the footprints to silence this)",
                    path, a, b, km2)
    return sites


def footprint_overlaps(sites: gpd.GeoDataFrame, *,
                       min_km2: float = 1e-4) -> list[tuple[str, str, float]]:
    """Return every pair of site footprints that overlap, with the shared area in km2.

    Areas are measured in the sites' local UTM zone. Overlaps smaller than ``min_km2`` (edge
    rounding) are left out.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> s = gpd.GeoDataFrame({"site_id": ["a", "b", "c"]}, crs=4326, geometry=[
    ...     Point(0, 0).buffer(0.01), Point(0.01, 0).buffer(0.01), Point(1, 1).buffer(0.01)])
    >>> [(a, b) for a, b, _ in footprint_overlaps(s)]
    [('a', 'b')]
    """
    if len(sites) < 2:
        return []
    local = sites.to_crs(sites.estimate_utm_crs())
    ids = [str(v) for v in local["site_id"]]
    geoms = list(local.geometry)
    out = []
    for i, j in local.sindex.query(local.geometry, predicate="intersects").T:
        if i < j:
            km2 = float(geoms[i].intersection(geoms[j]).area) / 1e6
            if km2 >= min_km2:
                out.append((ids[i], ids[j], km2))
    return sorted(out)


def sites_from_frame(
    gdf: gpd.GeoDataFrame,
    *,
    max_area_km2: float = DEFAULT_MAX_AREA_KM2,
    default_buffer_m: float = DEFAULT_RADIUS_M,
    buffer_points: bool = False,
    source: str = "<GeoDataFrame>",
) -> gpd.GeoDataFrame:
    """Validate in-memory sites (any CRS) the same way as :func:`read_sites`.

    Parameters
    ----------
    gdf
        Sites with at least ``site_id`` and ``geometry``; its CRS must be set.
    max_area_km2, default_buffer_m, buffer_points
        As in :func:`read_sites`.
    source
        Name used in error messages.

    Returns
    -------
    geopandas.GeoDataFrame
        A new, validated site table in EPSG:4326.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> gdf = gpd.GeoDataFrame({"site_id": ["a"]}, geometry=[box(10, 50, 10.01, 50.01)], crs=4326)
    >>> list(sites_from_frame(gdf).columns)
    ['site_id', 'name', 'operator', 'reported_power_mw', 'cooling', 'geometry']
    """
    radius = default_buffer_m if buffer_points else None
    return validate_raw_sites(
        frame_sites(gdf, source, radius_m=radius), source, "frame", max_area_km2
    )


def site_from_point(
    site_id: str,
    lon: float,
    lat: float,
    *,
    radius_m: float = DEFAULT_RADIUS_M,
    name: str | None = None,
    operator: str | None = None,
    reported_power_mw: float | None = None,
    cooling: str | None = None,
    max_area_km2: float = DEFAULT_MAX_AREA_KM2,
) -> gpd.GeoDataFrame:
    """Make a one-site table from a point, buffered to a circle in its UTM zone.

    Parameters
    ----------
    site_id
        Unique id of the new site.
    lon, lat
        Centre in decimal degrees.
    radius_m
        Footprint radius in metres.
    name, operator, reported_power_mw, cooling
        Optional attributes (see :data:`SITE_COLUMNS`).
    max_area_km2
        As in :func:`read_sites`.

    Returns
    -------
    geopandas.GeoDataFrame
        One validated site.

    Examples
    --------
    >>> site = site_from_point("colossus-1", -90.1564, 35.0597, radius_m=500)
    >>> site.loc[0, "name"], site.loc[0, "footprint_source"]
    ('colossus-1', 'buffer_from_point')
    """
    props = {
        "site_id": site_id,
        "name": name,
        "operator": operator,
        "reported_power_mw": reported_power_mw,
        "cooling": cooling,
    }
    raw = RawSite(f"point (lon {lon}, lat {lat})", Point(lon, lat), props, radius_m)
    return validate_raw_sites([raw], "new site", "point", max_area_km2)


def select_site(sites: gpd.GeoDataFrame, site_id: str) -> pd.Series:
    """Return the row of ``site_id``, or raise a :class:`SiteError` naming close matches.

    Examples
    --------
    >>> s = site_from_point("abc", 10.0, 50.0)
    >>> select_site(s, "abc")["site_id"]
    'abc'
    """
    hits = sites[sites["site_id"] == site_id]
    if len(hits):
        return hits.iloc[0]
    ids = [str(s) for s in sites["site_id"]]
    close = [s for s in ids if site_id.lower() in s.lower()][:3]
    close = close or difflib.get_close_matches(site_id, ids, n=3)
    hint = f"; did you mean {', '.join(close)}?" if close else "; list the ids with `sites list`"
    raise SiteError(f"no site with id {site_id!r}{hint}")


def merge_sites(
    base: gpd.GeoDataFrame, new: gpd.GeoDataFrame, *, replace: bool = False
) -> gpd.GeoDataFrame:
    """Add the sites of ``new`` to ``base``; ids present in both are an error unless replaced.

    Parameters
    ----------
    base, new
        Validated site tables.
    replace
        Replace sites of ``base`` whose ids occur in ``new`` instead of failing.

    Returns
    -------
    geopandas.GeoDataFrame
        ``base`` (minus replaced sites) followed by ``new``.

    Raises
    ------
    SiteError
        If ids collide and ``replace`` is false.

    Examples
    --------
    >>> a, b = site_from_point("a", 10.0, 50.0), site_from_point("b", 11.0, 50.0)
    >>> list(merge_sites(a, b)["site_id"])
    ['a', 'b']
    """
    clash = sorted(set(base["site_id"]) & set(new["site_id"]))
    if clash and not replace:
        shown = ", ".join(repr(s) for s in clash[:10]) + (" ..." if len(clash) > 10 else "")
        raise SiteError(
            f"{len(clash)} site id(s) already in the catalog: {shown}; rename them, or replace "
            "the existing sites (replace=True, CLI: --replace)"
        )
    keep = base[~base["site_id"].isin(new["site_id"])]
    merged = pd.concat([keep, new], ignore_index=True)
    return gpd.GeoDataFrame(merged, geometry="geometry", crs=4326)


def update_site_file(
    path: str | Path,
    new: gpd.GeoDataFrame,
    *,
    replace: bool = False,
    max_area_km2: float = DEFAULT_MAX_AREA_KM2,
) -> gpd.GeoDataFrame:
    """Merge validated sites into a site file (created if absent) and write it atomically.

    Parameters
    ----------
    path
        User catalog (``.geojson`` or ``.gpkg``); read and validated first when it exists.
    new
        Validated sites to add.
    replace
        Replace existing sites with the same ids instead of failing (see :func:`merge_sites`).
    max_area_km2
        As in :func:`read_sites`, for the existing file.

    Returns
    -------
    geopandas.GeoDataFrame
        The sites now in the file.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "mine.geojson"
    >>> _ = update_site_file(out, site_from_point("a", 10.0, 50.0))
    >>> list(update_site_file(out, site_from_point("b", 11.0, 50.0))["site_id"])
    ['a', 'b']
    """
    path = Path(path)
    merged = new
    if path.exists():
        merged = merge_sites(read_sites(path, max_area_km2=max_area_km2), new, replace=replace)
    write_sites(merged, path)
    return merged


# Writing ----------------------------------------------------------------------------------------


def _round_coords(coords: Any, decimals: int) -> Any:
    if isinstance(coords[0], (int, float)):
        return [round(float(v), decimals) for v in coords]
    return [_round_coords(c, decimals) for c in coords]


def geojson_geometry(geom: BaseGeometry, *, decimals: int = 7) -> dict[str, Any]:
    """Return a GeoJSON geometry with counter-clockwise exteriors and rounded coordinates.

    Examples
    --------
    >>> ring = geojson_geometry(Polygon([(0, 0), (0, 1), (1, 1)]))["coordinates"][0]
    >>> ring, Polygon(ring).exterior.is_ccw
    ([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0], [0.0, 0.0]], True)
    """
    if isinstance(geom, Polygon):
        geom = orient(geom, sign=1.0)
    elif isinstance(geom, MultiPolygon):
        geom = MultiPolygon([orient(p, sign=1.0) for p in geom.geoms])
    out = dict(mapping(geom))
    out["coordinates"] = _round_coords(out["coordinates"], decimals)
    return out


def _property(name: str, value: Any, json_columns: Iterable[str]) -> Any:
    value = clean_value(value)
    if name in json_columns and isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    return value


def sites_to_geojson(sites: gpd.GeoDataFrame, *, json_columns: Iterable[str] = JSON_COLUMNS) -> str:
    """Serialise validated sites as RFC 7946 GeoJSON text (deterministic).

    Examples
    --------
    >>> text = sites_to_geojson(site_from_point("a", 10.0, 50.0))
    >>> json.loads(text)["features"][0]["properties"]["site_id"]
    'a'
    """
    json_columns = tuple(json_columns)
    geom_col = sites.geometry.name
    features = []
    for row, geom in zip(
        sites.drop(columns=geom_col).to_dict("records"), sites.geometry, strict=True
    ):
        props = {str(k): _property(str(k), v, json_columns) for k, v in row.items()}
        features.append(
            {"type": "Feature", "properties": props, "geometry": geojson_geometry(geom)}
        )
    fc = {"type": "FeatureCollection", "features": features}
    return json.dumps(fc, ensure_ascii=False, indent=1, allow_nan=False) + "\n"


def write_sites(
    sites: gpd.GeoDataFrame, path: str | Path, *, json_columns: Iterable[str] = JSON_COLUMNS
) -> Path:
    """Validate and write sites atomically as GeoJSON (``.geojson``/``.json``) or GeoPackage.

    The file is written to a temporary file in the same folder and moved over ``path`` with
    :func:`os.replace`, so a crash never leaves a half-written catalog.

    Parameters
    ----------
    sites
        Site table (any CRS; validated and reprojected to EPSG:4326 first, area not limited).
    path
        Destination; the suffix picks the format.
    json_columns
        Columns whose JSON text is written as JSON structures in GeoJSON output.

    Returns
    -------
    Path
        The written file.

    Raises
    ------
    SiteError
        If the sites do not validate.
    OutputError
        If the suffix is unsupported or the file cannot be written.

    Examples
    --------
    >>> import tempfile, pathlib
    >>> out = pathlib.Path(tempfile.mkdtemp()) / "mine.geojson"
    >>> list(read_sites(write_sites(site_from_point("a", 10.0, 50.0), out))["site_id"])
    ['a']
    """
    path = Path(path)
    sites = sites_from_frame(sites, max_area_km2=math.inf, source="sites to write")
    suffix = path.suffix.lower()
    if suffix in _GEOJSON_SUFFIXES:
        return write_text(path, sites_to_geojson(sites, json_columns=json_columns), fsync=True)
    if suffix == ".gpkg":
        with atomic_path(path) as tmp:
            pyogrio.write_dataframe(sites, tmp, layer="sites", driver="GPKG")
        return path
    raise OutputError(f"cannot write sites to {path}: use a .geojson or .gpkg file name")
