"""The interactive page of a run: one self-contained, offline HTML file (Leaflet, inlined).

Why not folium: folium links Leaflet, jQuery, Bootstrap and Font Awesome from CDNs and its
wheel ships none of them, so its page is blank offline. This module writes a small Leaflet page
itself and inlines Leaflet 1.9.3 (BSD-2-Clause; ``pipeline/data/leaflet.js`` and
``leaflet.css``, vendored from the ``django-leaflet`` wheel on PyPI, see
``pipeline/data/leaflet-LICENSE.txt``). There are no web tiles: the background is the scan's
grey temperature basemap and the anomaly rasters are image overlays, each reprojected to Web
Mercator and embedded as a PNG data URI. Data travel as JSON in a
``<script type="application/json">`` block with ``<``, ``>`` and ``&`` escaped, and every
untrusted string in popups, labels and the side table is HTML-escaped in Python.
"""

from __future__ import annotations

import base64
import io
import json
import math
from collections.abc import Mapping
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

import matplotlib
import numpy as np
import xarray as xr
from pyproj import Transformer
from rasterio.enums import Resampling

from pipeline.core.outputs import write_text
from pipeline.core.site_row import SiteRow
from pipeline.core.sites import safe_name
from pipeline.report.evidence import grey_levels, status_text
from pipeline.report.files import ScanFiles, data_credits, not_covered_line

#: Longest side (pixels) of an embedded overlay; larger rasters are resampled to fit.
MAX_OVERLAY_PX = 1200
#: At most this many hotspot polygons are put on the page (largest excess first).
MAX_HOTSPOTS = 2000
ANOMALY_CMAP = "RdBu_r"

PAGE_CSS = """
html,body{margin:0;height:100%;font-family:system-ui,sans-serif}
#wrap{display:flex;height:100%} #map{flex:1 1 auto;background:#ddd}
#side{width:360px;overflow:auto;padding:8px;font-size:13px;border-left:1px solid #bbb}
#side table{border-collapse:collapse;width:100%} #side td,#side th{border-bottom:1px solid #ddd;
padding:2px 4px;text-align:left} .hw-label{font-size:11px;padding:1px 4px}
.hw-legend{background:#fff;padding:4px 6px;font-size:11px;border-radius:4px}
.hw-bar{height:10px;width:180px} .hw-ticks{display:flex;justify-content:space-between}
"""

APP_JS = """
(function () {
  var D = JSON.parse(document.getElementById('hw-data').textContent);
  var map = L.map('map', {zoomSnap: 0.25});
  var base = {}, over = {};
  if (D.basemap) {
    base[D.basemap.label] = L.imageOverlay(D.basemap.url, D.basemap.bounds).addTo(map);
  }
  D.overlays.forEach(function (o, i) {
    var layer = L.imageOverlay(o.url, o.bounds, {opacity: 0.85});
    if (i === 0) { layer.addTo(map); }
    over[o.label] = layer;
  });
  var sites = L.geoJSON(D.sites, {
    style: function (f) {
      return f.properties.in_catalog
        ? {color: '#111', weight: 2, fillOpacity: 0.04, className: 'hw-site'}
        : {color: '#e67e00', weight: 2, dashArray: '5 4', fillOpacity: 0.04,
           className: 'hw-site hw-candidate'};
    },
    onEachFeature: function (f, layer) {
      layer.bindPopup(f.properties.popup, {maxWidth: 380});
      layer.bindTooltip(f.properties.label, {permanent: true, direction: 'top',
                                             className: 'hw-label'});
    }
  }).addTo(map);
  over['sites and candidates'] = sites;
  if (D.hotspots.features.length) {
    over['hotspots (all looks)'] = L.geoJSON(D.hotspots, {
      style: {color: '#d4a000', weight: 1, fillOpacity: 0.1},
      onEachFeature: function (f, layer) { layer.bindPopup(f.properties.popup); }
    });
  }
  if (D.rejected.features.length) {
    over['regions the search rejected (' + D.rejected.features.length + ')'] = L.geoJSON(
      D.rejected, {
        pointToLayer: function (f, ll) {
          return L.circleMarker(ll, {radius: 6, color: '#555', weight: 1, dashArray: '2 2',
                                     fillColor: '#999', fillOpacity: 0.35,
                                     className: 'hw-rejected'});
        },
        onEachFeature: function (f, layer) { layer.bindPopup(f.properties.popup,
                                                             {maxWidth: 380}); }
      });
  }
  L.control.layers(base, over, {collapsed: false}).addTo(map);
  L.control.scale({imperial: false}).addTo(map);
  var legend = L.control({position: 'bottomleft'});
  legend.onAdd = function () {
    var div = L.DomUtil.create('div', 'hw-legend');
    div.innerHTML = D.legend;
    return div;
  };
  legend.addTo(map);
  map.fitBounds(D.bounds);
  document.body.setAttribute('data-hw-sites', String(D.sites.features.length));
})();
"""


