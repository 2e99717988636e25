"""MTL metadata: the three USGS formats, the values printed in the files, bad files, round trip."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pipeline.core.errors import MetadataError
from pipeline.io.mtl import read_mtl, read_mtl_groups, write_mtl
from tests.conftest import COLOMBIA, LAHAINA, shared_sample

COLOMBIA_PID = "LC08_L2SP_008059_20191201_20200825_02_T1"
LAHAINA_PID = "LC09_L1TP_063046_20230714_20230714_02_T1"


def _colombia_mtl(suffix: str) -> Path:
    return shared_sample(COLOMBIA) / f"{COLOMBIA_PID}_MTL.{suffix}"


@pytest.mark.parametrize("suffix", ["json", "xml"])
def test_three_formats_parse_to_the_same_metadata(suffix: str) -> None:
    txt = read_mtl(_colombia_mtl("txt"))
    other = read_mtl(_colombia_mtl(suffix))
    assert dataclasses.replace(other, path=None) == dataclasses.replace(txt, path=None)


def test_colombia_values_as_printed_in_the_file() -> None:
    meta = read_mtl(_colombia_mtl("txt"))
    assert meta.product_id == COLOMBIA_PID
    assert meta.spacecraft == "LANDSAT_8"
    assert meta.processing_level == "L2SP"
    assert meta.level == "L2"
    assert meta.sun_elevation == pytest.approx(57.08727307)
    assert meta.cloud_cover == pytest.approx(81.02)
    assert meta.utm_zone == 18
    assert (meta.wrs_path, meta.wrs_row) == (8, 59)
    assert meta.acquired == datetime(2019, 12, 1, 15, 13, 51, tzinfo=timezone.utc)
    assert (meta.ul_x, meta.ul_y) == (378300.0, 275700.0)
    assert (meta.lines, meta.samples, meta.cell_size) == (7741, 7591, 30.0)
    assert meta.calibration.st_mult == pytest.approx(0.00341802)
    assert meta.calibration.st_add == pytest.approx(149.0)
    assert meta.calibration.k1 is None


def test_lahaina_level1_constants_as_printed_in_the_file() -> None:
    meta = read_mtl(shared_sample(LAHAINA) / f"{LAHAINA_PID}_MTL.txt")
    assert meta.product_id == LAHAINA_PID
    assert meta.spacecraft == "LANDSAT_9"
    assert meta.level == "L1"
    assert meta.utm_zone == 5
    assert meta.sun_elevation == pytest.approx(66.18265267)
    cal = meta.calibration
    assert cal.radiance_mult == pytest.approx(3.8e-4)
    assert cal.radiance_add == pytest.approx(0.1)
    assert cal.k1 == pytest.approx(799.0284)
    assert cal.k2 == pytest.approx(1329.2405)
    assert cal.st_mult is None


def test_attrs_are_flat_and_netcdf_safe() -> None:
    attrs = read_mtl(_colombia_mtl("json")).attrs()
    assert attrs["acquisition_time"] == "2019-12-01T15:13:51+00:00"
    assert all(isinstance(v, str | int | float) for v in attrs.values())


def _copy(src: Path, dst_dir: Path, text: str | None = None) -> Path:
    dst = dst_dir / src.name
    dst.write_text(src.read_text(encoding="utf-8") if text is None else text, encoding="utf-8")
    return dst


def test_truncated_txt_is_a_metadata_error(tmp_path: Path) -> None:
    text = _colombia_mtl("txt").read_text(encoding="utf-8")
    mid_line = _copy(_colombia_mtl("txt"), tmp_path, text[: len(text) // 2])
    with pytest.raises(MetadataError, match="not a valid Landsat MTL"):
        read_mtl(mid_line)
    whole_lines = text[: text.index("\n", len(text) // 2) + 1]
    at_line_end = _copy(_colombia_mtl("txt"), tmp_path, whole_lines)
    with pytest.raises(MetadataError, match="never closed"):
        read_mtl(at_line_end)


def test_broken_json_is_a_metadata_error(tmp_path: Path) -> None:
    text = _colombia_mtl("json").read_text(encoding="utf-8")
    bad = _copy(_colombia_mtl("json"), tmp_path, text.replace("}", "", 3))
    with pytest.raises(MetadataError, match="not a valid Landsat MTL"):
        read_mtl(bad)


def test_xml_with_another_root_is_a_metadata_error(tmp_path: Path) -> None:
    text = _colombia_mtl("xml").read_text(encoding="utf-8")
    bad = _copy(_colombia_mtl("xml"), tmp_path,
                text.replace("LANDSAT_METADATA_FILE", "SENTINEL_METADATA"))
    with pytest.raises(MetadataError, match="root element"):
        read_mtl(bad)


GOOD_GROUPS = {
    "PRODUCT_CONTENTS": {"LANDSAT_PRODUCT_ID": "LC08_L2SP_012031_20240601_20240601_02_T1",
                         "PROCESSING_LEVEL": "L2SP"},
    "IMAGE_ATTRIBUTES": {"SPACECRAFT_ID": "LANDSAT_8", "WRS_PATH": "12", "WRS_ROW": "31",
                         "DATE_ACQUIRED": "2024-06-01", "SCENE_CENTER_TIME": "15:30:00.1234567Z",
                         "CLOUD_COVER": "12.50", "SUN_AZIMUTH": "140.0", "SUN_ELEVATION": "55.5"},
    "PROJECTION_ATTRIBUTES": {"UTM_ZONE": "18", "GRID_CELL_SIZE_THERMAL": "30.00",
                              "THERMAL_LINES": "64", "THERMAL_SAMPLES": "64",
                              "CORNER_UL_PROJECTION_X_PRODUCT": "500025.000",
                              "CORNER_UL_PROJECTION_Y_PRODUCT": "-1000015.000"},
    "LEVEL2_SURFACE_TEMPERATURE_PARAMETERS": {"TEMPERATURE_MULT_BAND_ST_B10": "0.00341802",
                                              "TEMPERATURE_ADD_BAND_ST_B10": "149.0"},
}


@pytest.mark.parametrize("suffix", ["txt", "json", "xml"])
def test_write_read_round_trip(tmp_path: Path, suffix: str) -> None:
    name = f"LC08_L2SP_012031_20240601_20240601_02_T1_MTL.{suffix}"
    path = write_mtl(GOOD_GROUPS, tmp_path / name)
    assert read_mtl_groups(path) == GOOD_GROUPS
    meta = read_mtl(path)
    assert meta.acquired == datetime(2024, 6, 1, 15, 30, 0, tzinfo=timezone.utc)
    assert meta.ul_y == -1000015.0  # southern hemisphere, north zone: negative northing
    assert (meta.lines, meta.samples, meta.utm_zone) == (64, 64, 18)
    assert meta.cloud_cover == 12.5


@pytest.mark.parametrize("suffix", ["txt", "json", "xml"])
def test_real_mtl_round_trips_through_every_format(tmp_path: Path, suffix: str) -> None:
    groups = read_mtl_groups(_colombia_mtl("txt"))
    path = write_mtl(groups, tmp_path / f"{COLOMBIA_PID}_MTL.{suffix}")
    assert read_mtl_groups(path) == groups
    assert dataclasses.replace(read_mtl(path), path=None) == dataclasses.replace(
        read_mtl(_colombia_mtl("txt")), path=None)


def _with(group: str, key: str, value: str | None) -> dict[str, dict[str, str]]:
    groups = {g: dict(v) for g, v in GOOD_GROUPS.items()}
    if value is None:
        del groups[group][key]
    else:
        groups[group][key] = value
    return groups


@pytest.mark.parametrize(
    ("group", "key", "value", "match"),
    [
        ("PRODUCT_CONTENTS", "LANDSAT_PRODUCT_ID", "S2A_MSIL2A_20240601", "not a Landsat"),
        ("IMAGE_ATTRIBUTES", "SUN_ELEVATION", None, "lacks SUN_ELEVATION"),
        ("IMAGE_ATTRIBUTES", "SUN_ELEVATION", "high", "not a number"),
        ("IMAGE_ATTRIBUTES", "DATE_ACQUIRED", "2024-13-45", "acquisition date"),
        ("PROJECTION_ATTRIBUTES", "CORNER_UL_PROJECTION_X_PRODUCT", "nan", "finite"),
        ("PROJECTION_ATTRIBUTES", "THERMAL_LINES", "inf", "finite"),
        ("PROJECTION_ATTRIBUTES", "THERMAL_LINES", "0", "whole number"),
        ("PROJECTION_ATTRIBUTES", "THERMAL_SAMPLES", "63.5", "whole number"),
        ("PROJECTION_ATTRIBUTES", "UTM_ZONE", "61", "whole number between 0 and 60"),
        ("PROJECTION_ATTRIBUTES", "GRID_CELL_SIZE_THERMAL", "-30", "positive"),
        ("LEVEL2_SURFACE_TEMPERATURE_PARAMETERS", "TEMPERATURE_MULT_BAND_ST_B10", "0", "positive"),
    ],
)
def test_missing_or_bad_values_are_metadata_errors(
    tmp_path: Path, group: str, key: str, value: str | None, match: str
) -> None:
    path = write_mtl(_with(group, key, value), tmp_path / "X_MTL.json")
    with pytest.raises(MetadataError, match=match):
        read_mtl(path)


def test_not_an_mtl_at_all(tmp_path: Path) -> None:
    (tmp_path / "a_MTL.json").write_text(json.dumps({"LANDSAT_METADATA_FILE": {"X": {}}}))
    with pytest.raises(MetadataError, match="PRODUCT_CONTENTS"):
        read_mtl(tmp_path / "a_MTL.json")
    (tmp_path / "b_MTL.txt").write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(MetadataError, match="cannot read"):
        read_mtl(tmp_path / "b_MTL.txt")
    with pytest.raises(MetadataError, match="cannot read"):
        read_mtl(tmp_path / "missing_MTL.txt")


def test_hostile_inputs_are_metadata_errors(tmp_path: Path) -> None:
    # Regressions found by test_fuzz: deep JSON nesting (RecursionError) and a root group
    # re-opened inside another group (KeyError) used to escape as non-Heatwatch errors.
    deep = tmp_path / "deep_MTL.json"
    deep.write_text("[" * 100_000)
    with pytest.raises(MetadataError):
        read_mtl(deep)
    nested = tmp_path / "nested_MTL.txt"
    nested.write_text("GROUP = LANDSAT_METADATA_FILE\n  GROUP = A\n"
                      "    GROUP = LANDSAT_METADATA_FILE\n      K = 1\n")
    with pytest.raises(MetadataError):
        read_mtl(nested)
    big = tmp_path / "big_MTL.txt"
    big.write_bytes(b" " * (2 << 20))
    with pytest.raises(MetadataError, match="larger than any Landsat MTL"):
        read_mtl(big)


def test_xml_entity_expansion_is_refused(tmp_path: Path) -> None:
    lol = "".join(f'<!ENTITY e{i} "{f"&e{i - 1};" * 10}">' for i in range(1, 10))
    bomb = (f'<?xml version="1.0"?><!DOCTYPE l [<!ENTITY e0 "lol">{lol}]>'
            "<LANDSAT_METADATA_FILE><PRODUCT_CONTENTS><X>&e9;</X></PRODUCT_CONTENTS>"
            "</LANDSAT_METADATA_FILE>")
    path = tmp_path / "bomb_MTL.xml"
    path.write_text(bomb)
    with pytest.raises(MetadataError):
        read_mtl_groups(path)


def test_band_10_ceiling_is_read_from_the_real_mtls(tmp_path: Path) -> None:
    # QUANTIZE_CAL_MAXIMUM_BAND_ST_B10 (L2) and QUANTIZE_CAL_MAX_BAND_10 (L1) print 65535
    assert read_mtl(_colombia_mtl("txt")).calibration.dn_max == 65535
    lahaina = shared_sample(LAHAINA) / f"{LAHAINA_PID}_MTL.txt"
    assert read_mtl(lahaina).calibration.dn_max == 65535
    groups = read_mtl_groups(_colombia_mtl("txt"))
    groups["LEVEL2_SURFACE_TEMPERATURE_PARAMETERS"]["QUANTIZE_CAL_MAXIMUM_BAND_ST_B10"] = "4095"
    assert read_mtl(write_mtl(groups, tmp_path / f"{COLOMBIA_PID}_MTL.txt")).calibration \
        .dn_max == 4095
    groups["LEVEL2_SURFACE_TEMPERATURE_PARAMETERS"]["QUANTIZE_CAL_MAXIMUM_BAND_ST_B10"] = "7e5"
    with pytest.raises(MetadataError, match="QUANTIZE_CAL_MAXIMUM_BAND_ST_B10"):
        read_mtl(write_mtl(groups, tmp_path / f"{COLOMBIA_PID}_MTL.txt"))


# Day and night ------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["json", "txt", "xml"])
def test_day_night_flag_is_read_in_every_mtl_format(make_product, fmt):
    made = make_product.l1(mtl_format=fmt)
    groups = read_mtl_groups(made.mtl)
    groups["IMAGE_ATTRIBUTES"]["DAY_NIGHT_FLAG"] = "NIGHT"
    groups["IMAGE_ATTRIBUTES"]["SUN_ELEVATION"] = "-38.5"
    write_mtl(groups, made.mtl)
    meta = read_mtl(made.mtl)
    assert (meta.day_night, meta.day_night_source, meta.night) == ("NIGHT", "DAY_NIGHT_FLAG", True)
    assert meta.sun_elevation == -38.5
    assert meta.attrs()["day_night"] == "NIGHT"


def test_flag_wins_over_the_sun_and_a_bad_flag_is_refused(make_product):
    made = make_product.l1(mtl_format="json")
    groups = read_mtl_groups(made.mtl)
    groups["IMAGE_ATTRIBUTES"]["DAY_NIGHT_FLAG"] = "day"  # read case-insensitively
    groups["IMAGE_ATTRIBUTES"]["SUN_ELEVATION"] = "-2.0"
    write_mtl(groups, made.mtl)
    assert read_mtl(made.mtl).day_night == "DAY"
    groups["IMAGE_ATTRIBUTES"]["DAY_NIGHT_FLAG"] = "DUSK"
    write_mtl(groups, made.mtl)
    with pytest.raises(MetadataError, match="DAY_NIGHT_FLAG"):
        read_mtl(made.mtl)


def test_without_the_flag_the_sun_elevation_decides(make_product):
    made = make_product.l1(mtl_format="xml")
    groups = read_mtl_groups(made.mtl)
    assert "DAY_NIGHT_FLAG" not in groups["IMAGE_ATTRIBUTES"]
    groups["IMAGE_ATTRIBUTES"]["SUN_ELEVATION"] = "-12.25"
    write_mtl(groups, made.mtl)
    assert (read_mtl(made.mtl).day_night, read_mtl(made.mtl).day_night_source) == (
        "NIGHT", "SUN_ELEVATION")


def test_real_l1_sample_is_a_day_scene_by_its_sun_elevation(lahaina):
    # The real Collection 2 MTL carries no DAY_NIGHT_FLAG; its sun stands at 66.18 degrees.
    meta = read_mtl(next(lahaina.glob("*_MTL.txt")))
    assert "DAY_NIGHT_FLAG" not in read_mtl_groups(meta.path)["IMAGE_ATTRIBUTES"]
    assert (meta.day_night, meta.day_night_source) == ("DAY", "SUN_ELEVATION")
    assert meta.sun_elevation == pytest.approx(66.18265267)


def test_a_level2_product_flagged_night_is_refused(make_product):
    made = make_product.l2(mtl_format="txt")
    groups = read_mtl_groups(made.mtl)
    groups["IMAGE_ATTRIBUTES"]["DAY_NIGHT_FLAG"] = "NIGHT"
    write_mtl(groups, made.mtl)
    with pytest.raises(MetadataError, match="Level-1"):
        read_mtl(made.mtl)
