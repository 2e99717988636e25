"""The energy model: accelerators -> power -> heat, and observed heat -> implied accelerators.

Pure functions over the facts in ``models/data/energy.yaml`` (see :mod:`models.energy_data`).

The chain, per accelerator, at peak operation (Epoch AI's nested breakdown)::

    board W  x server/board (1.53)  = server W
    server W x IT/server    (1.14)  = IT W
    IT W     x PUE          (1.4)   = facility W  = heat rejected on site
    training draw = peak x utilization (0.75)

Heat rejected equals facility power (all electricity ends as heat); the cooling type splits it
into sensible heat (warm air, what a thermal sensor sees) and latent heat (evaporated water).

Intervals
---------
Every power figure is an :class:`Interval`. ``central`` uses the central parameters; ``low``
and ``high`` put every uncertain parameter (server/board, IT/server, PUE, utilization, latent
fraction, and the heat interval in the inverse) at the extreme that pushes the result that way
together. This is interval arithmetic: the bounds are conservative envelopes that contain every
combination of parameters inside their ranges, not confidence intervals. A parameter given by
the caller (``pue=``, ``utilization=``) has no range.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from models.energy_data import Accelerator, EnergyFacts, load_facts
from models.energy_types import ClusterSpec, Interval
from pipeline.core.errors import EnergyModelError

__all__ = [
    "ClusterSpec",
    "ForwardResult",
    "Interval",
    "InverseResult",
    "OperatingPoint",
    "Parameters",
    "forward",
    "inverse",
    "server_over_board",
]

SECONDS_PER_HOUR = 3600.0
_W_PER_MW = 1e6

#: One line of a printed chain: label, value, unit.
Row = tuple[str, Interval | float, str]


# Parameters -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Parameters:
    """The chain parameters a result was computed with (central and range)."""

    it_over_server: Interval
    pue: Interval
    utilization: Interval
    cooling: str
    latent_fraction: Interval

    def as_dict(self) -> dict[str, Any]:
        """Return the parameters as JSON-compatible data."""
        return {
            "it_over_server": self.it_over_server.as_dict(),
            "pue": self.pue.as_dict(),
            "utilization": self.utilization.as_dict(),
            "cooling": self.cooling,
            "latent_fraction": self.latent_fraction.as_dict(),
        }


def _parameters(
    facts: EnergyFacts, *, pue: float | None, utilization: float | None, cooling: str | None
) -> Parameters:
    cool = facts.cooling_facts(cooling)
    name = "unknown" if cooling is None else cooling.strip().lower()
    return Parameters(
        it_over_server=Interval.from_range(facts.overheads.it_over_server),
        pue=Interval.from_range(facts.overheads.pue) if pue is None else _fixed_pue(facts, pue),
        utilization=(
            Interval.from_range(facts.utilization.training)
            if utilization is None
            else _fixed_utilization(facts, utilization)
        ),
        cooling=name,
        latent_fraction=Interval.from_range(cool.latent_fraction),
    )


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _fixed_pue(facts: EnergyFacts, pue: float) -> Interval:
    lo, hi = facts.limits.pue
    if not _is_number(pue) or not math.isfinite(pue) or not lo <= pue <= hi:
        raise EnergyModelError(
            f"impossible PUE {pue!r}: PUE is facility power over IT power and must be between "
            f"{lo} and {hi} (hyperscale sites run about 1.1 to 1.4)"
        )
    return Interval.point(pue)


def _fixed_utilization(facts: EnergyFacts, utilization: float) -> Interval:
    lo, hi = facts.limits.utilization
    if (
        not _is_number(utilization)
        or not math.isfinite(utilization)
        or not (lo <= utilization <= hi)
    ):
        raise EnergyModelError(
            f"impossible utilization {utilization!r}: it is the fraction of rated power drawn "
            f"while training and must be between {lo} and {hi} (typical 0.75)"
        )
    return Interval.point(utilization)


def server_over_board(acc: Accelerator, facts: EnergyFacts | None = None) -> Interval:
    """Return the server-over-board multiplier at peak for one accelerator.

    Epoch's generic range (1.39, 1.53, 1.82), with the high end replaced by the accelerator's
    server nameplate ratio and the central and low values capped by it.

    Examples
    --------
    >>> from models.energy_data import load_facts
    >>> server_over_board(load_facts().accelerator("gb200")).central
    1.53
    """
    rng = (facts or load_facts()).overheads.server_over_board
    cap = acc.server_rating.ratio
    return Interval(min(rng.central, cap), min(rng.low, cap), cap)


def _check_duration(value: float | None, what: str) -> float | None:
    if value is None:
        return None
    if not _is_number(value) or not math.isfinite(value):
        raise EnergyModelError(f"{what} must be a number, got {value!r}")
    if value < 0:
        raise EnergyModelError(f"{what} must be zero or positive, got {value}")
    return float(value)


def _split(heat: Interval, latent_fraction: Interval) -> tuple[Interval, Interval]:
    f = latent_fraction
    sensible = Interval(
        heat.central * (1 - f.central), heat.low * (1 - f.high), heat.high * (1 - f.low)
    )
    return sensible, heat * f


# Forward --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class OperatingPoint:
    """Power and heat of a cluster at one operating point (``peak`` or ``training``)."""

    name: str
    it_mw: Interval
    facility_mw: Interval
    sensible_mw: Interval
    latent_mw: Interval

    @property
    def heat_mw(self) -> Interval:
        """Heat rejected on site: all facility power ends as heat."""
        return self.facility_mw

    def as_dict(self) -> dict[str, Any]:
        """Return the operating point as JSON-compatible data."""
        return {
            "it_mw": self.it_mw.as_dict(),
            "facility_mw": self.facility_mw.as_dict(),
            "heat_mw": self.heat_mw.as_dict(),
            "sensible_mw": self.sensible_mw.as_dict(),
            "latent_mw": self.latent_mw.as_dict(),
        }


@dataclass(frozen=True)
class ForwardResult:
    """Power, heat and compute of a cluster; see :func:`forward`."""

    cluster: ClusterSpec
    parameters: Parameters
    board_mw: float
    server_mw: Interval
    it_capacity_mw: float
    peak: OperatingPoint
    training: OperatingPoint
    bf16_flops: float
    eight_bit_ops: float
    h100e: float
    hours: float | None = None
    flop_bf16: float | None = None
    ops_eight_bit: float | None = None

    @property
    def facility_kw_per_h100e(self) -> float:
        """Peak facility kW per H100-equivalent (Epoch AI's power-per-compute figure)."""
        return self.peak.facility_mw.central * 1e3 / self.h100e

    def rows(self) -> list[Row]:
        """Return the chain as ``(label, value, unit)`` rows, in order, for printing."""
        p = self.parameters
        board = self.board_mw
        out: list[Row] = [
            ("Accelerator board power", board, "MW"),
            ("x server / board", Interval(*(v / board for v in _triple(self.server_mw))), "x"),
            ("Server power, peak", self.server_mw, "MW"),
            ("x IT / server", p.it_over_server, "x"),
            ("IT power, peak", self.peak.it_mw, "MW"),
            ("IT capacity, nameplate", self.it_capacity_mw, "MW"),
            ("x PUE", p.pue, "x"),
            ("Facility power = heat, peak", self.peak.facility_mw, "MW"),
            ("x utilization while training", p.utilization, "x"),
            ("Facility power = heat, training", self.training.facility_mw, "MW"),
            ("Sensible heat (warm air), training", self.training.sensible_mw, "MW"),
            ("Latent heat (evaporation), training", self.training.latent_mw, "MW"),
            ("Dense BF16", self.bf16_flops, "FLOP/s"),
            ("Dense 8-bit", self.eight_bit_ops, "OP/s"),
            ("H100-equivalents", self.h100e, "H100e"),
            ("Facility power per H100e, peak", self.facility_kw_per_h100e, "kW"),
        ]
        if self.flop_bf16 is not None:
            out.append((f"BF16 FLOP over {self.hours:g} h at peak", self.flop_bf16, "FLOP"))
        return out

    def as_dict(self) -> dict[str, Any]:
        """Return the result as JSON-compatible data."""
        return {
            "cluster": dict(self.cluster.counts),
            "parameters": self.parameters.as_dict(),
            "board_mw": self.board_mw,
            "server_mw": self.server_mw.as_dict(),
            "it_capacity_mw": self.it_capacity_mw,
            "peak": self.peak.as_dict(),
            "training": self.training.as_dict(),
            "bf16_flops": self.bf16_flops,
            "eight_bit_ops": self.eight_bit_ops,
            "h100e": self.h100e,
            "facility_kw_per_h100e": self.facility_kw_per_h100e,
            "hours": self.hours,
            "flop_bf16": self.flop_bf16,
            "ops_eight_bit": self.ops_eight_bit,
        }


def _triple(iv: Interval) -> tuple[float, float, float]:
    return iv.central, iv.low, iv.high


def _sum(intervals: Iterable[Interval]) -> Interval:
    total = Interval.point(0.0)
    for item in intervals:
        total = total + item
    return total


def forward(
    cluster: ClusterSpec | Mapping[str, int],
    *,
    utilization: float | None = None,
    pue: float | None = None,
    cooling: str | None = "dry",
    hours: float | None = None,
) -> ForwardResult:
    """Compute the power, heat and compute of a cluster of accelerators.

    Parameters
    ----------
    cluster
        Accelerator name -> count, or a :class:`ClusterSpec` (a mix is allowed).
    utilization
        Fraction of rated power drawn while training; default the sourced range
        (0.75, 0.75 to 0.82).
    pue
        Facility power over IT power, 1.0 to 3.0; default the sourced range (1.4, 1.08 to 1.4).
    cooling
        ``"dry"``, ``"evaporative"`` or ``"hybrid"`` (``None``: unknown); splits the heat
        into sensible and latent heat.
    hours
        Operating period; if given, the FLOP accumulated over it at peak FLOP/s.

    Returns
    -------
    ForwardResult
        IT, facility and heat MW at peak and at training draw (intervals), the nameplate IT
        capacity, dense BF16 FLOP/s and 8-bit OP/s, H100-equivalents, and FLOP over ``hours``.

    Raises
    ------
    EnergyModelError
        For unknown accelerators or cooling types, counts that are not positive whole numbers,
        or an impossible PUE or utilization.

    Examples
    --------
    >>> r = forward({"h100": 100_000})
    >>> round(r.peak.facility_mw.central), round(r.it_capacity_mw), r.h100e
    (171, 145, 100000.0)
    """
    facts = load_facts()
    spec = ClusterSpec.coerce(cluster)
    params = _parameters(facts, pue=pue, utilization=utilization, cooling=cooling)
    hours = _check_duration(hours, "hours")

    accs = [(facts.accelerator(key), n) for key, n in spec.counts.items()]
    board_mw = sum(acc.board_w * n for acc, n in accs) / _W_PER_MW
    server = _sum(
        server_over_board(acc, facts).scaled(acc.board_w * n / _W_PER_MW) for acc, n in accs
    )
    capacity = sum(acc.board_w * n * acc.server_rating.ratio for acc, n in accs) / _W_PER_MW
    it_peak = server * params.it_over_server
    facility_peak = it_peak * params.pue
    it_train = it_peak * params.utilization
    facility_train = facility_peak * params.utilization

    bf16 = sum(acc.bf16_flops * n for acc, n in accs)
    eight = sum(acc.eight_bit_ops * n for acc, n in accs)
    seconds = None if hours is None else hours * SECONDS_PER_HOUR
    return ForwardResult(
        cluster=spec,
        parameters=params,
        board_mw=board_mw,
        server_mw=server,
        it_capacity_mw=capacity * params.it_over_server.central,
        peak=OperatingPoint(
            "peak", it_peak, facility_peak, *_split(facility_peak, params.latent_fraction)
        ),
        training=OperatingPoint(
            "training", it_train, facility_train, *_split(facility_train, params.latent_fraction)
        ),
        bf16_flops=bf16,
        eight_bit_ops=eight,
        h100e=eight / facts.h100e.eight_bit_ops_per_s,
        hours=hours,
        flop_bf16=None if seconds is None else bf16 * seconds,
        ops_eight_bit=None if seconds is None else eight * seconds,
    )


# Inverse --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class InverseResult:
    """The cluster implied by an observed heat; see :func:`inverse`."""

    accelerator: str
    parameters: Parameters
    server_over_board: Interval
    heat_mw: Interval
    facility_mw: Interval
    facility_peak_mw: Interval
    it_mw: Interval
    accelerator_count: Interval
    h100e: Interval
    bf16_flops: Interval
    eight_bit_ops: Interval
    sensible_mw: Interval
    latent_mw: Interval
    active_days: float | None = None
    flop_bf16: Interval | None = None
    ops_eight_bit: Interval | None = None
    #: what the given MW were: ``"training"`` (heat rejected at training draw, what a thermal
    #: sensor sees) or ``"peak"`` (facility power at peak, Epoch AI's MW)
    convention: str = "training"
    method: str = field(
        default="interval arithmetic: bounds combine the heat interval with every parameter "
        "at its extreme (conservative envelope, not a confidence interval)"
    )

    def rows(self) -> list[Row]:
        """Return the chain, from heat back to accelerators, as ``(label, value, unit)`` rows."""
        p = self.parameters
        if self.convention == "peak":
            head: list[Row] = [
                ("Facility power, peak (given; Epoch AI's convention)", self.facility_peak_mw,
                 "MW"),
                ("x utilization while training", p.utilization, "x"),
                ("Heat rejected while training = facility power", self.heat_mw, "MW"),
                ("Sensible heat (warm air)", self.sensible_mw, "MW"),
                ("Latent heat (evaporation)", self.latent_mw, "MW"),
            ]
        else:
            head = [
                ("Heat rejected (given) = facility power while training", self.heat_mw, "MW"),
                ("Sensible heat (warm air)", self.sensible_mw, "MW"),
                ("Latent heat (evaporation)", self.latent_mw, "MW"),
                ("/ utilization while training", p.utilization, "x"),
                ("Facility capacity, peak", self.facility_peak_mw, "MW"),
            ]
        out: list[Row] = [
            *head,
            ("/ PUE", p.pue, "x"),
            ("IT power, training", self.it_mw, "MW"),
            ("/ IT / server", p.it_over_server, "x"),
            ("/ server / board", self.server_over_board, "x"),
            (f"Accelerators ({self.accelerator})", self.accelerator_count, "count"),
            ("H100-equivalents", self.h100e, "H100e"),
            ("Dense BF16", self.bf16_flops, "FLOP/s"),
            ("Dense 8-bit", self.eight_bit_ops, "OP/s"),
        ]
        if self.flop_bf16 is not None:
            out.append((f"BF16 FLOP over {self.active_days:g} days", self.flop_bf16, "FLOP"))
        return out

    def as_dict(self) -> dict[str, Any]:
        """Return the result as JSON-compatible data."""
        out: dict[str, Any] = {
            "accelerator": self.accelerator,
            "convention": self.convention,
            "parameters": self.parameters.as_dict(),
            "server_over_board": self.server_over_board.as_dict(),
        }
        for name in (
            "heat_mw",
            "facility_mw",
            "facility_peak_mw",
            "it_mw",
            "accelerator_count",
            "h100e",
            "bf16_flops",
            "eight_bit_ops",
            "sensible_mw",
            "latent_mw",
        ):
            out[name] = getattr(self, name).as_dict()
        out["active_days"] = self.active_days
        out["flop_bf16"] = None if self.flop_bf16 is None else self.flop_bf16.as_dict()
        out["ops_eight_bit"] = None if self.ops_eight_bit is None else self.ops_eight_bit.as_dict()
        out["method"] = self.method
        return out


def _heat_interval(heat_mw: Interval | float | tuple[float, float, float]) -> Interval:
    heat = Interval.coerce(heat_mw)
    if heat.low < 0:
        raise EnergyModelError(f"heat must be zero or positive MW, got low bound {heat.low}")
    return heat


#: What the MW given to :func:`inverse` are.
CONVENTIONS = ("training", "peak")


def _mix(spec: ClusterSpec, facts: EnergyFacts) -> tuple[Interval, float, float, float]:
    """Per accelerator of a mix (by count): server/board, board W, BF16 FLOP/s, 8-bit OP/s."""
    accs = [(facts.accelerator(key), n / spec.total) for key, n in spec.counts.items()]
    board_w = sum(acc.board_w * share for acc, share in accs)
    server_w = _sum(server_over_board(acc, facts).scaled(acc.board_w * share)
                    for acc, share in accs)
    return (server_w.scaled(1 / board_w), board_w,
            sum(acc.bf16_flops * share for acc, share in accs),
            sum(acc.eight_bit_ops * share for acc, share in accs))


def inverse(
    heat_mw: Interval | float | tuple[float, float, float],
    *,
    accelerator: str | Mapping[str, int] | ClusterSpec = "h100",
    cooling: str | None = None,
    active_days: float | None = None,
    pue: float | None = None,
    utilization: float | None = None,
    convention: str = "training",
) -> InverseResult:
    """Infer the cluster behind an observed heat rejection (or a peak power), with intervals.

    By default (``convention="training"``) the MW are the *total* heat rejected (``scan``
    already converts the visible sensible excess into total MW), which equals the facility
    power at training draw. With ``convention="peak"`` they are the facility power at peak,
    the convention of Epoch AI's MW; the two differ by the utilization (0.75).

    Parameters
    ----------
    heat_mw
        MW: an :class:`Interval`, a number, or ``(central, low, high)``.
    accelerator
        Accelerator generation (name or alias), or a site's mix (mapping, :class:`ClusterSpec`
        or text such as ``"h100:150000, h200:50000"``): the count is of that mix, by share.
    cooling
        ``"dry"``, ``"evaporative"``, ``"hybrid"`` or ``None`` (unknown); only affects the
        sensible/latent split reported.
    active_days
        Observed active period; if given, the FLOP accumulated over it at peak FLOP/s.
    pue, utilization
        Fix these parameters instead of using their sourced ranges.
    convention
        ``"training"`` (heat rejected at training draw) or ``"peak"`` (facility power at peak).

    Returns
    -------
    InverseResult
        Facility MW (draw and implied peak capacity), IT MW, accelerator count,
        H100-equivalents, FLOP/s and FLOP over ``active_days``, each as an :class:`Interval`.
        ``low = heat_low / (largest chain multiplier)`` and
        ``high = heat_high / (smallest chain multiplier)``.

    Raises
    ------
    EnergyModelError
        For an unknown accelerator, convention or cooling type, negative heat, or an
        impossible PUE.

    Examples
    --------
    >>> r = inverse(Interval(128.0, 100.0, 160.0), accelerator="h100")
    >>> round(r.accelerator_count.central, -3)
    100000.0
    >>> r.accelerator_count.low < 100_000 < r.accelerator_count.high
    True
    >>> round(inverse(295.0, accelerator="gb200", convention="peak").h100e.central, -3)
    254000.0
    """
    if convention not in CONVENTIONS:
        raise EnergyModelError(f"convention must be 'training' (heat rejected at training draw) "
                               f"or 'peak' (facility power at peak), got {convention!r}")
    facts = load_facts()
    if isinstance(accelerator, str) and not any(c in accelerator for c in ":,+{"):
        spec = ClusterSpec.of(facts.accelerator(accelerator).key, 1)
    else:
        spec = ClusterSpec.coerce(accelerator)
    params = _parameters(facts, pue=pue, utilization=utilization, cooling=cooling)
    given = _heat_interval(heat_mw)
    days = _check_duration(active_days, "active_days")
    # peak facility MW given: the heat rejected while training is that times the utilization
    heat = given * params.utilization if convention == "peak" else given
    facility_peak = given if convention == "peak" else heat / params.utilization

    # Facility watts at training draw per accelerator: board x server x IT x PUE x utilization.
    server, board_w, bf16_per, eight_per = _mix(spec, facts)
    per_acc_w = server.scaled(board_w) * params.it_over_server * params.pue * params.utilization
    if convention == "peak":
        count = given.scaled(_W_PER_MW) / (server.scaled(board_w) * params.it_over_server
                                           * params.pue)
    else:
        count = heat.scaled(_W_PER_MW) / per_acc_w
    bf16 = count.scaled(bf16_per)
    eight = count.scaled(eight_per)
    seconds = None if days is None else days * 24 * SECONDS_PER_HOUR
    return InverseResult(
        accelerator=spec.label,
        parameters=params,
        server_over_board=server,
        heat_mw=heat,
        facility_mw=heat,
        facility_peak_mw=facility_peak,
        it_mw=heat / params.pue,
        accelerator_count=count,
        h100e=eight.scaled(1 / facts.h100e.eight_bit_ops_per_s),
        bf16_flops=bf16,
        eight_bit_ops=eight,
        sensible_mw=_split(heat, params.latent_fraction)[0],
        latent_mw=_split(heat, params.latent_fraction)[1],
        active_days=days,
        flop_bf16=None if seconds is None else bf16.scaled(seconds),
        ops_eight_bit=None if seconds is None else eight.scaled(seconds),
        convention=convention,
    )
