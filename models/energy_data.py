"""The facts of the energy model: loading and validating ``models/data/energy.yaml``.

The YAML file holds every number the model uses (board power, FLOP/s, overhead multipliers,
PUE, utilization, latent heat fractions by cooling type) with the ids of its sources; this
module turns it into frozen, validated objects once and resolves accelerator names. The
model itself (:mod:`models.energy`) holds the algorithms and no numbers.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, ValidationError, model_validator

from pipeline.core.errors import EnergyModelError

DATA_FILE = "energy.yaml"
CoolingType = Literal["dry", "evaporative", "hybrid"]
COOLING_TYPES: tuple[CoolingType, ...] = ("dry", "evaporative", "hybrid")


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Range(_Frozen):
    """A sourced parameter with its plausible range: ``low <= central <= high``."""

    central: float
    low: float
    high: float
    note: str | None = None
    source: tuple[str, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low <= self.central <= self.high:
            raise ValueError(
                f"need low <= central <= high, got {self.low}, {self.central}, {self.high}"
            )
        return self


class ServerRating(_Frozen):
    """System nameplate power per accelerator over the accelerator's board power."""

    ratio: float = Field(gt=1.0, lt=4.0)
    basis: str
    source: tuple[str, ...]


class Accelerator(_Frozen):
    """One accelerator package: board power, dense FLOP/s and server nameplate ratio.

    ``key`` is the canonical short name (``"h100"``); ``aliases`` are other accepted names.
    """

    key: str
    name: str
    aliases: tuple[str, ...] = ()
    board_w: float = Field(gt=0)
    bf16_dense_tflops: float = Field(gt=0)
    eight_bit_dense_tops: float = Field(gt=0)
    eight_bit_format: Literal["fp8", "int8"]
    server_rating: ServerRating
    source: tuple[str, ...]
    confidence: Literal["high", "medium", "low"]
    note: str | None = None

    @property
    def bf16_flops(self) -> float:
        """Dense BF16 FLOP/s of one accelerator."""
        return self.bf16_dense_tflops * 1e12

    @property
    def eight_bit_ops(self) -> float:
        """Dense 8-bit (FP8 or INT8) OP/s of one accelerator."""
        return self.eight_bit_dense_tops * 1e12


class CoolingFacts(_Frozen):
    """Share of rejected heat that leaves as latent heat (evaporated water) for one cooling type."""

    description: str
    latent_fraction: Range
    note: str | None = None
    source: tuple[str, ...]

    @model_validator(mode="after")
    def _fraction(self) -> CoolingFacts:
        f = self.latent_fraction
        if f.low < 0 or f.high > 1:
            raise ValueError("latent_fraction must lie between 0 and 1")
        return self


class Overheads(_Frozen):
    """Nested multipliers board -> server -> IT -> facility."""

    server_over_board: Range
    it_over_server: Range
    pue: Range


class Utilization(_Frozen):
    """Power drawn while training as a fraction of rated (peak) power."""

    training: Range


class Limits(_Frozen):
    """Physically possible ranges of user-supplied parameters."""

    pue: tuple[float, float]
    utilization: tuple[float, float]


class SitePowerDensity(_Frozen):
    """Facility power over site area of frontier AI campuses at full build-out (W/m2)."""

    low_w_m2: float
    high_w_m2: float
    examples: dict[str, float]
    source: tuple[str, ...]


class HeatCoefficientFacts(_Frozen):
    """Sourced inputs of the physics-only excess-to-heat coefficient of a dry-cooled site."""

    exhaust_excess_k: Range
    flux_over_peak_sun: Range
    peak_sun_w_m2: float = Field(gt=0)
    peak_sun_source: tuple[str, ...]


class H100e(_Frozen):
    """Epoch AI's H100-equivalent convention."""

    eight_bit_ops_per_s: float = Field(gt=0)
    note: str
    source: tuple[str, ...]


class EpochRow(_Frozen):
    """One row of Epoch AI's data-center timelines used as a check."""

    date: str
    campus: str
    era: Literal["h100", "gb200", "trainium2", "mixed"]
    power_mw: float = Field(gt=0)
    h100e: float = Field(gt=0)
    chips: dict[str, int]


class EpochChecks(_Frozen):
    """Epoch AI rows the model is compared with, and the credit they require."""

    credit: str
    file: str
    source: tuple[str, ...]
    rows: tuple[EpochRow, ...]


class Source(_Frozen):
    """A cited source."""

    title: str
    url: str | None


