"""Writing outputs safely: every file is written to a temporary name and renamed into place.

An interrupted run (signal, kill, full disk) therefore never leaves a half-written output:
either the old file or the new one is there. Disk-full and permission errors become
:class:`~pipeline.core.errors.OutputError` with the path and what to do.
"""

from __future__ import annotations

import errno
import json
import os
import secrets
import shutil
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import xarray as xr

from pipeline.core.errors import OutputError


@contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; move it to ``path`` if the block succeeds.

    The temporary file sits in a private hidden folder next to ``path`` (same file system) and
    keeps ``path``'s name, so format drivers that look at the suffix (GeoPackage, COG) behave.
    It is moved over ``path`` with :func:`os.replace` only when the block returns, so readers
    see the old file or the new one, never a half-written one; on any exception (including
    Ctrl-C and SIGTERM, which the CLI turns into ``SystemExit``) the temporary folder is removed.

    Raises
    ------
    OutputError
        If ``path`` is a folder, or the file system refuses the write (disk full, permission).

    Examples
    --------
    >>> import tempfile, pathlib
    >>> target = pathlib.Path(tempfile.mkdtemp()) / "a.txt"
    >>> with atomic_path(target) as tmp:
    ...     _ = tmp.write_text("hello")
    >>> target.read_text()
    'hello'
    """
    path = Path(path)
    if path.is_dir():
        raise OutputError(f"{path} is a folder; give a file name to write to")
    tmp_dir: Path | None = None
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Ctrl-C or SIGTERM (SystemExit from the CLI's handler) can surface between any two
        # bytecodes, and blocking signals does not help when another thread receives them: so
        # the folder's name is bound *before* the folder exists, and the clean-up below always
        # knows it.
        for _ in range(100):
            tmp_dir = path.parent / f".{path.name}.{secrets.token_hex(4)}.part"
            try:
                os.mkdir(tmp_dir, 0o700)
                break
            except FileExistsError:
                tmp_dir = None  # another writer's folder: not ours to remove
        else:
            raise OutputError(f"cannot create a temporary folder beside {path}; remove the "
                              f".{path.name}.*.part folders there")
        tmp = tmp_dir / path.name
        yield tmp
        # private folders are owner-only; outputs are meant to be shared
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        raise _output_error(path, exc) from exc
    finally:
        if tmp_dir is not None:
            _remove_tree(tmp_dir)


def _remove_tree(folder: Path) -> None:
    """Remove ``folder``; an exception raised meanwhile (a signal) finishes the job first.

    A signal that lands inside :func:`shutil.rmtree` between its closing a directory and
    noting it closed makes rmtree close it again (CPython 3.11's ``_rmtree_safe_fd``): an
    ``OSError`` (bad file descriptor) then replaces the signal's ``SystemExit`` or
    ``KeyboardInterrupt``. The signal is what the caller must see, so it is raised instead.
    """
    try:
        shutil.rmtree(folder, ignore_errors=True)
    except BaseException as exc:
        shutil.rmtree(folder, ignore_errors=True)
        interrupt = _interrupt_in(exc)
        if interrupt is not None and interrupt is not exc:
            raise interrupt from None
        raise


def _interrupt_in(exc: BaseException) -> BaseException | None:
    """Return the ``SystemExit`` or ``KeyboardInterrupt`` in ``exc`` or its context, if any."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, SystemExit | KeyboardInterrupt):
            return seen
        seen = seen.__context__
    return None


def write_bytes(path: str | Path, data: bytes, *, fsync: bool = False) -> Path:
    """Write bytes atomically (optionally fsynced before the rename)."""
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        fh.write(data)
        if fsync:
            fh.flush()
            os.fsync(fh.fileno())
    return Path(path)


def _output_error(path: Path, exc: OSError) -> OutputError:
    if exc.errno == errno.ENOSPC:
        hint = "the disk is full; free space or choose another --out folder"
    elif exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "permission denied; choose a folder you can write to"
    else:
        hint = exc.strerror or str(exc)
    return OutputError(f"cannot write {path}: {hint}")


def write_text(path: str | Path, text: str, *, fsync: bool = False) -> Path:
    """Write UTF-8 text atomically (optionally fsynced before the rename)."""
    return write_bytes(path, text.encode("utf-8"), fsync=fsync)


def _json_default(obj: Any) -> Any:
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "isoformat"):
        return obj.isoformat()
    raise TypeError(f"not JSON serialisable: {type(obj).__name__}")


def write_json(path: str | Path, data: Any) -> Path:
    """Write JSON atomically (numpy scalars, paths and dates are converted)."""
    return write_text(path, json.dumps(data, indent=2, default=_json_default, allow_nan=False))


def write_png(path: str | Path, fig: Any, *, dpi: int, **savefig_kwargs: Any) -> Path:
    """Save a matplotlib figure as PNG atomically and close it (even when saving fails)."""
    import matplotlib.pyplot as plt

    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format="png", dpi=dpi, **savefig_kwargs)
    finally:
        plt.close(fig)
    return Path(path)


def write_cog(path: str | Path, data: xr.DataArray | xr.Dataset) -> Path:
    """Write a Cloud Optimized GeoTIFF atomically (rioxarray, GDAL's COG driver)."""
    with atomic_path(path) as tmp:
        data.rio.to_raster(tmp, driver="COG", compress="DEFLATE")
    return Path(path)


def whole_numbers(frame: Any, integers: Iterable[str]) -> Any:
    """Return ``frame`` with its count columns ``integers`` as whole numbers (null where missing).

    Pandas stores a column of counts with a missing value as floats, which would write 200.0.

    Examples
    --------
    >>> import pandas as pd
    >>> whole_numbers(pd.DataFrame({"n": [200, None], "x": [0.5, 1.0]}), ["n", "m"]).to_csv(
    ...     index=False).split()
    ['n,x', '200,0.5', ',1.0']
    """
    cast = {c: "Int64" for c in integers if c in frame}
    return frame.astype(cast) if cast and len(frame) else frame


def write_geojson(path: str | Path, gdf: Any, integers: Iterable[str] = ()) -> Path:
    """Write a GeoDataFrame as GeoJSON (EPSG:4326) atomically.

    ``integers`` names count columns written as whole numbers (:func:`whole_numbers`).
    """
    gdf = whole_numbers(gdf, integers)
    with atomic_path(path) as tmp:
        text = gdf.to_crs(4326).to_json(na="null", drop_id=True) if len(gdf) else json.dumps(
            {"type": "FeatureCollection", "features": []})
        tmp.write_text(text, encoding="utf-8")
    return Path(path)


def sha256_file(path: str | Path, chunk: int = 1 << 20) -> str:
    """Return the hex sha256 of a file."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(chunk), b""):
            h.update(block)
    return h.hexdigest()
