"""A site's series among 200 placebo footprints of plain sunlit land, on a year of suns.

Tests of the fall-shape null (``tests/pipeline/science/test_placebo.py``) and of the stop rule
that reads it (``tests/pipeline/scan/test_status.py``).
"""

import numpy as np

from pipeline.science.placebo import PlaceboSeries

#: Looks in the series; noise of every footprint's integrated excess (K m2).
N_LOOKS, NOISE_K_M2 = 40, 4e4


def sun(n: int = N_LOOKS) -> np.ndarray:
    """A year of 10:30 suns: the solar loading swings with the season."""
    return 0.65 + 0.25 * np.sin(np.linspace(0, 2 * np.pi, n))


def on_land(seed: int, signal: np.ndarray) -> tuple[np.ndarray, PlaceboSeries]:
    """Return the site's series (``signal`` plus noise) and it with its placebos.

    Each placebo is land whose solar response is drawn N(3e5, 9e4) K m2 per unit of sun.
    """
    rng = np.random.default_rng(seed)
    land = 3e5 * rng.normal(1.0, 0.3, (201, 1)) * sun() + rng.normal(0, NOISE_K_M2,
                                                                     (201, N_LOOKS))
    land[0] = signal + rng.normal(0, NOISE_K_M2, N_LOOKS)
    return land[0], PlaceboSeries(land, 0.3, [(0, 0)] * 200)
