"""Site reports a third party can verify, rebuilt from a finished scan's files only.

``build_report(OUT)`` reads what :func:`pipeline.scan.output.write_scan` wrote
(``sites.geojson``, ``hotspots.geojson``, ``series/<site>.csv``, ``nulls/<site>.csv``,
``run.json``, ``rasters/*.tif``) and writes:

- ``evidence/<site>.png``: the print-quality evidence figure (:mod:`pipeline.report.evidence`);
- ``reports/<site>.html``: one self-contained page per site: verdict, evidence figure,
  energy-model cross-reference, method and parameters, and provenance (every product with its
  date and clear fraction, the sha256 of every input file, software version, config), with the
  same provenance as machine-readable JSON in ``<script id="provenance">``;
- ``reports/<site>.pdf``: the same report as PDF (:mod:`pipeline.report.pdf`, matplotlib);
- ``map.html``: the interactive page of the run (:mod:`pipeline.report.webmap`).

Site ids, names and operators are untrusted: every string is escaped with :func:`html.escape`
and every file name comes from :func:`pipeline.core.sites.safe_name`.
"""

from __future__ import annotations

import base64
import json
from html import escape
from pathlib import Path
from typing import Any, Final

import pandas as pd

from models.energy_data import load_facts
from pipeline.core.outputs import sha256_file, write_png, write_text
from pipeline.core.site_row import (
    COMES_BACK_SHARE,
    STEP_RATE,
    SiteRow,
    change_word,
    land_coverage,
    null_judges,
    rate_counts_steps,
    row_hidden,
)
from pipeline.core.sites import safe_name
from pipeline.report.evidence import (
    EVIDENCE_DPI,
    lat_lon_text,
    site_figure,
    status_reason,
    status_text,
    upper_limit,
)
from pipeline.report.files import (
    EVIDENCE_DIR,
    MAP_FILE,
    METHOD_SECTIONS,
    REPORT_DIR,
    ScanFiles,
    data_credits,
    load_scan,
    not_covered,
    product_rows,
)
from pipeline.report.pdf import write_site_pdf
from pipeline.report.webmap import write_webmap

_REDACT = {"webhook_url"}

CSS = """
body{font-family:system-ui,sans-serif;max-width:1100px;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;margin:.5em 0;font-size:13px}
td,th{border:1px solid #ccc;padding:2px 6px;text-align:left;vertical-align:top}
th{background:#f3f3f3} td.num{text-align:right;font-variant-numeric:tabular-nums}
code,pre{font-size:12px} pre{background:#f7f7f7;padding:.5em;overflow:auto;max-height:30em}
.verdict{font-size:1.15em;padding:.5em;border-left:4px solid #c33;background:#fbf3f3}
img{max-width:100%} .small{color:#666;font-size:12px}
"""


# HTML pieces -------------------------------------------------------------------------------------


class Safe(str):
    """Text that is already escaped HTML (passed through :func:`fmt` unchanged)."""

    __slots__ = ()


def fmt(value: Any, nd: int | None = None) -> str:
    """Format a number or text for a table cell, escaped; ``-`` for missing values.

    Without ``nd`` a float keeps every digit it has (a verifier compares exact values); with
    ``nd`` it is rounded to that many decimals.

    Examples
    --------
    >>> fmt(1234.5678), fmt(1234.5678, 1), fmt(2.0e6), fmt(12), fmt(None), fmt("<b>")
    ('1,234.5678', '1,234.6', '2,000,000', '12', '-', '&lt;b&gt;')
    """
    if isinstance(value, Safe):
        return str(value)
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if value != 0 and (abs(value) >= 1e12 or abs(value) < 1e-4):
            return f"{value:.6g}" if nd is None else f"{value:.3g}"
        if nd is not None:
            return f"{value:,.{nd}f}"
        return f"{value:,.0f}" if value.is_integer() else f"{value:,}"
    return escape(str(value))


def table(rows: list[list[Any]], header: list[str] | None = None) -> str:
    """Build an HTML table from rows of values (each cell goes through :func:`fmt`)."""
    head = "" if header is None else "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) \
        + "</tr>"
    body = "".join("<tr>" + "".join(
        f"<td class=num>{fmt(c)}</td>" if isinstance(c, int | float) and not isinstance(c, bool)
        else f"<td>{fmt(c)}</td>" for c in r) + "</tr>" for r in rows)
    return f"<table>{head}{body}</table>"


def _interval(site: SiteRow, key: str, unit: str, nd: int = 0) -> Safe:
    c, lo, hi = site.get(key), site.get(f"{key}_low"), site.get(f"{key}_high")
    if c is None:
        return Safe("-")
    return Safe(f"{fmt(c, nd)} {unit} [{fmt(lo, nd)}, {fmt(hi, nd)}]".replace("  ", " "))


_ALWAYS = ("Heat shows in every look, so the series has no look without it to compare with: a "
           "static temperature offset of the footprint against its surroundings cannot be told "
           "from heat, and the interval carries that prior (persistence.baseline_offset_k).")
_ALWAYS_ZERO = (" The interval reaches 0 MW: the heat stands out of the looks' scatter, not "
                "out of that prior; look for an onset in earlier imagery to settle it.")


_POSSIBLE_SHUTDOWN = ("<b>Possible shutdown:</b> the clear looks since {since} show less than a "
                      "third of this heat. They are too few to call a shutdown (that takes 3 "
                      "clear looks), so the site is still reported as running; the next clear "
                      "looks will tell.")


