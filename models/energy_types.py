"""Value objects of the energy model: :class:`Interval` and :class:`ClusterSpec`.

Both are frozen and validated once at construction; the model functions in
:mod:`models.energy` accept the convenient input forms and normalise them here.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from models.energy_data import Range, load_facts
from pipeline.core.errors import EnergyModelError


@dataclass(frozen=True)
class Interval:
    """A value with its lower and upper bound, ``low <= central <= high``.

    Examples
    --------
    >>> Interval(150.0, 100.0, 200.0).scaled(2).high
    400.0
    >>> Interval.coerce(42).low
    42.0
    """

    central: float
    low: float
    high: float

    def __post_init__(self) -> None:
        values = (self.central, self.low, self.high)
        if not all(math.isfinite(v) for v in values):
            raise EnergyModelError(f"interval values must be finite numbers, got {values}")
        tol = 1e-9 * max(abs(v) for v in values)
        if not self.low - tol <= self.central <= self.high + tol:
            raise EnergyModelError(
                f"interval needs low <= central <= high, got low={self.low}, "
                f"central={self.central}, high={self.high}"
            )

    @classmethod
    def point(cls, value: float) -> Interval:
        """Return a zero-width interval at ``value``."""
        v = float(value)
        return cls(v, v, v)

    @classmethod
    def coerce(cls, value: Interval | float | tuple[float, float, float]) -> Interval:
        """Accept an :class:`Interval`, a number, or a ``(central, low, high)`` tuple."""
        if isinstance(value, Interval):
            return value
        try:
            if isinstance(value, tuple):
                if len(value) != 3:
                    raise EnergyModelError("an interval tuple must be (central, low, high)")
                return cls(*(float(v) for v in value))
            if isinstance(value, bool):
                raise TypeError
            return cls.point(float(value))
        except (TypeError, ValueError) as exc:
            raise EnergyModelError(
                f"expected a number of MW or (central, low, high), got {value!r}"
            ) from exc

    @classmethod
    def from_heat(cls, mw: float, low: float, high: float) -> Interval | None:
        """Return a scan's heat estimate as an interval, or None if any bound is unknown.

        A scan's ``pipeline.science.power.HeatEstimate`` (``mw``, 90% ``low``/``high``) is not an
        :class:`Interval`: its bounds may be NaN (no standard error, no calibration) and it is
        not validated. This is the one conversion; ``high`` is raised to ``mw`` if below it.

        Examples
        --------
        >>> Interval.from_heat(120.0, 80.0, 150.0).as_dict()
        {'central': 120.0, 'low': 80.0, 'high': 150.0}
        >>> Interval.from_heat(0.0, 0.0, float("nan")) is None
        True
        """
        values = (float(mw), float(low), float(high))
        if not all(math.isfinite(v) for v in values):
            return None
        return cls(values[0], values[1], max(values[2], values[0]))

    @classmethod
    def from_range(cls, rng: Range) -> Interval:
        """Build an interval from a sourced parameter range."""
        return cls(rng.central, rng.low, rng.high)

    def scaled(self, factor: float) -> Interval:
        """Multiply by a non-negative number."""
        return Interval(self.central * factor, self.low * factor, self.high * factor)

    def contains(self, value: float, *, rtol: float = 1e-9) -> bool:
        """Return whether ``value`` lies within the bounds (with a relative tolerance)."""
        tol = rtol * max(abs(self.low), abs(self.high), abs(value))
        return self.low - tol <= value <= self.high + tol

    def as_dict(self) -> dict[str, float]:
        """Return ``{"central", "low", "high"}`` for JSON."""
        return {"central": self.central, "low": self.low, "high": self.high}

    def __mul__(self, other: Interval) -> Interval:
        # Products of non-negative intervals: bounds multiply bound by bound.
        return Interval(self.central * other.central, self.low * other.low, self.high * other.high)

    def __add__(self, other: Interval) -> Interval:
        return Interval(self.central + other.central, self.low + other.low, self.high + other.high)

    def __truediv__(self, other: Interval) -> Interval:
        # Quotient of non-negative intervals: the low end divides by the largest denominator.
        return Interval(self.central / other.central, self.low / other.high, self.high / other.low)


@dataclass(frozen=True, eq=False)
class ClusterSpec:
    """A mix of accelerators: canonical accelerator name -> count (positive integers).

    Names are resolved once (``"H100"``, ``"nvidia_h100_sxm5"`` -> ``"h100"``); entries naming
    the same accelerator are added together.

    Examples
    --------
    >>> ClusterSpec({"H100": 150_000, "h200": 50_000}).total
    200000
    >>> ClusterSpec.of("gb200", 72).counts["gb200"]
    72
    """

    counts: Mapping[str, int]

    def __post_init__(self) -> None:
        facts = load_facts()
        merged: dict[str, int] = {}
        if not isinstance(self.counts, Mapping) or not self.counts:
            raise EnergyModelError("a cluster needs at least one accelerator name and count")
        for name, count in self.counts.items():
            key = facts.accelerator(name).key
            merged[key] = merged.get(key, 0) + _positive_count(count, key)
        object.__setattr__(self, "counts", MappingProxyType(dict(sorted(merged.items()))))

    @classmethod
    def of(cls, accelerator: str, count: int) -> ClusterSpec:
        """Return a cluster of a single accelerator type."""
        return cls({accelerator: count})

    @classmethod
    def coerce(cls, value: ClusterSpec | Mapping[str, int] | str) -> ClusterSpec:
        """Accept a :class:`ClusterSpec`, a mapping of names to counts, or text (:meth:`parse`)."""
        if isinstance(value, ClusterSpec):
            return value
        return cls.parse(value) if isinstance(value, str) else cls(value)

    @classmethod
    def parse(cls, text: str) -> ClusterSpec:
        """Read a site's accelerators from text: a name, ``name:count`` pairs, or JSON.

        A bare name stands for a site of that accelerator alone (count 1: only the shares of
        a mix matter to the inverse).

        Raises
        ------
        EnergyModelError
            If a name is unknown or a count is not a positive whole number.

        Examples
        --------
        >>> ClusterSpec.parse("GB200").counts["gb200"]
        1
        >>> dict(ClusterSpec.parse("h100:150000, h200:50000").counts)
        {'h100': 150000, 'h200': 50000}
        >>> dict(ClusterSpec.parse('{"gb200": 100800}').counts)
        {'gb200': 100800}
        """
        text = str(text).strip()
        if text.startswith("{"):
            try:
                data = json.loads(text)
            except ValueError as exc:
                raise EnergyModelError(f"accelerators {text!r} are not valid JSON") from exc
            if not isinstance(data, dict):
                raise EnergyModelError(f"accelerators {text!r} must map names to counts")
            return cls(data)
        counts: dict[str, int] = {}
        for part in (p.strip() for p in re.split(r"[,+;]", text)):
            if not part:
                continue
            name, _, count = part.partition(":")
            number: Any = 1
            if count.strip():
                try:
                    number = float(count.replace("_", "").strip())
                except ValueError:
                    number = count
            counts[name.strip()] = number
        if not counts:
            raise EnergyModelError("no accelerator named; give e.g. 'gb200' or "
                                   "'h100:150000, h200:50000'")
        return cls(counts)

    @property
    def label(self) -> str:
        """Short text: the name of a single accelerator, else ``name:count`` pairs.

        Examples
        --------
        >>> ClusterSpec({"gb200": 3}).label, ClusterSpec({"h100": 150, "h200": 50}).label
        ('gb200', 'h100:150, h200:50')
        """
        if len(self.counts) == 1:
            return next(iter(self.counts))
        return ", ".join(f"{k}:{n}" for k, n in self.counts.items())

    @property
    def total(self) -> int:
        """Total number of accelerators."""
        return sum(self.counts.values())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, ClusterSpec) and dict(self.counts) == dict(other.counts)

    def __hash__(self) -> int:
        return hash(tuple(self.counts.items()))

    def __repr__(self) -> str:
        return f"ClusterSpec({dict(self.counts)!r})"


def _positive_count(count: Any, name: str) -> int:
    if isinstance(count, bool) or not isinstance(count, int | float):
        raise EnergyModelError(f"count of {name} must be a positive whole number, got {count!r}")
    if not math.isfinite(count) or count <= 0 or count != int(count):
        raise EnergyModelError(
            f"count of {name} must be a positive whole number of accelerators, got {count!r}"
        )
    return int(count)
