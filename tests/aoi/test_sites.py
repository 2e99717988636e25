"""Site files: every validation case on tiny files written into tmp_path."""

from __future__ import annotations

import json
import math
from pathlib import Path

import geopandas as gpd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from shapely.geometry import MultiPolygon, Point, Polygon, box

from aoi.sites import (
    merge_sites,
    read_sites,
    safe_name,
    select_site,
    site_from_point,
    sites_from_frame,
    update_site_file,
    write_sites,
)
from aoi.utm import area_km2, site_utm_crs, split_antimeridian, to_utm, utm_crs_for
from pipeline.core.errors import OutputError, SiteError

# A 1 km x 1.1 km box near Memphis, counter-clockwise, lon/lat.
RING = [[-90.16, 35.06], [-90.15, 35.06], [-90.15, 35.07], [-90.16, 35.07], [-90.16, 35.06]]


def feature(site_id: str | None, coords: object, kind: str = "Polygon", **props: object) -> dict:
    properties = dict(props)
    if site_id is not None:
        properties["site_id"] = site_id
    return {
        "type": "Feature",
        "properties": properties,
        "geometry": {"type": kind, "coordinates": coords},
    }


def write_fc(tmp_path: Path, features: list[dict], name: str = "sites.geojson") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps({"type": "FeatureCollection", "features": features}))
    return path


# GeoJSON ----------------------------------------------------------------------------------------


def test_valid_geojson_keeps_attributes(tmp_path: Path) -> None:
    path = write_fc(
        tmp_path,
        [
            feature(
                "a",
                [RING],
                name="A",
                operator="Op",
                reported_power_mw=120,
                cooling="Dry",
                extra={"k": [1, 2]},
            ),
            feature("b", [[[x + 0.1, y] for x, y in RING]]),
        ],
    )
    sites = read_sites(path)
    assert list(sites.columns[:5]) == [
        "site_id",
        "name",
        "operator",
        "reported_power_mw",
        "cooling",
    ]
    assert sites.crs.to_epsg() == 4326
    a, b = sites.iloc[0], sites.iloc[1]
    assert (a["name"], a["operator"], a["reported_power_mw"], a["cooling"]) == (
        "A",
        "Op",
        120.0,
        "dry",
    )
    assert json.loads(a["extra"]) == {"k": [1, 2]}
    assert b["name"] == "b" and b["operator"] is None and b["cooling"] is None
    assert math.isnan(b["reported_power_mw"])
    assert 0.9 < area_km2(a.geometry) < 1.1


def test_unclosed_ring(tmp_path: Path) -> None:
    path = write_fc(tmp_path, [feature("ok", [RING]), feature("open", [RING[:-1]])])
    with pytest.raises(
        SiteError, match=r"feature 1 \(site_id 'open'\).*not closed.*repeat the first"
    ):
        read_sites(path)


def test_coordinates_must_be_numbers(tmp_path: Path) -> None:
    ring = [[str(x), y] for x, y in RING]
    with pytest.raises(SiteError, match="not a finite number"):
        read_sites(write_fc(tmp_path, [feature("s", [ring])]))


def test_self_intersection_suggests_make_valid(tmp_path: Path) -> None:
    bowtie = [[-90.16, 35.06], [-90.15, 35.07], [-90.15, 35.06], [-90.16, 35.07], [-90.16, 35.06]]
    with pytest.raises(SiteError, match=r"Self-intersection.*shapely\.make_valid"):
        read_sites(write_fc(tmp_path, [feature("bow", [bowtie])]))


def test_swapped_lat_lon_hint(tmp_path: Path) -> None:
    # A site in Oklahoma (lon -95.16, lat 35.06) written as [lat, lon]: latitude -95.16.
    swapped = [[y, x - 5.0] for x, y in RING]
    with pytest.raises(SiteError, match="coordinates look like lat/lon; GeoJSON is lon/lat"):
        read_sites(write_fc(tmp_path, [feature("swap", [swapped])]))


