"""Shared helpers of the benchmarks: machine description, timing, and result files.

Both benchmarks (:mod:`bench.accuracy`, :mod:`bench.throughput`) record the machine they ran on
(platform, CPU count, load average before and after, Python and library versions) beside their
figures, because a timing without its machine and load is not a figure. Results are written
atomically as JSON under ``bench/results/``; the accuracy criteria and the README's tables read
their campus records alike (:func:`catalogued_change`, :func:`right_final_status`).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import platform
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "bench" / "results"


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _versions() -> dict[str, str]:
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for name in ("scipy", "rasterio", "xarray", "geopandas", "skimage"):
        try:
            out[name] = str(__import__(name).__version__)
        except (ImportError, AttributeError):
            out[name] = "absent"
    try:
        from pipeline import __version__ as hw

        out["heatwatch"] = hw
    except ImportError:
        out["heatwatch"] = "absent"
    return out


def machine_info() -> dict[str, Any]:
    """Describe the machine: platform, CPU, cores, memory, load average and versions."""
    mem_gb = None
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        mem_gb = round(pages * size / 1e9, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu_model": _cpu_model(),
        "cpu_count": os.cpu_count(),
        "memory_gb": mem_gb,
        "loadavg": [round(x, 2) for x in os.getloadavg()],
        "versions": _versions(),
    }


def git_revision(root: Path = ROOT) -> str | None:
    """Return the checked-out commit of ``root`` (read from ``.git``), or None.

    In a linked worktree ``.git`` is a file (``gitdir: ...``): HEAD is read there, branch
    refs from the repository's common folder (its ``commondir``).
    """
    git = common = root / ".git"
    try:
        if git.is_file():
            git = Path(git.read_text().split("gitdir:", 1)[1].strip())
            common = (git / (git / "commondir").read_text().strip()).resolve() \
                if (git / "commondir").is_file() else git
        ref = (git / "HEAD").read_text().strip()
        if ref.startswith("ref: "):
            target = common / ref[5:]
            if target.is_file():
                return target.read_text().strip()
            packed = common / "packed-refs"
            for line in packed.read_text().splitlines():
                if line.endswith(ref[5:]):
                    return line.split()[0]
            return None
        return ref
    except OSError:
        return None


def code_info() -> dict[str, Any]:
    """Which Heatwatch code is measured: its folder, commit, and uncommitted library changes.

    A clean export (``git archive``) carries its commit in a ``REVISION`` file; a checkout is
    asked for modified library files (``git status --porcelain``, read only).
    """
    import subprocess

    import pipeline

    root = Path(pipeline.__file__).resolve().parents[1]
    rev_file = root / "REVISION"
    out: dict[str, Any] = {"path": str(root), "revision": None, "modified": None}
    if rev_file.is_file():
        out.update(revision=rev_file.read_text().strip(), modified=[], source="clean export")
        return out
    out["revision"] = git_revision(root)
    out["source"] = "working tree"
    try:
        res = subprocess.run(["git", "status", "--porcelain", "--", "pipeline", "models", "aoi",
                              "configs"], cwd=root, capture_output=True, text=True, timeout=30)
        out["modified"] = [ln[3:] for ln in res.stdout.splitlines() if ln.strip()]
    except (OSError, subprocess.SubprocessError):
        pass
    return out


def envelope(name: str, *, command: str, config: dict[str, Any]) -> dict[str, Any]:
    """Start a result document: benchmark name, UTC time, command, settings and machine."""
    return {
        "benchmark": name,
        "measured_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "command": command,
        "code": code_info(),
        "settings": config,
        "machine": machine_info(),
    }


def finish(doc: dict[str, Any], started: float) -> dict[str, Any]:
    """Record the wall time of the run and the load average at its end."""
    doc["wall_seconds"] = round(time.perf_counter() - started, 1)
    doc["machine"]["loadavg_at_end"] = [round(x, 2) for x in os.getloadavg()]
    return doc


def _clean(obj: Any) -> Any:
    """Make ``obj`` JSON-safe: numpy scalars to Python, NaN/inf to None."""
    if isinstance(obj, dict):
        return {str(k): _clean(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_clean(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _clean(obj.tolist())
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return None if not math.isfinite(v) else v
    if isinstance(obj, np.bool_):
        return bool(obj)
    return obj


def write_json(doc: dict[str, Any], path: str | Path) -> Path:
    """Write ``doc`` as indented JSON atomically (NaN becomes null); return the path."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_suffix(p.suffix + ".tmp")
    tmp.write_text(json.dumps(_clean(doc), indent=1, sort_keys=False) + "\n", encoding="utf-8")
    os.replace(tmp, p)
    return p


