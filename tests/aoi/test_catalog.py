"""The Epoch campus catalog: shipped file, builder, DMS parsing, cooling classes."""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest
import yaml
from shapely.geometry import Point

from aoi import catalog as cat
from aoi import epoch
from aoi.catalog import (
    EPOCH_CREDIT,
    build_catalog,
    catalog_timeline,
    cooling_from_water,
    dumps_catalog,
    load_catalog,
    parse_dms,
    shipped_catalog_text,
    split_tag,
)
from aoi.utm import area_km2
from pipeline.core.errors import SiteError

SHARED = Path(__file__).resolve().parents[3] / "shared" / "data"
EPOCH_DIR = Path(os.environ.get("HEATWATCH_EPOCH_DIR", SHARED / "epoch-frontier-datacenters"))
COLOSSUS_1 = "xai-colossus-1-memphis-tennessee"


def epoch_dir() -> Path:
    if not (EPOCH_DIR / "data_centers.csv").is_file():
        pytest.skip(f"Epoch CSVs not found at {EPOCH_DIR} (set HEATWATCH_EPOCH_DIR)")
    return EPOCH_DIR


def dms_by_hand(text: str) -> float:
    """Independent DMS parser: split on the symbols, no regular expression."""
    text = text.strip()
    hemi, body = text[-1], text[:-1]
    deg, rest = body.split("°")
    minutes, rest = rest.split("'")
    seconds = rest.rstrip('"')
    value = float(deg) + float(minutes) / 60 + float(seconds) / 3600
    return -value if hemi in "SW" else value


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    return load_catalog()


def test_all_17_campuses_with_valid_footprints(catalog) -> None:  # type: ignore[no-untyped-def]
    assert len(catalog) == 17 and catalog["site_id"].is_unique
    assert catalog.crs.to_epsg() == 4326
    for site in catalog.itertuples():
        assert site.geometry.is_valid and site.geometry.geom_type == "Polygon"
        assert site.geometry.contains(Point(site.lon, site.lat))
        assert site.footprint_source == "buffer_from_point"
        expected = 3.14159 * (site.footprint_radius_m / 1000) ** 2
        assert area_km2(site.geometry) == pytest.approx(expected, rel=0.01)
        # Plausible: the 17 campuses are in the US, the UAE and China (northern hemisphere).
        assert 20 < site.lat < 50 and -110 < site.lon < 120


def test_coordinates_match_dms_strings(catalog) -> None:  # type: ignore[no-untyped-def]
    for site in catalog.itertuples():
        assert site.lat == pytest.approx(dms_by_hand(site.lat_dms), abs=1e-6)
        assert site.lon == pytest.approx(dms_by_hand(site.lon_dms), abs=1e-6)
    colossus = catalog.set_index("site_id").loc[COLOSSUS_1]
    assert colossus["lat"] == pytest.approx(35.06, abs=0.01)
    assert colossus["lon"] == pytest.approx(-90.16, abs=0.01)


def test_coordinates_match_epoch_csv(catalog) -> None:  # type: ignore[no-untyped-def]
    with open(epoch_dir() / "data_centers.csv", encoding="utf-8", newline="") as fh:
        rows = {r["Handle"]: r for r in csv.DictReader(fh)}
    assert set(rows) == set(catalog["epoch_handle"])
    for site in catalog.itertuples():
        row = rows[site.epoch_handle]
        assert site.lat == pytest.approx(dms_by_hand(row["Latitude"]), abs=1e-6)
        assert site.lon == pytest.approx(dms_by_hand(row["Longitude"]), abs=1e-6)
        assert site.reported_power_mw == float(row["Current power (MW)"])


def test_cooling_classes_on_known_rows(catalog) -> None:  # type: ignore[no-untyped-def]
    by_id = catalog.set_index("site_id")
    wisconsin = by_id.loc["microsoft-fairwater-mount-pleasant-wisconsin"]
    assert wisconsin["cooling"] == "dry" and wisconsin["water_ratio"] < 0.01
    albany = by_id.loc["google-new-albany-ohio"]
    assert albany["cooling"] == "evaporative"
    assert albany["water_ratio"] == pytest.approx(1.09, abs=0.01)
    assert "Water use (MGD)" in albany["cooling_source"]
    assert by_id.loc[COLOSSUS_1, "cooling"] is None  # no water data
    assert by_id.loc[COLOSSUS_1, "cooling_source"].startswith("unknown")


def test_latent_water_constant_matches_energy_facts() -> None:
    facts_path = SHARED / "energy_facts.yaml"
    if not facts_path.is_file():
        pytest.skip(f"{facts_path} not found")
    facts = yaml.safe_load(facts_path.read_text(encoding="utf-8"))
    found = []

    def walk(node: object) -> None:
        if isinstance(node, dict):
            if "latent_water_per_mw" in node:
                found.append(node["latent_water_per_mw"]["us_gal_per_day"])
            for value in node.values():
                walk(value)

    walk(facts)
    assert found == [cat.LATENT_WATER_GAL_PER_DAY_PER_MW]


def test_cooling_thresholds() -> None:
    per_mw = cat.LATENT_WATER_GAL_PER_DAY_PER_MW / 1e6  # MGD that evaporates 1 MW
    assert cooling_from_water(0.6 * per_mw * 100, 100)[0] == "evaporative"
    assert cooling_from_water(0.3 * per_mw * 100, 100)[0] == "hybrid"
    assert cooling_from_water(0.05 * per_mw * 100, 100)[0] == "dry"
    assert cooling_from_water(None, 100) == (None, None)
    assert cooling_from_water(1.0, 0.0) == (None, None)


