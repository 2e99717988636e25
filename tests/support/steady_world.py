"""A generated world whose one catalogued 300 MW campus runs through the whole year."""

from __future__ import annotations

from datetime import date
from pathlib import Path

from models.world import generate_world
from models.world_spec import CampusSpec, WorldSpec, widen

SITE = "DC-300"


def write_steady_world(folder: Path) -> None:
    """Write the world (46 looks at an 8-day revisit, 40% cloudiness) to ``folder``.

    The land is widened (:func:`models.world_spec.widen`: static structure, crop phenology), so
    the status replayed as of each date flips between ``active`` and ``undetermined`` while the
    campus, declared at its true 300 MW, never stops.
    """
    spec = WorldSpec(seed=0, name="steady", center_lat=38.0, center_lon=-99.0, size_px=160,
                     start=date(2024, 1, 4), n_acquisitions=46, cloudiness=0.4,
                     edge_fill_probability=0.0,
                     campuses=(CampusSpec(site_id=SITE, name="Steady", x_km=0.0, y_km=0.0,
                                          power_mw=300, power_density_w_m2=450,
                                          reported_power_mw=300),))
    generate_world(widen(spec), folder)
