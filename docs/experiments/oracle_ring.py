"""Oracle: new onsets judged on their true polygon with their ring's crop season known.

How many would pass if each fit knew the exact shape of its ring's crop season
(twenty-eighth session, docs/benchmarks.md).

The world's own crop cooling of each site's ring (``models.world.crop_loss`` times each
look's sun, averaged over the ring) is appended to the land modes every fit and every null
takes as no-heat terms (a free coefficient), then each new onset's true polygon is judged as
``bench/footprint_ceiling.py`` judges it. An upper bound on what a measured ring greenness
(NDVI from the products' red and near-infrared bands) could do; no detector reads it.

Run from the repository root: ``python docs/experiments/oracle_ring.py [--second]``.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import pipeline.scan.run as run  # noqa: E402
from bench import footprint_ceiling  # noqa: E402
from bench.accuracy import onset_suite  # noqa: E402
from bench.ring_season import on_world_grid  # noqa: E402
from models.world import crop_loss, generate_world  # noqa: E402
from pipeline.core.config import Config  # noqa: E402
from pipeline.science.placebo import PlaceboSeries  # noqa: E402

STATE: dict[str, Any] = {}
ORACLE: dict[int, np.ndarray] = {}
_accumulate, _measure, _modes = run._accumulate, run.measure_placebos, PlaceboSeries.modes


def accumulate(state: Any, *args: Any) -> None:
    """Run the scan's first pass, keeping its state (grid, scenes) for :func:`measure`."""
    STATE["state"] = state
    _accumulate(state, *args)


def measure(anomalies: np.ndarray, masks: Any, eligible: np.ndarray, **kw: Any) -> Any:
    """Measure a site's placebos and keep its ring's true crop cooling per look."""
    out = _measure(anomalies, masks, eligible, **kw)
    state, world = STATE["state"], STATE["world"]
    ring = on_world_grid(masks.ring, state.grid.transform, world["transform"], world["shape"])
    ORACLE[id(out)] = np.array([
        float(world["loss"][str(sc.date)[:10]][ring].mean()) * world["sun"].get(
            str(sc.date)[:10], 0.0) for sc in state.scenes])
    return out


def modes(self: PlaceboSeries, looks: np.ndarray, solar: np.ndarray, k: int) -> np.ndarray:
    """Return the land modes with the ring's true crop cooling as one more column."""
    m = _modes(self, looks, solar, k)
    x = ORACLE.get(id(self))
    looks = np.asarray(looks, dtype=bool)
    if x is None or np.ptp(col := x[:looks.size][looks]) == 0:
        return m
    return np.column_stack([m, col]) if m.size else col[:, None]


def main() -> int:
    """Judge every new onset of a development split on its true polygon, with the oracle."""
    run._accumulate, run.measure_placebos = accumulate, measure
    PlaceboSeries.modes = modes  # type: ignore[method-assign]
    config, passed, total = Config(), 0, 0
    with tempfile.TemporaryDirectory() as tmp:
        for spec in onset_suite(second="--second" in sys.argv[1:]):
            truth = generate_world(spec, Path(tmp) / "truth", overwrite=True)
            days = [a.date for a in truth.acquisitions]
            loss, transform = crop_loss(spec, days)
            STATE["world"] = {"transform": transform, "shape": (spec.size_px, spec.size_px),
                              "loss": {str(d): loss[i] for i, d in enumerate(days)},
                              "sun": {str(a.date): a.solar_loading * a.solar_factor
                                      for a in truth.acquisitions}}
            ORACLE.clear()
            found, _ = footprint_ceiling.measure_world(spec, Path(tmp), config, 100.0)
            for r in found:
                passed, total = passed + bool(r["passes_as_searched"]), total + 1
                print(r["world"], r["site_id"], "passes" if r["passes_as_searched"] else
                      "fails", r["pattern"], r["onset_error_acq"], r["ring_season_mw"],
                      (r["rejected_because"] or [""])[0], flush=True)
    print(f"{passed} of {total} pass on their true polygon")
    return 0


if __name__ == "__main__":
    sys.exit(main())
