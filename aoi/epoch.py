"""Build the campus catalog from Epoch AI's frontier data center release (CSV to GeoJSON).

Data: Epoch AI, 'Data on Frontier AI Data Centers', epoch.ai/data/data-centers (November 2025
release), CC-BY 4.0. The credit travels inside the built file (``attribution`` member).

One feature per campus: ``site_id`` (slug of Epoch's Handle), ``name``, ``operator`` and
``operator_confidence`` (Epoch's ``#confident``/``#likely``/``#speculative`` tag), ``users``,
``lat``/``lon`` (parsed from the degrees-minutes-seconds strings, kept as ``lat_dms``/
``lon_dms``), current ``reported_power_mw`` and ``h100e``, the dated ``timeline``, a ``cooling``
class implied by water use per MW, the ``accelerator`` mix where known (from the campus's
latest ``epoch_checks`` row of ``models/data/energy.yaml``, else null), and ``sources``
naming the file and column of every field. The footprint is a circle around Epoch's point,
drawn in the local UTM zone: of the area of the latest known site area, else of a 1 km
radius. It is a search area, not a surveyed outline.

Cooling: Epoch's water use (million US gallons per day) is compared with the water that would
evaporate if all facility power left as latent heat, 9,393 US gal/day per MW
(``energy_facts.yaml`` ``latent_water_per_mw``, L = 2.43 MJ/kg). A ratio above 0.5 means
evaporative cooling, below 0.1 dry (closed loop), in between hybrid; no water data, unknown.
The latest timeline row with both water use and non-zero power is used.
"""

from __future__ import annotations

import csv
import json
import math
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from aoi.sites import geojson_geometry
from aoi.utm import DEFAULT_RADIUS_M, buffer_lonlat
from pipeline.core.errors import SiteError
from pipeline.science.declared import EPOCH_CREDIT

EPOCH_LICENSE = "CC-BY-4.0 (https://creativecommons.org/licenses/by/4.0/)"
CAMPUS_FILE = "data_centers.csv"
TIMELINE_FILE = "data_center_timelines.csv"

LATENT_WATER_GAL_PER_DAY_PER_MW = 9393.0
"""US gallons per day evaporated per MW of heat (energy_facts.yaml ``latent_water_per_mw``)."""
EVAPORATIVE_MIN_RATIO = 0.5
DRY_MAX_RATIO = 0.1
SQFT_TO_M2 = 0.09290304
COORD_DECIMALS = 6

TIMELINE_COLUMNS = (
    "date",
    "status",
    "power_mw",
    "h100e",
    "buildings_operational",
    "building_area_sqft",
    "site_area_sqft",
    "water_mgd",
)
_TIMELINE_SOURCE = {
    "date": "Date",
    "status": "Construction status",
    "power_mw": "Power (MW)",
    "h100e": "H100 equivalents",
    "buildings_operational": "Buildings operational",
    "building_area_sqft": "Building area (square feet)",
    "site_area_sqft": "Site area (square feet)",
    "water_mgd": "Water use (MGD)",
}
_CAMPUS_COLUMNS = (
    "Handle",
    "Title",
    "Project",
    "Address",
    "Latitude",
    "Longitude",
    "Owner",
    "Users",
    "Current H100 equivalents",
    "Current power (MW)",
)
_DMS = re.compile(
    r"""^\s*(?P<d>\d+(?:\.\d+)?)\s*°\s*
        (?:(?P<m>\d+(?:\.\d+)?)\s*['′’]\s*)?
        (?:(?P<s>\d+(?:\.\d+)?)\s*(?:"|″|”|'')\s*)?
        (?P<h>[NSEW])\s*$""",
    re.VERBOSE | re.IGNORECASE,
)
_TAG = re.compile(r"^(?P<name>.*?)\s*#(?P<tag>[A-Za-z]+)\s*$")


# Parsing ----------------------------------------------------------------------------------------


def parse_dms(text: str) -> float:
    r"""Parse a degrees-minutes-seconds string such as ``32°35'25"N`` into signed degrees.

    Parameters
    ----------
    text
        Degrees, optional minutes and seconds, and a hemisphere letter; surrounding spaces
        are ignored.

    Returns
    -------
    float
        Decimal degrees, negative for S and W.

    Raises
    ------
    SiteError
        If the text is not DMS or a part is out of range.

    Examples
    --------
    >>> round(parse_dms(" 101°18'43\"W"), 6), round(parse_dms("41°11'6.6732\"N"), 6)
    (-101.311944, 41.185187)
    """
    match = _DMS.match(str(text))
    if match is None:
        raise SiteError(f"coordinate {text!r} is not degrees-minutes-seconds like 32°35'25\"N")
    deg, minutes, seconds = (float(match[k] or 0.0) for k in ("d", "m", "s"))
    hemi = match["h"].upper()
    limit = 90.0 if hemi in "NS" else 180.0
    value = deg + minutes / 60.0 + seconds / 3600.0
    if minutes >= 60 or seconds >= 60 or value > limit:
        raise SiteError(f"coordinate {text!r} is out of range")
    return -value if hemi in "SW" else value