def test_timeline_and_attribution(catalog) -> None:  # type: ignore[no-untyped-def]
    tl = catalog_timeline(COLOSSUS_1, catalog)
    assert list(tl.columns) == list(cat.TIMELINE_COLUMNS)
    assert tl["date"].is_monotonic_increasing
    assert tl["power_mw"].iloc[-1] == 498.0 and tl["date"].iloc[-1].year == 2025
    with pytest.raises(SiteError, match="did you mean"):
        catalog_timeline("colossus", catalog)
    assert json.loads(shipped_catalog_text())["attribution"] == EPOCH_CREDIT
    assert EPOCH_CREDIT in (cat.__doc__ or "")
    assert json.loads(catalog.iloc[0]["sources"])["name"] == {
        "file": "data_centers.csv",
        "column": "Title",
    }


def test_builder_reproduces_shipped_file(tmp_path: Path) -> None:
    out = tmp_path / "epoch_campuses.geojson"
    code = cat.main(["build", "--epoch-dir", str(epoch_dir()), "--out", str(out)])
    assert code == 0
    assert out.read_text(encoding="utf-8") == shipped_catalog_text()


def test_parse_dms_and_tags() -> None:
    assert parse_dms(" 101°18'43\"W") == pytest.approx(-(101 + 18 / 60 + 43 / 3600))
    assert parse_dms("41°11'6.6732\"N") == pytest.approx(41.185187, abs=1e-7)
    assert parse_dms("24°9'15\"S") == pytest.approx(-24.154167, abs=1e-6)
    for bad in ("32.5", "32°75'00\"N", "95°00'00\"N", "32°35'25\"X"):
        with pytest.raises(SiteError):
            parse_dms(bad)
    assert split_tag("OpenAI #likely") == ("OpenAI", "likely")
    assert split_tag(" Stargate ") == ("Stargate", None)


def write_epoch(folder: Path, timeline_handle: str = "Tiny Campus") -> Path:
    folder.mkdir()
    head = ",".join(epoch._CAMPUS_COLUMNS)
    (folder / "data_centers.csv").write_text(
        f"{head}\n"
        'Tiny Campus,Tiny,Proj #confident,"1 Road",'
        '"10°00\'00""N"," 20°00\'00""E",Op #speculative,"A #likely, B",100.4,12\n'
    )
    cols = ",".join(f'"{c}"' for c in ("Data center", *epoch._TIMELINE_SOURCE.values()))
    (folder / "data_center_timelines.csv").write_text(
        f"{cols}\n{timeline_handle},2025-01-01,Built,12,100.4,1,,4000000,0.5\n"
    )
    return folder


def test_builder_on_a_tiny_release(tmp_path: Path) -> None:
    fc = build_catalog(write_epoch(tmp_path / "epoch"))
    (feat,) = fc["features"]
    props = feat["properties"]
    assert props["site_id"] == "tiny-campus" and props["operator_confidence"] == "speculative"
    assert props["users"] == [
        {"name": "A", "confidence": "likely"},
        {"name": "B", "confidence": None},
    ]
    # 4,000,000 sq ft = 371,612 m2 -> radius 344 m; water 0.5 MGD / 12 MW = 4.4 x latent.
    assert props["footprint_radius_m"] == 344.0 and "Site area" in props["footprint_radius_basis"]
    assert props["cooling"] == "evaporative"
    path = tmp_path / "tiny.geojson"
    path.write_text(dumps_catalog(fc))
    assert load_catalog(path).loc[0, "h100e"] == 100.4
    flat = build_catalog(tmp_path / "epoch", use_site_area=False, default_radius_m=700)
    assert flat["features"][0]["properties"]["footprint_radius_m"] == 700


def test_builder_errors(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match=r"missing from data_centers\.csv"):
        build_catalog(write_epoch(tmp_path / "epoch", timeline_handle="Other"))
    assert cat.main(["build", "--epoch-dir", str(tmp_path / "none"), "--out", "x"]) == 2


def test_catalog_carries_the_chips_of_the_campuses_epoch_describes(catalog) -> None:  # type: ignore[no-untyped-def]
    # issue 19, point 8: Epoch lists GB200 at Abilene and Fairwater Atlanta, a mix at
    # Colossus 1 (its 2025-07-22 row: 150k H100, 50k H200, 30k GB200), Trainium2 at Rainier
    by_id = catalog.set_index("site_id")
    assert by_id.loc["openai-oracle-stargate-abilene-texas", "accelerator"] == "gb200"
    assert by_id.loc["microsoft-fairwater-fayetteville-georgia", "accelerator"] == "gb200"
    assert by_id.loc["xai-colossus-1-memphis-tennessee", "accelerator"] == \
        "gb200:30000, h100:150000, h200:50000"
    assert by_id.loc["anthropic-amazon-project-rainier-new-carlisle-indiana",
                     "accelerator"] == "trainium2"
    unknown = by_id.loc["meta-hyperion-holly-ridge-louisiana"]
    assert unknown["accelerator"] is None
    assert "power.assumed_accelerator" in unknown["accelerator_source"]
    assert "2025-09-26" in by_id.loc["openai-oracle-stargate-abilene-texas",
                                     "accelerator_source"]