def _asset(name: str) -> str:
    return resources.files("pipeline").joinpath(f"data/{name}").read_text(encoding="utf-8")


def leaflet_assets() -> tuple[str, str]:
    """Return the vendored Leaflet JS and CSS, ready to inline.

    CSS ``url(images/...)`` references (layer-control and marker icons, unused here) are
    dropped so the page never asks for a file that is not there.
    """
    import re

    css = re.sub(r"url\(images/[^)]*\)", "none", _asset("leaflet.css"))
    return _asset("leaflet.js"), css


def _script_json(data: Any) -> str:
    """JSON that is safe inside a ``<script>`` element (no ``</script>`` or ``<!--``)."""
    text = json.dumps(data, allow_nan=False, default=str)
    return text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")


def _png_data_uri(rgba: np.ndarray) -> str:
    import matplotlib.image

    buf = io.BytesIO()
    matplotlib.image.imsave(buf, rgba, format="png")
    return "data:image/png;base64," + base64.b64encode(buf.getvalue()).decode("ascii")


def _to_mercator(da: xr.DataArray) -> xr.DataArray:
    res = abs(float(da["x"].values[1] - da["x"].values[0])) if da.sizes["x"] > 1 else 30.0
    factor = max(1.0, max(da.shape) / MAX_OVERLAY_PX)
    return da.rio.reproject("EPSG:3857", resolution=res * factor, resampling=Resampling.nearest,
                            nodata=np.nan)


def _bounds_latlon(da: xr.DataArray) -> list[list[float]]:
    left, bottom, right, top = da.rio.bounds()
    to_ll = Transformer.from_crs(da.rio.crs, 4326, always_xy=True)
    w, s = to_ll.transform(left, bottom)
    e, n = to_ll.transform(right, top)
    return [[s, w], [n, e]]


def image_overlay(da: xr.DataArray, *, cmap: str, vmin: float, vmax: float,
                  hide_below: float | None = None, opacity: float = 1.0) -> dict[str, Any]:
    """Turn a raster into a Leaflet image overlay: PNG data URI and lat/lon bounds.

    Parameters
    ----------
    da
        (y, x) raster with a CRS.
    cmap, vmin, vmax
        Matplotlib colour map and its range.
    hide_below
        Leave pixels with ``|value| < hide_below`` transparent.
    opacity
        Alpha of the shown pixels.

    Returns
    -------
    dict
        ``url`` (data URI) and ``bounds`` (``[[south, west], [north, east]]``).
    """
    merc = _to_mercator(da)
    v = merc.values.astype(np.float64)
    norm = np.clip((v - vmin) / max(vmax - vmin, 1e-9), 0, 1)
    rgba = matplotlib.colormaps[cmap](np.nan_to_num(norm))
    show = np.isfinite(v)
    if hide_below is not None:
        show &= np.abs(np.nan_to_num(v)) >= hide_below
    rgba[..., 3] = np.where(show, opacity, 0.0)
    return {"url": _png_data_uri(rgba), "bounds": _bounds_latlon(merc)}