def split_tag(text: str | None) -> tuple[str | None, str | None]:
    """Split Epoch's ``"Name #tag"`` into ``("Name", "tag")``; missing parts are ``None``.

    Examples
    --------
    >>> split_tag("Amazon #confident"), split_tag("Crusoe"), split_tag("")
    (('Amazon', 'confident'), ('Crusoe', None), (None, None))
    """
    text = (text or "").strip()
    if not text:
        return None, None
    match = _TAG.match(text)
    if match is None:
        return text, None
    return match["name"].strip() or None, match["tag"].lower()


def slugify(text: str) -> str:
    """Make a lower-case ASCII slug of letters, digits and dashes (the catalog's site ids).

    Examples
    --------
    >>> slugify("OpenAI-Oracle Stargate Abilene Texas")
    'openai-oracle-stargate-abilene-texas'
    """
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")


def _number(text: str | None) -> float | None:
    text = (text or "").strip()
    return float(text) if text else None


def cooling_from_water(
    water_mgd: float | None, power_mw: float | None
) -> tuple[str | None, float | None]:
    """Classify cooling from water use per MW of facility power.

    Parameters
    ----------
    water_mgd
        Water use in million US gallons per day.
    power_mw
        Facility power in MW.

    Returns
    -------
    tuple of (str or None, float or None)
        ``"evaporative"`` (ratio > 0.5), ``"dry"`` (< 0.1) or ``"hybrid"``, and the ratio of
        the water use to the 9,393 US gal/day per MW that evaporating all heat takes; both
        ``None`` without water data or power.

    Examples
    --------
    >>> cooling_from_water(5.56, 543)[0], cooling_from_water(0.0077, 555)[0]
    ('evaporative', 'dry')
    """
    if water_mgd is None or power_mw is None or not power_mw > 0:
        return None, None
    ratio = water_mgd * 1e6 / power_mw / LATENT_WATER_GAL_PER_DAY_PER_MW
    if ratio > EVAPORATIVE_MIN_RATIO:
        return "evaporative", ratio
    return ("dry" if ratio < DRY_MAX_RATIO else "hybrid"), ratio


# Building ---------------------------------------------------------------------------------------


def _read_csv(path: Path, required: Sequence[str]) -> list[dict[str, str]]:
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            reader = csv.DictReader(fh)
            rows = list(reader)
            fields = reader.fieldnames or []
    except OSError as exc:
        raise SiteError(f"cannot read {path}: {exc.strerror or exc}") from exc
    missing = [c for c in required if c not in fields]
    if missing:
        raise SiteError(
            f"{path} lacks the column(s) {missing}; pass the folder of Epoch's November 2025 "
            "data center release"
        )
    return rows


def _timeline_entry(row: dict[str, str]) -> dict[str, Any]:
    entry: dict[str, Any] = {"date": row["Date"].strip(), "status": row["Construction status"]}
    for key in TIMELINE_COLUMNS[2:]:
        entry[key] = _number(row.get(_TIMELINE_SOURCE[key]))
    if entry["h100e"] is not None:
        entry["h100e"] = round(entry["h100e"], 1)
    if entry["buildings_operational"] is not None:
        entry["buildings_operational"] = int(entry["buildings_operational"])
    return entry


def _footprint_radius(
    timeline: list[dict[str, Any]], default_radius_m: float, use_site_area: bool
) -> tuple[float, str]:
    known = [e for e in timeline if e["site_area_sqft"]] if use_site_area else []
    if not known:
        return default_radius_m, f"default radius {default_radius_m:g} m (no site area known)"
    latest = known[-1]
    radius = float(round(math.sqrt(latest["site_area_sqft"] * SQFT_TO_M2 / math.pi)))
    basis = (
        f"circle of the site area {latest['site_area_sqft']:,.0f} sq ft on {latest['date']} "
        f"({TIMELINE_FILE}, 'Site area (square feet)')"
    )
    return radius, basis


