"""Changes a site shares with the scene's searched regions: land moves many places at one look.

A campus powers on, or stops, where it stands. A land event (fields harvested or greening
across a district, a front of wet or dry soil) moves many places at once, and the hot-pixel
search draws regions over several of them: each may fit a rise at the same look. How many of
the scene's other searched regions change the same way at a site's look is evidence a reader
can weigh beside the placebo null, which measures each placebo's largest change at whatever
look it falls (docs/statuses.md).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal, NamedTuple

import numpy as np

Direction = Literal["rise", "fall"]


class Change(NamedTuple):
    """A fitted change of a site's heat: a rise or a fall, at one look of the scene list."""

    direction: Direction
    look: int  # index into the scan's scenes (all looks, clear or not)


class Shared(NamedTuple):
    """How many of the scene's other searched regions change as a site does, and of how many."""

    regions: int  # other searched regions with the same change within the reach
    of: int  # other searched regions in the scene


def fit_changes(pattern: str, start: int | None, stop: int | None,
                clear: np.ndarray) -> list[Change]:
    """Return the changes of an activity fit, the one its statistic rests on first.

    ``start`` and ``stop`` index the site's clear looks (``clear``, a boolean mask over the
    scan's scenes), as :class:`pipeline.science.activity.ActivityFit` holds them; a rise is at
    the first active look, a fall at the first look after the active ones. An ``onset`` has a
    rise, a ``shutdown`` a fall, a ``window`` its rise then its fall; other patterns have none.

    Examples
    --------
    >>> clear = np.array([True, False, True, True, True, True])  # scene 1 clouded
    >>> fit_changes("onset", 2, 5, clear)
    [Change(direction='rise', look=3)]
    >>> fit_changes("window", 1, 3, clear)
    [Change(direction='rise', look=2), Change(direction='fall', look=4)]
    >>> fit_changes("shutdown", 0, 2, clear), fit_changes("always", 0, 5, clear)
    ([Change(direction='fall', look=3)], [])
    """
    looks = np.flatnonzero(np.asarray(clear, dtype=bool))
    out = []
    if pattern in ("onset", "window") and start is not None and 0 < start < looks.size:
        out.append(Change("rise", int(looks[start])))
    if pattern in ("shutdown", "window") and stop is not None and 0 < stop < looks.size:
        out.append(Change("fall", int(looks[stop])))
    return out


def shared_changes(changes: Mapping[str, list[Change]], searched: Collection[str], *,
                   reach: int = 1) -> dict[str, Shared]:
    """Return, per site with a change, how many other searched regions share it.

    A site's change is the first of its ``changes`` (:func:`fit_changes`: a window's rise); a
    region shares it when one of its own changes goes the same way within ``reach`` looks of
    the scan's scene list (a look clouded at one place and clear at the next shows a land
    event one look later). Only the ``searched`` regions (the search's own, not the catalog)
    are counted, never the site itself.

    Examples
    --------
    >>> rise = lambda look: [Change("rise", look)]
    >>> changes = {"a": rise(20), "b": rise(21), "c": rise(20), "d": [Change("fall", 20)],
    ...            "e": rise(9), "DC-1": rise(20)}
    >>> shared = shared_changes(changes, searched={"a", "b", "c", "d", "e", "f"})
    >>> shared["a"], shared["e"]
    (Shared(regions=2, of=5), Shared(regions=0, of=5))
    >>> shared["DC-1"]  # a catalogued site set against all six searched regions
    Shared(regions=3, of=6)
    """
    searched = set(searched)
    out = {}
    for sid, own in changes.items():
        if not own:
            continue
        mine = own[0]
        others = searched - {sid}
        regions = sum(any(c.direction == mine.direction and abs(c.look - mine.look) <= reach
                          for c in changes.get(r, [])) for r in others)
        out[sid] = Shared(regions, len(others))
    return out
