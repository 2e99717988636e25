"""Format readers for site files: each turns a file into a list of :class:`RawSite`.

Readers only parse; :mod:`aoi.sites` validates. GeoJSON is read by hand with :mod:`json`
(GDAL silently closes rings and accepts strings as numbers), so unclosed rings and non-numeric
coordinates are reported. GeoPackage and other GDAL vector files go through pyogrio and are
reprojected to EPSG:4326. CSV files give points (``lat``/``lon`` columns) with a buffer radius.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import pyogrio
import pyogrio.errors
from shapely.geometry import Point, shape
from shapely.geometry.base import BaseGeometry

from pipeline.core.errors import SiteError

_LAT_NAMES = ("lat", "latitude")
_LON_NAMES = ("lon", "lng", "long", "longitude")
_WGS84_NAMES = ("CRS84", "CRS:84", "EPSG::4326", "EPSG:4326")
_PYOGRIO_ERRORS = (
    pyogrio.errors.DataSourceError,
    pyogrio.errors.DataLayerError,
    pyogrio.errors.FieldError,
    pyogrio.errors.GeometryError,
    pyogrio.errors.CRSError,
    pyogrio.errors.FeatureError,
)


@dataclass
class RawSite:
    """One parsed feature or row before validation.

    Attributes
    ----------
    label
        Where it is in its source, e.g. ``"feature 3"`` or ``"line 5"``.
    geometry
        Geometry in EPSG:4326 (lon/lat), or ``None`` when the feature has none.
    properties
        Attribute values (scalars; lists and mappings already turned into JSON text).
    radius_m
        Buffer radius for a point site; ``None`` means points are not accepted for it.
    """

    label: str
    geometry: BaseGeometry | None
    properties: dict[str, Any] = field(default_factory=dict)
    radius_m: float | None = None


def clean_value(value: Any) -> Any:
    """Return a JSON-friendly scalar: NaN/NA to ``None``, numpy to Python, nested to JSON text.

    Examples
    --------
    >>> clean_value(float("nan")) is None, clean_value(np.int64(3)), clean_value([1, {"a": 2}])
    (True, 3, '[1,{"a":2}]')
    """
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, (list, tuple, dict)):
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), default=str)
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date)):
        return value.isoformat()
    return value


def _clean_property(name: str, value: Any) -> Any:
    # site_id stays as given so that a list or mapping is reported, not turned into JSON text.
    if name == "site_id" and isinstance(value, (list, tuple, dict)):
        return value
    return clean_value(value)


# GeoJSON ----------------------------------------------------------------------------------------


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_position(pos: Any, where: str) -> None:
    if not isinstance(pos, list) or not 2 <= len(pos) <= 3:
        raise SiteError(
            f"{where}: position {pos!r} must be a list of 2 numbers [lon, lat]; fix the coordinates"
        )
    if not all(_is_number(v) and math.isfinite(v) for v in pos):
        raise SiteError(
            f"{where}: position {pos!r} holds a value that is not a finite number; "
            "coordinates must be JSON numbers, not strings, null or NaN"
        )


def _check_ring(ring: Any, where: str) -> None:
    if not isinstance(ring, list) or len(ring) < 4:
        n = len(ring) if isinstance(ring, list) else 0
        raise SiteError(
            f"{where}: a polygon ring needs at least 4 positions (first repeated last), got {n}"
        )
    for pos in ring:
        _check_position(pos, where)
    if ring[0][:2] != ring[-1][:2]:
        raise SiteError(
            f"{where}: polygon ring is not closed: first position {ring[0]} differs from last "
            f"{ring[-1]}; repeat the first position at the end of the ring (RFC 7946 §3.1.6)"
        )


def _check_polygon_coords(rings: Any, where: str) -> None:
    if not isinstance(rings, list) or not rings:
        raise SiteError(f"{where}: Polygon coordinates must be a non-empty list of rings")
    for k, ring in enumerate(rings):
        _check_ring(ring, f"{where}, ring {k}")


def _check_raw_geometry(geom: Any, where: str) -> None:
    if not isinstance(geom, dict) or "type" not in geom:
        raise SiteError(f"{where}: geometry must be a GeoJSON geometry object with a type")
    kind = geom["type"]
    coords = geom.get("coordinates")
    if kind == "Polygon":
        _check_polygon_coords(coords, where)
    elif kind == "MultiPolygon":
        if not isinstance(coords, list) or not coords:
            raise SiteError(f"{where}: MultiPolygon coordinates must be a list of polygons")
        for k, poly in enumerate(coords):
            _check_polygon_coords(poly, f"{where}, polygon {k}")
    elif kind == "Point":
        _check_position(coords, where)


def _check_declared_crs(data: dict[str, Any], path: Path) -> None:
    crs = data.get("crs")
    if crs is None:
        return
    name = str((crs.get("properties") or {}).get("name", "")) if isinstance(crs, dict) else ""
    if not any(name.upper().endswith(w) for w in _WGS84_NAMES):
        raise SiteError(
            f"{path} declares the CRS {name or crs!r}; GeoJSON (RFC 7946) is always lon/lat "
            "WGS84. Reproject it (e.g. ogr2ogr -t_srs EPSG:4326) or save it as a GeoPackage, "
            "which Heatwatch reprojects"
        )


def _features_of(data: Any, path: Path) -> list[Any]:
    kind = data.get("type") if isinstance(data, dict) else None
    if kind == "FeatureCollection":
        features = data.get("features")
        if not isinstance(features, list):
            raise SiteError(f"{path}: FeatureCollection has no 'features' list")
        return features
    if kind == "Feature":
        return [data]
    if isinstance(kind, str):
        raise SiteError(
            f"{path} holds a bare {kind} geometry; wrap it in a Feature with a site_id property"
        )
    raise SiteError(f"{path} is not GeoJSON: expected a FeatureCollection or a Feature")


def read_geojson(path: Path, *, radius_m: float | None) -> list[RawSite]:
    """Parse a GeoJSON file by hand (rings and numbers checked) into raw sites.

    Parameters
    ----------
    path
        GeoJSON file (RFC 7946, lon/lat).
    radius_m
        Buffer radius given to Point features, or ``None`` to leave them to be rejected.

    Returns
    -------
    list of RawSite
        One per feature, labelled ``"feature <index>"``.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise SiteError(f"{path} is not UTF-8 text; save the GeoJSON as UTF-8") from exc
    except OSError as exc:
        raise SiteError(f"cannot read site file {path}: {exc.strerror or exc}") from exc
    except json.JSONDecodeError as exc:
        raise SiteError(
            f"{path} is not valid JSON (line {exc.lineno}, column {exc.colno}): {exc.msg}"
        ) from exc
    _check_declared_crs(data if isinstance(data, dict) else {}, path)
    out: list[RawSite] = []
    for i, feat in enumerate(_features_of(data, path)):
        label = f"feature {i}"
        if not isinstance(feat, dict) or feat.get("type") != "Feature":
            raise SiteError(f"{path}: {label} is not a GeoJSON Feature object")
        props = feat.get("properties") or {}
        if not isinstance(props, dict):
            raise SiteError(f"{path}: {label} has properties that are not a JSON object")
        where = f"{path}: {label}"
        if isinstance(props.get("site_id"), str):
            where += f" (site_id {props['site_id']!r})"
        geom_json = feat.get("geometry")
        geometry = None
        if geom_json is not None:
            _check_raw_geometry(geom_json, where)
            try:
                geometry = shape(geom_json)
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                raise SiteError(f"{where}: geometry cannot be read: {exc}") from exc
        cleaned = {str(k): _clean_property(str(k), v) for k, v in props.items()}
        out.append(RawSite(label, geometry, cleaned, radius_m))
    return out


