"""The real samples bundled in tests/data: sourced, checksummed, and found without shared/."""

from __future__ import annotations

import hashlib
import re

import pytest
import rasterio

from tests import conftest
from tests.conftest import BUNDLED, COLOMBIA, LAHAINA, LIVERPOOL, shared_sample


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.mark.parametrize("name", [COLOMBIA, LAHAINA, LIVERPOOL])
def test_bundled_sample_is_sourced_and_matches_its_checksums(name):
    folder = BUNDLED / name
    source = (folder / "SOURCE.txt").read_text()
    assert "USGS" in source and "public domain" in source and "license" in source
    listed = dict((f, h) for h, f in re.findall(r"^([0-9a-f]{64})\s+(\S.*?)\s*$", source, re.M))
    for path in sorted(folder.glob("L*")):
        if path.suffix == ".TIF" and name == COLOMBIA:  # recompressed: the pixels are listed
            kind = "QA_PIXEL" if "QA_PIXEL" in path.name else "ST_B10"
            with rasterio.open(path) as src:
                assert sha256(src.read(1).tobytes()) == listed[f"{kind} pixels"]
        elif path.suffix == ".TIF":  # the georeferenced copy USGS-named
            assert sha256(path.read_bytes()) == listed[f"DERIVED_georef_{path.stem}.tif"]
        else:
            assert sha256(path.read_bytes()) == listed[path.name]
    assert sum(p.stat().st_size for p in folder.iterdir()) < 400_000


def test_samples_are_found_without_the_shared_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(conftest, "SHARED", tmp_path / "absent")
    assert shared_sample(LAHAINA) == BUNDLED / LAHAINA
    with pytest.raises(FileNotFoundError, match="restore tests/data"):
        shared_sample("no_such_sample")
