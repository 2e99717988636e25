"""Each site's placebo null is written as a table from which its test can be recounted."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from aoi.sites import read_sites
from models.world import generate_world
from pipeline.core.config import Config
from pipeline.core.sites import safe_name
from pipeline.report.files import load_scan
from pipeline.scan.nulls import NULL_TABLE_COLUMNS, null_frame
from pipeline.scan.output import write_scan
from pipeline.scan.run import run_scan
from pipeline.science.placebo import STATISTICS, SiteNull
from tests.support.late_stop_world import SITE, write_late_stop_world
from tests.support.worlds import make_spec


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A scanned 7 x 7 km world with one listed campus: room for its placebos."""
    world = tmp_path_factory.mktemp("null-world")
    generate_world(make_spec(size_px=240, n_acquisitions=8, noise_k=0.2), world)
    result = run_scan(world, Config(), sites=read_sites(world / "sites.geojson"))
    write_scan(result, world / "out", figures=False)
    return world / "out"


def test_shifts_read_in_metres_east_and_north() -> None:
    # a placebo 2 rows down and 5 columns right on a 30 m grid lies 60 m south, 150 m east
    null = SiteNull({s: 1.0 for s in STATISTICS}, {s: np.array([0.5]) for s in STATISTICS},
                    0.1, [(2, 5)])
    t = null_frame(null, 30.0)
    assert list(t.columns) == list(NULL_TABLE_COLUMNS)
    assert t.loc[1, ["east_shift_m", "north_shift_m"]].tolist() == [150.0, -60.0]
    assert t["footprint"].tolist() == ["site", "placebo"]
    assert t["onset_is_step"].isna().all()  # not weighed for this null


def test_the_site_s_rank_and_z_recount_from_its_table(out: Path) -> None:
    row = next(r for r in load_scan(out).records if r["site_id"] == "S1")
    table = pd.read_csv(out / "nulls" / f"{safe_name('S1')}.csv")
    stat = row["null_statistic"]
    assert stat in STATISTICS and row["in_catalog"]  # a listed site: every placebo counts
    site = float(table.loc[table["footprint"] == "site", f"{stat}_k_m2"].iloc[0])
    ref = table.loc[table["footprint"] == "placebo", f"{stat}_k_m2"].to_numpy(dtype=float)
    assert len(ref) == row["null_n"] >= 10
    ref = ref[np.isfinite(ref)]
    # the textbook rank p-value and the robust z (median, MAD x 1.4826), by hand
    p = (1 + np.sum(ref >= site)) / (1 + ref.size)
    z = (site - np.median(ref)) / (1.4826 * np.median(np.abs(ref - np.median(ref))))
    assert row["null_p_value"] == pytest.approx(p, abs=5e-5)
    assert row["null_z"] == pytest.approx(z, abs=0.006)


def test_the_report_reads_the_nulls_it_draws(out: Path) -> None:
    scan = load_scan(out)
    assert set(scan.nulls) == {str(r["site_id"]) for r in scan.records}
    for sid, table in scan.nulls.items():
        row = next(r for r in scan.records if r["site_id"] == sid)
        assert table["footprint"].tolist() == ["site"] + ["placebo"] * row["null_n"]


def test_every_column_is_documented_where_the_null_is() -> None:
    doc = (Path(__file__).resolve().parents[3] / "docs" / "statuses.md").read_text()
    section = doc.split("### Every placebo, written out", 1)[1].split("\n## ", 1)[0]
    assert all(f"`{c}`" in section for c in NULL_TABLE_COLUMNS)


def test_a_site_s_placebos_do_not_depend_on_its_place_in_the_site_list(tmp_path: Path) -> None:
    # two listed sites, scanned in both orders: each site's placebos are drawn by its id
    # (placebo_rng), so the same land under the same seed gives the same null either way
    world = tmp_path / "world"
    generate_world(make_spec(size_px=240, n_acquisitions=6, noise_k=0.2), world)
    sites = read_sites(world / "sites.geojson")
    plain = sites.to_crs(sites.estimate_utm_crs()).copy()
    plain["site_id"], plain["name"] = "PLAIN", "plain land"
    plain["geometry"] = plain.geometry.translate(xoff=-1800.0, yoff=1500.0)
    both = pd.concat([sites, plain.to_crs(sites.crs)], ignore_index=True)
    shifts = []
    for order in (both, both.iloc[::-1].reset_index(drop=True)):
        result = run_scan(world, Config(), sites=order)
        shifts.append({sid: null.offsets for sid, null in result.nulls.items()})
    assert set(shifts[0]) == {"S1", "PLAIN"}
    for sid in ("S1", "PLAIN"):
        assert len(shifts[0][sid]) >= 10
        assert shifts[0][sid] == shifts[1][sid]


def test_a_listed_stop_s_fall_shape_recounts_from_its_table(tmp_path: Path) -> None:
    # a listed 200 MW campus that stops 8 looks before the end of 24 (tests/support)
    write_late_stop_world(tmp_path / "world", looks_after=8, size_px=256)
    result = run_scan(tmp_path / "world", Config(),
                      sites=read_sites(tmp_path / "world" / "sites.geojson"))
    write_scan(result, tmp_path / "out", figures=False)
    row = next(r for r in load_scan(tmp_path / "out").records if r["site_id"] == SITE)
    table = pd.read_csv(tmp_path / "out" / "nulls" / f"{safe_name(SITE)}.csv")
    gaps = table["fall_step_gap"].to_numpy(dtype=float)
    # measured for the site and every placebo with room for a fall: the null its stop meets
    assert np.isfinite(gaps[0]) and np.mean(np.isfinite(gaps[1:])) > 0.9
    ref = gaps[1:][np.isfinite(gaps[1:])]
    # its robust z by hand (median, MAD x 1.4826), as the row gives it
    z = (gaps[0] - np.median(ref)) / (1.4826 * np.median(np.abs(ref - np.median(ref))))
    # seen by the activity fit (its roof gap beyond the margin): the shape is not needed
    # here, and with the summer's flat sun after the stop it tells a step from a roof no
    # better than the land's own falls do
    assert row["pattern"] == "shutdown" and row["status"] == "inactive"
    assert row["roof_gap"] >= Config().persistence.change_bic_margin
    assert row["null_fall_shape_z"] == pytest.approx(z, abs=0.006)
