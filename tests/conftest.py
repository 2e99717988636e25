"""Shared fixtures: a tiny seeded synthetic product factory and the real shared samples.

Synthetic products are written with :mod:`pipeline.io.c2write` exactly as USGS lays them out
(band 10, optional ``QA_PIXEL``, MTL in txt/json/xml), so every test goes through the one
reader. The real Landsat samples live in ``shared/data/landsat`` beside the repository, with
copies in ``tests/data/landsat`` that the tests use when that folder is absent.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
from affine import Affine
from rasterio.crs import CRS

from pipeline.io import c2write

#: The real samples as the project's shared folder holds them (``HEATWATCH_SHARED_LANDSAT``
#: overrides the place), and their copies in the repository: the fallback, so the real-data
#: tests run everywhere (``tests/data/README.md``).
SHARED = Path(os.environ.get("HEATWATCH_SHARED_LANDSAT",
                             Path(__file__).resolve().parents[2] / "shared" / "data" / "landsat"))
BUNDLED = Path(__file__).resolve().parent / "data" / "landsat"

COLOMBIA = "colombia_cloudy_l8_l2sp_512px"
LAHAINA = "lahaina_l9_l1tp"
LIVERPOOL = "liverpool_l8_l2sp"

#: Landsat 9 TIRS-2 band 10 constants as printed in the Lahaina MTL (and the L9 handbook).
L9_B10 = {"radiance_mult": 3.8e-4, "radiance_add": 0.1, "k1": 799.0284, "k2": 1329.2405}
#: Landsat 8 TIRS band 10 constants (Landsat 8 Data Users Handbook, table 5-7).
L8_B10 = {"radiance_mult": 3.342e-4, "radiance_add": 0.1, "k1": 774.8853, "k2": 1321.0789}

#: Default synthetic grid: UTM 18N, 30 m, 64 x 64 pixels.
SIZE = 64
RES = 30.0
ORIGIN = (499_995.0, 4_000_035.0)  # USGS lattice: pixel centres on whole multiples of 30 m
CRS_UTM18N = CRS.from_epsg(32618)


def pytest_configure(config: pytest.Config) -> None:
    # rasterio.windows calls ``Affine * tuple``, which affine 3 deprecates; not our code.
    config.addinivalue_line(
        "filterwarnings", "ignore:Use `@` matmul instead of `\\*` mul:PendingDeprecationWarning"
    )
    # The same warning can fire from background threads after the session's filters are
    # restored, printing after pytest's summary line: silence it process-wide as well.
    warnings.filterwarnings("ignore", message="Use `@` matmul instead of",
                            category=PendingDeprecationWarning)


def shared_sample(name: str) -> Path:
    """Return the folder of a real sample: the shared one, else its copy in ``tests/data``.

    Never skips: a sample missing from both places is an error of the checkout.
    """
    for folder in (SHARED / name, BUNDLED / name):
        if folder.is_dir():
            return folder
    raise FileNotFoundError(f"real Landsat sample {name!r} is neither in {SHARED} nor in "
                            f"{BUNDLED}; restore tests/data from git")


def smooth_field(shape: tuple[int, int] = (SIZE, SIZE), *, seed: int = 0,
                 base: float = 300.0, noise: float = 0.2) -> np.ndarray:
    """A seeded, gently varying temperature field in K (gradient plus small noise)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0 : shape[0], 0 : shape[1]]
    return base + 0.02 * xx - 0.01 * yy + rng.normal(0.0, noise, shape)


@dataclass(frozen=True)
class Made:
    """A synthetic product written to disk."""

    pid: str
    folder: Path
    files: list[Path]
    transform: Affine
    crs: CRS
    array: np.ndarray

    @property
    def band(self) -> Path:
        return self.files[0]

    @property
    def mtl(self) -> Path:
        return self.files[-1]

    @property
    def qa(self) -> Path | None:
        return next((p for p in self.files if p.name.endswith("_QA_PIXEL.TIF")), None)


