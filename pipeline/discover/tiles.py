"""Tiling a region for discovery, and merging the candidates found tile by tile.

Pure functions, no IO. A region (lon/lat) is cut by the UTM north zones it touches; each part
is projected to its zone and covered by square *cores* of ``tile_size_m`` on a lattice anchored
at the part's north-west corner (snapped to the USGS 30 m pixel edges). A tile's scan
:class:`~pipeline.core.grid.Grid` is its core grown by ``overlap_m`` on every side, so a campus
smaller than the overlap whose representative point lies in a core is seen whole, with its
background ring, by that core's tile. Cores do not overlap; together they cover the region.

:func:`merge_candidates` then keeps one detection per campus: detections from different tiles
that overlap are one campus, and the one whose representative point lies in its own tile's
core wins.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from pyproj import Transformer
from rasterio.crs import CRS
from shapely.geometry import box
from shapely.geometry.base import BaseGeometry
from shapely.ops import unary_union

from pipeline.core.errors import ConfigError
from pipeline.core.grid import Grid, utm_north_crs, utm_zone
from pipeline.core.sites import empty_site_table


@dataclass(frozen=True)
class Tile:
    """One tile of a region: its id, its scan grid (core + overlap) and its core in lon/lat."""

    tile_id: str
    grid: Grid
    core_4326: BaseGeometry

    @property
    def epsg(self) -> int:
        """EPSG code of the tile's UTM north zone."""
        return int(self.grid.crs.to_epsg())


def region_geometry(region: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry) -> BaseGeometry:
    """Return the region as one lon/lat geometry (frames are reprojected and united)."""
    if isinstance(region, gpd.GeoDataFrame | gpd.GeoSeries):
        if region.crs is None:
            raise ConfigError("the region has no CRS; save it as GeoJSON (EPSG:4326)")
        geom = unary_union(list(region.to_crs(4326).geometry))
    else:
        geom = region
    if geom is None or geom.is_empty:
        raise ConfigError("the region is empty; pass a polygon of the area to search")
    if geom.area == 0:
        raise ConfigError("the region has no area; pass a polygon, not points or lines")
    return geom


def _zone_band(zone: int) -> BaseGeometry:
    west = -180.0 + (zone - 1) * 6.0
    return box(west, -90.0, west + 6.0, 90.0)


def _zones(geom: BaseGeometry) -> list[int]:
    west, _, east, _ = geom.bounds
    return list(range(utm_zone(west), utm_zone(east) + 1))


def _snap_edges(left: float, top: float, resolution: float) -> tuple[float, float]:
    """Snap the north-west corner outward to USGS lattice pixel edges (mm tolerance)."""
    half, tol = resolution / 2, 1e-3 / resolution
    return (math.floor((left - half) / resolution + tol) * resolution + half,
            math.ceil((top - half) / resolution - tol) * resolution + half)


def _project(geom: BaseGeometry, transformer: Transformer) -> BaseGeometry:
    return shapely.transform(
        geom, lambda xy: np.column_stack(transformer.transform(xy[:, 0], xy[:, 1])))


def _densified_box(x0: float, y0: float, x1: float, y1: float, n: int = 16) -> BaseGeometry:
    return box(x0, y0, x1, y1).segmentize(max(x1 - x0, y1 - y0) / n)


def tile_region(
    region_4326: gpd.GeoDataFrame | gpd.GeoSeries | BaseGeometry,
    *,
    tile_size_m: float,
    overlap_m: float,
    resolution: float = 30.0,
) -> list[Tile]:
    """Cut a region into tiles, each in the UTM north zone of its own centre.

    Parameters
    ----------
    region_4326
        The region: a GeoDataFrame/GeoSeries (any CRS; all geometries are united) or a shapely
        geometry in lon/lat.
    tile_size_m
        Side of a tile's core, metres; rounded to a whole number of pixels.
    overlap_m
        Margin added to the core on every side to make the tile's scan grid. It must be larger
        than the largest campus to be found whole on a tile border.
    resolution
        Pixel size (m) of the grids.

    Returns
    -------
    list of Tile
        Tiles whose core overlaps the region by at least one pixel, ordered west to east by
        zone, then north to south, west to east; ids ``z<zone>-r<row>-c<col>``.

    Raises
    ------
    ConfigError
        If the sizes are not positive or the region is empty.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> tiles = tile_region(box(-97.3, 38.5, -97.2, 38.6), tile_size_m=6000, overlap_m=1000)
    >>> len(tiles), tiles[0].tile_id, tiles[0].epsg
    (4, 'z14-r0-c0', 32614)
    """
    if tile_size_m < resolution or overlap_m < 0:
        raise ConfigError(f"tile_size_m ({tile_size_m}) must be at least one pixel "
                          f"({resolution} m) and overlap_m ({overlap_m}) not negative")
    geom = region_geometry(region_4326)
    size = max(1, round(tile_size_m / resolution)) * resolution
    tiles: list[Tile] = []
    for zone in _zones(geom):
        band = _zone_band(zone)
        part = geom.intersection(band)
        if part.is_empty or part.area == 0:
            continue
        crs = CRS.from_epsg(32600 + zone)
        tiles += _zone_tiles(part, band, crs, zone, size, overlap_m, resolution)
    return tiles