def test_longitude_out_of_range_0_360_hint(tmp_path: Path) -> None:
    ring = [[x + 360.0, y] for x, y in RING]
    with pytest.raises(SiteError, match=r"out of range.*0\.\.360"):
        read_sites(write_fc(tmp_path, [feature("east", [ring])]))


def test_antimeridian_polygon_is_split(tmp_path: Path) -> None:
    # A 0.02 deg x 0.01 deg box across 180 written with plain longitudes (span 359.98 deg).
    wrapped = [
        [179.99, -16.0],
        [-179.99, -16.0],
        [-179.99, -15.99],
        [179.99, -15.99],
        [179.99, -16.0],
    ]
    sites = read_sites(write_fc(tmp_path, [feature("fiji", [wrapped])]))
    geom = sites.geometry.iloc[0]
    assert isinstance(geom, MultiPolygon) and len(geom.geoms) == 2
    assert all(p.bounds[2] - p.bounds[0] < 0.02 for p in geom.geoms)
    assert sorted(round(p.bounds[0], 2) for p in geom.geoms) == [-180.0, 179.99]
    # ~2.14 km x 1.11 km, not the area of a band round the globe.
    assert 2.2 < area_km2(geom) < 2.5
    assert site_utm_crs(geom).to_epsg() in (32601, 32660)


def test_split_multipolygon_is_kept() -> None:
    parts = MultiPolygon([box(179.99, -16.0, 180.0, -15.99), box(-180.0, -16.0, -179.99, -15.99)])
    assert split_antimeridian(parts) is parts


def test_point_feature_rejected_unless_buffered(tmp_path: Path) -> None:
    path = write_fc(tmp_path, [feature("pt", [-90.16, 35.06], kind="Point")])
    with pytest.raises(SiteError, match=r"is a Point.*buffer_points=True"):
        read_sites(path)
    site = read_sites(path, buffer_points=True, default_buffer_m=500).iloc[0]
    assert site["footprint_source"] == "buffer_from_point"
    assert area_km2(site.geometry) == pytest.approx(math.pi * 0.25, rel=0.01)


def test_linestring_rejected(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="is a LineString"):
        read_sites(write_fc(tmp_path, [feature("l", RING[:2], kind="LineString")]))


def test_duplicate_ids(tmp_path: Path) -> None:
    path = write_fc(
        tmp_path, [feature("dup", [RING]), feature("x", [RING]), feature("dup", [RING])]
    )
    with pytest.raises(SiteError, match=r"'dup' is used by both feature 0 and feature 2"):
        read_sites(path)


@pytest.mark.parametrize("site_id", [None, "", "   "])
def test_missing_id(tmp_path: Path, site_id: str | None) -> None:
    with pytest.raises(SiteError, match=r"feature 0 has no site_id; give"):
        read_sites(write_fc(tmp_path, [feature(site_id, [RING])]))


def test_empty_file_and_empty_collection(tmp_path: Path) -> None:
    empty = tmp_path / "empty.geojson"
    empty.write_text("")
    with pytest.raises(SiteError, match="is empty"):
        read_sites(empty)
    with pytest.raises(SiteError, match="holds no sites"):
        read_sites(write_fc(tmp_path, []))


def test_invalid_json(tmp_path: Path) -> None:
    path = tmp_path / "bad.geojson"
    path.write_text('{"type": "FeatureCollection", "features": [}')
    with pytest.raises(SiteError, match=r"not valid JSON \(line 1"):
        read_sites(path)


def test_declared_projected_crs_rejected(tmp_path: Path) -> None:
    path = tmp_path / "crs.geojson"
    fc = {
        "type": "FeatureCollection",
        "crs": {"type": "name", "properties": {"name": "urn:ogc:def:crs:EPSG::3857"}},
        "features": [feature("a", [RING])],
    }
    path.write_text(json.dumps(fc))
    with pytest.raises(SiteError, match=r"EPSG::3857.*lon/lat"):
        read_sites(path)


