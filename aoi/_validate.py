"""Validation of parsed sites: one pass that every way of reading sites goes through.

:func:`validate_raw_sites` checks ids, geometry and attributes of :class:`~aoi._readers.RawSite`
records and builds the site GeoDataFrame; the checks are listed in :mod:`aoi.sites`.
"""

from __future__ import annotations

import math
import re
from typing import Any

import geopandas as gpd
import numpy as np
import pandas as pd
import shapely
from shapely.geometry import MultiPolygon, Point, Polygon
from shapely.geometry.base import BaseGeometry

from aoi._readers import RawSite
from aoi.utm import area_km2, buffer_lonlat, split_antimeridian
from pipeline.core.errors import SiteError
from pipeline.core.sites import SITE_COLUMNS

COOLING_TYPES = ("dry", "evaporative", "hybrid")
"""Allowed values of ``cooling`` (or missing)."""

_MAX_ID_LENGTH = 200
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _site_id(props: dict[str, Any], where: str) -> str:
    raw = props.get("site_id")
    if isinstance(raw, float) and raw.is_integer():
        raw = int(raw)
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        raise SiteError(f"{where} has no site_id; give every site a unique, non-empty site_id")
    if not isinstance(raw, str):
        raise SiteError(f"{where} has a site_id that is not text ({raw!r}); use a string id")
    sid = raw.strip()
    if _CONTROL.search(sid) or len(sid) > _MAX_ID_LENGTH:
        raise SiteError(
            f"{where}: site_id {sid[:40]!r} has control characters or more than "
            f"{_MAX_ID_LENGTH} characters; use a short printable id"
        )
    return sid


def _range_hint(x: np.ndarray, y: np.ndarray, fmt: str) -> str:
    if (np.abs(y) > 90).any() and (np.abs(x) <= 90).all():
        if fmt == "csv":
            return "; the lat and lon columns look swapped"
        if fmt == "geojson":
            return "; coordinates look like lat/lon; GeoJSON is lon/lat: swap each pair"
        return "; coordinates look like lat/lon: x must be the longitude"
    if (x > 180).any() and (x >= 0).all() and (x <= 360).all():
        return "; longitudes look like 0..360: subtract 360 from those above 180"
    return ""


def _check_coordinates(geom: BaseGeometry, where: str, fmt: str) -> None:
    xy = shapely.get_coordinates(geom)
    if not np.isfinite(xy).all():
        raise SiteError(f"{where}: coordinates include NaN or infinity; fix the geometry")
    x, y = xy[:, 0], xy[:, 1]
    if (np.abs(x) <= 180).all() and (np.abs(y) <= 90).all():
        return
    raise SiteError(
        f"{where}: coordinates out of range (longitude must be in [-180, 180], latitude in "
        f"[-90, 90]; found longitudes {x.min():g}..{x.max():g}, latitudes "
        f"{y.min():g}..{y.max():g}){_range_hint(x, y, fmt)}"
    )


def _footprint(raw: RawSite, where: str, fmt: str) -> Polygon | MultiPolygon:
    geom = raw.geometry
    if geom is None or geom.is_empty:
        raise SiteError(f"{where} has no geometry; give a Polygon or MultiPolygon footprint")
    _check_coordinates(geom, where, fmt)
    if isinstance(geom, Point):
        if raw.radius_m is None:
            raise SiteError(
                f"{where} is a Point; sites must be Polygon or MultiPolygon footprints. Draw "
                "the footprint, give points as a CSV with lat/lon columns (buffered to a "
                "circle), or pass buffer_points=True (CLI: --buffer-points)"
            )
        return buffer_lonlat(geom.x, geom.y, raw.radius_m)
    if not isinstance(geom, (Polygon, MultiPolygon)):
        raise SiteError(
            f"{where} is a {geom.geom_type}; sites must be Polygon or MultiPolygon footprints"
        )
    if not geom.is_valid:
        raise SiteError(
            f"{where}: polygon is invalid ({shapely.is_valid_reason(geom)}); fix the ring "
            "(a self-intersecting ring often has two vertices out of order) or repair it with "
            "shapely.make_valid(geometry) and check the result"
        )
    return split_antimeridian(geom)


def _number_or_nan(value: Any, what: str, where: str) -> float:
    if value is None:
        return math.nan
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise SiteError(f"{where}: {what} {value!r} is not a number") from None
    if math.isnan(number):
        return math.nan
    if not math.isfinite(number) or number < 0:
        raise SiteError(f"{where}: {what} {value!r} must be a non-negative number or empty")
    return number