# CSV --------------------------------------------------------------------------------------------


def _find_column(columns: dict[str, str], names: tuple[str, ...]) -> str | None:
    return next((columns[n] for n in names if n in columns), None)


def _csv_number(text: str, what: str, where: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise SiteError(f"{where}: {what} {text!r} is not a number in degrees/metres") from None
    if not math.isfinite(value):
        raise SiteError(f"{where}: {what} {text!r} is not a finite number")
    return value


def read_csv(path: Path, *, radius_m: float) -> list[RawSite]:
    """Parse a CSV of points (``site_id``, ``lat``, ``lon`` and optional ``radius_m``).

    Parameters
    ----------
    path
        CSV file with a header row; latitude/longitude columns in decimal degrees.
    radius_m
        Buffer radius for rows without a ``radius_m`` value.

    Returns
    -------
    list of RawSite
        One per data row, labelled ``"line <n>"`` (line 1 is the header).
    """
    try:
        df = pd.read_csv(
            path, dtype=str, keep_default_na=False, skipinitialspace=True, encoding="utf-8-sig"
        )
    except pd.errors.EmptyDataError:
        return []
    except (pd.errors.ParserError, UnicodeDecodeError, OSError) as exc:
        raise SiteError(f"{path} cannot be read as CSV: {exc}") from exc
    columns = {str(c).strip().lower(): str(c) for c in df.columns}
    lat_col, lon_col = _find_column(columns, _LAT_NAMES), _find_column(columns, _LON_NAMES)
    if lat_col is None or lon_col is None:
        raise SiteError(
            f"{path} has no latitude/longitude columns (found {list(df.columns)}); CSV sites "
            "need columns lat and lon (or latitude and longitude) in decimal degrees and site_id"
        )
    out: list[RawSite] = []
    for i, row in enumerate(df.to_dict("records")):
        where = f"{path}: line {i + 2}"
        lat = _csv_number(row.pop(lat_col).strip(), "latitude", where)
        lon = _csv_number(row.pop(lon_col).strip(), "longitude", where)
        props = {str(k).strip(): (str(v).strip() or None) for k, v in row.items()}
        radius_text = props.pop("radius_m", None)
        radius = _csv_number(radius_text, "radius_m", where) if radius_text else radius_m
        out.append(RawSite(f"line {i + 2}", Point(lon, lat), props, radius))
    return out


# GeoDataFrames and GDAL vector files -----------------------------------------------------------


def frame_sites(gdf: gpd.GeoDataFrame, source: str, *, radius_m: float | None) -> list[RawSite]:
    """Turn a GeoDataFrame into raw sites, reprojecting it to EPSG:4326 first.

    Parameters
    ----------
    gdf
        Sites with a CRS set.
    source
        Name used in error messages (a file name or ``"<GeoDataFrame>"``).
    radius_m
        Buffer radius for Point rows, or ``None`` to leave them to be rejected.

    Returns
    -------
    list of RawSite
        One per row, labelled ``"row <position>"``.
    """
    if not isinstance(gdf, gpd.GeoDataFrame):
        raise SiteError(f"{source}: expected a GeoDataFrame, got {type(gdf).__name__}")
    if gdf.crs is None:
        raise SiteError(
            f"{source} has no CRS; set it (e.g. gdf.set_crs('EPSG:4326') for lon/lat degrees)"
        )
    if gdf.crs.to_epsg() != 4326:
        gdf = gdf.to_crs(4326)
    geom_col = gdf.geometry.name
    out: list[RawSite] = []
    for i, (geom, row) in enumerate(
        zip(gdf.geometry, gdf.drop(columns=geom_col).to_dict("records"), strict=True)
    ):
        props = {str(k): _clean_property(str(k), v) for k, v in row.items()}
        out.append(RawSite(f"row {i}", geom, props, radius_m))
    return out


def read_vector(path: Path, *, layer: str | None, radius_m: float | None) -> list[RawSite]:
    """Read a GeoPackage (or any GDAL vector file) with pyogrio; reproject to EPSG:4326.

    Parameters
    ----------
    path
        Vector file.
    layer
        Layer name; required when the file has more than one layer.
    radius_m
        Buffer radius for Point features, or ``None`` to leave them to be rejected.

    Returns
    -------
    list of RawSite
        One per feature, labelled ``"row <position>"``.
    """
    try:
        layers = [str(name) for name, _ in pyogrio.list_layers(path)]
        if layer is None and len(layers) > 1:
            raise SiteError(
                f"{path} has {len(layers)} layers ({', '.join(layers)}); choose one with layer="
            )
        gdf = pyogrio.read_dataframe(path, layer=layer)
    except _PYOGRIO_ERRORS as exc:
        raise SiteError(
            f"cannot read {path} as a vector file: {exc}. Use GeoJSON, GeoPackage or CSV"
        ) from exc
    return frame_sites(gdf, str(path), radius_m=radius_m)
