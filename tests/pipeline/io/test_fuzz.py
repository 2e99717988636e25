"""Fuzzing the reader: mutated GeoTIFF and MTL bytes must give a Dataset or a Heatwatch error.

Seeded random byte flips, truncations, header garbage, splices and hostile numbers are applied
to small valid products (Level-2 with MTL in txt/json/xml, Level-1, and a TIFF without geotags
like the published crops). ``discover_products`` + ``read_scene`` must then either return a
valid Dataset or raise a :class:`~pipeline.core.errors.HeatwatchError` subclass, never anything
else. The regression tests at the end are the crashes this fuzzer found, fixed in
``pipeline/io/mtl.py`` and ``pipeline/io/reader.py``.
"""

from __future__ import annotations

import random
import re
import shutil
import struct
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import rasterio
from affine import Affine
from rasterio.crs import CRS

from pipeline.core.errors import HeatwatchError, MetadataError, SceneReadError
from pipeline.core.grid import Grid
from pipeline.io.mtl import read_mtl_groups, write_mtl
from pipeline.io.reader import discover_products, read_scene
from pipeline.science.masking import MASKING
from tests.conftest import CRS_UTM18N, ORIGIN, ProductFactory

N_CASES = 40  # per parametrised target below; 5 targets -> 200 mutated products
GRID = Grid.from_bounds(CRS_UTM18N, (ORIGIN[0] + 300, ORIGIN[1] - 1500, ORIGIN[0] + 1500,
                                     ORIGIN[1] - 300), 45.0)
HOSTILE_NUMBERS = [b"nan", b"inf", b"-inf", b"0", b"-1", b"1e308", b"9" * 30, b"1e-300", b"",
                   b"0x1F", b"1_0"]


@dataclass(frozen=True)
class Base:
    folder: Path
    band: Path
    mtl: Path
    qa: Path | None


@pytest.fixture(scope="module")
def bases(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Base]:
    root = tmp_path_factory.mktemp("fuzz-bases")
    factory = ProductFactory(root)
    out: dict[str, Base] = {}
    for fmt in ("json", "txt", "xml"):
        m = factory.l2(mtl_format=fmt, folder=f"l2-{fmt}")
        out[f"l2-{fmt}"] = Base(m.folder, m.band, m.mtl, m.qa)
    m = factory.l1(folder="l1")
    out["l1"] = Base(m.folder, m.band, m.mtl, m.qa)
    # a plain TIFF without geotags (georeferencing rebuilt from the MTL), as published crops
    m = factory.l2(mtl_format="txt", folder="nogeo")
    with rasterio.open(m.band) as src:
        dn = src.read(1)
    m.band.unlink()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", rasterio.errors.NotGeoreferencedWarning)
        with rasterio.open(m.band, "w", driver="GTiff", width=dn.shape[1], height=dn.shape[0],
                           count=1, dtype="uint16") as dst:
            dst.write(dn, 1)
    out["nogeo"] = Base(m.folder, m.band, m.mtl, m.qa)
    return out


def mutate(data: bytes, rng: random.Random) -> bytes:
    """One seeded mutation: byte flips, truncation, header garbage, splice or hostile number."""
    b = bytearray(data)
    kind = rng.choice(["flip", "truncate", "header", "splice", "number"])
    if kind == "flip":
        for _ in range(rng.randint(1, 16)):
            b[rng.randrange(len(b))] = rng.randrange(256)
    elif kind == "truncate":
        b = b[: rng.randrange(len(b))]
    elif kind == "header":
        for _ in range(rng.randint(1, 8)):
            b[rng.randrange(min(len(b), 512))] = rng.randrange(256)
    elif kind == "splice":
        i, j = rng.randrange(len(b)), rng.randrange(len(b))
        b[i:i] = b[j : j + rng.randint(1, 64)]
    else:
        numbers = list(re.finditer(rb"\d+(?:\.\d+)?", bytes(b)))
        if numbers:
            m = rng.choice(numbers)
            b[m.start() : m.end()] = rng.choice(HOSTILE_NUMBERS)
    return bytes(b)


def check_dataset(ds) -> None:
    t, flags = ds["temperature"].values, ds["flags"].values
    assert t.dtype == np.float32 and flags.dtype == np.uint8 and t.shape == flags.shape
    assert ds.rio.crs is not None and ds.rio.crs.is_projected
    assert np.isfinite(np.array(ds.rio.transform())).all()
    good = np.isfinite(t)
    assert not (good & ((flags & MASKING) != 0)).any()
    if good.any():
        # no upper bound but the product's own ceiling (hot sources are data)
        ceiling = ds["temperature"].attrs.get("valid_max", np.inf)
        assert 220.0 <= t[good].min() and t[good].max() <= ceiling + 1e-3


