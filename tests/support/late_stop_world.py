"""A generated world whose one catalogued campus stops between the last two acquisitions."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from models.world import generate_world
from models.world_spec import CampusSpec, WorldSpec

N_LOOKS = 24
START = date(2024, 1, 4)
SITE = "DC-S"


def write_late_stop_world(folder: Path, *, looks_after: int = 1, size_px: int = 160) -> str:
    """Write the world (cloud-free, 8-day revisit) to ``folder``; return the last look's date.

    The campus stops 4 days before the ``looks_after``-th last acquisition. With one clear look
    after the stop (the default), too few for a shutdown (that takes 3), a scan still fits it
    as running; with more, the stop is seen (``size_px`` large enough to hold the placebo
    footprints its null of falls needs, e.g. 256).
    """
    stop = START + timedelta(days=8 * (N_LOOKS - looks_after) - 4)
    spec = WorldSpec(seed=7, name="late-stop", center_lat=38.0, center_lon=-99.0, size_px=size_px,
                     start=START, n_acquisitions=N_LOOKS, cloudiness=0.0,
                     edge_fill_probability=0.0,
                     campuses=(CampusSpec(site_id=SITE, name="Late stop", x_km=0.0, y_km=0.0,
                                          power_mw=200, power_density_w_m2=450, shutdown=stop),))
    truth = generate_world(spec, folder)
    return str(truth.acquisitions[-1].date)