def _density_sentence(site: SiteRow) -> str | None:
    """Say where the site's heat per footprint area stands against AI campus sites.

    Examples
    --------
    >>> text = _density_sentence({"power_density_w_m2": 120.0, "power_density_w_m2_low": 60.0,
    ...                           "power_density_w_m2_high": 200.0})
    >>> text.split(", below")[0], "below the 220-453 W/m²" in text
    ('Heat per footprint area: 120 W/m² [60, 200]', True)
    """
    central = site.get("power_density_w_m2")
    if not isinstance(central, int | float) or not central > 0:
        return None

    d = load_facts().site_power_density
    where = ("below" if central < d.low_w_m2 else "above" if central > d.high_w_m2
             else "within")
    return (f"Heat per footprint area: {_interval(site, 'power_density_w_m2', 'W/m²')}, {where} "
            f"the {d.low_w_m2:.0f}-{d.high_w_m2:.0f} W/m² of AI campus sites at full build-out.")


def declared_sentence(site: SiteRow) -> str | None:
    """Say which declaration the heat was compared with, and where it comes from (HTML).

    Examples
    --------
    >>> site = {"reported_power_mw": 174.0, "reported_power_since": "2024-09-02",
    ...         "reported_power_as_of": "2024-10-01", "verdict": "not refuted",
    ...         "data_credit": "Epoch AI (CC-BY 4.0)"}
    >>> declared_sentence(site).split(", in force")[0]
    'Declared power 174 MW'
    >>> "since the timeline row of 2024-09-02 (Epoch AI (CC-BY 4.0))" in declared_sentence(site)
    True
    >>> "Nothing declared yet" in declared_sentence({**site, "reported_power_mw": 0.0})
    True
    >>> unsure = {**site, "verdict": "inconclusive", "verdict_reason": "no land measured"}
    >>> "verdict: <b>inconclusive</b>: no land measured." in declared_sentence(unsure)
    True
    """
    mw = site.get("reported_power_mw")
    if mw is None:
        return None
    bits = []
    if site.get("reported_power_as_of"):
        bits.append(f"in force on the last look ({fmt(site['reported_power_as_of'])})")
    if site.get("reported_power_since"):
        bits.append(f"since the timeline row of {fmt(site['reported_power_since'])}")
    where = " ".join(bits)
    credit = f" ({fmt(site['data_credit'])})" if site.get("data_credit") else ""
    if not mw > 0:
        return (f"Nothing declared yet: 0 MW{' ' + where if where else ''}{credit}, not yet "
                "operating; the site is watched for switching on and no declaration is tested.")
    # an inconclusive verdict says why in its own words, its margin included (too wide an
    # interval, or land its null could not measure: pipeline.scan.verdicts.withheld)
    why = (f": {fmt(site['verdict_reason'])}" if site.get("verdict") == "inconclusive"
           and site.get("verdict_reason") else _margin_text(site))
    return (f"Declared power {fmt(mw, 0)} MW{', ' + where if where else ''}{credit}; "
            f"energy-model verdict: <b>{fmt(site.get('verdict'))}</b>{why}. "
            f"{calibration_sentence(site)}")


def _margin_text(site: SiteRow) -> str:
    m = site.get("verdict_margin")
    if m is None:
        return ""
    if str(site.get("verdict", "")).startswith("refuted"):
        return f" (the intervals are a factor {fmt(m, 2)} apart)"
    return f" (a declaration {fmt(m, 2)}x larger would have been refuted as over-declared)"


def calibration_sentence(site: SiteRow) -> str:
    """Say which coefficient made the verdict and what the physics-only coefficient says (HTML).

    Examples
    --------
    >>> calibration_sentence({"verdict_calibration": "fitted on the declarations of A, B",
    ...     "verdict_physics": "refuted: over-declared", "calibration_agreement": "disagree",
    ...     "calibration_note": "the fitted coefficient says 'not refuted', the physics one "
    ...     "'refuted: over-declared'"}).split(";")[0][-46:]
    'coefficient fitted on the declarations of A, B'
    """
    used = site.get("verdict_calibration")
    if not used:
        return ""
    text = f"The heat behind the verdict was converted with the coefficient {fmt(used)}"
    if site.get("calibration_agreement") == "disagree":
        return (text + f"; <b>fitted and physics coefficients disagree</b>: "
                f"{fmt(site.get('calibration_note'))}.")
    return text + (f"; the physics-only coefficient gives {fmt(site.get('verdict_physics'))} "
                   f"({fmt(site.get('calibration_note'))}).")


def roof_sentence(site: SiteRow, margin: float | None) -> str | None:
    """Say when a listed site's onset is kept although a new roof would explain it as well.

    A catalogued campus's halls may stand before it powers on, so its rise is kept as heat
    even where a change of solar response without heat (a roof built mid-series) fits within
    ``margin`` (the run's ``persistence.change_bic_margin``) of it: the status then rests on
    the listing, not on evidence against a roof.

    Examples
    --------
    >>> site = {"in_catalog": True, "pattern": "onset", "roof_gap": 4.2}
    >>> "(roof gap 4.2 BIC, below 10)" in roof_sentence(site, 10.0)
    True
    >>> roof_sentence({**site, "roof_gap": 31.0}, 10.0) is None
    True
    """
    gap = site.get("roof_gap")
    if margin is None or not site.get("in_catalog") or site.get("pattern") != "onset" \
            or not isinstance(gap, (int, float)) or gap >= margin:
        return None
    return (f"A new roof (a change of solar response without heat) would explain its rise "
            f"as well (roof gap {fmt(gap, 1)} BIC, below {fmt(margin, 0)}): the onset is kept "
            "as heat because the site is listed (its halls may stand before it powers on), "
            "not because the series rules a roof out.")


