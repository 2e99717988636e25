"""Site reports, evidence figures and ``heatwatch report``, on a tiny scanned world."""

from __future__ import annotations

import json
import re
import shutil
from html import escape
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rasterio
from typer.testing import CliRunner

from cli import app
from pipeline.core.errors import OutputError
from pipeline.core.outputs import sha256_file
from pipeline.core.sites import safe_name
from pipeline.report.build import build_report
from pipeline.report.evidence import site_figure
from pipeline.report.files import inside, load_scan
from pipeline.scan.overlays import overlay_products
from tests.support.report_world import CAMPUS, CAMPUS_NAME, ROOF, shared_scan

runner = CliRunner()


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_scan(tmp_path_factory)


def _report(out: Path, sid: str) -> str:
    return (out / "reports" / f"{safe_name(sid)}.html").read_text(encoding="utf-8")


def test_outputs_stay_inside_out_and_use_safe_names(out: Path) -> None:
    for sub, exts in (("reports", ("html", "pdf")), ("evidence", ("png",)),
                      ("series", ("csv",))):
        names = sorted(p.name for p in (out / sub).iterdir())
        assert names == sorted(f"{safe_name(s)}.{e}" for s in (CAMPUS, ROOF) for e in exts)
    assert all(p.resolve().is_relative_to(out.resolve()) for p in out.rglob("*"))
    assert not (out.parent / "etc").exists() and not (out.parent.parent / "etc").exists()
    assert (out / "map.html").is_file()


def test_rasters_are_small_float_cogs_on_the_scan_grid(out: Path) -> None:
    run = json.loads((out / "run.json").read_text())
    rasters = run["outputs"]["rasters"]
    paths = [rasters["anomaly_mean"], rasters["temperature_median"]]
    paths += [d["path"] for d in rasters["anomaly_dates"]]
    assert 1 <= len(rasters["anomaly_dates"]) <= 6
    for rel in paths:
        with rasterio.open(out / rel) as src:
            assert src.dtypes[0] == "float32" and src.crs.to_epsg() == 32615
            assert src.shape == tuple(run["grid"]["shape"])
            assert src.tags(1).get("units") == "K" or "units" in src.tags()
    with rasterio.open(out / rasters["temperature_median"]) as src:
        t = src.read(1, masked=True)
    assert 270 < float(np.ma.median(t)) < 310


def test_untrusted_strings_are_escaped_everywhere(out: Path) -> None:
    pages = [_report(out, CAMPUS), _report(out, ROOF), (out / "map.html").read_text()]
    for page in pages:
        assert "<script>alert(1)</script>" not in page
        assert "<img src=x" not in page
        assert "Warehouse & <b>roof</b>" not in page
    assert escape(CAMPUS_NAME) in pages[0]
    assert escape("Evil <img src=x onerror=alert(2)> Corp") in pages[0]
    # Every <script> in a report is ours: the provenance JSON only.
    assert pages[0].count("<script") == 1


def test_report_holds_verdict_energy_method_and_provenance(out: Path) -> None:
    page = _report(out, CAMPUS)
    run = json.loads((out / "run.json").read_text())
    site = next(f["properties"] for f in json.loads((out / "sites.geojson").read_text())
                ["features"] if f["properties"]["site_id"] == CAMPUS)
    assert f"{site['heat_mw']:,.0f} MW [{site['heat_mw_low']:,.0f}" in page
    assert f"{site['implied_h100e_low']:,.0f}, {site['implied_h100e_high']:,.0f}]" in page
    assert "data:image/png;base64," in page  # the evidence figure is embedded
    for needle in ("Energy-model cross-reference", "Method and parameters", "Provenance",
                   "min_anomaly_k", run["software"]["version"], run["sites_sha256"]):
        assert needle in page
    for item in run["inputs"]:
        assert item["sha256"] in page and escape(item["path"]) in page
    series = pd.read_csv(out / "series" / f"{safe_name(CAMPUS)}.csv", dtype={"date": str})
    for row in series.itertuples():
        assert row.product_id in page and row.date in page


