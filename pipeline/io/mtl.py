"""Landsat Collection 2 MTL metadata: parse (txt/ODL, JSON, XML), validate, and write.

The three formats USGS delivers hold the same groups and keys. They are parsed into one nested
mapping ``{group: {key: text}}`` and then into a :class:`SceneMetadata` value object, which
carries what the pipeline needs: product identity, acquisition time, sun geometry, cloud cover,
the thermal calibration constants of *this* scene, and the grid of the product.
"""

from __future__ import annotations

import json
import math
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pipeline.core.errors import MetadataError
from pipeline.core.grid import WGS84_UTM_NORTH_BASE, Bounds
from pipeline.core.product_id import ProductId
from pipeline.science.calibrate import ThermalCalibration

ROOT = "LANDSAT_METADATA_FILE"
MTL_SUFFIXES = ("_MTL.json", "_MTL.txt", "_MTL.xml")
#: Real MTL files are 10-25 kB; anything far larger is not one (and is not read into memory).
MAX_MTL_BYTES = 1 << 20
_ODL_LINE = re.compile(r'^\s*(\w+)\s*=\s*"?(.*?)"?\s*$')

Groups = dict[str, dict[str, str]]


@dataclass(frozen=True)
class SceneMetadata:
    """What the pipeline needs from one product's MTL."""

    product_id: str
    spacecraft: str
    processing_level: str
    acquired: datetime
    sun_elevation: float
    sun_azimuth: float
    cloud_cover: float
    utm_zone: int
    ul_x: float
    ul_y: float
    lines: int
    samples: int
    cell_size: float
    calibration: ThermalCalibration
    path: Path | None = None
    wrs_path: int | None = None
    wrs_row: int | None = None
    #: ``"DAY"`` or ``"NIGHT"``: ``DAY_NIGHT_FLAG`` where the MTL has it, else from the sun
    #: elevation (below the horizon: night); see :func:`day_night`.
    day_night: str = "DAY"
    #: Where ``day_night`` came from: ``"DAY_NIGHT_FLAG"`` or ``"SUN_ELEVATION"``.
    day_night_source: str = "SUN_ELEVATION"
    extra: dict[str, Any] = field(default_factory=dict, compare=False, repr=False)

    @property
    def night(self) -> bool:
        """True for a night acquisition (no solar loading; Level-1 only)."""
        return self.day_night == "NIGHT"

    @property
    def level(self) -> str:
        """``"L2"`` for surface temperature products, ``"L1"`` for Level-1 counts."""
        return self.calibration.level

    @property
    def epsg(self) -> int:
        """EPSG code of the product's WGS84 / UTM north zone (USGS uses north zones everywhere)."""
        return WGS84_UTM_NORTH_BASE + self.utm_zone

    @property
    def bounds(self) -> Bounds:
        """The product extent ``(left, bottom, right, top)`` in metres, pixel edges.

        The one owner of a product's extent: MTL corners are pixel *centres*, so the extent is
        half a cell outside them, ``samples`` by ``lines`` cells of ``cell_size``.
        """
        half = self.cell_size / 2
        left, top = self.ul_x - half, self.ul_y + half
        return (left, top - self.lines * self.cell_size, left + self.samples * self.cell_size, top)

    def attrs(self) -> dict[str, Any]:
        """Return the metadata as flat, netCDF-safe attributes."""
        return {
            "product_id": self.product_id,
            "spacecraft": self.spacecraft,
            "processing_level": self.processing_level,
            "acquisition_time": self.acquired.isoformat(),
            "sun_elevation": self.sun_elevation,
            "sun_azimuth": self.sun_azimuth,
            "cloud_cover": self.cloud_cover,
            "day_night": self.day_night,
        }


# Parsing -------------------------------------------------------------------------------------