def _legend(lim: float) -> str:
    cmap = matplotlib.colormaps[ANOMALY_CMAP]
    stops = ",".join(matplotlib.colors.to_hex(cmap(i / 10)) for i in range(11))
    return (f"anomaly (K)<div class=hw-bar style=\"background:linear-gradient(to right,{stops})\">"
            f"</div><div class=hw-ticks><span>{-lim:.1f}</span><span>0</span>"
            f"<span>+{lim:.1f}</span></div>")


def _num(v: Any, nd: int = 0) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "-"
    return f"{v:,.{nd}f}" if isinstance(v, int | float) else escape(str(v))


def _heat_html(d: Mapping[str, Any]) -> str:
    """Return a row's heat and its 90 % interval, ``475 [230, 960]`` (``-`` where missing)."""
    return (f"{_num(d.get('heat_mw'))} "
            f"[{_num(d.get('heat_mw_low'))}, {_num(d.get('heat_mw_high'))}]")


def _site_html(site: SiteRow, link: str) -> str:
    rows = [
        ("status", escape(status_text(site))),
        ("heat MW [90 %]", _heat_html(site)),
        ("calibration", escape(str(site.get("heat_calibration")))),
        ("W/m² of footprint", _num(site.get("power_density_w_m2"))),
        ("null p (placebo rank)", _num(site.get("null_p_value"), 4)),
        ("first / last seen", f"{_num(site.get('first_seen'))} / {_num(site.get('last_seen'))}"),
        *([("possible shutdown since", _num(site["possible_shutdown_since"]))]
          if isinstance(site.get("possible_shutdown_since"), str) else []),
        ("clear looks", f"{_num(site.get('n_clear'))} of {_num(site.get('n_looks'))}"),
        ("implied H100e", f"{_num(site.get('implied_h100e'))} "
                          f"[{_num(site.get('implied_h100e_low'))}, "
                          f"{_num(site.get('implied_h100e_high'))}]"
                          + (f" as {escape(str(site['accelerator']))} "
                             f"({escape(str(site.get('accelerator_source')))})"
                             if site.get("accelerator") else "")),
        ("declared MW (last look)", _num(site.get("reported_power_mw"))
         + (f" since {escape(str(site['reported_power_since']))}"
            if site.get("reported_power_since") else "")),
        ("verdict", escape(str(site.get("verdict")))
         + (f" (margin {_num(site.get('verdict_margin'), 2)})"
            if site.get("verdict_margin") is not None else "")),
        ("verdict made with", escape(str(site.get("verdict_calibration")))),
        ("physics-only verdict", escape(str(site.get("verdict_physics")))
         + (" <b>(fitted and physics disagree)</b>"
            if site.get("calibration_agreement") == "disagree" else "")),
    ]
    name = f" ({escape(str(site['name']))})" if site.get("name") else ""
    op = f"<br>operator: {escape(str(site['operator']))}" if site.get("operator") else ""
    body = "".join(f"<tr><th>{k}</th><td>{v}</td></tr>" for k, v in rows)
    return (f"<b>{escape(str(site['site_id']))}</b>{name}{op}<table>{body}</table>"
            f'<a href="{escape(link)}">site report</a>')


def _features(scan: ScanFiles, report_dir: str) -> dict[str, Any]:
    from shapely.geometry import mapping


    feats = []
    for site in scan.records:
        link = f"{report_dir}/{safe_name(str(site['site_id']))}.html"
        feats.append({"type": "Feature", "geometry": mapping(site["geometry"]), "properties": {
            "in_catalog": bool(site.get("in_catalog")), "label": escape(str(site["site_id"])),
            "popup": _site_html(site, link)}})
    return {"type": "FeatureCollection", "features": feats}