def _cooling(value: Any, where: str) -> str | None:
    if value is None:
        return None
    text = str(value).strip().lower()
    if text not in COOLING_TYPES:
        raise SiteError(
            f"{where}: cooling {value!r} is not one of {', '.join(COOLING_TYPES)}; "
            "fix it or leave it empty"
        )
    return text


def _accelerator(value: Any, where: str) -> str | None:
    """Normalise a site's accelerators (``gb200``, ``h100:150000, h200:50000``) or None."""
    if value is None or (isinstance(value, float) and math.isnan(value)) or \
            (isinstance(value, str) and not value.strip()):
        return None
    from models.energy_types import ClusterSpec
    from pipeline.core.errors import EnergyModelError

    try:
        return ClusterSpec.parse(str(value)).label
    except EnergyModelError as exc:
        raise SiteError(f"{where}: accelerator {value!r}: {exc}; fix it or leave it empty") \
            from None


def _validate_one(
    raw: RawSite, source: str, fmt: str, max_area_km2: float
) -> tuple[dict[str, Any], BaseGeometry]:
    where = f"{source}: {raw.label}"
    props = dict(raw.properties)
    sid = _site_id(props, where)
    where = f"{where} (site_id {sid!r})"
    geom = _footprint(raw, where, fmt)
    area = area_km2(geom)
    if area > max_area_km2:
        raise SiteError(
            f"{where} covers {area:.1f} km², more than the limit of {max_area_km2:g} km²; draw "
            "a tighter footprint or raise grid.max_site_area_km2 in your configuration"
        )
    if "geometry" in props:
        raise SiteError(f"{where}: 'geometry' is reserved; rename that property")
    if isinstance(raw.geometry, Point):
        props.setdefault("footprint_source", "buffer_from_point")
        props.setdefault("footprint_radius_m", raw.radius_m)
        props.setdefault("lat", raw.geometry.y)
        props.setdefault("lon", raw.geometry.x)
    row = {
        **props,
        "site_id": sid,
        "name": str(props["name"]) if props.get("name") is not None else sid,
        "operator": str(props["operator"]) if props.get("operator") is not None else None,
        "reported_power_mw": _number_or_nan(
            props.get("reported_power_mw"), "reported_power_mw", where
        ),
        "cooling": _cooling(props.get("cooling"), where),
    }
    if "accelerator" in props:
        row["accelerator"] = _accelerator(props["accelerator"], where)
    return row, geom


def validate_raw_sites(
    raws: list[RawSite], source: str, fmt: str, max_area_km2: float
) -> gpd.GeoDataFrame:
    """Validate parsed sites and build the site table (EPSG:4326).

    Parameters
    ----------
    raws
        Parsed features or rows, in source order.
    source
        File name (or description) used in error messages.
    fmt
        ``"geojson"``, ``"csv"`` or another tag; chooses the wording of the lat/lon hint.
    max_area_km2
        Largest allowed footprint.

    Returns
    -------
    geopandas.GeoDataFrame
        :data:`SITE_COLUMNS`, the extra attributes in first-seen order, ``geometry``.

    Raises
    ------
    SiteError
        On the first problem, naming the source, the feature and what to do.
    """
    if not raws:
        raise SiteError(f"{source} holds no sites; add at least one feature or row with a site_id")
    rows: list[dict[str, Any]] = []
    geoms: list[BaseGeometry] = []
    seen: dict[str, str] = {}
    for raw in raws:
        row, geom = _validate_one(raw, source, fmt, max_area_km2)
        sid = row["site_id"]
        if sid in seen:
            raise SiteError(
                f"{source}: site_id {sid!r} is used by both {seen[sid]} and {raw.label}; "
                "site ids must be unique: rename or remove one"
            )
        seen[sid] = raw.label
        rows.append(row)
        geoms.append(geom)
    return _frame(rows, geoms)


def _frame(rows: list[dict[str, Any]], geoms: list[BaseGeometry]) -> gpd.GeoDataFrame:
    extras: dict[str, None] = {}
    for row in rows:
        extras.update((k, None) for k in row if k not in SITE_COLUMNS)
    data: dict[str, Any] = {}
    for col in (*SITE_COLUMNS, *extras):
        data[col] = _column([row.get(col) for row in rows], numeric=col == "reported_power_mw")
    return gpd.GeoDataFrame(data, geometry=gpd.GeoSeries(geoms, crs=4326), crs=4326)


def _column(values: list[Any], *, numeric: bool = False) -> pd.Series:
    """Numbers (with gaps) become float64, anything else stays object so ``None`` is kept."""
    present = [v for v in values if v is not None]
    if numeric or (
        present and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in present)
    ):
        return pd.Series([math.nan if v is None else v for v in values], dtype=float)
    return pd.Series(values, dtype=object)
