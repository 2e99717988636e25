"""The import rules of the code base (DESIGN.md "Layers"), checked on the parsed source.

Every ``import`` counts, at the top of a module or inside a function (a lazy import hides a
dependency, it does not remove it). The rules:

* ``pipeline.core`` imports nothing of the project;
* ``pipeline.science`` imports only core and the energy model of ``models``;
* nothing in ``pipeline`` imports ``aoi`` (site files are read at the edge and come in as
  GeoDataFrames);
* ``pipeline.report`` reads a scan's files and never imports the scan;
* each stage imports only the stages below it (table :data:`ALLOWED`), and no module takes
  part in an import circle.
"""

from __future__ import annotations

import ast
import graphlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("pipeline", "aoi", "models")

#: Layer of a module: the longest prefix below that matches its dotted name.
LAYER_OF = {
    "pipeline": "core",  # the package itself holds only __version__
    "pipeline.core": "core",
    "models": "energy",
    "models.energy": "energy",
    "models.energy_data": "energy",
    "models.energy_types": "energy",
    "models.energy_check": "energy",
    "pipeline.science": "science",
    "pipeline.io": "io",
    "aoi": "aoi",
    "pipeline.report": "report",
    "models.world": "world",
    "models.world_spec": "world",
    "pipeline.scan": "scan",
    "pipeline.discover": "discover",
    "pipeline.monitor": "monitor",
    "cli": "cli",
}

#: Layers each layer may import (itself included).
ALLOWED = {
    "core": {"core"},
    "energy": {"core", "energy"},
    "science": {"core", "energy", "science"},
    "io": {"core", "energy", "science", "io"},
    "aoi": {"core", "energy", "science", "aoi"},
    "report": {"core", "energy", "report"},
    "world": {"core", "energy", "science", "io", "world"},
    "scan": {"core", "energy", "science", "io", "report", "scan"},
    "discover": {"core", "energy", "science", "io", "report", "scan", "discover"},
    "monitor": {"core", "energy", "science", "io", "report", "scan", "monitor"},
    "cli": set(LAYER_OF.values()),
}


def module_files() -> dict[str, Path]:
    """Map every project module's dotted name to its file."""
    out = {"cli": ROOT / "cli.py"}
    for pkg in PACKAGES:
        for path in sorted((ROOT / pkg).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            out[".".join(parts)] = path
    return out


def layer(module: str) -> str:
    """Return the layer of a dotted module name (longest matching prefix of LAYER_OF)."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        hit = LAYER_OF.get(".".join(parts[:n]))
        if hit is not None:
            return hit
    raise KeyError(f"{module} has no layer: add its package to LAYER_OF in {__file__}")


def imports(name: str, path: Path, known: set[str]) -> set[str]:
    """Project modules imported anywhere in one file (absolute and relative imports)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        targets: list[str] = []
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                up = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*up, base] if base else up)
            targets = [f"{base}.{a.name}" for a in node.names] + [base]
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                found.add(target)
                break
    return found


@pytest.fixture(scope="module")
def graph() -> dict[str, set[str]]:
    files = module_files()
    known = set(files)
    return {name: imports(name, path, known) for name, path in files.items()}


def test_every_module_has_a_layer(graph: dict[str, set[str]]) -> None:
    for module in graph:
        layer(module)


def test_imports_follow_the_layers(graph: dict[str, set[str]]) -> None:
    broken = [f"{m} ({layer(m)}) imports {d} ({layer(d)})"
              for m, deps in sorted(graph.items()) for d in sorted(deps)
              if layer(d) not in ALLOWED[layer(m)]]
    assert not broken, "imports against the layers (DESIGN.md 'Layers'):\n" + "\n".join(broken)


def test_no_import_circle(graph: dict[str, set[str]]) -> None:
    try:
        tuple(graphlib.TopologicalSorter(graph).static_order())
    except graphlib.CycleError as exc:
        pytest.fail(f"import circle: {' -> '.join(exc.args[1])}")


def test_the_checker_sees_lazy_relative_and_package_imports(tmp_path: Path) -> None:
    """The parser catches what the rules are about (a checker that sees nothing passes all)."""
    probe = tmp_path / "run.py"
    probe.write_text("import pipeline.core.grid\n"
                     "def f():\n    from pipeline.scan import run\n"
                     "from . import alerts\n", encoding="utf-8")
    known = {"pipeline.core.grid", "pipeline.scan.run", "pipeline.monitor.alerts",
             "pipeline.monitor.run"}
    assert imports("pipeline.monitor.run", probe, known) == {
        "pipeline.core.grid", "pipeline.scan.run", "pipeline.monitor.alerts"}
    assert layer("pipeline.scan.run") == "scan" and "scan" not in ALLOWED["report"]


def test_the_cli_stays_thin() -> None:
    """cli.py parses options and prints; library work lives in pipeline/ (issue 21: < 500 lines)."""
    lines = (ROOT / "cli.py").read_text(encoding="utf-8").count("\n")
    assert lines < 500, f"cli.py has {lines} lines: move library work into pipeline/"


def test_test_files_have_unique_names():
    # pytest imports test files by their base name (no __init__.py in tests/): two files of one
    # name in different folders stop the whole run at collection
    names = [p.name for p in (ROOT / "tests").rglob("test_*.py")]
    assert sorted({n for n in names if names.count(n) > 1}) == []
