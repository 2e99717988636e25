"""One energy question as the command line asks it: accelerators forward, or heat inverted.

:func:`answer` checks that the options make one question (``--count`` or ``--heat-mw``), runs
:func:`models.energy.forward` or :func:`models.energy.inverse` and titles the result.
"""

from __future__ import annotations

from collections.abc import Sequence

from models.energy import ForwardResult, InverseResult, forward, inverse
from models.energy_types import Interval
from pipeline.core.errors import EnergyModelError

__all__ = ["answer"]


def answer(names: Sequence[str], counts: Sequence[int] | None, *, heat_mw: float | None,
           heat_low: float | None, heat_high: float | None, convention: str,
           cooling: str | None, pue: float | None, utilization: float | None,
           days: float | None) -> tuple[str, ForwardResult | InverseResult]:
    """Return the title and result of a forward (``counts``) or inverse (``heat_mw``) question.

    Examples
    --------
    >>> title, res = answer(["h100"], [1000], heat_mw=None, heat_low=None, heat_high=None,
    ...                     convention="training", cooling=None, pue=None, utilization=None,
    ...                     days=None)
    >>> title
    'Forward: 1,000 h100 (unknown cooling)'
    """
    if (heat_mw is None) == (not counts):
        raise EnergyModelError("give either --count (forward) or --heat-mw (inverse)")
    if heat_mw is None and (heat_low is not None or heat_high is not None):
        raise EnergyModelError("--heat-low and --heat-high need --heat-mw")
    result: ForwardResult | InverseResult
    if counts:
        if len(names) != len(counts) or len(set(names)) != len(names):
            raise EnergyModelError("give one distinct --accelerator for each --count")
        hours = None if days is None else days * 24
        result = forward(dict(zip(names, counts, strict=True)), utilization=utilization,
                         pue=pue, cooling=cooling, hours=hours)
        title = "Forward: " + ", ".join(f"{n:,} {a}" for a, n in result.cluster.counts.items())
    else:
        if len(names) != 1:
            raise EnergyModelError("the inverse takes a single --accelerator")
        assert heat_mw is not None
        low = heat_mw if heat_low is None else heat_low
        high = heat_mw if heat_high is None else heat_high
        result = inverse(Interval(heat_mw, low, high), accelerator=names[0], cooling=cooling,
                         active_days=days, pue=pue, utilization=utilization,
                         convention=convention)
        what = ("MW of facility power at peak (Epoch AI's convention)" if convention == "peak"
                else "MW of heat rejected at training draw (--convention peak for peak "
                "facility MW)")
        title = f"Inverse: {heat_mw:g} {what} as {result.accelerator}"
    return title + f" ({result.parameters.cooling} cooling)", result
