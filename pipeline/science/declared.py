"""Declared power as dated: the declaration in force on a look's date.

A catalog site declares its power either once (``reported_power_mw``, undated) or through a
dated ``timeline`` (the Epoch AI catalog: 44 -> 174 -> 349 -> 424 MW for Colossus 1). A look
is compared with the declaration in force on its date: the timeline read as a step function,
each row holding from its date until the next. Rows dated after the data's release are the
publisher's projections ("Expect Building 4 to be operational"), not declarations: they are
marked ``projected`` and never used, so a look after the last dated row keeps the last row on
or before the release.

Zero or missing power means *nothing declared yet* (a campus not yet operating): such a site
has no declared power to test, and is watched for switching on.

Epoch AI's November 2025 release (:data:`EPOCH_RELEASE_AS_OF`): rows dated after
2025-11-30 are its projections.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

__all__ = [
    "EPOCH_CREDIT",
    "EPOCH_RELEASE_AS_OF",
    "EPOCH_SOURCE_CREDIT",
    "Declaration",
    "declaration_on",
    "declarations_on",
    "power_steps",
    "site_credit",
    "site_steps",
]

EPOCH_CREDIT = "Epoch AI, 'Data on Frontier AI Data Centers', epoch.ai/data/data-centers"
EPOCH_RELEASE_AS_OF = "2025-11-30"
"""Last day of the November 2025 release: timeline rows dated later are Epoch's projections
(their status text reads "Expect ...", "... should be complete by ..."; see :func:`site_steps`)."""

EPOCH_SOURCE_CREDIT = f"{EPOCH_CREDIT} (CC-BY 4.0)"
"""The credit line every map, report and export built from Epoch data carries."""

STEP_COLUMNS = ("date", "power_mw", "projected")


@dataclass(frozen=True)
class Declaration:
    """The power a site declares on one date.

    Attributes
    ----------
    mw
        Power in force (facility MW); ``None`` when nothing is declared on that date (before the
        first timeline row, or no power given); ``0.0`` for a campus not yet operating.
    since
        Date (``YYYY-MM-DD``) of the timeline row in force; ``None`` for an undated
        declaration (the catalog's ``reported_power_mw``) or none at all.
    """

    mw: float | None
    since: str | None = None

    @property
    def declared(self) -> bool:
        """Whether there is a positive power to compare heat with.

        Examples
        --------
        >>> Declaration(174.0, "2024-09-02").declared, Declaration(0.0).declared
        (True, False)
        """
        return self.mw is not None and self.mw > 0


def _entries(timeline: Any) -> list[dict[str, Any]]:
    if isinstance(timeline, str):
        try:
            timeline = json.loads(timeline) if timeline.strip() else []
        except json.JSONDecodeError:
            return []
    if not isinstance(timeline, Sequence) or isinstance(timeline, str):
        return []
    return [e for e in timeline if isinstance(e, dict)]


def _mw(value: Any) -> float | None:
    try:
        mw = float(value)
    except (TypeError, ValueError):
        return None
    return mw if math.isfinite(mw) and mw >= 0 else None


def power_steps(timeline: Any, *, as_of: str | None = None) -> pd.DataFrame:
    """Return a timeline's dated powers as a step table, projections marked.

    Parameters
    ----------
    timeline
        Timeline rows (a list of mappings with ``date`` and ``power_mw``, or its JSON text, as
        in the catalog's ``timeline`` column). Rows without a date or a power are dropped.
    as_of
        Release date of the data (``YYYY-MM-DD``): rows dated after it are projections. A
        row's own ``"projected": true`` marks it too.

    Returns
    -------
    pandas.DataFrame
        Columns ``date`` (``YYYY-MM-DD`` text), ``power_mw``, ``projected``, by date.

    Examples
    --------
    >>> tl = [{"date": "2024-08-11", "power_mw": 44.0}, {"date": "2026-01-01", "power_mw": 9.0}]
    >>> power_steps(tl, as_of="2025-11-30").to_dict("records")[1]
    {'date': '2026-01-01', 'power_mw': 9.0, 'projected': True}
    """
    rows = []
    for e in _entries(timeline):
        day, mw = str(e.get("date") or "").strip()[:10], _mw(e.get("power_mw"))
        if len(day) != 10 or mw is None:
            continue
        projected = bool(e.get("projected")) or (as_of is not None and day > as_of)
        rows.append({"date": day, "power_mw": mw, "projected": projected})
    table = pd.DataFrame(rows, columns=list(STEP_COLUMNS))
    return table.sort_values("date", kind="stable").reset_index(drop=True)


def _get(row: Any, key: str) -> Any:
    value = row.get(key) if isinstance(row, dict | pd.Series) else getattr(row, key, None)
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else value


def _is_epoch(row: Any) -> bool:
    handle = _get(row, "epoch_handle")
    return isinstance(handle, str) and bool(handle)


def site_steps(row: Any) -> pd.DataFrame | None:
    """Return a catalog site's dated declarations (see :func:`power_steps`), or ``None``.

    Parameters
    ----------
    row
        A site: a mapping, pandas row or named tuple with ``timeline`` (and, for Epoch
        campuses, ``epoch_handle``, whose rows after :data:`EPOCH_RELEASE_AS_OF` are
        projections).

    Returns
    -------
    pandas.DataFrame or None
        ``None`` when the site has no dated power (its declaration is the undated
        ``reported_power_mw``).
    """
    as_of = EPOCH_RELEASE_AS_OF if _is_epoch(row) else None
    steps = power_steps(_get(row, "timeline"), as_of=as_of)
    return steps if len(steps) else None


def declarations_on(row: Any, dates: Sequence[str]) -> list[Declaration]:
    """Return the declaration in force on each date (see the module notes).

    Parameters
    ----------
    row
        A site (see :func:`site_steps`).
    dates
        Look dates, ``YYYY-MM-DD`` (any order).

    Returns
    -------
    list of Declaration
        One per date: the power of the latest non-projected timeline row dated on or before
        it, ``since`` the first row of that run of equal powers; without a timeline, the
        undated ``reported_power_mw`` on every date.

    Examples
    --------
    >>> row = {"timeline": [{"date": "2024-08-11", "power_mw": 44.0},
    ...                     {"date": "2024-09-02", "power_mw": 174.0}]}
    >>> [d.mw for d in declarations_on(row, ["2024-08-01", "2024-08-20", "2025-01-01"])]
    [None, 44.0, 174.0]
    """
    steps = site_steps(row)
    if steps is None:
        return [Declaration(_mw(_get(row, "reported_power_mw")))] * len(dates)
    used = steps[~steps["projected"]]
    # a row repeating the power before it (a status update) does not start a new step
    used = used[used["power_mw"].diff().ne(0)]
    days = used["date"].to_numpy(dtype=str)
    mws = used["power_mw"].to_numpy(dtype=float)
    at = np.searchsorted(days, np.asarray([str(d)[:10] for d in dates], dtype=str),
                         side="right") - 1
    return [Declaration(float(mws[i]), str(days[i])) if i >= 0 else Declaration(None)
            for i in at]


def declaration_on(row: Any, day: str) -> Declaration:
    """Return the declaration in force on one date (see :func:`declarations_on`).

    Examples
    --------
    >>> row = {"reported_power_mw": 0.0}
    >>> d = declaration_on(row, "2025-01-01")
    >>> d.mw, d.declared
    (0.0, False)
    """
    return declarations_on(row, [day])[0]


def site_credit(row: Any) -> str | None:
    """Return the credit line a site's data requires (Epoch AI, CC-BY 4.0), else ``None``.

    Examples
    --------
    >>> site_credit({"epoch_handle": "xAI Colossus 1"}).startswith("Epoch AI")
    True
    >>> site_credit({"site_id": "mine"}) is None
    True
    """
    return EPOCH_SOURCE_CREDIT if _is_epoch(row) else None