def stop_shape_sentence(site: SiteRow, margin: float | None) -> str | None:
    """Say when a listed site's stop is seen by its fall's shape, not by the activity fit.

    A change of solar response without heat fits the fall within ``margin`` (the run's
    ``persistence.change_bic_margin``), but the fall is shaped as a step far beyond the falls
    its land makes (``null_fall_shape_z``, docs/statuses.md).

    Examples
    --------
    >>> site = {"in_catalog": True, "status": "inactive", "pattern": "shutdown",
    ...         "roof_gap": 7.5, "null_fall_shape_z": 11.4}
    >>> "(roof gap 7.5 BIC, below 10)" in stop_shape_sentence(site, 10.0)
    True
    >>> stop_shape_sentence({**site, "roof_gap": 31.0}, 10.0) is None
    True
    """
    gap, z = site.get("roof_gap"), site.get("null_fall_shape_z")
    if margin is None or site.get("status") != "inactive" or site.get("pattern") != "shutdown" \
            or not isinstance(gap, (int, float)) or gap >= margin \
            or not isinstance(z, (int, float)):
        return None
    return (f"A change of solar response without heat would fit its fall within the margin "
            f"(roof gap {fmt(gap, 1)} BIC, below {fmt(margin, 0)}), but the fall is shaped as "
            f"a step {fmt(z, 1)} robust deviations beyond the falls its land makes (placebo "
            "footprints): the stop is taken as seen.")


def season_sentence(site: SiteRow) -> str | None:
    """Say how a new site's power-on step or bump met a season of its own footprint.

    A searched onset whose looks span a year was fitted once more with its footprint's own
    annual cycle as no heat (a field whose season lags the sun's); a candidate still rose
    there. A searched window (heat that came and went) whose weeks are seen again in another
    year was set against those weeks (its ``season_share``); a candidate's came back at less
    than half its height. Where a test cannot be made, the report says so.

    Examples
    --------
    >>> site = {"in_catalog": False, "status": "candidate", "pattern": "onset",
    ...         "own_season": "onset"}
    >>> "still rises" in season_sentence(site)
    True
    >>> "not tested" in season_sentence({**site, "own_season": None})
    True
    >>> window = {**site, "pattern": "window", "own_season": None}
    >>> "not tested" in season_sentence({**window, "season_share": None})
    True
    >>> season_sentence({**window, "season_share": 0.12})[:49]
    'The same weeks of another year show 12% of its bu'
    >>> season_sentence({**site, "in_catalog": True}) is None
    True
    """
    if site.get("in_catalog") or site.get("pattern") not in ("onset", "window"):
        return None
    if site.get("pattern") == "window":
        share = site.get("season_share")
        if share is None:
            return ("Its bump was not tested against a season of its own (a field whose season "
                    "lags the sun's): its weeks are not seen again in another year of looks; a "
                    "season comes back a year on, heat that came and went once does not.")
        return (f"The same weeks of another year show {share:.0%} of its bump (a season of "
                f"its own comes back at {COMES_BACK_SHARE:.0%} or more; heat that came and went "
                "once does not).")
    if site.get("own_season") is None:
        return ("Its rise was not tested against a season of its own (a field whose season "
                "lags the sun's): its looks span less than a year, or its solar index cannot be "
                "told from an annual cycle; a year of looks would tell them apart: a season "
                "repeats, a power-on does not.")
    return ("Fitted with its footprint's own annual cycle as no heat (a field whose season "
            f"lags the sun's), its series still rises ({fmt(site['own_season'])}): a season "
            "repeats a year on, a power-on does not.")


def shared_sentence(site: SiteRow) -> str | None:
    """Say how many of the scene's other searched regions change as the site does.

    A land event (fields harvested or greening across a district, a front) moves many places
    at one look, and the search draws regions over several of them; a campus powers on or
    stops where it stands (:mod:`pipeline.science.scene_events`). Where some share it, with
    the two nulls a new site's change is judged on: the most at any other look of the series,
    and the chance of as many under independent timing. None for a site with no fitted change.

    Examples
    --------
    >>> site = {"pattern": "onset", "shared_change_regions": 15, "searched_regions": 55,
    ...         "busiest_other_look_regions": 9, "shared_change_p": 2e-9}
    >>> shared_sentence(site)[:70]
    '15 of the 55 other regions the search found in this scene rise at the '
    >>> "at most 9 at any other look" in shared_sentence(site)
    True
    >>> shared_sentence({**site, "shared_change_regions": 0})[:60]
    'None of the 55 other regions the search found in this scene '
    >>> shared_sentence({"pattern": "shutdown", "shared_change_regions": 1,
    ...                  "searched_regions": 6})[:50]
    '1 of the 6 other regions the search found in this '
    >>> shared_sentence({"pattern": "always", "shared_change_regions": None}) is None
    True
    """
    n, of = site.get("shared_change_regions"), site.get("searched_regions")
    if n is None or not of:
        return None
    way = change_word(site.get("pattern"))
    who = "None" if n == 0 else str(n)
    busiest, p = site.get("busiest_other_look_regions"), site.get("shared_change_p")
    nulls = (f" (at most {busiest} at any other look of the series; independent timing "
             f"would put as many at one look with chance {p:.2g})"
             if n and busiest is not None and p is not None else "")
    return (f"{who} of the {of} other regions the search found in this scene {way} at the "
            f"same look as its heat, or one look before or after{nulls}: a land event (fields "
            "harvested or greening across a district, a front) moves many places at once; a "
            "campus powers on or stops where it stands.")