def _rejected_features(scan: ScanFiles) -> dict[str, Any]:
    """Points of the regions the candidate search found and rejected, each with its reason.

    ``run.json`` lists them (``rejected_candidates``: place, heat, pattern, reason); on the
    map an analyst sees where the search looked and why it said no, e.g. a campus whose null
    had too little land around it.
    """
    feats = []
    for r in scan.run.get("rejected_candidates") or []:
        lon, lat = r.get("lon"), r.get("lat")
        if not isinstance(lon, int | float) or not isinstance(lat, int | float):
            continue
        # how many of the scene's other searched regions change at its look (a land event)
        busiest = r.get("busiest_other_look_regions")
        shared = (f"<tr><th>regions changing at its look</th><td>"
                  f"{_num(r['shared_change_regions'])} of {_num(r.get('searched_regions'))}"
                  + (f" (at most {_num(busiest)} at another look)" if busiest is not None else "")
                  + "</td></tr>") if r.get("shared_change_regions") is not None else ""
        popup = (f"<b>{escape(str(r.get('site_id')))}</b> (rejected)<table>"
                 f"<tr><th>heat MW [90 %]</th><td>{_heat_html(r)}</td></tr>"
                 f"<tr><th>pattern</th><td>{_num(r.get('pattern'))}</td></tr>"
                 f"<tr><th>heat seen</th><td>{_num(r.get('first_seen'))} to "
                 f"{_num(r.get('last_seen'))}</td></tr>{shared}"
                 f"<tr><th>why</th><td>{_num(r.get('rejected_because'))}</td></tr></table>")
        feats.append({"type": "Feature",
                      "geometry": {"type": "Point", "coordinates": [lon, lat]},
                      "properties": {"popup": popup}})
    return {"type": "FeatureCollection", "features": feats}


def _hotspot_features(scan: ScanFiles) -> dict[str, Any]:
    hs = scan.hotspots
    if not len(hs):
        return {"type": "FeatureCollection", "features": []}
    if "excess_k_m2" in hs and len(hs) > MAX_HOTSPOTS:
        hs = hs.sort_values("excess_k_m2", ascending=False).head(MAX_HOTSPOTS)
    feats = []
    for row in hs.to_dict("records"):
        popup = (f"hotspot {escape(str(row.get('date')))}<br>{escape(str(row.get('product_id')))}"
                 f"<br>mean anomaly {_num(row.get('mean_anomaly_k'), 1)} K, area "
                 f"{_num(row.get('area_m2'))} m²")
        feats.append({"type": "Feature", "geometry": row["geometry"].__geo_interface__,
                      "properties": {"popup": popup}})
    return {"type": "FeatureCollection", "features": feats}


def _overlays(scan: ScanFiles) -> tuple[dict[str, Any] | None, list[dict[str, Any]], float]:
    r = scan.rasters
    mean = scan.raster(r.get("anomaly_mean"))
    dated = [(d, scan.raster(d.get("path"))) for d in r.get("anomaly_dates", [])]
    lim = 2.0
    if mean is not None and np.isfinite(mean.values).any():
        lim = max(lim, float(np.nanpercentile(np.abs(mean.values), 99.5)))
    overlays = []
    if mean is not None:
        overlays.append({"label": "mean anomaly, all clear looks",
                         **image_overlay(mean, cmap=ANOMALY_CMAP, vmin=-lim, vmax=lim,
                                         hide_below=0.5, opacity=0.8)})
    for d, da in dated:
        if da is not None:
            overlays.append({"label": f"anomaly {escape(str(d.get('date')))} "
                                      f"({escape(str(d.get('product_id')))})",
                             **image_overlay(da, cmap=ANOMALY_CMAP, vmin=-lim, vmax=lim,
                                             hide_below=0.5, opacity=0.8)})
    base = scan.raster(r.get("temperature_median"))
    basemap = None
    if base is not None and np.isfinite(base.values).any():
        basemap = {"label": "grey basemap: median temperature",
                   **image_overlay(base.copy(data=grey_levels(base.values)), cmap="gray",
                                   vmin=0.0, vmax=1.0)}
    return basemap, overlays, lim