@contextmanager
def timer() -> Iterator[dict[str, float]]:
    """Measure wall and process CPU seconds of a block: ``with timer() as t: ...; t["wall"]``."""
    out: dict[str, float] = {}
    w0, c0 = time.perf_counter(), time.process_time()
    try:
        yield out
    finally:
        out["wall"] = time.perf_counter() - w0
        out["cpu"] = time.process_time() - c0


def log(msg: str) -> None:
    """Print a progress line to stderr (the figures go to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def quantile(values: list[float] | np.ndarray, q: float) -> float:
    """Quantile of the finite values, NaN when there are none."""
    a = np.asarray(values, dtype=float)
    a = a[np.isfinite(a)]
    return float(np.quantile(a, q)) if a.size else float("nan")


#: Visible heat (MW of dry cooling) from which a new campus powering on must be found.
ONSET_VISIBLE_MW = 100.0


def band_name(lo: float, hi: float) -> str:
    """Label of a band of MW ("25-75 MW", "150+ MW" when it has no top).

    Examples
    --------
    >>> band_name(25.0, 75.0), band_name(150.0, float("inf"))
    ('25-75 MW', '150+ MW')
    """
    return f"{lo:g}+ MW" if hi == float("inf") else f"{lo:g}-{hi:g} MW"


def catalogued_change(campus: dict[str, Any]) -> bool:
    """Whether a campus record is a catalogued campus that powers on or shuts down."""
    return bool(campus["in_catalog"] and (campus["onset_in_series"] or campus["shut_down"]))


def right_final_status(campus: dict[str, Any]) -> bool:
    """Whether a campus record's status is its right final one (``inactive`` after a stop)."""
    return bool(campus["status"] == ("inactive" if campus["shut_down"] else "active"))


#: What the scan's fitted pattern says, in the words of the wrong-status table
#: (:func:`wrong_status_kind`; patterns of :mod:`pipeline.science.activity`).
PATTERN_WORDS = {
    "never": "no heat seen",
    "always": "fitted as always on",
    "onset": "fitted as a rise",
    "shutdown": "fitted as a fall",
    "window": "fitted as heat that came and went",
    "insufficient": "too few clear looks",
}


def wrong_status_kind(campus: dict[str, Any]) -> str | None:
    """What the scan said of a catalogued change whose final status is wrong; None otherwise.

    The change the world made (``powered on`` or ``shut down``), the status the scan gave
    (``none``: no site row) and what its fitted pattern says (:data:`PATTERN_WORDS`), so a
    reader can tell "cannot tell" (``undetermined``) from a wrong claim (``active`` after a
    stop).

    Examples
    --------
    >>> wrong_status_kind({"in_catalog": True, "onset_in_series": False, "shut_down": True,
    ...                    "status": "active", "pattern": "always"})
    'shut down: `active`, fitted as always on'
    >>> wrong_status_kind({"in_catalog": True, "onset_in_series": False, "shut_down": True,
    ...                    "status": "inactive", "pattern": "shutdown"}) is None
    True
    """
    if not catalogued_change(campus) or right_final_status(campus):
        return None
    change = "shut down" if campus["shut_down"] else "powered on"
    pattern = campus.get("pattern")
    words = PATTERN_WORDS.get(str(pattern), f"fitted as `{pattern}`") if pattern else "no fit"
    return f"{change}: `{campus['status'] or 'none'}`, {words}"