def _parse_odl(text: str) -> Groups:
    groups: Groups = {}
    stack: list[str] = []
    for raw in text.splitlines():
        line = raw.strip()
        if not line or line == "END":
            continue
        m = _ODL_LINE.match(line)
        if not m:
            raise ValueError(f"unexpected line {raw!r}")
        key, value = m.group(1), m.group(2)
        if key == "GROUP":
            if value == ROOT and stack:
                raise ValueError(f"{ROOT} opened again inside group {stack[-1]}")
            stack.append(value)
            if value != ROOT:
                groups.setdefault(value, {})
        elif key == "END_GROUP":
            if not stack or stack.pop() != value:
                raise ValueError(f"END_GROUP {value} does not close the open group")
        elif len(stack) >= 2:
            groups[stack[-1]][key] = value
    if stack:
        raise ValueError(f"group {stack[-1]} is never closed (truncated file?)")
    return groups


def _parse_json(text: str) -> Groups:
    data = json.loads(text)
    root = data.get(ROOT) if isinstance(data, dict) else None
    if not isinstance(root, dict):
        raise ValueError(f"no {ROOT} object")
    return {g: {k: str(v) for k, v in d.items()} for g, d in root.items() if isinstance(d, dict)}


def _parse_xml(text: str) -> Groups:
    root = ET.fromstring(text)
    if root.tag != ROOT:
        raise ValueError(f"root element is {root.tag}, not {ROOT}")
    return {g.tag: {c.tag: (c.text or "").strip() for c in g} for g in root}


def read_mtl_groups(path: str | Path) -> Groups:
    """Parse an MTL file in any of its three formats into ``{group: {key: text}}``.

    Raises
    ------
    MetadataError
        If the file cannot be read or parsed.
    """
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_MTL_BYTES:
            raise MetadataError(f"{path} is {size} bytes, far larger than any Landsat MTL file; "
                                "download the product's MTL again")
        text = path.read_text(encoding="utf-8")
    except PermissionError as exc:
        raise MetadataError(f"cannot read metadata file {path}: permission denied; make the "
                            "file readable (chmod/chown) and run again") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise MetadataError(f"cannot read metadata file {path}: {exc}") from exc
    parser = {".json": _parse_json, ".xml": _parse_xml}.get(path.suffix.lower(), _parse_odl)
    try:
        groups = parser(text)
    except (ValueError, ET.ParseError, RecursionError) as exc:
        # RecursionError: absurdly nested JSON; json.JSONDecodeError is a ValueError.
        raise MetadataError(
            f"{path} is not a valid Landsat MTL file ({exc}); download the product's MTL again"
        ) from exc
    if "PRODUCT_CONTENTS" not in groups:
        raise MetadataError(f"{path} has no PRODUCT_CONTENTS group; is it a Landsat C2 MTL?")
    return groups


def _get(groups: Groups, path: Path, key: str, *group_names: str) -> str:
    for g in group_names:
        if key in groups.get(g, {}):
            return groups[g][key]
    raise MetadataError(f"{path} lacks {key} (looked in {', '.join(group_names)})")


def _num(groups: Groups, path: Path, key: str, *group_names: str, positive: bool = False) -> float:
    text = _get(groups, path, key, *group_names)
    try:
        value = float(text)
    except ValueError as exc:
        raise MetadataError(f"{path}: {key} = {text!r} is not a number") from exc
    if not math.isfinite(value) or (positive and value <= 0):
        kind = "a positive number" if positive else "a finite number"
        raise MetadataError(f"{path}: {key} = {text!r} is not {kind}; the MTL is corrupt, "
                            "download it again")
    return value


def _whole(groups: Groups, path: Path, key: str, *group_names: str, low: int = 1,
           high: int | None = None) -> int:
    """Return a whole number in ``[low, high]`` (sizes, the UTM zone) or raise."""
    value = _num(groups, path, key, *group_names)
    if value != round(value) or value < low or (high is not None and value > high):
        limits = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise MetadataError(f"{path}: {key} = {value:g} is not a whole number {limits}; "
                            "the MTL is corrupt, download it again")
    return int(value)


def _acquired(groups: Groups, path: Path) -> datetime:
    date = _get(groups, path, "DATE_ACQUIRED", "IMAGE_ATTRIBUTES")
    clock = _get(groups, path, "SCENE_CENTER_TIME", "IMAGE_ATTRIBUTES").rstrip("Z")
    clock = clock.split(".")[0]
    try:
        return datetime.fromisoformat(f"{date}T{clock}").replace(tzinfo=timezone.utc)
    except ValueError as exc:
        raise MetadataError(f"{path}: bad acquisition date/time {date} {clock}") from exc


