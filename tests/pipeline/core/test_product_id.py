"""The one Landsat Collection 2 product id (issue #21: four regexes disagreed on spacecraft)."""

from datetime import date, datetime

import pytest

from models.world import generate_world
from pipeline.core.errors import MetadataError, OutputError
from pipeline.core.product_id import ProductId
from pipeline.io.c2write import product_id
from pipeline.io.mtl import read_mtl
from pipeline.io.reader import discover_products
from pipeline.io.stac.items import pick_assets
from tests.support.worlds import make_spec

# Real ids: the shared samples (Liverpool L8 L2SP, Lahaina L9 L1TP) and USGS examples.
L8 = "LC08_L2SP_204023_20200927_20201006_02_T1"
L9 = "LC09_L1TP_063046_20230714_20230714_02_T1"


def test_fields_of_a_real_id():
    p = ProductId.parse(L8)
    assert (p.sensor, p.spacecraft, p.level, p.wrs_path, p.wrs_row) == ("C", 8, "L2SP", 204, 23)
    assert (p.acquired, p.processed) == (date(2020, 9, 27), date(2020, 10, 6))
    assert (p.collection, p.tier) == (2, "T1")
    assert str(p) == L8 and str(ProductId.parse(L9)) == L9


@pytest.mark.parametrize("text", [
    L8 + "_ST_B10", L8[:-1] + "3", L8.replace("L2SP", "L3SP"), L8.replace("20200927", "20201327"),
    L8.lower(), "LX08" + L8[4:], L8.replace("_204023_", "_20402_"),
])
def test_not_ids(text):
    assert ProductId.match(text) is None
    with pytest.raises(ValueError, match="not a Landsat Collection 2 product id"):
        ProductId.parse(text)


@pytest.mark.parametrize(("prefix", "band10"), [
    ("LC08", True), ("LC09", True), ("LT08", True), ("LT09", True),  # OLI/TIRS, TIRS-only
    ("LO08", False), ("LO09", False),  # OLI-only: no TIRS, no band 10
    ("LC07", False), ("LE07", False), ("LT05", False),  # older Landsat: band 6, not band 10
])
def test_band10_only_from_the_tirs_of_landsat_8_and_9(prefix, band10):
    assert ProductId.parse(prefix + L8[4:]).has_band10 is band10


def test_of_file_and_builder_agree():
    assert ProductId.of_file(L8 + "_ST_B10.TIF") == ProductId.parse(L8)
    assert ProductId.of_file(L8 + "_MTL.json") == ProductId.parse(L8)
    assert ProductId.of_file(L8 + "X_B10.TIF") is None
    built = product_id(spacecraft=9, level="L1TP", wrs_path=63, wrs_row=46,
                       acquired=datetime(2023, 7, 14))
    assert built == L9


def _world(tmp_path):
    generate_world(make_spec(n_acquisitions=1), tmp_path)
    mtl = sorted(tmp_path.glob("L*_MTL.*"))[0]
    return mtl


def test_read_mtl_refuses_an_oli_only_product(tmp_path):
    # the old MTL regex accepted L[COTEM]0[89]: an LO08 MTL was read as a thermal scene
    mtl = _world(tmp_path)
    pid = mtl.name[:40]
    lo = tmp_path / mtl.name.replace("LC08", "LO08").replace("LC09", "LO09")
    lo.write_text(mtl.read_text().replace(pid, lo.name[:40]))
    assert read_mtl(mtl).product_id == pid
    with pytest.raises(MetadataError, match="no thermal band 10"):
        read_mtl(lo)


def test_reader_names_a_misnamed_band_file(tmp_path):
    # the old reader skipped "LC08_<anything>_B10.TIF" silently: it looked like a Landsat file
    (tmp_path / "LC08_L2SP_20402_x_ST_B10.TIF").write_bytes(b"")
    (tmp_path / (L8 + "_QA_PIXEL.TIF")).write_bytes(b"")  # another file of a product: quiet
    products, problems = discover_products(tmp_path)
    assert not products and [p.path.name for p in problems] == ["LC08_L2SP_20402_x_ST_B10.TIF"]


@pytest.mark.parametrize(("prefix", "level", "ok"), [
    ("LC08_L2SP", "L2", True), ("LT09_L1GT", "L1", True), ("LO08_L1TP", "L1", False),
    ("LC08_L2SR", "L1", False), ("LC08_L2SP", "L1", False), ("LC08_L1TP", "L2", False),
])
def test_stac_assets_need_a_band10_product_of_the_level(prefix, level, ok):
    base = "https://h/" + prefix + L8[9:]
    band = base + ("_ST_B10.TIF" if level == "L2" else "_B10.TIF")
    item = {"id": "x", "assets": {"b": {"href": band}, "MTL.txt": {"href": base + "_MTL.txt"}}}
    got = pick_assets(item, level)  # type: ignore[arg-type]
    assert isinstance(got, str) is not ok


def test_a_night_product_left_from_another_run_is_foreign(tmp_path):
    # the old stale-file pattern matched only L2SP names: a night L1TP of an earlier run stayed
    # in the folder (and would be scanned) when the world was written again without it
    generate_world(make_spec(n_acquisitions=2), tmp_path, night_looks=(1,))
    with pytest.raises(OutputError, match="another world"):
        generate_world(make_spec(n_acquisitions=2), tmp_path)
    generate_world(make_spec(n_acquisitions=2), tmp_path, overwrite=True)
    assert not list(tmp_path.glob("*_L1TP_*"))
