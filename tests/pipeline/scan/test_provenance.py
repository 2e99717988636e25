"""A run's provenance, built once (pipeline.scan.provenance): the keys run.json has always had."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
from affine import Affine
from rasterio.crs import CRS

from pipeline import __version__
from pipeline.core.config import load_config
from pipeline.core.grid import Grid
from pipeline.io.reader import Problem, ProductFiles
from pipeline.io.source import LocalSource
from pipeline.io.stack import SceneLog
from pipeline.scan.provenance import input_files, run_provenance, scan_provenance, software


def _product(folder: Path, pid: str, *, qa: bool = True) -> ProductFiles:
    folder.mkdir(parents=True, exist_ok=True)
    files = {}
    for suffix in ("_ST_B10.TIF", "_MTL.json", "_QA_PIXEL.TIF"):
        path = folder / f"{pid}{suffix}"
        path.write_bytes(f"{pid}{suffix}".encode())
        files[suffix] = path
    return ProductFiles(pid, files["_ST_B10.TIF"], files["_MTL.json"],
                        files["_QA_PIXEL.TIF"] if qa else None, "L2SP")


def test_every_run_says_software_source_config_and_seconds(tmp_path: Path) -> None:
    cfg = load_config(environ={})
    prov = run_provenance(LocalSource(tmp_path), cfg, 12.3456, {"region": {"bounds": [0, 1]}})
    assert list(prov) == ["software", "imagery_dir", "region", "config", "seconds"]
    assert prov["software"] == software() == {"name": "heatwatch", "version": __version__}
    assert prov["imagery_dir"] == str(tmp_path) and prov["seconds"] == 12.35
    assert prov["config"] == cfg.as_dict()


def test_a_scan_records_each_input_with_its_sha256_and_whether_it_was_used(
        tmp_path: Path) -> None:
    imagery = tmp_path / "imagery"
    used = _product(imagery / "a", "LC08_L2SP_022035_20240101_20240102_02_T1")
    unused = _product(imagery, "LC09_L2SP_022035_20240109_20240110_02_T1", qa=False)
    log = SceneLog(used=[{"product_id": used.product_id}],
                   skipped=[Problem(unused.band, "all cloud")])
    grid = Grid(CRS.from_epsg(32616), Affine(30, 0, 600_000, 0, -30, 4_000_020), (4, 5))
    prov = scan_provenance(LocalSource(imagery), imagery, [used, unused], log,
                           load_config(environ={}), grid, 1.0)
    assert list(prov) == ["software", "imagery_dir", "inputs", "scenes", "skipped", "grid",
                          "config", "seconds"]
    by_path = {i["path"]: i for i in prov["inputs"]}
    assert len(by_path) == 5  # 3 files of the used product, band and MTL of the other
    for rel, entry in by_path.items():
        content = (imagery / rel).read_bytes()
        assert entry["sha256"] == hashlib.sha256(content).hexdigest()
        assert entry["used"] == (entry["product_id"] == used.product_id)
    assert "a/LC08_L2SP_022035_20240101_20240102_02_T1_ST_B10.TIF" in by_path  # relative
    assert prov["scenes"] == [{"product_id": used.product_id}]
    assert prov["skipped"] == [{"path": str(unused.band), "message": "all cloud"}]
    assert prov["grid"] == {"crs": "EPSG:32616", "transform": [30.0, 0.0, 600000.0, 0.0,
                                                               -30.0, 4000020.0],
                            "shape": [4, 5]}


def test_an_unreadable_input_has_no_digest(tmp_path: Path) -> None:
    p = _product(tmp_path, "LC08_L2SP_022035_20240101_20240102_02_T1")
    p.mtl.unlink()
    prov = scan_provenance(LocalSource(tmp_path), tmp_path, [p], SceneLog(),
                           load_config(environ={}),
                           Grid(CRS.from_epsg(32616), Affine(30, 0, 0, 0, -30, 0), (1, 1)), 0.0)
    digests = {Path(i["path"]).name: i["sha256"] for i in prov["inputs"]}
    assert digests[p.mtl.name] is None and digests[p.band.name] is not None


def test_site_and_exclusion_files_are_named_and_the_sites_hashed(tmp_path: Path) -> None:
    sites = tmp_path / "sites.geojson"
    sites.write_text('{"type": "FeatureCollection", "features": []}')
    assert input_files(None, None) == {"sites_file": None, "exclusions_file": None}
    assert input_files(sites, tmp_path / "x.geojson") == {
        "sites_file": str(sites), "exclusions_file": str(tmp_path / "x.geojson"),
        "sites_sha256": hashlib.sha256(sites.read_bytes()).hexdigest()}


def test_red_and_near_infrared_are_inputs_only_when_read(make_product) -> None:
    from pipeline.io.reader import discover_products
    from pipeline.scan.provenance import product_inputs

    make_product.l2(reflectance={4: np.full((64, 64), 0.1), 5: np.full((64, 64), 0.3)})
    (product,), _ = discover_products(make_product.root)
    plain = {Path(i["path"]).name[-10:] for i in product_inputs(
        make_product.root, [product], {product.product_id})}
    green = {Path(i["path"]).name[-10:] for i in product_inputs(
        make_product.root, [product], {product.product_id}, greenness=True)}
    assert not any("SR_B" in n for n in plain)  # reader.greenness off: never opened
    assert green - plain == {"_SR_B4.TIF", "_SR_B5.TIF"}
    assert len(product.files) == 5  # all of it, to link or copy the product whole