def listing_sentence(site: SiteRow) -> str | None:
    """Say when a listed site's onset is ``active`` with no null that could judge its rise.

    A listed onset must stand outside its land's own rises wherever its placebos cover
    :data:`pipeline.core.site_row.MIN_PLACEBOS` footprints of distinct land (docs/statuses.md);
    where they cover fewer, the status rests on the listing. A declared baseline needs no null.

    Examples
    --------
    >>> site = {"in_catalog": True, "pattern": "onset", "status": "active", "baseline": "none",
    ...         "null_z": 0.4, "null_n_independent": 3.3}
    >>> "only 3.3 footprints of distinct land" in listing_sentence(site)
    True
    >>> listing_sentence({**site, "null_n_independent": 24.0}) is None
    True
    >>> listing_sentence({**site, "baseline": "declared (fetch.json)"}) is None
    True
    """
    if not site.get("in_catalog") or site.get("pattern") != "onset" \
            or site.get("status") != "active" \
            or str(site.get("baseline") or "").startswith("declared") or null_judges(site):
        return None
    return (f"Its rise is not set against the land's own rises: {land_coverage(site)}, too "
            "few to tell how often land rises as much. Its <i>active</i> rests on the listing.")


def roof_margin(run: dict[str, Any]) -> float | None:
    """Return the run's ``persistence.change_bic_margin`` (None: its run.json has no config)."""
    value = run.get("config", {}).get("persistence", {}).get("change_bic_margin")
    return float(value) if isinstance(value, (int, float)) else None


def verdict_text(site: SiteRow, margin: float | None = None) -> str:
    """Write the one-paragraph summary verdict of a site, as escaped HTML.

    ``margin`` is the run's ``persistence.change_bic_margin`` (:func:`roof_sentence`).

    Examples
    --------
    >>> site = {"site_id": "S", "status": "inactive", "pattern": "never", "persistence": 0.0,
    ...         "n_clear": 30, "n_looks": 46, "heat_mw": 0.0, "heat_mw_low": 0.0,
    ...         "heat_mw_high": 47.6, "heat_calibration": "fitted", "cooling": "dry"}
    >>> "up to 48 MW could run below the detection limit" in verdict_text(site)
    True
    >>> site.update(status="active", pattern="always", heat_mw=343.0, heat_mw_high=1276.0)
    >>> "reaches 0 MW" in verdict_text(site)
    True
    """
    parts = [f"<b>{fmt(site['site_id'])}</b> is <b>{fmt(status_text(site))}</b> "
             f"(pattern {fmt(site.get('pattern'))}, persistence {fmt(site.get('persistence'), 2)},"
             f" {fmt(site.get('n_clear'))} clear of {fmt(site.get('n_looks'))} looks)."]
    basis = (f"{fmt(site.get('heat_calibration'))} calibration, "
             f"{fmt(site.get('cooling'))} cooling")
    limit = upper_limit(site)
    if limit is not None:
        parts.append(f"No compute heat detected; up to {fmt(limit, 0)} MW could run below the "
                     f"detection limit (90 % upper limit, {basis}).")
    elif site.get("heat_mw") is not None:
        parts.append(f"Heat rejected: {_interval(site, 'heat_mw', 'MW')} (90 % interval, "
                     f"{basis}).")
        if site.get("pattern") == "always":
            parts.append(_ALWAYS + (_ALWAYS_ZERO if site.get("heat_mw_low") == 0 else ""))
        density = _density_sentence(site)
        if density:
            parts.append(density)
    parts.append(f"First seen {fmt(site.get('first_seen'))}, last seen "
                 f"{fmt(site.get('last_seen'))}.")
    base = baseline_sentence(site)
    if base:
        parts.append(base)
    if isinstance(site.get("possible_shutdown_since"), str):
        parts.append(_POSSIBLE_SHUTDOWN.format(since=fmt(site["possible_shutdown_since"])))
    declared = declared_sentence(site)
    if declared:
        parts.append(declared)
    # where the heat stands against its null, and what a listed onset's status rests on
    parts += [text for text in (null_sentence(site), roof_sentence(site, margin),
                                stop_shape_sentence(site, margin), season_sentence(site),
                                shared_sentence(site), listing_sentence(site),
                                hidden_sentence(site)) if text]
    if site.get("status") == "undetermined":
        parts.append(undetermined_sentence(site))
    if _no_compute(site):
        parts.append(f"Not a datacenter candidate ({fmt(status_reason(site))}): no "
                     "accelerators or compute are implied for it.")
    return " ".join(parts)


def hidden_sentence(site: SiteRow) -> str | None:
    """Say why a listed change's upper limit holds what an always-on term could hide.

    A listed site's rise or fall fitted with no declared baseline leaves the level before or
    after it in the fit's static offset, which may be the campus running rather than land
    (``hidden_k_m2``, :func:`pipeline.scan.sites.site_heat`; docs/statuses.md). An
    ``undetermined`` site says so in :func:`undetermined_sentence`. A term of 0 or below is
    not named: it does not put the level above land's, though its error alone may still
    raise the upper end a little.

    Examples
    --------
    >>> site = {"status": "active", "pattern": "onset", "heat_mw_high": 412.0,
    ...         "hidden_k_m2": 8.3e5, "hidden_se_k_m2": 3.0e4}
    >>> hidden_sentence(site)[:60]
    'Its upper limit (412 MW) also holds the heat an always-on te'
    >>> "its rise was fitted with no declared baseline" in hidden_sentence(site)
    True
    >>> hidden_sentence({**site, "hidden_k_m2": -2.0e5}) is None
    True
    >>> hidden_sentence({**site, "status": "undetermined"}) is None
    True
    """
    held = row_hidden(site)
    if held is None or not held[0] > 0 or site.get("status") == "undetermined":
        return None
    change = {"onset": "rise", "shutdown": "fall"}.get(str(site.get("pattern")), "rise and fall")
    return (f"Its upper limit ({fmt(site.get('heat_mw_high'))} MW) also holds the heat an "
            f"always-on term could hide ({fmt(held[0])} &plusmn; {fmt(held[1])} K m2): its "
            f"{change} was fitted with no "
            "declared baseline, so the level before or after it may be the campus running, "
            "not land. A baseline declared from imagery before the site stood would measure "
            "that level.")