class ProductFactory:
    """Write tiny synthetic L2/L1 products below one root folder (``tmp_path``)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _where(self, folder: str | Path | None, pid: str) -> Path:
        return self.root / (folder if folder is not None else pid)

    @staticmethod
    def _layout(level: str, shape: tuple[int, ...], qa: np.ndarray | bool | None,
                spacecraft: int, wrs: tuple[int, int], acquired: datetime,
                origin: tuple[float, float], res: float, crs: CRS | int
                ) -> tuple[np.ndarray | None, str, Affine, CRS]:
        """QA band (True: all clear, False/None: none), product id, transform and CRS."""
        qa_band = c2write_qa(shape) if qa is True else None if qa is False else qa
        pid = c2write.product_id(spacecraft=spacecraft, level=level, wrs_path=wrs[0],
                                 wrs_row=wrs[1], acquired=acquired)
        return (qa_band, pid, Affine(res, 0, origin[0], 0, -res, origin[1]),
                CRS.from_user_input(crs))

    def l2(
        self, *, kelvin: np.ndarray | None = None, spacecraft: int = 8,
        acquired: datetime = datetime(2024, 6, 1, 15, 30, 0), wrs: tuple[int, int] = (12, 31),
        origin: tuple[float, float] = ORIGIN, res: float = RES, crs: CRS | int = CRS_UTM18N,
        qa: np.ndarray | bool | None = True, mtl_format: str = "json",
        folder: str | Path | None = None, seed: int = 0, cloud_cover: float = 0.0,
        reflectance: dict[int, np.ndarray] | None = None,
    ) -> Made:
        """Write an L2SP product; ``qa=True`` writes an all-clear QA band, ``None`` none.

        ``reflectance``: surface reflectance by band number (4 red, 5 near-infrared).
        """
        kelvin = smooth_field(seed=seed) if kelvin is None else np.asarray(kelvin)
        qa, pid, tr, crs = self._layout("L2SP", kelvin.shape, qa, spacecraft, wrs, acquired,
                                        origin, res, crs)
        files = c2write.write_l2_product(
            self._where(folder, pid), pid=pid, kelvin=kelvin, transform=tr, crs=crs,
            acquired=acquired, sun_elevation=55.0, cloud_cover=cloud_cover,
            qa_pixel=qa, mtl_format=mtl_format,  # type: ignore[arg-type]
            reflectance=reflectance,
        )
        return Made(pid, files[0].parent, files, tr, crs, kelvin)

    def l1(
        self, *, counts: np.ndarray | None = None, spacecraft: int = 9,
        acquired: datetime = datetime(2024, 6, 2, 15, 30, 0), wrs: tuple[int, int] = (12, 31),
        origin: tuple[float, float] = ORIGIN, res: float = RES, crs: CRS | int = CRS_UTM18N,
        constants: dict[str, float] | None = None, qa: np.ndarray | bool | None = True,
        mtl_format: str = "txt", folder: str | Path | None = None, seed: int = 0,
    ) -> Made:
        """Write an L1TP product of band 10 counts (default: L9 constants, ~300 K)."""
        if counts is None:
            rng = np.random.default_rng(seed)
            counts = rng.integers(26_000, 27_000, size=(SIZE, SIZE)).astype(np.uint16)
        qa, pid, tr, crs = self._layout("L1TP", np.shape(counts), qa, spacecraft, wrs,
                                        acquired, origin, res, crs)
        files = c2write.write_l1_product(
            self._where(folder, pid), pid=pid, counts=counts, transform=tr, crs=crs,
            acquired=acquired, sun_elevation=55.0, qa_pixel=qa,
            mtl_format=mtl_format,  # type: ignore[arg-type]
            **(constants or L9_B10),
        )
        return Made(pid, files[0].parent, files, tr, crs, np.asarray(counts))


def c2write_qa(shape: tuple[int, ...], **layers: np.ndarray) -> np.ndarray:
    """An all-clear QA_PIXEL band, with optional boolean layers (cloud=..., water=...)."""
    from pipeline.science.qa import encode

    return encode(shape=tuple(shape), **layers)  # type: ignore[arg-type]


@pytest.fixture
def make_product(tmp_path: Path) -> ProductFactory:
    """Factory writing synthetic products below ``tmp_path`` (one sub-folder per product)."""
    return ProductFactory(tmp_path / "imagery")


@pytest.fixture
def colombia() -> Path:
    return shared_sample(COLOMBIA)


@pytest.fixture
def lahaina() -> Path:
    return shared_sample(LAHAINA)


@pytest.fixture
def liverpool() -> Path:
    return shared_sample(LIVERPOOL)


@pytest.fixture
def only_product() -> Callable[[Path], object]:
    """Discover the single product in a folder (asserting there is exactly one, no problem)."""
    from pipeline.io.reader import discover_products

    def _one(folder: Path) -> object:
        products, problems = discover_products(folder)
        assert len(products) == 1, (products, problems)
        assert problems == []
        return products[0]

    return _one