def _cooling(timeline: list[dict[str, Any]]) -> tuple[str | None, float | None, str]:
    rows = [e for e in timeline if e["water_mgd"] is not None and (e["power_mw"] or 0) > 0]
    if not rows:
        return None, None, f"unknown: no water use with non-zero power in {TIMELINE_FILE}"
    row = rows[-1]
    cooling, ratio = cooling_from_water(row["water_mgd"], row["power_mw"])
    if ratio is None:  # pragma: no cover - rows were filtered on water and power above
        return None, None, f"unknown: no usable water use in {TIMELINE_FILE}"
    text = (
        f"{cooling}: water use {row['water_mgd']:g} MGD at {row['power_mw']:g} MW on "
        f"{row['date']} ({TIMELINE_FILE}, 'Water use (MGD)' and 'Power (MW)') is {ratio:.3f} "
        f"of the {LATENT_WATER_GAL_PER_DAY_PER_MW:,.0f} US gal/day per MW that evaporating all "
        f"heat takes (> {EVAPORATIVE_MIN_RATIO} evaporative, < {DRY_MAX_RATIO} dry, else hybrid)"
    )
    near = [t for t in (EVAPORATIVE_MIN_RATIO, DRY_MAX_RATIO) if abs(ratio / t - 1) < 0.1]
    if near:
        text += f"; within 10% of the {near[0]} threshold, so uncertain"
    return cooling, round(ratio, 4), text


def _accelerator(handle: str) -> tuple[str | None, str]:
    """Return a campus's accelerator mix as text (``"gb200"``, ``"h100:150000, ..."``) and why.

    The chips come from the latest ``epoch_checks`` row of the campus in
    ``models/data/energy.yaml`` (Epoch's own row notes for Colossus 1; derived from Epoch's
    H100e for the GB200 and Trainium2 campuses, as that file says). Other campuses: unknown,
    and the scan assumes ``power.assumed_accelerator``.
    """
    from models.energy_data import load_facts
    from models.energy_types import ClusterSpec

    checks = load_facts().epoch_checks
    rows = sorted((r for r in checks.rows if r.campus == handle), key=lambda r: r.date)
    if not rows:
        return None, ("unknown: no chips for this campus in models/data/energy.yaml "
                      "(epoch_checks); the scan assumes power.assumed_accelerator")
    row = rows[-1]
    label = ClusterSpec(row.chips).label
    return label, (f"{label}: chips on {row.date} in models/data/energy.yaml epoch_checks "
                   f"(from {checks.file}, {row.power_mw:g} MW, {row.h100e:,.0f} H100e)")


def _sources() -> dict[str, Any]:
    def col(file: str, column: str | list[str], note: str | None = None) -> dict[str, Any]:
        out: dict[str, Any] = {"file": file, "column": column}
        return {**out, "note": note} if note else out

    return {
        "site_id": col(CAMPUS_FILE, "Handle", "slug"),
        "name": col(CAMPUS_FILE, "Title"),
        "operator": col(CAMPUS_FILE, "Owner", "name before the #tag"),
        "operator_confidence": col(CAMPUS_FILE, "Owner", "#tag"),
        "users": col(CAMPUS_FILE, "Users"),
        "project": col(CAMPUS_FILE, "Project"),
        "address": col(CAMPUS_FILE, "Address"),
        "lat": col(CAMPUS_FILE, "Latitude", "degrees-minutes-seconds"),
        "lon": col(CAMPUS_FILE, "Longitude", "degrees-minutes-seconds"),
        "lat_dms": col(CAMPUS_FILE, "Latitude"),
        "lon_dms": col(CAMPUS_FILE, "Longitude"),
        "reported_power_mw": col(CAMPUS_FILE, "Current power (MW)"),
        "h100e": col(CAMPUS_FILE, "Current H100 equivalents"),
        "timeline": col(TIMELINE_FILE, list(_TIMELINE_SOURCE.values()), "rows of this Handle"),
        "cooling": col(TIMELINE_FILE, ["Water use (MGD)", "Power (MW)"], "see cooling_source"),
        "accelerator": col("models/data/energy.yaml", "epoch_checks.chips",
                           "latest row of the campus; see accelerator_source"),
        "geometry": col(
            TIMELINE_FILE, "Site area (square feet)", "circle around lat/lon; see footprint_*"
        ),
    }