def undetermined_sentence(site: SiteRow) -> str:
    """Say why the site is ``undetermined``: a static offset, a rise or a fall land makes too.

    Examples
    --------
    >>> undetermined_sentence({"pattern": "always"})[:60]
    '<b>Undetermined</b>: this series cannot tell running from a '
    >>> "rises its scene's land makes by itself" in undetermined_sentence({"pattern": "onset"})
    True
    >>> "its heat fell, but the fall" in undetermined_sentence({"pattern": "shutdown"})
    True
    """
    if site.get("pattern") == "onset":
        # a listed campus's rise within its null (docs/statuses.md)
        return ("<b>Undetermined</b>: its rise does not stand outside the rises its scene's "
                "land makes by itself (placebo footprints, above), so the listing alone does "
                "not show it running; see the upper limit, which holds the heat a campus "
                "running all series could hide here.")
    if site.get("pattern") in ("shutdown", "window"):
        # a fitted stop not shown to be one (pipeline.scan.sites.site_status)
        return ("<b>Undetermined</b>: its heat fell, but the fall does not stand outside the "
                "falls its scene's land makes by itself, a change of solar response without "
                "heat explains it as well (roof gap), or the level it fell to could still hide "
                "the site's heat; see the upper limit, which holds the heat a campus running "
                "all series could hide here.")
    return ("<b>Undetermined</b>: this series cannot tell running from a static temperature "
            "offset of the footprint (no baseline before or after), so the site is neither "
            "shown running nor idle; see the upper limit.")


def baseline_sentence(site: SiteRow) -> str:
    """Say which period served as the site's baseline and how many night looks it had.

    Examples
    --------
    >>> text = baseline_sentence({"baseline": "declared (fetch.json)", "n_night_looks": 1,
    ...     "baseline_start": "2019-01-03", "baseline_end": "2019-12-21", "baseline_looks": 9})
    >>> text.startswith("Baseline (before-state): 2019-01-03 to 2019-12-21, declared")
    True
    >>> text.endswith("1 night look (Level-1, no sun) in the series.")
    True
    >>> baseline_sentence({"baseline": "none", "n_night_looks": 0})
    'Baseline: none (no inactive looks before or after, none declared).'
    """
    kind = site.get("baseline")
    if kind is None:  # a scan written before baselines were reported
        return ""
    if kind == "none":
        text = "Baseline: none (no inactive looks before or after, none declared)."
    else:
        what = "the series' own inactive looks" if kind == "series" else kind
        text = (f"Baseline (before-state): {fmt(site.get('baseline_start'))} to "
                f"{fmt(site.get('baseline_end'))}, {fmt(what)}, "
                f"{fmt(site.get('baseline_looks'))} clear looks.")
    nights = site.get("n_night_looks") or 0
    if nights:
        text += f" {nights} night look{'s' if nights != 1 else ''} (Level-1, no sun) in the series."
    return text


def null_sentence(site: SiteRow) -> str:
    """Write where the site's heat statistic stands against its scene's placebo null.

    Examples
    --------
    >>> text = null_sentence({"null_statistic": "onset", "null_p_value": 0.0083, "null_n": 120,
    ...                       "null_n_independent": 14.2, "null_false_alarm_per_1000km2": 0.012})
    >>> "ranks p = 0.0083 among 120 placebo footprints" in text, "0.012 times per 1,000" in text
    (True, True)
    >>> "among 200 placebo" in null_sentence({"null_statistic": "onset", "null_p_value": 0.005,
    ...                                       "null_n": 200.0})  # as read back from a table
    True
    >>> "(14.2 footprints of distinct land)" in text
    True

    A rate below what the placebos show directly rests on the modelled tail, and says so:

    >>> text = null_sentence({"null_statistic": "onset", "null_p_value": 0.0083, "null_n": 120,
    ...                       "null_n_independent": 14.2, "null_false_alarm_per_1000km2": 0.012,
    ...                       "null_resolved_per_1000km2": 530.0})
    >>> "by the modelled tail; its placebos show rates down to 530 per 1,000 km² directly" in text
    True

    A new site's power-on step meets only the land's steps (docs/statuses.md):

    >>> "make such a step (a rise no new roof explains) 0.012 times" in null_sentence(
    ...     {"in_catalog": False, "pattern": "onset", "null_statistic": "onset",
    ...      "null_p_value": 0.0083, "null_n": 120, "null_false_alarm_per_1000km2": 0.012})
    True
    """
    if site.get("null_statistic") is None or site.get("null_p_value") is None:
        return ""
    far = site.get("null_false_alarm_per_1000km2")
    steps = rate_counts_steps(bool(site.get("in_catalog", True)), site.get("pattern"),
                              site.get("null_statistic"))
    rate = (f"; land alone would {STEP_RATE if steps else 'reach it'} " + fmt(f"{far:.2g}")
            + " times per 1,000 km²" if isinstance(far, int | float) else "")
    resolved = site.get("null_resolved_per_1000km2")
    if isinstance(far, int | float) and isinstance(resolved, int | float) and far < resolved:
        rate += (" by the modelled tail; its placebos show rates down to "
                 + fmt(f"{resolved:.3g}") + " per 1,000 km² directly")
    distinct = site.get("null_n_independent")
    cover = f" ({distinct:.1f} footprints of distinct land)" if isinstance(
        distinct, int | float) else ""
    n = site.get("null_n")  # a whole number, even where a table column made it a float
    among = f"{n:.0f}" if isinstance(n, int | float) else "?"
    return escape(f"Against its scene's null (docs/statuses.md): its {site['null_statistic']} "
                  f"statistic ranks p = {site['null_p_value']:.2g} among {among} "
                  f"placebo footprints{cover}") + rate + "."


