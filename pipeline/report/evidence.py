"""Evidence figures: per-site anomaly map and excess time series (print-quality PNG, Agg).

The map panel shows the mean clear-sky anomaly (K) over a grey temperature basemap, with the
site outline, the hotspot outlines, a scale bar, a north arrow, projected and geographic
coordinates, the looks it is made of and the heat estimate with its interval. The series
panel shows the integrated excess of every look (clear looks as dots, cloudy ones as crosses),
the solar-decoupled excess, the heat estimate with its interval band over the active period,
first and last seen, and the declared power in force on each look (a step line) when known,
with the site data's credit (Epoch AI, CC-BY 4.0) under the figure. Where the scan wrote the
site's placebo null, a third panel shows its heat statistic among its land's own
(:mod:`pipeline.report.null_panel`). Everything is drawn from
the files a scan writes, so ``heatwatch report`` redraws it without rescanning.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import matplotlib
import matplotlib.dates

matplotlib.use("Agg")
import geopandas as gpd
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import xarray as xr
from matplotlib.figure import Figure
from pyproj import Transformer
from shapely.geometry.base import BaseGeometry

from pipeline.core.grid import from_lonlat
from pipeline.core.site_row import SiteRow
from pipeline.report.null_panel import null_panel

#: Resolution of the evidence PNGs, dots per inch.
EVIDENCE_DPI = 200

#: Map padding around the site, metres.
PAD_M = 1500.0
#: Anomalies smaller than this (K) are left transparent over the basemap.
SHOW_ABOVE_K = 0.5


def upper_limit(site: SiteRow) -> float | None:
    """Return the 90 % upper limit (MW) of a site without detected heat, else None.

    Not seen is not proven idle: this is the heat it could run below the detection limit.

    Examples
    --------
    >>> upper_limit({"heat_mw": 0.0, "heat_mw_low": 0.0, "heat_mw_high": 47.6})
    47.6
    >>> upper_limit({"heat_mw": 50.0, "heat_mw_low": 30.0, "heat_mw_high": 80.0}) is None
    True
    """
    high = site.get("heat_mw_high")
    if site.get("heat_mw") == 0 and isinstance(high, int | float) and np.isfinite(high) \
            and high > 0:
        return float(high)
    return None


def status_reason(site: Mapping[str, Any]) -> str | None:
    """Return why a place is not a datacenter candidate, to show beside its status, else None.

    ``site`` is a site row or a monitor status row (:class:`pipeline.core.site_row.StatusRow`,
    whose ``status_note`` says why a fitted stop is ``undetermined``): a ``Mapping`` view, as
    the two rows share only some of these keys.

    An ``excluded`` place lies near a known non-datacenter heat source (its ``exclusion``
    label); a rejected one carries ``rejected_because``. Neither implies accelerators.

    Examples
    --------
    >>> status_reason({"status": "excluded", "exclusion": "Plant Bowen (power plant)"})
    'near Plant Bowen (power plant)'
    >>> status_reason({"status": "active", "exclusion": None}) is None
    True
    """
    exclusion = site.get("exclusion")
    if site.get("status") == "excluded":
        return f"near {exclusion}" if isinstance(exclusion, str) and exclusion else \
            "near a known non-datacenter heat source"
    rejected = site.get("rejected_because") or site.get("status_note")
    return rejected if isinstance(rejected, str) and rejected else None


def status_text(site: Mapping[str, Any]) -> str:
    """Return the status with its reason when it has one, e.g. ``excluded: near X (plant)``.

    Examples
    --------
    >>> status_text({"status": "excluded", "exclusion": "Plant Bowen (power plant)"})
    'excluded: near Plant Bowen (power plant)'
    >>> status_text({"status": "candidate"})
    'candidate'
    """
    reason = status_reason(site)
    status = str(site.get("status"))
    return f"{status}: {reason}" if reason else status


def heat_text(site: SiteRow) -> str:
    """One-line heat estimate with its 90 % interval and calibration.

    Examples
    --------
    >>> heat_text({"heat_mw": 50.0, "heat_mw_low": 30.0, "heat_mw_high": 80.0,
    ...            "heat_calibration": "default"})
    'heat 50 MW [30, 80] (90 %, default calibration)'
    >>> heat_text({"heat_mw": 0.0, "heat_mw_low": 0.0, "heat_mw_high": 47.6,
    ...            "heat_calibration": "fitted"})
    'no heat detected: below 48 MW (90 % upper limit, fitted calibration)'
    """
    heat = site.get("heat_mw")
    if heat is None or not np.isfinite(heat):
        return "heat n/a"
    calibration = f"{site.get('heat_calibration') or '?'} calibration"
    limit = upper_limit(site)
    if limit is not None:
        return f"no heat detected: below {limit:.0f} MW (90 % upper limit, {calibration})"
    low, high = site.get("heat_mw_low"), site.get("heat_mw_high")
    # a bound is None when the site has no clear look (e.g. it lies outside every scene)
    lo, hi = ("?" if v is None or not np.isfinite(v) else f"{v:.0f}" for v in (low, high))
    return f"heat {heat:.0f} MW [{lo}, {hi}] (90 %, {calibration})"


def grey_levels(values: np.ndarray) -> np.ndarray:
    """Temperatures scaled to light grey levels (0.3 to 0.95) by their 2-98 % range.

    Examples
    --------
    >>> grey_levels(np.array([280.0, 290.0, np.nan])).round(2).tolist()[:2]
    [0.3, 0.95]
    """
    if not np.isfinite(values).any():
        return np.full(values.shape, np.nan)
    lo, hi = np.nanpercentile(values, [2, 98])
    return 0.3 + 0.65 * np.clip((values - lo) / max(hi - lo, 0.1), 0, 1)


def lat_lon_text(lat: float, lon: float) -> str:
    """Latitude and longitude with hemispheres, e.g. ``36.1324°N 92.9849°W``.

    Examples
    --------
    >>> lat_lon_text(-1.5, -92.25)
    '1.5000°S 92.2500°W'
    """
    return f"{abs(lat):.4f}°{'N' if lat >= 0 else 'S'} {abs(lon):.4f}°{'E' if lon >= 0 else 'W'}"


def _window(da: xr.DataArray, bounds: tuple[float, float, float, float]) -> xr.DataArray:
    x0, y0, x1, y1 = bounds
    sub = da.sel(x=slice(x0 - PAD_M, x1 + PAD_M), y=slice(y1 + PAD_M, y0 - PAD_M))
    return sub if sub.size else da


def _extent_km(da: xr.DataArray) -> tuple[float, float, float, float]:
    x, y = da["x"].values, da["y"].values
    rx = abs(float(x[1] - x[0])) if x.size > 1 else 30.0
    ry = abs(float(y[1] - y[0])) if y.size > 1 else 30.0
    return ((x.min() - rx / 2) / 1e3, (x.max() + rx / 2) / 1e3,
            (y.min() - ry / 2) / 1e3, (y.max() + ry / 2) / 1e3)


def _outline(ax: Any, geom: BaseGeometry, **style: Any) -> None:
    polys = getattr(geom, "geoms", [geom])
    for p in polys:
        if p.is_empty or not hasattr(p, "exterior"):
            continue
        x, y = p.exterior.xy
        ax.plot(np.asarray(x) / 1e3, np.asarray(y) / 1e3, **style)


def _scale_bar(ax: Any, extent: tuple[float, float, float, float]) -> None:
    width = extent[1] - extent[0]
    bar = next((b for b in (10, 5, 2, 1, 0.5, 0.2, 0.1) if b <= width / 4), 0.1)
    x0 = extent[0] + 0.05 * width
    y0 = extent[2] + 0.06 * (extent[3] - extent[2])
    ax.plot([x0, x0 + bar], [y0, y0], color="k", lw=4, solid_capstyle="butt")
    ax.plot([x0, x0 + bar], [y0, y0], color="w", lw=1.5, solid_capstyle="butt")
    ax.text(x0 + bar / 2, y0 + 0.015 * (extent[3] - extent[2]), f"{bar:g} km", ha="center",
            va="bottom", fontsize=8, bbox={"fc": "w", "ec": "none", "alpha": 0.7, "pad": 1})


def _north_arrow(ax: Any) -> None:
    ax.annotate("N", xy=(0.93, 0.95), xytext=(0.93, 0.80), xycoords="axes fraction",
                ha="center", va="center", fontsize=11, fontweight="bold",
                arrowprops={"arrowstyle": "-|>", "color": "k", "lw": 1.5},
                bbox={"fc": "w", "ec": "none", "alpha": 0.7, "pad": 1})


def _corner_lonlat(ax: Any, da: xr.DataArray, extent: tuple[float, float, float, float]) -> None:
    to_ll = Transformer.from_crs(da.rio.crs, 4326, always_xy=True)
    lon0, lat0 = to_ll.transform(extent[0] * 1e3, extent[2] * 1e3)
    lon1, lat1 = to_ll.transform(extent[1] * 1e3, extent[3] * 1e3)
    ax.text(0.01, 0.99, lat_lon_text(lat1, lon0), transform=ax.transAxes, va="top",
            fontsize=7, bbox={"fc": "w", "ec": "none", "alpha": 0.7, "pad": 1})
    ax.text(0.99, 0.01, lat_lon_text(lat0, lon1), transform=ax.transAxes, ha="right",
            va="bottom", fontsize=7, bbox={"fc": "w", "ec": "none", "alpha": 0.7, "pad": 1})


def _map_panel(ax: Any, site: SiteRow, anomaly: xr.DataArray,
               basemap: xr.DataArray | None, hotspots: gpd.GeoDataFrame | None) -> None:
    crs = anomaly.rio.crs
    geom = from_lonlat(site["geometry"], crs)
    sub = _window(anomaly, geom.bounds)
    extent = _extent_km(sub)
    if basemap is not None:
        base = grey_levels(_window(basemap, geom.bounds).values)
        ax.imshow(base, cmap="gray", vmin=0, vmax=1, extent=extent, interpolation="nearest")
    a = sub.values
    lim = max(2.0, float(np.nanpercentile(np.abs(a), 99.5)) if np.isfinite(a).any() else 2.0)
    shown = np.ma.masked_where(~np.isfinite(a) | (np.abs(a) < SHOW_ABOVE_K), a)
    im = ax.imshow(shown, cmap="RdBu_r", vmin=-lim, vmax=lim, extent=extent, alpha=0.75,
                   interpolation="nearest")
    if hotspots is not None and len(hotspots):
        hs = hotspots.to_crs(crs).cx[extent[0] * 1e3:extent[1] * 1e3,
                                     extent[2] * 1e3:extent[3] * 1e3]
        if len(hs):
            _outline(ax, hs.union_all(), color="gold", lw=0.9)
            ax.plot([], [], color="gold", lw=0.9, label=f"hotspots ({hs['date'].nunique()} looks)"
                    if "date" in hs else "hotspots")
    _outline(ax, geom, color="w", lw=2.6)
    _outline(ax, geom, color="k", lw=1.2)
    ax.plot([], [], color="k", lw=1.2, label="site outline")
    ax.set_xlim(extent[0], extent[1])
    ax.set_ylim(extent[2], extent[3])
    ax.set_aspect("equal")
    ax.set_xlabel(f"easting (km), {crs.to_string()}")
    ax.set_ylabel("northing (km)")
    ax.ticklabel_format(useOffset=False, style="plain")
    _scale_bar(ax, extent)
    _north_arrow(ax)
    _corner_lonlat(ax, sub, extent)
    ax.legend(fontsize=7, loc="lower right", bbox_to_anchor=(1.0, 0.06))
    ax.set_title(anomaly.attrs.get("long_name", "mean clear-sky anomaly"), fontsize=9)
    plt.colorbar(im, ax=ax, label="anomaly (K)", shrink=0.8)


def _mw_per_k_m2(site: SiteRow) -> float | None:
    k = site.get("k_m2_per_mw")
    if k is not None and np.isfinite(k) and k > 0:
        return 1.0 / float(k)
    heat, ex = site.get("heat_mw"), site.get("excess_k_m2")  # scans from before k_m2_per_mw
    if heat is None or not ex or not np.isfinite(heat) or not np.isfinite(ex):
        return None
    return float(heat) / float(ex)


def _heat_band(ax: Any, d: pd.Series, act: np.ndarray, site: SiteRow,
               mw_per: float | None) -> None:
    if not act.any():
        limit = upper_limit(site)
        if mw_per and limit is not None:
            ax.axhline(limit / mw_per / 1e3, color="C3", ls=":", lw=1.2,
                       label=f"90 % upper limit ({limit:.0f} MW)")
        return
    t0, t1 = d[act].min(), d[act].max()
    ax.axvspan(t0, t1, color="C3", alpha=0.06, label="active period")
    ex = site.get("excess_k_m2")
    if ex is None:
        return
    ax.hlines(ex / 1e3, t0, t1, color="C3", lw=1.5, label="solar-decoupled heat")
    low, high = site["heat_mw_low"], site["heat_mw_high"]
    if mw_per and low is not None and high is not None:  # bounds are None only if not finite
        lo, hi = low / mw_per / 1e3, high / mw_per / 1e3
        ax.fill_between([t0, t1], lo, hi, color="C3", alpha=0.15, label="90 % heat interval")


def _seen_lines(ax: Any, site: SiteRow) -> None:
    for key, label in (("first_seen", "first seen"), ("last_seen", "last seen")):
        val = site.get(key)
        if val:
            t = pd.Timestamp(str(val)[:10])
            ax.axvline(t, color="k", ls=":", lw=0.8)
            ax.text(t, 1.0, f" {label} {str(val)[:10]}", transform=ax.get_xaxis_transform(),
                    rotation=90, va="top", ha="right", fontsize=7)
    since = site.get("possible_shutdown_since")
    if isinstance(since, str) and since:
        # often the last seen date too: its label stands at the foot of the line instead
        t = pd.Timestamp(since[:10])
        ax.axvline(t, color="C1", ls="--", lw=0.9)
        ax.text(t, 0.0, f"possible shutdown {since[:10]} ", transform=ax.get_xaxis_transform(),
                rotation=90, va="bottom", ha="left", fontsize=7, color="C1")


def _declared_line(ax: Any, d: pd.Series, series: pd.DataFrame, site: SiteRow,
                   mw_per: float | None) -> None:
    """Draw the declared power in force on each look as a step line (steps at timeline rows)."""
    if not mw_per:
        return
    if "declared_power_mw" in series:
        mw = pd.to_numeric(series["declared_power_mw"], errors="coerce").to_numpy(dtype=float)
        if np.isfinite(mw).any():
            last = mw[np.isfinite(mw)][-1]
            steps = len({float(v) for v in mw[np.isfinite(mw)]})
            label = (f"declared power in force ({last:.0f} MW at the last look)" if steps > 1
                     else f"declared {last:.0f} MW")
            if not last > 0:
                label += ": nothing declared yet"
            ax.step(d, mw / mw_per / 1e3, where="post", color="C0", ls="--", lw=1.2,
                    label=label)
        return
    rep = site.get("reported_power_mw")  # a scan written before dated declarations
    if rep is not None and np.isfinite(rep):
        ax.axhline(rep / mw_per / 1e3, color="C0", ls="--", label=f"declared {rep:.0f} MW")


def _series_panel(ax: Any, series: pd.DataFrame, site: SiteRow) -> None:
    d = pd.to_datetime(series["date"])
    clear = series["clear"].to_numpy(dtype=bool)
    act = series["active"].to_numpy(dtype=bool)
    mw_per = _mw_per_k_m2(site)
    ax.plot(d[clear], series.loc[clear, "excess_k_m2"] / 1e3, "o", color="0.45", ms=4,
            label="integrated excess (clear look)")
    ax.plot(d[clear], series.loc[clear, "residual_heat_k_m2"] / 1e3, "o", mfc="none",
            color="C3", ms=5, label="solar-decoupled excess")
    ax.plot(d[~clear], np.zeros((~clear).sum()), "x", color="0.6", ms=5,
            label="cloudy / no clear look")
    # night looks (Level-1, no sun: s = 0) in their own marker; a scan before night looks
    # has no day_night column
    night = (series["day_night"] == "NIGHT").to_numpy() if "day_night" in series else \
        np.zeros(len(series), dtype=bool)
    if (night & clear).any():
        ax.plot(d[night & clear], series.loc[night & clear, "excess_k_m2"] / 1e3, "*",
                color="midnightblue", ms=9, label="night look (no sun)")
    if "baseline" in series and series["baseline"].astype(bool).any():
        base = d[series["baseline"].astype(bool).to_numpy()]
        ax.axvspan(base.min(), base.max(), color="0.85", zorder=0, label="declared baseline")
    _heat_band(ax, d, act, site, mw_per)
    _declared_line(ax, d, series, site, mw_per)
    _seen_lines(ax, site)
    ax.axhline(0, color="k", lw=0.5)
    ax.set_ylabel("excess (10³ K m²)")
    if mw_per:
        sec = ax.secondary_yaxis("right", functions=(lambda v: v * 1e3 * mw_per,
                                                     lambda v: v / 1e3 / mw_per))
        sec.set_ylabel("heat (MW, central calibration)")
    locator = matplotlib.dates.AutoDateLocator()
    ax.xaxis.set_major_locator(locator)
    ax.xaxis.set_major_formatter(matplotlib.dates.ConciseDateFormatter(locator))
    ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.09), ncol=4,
              frameon=False)
    ax.set_title(f"excess over time: {int(clear.sum())} clear of {len(series)} looks",
                 fontsize=9)


def site_figure(site: SiteRow, series: pd.DataFrame, anomaly: xr.DataArray, *,
                basemap: xr.DataArray | None = None,
                hotspots: gpd.GeoDataFrame | None = None,
                null: pd.DataFrame | None = None) -> Figure:
    """Evidence figure: anomaly map over a grey basemap, the excess series, and the null.

    Parameters
    ----------
    site
        One site record as in ``sites.geojson`` (``geometry`` a lon/lat shapely geometry).
    series
        The site's series (``series/<site>.csv``).
    anomaly
        Anomaly raster (K) on the scan grid, with CRS (e.g. ``rasters/anomaly_mean.tif``).
    basemap
        Optional grey basemap on the same grid (``rasters/temperature_median.tif``).
    hotspots
        Optional hotspot polygons (``hotspots.geojson``).
    null
        Optional placebo null of the site (``nulls/<site>.csv``): a third panel shows the
        statistic its test judged among its placebos' (none when the site has no statistic).

    Returns
    -------
    matplotlib.figure.Figure
        Save it with :func:`pipeline.core.outputs.write_png`.
    """
    if site.get("null_statistic") is None:
        null = None  # nothing its test judged: no null panel
    ratios = [1, 1.45] if null is None else [1, 1.45, 0.85]
    fig, axes = plt.subplots(1, len(ratios), figsize=(14 if null is None else 19.5, 5.8),
                             gridspec_kw={"width_ratios": ratios})
    ax_map, ax_ts = axes[0], axes[1]
    _map_panel(ax_map, site, anomaly, basemap, hotspots)
    _series_panel(ax_ts, series, site)
    if null is not None and not null_panel(axes[2], null, site, _mw_per_k_m2(site)):
        fig.delaxes(axes[2])  # no placebo has the statistic: nothing to compare with
    name = f" ({site['name']})" if site.get("name") else ""
    since = site.get("possible_shutdown_since")
    pending = f"; possible shutdown since {since[:10]}" if isinstance(since, str) else ""
    fig.suptitle(f"{site['site_id']}{name}: {status_text(site)}, {heat_text(site)}; "
                 f"first seen {str(site.get('first_seen') or '-')[:10]}, "
                 f"last seen {str(site.get('last_seen') or '-')[:10]}{pending}", fontsize=10,
                 parse_math=False)  # ids and names are untrusted: no mathtext
    clear = series[series["clear"].astype(bool)]
    looks = (f"{clear['date'].iloc[0]} to {clear['date'].iloc[-1]}; last clear look "
             f"{clear['product_id'].iloc[-1]}" if len(clear) else "no clear look")
    credit = f" Site data: {site['data_credit']}." if site.get("data_credit") else ""
    fig.text(0.01, 0.01, f"Landsat 8/9 TIRS band 10 (USGS), looks {looks}.{credit} Generated by "
             "Heatwatch.", fontsize=7, color="0.3", parse_math=False)
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    return fig
