"""Changes a site shares with the scene's searched regions: land moves many places at one look.

A campus powers on, or stops, where it stands. A land event (fields harvested or greening
across a district, a front of wet or dry soil) moves many places at once, and the hot-pixel
search draws regions over several of them: each may fit a rise at the same look. How many of
the scene's other searched regions change the same way at a site's look is evidence a reader
can weigh beside the placebo null, which measures each placebo's largest change at whatever
look it falls (docs/statuses.md).

Two nulls say when a shared change is a land event rather than chance (:meth:`Shared.land_event`):
independent timing (each other region that changes that way does so at a look of its own, so as
many fall within reach of one look by chance: a binomial tail), and the series' own looks (no
other look, where a season piles changes up, holds as many).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from typing import Literal, NamedTuple

import numpy as np
from scipy.stats import binom

Direction = Literal["rise", "fall"]


class Change(NamedTuple):
    """A fitted change of a site's heat: a rise or a fall, at one look of the scene list."""

    direction: Direction
    look: int  # index into the scan's scenes (all looks, clear or not)


class Shared(NamedTuple):
    """How many of the scene's other searched regions change as a site does, and the two nulls."""

    regions: int  # other searched regions with the same change within the reach
    of: int  # other searched regions in the scene
    # the most other regions changing that way within the reach of any other look of the series
    # (looks farther than twice the reach from the site's)
    busiest_other: int = 0
    # the chance that as many or more change within the reach of one look under independent
    # timing: binomial tail over the other regions with a change that way, each at one of the
    # series' looks (2 reach + 1 of them within reach)
    p_value: float = 1.0

    def land_event(self, p_max: float) -> bool:
        """Whether the change is a land event: beyond independent timing and at the busiest look.

        Both nulls must refuse it: as many regions changing with it would arise by chance in
        at most ``p_max`` of scenes, and no other look of the series has as many (a season
        that moves many regions at several looks is no one-look event).

        Examples
        --------
        >>> Shared(17, 55, busiest_other=9, p_value=1e-9).land_event(0.001)
        True
        >>> Shared(17, 55, busiest_other=18, p_value=1e-9).land_event(0.001)  # a season
        False
        >>> Shared(1, 3, busiest_other=0, p_value=0.18).land_event(0.001)  # a campus
        False
        """
        return self.regions > self.busiest_other and self.p_value <= p_max


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
                   n_looks: int, reach: int = 1) -> dict[str, Shared]:
    """Return, per site with a change, how many other searched regions share it, and its nulls.

    A site's change is the first of its ``changes`` (:func:`fit_changes`: a window's rise); a
    region shares it when one of its own changes goes the same way within ``reach`` looks of
    the scan's scene list (a look clouded at one place and clear at the next shows a land
    event one look later). Only the ``searched`` regions (the search's own, not the catalog)
    are counted, never the site itself. ``n_looks``: the scenes of the scan, whose looks the
    nulls of :class:`Shared` range over.

    Examples
    --------
    >>> rise = lambda look: [Change("rise", look)]
    >>> changes = {"a": rise(20), "b": rise(21), "c": rise(20), "d": [Change("fall", 20)],
    ...            "e": rise(9), "DC-1": rise(20)}
    >>> shared = shared_changes(changes, searched={"a", "b", "c", "d", "e", "f"}, n_looks=30)
    >>> shared["a"][:3], shared["e"][:3]
    ((2, 5, 1), (0, 5, 3))
    >>> shared["DC-1"][:3]  # a catalogued site set against all six searched regions
    (3, 6, 1)
    >>> # 2 of the 3 other rising regions within a look of 20, each there at 3 looks in 30:
    >>> round(shared["a"].p_value, 3)  # 3 (0.1 ** 2)(0.9) + 0.1 ** 3
    0.028
    """
    searched = set(searched)
    n_looks = max(int(n_looks), 1)
    within = min(1.0, (2 * reach + 1) / n_looks)  # share of the looks within reach of one
    # per searched region and direction, the looks its changes that way reach
    near: dict[tuple[str, Direction], np.ndarray] = {}
    for r in searched:
        for c in changes.get(r, []):
            mask = near.setdefault((r, c.direction), np.zeros(n_looks, dtype=bool))
            mask[max(c.look - reach, 0):c.look + reach + 1] = True
    out = {}
    for sid, own in changes.items():
        if not own:
            continue
        mine = own[0]
        others = searched - {sid}
        hits = [near[r, mine.direction] for r in others if (r, mine.direction) in near]
        counts = np.sum(hits, axis=0) if hits else np.zeros(n_looks, dtype=int)
        regions = int(counts[mine.look]) if 0 <= mine.look < n_looks else 0
        far = np.abs(np.arange(n_looks) - mine.look) > 2 * reach
        busiest = int(counts[far].max()) if far.any() else 0
        p = float(binom.sf(regions - 1, len(hits), within)) if regions else 1.0
        out[sid] = Shared(regions, len(others), busiest, p)
    return out
