"""Metric geometry for sites: UTM zones, point footprints, areas and the antimeridian.

Zones follow USGS Landsat Collection 2: products are delivered in WGS84 / UTM **north** zones
(EPSG:326xx) everywhere, also south of the equator, where northings are then negative (a site
at 33.9 S has a northing near -3,750,000 m instead of the +6,250,000 m of the south zone
EPSG:327xx). Heatwatch grids sites in the same zones so no reprojection of Landsat pixels is
needed. Zones are the regular 6-degree bands; the Norway and Svalbard exceptions of the
military grid are not used (USGS does not use them either).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from functools import lru_cache
from typing import TypeAlias

import numpy as np
import shapely
from pyproj import CRS, Transformer
from shapely import affinity
from shapely.geometry import MultiPolygon, Point, Polygon, box
from shapely.geometry.base import BaseGeometry
from shapely.geometry.polygon import orient

from pipeline.core.errors import SiteError
from pipeline.core.grid import WGS84_UTM_NORTH_BASE, lonlat_center, unwrapped, utm_zone

__all__ = [
    "WGS84_UTM_NORTH_BASE",
    "area_km2",
    "buffer_lonlat",
    "site_utm_crs",
    "split_antimeridian",
    "to_utm",
    "utm_crs_for",
    "utm_zone",
]

DEFAULT_RADIUS_M = 1000.0
"""Radius of the footprint drawn around a site given only as a point."""

GeometryOrLonLat: TypeAlias = BaseGeometry | Sequence[float]


def _representative_lonlat(geometry: BaseGeometry) -> tuple[float, float]:
    if geometry.is_empty:
        raise SiteError("cannot choose a UTM zone for an empty geometry")
    return lonlat_center(geometry)  # across the antimeridian in 0..360 space


@lru_cache(maxsize=128)
def _utm_crs(epsg: int) -> CRS:
    return CRS.from_epsg(epsg)


def utm_crs_for(geometry_or_lonlat: GeometryOrLonLat) -> CRS:
    """Return the WGS84 / UTM north-zone CRS (EPSG:326xx) for a lon/lat point or a geometry.

    North zones are used in both hemispheres, as USGS does for Landsat; southern sites get
    negative northings. For a geometry the zone of its centroid is used (computed across the
    antimeridian when the geometry has parts on both sides of it).

    Parameters
    ----------
    geometry_or_lonlat
        A shapely geometry in EPSG:4326, or a ``(lon, lat)`` pair in degrees.

    Returns
    -------
    pyproj.CRS
        ``EPSG:32601`` to ``EPSG:32660``.

    Raises
    ------
    SiteError
        If the point is not finite or outside the valid latitude/longitude range.

    Examples
    --------
    >>> utm_crs_for((-90.16, 35.06)).to_epsg()
    32615
    >>> utm_crs_for((151.2, -33.9)).to_epsg()  # Sydney: north zone 56, negative northings
    32656
    """
    return _utm_crs(_utm_epsg(geometry_or_lonlat))


def _utm_epsg(geometry_or_lonlat: GeometryOrLonLat) -> int:
    if isinstance(geometry_or_lonlat, BaseGeometry):
        lon, lat = _representative_lonlat(geometry_or_lonlat)
    else:
        lon, lat = (float(v) for v in geometry_or_lonlat)
    if not (math.isfinite(lat) and -90.0 <= lat <= 90.0):
        raise SiteError(f"latitude {lat} is outside [-90, 90]; give (lon, lat) in degrees")
    if not (math.isfinite(lon) and -180.0 <= lon <= 180.0):
        raise SiteError(f"longitude {lon} is outside [-180, 180]; give (lon, lat) in degrees")
    return WGS84_UTM_NORTH_BASE + utm_zone(lon)


def site_utm_crs(geometry: BaseGeometry) -> CRS:
    """Return the CRS the pipeline grids a site on: the UTM north zone of its footprint.

    This is :func:`utm_crs_for` restricted to geometries; it is the one place that decides a
    site's projection, so grids, areas and buffers agree.

    Parameters
    ----------
    geometry
        Site footprint in EPSG:4326.

    Returns
    -------
    pyproj.CRS
        WGS84 / UTM north zone (EPSG:326xx) of the footprint's centroid.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> site_utm_crs(box(54.4, 24.1, 54.5, 24.2)).to_epsg()
    32640
    """
    return utm_crs_for(geometry)


@lru_cache(maxsize=128)
def _transformer(src: int, dst: int) -> Transformer:
    return Transformer.from_crs(src, dst, always_xy=True)


def _project(geometry: BaseGeometry, src: int, dst: int) -> BaseGeometry:
    tr = _transformer(src, dst)

    def _apply(coords: np.ndarray) -> np.ndarray:
        x, y = tr.transform(coords[:, 0], coords[:, 1])
        return np.column_stack([x, y])

    return shapely.transform(geometry, _apply)


def to_utm(geometry: BaseGeometry) -> tuple[BaseGeometry, CRS]:
    """Project an EPSG:4326 geometry to its site UTM zone.

    Parameters
    ----------
    geometry
        Geometry in EPSG:4326 (lon/lat).

    Returns
    -------
    tuple of (shapely geometry, pyproj.CRS)
        The projected geometry (metres) and the zone it is in.

    Examples
    --------
    >>> g, crs = to_utm(Point(-90.16, 35.06))
    >>> crs.to_epsg(), round(g.x)
    (32615, 759002)
    """
    epsg = _utm_epsg(geometry)
    return _project(geometry, 4326, epsg), _utm_crs(epsg)


def area_km2(geometry: BaseGeometry) -> float:
    """Return the area of an EPSG:4326 footprint in km², measured in its UTM zone.

    Examples
    --------
    >>> round(area_km2(buffer_lonlat(-90.0, 35.0, 1000.0)), 2)
    3.14
    """
    projected, _ = to_utm(geometry)
    return float(projected.area) / 1e6


def buffer_lonlat(lon: float, lat: float, radius_m: float, *, quad_segs: int = 16) -> Polygon:
    """Return a circular footprint of ``radius_m`` around a lon/lat point, in EPSG:4326.

    The circle is drawn in the point's UTM zone (a polygon of ``4 * quad_segs`` sides) and
    projected back; the exterior ring is counter-clockwise as RFC 7946 asks.

    Parameters
    ----------
    lon, lat
        Centre in degrees.
    radius_m
        Radius in metres, positive.
    quad_segs
        Segments per quarter circle.

    Returns
    -------
    shapely.geometry.Polygon
        The footprint in EPSG:4326.

    Raises
    ------
    SiteError
        If the radius is not a positive finite number or the point is out of range.

    Examples
    --------
    >>> poly = buffer_lonlat(-90.16, 35.06, 500.0)
    >>> len(poly.exterior.coords), poly.exterior.is_ccw
    (65, True)
    """
    if not (math.isfinite(radius_m) and radius_m > 0):
        raise SiteError(f"buffer radius {radius_m} m must be a positive number of metres")
    epsg = _utm_epsg((lon, lat))
    centre = _project(Point(lon, lat), 4326, epsg)
    circle = centre.buffer(radius_m, quad_segs=quad_segs)
    back = _project(circle, epsg, 4326)
    return orient(back, sign=1.0)


def split_antimeridian(geometry: Polygon | MultiPolygon) -> Polygon | MultiPolygon:
    """Split polygons that wrap the wrong way round the world at ±180° (shift and clip).

    A site polygon whose longitudes span more than 180° is taken to be a small polygon across
    the antimeridian written with plain ``-180..180`` longitudes (so it would wrap the long way
    round the globe). Its western-hemisphere vertices are shifted by +360°, the result is clipped
    at 180°, and the eastern piece is shifted back by -360°: the MultiPolygon split at ±180 that
    RFC 7946 §3.1.9 asks for. Parts that do not wrap are returned unchanged.

    Parameters
    ----------
    geometry
        Polygon or MultiPolygon in EPSG:4326.

    Returns
    -------
    Polygon or MultiPolygon
        The input unchanged when no part spans more than 180°, else a MultiPolygon.

    Examples
    --------
    >>> wrapped = Polygon([(179.9, 0), (-179.9, 0), (-179.9, 0.1), (179.9, 0.1)])
    >>> fixed = split_antimeridian(wrapped)
    >>> fixed.geom_type, [round(p.bounds[0], 1) for p in fixed.geoms]
    ('MultiPolygon', [179.9, -180.0])
    """
    parts = list(geometry.geoms) if isinstance(geometry, MultiPolygon) else [geometry]
    if all(p.bounds[2] - p.bounds[0] <= 180.0 for p in parts):
        return geometry
    out: list[Polygon] = []
    for part in parts:
        if part.bounds[2] - part.bounds[0] <= 180.0:
            out.append(part)
            continue
        shifted = unwrapped(part)
        east = shifted.intersection(box(-180.0, -90.0, 180.0, 90.0))
        west = affinity.translate(shifted.intersection(box(180.0, -90.0, 540.0, 90.0)), xoff=-360.0)
        for piece in (east, west):
            out.extend(p for p in getattr(piece, "geoms", [piece]) if isinstance(p, Polygon))
    return MultiPolygon([orient(p, sign=1.0) for p in out if not p.is_empty])
