"""Safe outputs: atomic writes, disk full, JSON of numpy values, COGs."""

from __future__ import annotations

import errno
import json
import os
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import rasterio
import rioxarray  # noqa: F401 - registers the .rio accessor
import xarray as xr

from pipeline.core import outputs
from pipeline.core.errors import OutputError
from pipeline.core.outputs import atomic_path, sha256_file, write_cog, write_json, write_text


def _leftovers(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".part"))


def test_writer_that_raises_leaves_no_partial_file(tmp_path: Path) -> None:
    target = tmp_path / "out" / "report.json"
    with pytest.raises(RuntimeError, match="boom"), atomic_path(target) as tmp:
        tmp.write_text('{"half": ')
        raise RuntimeError("boom")
    assert not target.exists()
    assert _leftovers(target.parent) == []


def _interrupted_after(monkeypatch: pytest.MonkeyPatch, module: object, name: str) -> None:
    """Make ``module.name`` do its work, then raise ``SystemExit`` (once).

    That is what Ctrl-C or SIGTERM does under the CLI's handler, at the worst moment: Python
    runs the handler at the next bytecode in the main thread, and no signal mask stops that
    when another thread of the process received the signal.
    """
    real = getattr(module, name)
    done = []

    def then_exit(*args: object, **kwargs: object) -> object:
        out = real(*args, **kwargs)
        if not done:
            done.append(True)
            raise SystemExit(143)
        return out

    monkeypatch.setattr(module, name, then_exit)