def _zone_tiles(part: BaseGeometry, band: BaseGeometry, crs: CRS, zone: int, size: float,
                overlap_m: float, resolution: float) -> list[Tile]:
    fwd = Transformer.from_crs(4326, crs, always_xy=True)
    inv = Transformer.from_crs(crs, 4326, always_xy=True)
    local = _project(part.segmentize(0.01), fwd)
    left, bottom, right, top = local.bounds
    left, top = _snap_edges(left, top, resolution)
    # a region reaching less than half a pixel past the lattice gets no extra tile
    n_cols = max(1, math.ceil((right - left - resolution / 2) / size))
    n_rows = max(1, math.ceil((top - bottom - resolution / 2) / size))
    out = []
    for r in range(n_rows):
        for c in range(n_cols):
            x0, y1 = left + c * size, top - r * size
            core_local = _densified_box(x0, y1 - size, x0 + size, y1)
            if core_local.intersection(local).area < resolution**2:  # touches or grazes it
                continue
            core = _project(core_local, inv).intersection(band)
            if core.is_empty or core.area == 0:
                continue
            grid = Grid.from_bounds(crs, (x0 - overlap_m, y1 - size - overlap_m,
                                          x0 + size + overlap_m, y1 + overlap_m), resolution)
            if utm_north_crs(core.representative_point().x) != crs:  # pragma: no cover
                raise ConfigError(f"tile core of zone {zone} lies outside it; report this bug")
            out.append(Tile(f"z{zone:02d}-r{r}-c{c}", grid, core))
    return out


def merge_candidates(per_tile: Sequence[gpd.GeoDataFrame], tiles: Sequence[Tile]
                     ) -> gpd.GeoDataFrame:
    """One row per campus from the candidates of all tiles.

    Candidates (EPSG:4326 polygons with a ``tile_id`` column, or frames given in the order of
    ``tiles`` without one) from different tiles that intersect are the same campus seen twice.
    Of each group the one whose representative point lies in its own tile's core is kept (that
    tile sees the campus with its whole background ring); ties, and groups with no such member,
    are settled by: in own core first, then larger area, then ``tile_id`` and ``site_id``.

    Parameters
    ----------
    per_tile
        Candidate tables of the tiles (any may be empty).
    tiles
        The tiles (for their cores).

    Returns
    -------
    geopandas.GeoDataFrame
        The kept candidates, EPSG:4326, with ``tile_id``, in a deterministic order
        (by ``tile_id`` then ``site_id``).

    Examples
    --------
    >>> from shapely.geometry import box
    >>> t = tile_region(box(-97.30, 38.50, -97.25, 38.55), tile_size_m=3000, overlap_m=900)
    >>> a = gpd.GeoDataFrame({"site_id": ["candidate-1"], "tile_id": [t[0].tile_id]},
    ...                      geometry=[t[0].core_4326.centroid.buffer(0.001)], crs=4326)
    >>> len(merge_candidates([a, a.assign(tile_id=t[1].tile_id)], t))
    1
    """
    cores = {t.tile_id: t.core_4326 for t in tiles}
    frames = []
    for i, f in enumerate(per_tile):
        if f is None or not len(f):
            continue
        f = f.to_crs(4326)
        if "tile_id" not in f:
            f = f.assign(tile_id=tiles[i].tile_id)
        frames.append(f)
    if not frames:
        return empty_site_table("tile_id")
    allc = gpd.GeoDataFrame(pd.concat(frames, ignore_index=True), geometry="geometry", crs=4326)
    groups = _overlap_groups(allc)
    in_core = np.array([cores[t].contains(g.representative_point()) if t in cores else False
                        for t, g in zip(allc["tile_id"], allc.geometry, strict=True)])
    area = allc.to_crs(6933).geometry.area.to_numpy()
    keep = []
    for members in groups:
        best = min(members, key=lambda i: (not in_core[i], -round(float(area[i]), 3),
                                           str(allc.at[i, "tile_id"]),
                                           str(allc.at[i, "site_id"])))
        keep.append(best)
    out = allc.loc[sorted(keep)].sort_values(["tile_id", "site_id"], kind="stable")
    return out.reset_index(drop=True)


def _overlap_groups(frame: gpd.GeoDataFrame) -> list[list[int]]:
    """Return the connected components of 'intersects, from another tile' (union-find)."""
    parent = list(range(len(frame)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    tiles = frame["tile_id"].to_numpy()
    left, right = frame.sindex.query(frame.geometry, predicate="intersects")
    for i, j in zip(left, right, strict=True):
        if i < j and tiles[i] != tiles[j]:
            parent[find(int(i))] = find(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(len(frame)):
        groups.setdefault(find(i), []).append(i)
    return list(groups.values())
