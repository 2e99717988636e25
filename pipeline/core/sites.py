"""Site bookkeeping every stage shares: a file-safe name per site id, which sites imagery covers.

Site ids are untrusted text (they come from catalogs and user files): :func:`safe_name` is the
one way to turn one into a file or folder name.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

import geopandas as gpd
import numpy as np
from shapely.geometry.base import BaseGeometry

from pipeline.core.site_row import SiteRow

__all__ = ["SITE_COLUMNS", "empty_site_table", "safe_name", "split_covered"]

SITE_COLUMNS = ("site_id", "name", "operator", "reported_power_mw", "cooling")
"""Columns every site table has, in this order, before extra attributes and ``geometry``
(validated by :mod:`aoi.sites`; a scan without a catalog gets them empty)."""


def empty_site_table(*extra: str) -> gpd.GeoDataFrame:
    """Return a site table with no row and every :class:`~pipeline.core.site_row.SiteRow` column.

    A scan that finds nothing returns it, so a reader can select by ``status`` or ``in_catalog``
    without first testing that the table has rows. ``site_id`` comes first, then the other keys
    as :class:`SiteRow` declares them; ``extra`` adds columns after them (e.g. discover's
    ``tile_id``).

    Examples
    --------
    >>> t = empty_site_table("tile_id")
    >>> len(t), t.columns[0], "status" in t, list(t.columns[-2:]), t.crs.to_epsg()
    (0, 'site_id', True, ['tile_id', 'geometry'], 4326)
    >>> len(t[t["status"] == "candidate"])
    0
    """
    keys = ["site_id"] + [k for k in SiteRow.__annotations__ if k not in ("site_id", "geometry")]
    return gpd.GeoDataFrame({k: [] for k in [*keys, *extra]}, geometry=[], crs=4326)


_UNSAFE = re.compile(r"[^a-z0-9.-]+")
_WINDOWS_RESERVED = frozenset(
    ["con", "prn", "aux", "nul"] + [f"{p}{i}" for p in ("com", "lpt") for i in range(10)]
)
_MAX_SLUG = 64


def safe_name(site_id: str) -> str:
    r"""Map any site id to a readable, file-name-safe slug that cannot leave its folder.

    The slug keeps ASCII letters (lower-cased), digits, ``-`` and single inner dots; accents
    are dropped, every other run of characters becomes ``-``; it never starts or ends with a
    dot or dash, holds no ``/``, ``\``, ``..`` or NUL, is at most 64 characters before the
    suffix and is not a reserved Windows device name. When the slug differs from the id, ``_``
    and 10 hex digits of the id's SHA-256 are appended; ``_`` never occurs otherwise, so
    distinct ids give distinct names.

    Parameters
    ----------
    site_id
        Any text.

    Returns
    -------
    str
        A name to use as one path component (file or folder name).

    Examples
    --------
    >>> safe_name("xai-colossus-1")
    'xai-colossus-1'
    >>> safe_name("../../etc/passwd")
    'etc-passwd_3754d6cb3a'
    """
    text = str(site_id)
    folded = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = _UNSAFE.sub("-", folded.lower())
    # Every run of dots and dashes becomes one character: no "..", no "--".
    slug = re.sub(r"[.-]+", lambda m: "." if "." in m.group() else "-", slug).strip(".-")
    slug = slug[:_MAX_SLUG].rstrip(".-")
    reserved = slug.split(".")[0] in _WINDOWS_RESERVED
    if slug and slug == text and not reserved:
        return slug
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:10]
    return f"{slug or 'site'}_{digest}"


def split_covered(sites: gpd.GeoDataFrame, area: BaseGeometry | None
                  ) -> tuple[gpd.GeoDataFrame, gpd.GeoDataFrame]:
    """Split sites (EPSG:4326) into those meeting ``area`` and those not covered by it.

    Examples
    --------
    >>> from shapely.geometry import box
    >>> sites = gpd.GeoDataFrame({"site_id": ["in", "out"]}, crs=4326,
    ...                          geometry=[box(0, 0, 1, 1), box(50, 50, 51, 51)])
    >>> [list(s["site_id"]) for s in split_covered(sites, box(0.5, 0.5, 2, 2))]
    [['in'], ['out']]
    """
    inside = sites.intersects(area).to_numpy() if area is not None and len(sites) else \
        np.zeros(len(sites), dtype=bool)
    return (sites[inside].reset_index(drop=True), sites[~inside].reset_index(drop=True))
