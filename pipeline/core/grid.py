"""The grid value object: CRS, affine transform and shape, derived once and validated.

A site's time series is stacked on one grid: the site's UTM *north* zone (as USGS uses
everywhere, so southern sites have negative northings), 30 m, the site's bounds plus a margin,
snapped outward to whole pixels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import shapely
from affine import Affine
from pyproj import CRS as ProjCRS
from rasterio.crs import CRS
from rasterio.warp import transform_bounds
from shapely.geometry.base import BaseGeometry

from pipeline.core.errors import ConfigError

Bounds = tuple[float, float, float, float]


#: EPSG code of WGS84 / UTM zone N north is ``WGS84_UTM_NORTH_BASE + N``.
WGS84_UTM_NORTH_BASE = 32600


def utm_zone(lon: float) -> int:
    """Return the 6-degree UTM zone (1 to 60) of a longitude in degrees.

    Zone N spans ``[-180 + 6 (N - 1), -180 + 6 N)``; longitude 180 is the east edge of zone
    60 (not the west edge of zone 1), so a region or grid ending there stays in zone 60. The
    Norway and Svalbard exceptions of the military grid are not used: USGS does not use them
    for Landsat, and Heatwatch grids sites in the zones of the products.

    Examples
    --------
    >>> utm_zone(-90.16), utm_zone(-180.0), utm_zone(180.0)
    (15, 1, 60)
    """
    if not -180.0 <= lon <= 180.0:  # also NaN
        raise ConfigError(f"longitude {lon} is outside [-180, 180]; give degrees east")
    return min(int((lon + 180.0) // 6.0) + 1, 60)


def unwrapped(geometry_4326: BaseGeometry) -> BaseGeometry:
    """Return a lon/lat geometry with parts across the antimeridian made contiguous.

    A footprint split at +-180 (a MultiPolygon with parts near -180 and near 180, as
    :func:`aoi.utm.split_antimeridian` writes it) gets its western longitudes shifted by 360,
    so its centroid and bounds are those of the footprint, not of the whole globe. Any other
    geometry is returned as is.

    Examples
    --------
    >>> from shapely.geometry import MultiPolygon, box
    >>> split = MultiPolygon([box(179.8, -17.0, 180.0, -16.8), box(-180.0, -17.0, -179.7, -16.8)])
    >>> [round(v, 1) for v in unwrapped(split).bounds]
    [179.8, -17.0, 180.3, -16.8]
    """
    minx, _, maxx, _ = geometry_4326.bounds
    if maxx - minx <= 180.0:
        return geometry_4326

    def shift(coords: np.ndarray) -> np.ndarray:
        out = coords.copy()
        out[:, 0] = np.where(out[:, 0] < 0, out[:, 0] + 360.0, out[:, 0])
        return out

    return shapely.transform(geometry_4326, shift)


def lonlat_center(geometry_4326: BaseGeometry) -> tuple[float, float]:
    """Return the centroid ``(lon, lat)`` of a lon/lat geometry, across the antimeridian too.

    Examples
    --------
    >>> from shapely.geometry import MultiPolygon, box
    >>> split = MultiPolygon([box(179.8, -17.0, 180.0, -16.8), box(-180.0, -17.0, -179.7, -16.8)])
    >>> [round(v, 2) for v in lonlat_center(split)]
    [-179.95, -16.9]
    """
    c = unwrapped(geometry_4326).centroid
    return (c.x - 360.0 if c.x > 180.0 else c.x), c.y


def from_lonlat(geometry_4326: BaseGeometry, crs: CRS | str | int) -> BaseGeometry:
    """Return a lon/lat geometry (EPSG:4326) in ``crs``.

    Examples
    --------
    >>> from shapely.geometry import Point
    >>> p = from_lonlat(Point(-93.0, 0.0), 32615)  # the central meridian of UTM zone 15
    >>> round(p.x, 3), round(p.y, 3)
    (500000.0, 0.0)
    """
    return gpd.GeoSeries([geometry_4326], crs=4326).to_crs(crs).iloc[0]


def utm_north_crs(lon: float) -> CRS:
    """Return the WGS84 UTM north zone (EPSG:326xx) for a longitude, as USGS Landsat uses.

    Examples
    --------
    >>> utm_north_crs(-90.16).to_epsg()
    32615
    """
    return CRS.from_epsg(WGS84_UTM_NORTH_BASE + utm_zone(lon))


@dataclass(frozen=True)
class Grid:
    """A north-up raster grid."""

    crs: CRS
    transform: Affine
    shape: tuple[int, int]

    def __post_init__(self) -> None:
        if self.shape[0] <= 0 or self.shape[1] <= 0:
            raise ConfigError(f"grid shape {self.shape} must be positive")
        if self.transform.b != 0 or self.transform.d != 0 or self.transform.e >= 0:
            raise ConfigError("only north-up grids without rotation are supported")

    @classmethod
    def from_bounds(cls, crs: CRS | str | int, bounds: Bounds, resolution: float) -> Grid:
        """Build a grid covering ``bounds`` on the USGS Landsat lattice.

        Pixel *centres* sit on multiples of ``resolution`` (USGS Collection 2 products have
        their MTL corner centres on whole 30 m, so pixel edges at 15 m modulo 30); the bounds
        are snapped outward to that lattice, so products read onto the grid are copied exactly.
        """
        left, bottom, right, top = bounds
        if not (right > left and top > bottom):
            raise ConfigError(f"empty bounds {bounds}")
        half = resolution / 2
        left = math.floor((left - half) / resolution) * resolution + half
        bottom = math.floor((bottom - half) / resolution) * resolution + half
        right = math.ceil((right - half) / resolution) * resolution + half
        top = math.ceil((top - half) / resolution) * resolution + half
        width = round((right - left) / resolution)
        height = round((top - bottom) / resolution)
        return cls(CRS.from_user_input(crs), Affine(resolution, 0, left, 0, -resolution, top),
                   (height, width))

    @classmethod
    def around(cls, geometry_4326: BaseGeometry, *, margin_m: float, resolution: float,
               crs: CRS | None = None) -> Grid:
        """Grid around a lon/lat geometry plus a margin, in its UTM north zone by default.

        A footprint split at the antimeridian gets the zone of its own centre
        (:func:`lonlat_center`) and a grid over its parts only (:func:`unwrapped`).
        """
        geometry = unwrapped(geometry_4326)
        crs = crs or utm_north_crs(lonlat_center(geometry_4326)[0])
        b = transform_bounds("EPSG:4326", crs, *geometry.bounds, densify_pts=21)
        return cls.from_bounds(crs, (b[0] - margin_m, b[1] - margin_m, b[2] + margin_m,
                                     b[3] + margin_m), resolution)

    @property
    def resolution(self) -> float:
        """Pixel size in CRS units (metres for UTM)."""
        return float(self.transform.a)

    @property
    def pixel_area(self) -> float:
        """Area of one pixel in square CRS units."""
        return float(abs(self.transform.a * self.transform.e))

    @property
    def bounds(self) -> Bounds:
        """``(left, bottom, right, top)``."""
        h, w = self.shape
        left, top = self.transform.c, self.transform.f
        return (left, top + h * self.transform.e, left + w * self.transform.a, top)

    def coords(self) -> tuple[np.ndarray, np.ndarray]:
        """Pixel-centre coordinates ``(y, x)``."""
        h, w = self.shape
        x = self.transform.c + (np.arange(w) + 0.5) * self.transform.a
        y = self.transform.f + (np.arange(h) + 0.5) * self.transform.e
        return y, x

    def bounds_in(self, crs: CRS) -> Bounds:
        """Return this grid's bounds expressed in another CRS."""
        if ProjCRS.from_user_input(crs) == ProjCRS.from_user_input(self.crs):
            return self.bounds
        return transform_bounds(self.crs, crs, *self.bounds, densify_pts=21)

    def aligned_with(self, crs: CRS, transform: Affine) -> bool:
        """Tell whether another grid has this CRS, resolution and whole-pixel offsets."""
        if CRS.from_user_input(crs) != self.crs:
            return False
        if not np.allclose([transform.a, transform.e], [self.transform.a, self.transform.e]):
            return False
        if transform.b or transform.d:
            return False
        dx = (transform.c - self.transform.c) / self.transform.a
        dy = (transform.f - self.transform.f) / self.transform.e
        return bool(abs(dx - round(dx)) < 1e-6 and abs(dy - round(dy)) < 1e-6)

    def overlap(self, transform: Affine, shape: tuple[int, int],
                ) -> tuple[tuple[slice, slice], tuple[slice, slice]]:
        """Index the block an aligned raster shares with this grid.

        Parameters
        ----------
        transform, shape
            The other raster's transform (see :meth:`aligned_with`) and ``(rows, cols)``.

        Returns
        -------
        tuple
            ``(here, there)``: slices of this grid and of the raster that cover the same
            pixels (empty slices when they do not overlap).

        Examples
        --------
        >>> from rasterio.crs import CRS
        >>> g = Grid(CRS.from_epsg(32633), Affine(30, 0, 0, 0, -30, 300), (10, 10))
        >>> g.overlap(Affine(30, 0, 60, 0, -30, 330), (4, 20))
        ((slice(0, 3, None), slice(2, 10, None)), (slice(1, 4, None), slice(0, 8, None)))
        """
        col = round((transform.c - self.transform.c) / self.transform.a)
        row = round((transform.f - self.transform.f) / self.transform.e)
        h, w = self.shape
        r0, c0 = max(row, 0), max(col, 0)
        r1, c1 = max(r0, min(row + shape[0], h)), max(c0, min(col + shape[1], w))
        here = (slice(r0, r1), slice(c0, c1))
        there = (slice(r0 - row, r1 - row), slice(c0 - col, c1 - col))
        return here, there
