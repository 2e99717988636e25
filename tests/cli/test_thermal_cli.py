"""``heatwatch thermal`` through the real typer app, on tiny synthetic products."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest
import rasterio

from tests.support import cli as support
from tests.support.cli import one_line

KINDS = ("temperature", "anomaly", "flags")


def run(*args: str):  # type: ignore[no-untyped-def]
    return support.run("thermal", *args)


def _check_cog(path: Path, made, kind: str) -> None:
    with rasterio.open(path) as src:
        assert src.driver == "GTiff"
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.crs == made.crs
        assert src.transform.almost_equals(made.transform)
        assert (src.height, src.width) == made.array.shape
        if kind == "flags":
            assert src.dtypes[0] == "uint8"
        else:
            assert src.dtypes[0] == "float32" and np.isnan(src.nodata)
            data = src.read(1)
            if kind == "temperature":
                np.testing.assert_allclose(data, made.array, atol=0.002)


def test_two_products_write_cogs_and_one_line_each(make_product, tmp_path: Path) -> None:
    a = make_product.l2(acquired=datetime(2024, 6, 1, 15), seed=1)
    b = make_product.l2(acquired=datetime(2024, 6, 17, 15), seed=2, wrs=(12, 32),
                        mtl_format="xml")
    out = tmp_path / "out"
    result = run(str(make_product.root), "--out", str(out))
    assert result.exit_code == 0, result.output
    for made in (a, b):
        for kind in KINDS:
            path = out / f"{made.pid}_{kind}.tif"
            assert path.is_file()
            _check_cog(path, made, kind)
    lines = [ln for ln in result.output.splitlines() if "median" in ln]
    assert len(lines) == 2
    assert a.pid in lines[0] and "2024-06-01" in lines[0]
    assert b.pid in lines[1]
    assert "2 scene(s) written" in one_line(result.output)
    assert sorted(p.name for p in out.iterdir()) == sorted(
        f"{m.pid}_{k}.tif" for m in (a, b) for k in KINDS)  # no temporary files left


def test_corrupt_product_is_named_and_the_run_is_partial(make_product, tmp_path: Path) -> None:
    good = make_product.l2(acquired=datetime(2024, 6, 1, 15))
    bad = make_product.l2(acquired=datetime(2024, 6, 9, 15), wrs=(12, 40))
    bad.band.write_bytes(bad.band.read_bytes()[:500])
    orphan = make_product.l2(acquired=datetime(2024, 6, 5, 15), wrs=(12, 41))
    orphan.mtl.unlink()
    out = tmp_path / "out"
    result = run(str(make_product.root), "--out", str(out))
    assert result.exit_code == 3, result.output
    text = one_line(result.output)
    assert f"skipped {bad.band.name}" in text and "corrupt" in text
    assert orphan.band.name in text and "MTL" in text  # discovery problems are shown too
    assert "1 scene(s) written" in text and "2 problem(s)" in text
    assert all((out / f"{good.pid}_{k}.tif").is_file() for k in KINDS)
    assert not any(bad.pid in p.name for p in out.iterdir())


def test_nothing_usable_is_an_error(make_product, tmp_path: Path) -> None:
    bad = make_product.l2()
    bad.mtl.write_text("not an MTL")
    result = run(str(make_product.root), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    assert "no scene could be processed" in one_line(result.output)


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_imagery_must_be_a_folder(tmp_path: Path, kind: str) -> None:
    target = tmp_path / "imagery"
    if kind == "file":
        target.write_text("x")
    result = run(str(target), "--out", str(tmp_path / "out"))
    assert result.exit_code == 2
    text = one_line(result.output)
    assert "error:" in text
    assert ("does not exist" if kind == "missing" else "is a file") in text
    assert "Traceback" not in result.output


def test_output_folder_that_is_a_file(make_product, tmp_path: Path) -> None:
    make_product.l2()
    out = tmp_path / "out"
    out.write_text("x")
    result = run(str(make_product.root), "--out", str(out))
    assert result.exit_code == 2, result.output
    assert "output folder" in one_line(result.output)


def test_markup_in_names_is_printed_verbatim(make_product, tmp_path: Path) -> None:
    bad = make_product.l2(folder="[bold]x")
    bad.band.write_bytes(b"garbage")
    make_product.l2(wrs=(1, 1))
    result = run(str(make_product.root), "--out", str(tmp_path / "out"))
    assert result.exit_code == 3, result.output
    assert "[bold]x" in result.output