def _campus_feature(
    row: dict[str, str],
    timeline: list[dict[str, Any]],
    default_radius_m: float,
    use_site_area: bool,
) -> dict[str, Any]:
    lat, lon = parse_dms(row["Latitude"]), parse_dms(row["Longitude"])
    operator, operator_conf = split_tag(row["Owner"])
    project, project_conf = split_tag(row["Project"])
    users = [split_tag(u) for u in (row["Users"] or "").split(",") if u.strip()]
    radius, basis = _footprint_radius(timeline, default_radius_m, use_site_area)
    cooling, ratio, cooling_source = _cooling(timeline)
    accelerator, accelerator_source = _accelerator(row["Handle"])
    h100e = _number(row["Current H100 equivalents"])
    props = {
        "site_id": slugify(row["Handle"]),
        "name": row["Title"].strip(),
        "operator": operator,
        "operator_confidence": operator_conf,
        "reported_power_mw": _number(row["Current power (MW)"]),
        "h100e": None if h100e is None else round(h100e, 1),
        "cooling": cooling,
        "cooling_source": cooling_source,
        "water_ratio": ratio,
        "accelerator": accelerator,
        "accelerator_source": accelerator_source,
        "users": [{"name": n, "confidence": c} for n, c in users],
        "project": project,
        "project_confidence": project_conf,
        "address": row["Address"].strip() or None,
        "lat": round(lat, COORD_DECIMALS),
        "lon": round(lon, COORD_DECIMALS),
        "lat_dms": row["Latitude"].strip(),
        "lon_dms": row["Longitude"].strip(),
        "epoch_handle": row["Handle"],
        "footprint_source": "buffer_from_point",
        "footprint_radius_m": radius,
        "footprint_radius_basis": basis,
        "timeline": timeline,
        "sources": _sources(),
    }
    footprint = buffer_lonlat(lon, lat, radius)
    return {
        "type": "Feature",
        "properties": props,
        "geometry": geojson_geometry(footprint, decimals=COORD_DECIMALS),
    }


def build_catalog(
    epoch_dir: str | Path,
    *,
    default_radius_m: float = DEFAULT_RADIUS_M,
    use_site_area: bool = True,
) -> dict[str, Any]:
    """Build the campus catalog (a GeoJSON FeatureCollection) from Epoch's CSV files.

    Parameters
    ----------
    epoch_dir
        Folder holding ``data_centers.csv`` and ``data_center_timelines.csv``.
    default_radius_m
        Footprint radius for campuses without a known site area.
    use_site_area
        Size the footprint from the latest known site area when there is one.

    Returns
    -------
    dict
        The FeatureCollection, with Epoch's attribution and license as foreign members.

    Raises
    ------
    SiteError
        If a file or column is missing, a coordinate cannot be parsed, or the timeline names
        a campus that is not in ``data_centers.csv``.
    """
    epoch_dir = Path(epoch_dir)
    campuses = _read_csv(epoch_dir / CAMPUS_FILE, _CAMPUS_COLUMNS)
    timeline_rows = _read_csv(
        epoch_dir / TIMELINE_FILE, ("Data center", *_TIMELINE_SOURCE.values())
    )
    handles = {row["Handle"] for row in campuses}
    unknown = sorted({r["Data center"] for r in timeline_rows} - handles)
    if unknown:
        raise SiteError(f"{TIMELINE_FILE} names campuses missing from {CAMPUS_FILE}: {unknown}")
    features = []
    for row in campuses:
        entries = [_timeline_entry(r) for r in timeline_rows if r["Data center"] == row["Handle"]]
        entries.sort(key=lambda e: e["date"])
        try:
            features.append(_campus_feature(row, entries, default_radius_m, use_site_area))
        except SiteError as exc:
            raise SiteError(f"{CAMPUS_FILE}, campus {row['Handle']!r}: {exc}") from exc
    ids = [f["properties"]["site_id"] for f in features]
    if len(set(ids)) != len(ids):
        raise SiteError(f"two Handles in {CAMPUS_FILE} give the same site id: {sorted(ids)}")
    return {
        "type": "FeatureCollection",
        "name": "epoch_campuses",
        "attribution": EPOCH_CREDIT,
        "license": EPOCH_LICENSE,
        "source": {
            "dataset": "Epoch AI, Data on Frontier AI Data Centers (November 2025 release)",
            "url": "https://epoch.ai/data/data-centers",
            "files": [CAMPUS_FILE, TIMELINE_FILE],
        },
        "generated_by": "python -m aoi.catalog build (do not edit by hand)",
        "features": features,
    }


def dumps_catalog(collection: dict[str, Any]) -> str:
    """Serialise the catalog deterministically: indented, one line per geometry and timeline row.

    Examples
    --------
    >>> dumps_catalog({"type": "FeatureCollection", "features": []}).splitlines()[1]
    ' "type": "FeatureCollection",'
    """
    compact: dict[str, str] = {}

    def mark(value: Any) -> str:
        key = f"@@compact{len(compact)}@@"
        compact[key] = json.dumps(value, ensure_ascii=False, allow_nan=False)
        return key

    features = []
    for feat in collection["features"]:
        props = dict(feat["properties"])
        props["timeline"] = [mark(e) for e in props.get("timeline", [])]
        props["users"] = mark(props.get("users", []))
        props["sources"] = {k: mark(v) for k, v in props.get("sources", {}).items()}
        features.append({**feat, "properties": props, "geometry": mark(feat["geometry"])})
    text = json.dumps(
        {**collection, "features": features}, ensure_ascii=False, indent=1, allow_nan=False
    )
    for key, value in compact.items():
        text = text.replace(f'"{key}"', value)
    return text + "\n"