def run_case(folder: Path, use_grid: bool) -> str:
    """Discover and read every product; return the outcome class name."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # QAMissingWarning, GDAL/rasterio warnings
        try:
            products, _ = discover_products(folder)
            for product in products:
                check_dataset(read_scene(product, grid=GRID if use_grid else None))
        except HeatwatchError as exc:
            return type(exc).__name__
    return "ok"


@pytest.mark.parametrize("target", ["band", "qa", "mtl-json", "mtl-txt", "mtl-xml"])
def test_mutated_products_never_crash(bases: dict[str, Base], tmp_path: Path, target: str) -> None:
    rng = random.Random(f"heatwatch-fuzz-{target}")
    outcomes: dict[str, int] = {}
    for i in range(N_CASES):
        if target.startswith("mtl-"):
            fmt = target[4:]
            names = [f"l2-{fmt}", "l1", "nogeo"] if fmt == "txt" else [f"l2-{fmt}"]
            base = bases[rng.choice(names)]
            victim = base.mtl
        else:
            base = bases[rng.choice(list(bases))]
            victim = base.band if target == "band" else base.qa
        assert victim is not None
        case = tmp_path / f"case{i}"
        shutil.copytree(base.folder, case)
        (case / victim.name).write_bytes(mutate(victim.read_bytes(), rng))
        try:
            outcome = run_case(case, use_grid=bool(i % 2))
        except Exception as exc:  # the point of the test: nothing else may escape
            pytest.fail(f"{target} case {i}: {type(exc).__name__}: {exc} (not a HeatwatchError)")
        outcomes[outcome] = outcomes.get(outcome, 0) + 1
        shutil.rmtree(case)
    assert sum(outcomes.values()) == N_CASES
    # the mutations must actually reach the error paths
    assert set(outcomes) - {"ok"}, outcomes


# Regressions: crashes found by the fuzzer, now Heatwatch errors --------------------------------


def _fresh(bases: dict[str, Base], name: str, tmp_path: Path) -> Base:
    base = bases[name]
    folder = tmp_path / name
    shutil.copytree(base.folder, folder)
    return Base(folder, folder / base.band.name, folder / base.mtl.name,
                folder / base.qa.name if base.qa else None)


def _read(folder: Path, grid: Grid | None = None):
    products, problems = discover_products(folder)
    assert len(products) == 1, problems
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_scene(products[0], grid=grid)


@pytest.mark.parametrize(
    ("key", "value"),
    [("THERMAL_LINES", "nan"),              # was ValueError: cannot convert float NaN to int
     ("THERMAL_SAMPLES", "inf"),            # was OverflowError
     ("UTM_ZONE", "99"),                    # was rasterio CRSError on a TIFF without geotags
     ("GRID_CELL_SIZE_THERMAL", "0"),       # was a zero-size pixel transform, silently
     ("CORNER_UL_PROJECTION_Y_PRODUCT", "nan"),  # was a NaN transform, silently
     ("THERMAL_LINES", "1e12")],            # was a 4.7e11 m pixel, silently
)
def test_hostile_numbers_in_the_mtl(bases, tmp_path: Path, key: str, value: str) -> None:
    base = _fresh(bases, "nogeo", tmp_path)
    groups = read_mtl_groups(base.mtl)
    groups["PROJECTION_ATTRIBUTES"][key] = value
    write_mtl(groups, base.mtl)
    with pytest.raises(MetadataError):
        _read(base.folder)


def test_deeply_nested_json_mtl(bases, tmp_path: Path) -> None:
    base = _fresh(bases, "l2-json", tmp_path)
    base.mtl.write_text("[" * 100_000)  # was RecursionError
    with pytest.raises(MetadataError):
        _read(base.folder)


def test_crs_name_that_is_not_utf8(bases, tmp_path: Path) -> None:
    # user-defined projected CRS whose citation holds a non-UTF-8 byte: rasterio raised
    # UnicodeDecodeError while opening the file
    base = _fresh(bases, "l2-json", tmp_path)
    data = bytearray(base.band.read_bytes())
    key = data.find(struct.pack("<HHHH", 3072, 0, 1, 32618))  # ProjectedCSTypeGeoKey
    assert key > 0
    data[key : key + 8] = struct.pack("<HHHH", 3072, 0, 1, 32767)
    data[data.find(b"UTM zone 18N")] = 0x8D
    base.band.write_bytes(bytes(data))
    with pytest.raises(SceneReadError, match="corrupt"):
        _read(base.folder)


def test_crs_that_is_not_a_projection_with_a_grid(bases, tmp_path: Path) -> None:
    # garbled geokeys gave an engineering CRS; reading onto a grid raised GDAL's
    # CPLE_NotSupportedError ("Cannot find coordinate operations")
    base = _fresh(bases, "l2-json", tmp_path)
    wkt = ('LOCAL_CS["WGS 84 / UTM zone 18N",UNIT["metre",1],AXIS["Easting",EAST],'
           'AXIS["Northing",NORTH]]')
    with rasterio.open(base.band, "r+") as dst:
        dst.crs = CRS.from_wkt(wkt)
        dst.transform = Affine(30.0, 0, ORIGIN[0], 0, -30.0, ORIGIN[1])
    with pytest.raises(SceneReadError, match="not a map projection"):
        _read(base.folder, grid=GRID)


def test_qa_band_of_another_type(bases, tmp_path: Path) -> None:
    base = _fresh(bases, "l2-json", tmp_path)
    assert base.qa is not None
    with rasterio.open(base.band) as src:
        profile = src.profile
    profile.update(dtype="float32", nodata=None)
    with rasterio.open(base.qa, "w", **profile) as dst:  # was read silently, NaN cast to bits
        dst.write(np.full((1, profile["height"], profile["width"]), np.nan, np.float32))
    with pytest.raises(SceneReadError, match="uint16"):
        _read(base.folder)


def test_fuzz_bases_are_valid(bases) -> None:
    for name, base in bases.items():
        check_dataset(_read(base.folder))
        check_dataset(_read(base.folder, grid=GRID))
        assert name


def test_factory_reuse_keeps_seeded_values(tmp_path: Path) -> None:
    a = ProductFactory(tmp_path / "a").l2(seed=3)
    b = ProductFactory(tmp_path / "b").l2(seed=3)
    assert a.band.read_bytes() == b.band.read_bytes()