def test_too_large(tmp_path: Path) -> None:
    big = [[-90.5, 35.0], [-90.0, 35.0], [-90.0, 35.5], [-90.5, 35.5], [-90.5, 35.0]]  # ~2,500 km²
    path = write_fc(tmp_path, [feature("big", [big])])
    with pytest.raises(SiteError, match=r"covers \d+\.\d km², more than the limit of 100 km²"):
        read_sites(path)
    assert len(read_sites(path, max_area_km2=5000)) == 1


def test_site_id_must_be_text(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="not text"):
        read_sites(write_fc(tmp_path, [feature([1], [RING])]))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [({"cooling": "liquid"}, "cooling 'liquid'"), ({"reported_power_mw": -5}, "non-negative")],
)
def test_bad_attributes(tmp_path: Path, value: dict, message: str) -> None:
    with pytest.raises(SiteError, match=message):
        read_sites(write_fc(tmp_path, [feature("a", [RING], **value)]))


def test_directory_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(SiteError, match="is a folder"):
        read_sites(tmp_path)
    with pytest.raises(SiteError, match="does not exist"):
        read_sites(tmp_path / "nope.geojson")


# CSV --------------------------------------------------------------------------------------------


def test_csv_points_are_buffered_in_utm(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text(
        "site_id,name,Latitude,Longitude,reported_power_mw,radius_m\n"
        "colossus-1, xAI Colossus 1, 35.0597,-90.1564,498,\n"
        "sydney,Sydney,-33.9,151.2,,250\n"
    )
    sites = read_sites(path, default_buffer_m=800)
    c1, syd = sites.iloc[0], sites.iloc[1]
    assert c1["name"] == "xAI Colossus 1" and c1["reported_power_mw"] == 498.0
    assert area_km2(c1.geometry) == pytest.approx(math.pi * 0.8**2, rel=0.01)
    assert area_km2(syd.geometry) == pytest.approx(math.pi * 0.25**2, rel=0.01)
    assert c1.geometry.centroid.distance(Point(-90.1564, 35.0597)) < 1e-5
    assert (c1["footprint_radius_m"], syd["footprint_radius_m"]) == (800.0, 250.0)


def test_csv_swapped_columns(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    # Oklahoma (lat 35.06, lon -95.16) with the two values exchanged.
    path.write_text("site_id,lat,lon\nok,35.0,-90.0\nswap,-95.1564,35.0597\n")
    with pytest.raises(
        SiteError, match=r"line 3 \(site_id 'swap'\).*lat and lon columns look swapped"
    ):
        read_sites(path)


def test_csv_needs_lat_lon_and_numbers(tmp_path: Path) -> None:
    path = tmp_path / "sites.csv"
    path.write_text("site_id,x,y\na,1,2\n")
    with pytest.raises(SiteError, match="no latitude/longitude columns"):
        read_sites(path)
    path.write_text("site_id,lat,lon\na,north,2\n")
    with pytest.raises(SiteError, match=r"line 2: latitude 'north' is not a number"):
        read_sites(path)
    path.write_text("site_id,lat,lon\n")
    with pytest.raises(SiteError, match="holds no sites"):
        read_sites(path)


# GeoPackage and GeoDataFrames -------------------------------------------------------------------


def test_gpkg_in_another_crs_is_reprojected(tmp_path: Path) -> None:
    poly = Polygon(RING)
    gdf = gpd.GeoDataFrame(
        {"site_id": ["memphis"], "reported_power_mw": [10.0]}, geometry=[poly], crs=4326
    )
    path = tmp_path / "sites.gpkg"
    gdf.to_crs(32615).to_file(path, layer="sites")
    sites = read_sites(path)
    assert sites.crs.to_epsg() == 4326
    assert sites.geometry.iloc[0].symmetric_difference(poly).area < 1e-9
    assert sites.loc[0, "reported_power_mw"] == 10.0


def test_gpkg_with_several_layers_needs_a_layer(tmp_path: Path) -> None:
    path = tmp_path / "two.gpkg"
    gdf = gpd.GeoDataFrame({"site_id": ["a"]}, geometry=[Polygon(RING)], crs=4326)
    gdf.to_file(path, layer="one")
    gdf.to_file(path, layer="two")
    with pytest.raises(SiteError, match="2 layers"):
        read_sites(path)
    assert read_sites(path, layer="two").loc[0, "site_id"] == "a"


def test_frame_needs_crs_and_is_reprojected() -> None:
    gdf = gpd.GeoDataFrame({"site_id": ["a"]}, geometry=[Polygon(RING)])
    with pytest.raises(SiteError, match="has no CRS"):
        sites_from_frame(gdf)
    projected = gdf.set_crs(4326).to_crs(3857)
    assert sites_from_frame(projected).crs.to_epsg() == 4326


# Writing, merging -------------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", [".geojson", ".gpkg"])
def test_write_round_trip_is_atomic(tmp_path: Path, suffix: str) -> None:
    sites = merge_sites(site_from_point("a", -90.16, 35.06), site_from_point("b", 151.2, -33.9))
    sites["timeline"] = [json.dumps([{"date": "2025-01-01", "power_mw": 1.0}]), None]
    out = tmp_path / f"mine{suffix}"
    out.write_text("old content")
    write_sites(sites, out)
    back = read_sites(out)
    assert list(back["site_id"]) == ["a", "b"]
    assert json.loads(back.loc[0, "timeline"]) == [{"date": "2025-01-01", "power_mw": 1.0}]
    assert [p.name for p in tmp_path.iterdir()] == [out.name]  # no temporary files left
    if suffix == ".geojson":  # nested JSON written as structures, exteriors counter-clockwise
        props = json.loads(out.read_text())["features"][0]["properties"]
        assert props["timeline"][0]["power_mw"] == 1.0


def test_write_errors(tmp_path: Path) -> None:
    site = site_from_point("a", 10.0, 50.0)
    # a missing folder is created, as for every other Heatwatch output
    written = write_sites(site, tmp_path / "new" / "x.geojson")
    assert read_sites(written)["site_id"].tolist() == ["a"]
    (tmp_path / "taken.geojson").mkdir()
    with pytest.raises(OutputError, match="is a folder"):
        write_sites(site, tmp_path / "taken.geojson")
    with pytest.raises(OutputError, match=r"\.geojson or \.gpkg"):
        write_sites(site, tmp_path / "x.shp")


def test_merge_and_update(tmp_path: Path) -> None:
    a, a2 = site_from_point("a", 10.0, 50.0), site_from_point("a", 11.0, 50.0, name="moved")
    with pytest.raises(SiteError, match=r"already in the catalog: 'a'.*--replace"):
        merge_sites(a, a2)
    assert merge_sites(a, a2, replace=True).loc[0, "name"] == "moved"
    out = tmp_path / "cat.geojson"
    update_site_file(out, a)
    assert list(update_site_file(out, site_from_point("b", 12.0, 50.0))["site_id"]) == ["a", "b"]
    with pytest.raises(SiteError, match="no site with id 'c'"):
        select_site(read_sites(out), "c")


# UTM --------------------------------------------------------------------------------------------


def test_utm_north_zones_everywhere() -> None:
    assert utm_crs_for((-90.16, 35.06)).to_epsg() == 32615
    assert utm_crs_for(Point(151.2, -33.9)).to_epsg() == 32656  # north zone in the south
    projected, crs = to_utm(Point(151.2, -33.9))
    assert crs.to_epsg() == 32656 and projected.y < 0  # negative northing, as USGS Landsat
    assert utm_crs_for((180.0, 0.0)).to_epsg() == 32660  # zone 60, as core.grid
    with pytest.raises(SiteError, match="latitude"):
        utm_crs_for((10.0, 95.0))


# safe_name --------------------------------------------------------------------------------------

TRAVERSALS = [
    "../../etc/passwd",
    "..\\..\\windows\\system32",
    "/etc/passwd",
    "a/../../b",
    "..",
    ".",
    ".hidden",
    "foo\x00.html",
    "C:\\Windows",
    "CON",
    "nul.txt",
    "",
    "-rf",
    "....//....//x",
]


@pytest.mark.parametrize("site_id", TRAVERSALS)
def test_safe_name_cannot_escape(tmp_path: Path, site_id: str) -> None:
    name = safe_name(site_id)
    assert name and "/" not in name and "\\" not in name and "\x00" not in name
    assert ".." not in name and not name.startswith((".", "-"))
    target = tmp_path / name
    target.write_text("x")
    assert target.resolve().parent == tmp_path.resolve()


def test_safe_name_readable_and_unique() -> None:
    assert safe_name("xai-colossus-1") == "xai-colossus-1"
    assert safe_name("Site A").startswith("site-a_")
    variants = ["Site A", "site a", "site-a", "SITE-A", "site_a", "site/a"]
    assert len({safe_name(v) for v in variants}) == len(variants)


@settings(max_examples=150, deadline=None)
@given(st.text(max_size=80))
def test_safe_name_invariants(site_id: str) -> None:
    name = safe_name(site_id)
    assert 0 < len(name) <= 64 + 11
    assert set(name) <= set("abcdefghijklmnopqrstuvwxyz0123456789.-_")
    assert ".." not in name and not name.startswith((".", "-"))
    assert safe_name(site_id) == name


def test_accelerator_is_validated_and_normalised(tmp_path: Path) -> None:
    # issue 19, point 8: a site's chips, as a name or name:count pairs
    path = write_fc(tmp_path, [feature("a", [RING], accelerator="GB200"),
                               feature("b", [RING], accelerator="h200:50000, H100:150000"),
                               feature("c", [RING], accelerator=""),
                               feature("d", [RING])])
    sites = read_sites(path).set_index("site_id")
    assert sites.loc["a", "accelerator"] == "gb200"
    assert sites.loc["b", "accelerator"] == "h100:150000, h200:50000"
    assert sites.loc["c", "accelerator"] is None and sites.loc["d", "accelerator"] is None
    bad = write_fc(tmp_path, [feature("x", [RING], accelerator="h1000")], "bad.geojson")
    with pytest.raises(SiteError, match=r"site_id 'x'.*accelerator 'h1000'.*unknown accelerator"):
        read_sites(bad)


def test_overlapping_footprints_warn_at_load_with_shared_area(tmp_path, caplog) -> None:
    import logging

    from aoi.sites import footprint_overlaps, read_sites

    # two 1 km circles 1 km apart: the lens they share is (2*pi/3 - sqrt(3)/2) km2
    # (circle-circle intersection with d = r), 1.228 km2
    csv = tmp_path / "sites.csv"
    csv.write_text("site_id,lat,lon,radius_m\n"
                   "east,40.0,-82.0,1000\nwest,40.0,-82.01174,1000\nfar,41.0,-82.0,1000\n")
    with caplog.at_level(logging.WARNING, logger="aoi.sites"):
        sites = read_sites(csv)
    pairs = footprint_overlaps(sites)
    assert [(a, b) for a, b, _ in pairs] == [("east", "west")]
    expected = 2 * math.pi / 3 - math.sqrt(3) / 2
    assert pairs[0][2] == pytest.approx(expected, rel=0.03)
    msg = " ".join(r.getMessage() for r in caplog.records)
    assert "'east'" in msg and "'west'" in msg and f"{pairs[0][2]:.2f} km2" in msg