def _dn_max(groups: Groups, path: Path, key: str, *group_names: str) -> int:
    """Return band 10's largest digital number from the MTL, 65535 (uint16) when not given."""
    if not any(key in groups.get(g, {}) for g in group_names):
        return 65535
    return _whole(groups, path, key, *group_names, low=1, high=65535)


def _calibration(groups: Groups, path: Path, level: str) -> ThermalCalibration:
    if level.startswith("L2"):
        return ThermalCalibration(
            level="L2",
            dn_max=_dn_max(groups, path, "QUANTIZE_CAL_MAXIMUM_BAND_ST_B10",
                           "LEVEL2_SURFACE_TEMPERATURE_PARAMETERS"),
            st_mult=_num(groups, path, "TEMPERATURE_MULT_BAND_ST_B10",
                         "LEVEL2_SURFACE_TEMPERATURE_PARAMETERS", positive=True),
            st_add=_num(groups, path, "TEMPERATURE_ADD_BAND_ST_B10",
                        "LEVEL2_SURFACE_TEMPERATURE_PARAMETERS"),
        )
    rescale = ("LEVEL1_RADIOMETRIC_RESCALING", "RADIOMETRIC_RESCALING")
    consts = ("LEVEL1_THERMAL_CONSTANTS", "TIRS_THERMAL_CONSTANTS")
    return ThermalCalibration(
        level="L1",
        dn_max=_dn_max(groups, path, "QUANTIZE_CAL_MAX_BAND_10",
                       "LEVEL1_MIN_MAX_PIXEL_VALUE", "MIN_MAX_PIXEL_VALUE"),
        radiance_mult=_num(groups, path, "RADIANCE_MULT_BAND_10", *rescale, positive=True),
        radiance_add=_num(groups, path, "RADIANCE_ADD_BAND_10", *rescale),
        k1=_num(groups, path, "K1_CONSTANT_BAND_10", *consts, positive=True),
        k2=_num(groups, path, "K2_CONSTANT_BAND_10", *consts, positive=True),
    )


#: Values of ``DAY_NIGHT_FLAG`` (USGS writes them upper case; read case-insensitively).
DAY_NIGHT = ("DAY", "NIGHT")


def day_night(groups: Groups, path: Path, sun_elevation: float) -> tuple[str, str]:
    """Return ``("DAY"|"NIGHT", source)`` of a scene.

    ``DAY_NIGHT_FLAG`` is read where the MTL holds it (``IMAGE_ATTRIBUTES`` first, then any
    group; e.g. written by a fetcher from the archive's metadata). The Collection 2 MTL files
    seen so far (the shared real samples) do not carry it: then the sun elevation at the scene
    centre decides, below the horizon being night.

    Raises
    ------
    MetadataError
        If the flag holds another value.

    Examples
    --------
    >>> day_night({"IMAGE_ATTRIBUTES": {"DAY_NIGHT_FLAG": "NIGHT"}}, Path("x"), 30.0)
    ('NIGHT', 'DAY_NIGHT_FLAG')
    >>> day_night({"IMAGE_ATTRIBUTES": {}}, Path("x"), -41.2)
    ('NIGHT', 'SUN_ELEVATION')
    """
    names = ["IMAGE_ATTRIBUTES", *(g for g in groups if g != "IMAGE_ATTRIBUTES")]
    for g in names:
        flag = groups.get(g, {}).get("DAY_NIGHT_FLAG")
        if flag is None:
            continue
        value = flag.strip().strip('"').upper()
        if value not in DAY_NIGHT:
            raise MetadataError(f"{path}: DAY_NIGHT_FLAG = {flag!r} is neither DAY nor NIGHT; "
                                "the MTL is corrupt, download it again")
        return value, "DAY_NIGHT_FLAG"
    return ("NIGHT" if sun_elevation < 0 else "DAY"), "SUN_ELEVATION"


