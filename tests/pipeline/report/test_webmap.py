"""The run's interactive page: self-contained offline, and it renders in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from html import escape
from pathlib import Path

import pytest

from pipeline.core.sites import safe_name
from pipeline.report.files import load_scan
from pipeline.report.webmap import leaflet_assets, webmap_html
from tests.support.report_world import CAMPUS, CAMPUS_NAME, ROOF, shared_scan

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")


@pytest.fixture(scope="module")
def out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return shared_scan(tmp_path_factory)


def _data(page: str) -> dict:
    m = re.search(r'<script type="application/json" id="hw-data">(.*?)</script>', page, re.S)
    assert m is not None
    return json.loads(m.group(1))


def test_page_needs_nothing_from_the_network(out: Path) -> None:
    page = (out / "map.html").read_text(encoding="utf-8")
    assert "Leaflet 1.9.3" in page  # inlined, not linked
    # No fetched resource: every src= and <link href=> is a data URI.
    assert re.findall(r'\bsrc="(?!data:)', page) == []
    assert re.findall(r'<link[^>]*href="(?!data:)', page) == []
    assert "url(images/" not in leaflet_assets()[1]
    assert "cdn." not in page and "unpkg" not in page and "tile.openstreetmap" not in page


def test_page_data_has_sites_overlays_and_report_links(out: Path) -> None:
    data = _data((out / "map.html").read_text(encoding="utf-8"))
    labels = [f["properties"]["label"] for f in data["sites"]["features"]]
    assert labels == [escape(CAMPUS), escape(ROOF)]
    popup = data["sites"]["features"][0]["properties"]["popup"]
    assert escape(CAMPUS_NAME) in popup and "<script>" not in popup
    assert f'href="reports/{safe_name(CAMPUS)}.html"' in popup
    assert "MW [90 %]" in popup and "implied H100e" in popup
    assert data["basemap"]["url"].startswith("data:image/png;base64,")
    assert len(data["overlays"]) >= 2  # the mean plus at least one dated look
    assert any("anomaly 2024-" in o["label"] for o in data["overlays"])
    (s, w), (n, e) = data["bounds"]
    assert 35 < s < n < 37 and -94 < w < e < -92


def test_json_block_cannot_close_its_script(out: Path) -> None:
    scan = load_scan(out)
    scan.records[0]["site_id"] = "</script><script>alert(3)</script>"
    page = webmap_html(scan)
    assert "</script><script>alert(3)" not in page
    assert _data(page)["sites"]["features"][0]["properties"]["label"].startswith("&lt;/script")


def _chromium() -> str | None:
    return next((p for p in map(shutil.which, BROWSERS) if p), None)


def _run_chromium(browser: str, page: Path, tmp: Path, *mode: str) -> subprocess.CompletedProcess:
    cmd = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", "--host-resolver-rules=MAP * ~NOTFOUND",
           f"--user-data-dir={tmp / 'profile'}", "--enable-logging=stderr", "--v=0",
           "--window-size=1200,800", *mode, page.resolve().as_uri()]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)


def _console_errors(stderr: str) -> list[str]:
    # The page logs nothing itself, so any console line (error, warning, uncaught exception)
    # or failed load is a failure.
    return [ln for ln in stderr.splitlines()
            if "CONSOLE" in ln or "Uncaught" in ln or "ERR_FILE_NOT_FOUND" in ln
            or "Failed to load resource" in ln]


@pytest.mark.browser
def test_map_renders_in_headless_chromium(out: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium; .ci/run "
                    "installs it)")
    page = out / "map.html"
    dom = _run_chromium(browser, page, tmp_path, "--dump-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _console_errors(dom.stderr) == []
    html = dom.stdout
    assert 'data-hw-sites="2"' in html  # the page's script ran to the end
    tips = re.findall(r'<div class="leaflet-tooltip hw-label[^"]*"[^>]*>(.*?)</div>', html, re.S)
    for sid in (CAMPUS, ROOF):  # each site is drawn on the map, labelled with its id
        assert escape(sid, quote=False) in tips
    assert len(re.findall(r'class="hw-site[ "]', html)) == 2  # two outlines in the map pane
    assert html.count("leaflet-image-layer") >= 2  # basemap + anomaly overlay
    shot = tmp_path / "map.png"
    res = _run_chromium(browser, page, tmp_path, f"--screenshot={shot}")
    assert res.returncode == 0 and _console_errors(res.stderr) == []
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and shot.stat().st_size > 10_000


@pytest.mark.browser
def test_site_reports_open_without_console_errors(out: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium)")
    page = out / "reports" / f"{safe_name(CAMPUS)}.html"
    res = _run_chromium(browser, page, tmp_path, "--dump-dom")
    assert res.returncode == 0 and _console_errors(res.stderr) == []
    assert escape(CAMPUS_NAME, quote=False) in res.stdout and "<img alt=" in res.stdout


def test_excluded_place_popup_and_side_table_show_the_reason(out: Path) -> None:
    # issue 19, point 6: the map shows why a place is excluded, where its status is
    from pipeline.report.webmap import _side_table, _site_html

    scan = load_scan(out)
    site = next(s for s in scan.records if s["site_id"] == CAMPUS)
    site.update(status="excluded", exclusion="Plant Bowen (power plant)", implied_h100e=None,
                implied_h100e_low=None, implied_h100e_high=None, accelerator=None,
                accelerator_source=None)
    popup = _site_html(site, "reports/x.html")
    assert "<tr><th>status</th><td>excluded: near Plant Bowen (power plant)</td></tr>" in popup
    assert "<tr><th>implied H100e</th><td>- [-, -]</td></tr>" in popup
    assert "<td>excluded: near Plant Bowen (power plant)</td>" in _side_table(scan, "reports")


def test_rejected_regions_are_a_layer_with_their_reasons(out: Path) -> None:
    # a region the search rejected is shown where it is, with its heat and the reason, so an
    # analyst can look at what the detector said no to (e.g. a null on too little land)
    from pipeline.report.webmap import _side_table

    scan = load_scan(out)
    scan.run["rejected_candidates"] = [
        {"site_id": "candidate-3", "lon": -93.1, "lat": 36.2, "heat_mw": 240.0,
         "heat_mw_low": 120.0, "heat_mw_high": 480.0, "pattern": "onset",
         "first_seen": "2024-04-12", "last_seen": "2024-10-21",
         "shared_change_regions": 15, "searched_regions": 55,
         "busiest_other_look_regions": 9, "shared_change_p": 2e-9,
         "rejected_because": "its 200 placebo footprints cover only 4.0 footprints of "
                             "distinct background land <b>"},
        {"site_id": "candidate-4", "lon": None, "lat": None, "heat_mw": None,
         "rejected_because": "too few clear looks"}]  # no place: not drawn, still counted
    data = _data(webmap_html(scan))
    feats = data["rejected"]["features"]
    assert [f["geometry"] for f in feats] == [{"type": "Point", "coordinates": [-93.1, 36.2]}]
    popup = feats[0]["properties"]["popup"]
    assert "<b>candidate-3</b> (rejected)" in popup and "240 [120, 480]" in popup
    assert "4.0 footprints of distinct background land &lt;b&gt;" in popup
    assert "<th>heat seen</th><td>2024-04-12 to 2024-10-21</td>" in popup
    assert ("<th>regions changing at its look</th><td>15 of 55 (at most 9 at another look)"
            "</td>") in popup
    assert "2 region(s) the search found and rejected" in _side_table(scan, "reports")
    scan.run["rejected_candidates"] = []
    assert _data(webmap_html(scan))["rejected"]["features"] == []
    assert "rejected" not in _side_table(scan, "reports")


@pytest.mark.browser
def test_the_rejected_layer_renders_in_headless_chromium(out: Path, tmp_path: Path) -> None:
    browser = _chromium()
    if browser is None:
        pytest.skip("no chromium binary on PATH (Debian: apt-get install chromium)")
    scan = load_scan(out)
    scan.run["rejected_candidates"] = [
        {"site_id": "candidate-3", "lon": -93.1, "lat": 36.2, "heat_mw": 240.0,
         "rejected_because": "too little land"}]
    page = tmp_path / "map.html"
    page.write_text(webmap_html(scan), encoding="utf-8")
    dom = _run_chromium(browser, page, tmp_path, "--dump-dom")
    assert dom.returncode == 0 and _console_errors(dom.stderr) == []
    assert 'data-hw-sites="2"' in dom.stdout  # the script ran to the end
    assert "regions the search rejected (1)" in dom.stdout  # in the layer control
