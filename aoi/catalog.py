"""The Epoch frontier AI campus catalog shipped with Heatwatch, and its builder command.

Data: Epoch AI, 'Data on Frontier AI Data Centers', epoch.ai/data/data-centers (November 2025
release), licensed CC-BY 4.0. Credit Epoch AI wherever the catalog or anything derived from it
is shown (:func:`catalog_credit` gives the line); the credit also travels inside the data file.

The shipped file ``aoi/data/epoch_campuses.geojson`` is generated, never edited by hand::

    python -m aoi.catalog build --epoch-dir DIR --out aoi/data/epoch_campuses.geojson

What a campus holds and how footprints and cooling classes are derived is described in
:mod:`aoi.epoch`. :func:`load_catalog` reads the shipped file (or a user catalog) through the
same validation as :func:`aoi.sites.read_sites`; :func:`catalog_timeline` gives one campus's
dated timeline as a table.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from importlib.abc import Traversable
from pathlib import Path

import geopandas as gpd
import pandas as pd

from aoi.epoch import (
    EPOCH_CREDIT,
    LATENT_WATER_GAL_PER_DAY_PER_MW,
    TIMELINE_COLUMNS,
    build_catalog,
    cooling_from_water,
    dumps_catalog,
    parse_dms,
    split_tag,
)
from aoi.sites import DEFAULT_MAX_AREA_KM2, read_sites, select_site
from aoi.utm import DEFAULT_RADIUS_M
from pipeline.core.errors import HeatwatchError
from pipeline.core.outputs import write_text

__all__ = [
    "CATALOG_FILE",
    "EPOCH_CREDIT",
    "LATENT_WATER_GAL_PER_DAY_PER_MW",
    "TIMELINE_COLUMNS",
    "build_catalog",
    "catalog_credit",
    "catalog_timeline",
    "cooling_from_water",
    "dumps_catalog",
    "load_catalog",
    "main",
    "parse_dms",
    "shipped_catalog_text",
    "split_tag",
]

CATALOG_FILE = "epoch_campuses.geojson"


# Loading ----------------------------------------------------------------------------------------


def _shipped() -> Traversable:
    return resources.files("aoi.data").joinpath(CATALOG_FILE)


def shipped_catalog_text() -> str:
    """Return the text of the shipped ``aoi/data/epoch_campuses.geojson``."""
    return _shipped().read_text(encoding="utf-8")


@lru_cache(maxsize=1)
def _shipped_catalog() -> gpd.GeoDataFrame:
    with resources.as_file(_shipped()) as path:
        return read_sites(path)


def load_catalog(
    path: str | Path | None = None, *, max_area_km2: float = DEFAULT_MAX_AREA_KM2
) -> gpd.GeoDataFrame:
    """Load and validate a campus catalog: the shipped Epoch catalog, or a user GeoJSON file.

    Parameters
    ----------
    path
        A catalog file; ``None`` for the shipped Epoch catalog.
    max_area_km2
        As in :func:`aoi.sites.read_sites`.

    Returns
    -------
    geopandas.GeoDataFrame
        Sites as from :func:`aoi.sites.read_sites`; ``timeline``, ``users`` and ``sources``
        are JSON text columns (see :func:`catalog_timeline`).

    Examples
    --------
    >>> cat = load_catalog()
    >>> len(cat), cat.crs.to_epsg()
    (17, 4326)
    """
    if path is None and max_area_km2 == DEFAULT_MAX_AREA_KM2:
        return _shipped_catalog().copy()
    if path is None:
        with resources.as_file(_shipped()) as p:
            return read_sites(p, max_area_km2=max_area_km2)
    return read_sites(path, max_area_km2=max_area_km2)


def catalog_timeline(site_id: str, catalog: gpd.GeoDataFrame | None = None) -> pd.DataFrame:
    """Return the dated timeline of one campus as a table (empty when it has none).

    Parameters
    ----------
    site_id
        Catalog id, e.g. ``"xai-colossus-1-memphis-tennessee"``.
    catalog
        Catalog to look in (default: the shipped Epoch catalog).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`TIMELINE_COLUMNS`; ``date`` as datetime64.

    Raises
    ------
    SiteError
        If the id is not in the catalog.

    Examples
    --------
    >>> tl = catalog_timeline("xai-colossus-1-memphis-tennessee")
    >>> float(tl["power_mw"].iloc[-1])
    498.0
    """
    site = select_site(load_catalog() if catalog is None else catalog, site_id)
    text = site.get("timeline")
    entries = json.loads(text) if isinstance(text, str) and text else []
    table = pd.DataFrame(entries, columns=list(TIMELINE_COLUMNS))
    table["date"] = pd.to_datetime(table["date"])
    for col in TIMELINE_COLUMNS[2:]:
        table[col] = pd.to_numeric(table[col]).astype(
            "Int64" if col == "buildings_operational" else float
        )
    return table


def catalog_credit(sites: gpd.GeoDataFrame) -> str | None:
    """Return the Epoch AI credit line when ``sites`` holds Epoch-derived rows, else ``None``.

    Examples
    --------
    >>> catalog_credit(load_catalog()).startswith("Data: Epoch AI")
    True
    """
    if "epoch_handle" in sites.columns and sites["epoch_handle"].notna().any():
        return f"Data: {EPOCH_CREDIT} (CC-BY 4.0)"
    return None


# Command line -----------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``python -m aoi.catalog build --epoch-dir DIR --out FILE``; return the exit code."""
    parser = argparse.ArgumentParser(
        prog="python -m aoi.catalog", description=__doc__.split("\n")[0]
    )
    sub = parser.add_subparsers(dest="command", required=True)
    build = sub.add_parser("build", help="build the catalog GeoJSON from Epoch's CSV files")
    build.add_argument("--epoch-dir", type=Path, required=True, help="folder of Epoch's CSVs")
    build.add_argument("--out", type=Path, required=True, help="GeoJSON file to write")
    build.add_argument(
        "--default-radius-m",
        type=float,
        default=DEFAULT_RADIUS_M,
        help="footprint radius without a known site area (default: %(default)s)",
    )
    build.add_argument(
        "--no-site-area",
        action="store_true",
        help="use the default radius everywhere, ignoring Epoch's site areas",
    )
    args = parser.parse_args(argv)
    try:
        collection = build_catalog(
            args.epoch_dir,
            default_radius_m=args.default_radius_m,
            use_site_area=not args.no_site_area,
        )
        write_text(args.out, dumps_catalog(collection), fsync=True)
    except HeatwatchError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"wrote {len(collection['features'])} campuses to {args.out} ({EPOCH_CREDIT})")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