def read_mtl(path: str | Path) -> SceneMetadata:
    """Read an MTL file (txt, JSON or XML) into :class:`SceneMetadata`.

    Examples
    --------
    >>> meta = read_mtl("LC09_L1TP_063046_20230714_20230714_02_T1_MTL.txt")  # doctest: +SKIP
    >>> meta.calibration.k1  # doctest: +SKIP
    799.0284
    """
    path = Path(path)
    groups = read_mtl_groups(path)
    pc = ("PRODUCT_CONTENTS",)
    product_id = _get(groups, path, "LANDSAT_PRODUCT_ID", *pc)
    pid = ProductId.match(product_id)
    if pid is None:
        raise MetadataError(f"{path}: {product_id!r} is not a Landsat Collection 2 product id")
    if not pid.has_band10:
        raise MetadataError(f"{path}: {product_id!r} has no thermal band 10 (only Landsat 8/9 "
                            "OLI/TIRS 'LC' or TIRS-only 'LT' products do); use such a product")
    level = _get(groups, path, "PROCESSING_LEVEL", *pc)
    proj = ("PROJECTION_ATTRIBUTES", "LEVEL1_PROJECTION_PARAMETERS")
    ia = ("IMAGE_ATTRIBUTES",)
    try:
        attrs = groups["IMAGE_ATTRIBUTES"]
        wrs = (int(attrs["WRS_PATH"]), int(attrs["WRS_ROW"]))
    except (KeyError, ValueError):
        wrs = (None, None)  # type: ignore[assignment]
    elevation = _num(groups, path, "SUN_ELEVATION", *ia)
    when, source = day_night(groups, path, elevation)
    if when == "NIGHT" and level.startswith("L2"):
        raise MetadataError(f"{path}: a Level-2 product flagged NIGHT; USGS makes no Level-2 "
                            "products at night: use the Level-1 product")
    return SceneMetadata(
        product_id=product_id,
        spacecraft=_get(groups, path, "SPACECRAFT_ID", *ia),
        processing_level=level,
        acquired=_acquired(groups, path),
        sun_elevation=elevation,
        sun_azimuth=_num(groups, path, "SUN_AZIMUTH", *ia),
        cloud_cover=_num(groups, path, "CLOUD_COVER", *ia),
        utm_zone=_whole(groups, path, "UTM_ZONE", *proj, low=0, high=60),  # 0: not UTM
        ul_x=_num(groups, path, "CORNER_UL_PROJECTION_X_PRODUCT", *proj),
        ul_y=_num(groups, path, "CORNER_UL_PROJECTION_Y_PRODUCT", *proj),
        lines=_whole(groups, path, "THERMAL_LINES", *proj),
        samples=_whole(groups, path, "THERMAL_SAMPLES", *proj),
        cell_size=_num(groups, path, "GRID_CELL_SIZE_THERMAL", *proj, positive=True),
        calibration=_calibration(groups, path, level),
        path=path,
        wrs_path=wrs[0],
        wrs_row=wrs[1],
        day_night=when,
        day_night_source=source,
    )


# Writing ------------------------------------------------------------------------------------


def write_mtl(groups: Groups, path: str | Path) -> Path:
    """Write groups as an MTL file; the suffix (``.json``, ``.txt``, ``.xml``) sets the format."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".json":
        text = json.dumps({ROOT: groups}, indent=2)
    elif suffix == ".xml":
        root = ET.Element(ROOT)
        for g, items in groups.items():
            ge = ET.SubElement(root, g)
            for k, v in items.items():
                ET.SubElement(ge, k).text = str(v)
        ET.indent(root)
        text = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")
    else:
        lines = [f"GROUP = {ROOT}"]
        for g, items in groups.items():
            lines.append(f"  GROUP = {g}")
            for k, v in items.items():
                v = str(v)
                quoted = not re.fullmatch(r"-?[\d.E+-]+", v) or k in ("SCENE_CENTER_TIME",)
                lines.append(f'    {k} = "{v}"' if quoted and not _is_date(v) else f"    {k} = {v}")
            lines.append(f"  END_GROUP = {g}")
        lines += [f"END_GROUP = {ROOT}", "END", ""]
        text = "\n".join(lines)
    path.write_text(text, encoding="utf-8")
    return path


def _is_date(v: str) -> bool:
    return bool(re.fullmatch(r"\d{4}-\d{2}-\d{2}", v))