@pytest.mark.parametrize(("call", "written"), [
    ("mkdir", False),  # just after the temporary folder is made
    ("replace", True),  # as the clean-up starts, the output already in place
])
def test_a_signal_right_after_a_step_of_the_write_leaves_nothing(
        call: str, written: bool, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.json"
    _interrupted_after(monkeypatch, outputs.os, call)
    with pytest.raises(SystemExit):
        write_text(target, "{}")
    monkeypatch.undo()
    assert target.exists() == written
    if written:
        assert json.loads(target.read_text()) == {}
    assert _leftovers(tmp_path) == []


def _interrupt_first_rmtree(monkeypatch: pytest.MonkeyPatch,
                            interrupt: Callable[[], None]) -> list[Path]:
    """Make the writer's first ``shutil.rmtree`` call ``interrupt`` instead; return the calls."""
    calls: list[Path] = []
    real = outputs.shutil.rmtree

    def cut_short(folder: Path, *args: object, **kwargs: object) -> None:
        calls.append(folder)
        if len(calls) == 1:
            interrupt()
        real(folder, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(outputs.shutil, "rmtree", cut_short)
    return calls


def test_signal_during_the_clean_up_still_removes_the_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = tmp_path / "report.json"

    def ctrl_c() -> None:
        raise SystemExit(130)  # Ctrl-C before anything was removed

    calls = _interrupt_first_rmtree(monkeypatch, ctrl_c)
    with pytest.raises(SystemExit), atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    monkeypatch.undo()
    assert len(calls) == 2 and not target.exists()
    assert _leftovers(tmp_path) == []


def test_a_signal_inside_rmtree_s_double_close_still_exits_as_the_signal(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # CPython 3.11's rmtree, hit by SIGTERM right after it closed a folder, closes it again in
    # a finally: the OSError (bad file descriptor) replaces the signal's SystemExit
    target = tmp_path / "report.json"

    def double_close() -> None:
        try:
            raise SystemExit(143)
        finally:
            raise OSError(errno.EBADF, "Bad file descriptor")

    calls = _interrupt_first_rmtree(monkeypatch, double_close)
    with pytest.raises(SystemExit) as exit_info, atomic_path(target) as tmp:
        tmp.write_text("half")
        raise KeyboardInterrupt
    monkeypatch.undo()
    assert exit_info.value.code == 143
    assert len(calls) == 2 and not target.exists()
    assert _leftovers(tmp_path) == []


def test_failed_rewrite_keeps_the_old_file(tmp_path: Path) -> None:
    target = write_text(tmp_path / "a.txt", "old")
    with pytest.raises(KeyError), atomic_path(target) as tmp:
        tmp.write_text("new but incomplete")
        raise KeyError("interrupted")
    assert target.read_text() == "old"
    assert _leftovers(tmp_path) == []


def test_disk_full_is_an_output_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def full(*args: object) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(outputs.os, "replace", full)
    target = tmp_path / "a.json"
    with pytest.raises(OutputError, match="disk is full") as info:
        write_json(target, {"a": 1})
    assert isinstance(info.value, OSError)
    assert str(target) in str(info.value)
    assert not target.exists() and _leftovers(tmp_path) == []


def test_disk_full_while_writing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # the writer (a file write, GDAL) fails with ENOSPC half way through
    with pytest.raises(OutputError, match="disk is full"), atomic_path(tmp_path / "a.txt") as tmp:
        tmp.write_text("half")
        raise OSError(errno.ENOSPC, "No space left on device")
    assert _leftovers(tmp_path) == [] and not (tmp_path / "a.txt").exists()


def test_read_only_folder_is_an_output_error(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(errno.EACCES, "Permission denied")

    monkeypatch.setattr(outputs.os, "mkdir", denied)
    with pytest.raises(OutputError, match="permission denied"):
        write_text(tmp_path / "a.txt", "x")


def test_json_of_numpy_values(tmp_path: Path) -> None:
    data = {
        "f32": np.float32(1.5), "i64": np.int64(7), "b": np.bool_(True),
        "arr": np.arange(3, dtype=np.uint16), "path": tmp_path / "x.tif",
        "when": datetime(2024, 6, 1, 15, 30, tzinfo=timezone.utc),
        "nested": [{"v": np.float64(2.25)}],
    }
    path = write_json(tmp_path / "run.json", data)
    back = json.loads(path.read_text())
    assert back == {
        "f32": 1.5, "i64": 7, "b": True, "arr": [0, 1, 2], "path": str(tmp_path / "x.tif"),
        "when": "2024-06-01T15:30:00+00:00", "nested": [{"v": 2.25}],
    }
    with pytest.raises(TypeError, match="not JSON serialisable"):
        write_json(tmp_path / "bad.json", {"x": object()})
    assert not (tmp_path / "bad.json").exists() and _leftovers(tmp_path) == []


def test_write_cog(tmp_path: Path) -> None:
    h, w = 64, 64
    da = xr.DataArray(np.full((h, w), 300.0, np.float32), dims=("y", "x"),
                      coords={"y": 4e6 - (np.arange(h) + 0.5) * 30,
                              "x": 5e5 + (np.arange(w) + 0.5) * 30})
    da = da.rio.write_crs(32618)
    da.rio.write_nodata(np.nan, encoded=False, inplace=True)
    path = write_cog(tmp_path / "t.tif", da)
    with rasterio.open(path) as src:
        assert src.driver == "GTiff"
        assert src.tags(ns="IMAGE_STRUCTURE").get("LAYOUT") == "COG"
        assert src.crs.to_epsg() == 32618 and np.isnan(src.nodata)
        assert (src.transform.c, src.transform.f) == (5e5, 4e6)
    assert len(sha256_file(path)) == 64


def test_counts_are_written_as_whole_numbers_even_beside_a_missing_one(tmp_path: Path) -> None:
    import geopandas as gpd
    from shapely.geometry import Point

    from pipeline.core.outputs import write_geojson

    # a count column with a None is float in pandas: 200.0 in the file unless cast back
    sites = gpd.GeoDataFrame({"null_n": [200, None], "heat_mw": [475.0, None]},
                             geometry=[Point(0, 0), Point(1, 1)], crs=4326)
    assert sites["null_n"].dtype == float
    write_geojson(tmp_path / "plain.geojson", sites)
    write_geojson(tmp_path / "counts.geojson", sites, integers=["null_n", "not_a_column"])

    def props(name: str) -> list[dict]:
        doc = json.loads((tmp_path / name).read_text(encoding="utf-8"))
        return [f["properties"] for f in doc["features"]]

    assert '"null_n": 200.0' in (tmp_path / "plain.geojson").read_text(encoding="utf-8")
    assert props("counts.geojson") == [{"null_n": 200, "heat_mw": 475.0},
                                       {"null_n": None, "heat_mw": None}]
    assert type(props("counts.geojson")[0]["null_n"]) is int
    assert sites["null_n"].dtype == float  # the caller's frame is left as it was
