"""Issue #10, end to end: bad input, faults and hostile files through the real ``heatwatch`` CLI.

Each test drives ``cli.app`` (typer's ``CliRunner``) or a real ``python -m cli`` process on a
small folder of seeded synthetic Landsat Collection 2 products written by the conftest factory
(:mod:`pipeline.io.c2write`). The checklist that maps every case of the issue to a test lives in
``docs/robustness.md``; cases already covered by unit tests elsewhere are listed there, not
repeated here.

Root cannot be denied a read by ``chmod``, so permission errors are *simulated* by
monkeypatching ``rasterio.open`` / ``open`` / ``Path.read_text`` to raise ``PermissionError``.
"""

from __future__ import annotations

import builtins
import errno
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import warnings
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pytest
import rasterio
from typer.testing import CliRunner

from cli import app
from pipeline.core import outputs
from pipeline.core.errors import QAMissingWarning
from tests.conftest import SIZE, Made, ProductFactory, c2write_qa, smooth_field
from tests.support.cli import WIDE, one_line

ROOT = Path(__file__).resolve().parents[1]
SECRET = "supersecret-0123456789abcdef"
SH_ENV = {"SH_CLIENT_ID": "robustness-client-id", "SH_CLIENT_SECRET": SECRET}
#: A small square over the synthetic scenes (UTM 18N, x 500 000, y 4 000 000 is lon -75).
LON, LAT = -74.9894, 36.1537
SQUARE = [[LON, LAT], [LON + 0.005, LAT], [LON + 0.005, LAT + 0.005], [LON, LAT + 0.005],
          [LON, LAT]]
T0 = datetime(2024, 1, 5, 15, 30)


