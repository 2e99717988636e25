"""Declared baseline periods: looks of a site known to be inactive (before construction).

A campus running all of a series has no before-state of its own: its always-on excess cannot be
told from a static offset of its footprint, so its heat carries the offset prior and may be
``undetermined`` (docs/statuses.md). A *declared* baseline fixes that: looks up to its end date
are known inactive (``A = 0`` in :func:`pipeline.science.activity.fit_activity`), so the static
offset is measured there and the heat after it is a before/after measurement.

Where a baseline comes from, in order of precedence:

1. ``persistence.baseline_end`` (config, or ``heatwatch scan --baseline-end DATE``): one end
   date for every site;
2. the imagery folder's ``fetch.json``, top-level key ``"baseline"``:
   ``{"<site_id>": {"start": "YYYY-MM-DD", "end": "YYYY-MM-DD"}}`` (written by the fetcher
   from the catalog's first timeline dates, or a number of years back);
3. none: the series' own inactive looks serve when the fit finds an onset or a shutdown.

:func:`baseline_columns` says in every site row which of these served.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.core.errors import ConfigError
from pipeline.core.site_row import BaselineColumns
from pipeline.science.activity import ActivityFit

#: Name of the fetch record beside the products (see module docstring).
FETCH_RECORD = "fetch.json"


@dataclass(frozen=True)
class Baseline:
    """A declared baseline period of one site (``start`` may be open)."""

    end: date
    start: date | None = None
    source: str = FETCH_RECORD

    def looks(self, dates: Sequence[str]) -> int:
        """Count the leading looks (ISO dates, time order) on or before :attr:`end`.

        Examples
        --------
        >>> Baseline(date(2023, 6, 30)).looks(["2023-01-05", "2023-06-30", "2023-07-08"])
        2
        """
        n = 0
        for d in dates:
            if date.fromisoformat(str(d)[:10]) > self.end:
                break
            n += 1
        return n


def _day(value: Any, where: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError as exc:
        raise ConfigError(f"{where}: {value!r} is not a date like 2023-01-31; fix the baseline "
                          "entry") from exc


def parse_baselines(data: Mapping[str, Any], where: str = FETCH_RECORD) -> dict[str, Baseline]:
    """Parse the ``"baseline"`` mapping of a fetch record into :class:`Baseline` per site.

    Raises
    ------
    ConfigError
        If an entry is not ``{"start": date, "end": date}`` with ``start <= end``.

    Examples
    --------
    >>> parse_baselines({"DC-A": {"start": "2019-01-01", "end": "2019-12-31"}})["DC-A"].end
    datetime.date(2019, 12, 31)
    """
    out: dict[str, Baseline] = {}
    for sid, entry in data.items():
        here = f"{where} baseline of {sid!r}"
        if not isinstance(entry, Mapping) or "end" not in entry:
            raise ConfigError(f"{here} must be {{\"start\": \"YYYY-MM-DD\", \"end\": "
                              "\"YYYY-MM-DD\"}")
        end = _day(entry["end"], here)
        start = _day(entry["start"], here) if entry.get("start") is not None else None
        if start is not None and start > end:
            raise ConfigError(f"{here}: start {start} is after end {end}; swap them")
        out[str(sid)] = Baseline(end=end, start=start, source=where)
    return out


def read_fetch_baselines(folder: Path) -> dict[str, Baseline]:
    """Read the per-site baselines of ``folder/fetch.json`` (none when absent or without any).

    Raises
    ------
    ConfigError
        If the file is not JSON or its ``"baseline"`` entry is malformed.
    """
    path = Path(folder) / FETCH_RECORD
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"cannot read {path} ({exc}); fetch again or delete it") from exc
    entry = data.get("baseline") if isinstance(data, dict) else None
    if entry is None:
        return {}
    if not isinstance(entry, Mapping):
        raise ConfigError(f"{path}: \"baseline\" must map site ids to {{start, end}}")
    return parse_baselines(entry, str(path.name))


def site_baselines(site_ids: Sequence[str], folder: Path,
                   baseline_end: date | None) -> dict[str, Baseline]:
    """Return each site's declared baseline, by the precedence of the module docstring."""
    if baseline_end is not None:
        return {sid: Baseline(end=baseline_end, source="persistence.baseline_end")
                for sid in site_ids}
    found = read_fetch_baselines(folder)
    return {sid: found[sid] for sid in site_ids if sid in found}


def baseline_columns(fit: ActivityFit, series: pd.DataFrame,
                     declared: Baseline | None) -> BaselineColumns:
    """Say which period served as the site's baseline (the before-state of its heat).

    ``baseline`` is ``"declared"`` (a baseline period from ``fetch.json`` or
    ``persistence.baseline_end``), ``"series"`` (the series' own inactive looks before an onset
    or after a shutdown), or ``"none"``: then an always-on excess carries the static-offset
    prior, and the status may be ``undetermined`` (docs/statuses.md).

    Examples
    --------
    >>> import numpy as np
    >>> from pipeline.science.activity import fit_activity
    >>> s = np.tile([0.4, 0.6, 0.8, 0.9], 6)
    >>> fit = fit_activity(8e5 * s + 4e5 * (np.arange(24) >= 8), s, area_m2=4e5)
    >>> series = pd.DataFrame({"date": pd.date_range("2024-01-01", periods=24, freq="8D")
    ...                        .strftime("%Y-%m-%d"), "clear": True})
    >>> cols = baseline_columns(fit, series, None)
    >>> cols["baseline"], cols["baseline_end"], cols["baseline_looks"]
    ('series', '2024-02-26', 8)
    """
    clear = series.loc[series["clear"], "date"].astype(str).tolist() if len(series) else []
    if declared is not None:
        n = declared.looks(clear)
        return {"baseline": f"declared ({declared.source})",
                "baseline_start": (declared.start.isoformat() if declared.start
                                   else (clear[0] if n else None)),
                "baseline_end": declared.end.isoformat(), "baseline_looks": n}
    if fit.pattern in ("onset", "window") and fit.start:
        return {"baseline": "series", "baseline_start": clear[0],
                "baseline_end": clear[fit.start - 1], "baseline_looks": int(fit.start)}
    if fit.pattern == "shutdown" and fit.stop is not None and fit.stop < len(clear):
        return {"baseline": "series", "baseline_start": clear[fit.stop],
                "baseline_end": clear[-1], "baseline_looks": len(clear) - fit.stop}
    return {"baseline": "none", "baseline_start": None, "baseline_end": None,
            "baseline_looks": 0}