def dev_split_args(description: str, argv: list[str] | None, *,
                   greenness: bool = False) -> argparse.Namespace:
    """Parse the options of a benchmark over the widened development splits.

    ``--worlds N`` (only the first N worlds of each split, at least 1) and ``--out`` (the
    results folder); with ``greenness``, also ``--greenness`` (scan with
    ``reader.greenness`` on).
    """
    ap = argparse.ArgumentParser(description=description)
    ap.add_argument("--worlds", type=int, default=None,
                    help="only the first N worlds of each split")
    ap.add_argument("--out", type=Path, default=RESULTS)
    if greenness:
        ap.add_argument("--greenness", action="store_true",
                        help="scan with the red and near-infrared bands (reader.greenness)")
    args = ap.parse_args(argv)
    check_worlds(ap, args.worlds)
    return args


def check_worlds(ap: argparse.ArgumentParser, worlds: int | None) -> None:
    """Stop with a usage error when ``--worlds`` asks for fewer than one world."""
    if worlds is not None and worlds < 1:
        ap.error(f"--worlds {worlds}: choose 1 world or more")


def over_dev_splits(measure: Callable[[Any, Path, Any], list[dict[str, Any]]], config: Any,
                    worlds: int | None, what: str
                    ) -> tuple[list[dict[str, Any]], dict[str, list[str]]]:
    """Run ``measure(spec, workdir, config)`` on the four widened development splits.

    The splits of ``bench.accuracy`` (``wide_suite`` and ``onset_suite``, first and second;
    the held-out ones stay out of every choice), the first ``worlds`` of each, one world's
    files at a time. Returns every record, marked with its ``split``, and each split's world
    names; prints one progress line per world, counting its records as ``what``.
    """
    from bench.accuracy import onset_suite, wide_suite

    splits = {"wide": wide_suite(), "wide-second": wide_suite(second=True),
              "wide-onset": onset_suite(), "wide-onset-second": onset_suite(second=True)}
    records: list[dict[str, Any]] = []
    for split, specs in splits.items():
        for i, spec in enumerate(specs[:worlds]):
            with tempfile.TemporaryDirectory() as tmp:
                here = measure(spec, Path(tmp), config)
            records += [{"split": split, **r} for r in here]
            print(f"[{split} {i + 1}/{len(specs[:worlds])}] {spec.name}: {len(here)} {what}",
                  file=sys.stderr, flush=True)
    return records, {k: [s.name for s in v[:worlds]] for k, v in splits.items()}


def markdown_table(headers: list[str], rows: list[list[Any]], align: str | None = None) -> str:
    """Render a Markdown table; ``align`` is one character per column (``l`` or ``r``)."""
    align = align or "l" + "r" * (len(headers) - 1)
    sep = ["---:" if a == "r" else "---" for a in align]
    lines = ["| " + " | ".join(headers) + " |", "| " + " | ".join(sep) + " |"]
    lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
    return "\n".join(lines)


def publish(doc: dict[str, Any], *, name: str, out: Path, plot: Any, markdown: Any) -> int:
    """Write ``doc`` as JSON and its plot into ``out``, print its tables and a closing line."""
    write_json(doc, out / f"{name}.json")
    plot(doc, out / f"{name}.png")
    print(markdown(doc))
    machine = doc["machine"]
    print(f"\n{doc['measured_at']} on {machine['cpu_model']} ({machine['cpu_count']} cores), "
          f"load {machine['loadavg']} -> {machine['loadavg_at_end']}, {doc['wall_seconds']} s; "
          f"wrote {out / (name + '.json')}")
    return 0