def test_report_rebuilds_from_files_without_rescanning(
    out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    copy = tmp_path / "out"
    shutil.copytree(out, copy)
    before = {p: sha256_file(copy / p) for p in ("sites.geojson", "run.json", "map.html")}
    shutil.rmtree(copy / "reports")
    shutil.rmtree(copy / "evidence")
    (copy / "map.html").unlink()

    def boom(*a: object, **k: object) -> None:
        raise AssertionError("report must not rescan or read imagery")

    monkeypatch.setattr("pipeline.scan.run.run_scan", boom)
    monkeypatch.setattr("pipeline.io.reader.discover_products", boom)
    monkeypatch.setattr("pipeline.io.stack.iter_scenes", boom)
    result = runner.invoke(app, ["report", str(copy)])
    assert result.exit_code == 0, result.output
    assert (copy / "evidence" / f"{safe_name(CAMPUS)}.png").stat().st_size > 50_000
    assert (copy / "reports" / f"{safe_name(ROOF)}.html").is_file()
    after = {p: sha256_file(copy / p) for p in before}
    assert after == before  # data untouched; the map is rebuilt byte for byte


def test_report_command_on_a_folder_without_scan_fails_in_one_line(tmp_path: Path) -> None:
    result = runner.invoke(app, ["report", str(tmp_path)], env={"COLUMNS": "300"})
    assert result.exit_code == 2
    assert "run.json is missing" in result.output
    assert "Traceback" not in result.output


def test_paths_from_run_json_cannot_leave_out(tmp_path: Path) -> None:
    with pytest.raises(OutputError, match="outside"):
        inside(tmp_path, "../../etc/passwd")
    assert inside(tmp_path, "rasters/a.tif") == tmp_path.resolve() / "rasters" / "a.tif"


def test_evidence_figure_has_the_print_elements(out: Path) -> None:
    scan = load_scan(out)
    site = next(s for s in scan.records if s["site_id"] == CAMPUS)
    fig = site_figure(site, scan.series[CAMPUS], scan.raster(scan.rasters["anomaly_mean"]),
                      basemap=scan.raster(scan.rasters["temperature_median"]),
                      hotspots=scan.hotspots)
    ax_map, ax_ts = fig.axes[0], fig.axes[1]
    texts = [t.get_text() for ax in fig.axes for t in ax.texts] + [fig._suptitle.get_text()]
    assert any(t.endswith(" km") for t in texts)  # scale bar
    assert "N" in texts  # north arrow
    assert any("°N" in t and "°W" in t for t in texts)  # coordinates
    assert any("MW [" in t and "90 %" in t for t in texts)  # heat interval in the title
    assert any(a.get_ylabel() == "anomaly (K)" for a in fig.axes)  # colour bar with units
    assert len(ax_map.images) == 2  # grey basemap + anomaly overlay
    labels = [t.get_text() for t in ax_ts.get_legend().get_texts()]
    assert {"integrated excess (clear look)", "cloudy / no clear look", "solar-decoupled heat",
            "90 % heat interval", "declared 60 MW"} <= set(labels)
    assert any(t.startswith(" first seen") for t in (x.get_text() for x in ax_ts.texts))
    foot = " ".join(t.get_text() for t in fig.texts)
    assert "LC0" in foot  # product id of the last clear look
    import matplotlib.pyplot as plt

    plt.close(fig)


def test_overlay_products_are_bounded_and_include_the_last_look() -> None:
    def series(n: int, start: int) -> pd.DataFrame:
        return pd.DataFrame({"date": [f"2024-01-{i + 1:02d}" for i in range(n)],
                             "product_id": [f"P{i:02d}" for i in range(n)],
                             "clear": True, "active": [i >= start for i in range(n)],
                             "clear_fraction": [0.9 + 0.001 * (i == start + 1) for i in range(n)]})

    many = {f"s{k}": series(20, k) for k in range(10)}
    picked = overlay_products(many, max_dates=4)
    assert len(picked) == 4 and "P19" in picked and picked == sorted(picked)
    assert overlay_products({"a": series(5, 1)}) == ["P02", "P04"]


def test_pdf_twin_of_each_report(out: Path) -> None:
    for sid in (CAMPUS, ROOF):
        pdf = (out / "reports" / f"{safe_name(sid)}.pdf").read_bytes()
        assert pdf.startswith(b"%PDF-") and pdf.rstrip().endswith(b"%%EOF")
        # page 1: verdict and evidence figure; then the tables and provenance
        assert len(re.findall(rb"/Type /Page\b(?!s)", pdf)) >= 2


def test_scan_without_rasters_still_gets_reports_and_a_map(out: Path, tmp_path: Path) -> None:
    copy = tmp_path / "old"
    shutil.copytree(out, copy, ignore=shutil.ignore_patterns("rasters", "evidence", "reports"))
    written = build_report(copy, pdf=False)
    assert written["evidence"] == {} and set(written["reports"]) == {CAMPUS, ROOF}
    assert "no evidence figure" in _report(copy, CAMPUS)
    assert escape(CAMPUS) in (copy / "map.html").read_text()


def test_a_site_without_heat_shows_its_upper_limit(out: Path) -> None:
    # an undetected site: the figure gives the heat that could hide below the detection
    # limit, and the declared power against it, not "0 MW" as if it were proven idle. (This
    # world's sunlit roof is not a clean case: without any land-cover contrast the solar index
    # falls back to clear-sky irradiance and the roof comes out "always"; so the campus's
    # record is turned into an undetected one here.)
    scan = load_scan(out)
    site = {**next(s for s in scan.records if s["site_id"] == CAMPUS), "status": "inactive",
            "pattern": "never", "heat_mw": 0.0, "heat_mw_low": 0.0, "heat_mw_high": 40.0,
            "excess_k_m2": 0.0, "first_seen": None, "last_seen": None}
    series = scan.series[CAMPUS].assign(active=False)
    fig = site_figure(site, series, scan.raster(scan.rasters["anomaly_mean"]),
                      basemap=scan.raster(scan.rasters["temperature_median"]),
                      hotspots=scan.hotspots)
    assert "no heat detected: below 40 MW" in fig._suptitle.get_text()
    labels = [t.get_text() for t in fig.axes[1].get_legend().get_texts()]
    assert {"90 % upper limit (40 MW)", "declared 60 MW"} <= set(labels)
    line = next(ln for ln in fig.axes[1].get_lines() if ln.get_label().startswith("90 %"))
    # drawn in excess units with the site's own coefficient: 40 MW x k_m2_per_mw
    assert line.get_ydata()[0] == pytest.approx(40.0 * site["k_m2_per_mw"] / 1e3)
    import matplotlib.pyplot as plt

    plt.close(fig)


def _excluded(out: Path) -> dict:
    scan = load_scan(out)
    campus = next(s for s in scan.records if s["site_id"] == CAMPUS)
    return {**campus, "in_catalog": False, "status": "excluded", "reported_power_mw": None,
            "exclusion": "Plant <b>Bowen</b> (power plant)", "implied_h100e": None,
            "implied_h100e_low": None, "implied_h100e_high": None, "implied_flops": None,
            "implied_flop_total": None}


def test_excluded_place_shows_its_reason_and_no_compute(out: Path) -> None:
    # issue 19, point 6: the reason sits beside the status, and no implied compute is shown
    from pipeline.report.build import _energy_section, verdict_text
    from pipeline.report.pdf import report_lines

    site = _excluded(out)
    reason = escape("excluded: near Plant <b>Bowen</b> (power plant)")
    text = verdict_text(site)
    assert f"is <b>{reason}</b>" in text
    assert "no accelerators or compute are implied" in text
    energy = _energy_section(site, load_scan(out))
    assert reason in energy and "none: not a datacenter candidate" in energy
    lines = report_lines(site, load_scan(out), {"config": {}, "software": {}})
    assert any("excluded: near Plant <b>Bowen</b> (power plant)" in ln for ln in lines)


def test_energy_section_says_which_accelerators_it_assumed(out: Path) -> None:
    # issue 19, point 8: the report names the chips behind the implied H100e and their source
    from pipeline.report.build import _energy_section

    scan = load_scan(out)
    site = next(s for s in scan.records if s["site_id"] == CAMPUS)
    assert site["accelerator"] == "h100"  # no chips in this world's catalog
    assert "h100, assumed (power.assumed_accelerator)" in _energy_section(site, scan)
    site = {**site, "accelerator": "gb200", "accelerator_source": "site catalog"}
    assert "gb200, site catalog" in _energy_section(site, scan)


def test_every_report_says_whose_declarations_made_the_verdict(out: Path) -> None:
    # issue 19, point 2: HTML, PDF text, map and sites.geojson name the coefficient behind
    # each verdict and the sites whose declarations fed it (here one declaring site: none
    # other is left to fit on, so the physics coefficient makes every verdict)
    from pipeline.report.pdf import report_lines

    run = json.loads((out / "run.json").read_text())
    assert run["calibration"]["declarations_used"] == [] and "physics" in run["calibration"]
    site = next(f["properties"] for f in json.loads((out / "sites.geojson").read_text())
                ["features"] if f["properties"]["site_id"] == CAMPUS)
    assert site["verdict_calibration"] == "physics (no declaration used)"
    assert site["calibration_agreement"] == "physics only"
    page = " ".join(_report(out, CAMPUS).split())
    assert "Declarations used for the calibration: none" in page
    assert "converted with the coefficient physics (no declaration used)" in page
    assert "verdict with the physics-only coefficient" in page
    scan = load_scan(out)
    text = "\n".join(report_lines(site, scan, {}))
    assert "declarations used for calibration" in text and "physics (no declaration used)" in text
    assert "declarations used for the calibration: none" in (out / "map.html").read_text()


def test_a_listed_onset_a_roof_explains_as_well_says_so(out: Path) -> None:
    # a catalogued campus's rise is kept as heat within the roof margin: the report says the
    # status rests on the listing, with the gap and the run's margin
    from pipeline.report.build import site_report_html

    scan = load_scan(out)
    campus = next(s for s in scan.records if s["site_id"] == CAMPUS)
    margin = scan.run["config"]["persistence"]["change_bic_margin"]
    ambiguous = {**campus, "in_catalog": True, "pattern": "onset", "roof_gap": 4.2}
    page = site_report_html(ambiguous, scan, figure=None)
    assert f"(roof gap 4.2 BIC, below {margin:.0f})" in page
    assert "kept as heat because the site is listed" in page
    clear = site_report_html({**ambiguous, "roof_gap": margin + 20.0}, scan, figure=None)
    assert "roof gap" not in clear.split("<h2>")[0]  # not in the verdict paragraph


def test_a_new_onset_says_how_it_met_a_season_of_its_own(out: Path) -> None:
    # a searched onset over a year of looks still rose with its own annual cycle fitted; over
    # less than a year the test was not made, and the report says so
    from pipeline.report.build import site_report_html

    scan = load_scan(out)
    campus = next(s for s in scan.records if s["site_id"] == CAMPUS)
    found = {**campus, "in_catalog": False, "status": "candidate", "pattern": "onset",
             "own_season": "window"}
    page = site_report_html(found, scan, figure=None).split("<h2>")[0]
    assert "its series still rises (window)" in page
    short = site_report_html({**found, "own_season": None}, scan, figure=None).split("<h2>")[0]
    assert "not tested against a season of its own" in short
    listed = site_report_html({**found, "in_catalog": True}, scan, figure=None).split("<h2>")[0]
    assert "season of its own" not in listed
    # a searched window: the share of its bump the same weeks of another year show
    window = {**found, "pattern": "window", "own_season": None, "season_share": 0.08}
    page = site_report_html(window, scan, figure=None).split("<h2>")[0]
    assert "The same weeks of another year show 8% of its bump" in page
    once = site_report_html({**window, "season_share": None}, scan, figure=None)
    assert "its weeks are not seen again in another year" in once.split("<h2>")[0]


def test_a_change_says_how_many_searched_regions_share_its_look(out: Path) -> None:
    # a land event moves many of the scene's searched regions at one look, a campus its own
    from pipeline.report.build import site_report_html

    scan = load_scan(out)
    campus = next(s for s in scan.records if s["site_id"] == CAMPUS)
    found = {**campus, "in_catalog": False, "status": "candidate", "pattern": "onset",
             "shared_change_regions": 15, "searched_regions": 55}
    page = site_report_html(found, scan, figure=None).split("<h2>")[0]
    assert "15 of the 55 other regions the search found in this scene rise at the same look" \
        in page
    stop = {**found, "pattern": "shutdown", "shared_change_regions": 0}
    assert "None of the 55 other regions the search found in this scene fall" in \
        site_report_html(stop, scan, figure=None).split("<h2>")[0]
    steady = {**found, "pattern": "always", "shared_change_regions": None,
              "searched_regions": None}
    assert "other regions the search found" not in \
        site_report_html(steady, scan, figure=None).split("<h2>")[0]


def test_a_listed_onset_says_what_its_status_rests_on(out: Path) -> None:
    # issue 18: a listed onset is active only outside its land's rises where its placebos
    # cover 10 footprints of distinct land; with fewer the status rests on the listing, and a
    # rise inside the land's own is undetermined. The report says which.
    from pipeline.report.build import site_report_html

    scan = load_scan(out)
    campus = next(s for s in scan.records if s["site_id"] == CAMPUS)
    listed = {**campus, "in_catalog": True, "pattern": "onset", "status": "active",
              "baseline": "none", "null_z": 0.4, "null_n_independent": 3.3}

    def verdict(site: dict) -> str:
        return " ".join(site_report_html(site, scan, figure=None).split("<h2>")[0].split())

    assert "only 3.3 footprints of distinct land, fewer than 10" in verdict(listed)
    assert "rests on the listing" in verdict(listed)
    judged = verdict({**listed, "null_z": 8.0, "null_n_independent": 24.0})
    assert "rests on the listing" not in judged
    inside = verdict({**listed, "status": "undetermined", "null_n_independent": 24.0})
    assert "does not stand outside the rises its scene's land makes by itself" in inside
    assert "static temperature offset" not in inside


def test_a_listed_change_says_why_its_upper_limit_holds_running_heat(out: Path) -> None:
    # a listed rise fitted with no declared baseline keeps what an always-on term could hide
    # within its upper end (hidden_k_m2); the report says so, and says what would narrow it
    from pipeline.report.build import site_report_html

    scan = load_scan(out)
    campus = next(s for s in scan.records if s["site_id"] == CAMPUS)
    listed = {**campus, "in_catalog": True, "pattern": "onset", "status": "active",
              "heat_mw_high": 412.0, "hidden_k_m2": 8.3e5, "hidden_se_k_m2": 3.0e4}

    def verdict(site: dict) -> str:
        return " ".join(site_report_html(site, scan, figure=None).split("<h2>")[0].split())

    page = verdict(listed)
    assert "Its upper limit (412 MW) also holds the heat an always-on term could hide " \
        "(830,000 &plusmn; 30,000 K m2)" in page
    assert "its rise was fitted with no declared baseline" in page
    assert "always-on term could hide" not in verdict({**listed, "hidden_k_m2": None})
    stop = verdict({**listed, "pattern": "shutdown", "status": "inactive"})
    assert "its fall was fitted with no declared baseline" in stop
