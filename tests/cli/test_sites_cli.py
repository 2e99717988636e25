"""``heatwatch sites list|show|add|import`` through the real typer app."""

from __future__ import annotations

import json
from pathlib import Path

from aoi.sites import read_sites
from tests.support.cli import one_line, run

COLOSSUS_1 = "xai-colossus-1-memphis-tennessee"


def test_list_shipped_catalog() -> None:
    result = run("sites", "list")
    assert result.exit_code == 0, result.output
    assert "17 site(s)" in result.output
    assert COLOSSUS_1 in result.output and "evaporative" in result.output
    assert "Epoch AI" in result.output  # CC-BY credit


def test_show_prints_timeline() -> None:
    result = run("sites", "show", COLOSSUS_1)
    assert result.exit_code == 0, result.output
    assert "xAI Colossus 1" in result.output and "2025-11-07" in result.output
    assert "3231 Riverport Rd" in result.output


def test_show_writes_the_site_for_scan_and_fetch(tmp_path: Path) -> None:
    out = tmp_path / "colossus.geojson"
    result = run("sites", "show", COLOSSUS_1, "--geojson", str(out))
    assert result.exit_code == 0, result.output
    site = read_sites(out)
    assert list(site["site_id"]) == [COLOSSUS_1]
    # the dated declarations travel with it (Epoch: 44 -> 174 -> 349 -> 424 MW for Colossus 1)
    timeline = site["timeline"].iloc[0]
    rows = json.loads(timeline) if isinstance(timeline, str) else timeline
    steps = [round(r["power_mw"]) for r in rows]
    steps = [p for i, p in enumerate(steps) if p and (i == 0 or p != steps[i - 1])]
    assert steps[:4] == [44, 174, 349, 424]


def test_show_unknown_site_fails_cleanly() -> None:
    result = run("sites", "show", "colossus")
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert one_line(result.output).startswith("error: no site with id 'colossus'; did you mean")


def test_add_then_list_user_catalog(tmp_path: Path) -> None:
    catalog = tmp_path / "mine.geojson"
    args = ["--name", "Test", "--lat", "35.06", "--lon", "-90.16", "--catalog", str(catalog)]
    result = run("sites", "add", "--id", "test-1", *args, "--radius-m", "500", "--power-mw", "80")
    assert result.exit_code == 0, result.output
    sites = read_sites(catalog)
    assert list(sites["site_id"]) == ["test-1"] and sites.loc[0, "reported_power_mw"] == 80.0
    listed = run("sites", "list", "--catalog", str(catalog))
    assert listed.exit_code == 0 and "test-1" in listed.output and "Epoch" not in listed.output
    again = run("sites", "add", "--id", "test-1", *args)
    assert again.exit_code == 2
    assert "already in the catalog" in one_line(again.output)


def test_add_rejects_swapped_coordinates(tmp_path: Path) -> None:
    catalog = tmp_path / "mine.geojson"
    result = run(
        "sites", "add", "--id", "x", "--name", "X", "--lat", "-95.2", "--lon", "35.1",
        "--catalog", str(catalog),
    )  # fmt: skip
    assert result.exit_code == 2
    assert "out of range" in one_line(result.output)
    assert not catalog.exists()


def test_import_csv_and_replace(tmp_path: Path) -> None:
    src = tmp_path / "new.csv"
    src.write_text("site_id,name,lat,lon\na,A,35.0,-90.0\nb,B,36.0,-91.0\n")
    catalog = tmp_path / "cat.geojson"
    first = run("sites", "import", str(src), "--catalog", str(catalog))
    assert first.exit_code == 0, first.output
    assert list(read_sites(catalog)["site_id"]) == ["a", "b"]
    dup = run("sites", "import", str(src), "--catalog", str(catalog))
    assert dup.exit_code == 2 and "--replace" in one_line(dup.output)
    replaced = run("sites", "import", str(src), "--catalog", str(catalog), "--replace")
    assert replaced.exit_code == 0, replaced.output
    assert len(read_sites(catalog)) == 2


def test_import_invalid_file_leaves_catalog_untouched(tmp_path: Path) -> None:
    catalog = tmp_path / "cat.geojson"
    run("sites", "add", "--id", "keep", "--name", "K", "--lat", "1", "--lon", "1",
        "--catalog", str(catalog))  # fmt: skip
    before = catalog.read_text()
    bad = tmp_path / "bad.geojson"
    ring = [[0, 0], [0, 0.01], [0.01, 0.01], [0.01, 0]]  # not closed
    bad.write_text(
        json.dumps(
            {
                "type": "FeatureCollection",
                "features": [
                    {
                        "type": "Feature",
                        "properties": {"site_id": "open"},
                        "geometry": {"type": "Polygon", "coordinates": [ring]},
                    }
                ],
            }
        )
    )
    result = run("sites", "import", str(bad), "--catalog", str(catalog))
    assert result.exit_code == 2 and "not closed" in one_line(result.output)
    assert catalog.read_text() == before


def test_markup_in_untrusted_ids_is_printed_literally(tmp_path: Path) -> None:
    catalog = tmp_path / "cat.geojson"
    args = ["--id", "[/x][bold]", "--name", "N", "--lat", "1", "--lon", "1"]
    assert run("sites", "add", *args, "--catalog", str(catalog)).exit_code == 0
    again = run("sites", "add", *args, "--catalog", str(catalog))
    assert again.exit_code == 2 and "'[/x][bold]'" in again.output


def test_show_marks_projected_timeline_rows() -> None:
    # Alibaba Zhangbei's 2026-01-03 row ("Expect ...") is dated after Epoch's November 2025
    # release; its 2025-09-17 row is not
    result = run("sites", "show", "alibaba-zhangbei-zhangjiakou-hebei")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    assert "2026-01-03 projected" in text and "2025-09-17 projected" not in text
    assert "never compared with heat" in text