def _no_compute(site: SiteRow) -> bool:
    """Whether a place is excluded or rejected, so that no compute is implied for it."""
    return site.get("status") == "excluded" or bool(site.get("rejected_because"))


def declared_steps(series: pd.DataFrame | None) -> list[tuple[str, float | None]]:
    """Return the declaration steps over a site's looks: ``(first look date, MW or None)``.

    Examples
    --------
    >>> s = pd.DataFrame({"date": ["2024-08-01", "2024-08-20", "2024-09-05", "2024-09-21"],
    ...                   "declared_power_mw": [float("nan"), 44.0, 174.0, 174.0]})
    >>> declared_steps(s)
    [('2024-08-01', None), ('2024-08-20', 44.0), ('2024-09-05', 174.0)]
    """
    if series is None or "declared_power_mw" not in series or not len(series):
        return []
    steps: list[tuple[str, float | None]] = []
    for day, mw in zip(series["date"], series["declared_power_mw"], strict=True):
        value = None if pd.isna(mw) else float(mw)
        if not steps or steps[-1][1] != value:
            steps.append((str(day), value))
    return steps


def _steps_text(scan: ScanFiles, site: SiteRow) -> str:
    steps = declared_steps(scan.series.get(str(site["site_id"])))
    return "; ".join(f"{escape(d)}: {'none' if mw is None else fmt(mw, 0) + ' MW'}"
                     for d, mw in steps) or "-"


def _energy_section(site: SiteRow, scan: ScanFiles) -> str:
    run = scan.run
    acc = site.get("accelerator") or run.get("config", {}).get("power", {}).get(
        "assumed_accelerator", "h100")
    source = site.get("accelerator_source") or "assumed (power.assumed_accelerator)"
    rows: list[tuple[str, Any]] = [
        *([("status", status_text(site)),
           ("implied accelerators", "none: not a datacenter candidate")]
          if _no_compute(site) else []),
        ("solar-decoupled excess (K m²)", site.get("excess_k_m2")),
        ("excess per MW of heat (K m² per MW, central)", site.get("k_m2_per_mw")),
        ("heat (MW, 90 % interval)", _interval(site, "heat_mw", "")),
        ("footprint area (km²)", _km2(site.get("footprint_m2"))),
        ("heat per footprint area (W/m², 90 % interval)",
         _interval(site, "power_density_w_m2", "")),
        ("AI campus sites at full build-out (W/m², published)", _campus_density()),
        ("accelerators assumed for the implied compute", f"{acc}, {source}"),
        ("implied H100 equivalents", _interval(site, "implied_h100e", "")),
        ("implied compute (FLOP/s, central)", site.get("implied_flops")),
        ("implied FLOP over the active period (central)", site.get("implied_flop_total")),
        ("declared power (MW), in force on the last look", site.get("reported_power_mw")),
        ("declared since (timeline row)", site.get("reported_power_since")),
        ("last look", site.get("reported_power_as_of")),
        ("declared power over the looks (from the date of each step)",
         Safe(_steps_text(scan, site))),
        ("energy-model verdict", site.get("verdict")),
        ("verdict margin (intervals apart, or factor a declaration would have needed)",
         site.get("verdict_margin")),
        ("why", site.get("verdict_reason")),
        ("coefficient behind the verdict", site.get("verdict_calibration")),
        ("physics-only coefficient (K m² per MW, central)", site.get("k_m2_per_mw_physics")),
        ("heat with the physics-only coefficient (MW, 90 % interval)",
         _interval(site, "heat_mw_physics", "")),
        ("verdict with the physics-only coefficient", site.get("verdict_physics")),
        ("fitted and physics coefficients", f"{fmt(site.get('calibration_agreement'))}: "
                                            f"{fmt(site.get('calibration_note'))}"),
        ("site data", site.get("data_credit")),
    ]
    body = "".join(f"<tr><th>{escape(k)}</th><td>{fmt(v)}</td></tr>" for k, v in rows)
    return ("<h2>Energy-model cross-reference</h2><table>" + body + "</table><p class=small>"
            "Implied accelerators invert the energy model (models.energy): heat = IT power x PUE "
            "(less what evaporative cooling carries away as water); the interval takes every "
            "parameter at its extremes together. Heat per footprint area far above the campus "
            "range means more heat than a campus of this footprint holds (an industrial source, "
            "or a footprint that is only part of the site); far below, a campus partly built or "
            "idle, or one whose cooling hides its heat.</p>")


def _km2(m2: Any) -> Any:
    return None if m2 is None else round(float(m2) / 1e6, 3)


def _campus_density() -> str:

    d = load_facts().site_power_density
    examples = ", ".join(f"{k} {v:.0f}" for k, v in d.examples.items())
    return f"{d.low_w_m2:.0f}-{d.high_w_m2:.0f} ({examples})"


