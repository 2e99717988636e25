"""A tiny seeded world for the report, web-map and reproducibility tests.

Ten Landsat L2 looks over a 100 x 100 pixel (3 km) UTM 15N area: a dry-cooled campus that
switches on at the fifth look, a sun-heated warehouse roof, one half-cloudy look. Site ids and
names are hostile on purpose (``../../etc``, ``<script>alert(1)</script>``). The world is
scanned through the real CLI, so ``run.json`` records the sites file and its sha256.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import geopandas as gpd
import numpy as np
from affine import Affine
from scipy.ndimage import gaussian_filter
from shapely.geometry import box
from typer.testing import CliRunner

from pipeline.io.c2write import product_id, write_l2_product
from pipeline.science.qa import encode

N = 100
X0, Y0 = 500_000.0, 4_000_000.0
TRANSFORM = Affine(30, 0, X0, 0, -30, Y0)
CAMPUS = "../../etc"
CAMPUS_NAME = "<script>alert(1)</script>"
ROOF = "roof"
#: Markup and a broken mathtext expression: must reach HTML escaped and figures verbatim.
ROOF_NAME = "Warehouse & <b>roof</b> $\\undefinedmacro{x}$"


def _pixel_box(r0: int, r1: int, c0: int, c1: int):  # type: ignore[no-untyped-def]
    return box(X0 + c0 * 30, Y0 - r1 * 30, X0 + c1 * 30, Y0 - r0 * 30)


def seasonal_look(when: datetime, shape: tuple[int, int], rng: np.random.Generator
                  ) -> tuple[np.ndarray, float, float]:
    """Plain land on ``when``: a seasonal air temperature, 4 K x solar loading, 0.1 K noise.

    Returns the temperatures, the solar loading ``sin(elevation)`` and the sun elevation.
    """
    doy = when.timetuple().tm_yday
    elev = 45 + 25 * np.sin(2 * np.pi * (doy - 80) / 365)
    s = np.sin(np.radians(elev))
    t = np.full(shape, 285 + 10 * np.sin(2 * np.pi * (doy - 110) / 365)) + 4 * s
    t += rng.normal(0, 0.1, shape)
    return t, s, elev


def make_world(root: Path, *, n_looks: int = 10) -> tuple[Path, Path]:
    """Write the looks and the site catalog; return ``(imagery_dir, sites_path)``."""
    rng = np.random.default_rng(7)
    imagery = root / "imagery"
    for i in range(n_looks):
        when = datetime(2024, 1, 5, 16, 30, tzinfo=timezone.utc) + timedelta(days=32 * i)
        t, s, elev = seasonal_look(when, (N, N), rng)
        t[20:35, 20:35] += 12 * s  # warehouse roof: follows the sun
        if i >= 4:
            t[60:75, 60:75] += 10.0  # campus yard: constant heat once on
        t = gaussian_filter(t, 1.2)
        cloud = np.zeros((N, N), bool)
        if i == 2:
            cloud[:, :60] = True  # half-cloudy look: both sites under cloud
        pid = product_id(spacecraft=8 if i % 2 else 9, level="L2SP", wrs_path=23, wrs_row=35,
                         acquired=when)
        write_l2_product(imagery, pid=pid, kelvin=t, transform=TRANSFORM, crs=32615,
                         acquired=when, sun_elevation=float(elev),
                         qa_pixel=encode(cloud=cloud, shape=(N, N)))
    sites = gpd.GeoDataFrame(
        {"site_id": [CAMPUS, ROOF], "name": [CAMPUS_NAME, ROOF_NAME],
         "operator": ["Evil <img src=x onerror=alert(2)> Corp", None],
         "reported_power_mw": [60.0, None], "cooling": ["dry", None]},
        geometry=[_pixel_box(60, 75, 60, 75), _pixel_box(20, 35, 20, 35)], crs=32615,
    ).to_crs(4326)
    sites_path = root / "sites.geojson"
    sites.to_file(sites_path)
    return imagery, sites_path


def scan_world(root: Path) -> Path:
    """Make the world and scan it with ``heatwatch scan``; return the output folder."""
    from cli import app

    imagery, sites = make_world(root)
    out = root / "out"
    result = CliRunner().invoke(app, ["scan", str(imagery), "--sites", str(sites), "--out",
                                      str(out)], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    return out


_SCANNED: dict[str, Path] = {}


def shared_scan(factory) -> Path:  # type: ignore[no-untyped-def]
    """One scanned world per test session (read-only: copy it before changing anything)."""
    if "out" not in _SCANNED or not _SCANNED["out"].exists():
        _SCANNED["out"] = scan_world(factory.mktemp("report-world"))
    return _SCANNED["out"]