def scan(imagery: Path, out: Path, *args: str, env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    """Run ``heatwatch scan`` in-process; project and library warnings are recorded, not raised."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = CliRunner().invoke(app, ["scan", str(imagery), "--out", str(out), *args],
                                    env={**WIDE, **(env or {})})
    result.caught = caught  # type: ignore[attr-defined]
    return result


def assert_clean_failure(result, *needles: str) -> str:  # type: ignore[no-untyped-def]
    """Exit 2, no traceback, one ``error:`` message holding every needle; return it."""
    assert result.exit_code == 2, (result.output, result.exception)
    assert isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    errors = [ln for ln in result.output.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1, result.output
    message = one_line(result.output[result.output.index("error:"):])
    for needle in needles:
        assert needle in message, (needle, message)
    return message


def site_file(path: Path, ring: list[list[float]], site_id: str = "site-a") -> Path:
    feature = {"type": "Feature", "properties": {"site_id": site_id},
               "geometry": {"type": "Polygon", "coordinates": [ring]}}
    path.write_text(json.dumps({"type": "FeatureCollection", "features": [feature]}))
    return path


def good_scenes(factory: ProductFactory, n: int, *, folder: str = "good",
                size: int = SIZE) -> list[Made]:
    """``n`` clear L8 scenes 16 days apart, written in an order that is not time order."""
    order = np.random.default_rng(10).permutation(n)
    return [factory.l2(acquired=T0 + timedelta(days=16 * int(i)), wrs=(20 + k, 31), seed=int(i),
                       kelvin=smooth_field((size, size), seed=int(i)),
                       folder=f"{folder}/{k:02d}") for k, i in enumerate(order)]


def partial_files(out: Path) -> list[Path]:
    """Temporary files or folders of the atomic writers left in ``out``."""
    return [p for p in out.rglob("*") if ".part" in p.name or p.name.endswith(".tmp")]


def assert_outputs_whole(out: Path) -> None:
    """Every JSON/GeoJSON parses, every GeoTIFF opens, no temporary file is left."""
    assert partial_files(out) == []
    for path in out.rglob("*"):
        if path.suffix in (".json", ".geojson"):
            json.loads(path.read_text(encoding="utf-8"))
        elif path.suffix == ".tif":
            with rasterio.open(path) as src:
                src.read(1)


# The mixed folder -------------------------------------------------------------------------------


@dataclass
class Mixed:
    root: Path
    out: Path
    result: object
    good: list[Made]
    bad: dict[str, Path]
    l8: Made
    l9: Made
    zone17: Made
    no_qa: Made


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Mixed:
    """One scan of a folder mixing good scenes with every kind of bad or awkward file.

    Run with Sentinel Hub credentials in the environment, so its outputs can be searched for
    the secret.
    """
    root = tmp_path_factory.mktemp("mixed")
    f = ProductFactory(root / "imagery")
    good = good_scenes(f, 6)
    bad: dict[str, Path] = {}
    # the same product twice, in two sub-folders
    shutil.copytree(good[0].folder, root / "imagery" / "zz-copy")
    bad["twice"] = root / "imagery" / "zz-copy" / good[0].band.name
    # L8 and L9 on one day: the L9 look is half cloud, so the L8 one is kept
    half = np.zeros((SIZE, SIZE), bool)
    half[: SIZE // 2] = True
    l8 = next(g for g in good if g.pid.split("_")[3] == f"{T0 + timedelta(days=32):%Y%m%d}")
    l9 = f.l2(spacecraft=9, acquired=T0 + timedelta(days=32, minutes=8), wrs=(40, 31), seed=40,
              folder="l9", qa=c2write_qa((SIZE, SIZE), cloud=half))
    bad["same_day"] = l9.band
    trunc = f.l2(acquired=T0 + timedelta(days=3), wrs=(41, 31), folder="truncated")
    trunc.band.write_bytes(trunc.band.read_bytes()[:400])
    bad["truncated"] = trunc.band
    dem = root / "imagery" / "dem.tif"
    with rasterio.open(dem, "w", driver="GTiff", width=4, height=4, count=1, dtype="uint8",
                       crs=good[0].crs, transform=good[0].transform) as dst:
        dst.write(np.zeros((1, 4, 4), np.uint8))
    bad["not_landsat"] = dem
    other = f.l2(acquired=T0 + timedelta(days=50), wrs=(42, 31), folder="other-mtl")
    shutil.copy(good[1].mtl, other.mtl)
    bad["other_mtl"] = other.band
    cloud = f.l2(acquired=T0 + timedelta(days=70), wrs=(43, 31), folder="cloud",
                 qa=c2write_qa((SIZE, SIZE), cloud=np.ones((SIZE, SIZE), bool)))
    bad["all_cloud"] = cloud.band
    # UTM 17N at 60 m over the same ground (mixed CRSs and resolutions in one folder)
    zone17 = f.l2(acquired=T0 + timedelta(days=42), wrs=(44, 31), folder="zone17", crs=32617,
                  res=60.0, origin=(1_040_385.0, 4_018_395.0),
                  kelvin=smooth_field((40, 40), seed=9))
    no_qa = f.l2(acquired=T0 + timedelta(days=90), wrs=(45, 31), folder="no-qa", qa=None)
    sites = site_file(root / "sites.geojson", SQUARE)
    out = root / "out"
    result = scan(root / "imagery", out, "--sites", str(sites), env=SH_ENV)
    return Mixed(root, out, result, good, bad, l8, l9, zone17, no_qa)


def test_mixed_folder_is_partial_and_names_each_skipped_file(mixed: Mixed) -> None:
    result = mixed.result
    assert result.exit_code == 3, (result.output, result.exception)  # type: ignore[attr-defined]
    text = one_line(result.output)  # type: ignore[attr-defined]
    skipped = dict(re.findall(r"skipped (\S+): (.*?)(?= skipped /| outputs in |$)", text))
    expected = {  # file -> what the message must say (cause and what to do)
        "truncated": ("truncated or corrupt", "download it again"),
        "not_landsat": ("not a Landsat Collection 2 file name", "move it out"),
        "other_mtl": (mixed.good[1].pid, "put the matching MTL beside the raster"),
        "all_cloud": ("no clear pixel", "nothing to do"),
        "twice": ("found twice", "delete the other copy"),
        "same_day": (f"same day as {mixed.l8.pid}", "more clear pixels"),
    }
    assert set(skipped) == {str(mixed.bad[k]) for k in expected}, skipped
    for key, needles in expected.items():
        message = skipped[str(mixed.bad[key])]
        assert all(n in message for n in needles), (key, message)
    assert "Traceback" not in text


def test_mixed_folder_writes_outputs_from_the_good_scenes_in_time_order(mixed: Mixed) -> None:
    assert_outputs_whole(mixed.out)
    run = json.loads((mixed.out / "run.json").read_text())
    used = [s["product_id"] for s in run["scenes"]]
    times = [s["acquisition_time"] for s in run["scenes"]]
    assert times == sorted(times)  # files were written and found in shuffled order
    assert set(used) == {g.pid for g in mixed.good} | {mixed.zone17.pid, mixed.no_qa.pid}
    assert mixed.l9.pid not in used and mixed.l8.pid in used
    assert run["grid"]["crs"] == "EPSG:32618"  # the most common CRS; the 17N scene resampled
    assert {s["path"] for s in run["skipped"]} == {str(p) for p in mixed.bad.values()}
    sites = json.loads((mixed.out / "sites.geojson").read_text())
    assert [f["properties"]["site_id"] for f in sites["features"]] == ["site-a"]
    assert (mixed.out / "series" / "site-a.csv").is_file()


def test_missing_qa_band_warns_and_the_run_goes_on(mixed: Mixed) -> None:
    warned = [w for w in mixed.result.caught if issubclass(w.category, QAMissingWarning)]  # type: ignore[attr-defined]
    assert warned  # once per read: the scan, and the report rasters of the last look
    assert all(mixed.no_qa.pid in str(w.message) and "250" in str(w.message) for w in warned)


def test_without_qa_the_plausible_floor_is_raised(tmp_path: Path) -> None:
    """240 K (a cold cloud top the QA band would flag) is kept with QA, masked without it."""
    from pipeline.io.reader import discover_products, read_scene

    kelvin = smooth_field(seed=3)
    kelvin[:8] = 240.0
    f = ProductFactory(tmp_path)
    with_qa, no_qa = (f.l2(kelvin=kelvin, qa=q, folder=name)
                      for q, name in ((True, "qa"), (None, "no-qa")))
    temps = {}
    for made in (with_qa, no_qa):
        (product,), _ = discover_products(made.folder)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            temps[made.folder.name] = read_scene(product)["temperature"].values
        assert any(issubclass(w.category, QAMissingWarning) for w in caught) is (made is no_qa)
    assert np.isfinite(temps["qa"]).all()
    assert np.isnan(temps["no-qa"][:8]).all() and np.isfinite(temps["no-qa"][8:]).all()


def test_credentials_never_reach_the_outputs(mixed: Mixed) -> None:
    assert SECRET not in mixed.result.output  # type: ignore[attr-defined]
    files = [p for p in mixed.out.rglob("*") if p.is_file()]
    assert len(files) > 5
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path
    run = json.loads((mixed.out / "run.json").read_text())
    assert run["config"]["sentinelhub"]["profile"] is None  # the profile is named, not secrets
    assert SH_ENV["SH_CLIENT_ID"] not in json.dumps(run)


# Bad arguments: exit 2 with one line ------------------------------------------------------------


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder of four good scenes."""
    root = tmp_path_factory.mktemp("small")
    good_scenes(ProductFactory(root / "imagery"), 4)
    return root / "imagery"


def test_sites_that_is_a_directory(small: Path, tmp_path: Path) -> None:
    result = scan(small, tmp_path / "out", "--sites", str(tmp_path))
    assert_clean_failure(result, str(tmp_path), "is a folder", "give a site file")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(
    ("ring", "needles"),
    [
        ([[LON, LAT], [LON + 0.005, LAT + 0.005], [LON + 0.005, LAT], [LON, LAT + 0.005],
          [LON, LAT]], ("Self-intersection", "make_valid")),
        # a site in Oklahoma written [lat, lon]: latitude -95.16
        ([[35.06, -95.16], [35.06, -95.15], [35.07, -95.15], [35.07, -95.16], [35.06, -95.16]],
         ("look like lat/lon", "GeoJSON is lon/lat")),
        ([[LON - 1, LAT - 1], [LON + 1, LAT - 1], [LON + 1, LAT + 1], [LON - 1, LAT + 1],
          [LON - 1, LAT - 1]], ("more than the limit", "max_site_area_km2")),
    ],
    ids=["self-intersecting", "lat-lon-swapped", "too-large"],
)
def test_bad_site_file_is_one_line_naming_the_site(small: Path, tmp_path: Path,
                                                   ring: list[list[float]],
                                                   needles: tuple[str, ...]) -> None:
    sites = site_file(tmp_path / "sites.geojson", ring, site_id="bad-site-7")
    result = scan(small, tmp_path / "out", "--sites", str(sites))
    assert_clean_failure(result, str(sites), "bad-site-7", *needles)


def test_out_of_range_config_value_names_the_key(small: Path, tmp_path: Path) -> None:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text("grid:\n  resolution_m: -30\n")
    result = scan(small, tmp_path / "out", "--config", str(cfg))
    assert_clean_failure(result, str(cfg), "grid.resolution_m", "greater than 0")


def test_paths_of_the_wrong_kind(small: Path, tmp_path: Path) -> None:
    a_file = tmp_path / "a-file"
    a_file.write_text("x")
    assert_clean_failure(scan(a_file, tmp_path / "out"), str(a_file), "is a file",
                         "pass the folder")
    # --out is a file: refused before the scan (this was a FileExistsError traceback after it)
    message = assert_clean_failure(scan(small, a_file), str(a_file), "is a file", "--out")
    assert a_file.read_text() == "x", message
    cfg_dir = tmp_path / "cfg"
    cfg_dir.mkdir()
    assert_clean_failure(scan(small, tmp_path / "out", "--config", str(cfg_dir)), str(cfg_dir),
                         "is a directory")


def test_site_outside_every_scene_is_reported_not_a_crash(small: Path, tmp_path: Path) -> None:
    """A site no scene covers is named "not covered by the imagery", with no evidence for it.

    Regressions: it crashed the evidence figure (TypeError); then it was measured on pixels of
    another place and got a report and a figure with every look "cloudy" (issue 19, point 4).
    """
    far = [[x + 3.0, y] for x, y in SQUARE]
    sites = site_file(tmp_path / "far.geojson", far, site_id="far-away")
    result = scan(small, tmp_path / "out", "--sites", str(sites))
    assert result.exit_code == 0, (result.output, result.exception)
    assert "1 catalog site(s) not covered by the imagery, no evidence written: far-away" \
        in one_line(result.output)
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert run["not_covered"] == [{"site_id": "far-away", "name": "far-away"}]
    features = json.loads((tmp_path / "out" / "sites.geojson").read_text())["features"]
    assert "far-away" not in {f["properties"]["site_id"] for f in features}
    for path in ("reports/far-away.html", "reports/far-away.pdf", "evidence/far-away.png",
                 "series/far-away.csv"):
        assert not (tmp_path / "out" / path).exists(), path


# Faults -------------------------------------------------------------------------------------------


def test_unreadable_inputs_are_named_with_what_to_do(small: Path, tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """Permission denied on one band and one MTL, *simulated* (root ignores chmod).

    ``rasterio.open``, ``open`` and ``Path.read_text`` raise ``PermissionError`` for those two
    files only; the run goes on with the others and names both files.
    """
    imagery = tmp_path / "imagery"
    shutil.copytree(small, imagery)
    bands = sorted(imagery.rglob("*_ST_B10.TIF"))
    band, mtl = bands[0], sorted(imagery.rglob("*_MTL.json"))[1]
    denied = {str(band), str(mtl)}

    def guard(real):  # type: ignore[no-untyped-def]
        def wrapper(target, *args, **kwargs):  # type: ignore[no-untyped-def]
            if str(target) in denied:
                raise PermissionError(errno.EACCES, "Permission denied", str(target))
            return real(target, *args, **kwargs)
        return wrapper

    monkeypatch.setattr(rasterio, "open", guard(rasterio.open))
    monkeypatch.setattr(builtins, "open", guard(builtins.open))
    monkeypatch.setattr(Path, "read_text", guard(Path.read_text))
    result = scan(imagery, tmp_path / "out")
    monkeypatch.undo()
    assert result.exit_code == 3, (result.output, result.exception)
    text = one_line(result.output)
    assert f"skipped {band}: cannot open {band}: permission denied" in text
    assert f"cannot read metadata file {mtl}: permission denied" in text
    assert text.count("make the file readable") == 2
    run = json.loads((tmp_path / "out" / "run.json").read_text())
    assert len(run["scenes"]) == 2
    assert {i["sha256"] is None for i in run["inputs"] if i["path"] in
            (str(band.relative_to(imagery)), str(mtl.relative_to(imagery)))} == {True}


def test_disk_full_while_writing_is_one_line_and_leaves_nothing_partial(
        small: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """ENOSPC (simulated) when run.json is moved into place: exit 2, no temporary file left."""
    real = os.replace

    def full(src, dst, *args, **kwargs):  # type: ignore[no-untyped-def]
        if Path(dst).name == "run.json":
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real(src, dst, *args, **kwargs)

    monkeypatch.setattr(outputs.os, "replace", full)
    out = tmp_path / "out"
    result = scan(small, out)
    monkeypatch.undo()
    assert_clean_failure(result, str(out / "run.json"), "disk is full", "free space")
    assert not (out / "run.json").exists()
    assert_outputs_whole(out)


def _wait_for(proc: subprocess.Popen, ready, timeout: float = 30.0) -> bool:  # type: ignore[type-arg, no-untyped-def]
    end = time.monotonic() + timeout
    while time.monotonic() < end and proc.poll() is None:
        if ready():
            return True
        time.sleep(0.01)
    return False


@pytest.mark.slow
def test_sigint_sigterm_leave_nothing_partial_and_a_rerun_completes(tmp_path: Path) -> None:
    """A real ``python -m cli scan`` process, interrupted while scanning, then while writing."""
    good_scenes(ProductFactory(tmp_path / "imagery"), 24)
    sites = site_file(tmp_path / "sites.geojson", SQUARE)
    out, tmp = tmp_path / "out", tmp_path / "tmp"
    tmp.mkdir()
    cmd = [sys.executable, "-m", "cli", "scan", str(tmp_path / "imagery"), "--out", str(out),
           "--sites", str(sites)]
    env = {**os.environ, **SH_ENV, "TMPDIR": str(tmp), "COLUMNS": "250"}

    def start() -> subprocess.Popen:  # type: ignore[type-arg]
        # Ctrl-C as a user's terminal delivers it: a test run started in the background (whose
        # shell ignores SIGINT for it, as POSIX shells do for background jobs) would pass the
        # ignore on to the scan, which could then not be interrupted at all
        return subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))

    def interrupt(ready, signum: int) -> str:  # type: ignore[no-untyped-def]
        """Send ``signum`` once ``ready()``; return stderr. A run that ends before the signal
        lands (the machine stalled this test process) is no test of it, so it is run again."""
        for _ in range(3):
            proc = start()
            assert _wait_for(proc, ready), proc.communicate()
            proc.send_signal(signum)  # a no-op if the run has already ended
            out_text, err = proc.communicate(timeout=60)
            # the console writes its summary to stderr (pipeline.report.console)
            if not (proc.returncode == 0 and "outputs in" in out_text + err):
                assert proc.returncode != 0, err
                return err
        raise AssertionError("three runs ended before the signal reached them")

    # Ctrl-C while the scenes stream (the scan's scratch folder exists)
    err = interrupt(lambda: any(tmp.glob("heatwatch-scan-*")), signal.SIGINT)
    assert "Traceback" not in err
    assert list(tmp.iterdir()) == []  # scratch memmaps removed
    if out.exists():
        assert_outputs_whole(out)
    # SIGTERM while the outputs are being written
    if out.exists():
        shutil.rmtree(out)
    err = interrupt(lambda: out.is_dir() and any(out.iterdir()), signal.SIGTERM)
    assert "Traceback" not in err
    assert_outputs_whole(out)
    assert list(tmp.iterdir()) == []
    # re-running completes
    proc = start()
    stdout, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert_outputs_whole(out)
    run = json.loads((out / "run.json").read_text())
    assert len(run["scenes"]) == 24
    for path in out.rglob("*"):
        assert path.is_dir() or SECRET.encode() not in path.read_bytes(), path
    assert SECRET not in stdout + err


# Security: safe loaders ---------------------------------------------------------------------------

PACKAGE_SOURCES = [ROOT / "cli.py", *sorted(
    p for pkg in ("pipeline", "aoi", "models") for p in (ROOT / pkg).rglob("*.py"))]
UNSAFE = [
    (re.compile(r"yaml\.load\((?![^)]*SafeLoader)"), "yaml.load without SafeLoader"),
    (re.compile(r"yaml\.(unsafe_load|full_load|load_all)\("), "unsafe YAML loader"),
    (re.compile(r"Loader\s*=\s*(yaml\.)?(Unsafe|Full)?Loader\b"), "unsafe YAML Loader class"),
    (re.compile(r"^\s*(import|from)\s+(c?[Pp]ickle|dill|shelve|marshal)\b", re.M), "pickle import"),
    (re.compile(r"allow_pickle\s*=\s*True|read_pickle\("), "unpickling of data"),
]


def test_no_unsafe_yaml_or_pickle_in_the_package() -> None:
    assert len(PACKAGE_SOURCES) > 30
    found = [f"{path.relative_to(ROOT)}: {what}" for path in PACKAGE_SOURCES
             for pattern, what in UNSAFE if pattern.search(path.read_text(encoding="utf-8"))]
    assert found == []


def test_the_safety_grep_catches_what_it_should() -> None:
    bad = ["cfg = yaml.load(text)\n", "yaml.load(text, Loader=yaml.Loader)\n",
           "yaml.full_load(text)\n", "import pickle\n", "from cPickle import loads\n",
           "np.load(path, allow_pickle=True)\n"]
    good = ["yaml.safe_load(text)\n", "yaml.load(text, Loader=yaml.SafeLoader)\n",
            "# pickles are never read\n"]
    hits = [any(p.search(src) for p, _ in UNSAFE) for src in bad + good]
    assert hits == [True] * len(bad) + [False] * len(good)


# Remote errors: a service that does not answer in time -------------------------------------------


def test_timeouts_are_retried_then_reported_per_request(make_product, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """The fake Sentinel Hub holds one Process request past ``timeout_s`` on every attempt."""
    from sentinelhub import SentinelHubDownloadClient

    from tests.pipeline.io.test_sentinelhub import l2_pair, run, scene_from
    from tests.support.sh_server import PROCESS_PATH, FakeSentinelHub

    class SlowHub(FakeSentinelHub):
        held = 0

        def handle(self, rec):  # type: ignore[no-untyped-def]
            if rec.path == PROCESS_PATH and "2024-06-01" in rec.body.decode():
                SlowHub.held += 1
                time.sleep(0.6)
            return super().handle(rec)

    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "xdg"))
    for var in ("SH_CLIENT_ID", "SH_CLIENT_SECRET", "SH_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("OAUTHLIB_INSECURE_TRANSPORT", "1")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    SentinelHubDownloadClient.clear_cache()
    pair = l2_pair(make_product)
    with SlowHub([scene_from(m) for m in pair]) as hub:
        hub._server.handle_error = lambda *args: None  # type: ignore[union-attr] # broken pipes
        report = run(hub, tmp_path, max_retries=1, timeout_s=0.2)
    SentinelHubDownloadClient.clear_cache()
    ((site, pid, message),) = report.failures
    assert (site, pid) == ("site-a", pair[0].pid)
    assert 1 < SlowHub.held <= 3  # retried, within the configured limit
    assert "did not answer within sentinelhub.timeout_s = 0.2 s" in message, message
    assert "run again later" in message and "\n" not in message
    assert report.products == [f"site-a/{pair[1].pid}"]  # the other request went on