def _side_table(scan: ScanFiles, report_dir: str) -> str:

    rows = []
    for s in scan.records:
        link = f"{report_dir}/{safe_name(str(s['site_id']))}.html"
        rows.append(f'<tr><td><a href="{escape(link)}">{escape(str(s["site_id"]))}</a></td>'
                    f"<td>{escape(status_text(s))}</td><td>{_heat_html(s)}</td></tr>")
    sw = scan.run.get("software") or {}
    n = len(scan.run.get("scenes", []))
    return (f"<h2>Heatwatch run</h2><p>{n} looks, {len(scan.records)} sites and candidates. "
            f"{escape(str(sw.get('name', 'heatwatch')))} {escape(str(sw.get('version', '')))}"
            "</p><table><tr><th>site</th><th>status</th><th>heat MW [90 %]</th></tr>"
            + "".join(rows) + "</table>" + _rejected_html(scan) + _not_covered_html(scan)
            + _calibration_html(scan)
            + "<p>Landsat 8/9 TIRS (USGS). Click a site for its "
            "numbers; the layer control switches the per-date anomaly overlays.</p>"
            + "".join(f"<p>Site data: {escape(c)}</p>" for c in data_credits(scan)))


def _rejected_html(scan: ScanFiles) -> str:
    n = len(scan.run.get("rejected_candidates") or [])
    if not n:
        return ""
    return (f"<p>{n} region(s) the search found and rejected: the layer 'regions the search "
            "rejected' shows where, each with its heat and reason (all in run.json).</p>")


def _not_covered_html(scan: ScanFiles) -> str:

    line = not_covered_line(scan.run.get("not_covered") or [])
    return f"<p>{escape(line)}.</p>" if line else ""


def _calibration_html(scan: ScanFiles) -> str:
    cal = scan.run.get("calibration") or {}
    if "declarations_used" not in cal:
        return ""
    used = ", ".join(str(u) for u in cal["declarations_used"]) or "none"
    return (f"<p>Verdicts made with the {escape(str(cal.get('mode')))} coefficient; "
            f"declarations used for the calibration: {escape(used)} (never a site's own, for "
            "its own verdict).</p>")


def webmap_html(scan: ScanFiles, *, report_dir: str = "reports") -> str:
    """Build the interactive page of a run as one self-contained HTML string.

    Parameters
    ----------
    scan
        The finished scan (:func:`pipeline.report.files.load_scan`).
    report_dir
        Folder of the site reports, relative to the page (popups and the table link there).

    Returns
    -------
    str
        HTML with Leaflet, its CSS, the overlays and the data inlined; no network needed.
    """
    basemap, overlays, lim = _overlays(scan)
    sites = _features(scan, report_dir)
    pts = [c for f in scan.records for c in (f["geometry"].bounds,)]
    boxes = [o["bounds"] for o in ([basemap] if basemap else []) + overlays]
    if boxes:
        bounds = [[min(b[0][0] for b in boxes), min(b[0][1] for b in boxes)],
                  [max(b[1][0] for b in boxes), max(b[1][1] for b in boxes)]]
    elif pts:
        bounds = [[min(p[1] for p in pts), min(p[0] for p in pts)],
                  [max(p[3] for p in pts), max(p[2] for p in pts)]]
    else:
        bounds = [[-60.0, -180.0], [75.0, 180.0]]
    data = {"basemap": basemap, "overlays": overlays, "sites": sites,
            "hotspots": _hotspot_features(scan), "rejected": _rejected_features(scan),
            "bounds": bounds, "legend": _legend(lim)}
    js, css = leaflet_assets()
    return ("<!DOCTYPE html><html lang=en><head><meta charset=utf-8>"
            '<meta name=viewport content="width=device-width, initial-scale=1">'
            '<link rel="icon" href="data:,"><title>Heatwatch run map</title>'
            f"<style>{css}{PAGE_CSS}</style><script>{js}</script></head><body>"
            f'<div id=wrap><div id=map></div><aside id=side>{_side_table(scan, report_dir)}'
            f'</aside></div><script type="application/json" id="hw-data">{_script_json(data)}'
            f"</script><script>{APP_JS}</script></body></html>")


def write_webmap(scan: ScanFiles, path: Path, *, report_dir: str = "reports") -> Path:
    """Write :func:`webmap_html` atomically to ``path``."""
    return write_text(path, webmap_html(scan, report_dir=report_dir))