#: What the solar loading ``s`` of a scan was (run.json ``solar_index``).
_SOLAR_INDEX = {
    "pattern": "the scene's anomaly along the area's mean anomaly pattern of the scenes so far",
    "scene_contrast": "the inter-quartile range of the scene's clear land temperatures",
    "clear_sky": "clear-sky irradiance at the scene's sun elevation",
}


def _method_section(run: dict[str, Any]) -> str:
    cfg = run.get("config", {})
    shown = {k: ("(set, not shown)" if k in _REDACT and v else v) for k, v in
             cfg.get("monitor", {}).items()}
    cfg = {**cfg, "monitor": shown} if "monitor" in cfg else cfg
    tables = "".join(f"<h3>{escape(sec)}</h3>" + table([[k, json.dumps(v) if isinstance(
        v, dict | list) else v] for k, v in cfg.get(sec, {}).items()])
        for sec in METHOD_SECTIONS if sec in cfg)
    cal = run.get("calibration", {})
    cal_rows = [[k, json.dumps(v) if isinstance(v, dict | list) else v] for k, v in cal.items()]
    index = _SOLAR_INDEX.get(str(run.get("solar_index")), "the scene's solar loading")
    return (
        "<h2>Method and parameters</h2><p>Each Landsat band 10 scene is calibrated from its "
        "own MTL, masked with QA_PIXEL, fill and a plausible-temperature floor (hot pixels "
        "are kept; band 10 at its ceiling is flagged saturated), and put on the scan grid. "
        "The anomaly is the temperature minus a block-annulus median background; "
        "hotspots need both an anomaly and a robust z-score threshold. A site's integrated "
        "excess (K m²) is summed over its buffered footprint against a ring background (see "
        "persistence.background_model) for every clear look. The series is fitted as "
        f"E = a·s + b + H·A (s: {escape(index)}, A: activity pattern) by weighted least "
        "squares with a robust BIC model choice, against patterns of roofs built mid-series; "
        "H, the solar-decoupled heat, is converted to MW with the calibration below.</p>"
        + tables + "<h3>calibration (excess to MW)</h3>" + _declarations_used(cal)
        + table(cal_rows) + "<details><summary>full configuration (run.json)</summary><pre>"
        + escape(json.dumps(cfg, indent=2)) + "</pre></details>")


def _declarations_used(cal: dict[str, Any]) -> str:
    """Say whose declared powers were used for the coefficient (HTML paragraph)."""
    used = cal.get("declarations_used")
    if used is None:
        return ""
    mode = cal.get("mode", "fitted")
    whose = (", ".join(escape(str(u)) for u in used) if used else
             "none (physics-only coefficient from sourced facts)")
    return (f"<p>Verdicts made with the <b>{escape(str(mode))}</b> coefficient. Declarations "
            f"used for the calibration: {whose}. A site's own declaration never enters the "
            "coefficient its own verdict is made with (leave-one-out); the physics-only "
            "coefficient, which uses no declaration, is shown beside every verdict.</p>")


def provenance(site: SiteRow, scan: ScanFiles) -> dict[str, Any]:
    """Machine-readable provenance of one site's numbers (embedded in its report).

    Holds the software, the imagery folder and every input file with its sha256, the site
    catalog file and its sha256, the grid, the full config, the scenes used, the sha256 of the
    output files the report is drawn from, and the numbers themselves.
    """
    run = scan.run
    name = safe_name(str(site["site_id"]))
    outs = {"sites.geojson": scan.out_dir / "sites.geojson", "run.json": scan.out_dir / "run.json",
            **{f"{sub}/{name}.csv": scan.out_dir / sub / f"{name}.csv"
               for sub in ("series", "nulls")}}
    keys: Final = ("status", "heat_mw", "heat_mw_low", "heat_mw_high", "excess_k_m2",
                   "excess_se_k_m2", "hidden_k_m2", "hidden_se_k_m2",
            "k_m2_per_mw",
            "footprint_m2", "power_density_w_m2", "power_density_w_m2_low",
            "power_density_w_m2_high",
            "first_seen", "last_seen", "possible_shutdown_since", "n_clear",
            "implied_h100e",
            "implied_h100e_low",
            "implied_h100e_high")
    return {
        "site_id": site["site_id"],
        "software": run.get("software"),
        "imagery_dir": run.get("imagery_dir"),
        "inputs": run.get("inputs", []),
        "sites_file": run.get("sites_file"),
        "sites_sha256": run.get("sites_sha256"),
        "scenes": run.get("scenes", []),
        "skipped": run.get("skipped", []),
        "grid": run.get("grid"),
        "config": run.get("config"),
        "outputs_sha256": {k: sha256_file(p) for k, p in outs.items() if p.is_file()},
        "numbers": {k: site.get(k) for k in keys},
    }