class EnergyFacts(_Frozen):
    """Everything in ``energy.yaml``, validated, with accelerator names resolved."""

    schema_version: int
    h100e: H100e
    accelerators: dict[str, Accelerator]
    overheads: Overheads
    utilization: Utilization
    cooling: dict[str, CoolingFacts]
    limits: Limits
    site_power_density: SitePowerDensity
    heat_coefficient: HeatCoefficientFacts
    epoch_checks: EpochChecks
    sources: dict[str, Source]
    _by_alias: dict[str, Accelerator] = PrivateAttr(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _inject_keys(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("accelerators"), dict):
            accs = {
                k: {**v, "key": k} if isinstance(v, dict) else v
                for k, v in data["accelerators"].items()
            }
            data = {**data, "accelerators": accs}
        return data

    @model_validator(mode="after")
    def _check_references(self) -> EnergyFacts:
        missing = sorted(set(self._cited()) - set(self.sources))
        if missing:
            raise ValueError(f"source ids cited but not listed under sources: {', '.join(missing)}")
        needed = {*COOLING_TYPES, "unknown"}
        if not needed <= set(self.cooling):
            raise ValueError(f"cooling must define {', '.join(sorted(needed))}")
        for row in self.epoch_checks.rows:
            unknown = set(row.chips) - set(self.accelerators)
            if unknown:
                raise ValueError(
                    f"epoch_checks row {row.date} names unknown chips {sorted(unknown)}"
                )
        for acc in self.accelerators.values():
            for alias in (acc.key, *acc.aliases):
                other = self._by_alias.setdefault(_normalise(alias), acc)
                if other is not acc:
                    raise ValueError(f"name {alias!r} is used by both {other.key} and {acc.key}")
        return self

    def _cited(self) -> list[str]:
        ids = [*self.h100e.source, *self.epoch_checks.source, *self.site_power_density.source]
        hc = self.heat_coefficient
        ids += [*hc.exhaust_excess_k.source, *hc.flux_over_peak_sun.source, *hc.peak_sun_source]
        for acc in self.accelerators.values():
            ids += [*acc.source, *acc.server_rating.source]
        for rng in (
            self.overheads.server_over_board,
            self.overheads.it_over_server,
            self.overheads.pue,
            self.utilization.training,
        ):
            ids += rng.source
        for cool in self.cooling.values():
            ids += cool.source
        return ids

    def accelerator(self, name: str) -> Accelerator:
        """Return the accelerator called ``name`` (key or alias, any case).

        Raises
        ------
        EnergyModelError
            If the name is unknown; the message lists the known names.
        """
        acc = self._by_alias.get(_normalise(name))
        if acc is None:
            raise EnergyModelError(
                f"unknown accelerator {name!r}; known accelerators: "
                f"{', '.join(self.accelerators)} (aliases such as 'nvidia_h100_sxm5' also work)"
            )
        return acc

    def cooling_facts(self, cooling: str | None) -> CoolingFacts:
        """Return the latent-heat facts for a cooling type (``None`` means unknown)."""
        if cooling is None:
            return self.cooling["unknown"]
        key = _normalise(cooling)
        if key not in COOLING_TYPES:
            raise EnergyModelError(
                f"unknown cooling type {cooling!r}; use one of {', '.join(COOLING_TYPES)} "
                "(or leave it out if unknown)"
            )
        return self.cooling[key]


def _normalise(name: str) -> str:
    return re.sub(r"[\s\-./]+", "_", str(name).strip().lower())


def parse_facts(data: Any, *, origin: str = DATA_FILE) -> EnergyFacts:
    """Validate already-parsed YAML data as energy facts.

    Parameters
    ----------
    data
        The mapping read from an energy YAML file.
    origin
        Name of the file, for error messages.

    Returns
    -------
    EnergyFacts
        The frozen, validated facts.

    Raises
    ------
    EnergyModelError
        If a value is missing, out of range, or cites an unknown source.

    Examples
    --------
    >>> import yaml
    >>> from importlib import resources
    >>> text = resources.files("models").joinpath("data/energy.yaml").read_text()
    >>> parse_facts(yaml.safe_load(text)).accelerator("H100").board_w
    700.0
    """
    try:
        return EnergyFacts.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise EnergyModelError(f"invalid energy facts in {origin}: {problems}") from exc


@lru_cache(maxsize=1)
def load_facts() -> EnergyFacts:
    """Load the energy facts shipped with the package (read once, then cached).

    Returns
    -------
    EnergyFacts
        The validated content of ``models/data/energy.yaml``.

    Examples
    --------
    >>> facts = load_facts()
    >>> facts.accelerator("nvidia_h100_sxm5").key
    'h100'
    """
    text = resources.files("models").joinpath(f"data/{DATA_FILE}").read_text(encoding="utf-8")
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:  # pragma: no cover - shipped file is tested
        raise EnergyModelError(f"models/data/{DATA_FILE} is not valid YAML: {exc}") from exc
    return parse_facts(data, origin=f"models/data/{DATA_FILE}")


def known_accelerators() -> tuple[str, ...]:
    """Return the canonical names of the accelerators the model knows.

    Examples
    --------
    >>> "h100" in known_accelerators()
    True
    """
    return tuple(load_facts().accelerators)
