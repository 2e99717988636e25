"""The PDF twin of a site report, drawn with matplotlib's PDF backend (no system libraries).

Page 1 holds the verdict and the evidence figure; the following A4 pages list, in monospace
text, the energy-model cross-reference, every number of the site, the method parameters and
the provenance (products with date and clear fraction, the sha256 of every input and output
file, software version, config). Text is drawn with ``parse_math=False``: site ids and names
are untrusted and must not reach matplotlib's mathtext parser.
"""

from __future__ import annotations

import json
import re
import textwrap
from html import unescape
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.image
import matplotlib.pyplot as plt
from matplotlib.backends.backend_pdf import PdfPages

from pipeline.core.outputs import atomic_path
from pipeline.core.site_row import SiteRow
from pipeline.report.evidence import status_text
from pipeline.report.files import METHOD_SECTIONS, ScanFiles, product_rows

A4_LANDSCAPE = (11.69, 8.27)
A4_PORTRAIT = (8.27, 11.69)
LINES_PER_PAGE = 140
WIDTH = 150


def _plain(html_text: str) -> str:
    return unescape(re.sub(r"<[^>]+>", "", html_text))


def _cell(v: Any) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    if isinstance(v, float):
        return f"{v:.3f}" if abs(v) < 10 else f"{v:.0f}"
    return str(v)


def _kv(rows: list[tuple[str, Any]], width: int = 34) -> list[str]:
    out = []
    for k, v in rows:
        text = json.dumps(v, default=str) if isinstance(v, dict | list) else str(v)
        out += textwrap.wrap(f"{k:<{width}} {text}", WIDTH, subsequent_indent=" " * (width + 1)) \
            or [k]
    return out


def report_lines(site: SiteRow, scan: ScanFiles, prov: dict[str, Any]) -> list[str]:
    """Return the report tables as text lines, for the PDF pages after the first."""
    lines = ["ENERGY-MODEL CROSS-REFERENCE", *_kv([
        ("status", status_text(site)),
        ("heat MW [90 %]", f"{site.get('heat_mw')} [{site.get('heat_mw_low')}, "
                           f"{site.get('heat_mw_high')}]"),
        ("implied H100e [interval]", f"{site.get('implied_h100e')} "
                                     f"[{site.get('implied_h100e_low')}, "
                                     f"{site.get('implied_h100e_high')}]"),
        ("accelerators assumed", f"{site.get('accelerator')} "
                                 f"({site.get('accelerator_source')})"),
        ("implied FLOP/s (central)", site.get("implied_flops")),
        ("implied FLOP, active period", site.get("implied_flop_total")),
        ("declared power MW, last look", site.get("reported_power_mw")),
        ("declared since (timeline row)", site.get("reported_power_since")),
        ("verdict", site.get("verdict")),
        ("verdict margin", site.get("verdict_margin")),
        ("coefficient behind the verdict", site.get("verdict_calibration")),
        ("verdict, physics-only coefficient", site.get("verdict_physics")),
        ("fitted vs physics", f"{site.get('calibration_agreement')}: "
                              f"{site.get('calibration_note')}"),
        ("declarations used for calibration", ", ".join(
            scan.run.get("calibration", {}).get("declarations_used", [])) or "none"),
        ("site data", site.get("data_credit"))]), "", "ALL NUMBERS"]
    lines += _kv([(k, v) for k, v in site.items() if k != "geometry"])
    cfg = prov.get("config") or {}
    lines += ["", "METHOD PARAMETERS (full config in run.json and the HTML report)"]
    for sec in METHOD_SECTIONS:
        lines += _kv([(f"{sec}.{k}", v) for k, v in cfg.get(sec, {}).items()])
    lines += _kv([(f"calibration.{k}", v) for k, v in scan.run.get("calibration", {}).items()])
    sw = prov.get("software") or {}
    lines += ["", "PROVENANCE", *_kv([
        ("software", f"{sw.get('name')} {sw.get('version')}"),
        ("imagery folder", prov.get("imagery_dir")), ("site catalog", prov.get("sites_file")),
        ("site catalog sha256", prov.get("sites_sha256")), ("grid", prov.get("grid"))]),
        "", "PRODUCTS: date, product id, scene clear fraction, site clear fraction, excess K m2"]
    for r in product_rows(scan.series.get(str(site["site_id"])), scan.run):
        lines.append("  ".join(_cell(v) for v in r))
    lines += ["", "INPUT FILES: sha256, product id, used, path"]
    lines += [f"{i.get('sha256')}  {i.get('product_id')}  {i.get('used')}  {i.get('path')}"
              for i in prov.get("inputs", [])]
    lines += ["", "OUTPUT FILES: sha256, path"]
    lines += [f"{v}  {k}" for k, v in prov.get("outputs_sha256", {}).items()]
    return [w for ln in lines for w in (textwrap.wrap(ln, WIDTH) or [""])]


def write_site_pdf(site: SiteRow, scan: ScanFiles, *, figure: Path | None,
                   verdict_html: str, prov: dict[str, Any], path: Path) -> Path:
    """Write the PDF report of one site atomically.

    Parameters
    ----------
    site, scan
        The site record and the finished scan (:func:`pipeline.report.files.load_scan`).
    figure
        The evidence PNG to put on page 1 (skipped when absent).
    verdict_html
        The summary verdict as written in the HTML report (tags are stripped).
    prov
        The provenance of :func:`pipeline.report.build.provenance`.
    path
        Where to write the PDF.

    Returns
    -------
    Path
        ``path``.
    """
    title = f"Heatwatch site report: {site['site_id']}" + (
        f" ({site['name']})" if site.get("name") else "")
    with atomic_path(path) as tmp, PdfPages(tmp, metadata={
            "Title": title, "Creator": "Heatwatch", "CreationDate": None}) as pdf:
        fig = plt.figure(figsize=A4_LANDSCAPE)
        fig.text(0.04, 0.95, title, fontsize=14, weight="bold", parse_math=False)
        fig.text(0.04, 0.90, "\n".join(textwrap.wrap(_plain(verdict_html), 140)), fontsize=9,
                 va="top", parse_math=False)
        if figure is not None and figure.is_file():
            ax = fig.add_axes((0.02, 0.02, 0.96, 0.74))
            ax.imshow(matplotlib.image.imread(figure))
            ax.set_axis_off()
        pdf.savefig(fig)
        plt.close(fig)
        lines = report_lines(site, scan, prov)
        for start in range(0, len(lines), LINES_PER_PAGE):
            fig = plt.figure(figsize=A4_PORTRAIT)
            fig.text(0.04, 0.97, "\n".join(lines[start:start + LINES_PER_PAGE]),
                     family="monospace", fontsize=4.6, va="top", parse_math=False)
            pdf.savefig(fig)
            plt.close(fig)
    return path