def _provenance_section(site: SiteRow, scan: ScanFiles, prov: dict[str, Any]) -> str:
    sw = prov.get("software") or {}
    head = table([
        ["software", f"{sw.get('name', 'heatwatch')} {sw.get('version', '?')}"],
        ["imagery folder", prov.get("imagery_dir")],
        ["site catalog", prov.get("sites_file")],
        ["site catalog sha256", prov.get("sites_sha256")],
        ["grid", json.dumps(prov.get("grid"))],
    ])
    products = table(product_rows(scan.series.get(str(site["site_id"])), scan.run),
                     ["date", "product id", "scene clear fraction", "site clear fraction",
                      "excess (K m²)"])
    inputs = table([[i.get("path"), i.get("product_id"), i.get("used"), i.get("sha256")]
                    for i in prov["inputs"]], ["file", "product id", "used", "sha256"])
    outs = table([[k, v] for k, v in prov["outputs_sha256"].items()], ["output file", "sha256"])
    skipped = table([[s.get("path"), s.get("message")] for s in prov.get("skipped", [])],
                    ["skipped", "why"]) if prov.get("skipped") else "<p>No input was skipped.</p>"
    blob = json.dumps(prov, default=str).replace("<", "\\u003c").replace(">", "\\u003e") \
        .replace("&", "\\u0026")
    return ("<h2>Provenance</h2>" + head + "<h3>Products (this site's looks)</h3>" + products
            + "<h3>Input files</h3>" + inputs + skipped + "<h3>Output files this report is "
            "drawn from</h3>" + outs + "<h3>Reproduce</h3><p>Check every sha256 above, then "
            "<code>heatwatch scan IMAGERY --sites CATALOG --config CONFIG.yaml --out OUT</code> "
            "with the configuration above (or <code>Config.model_validate(config)</code> and "
            "<code>pipeline.scan.run.run_scan</code>), and compare the site's numbers. The same "
            "provenance is embedded as JSON in this page (<code>script#provenance</code>).</p>"
            f'<script type="application/json" id="provenance">{blob}</script>')


def _png_tag(path: Path, alt: str) -> str:
    if not path.is_file():
        return "<p>(no evidence figure: the scan wrote no rasters)</p>"
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f'<img alt="{escape(alt)}" src="data:image/png;base64,{data}">'


def site_report_html(site: SiteRow, scan: ScanFiles, *, figure: Path | None,
                     prov: dict[str, Any] | None = None) -> str:
    """Build the self-contained HTML report of one site (every untrusted string escaped)."""
    title = f"{site['site_id']}" + (f" ({site['name']})" if site.get("name") else "")
    numbers = table([[k, v] for k, v in site.items() if k != "geometry"], ["property", "value"])
    c = site["geometry"].centroid
    prov = prov if prov is not None else provenance(site, scan)
    return (
        f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
        f'<link rel="icon" href="data:,"><title>Heatwatch: {escape(title)}</title>'
        f"<style>{CSS}</style></head><body>"
        f'<p class=small><a href="../{MAP_FILE}">back to the map of the run</a></p>'
        f"<h1>{escape(title)}</h1><p class=small>operator: {fmt(site.get('operator'))}; "
        f"centre {lat_lon_text(c.y, c.x)}; "
        f"{'catalogued site' if site.get('in_catalog') else 'candidate found by the scan'}</p>"
        f'<p class="verdict">{verdict_text(site, roof_margin(scan.run))}</p>'
        f"<h2>Evidence</h2>{_png_tag(figure, f'evidence for {title}') if figure else ''}"
        f"{_energy_section(site, scan)}<h2>All numbers</h2>{numbers}"
        f"{_method_section(scan.run)}{_provenance_section(site, scan, prov)}"
        + "".join(f"<p class=small>Site data: {escape(c)}</p>" for c in data_credits(scan))
        + "</body></html>")


def build_report(out_dir: Path, *, evidence: bool = True, pdf: bool = True) -> dict[str, Any]:
    """(Re)build evidence PNGs, site reports and the interactive map from a finished scan.

    Parameters
    ----------
    out_dir
        The scan's output folder.
    evidence
        Redraw ``evidence/<site>.png`` (needs ``rasters/anomaly_mean.tif``).
    pdf
        Also write ``reports/<site>.pdf`` (:mod:`pipeline.report.pdf`).

    Returns
    -------
    dict
        Paths written: ``evidence``, ``reports`` and ``pdf`` (site id -> path) and ``map``;
        ``not_covered``: the ids of the catalog sites the imagery does not show, for which
        nothing is drawn (see :func:`not_covered`).

    Examples
    --------
    >>> build_report(Path("OUT"))  # doctest: +SKIP
    """
    scan = load_scan(out_dir)
    anomaly = scan.raster(scan.rasters.get("anomaly_mean"))
    basemap = scan.raster(scan.rasters.get("temperature_median"))
    uncovered = not_covered(scan)
    outside = {str(s["site_id"]) for s in uncovered}
    scan.records = [r for r in scan.records if str(r["site_id"]) not in outside]
    scan.run = {**scan.run, "not_covered": uncovered}
    written: dict[str, Any] = {"evidence": {}, "reports": {}, "pdf": {},
                               "not_covered": [s["site_id"] for s in uncovered]}
    for sid in outside:  # evidence an older scan drew from pixels of another place
        name = safe_name(sid)
        for stale in (out_dir / EVIDENCE_DIR / f"{name}.png",
                      out_dir / REPORT_DIR / f"{name}.html", out_dir / REPORT_DIR / f"{name}.pdf"):
            stale.unlink(missing_ok=True)
    for site in scan.records:
        sid = str(site["site_id"])
        name = safe_name(sid)
        png = out_dir / EVIDENCE_DIR / f"{name}.png"
        if evidence and anomaly is not None and sid in scan.series:
            fig = site_figure(site, scan.series[sid], anomaly, basemap=basemap,
                              hotspots=scan.hotspots, null=scan.nulls.get(sid))
            written["evidence"][sid] = write_png(png, fig, dpi=EVIDENCE_DPI)
        prov = provenance(site, scan)
        page = site_report_html(site, scan, figure=png, prov=prov)
        written["reports"][sid] = write_text(out_dir / REPORT_DIR / f"{name}.html", page)
        if pdf:
            written["pdf"][sid] = write_site_pdf(
                site, scan, figure=png, verdict_html=verdict_text(site, roof_margin(scan.run)),
                prov=prov, path=out_dir / REPORT_DIR / f"{name}.pdf")
    written["map"] = write_webmap(scan, out_dir / MAP_FILE, report_dir=REPORT_DIR)
    return written
