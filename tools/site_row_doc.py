"""Write ``docs/outputs.md``: the columns of ``sites.geojson``, from :mod:`pipeline.core.site_row`.

The table is generated, never edited by hand: key, type and meaning come from the TypedDicts
(a key's meaning is the comment on its line), so the doc and the code cannot disagree
(``tests/pipeline/core/test_site_row.py`` checks the file is up to date). Run
``python tools/site_row_doc.py`` from the repository root after changing the site row.
"""

from __future__ import annotations

import ast
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
SOURCE = ROOT / "pipeline" / "core" / "site_row.py"
DOC = ROOT / "docs" / "outputs.md"

#: The row's own keys first, then its column groups, as SiteRow lists them.
SECTIONS = ("SiteRow", "DensityColumns", "CheckColumns", "EnergyColumns", "CalibrationColumns",
            "NullColumns", "BaselineColumns")

HEAD = """# Outputs: the site row

Each feature of `sites.geojson` is one site's verdict: its properties are the columns below
(its geometry is the site's footprint, lon/lat). `discover`'s `candidates.csv` repeats some of
them; the monitor's history stores a cut of them as of each date (`StatusRow`). A missing number
is `null`; dates are ISO `YYYY-MM-DD`. Status words and rejection codes:
[statuses.md](statuses.md).

Generated from `pipeline/core/site_row.py` by `python tools/site_row_doc.py`; do not edit.
"""


#: JSON names of the annotations' types.
JSON = {"str": "string", "float": "number", "int": "integer", "bool": "boolean",
        "Status": "string (a status word)", "Verdict": "string (a verdict word)",
        "RejectionKind": "string (a rejection code)"}


def _json_type(annotation: str) -> str:
    """Say a column's type in JSON words, e.g. ``float | None`` -> ``number or null``."""
    parts = [p.strip() for p in annotation.split("|")]
    return " or ".join("null" if p == "None" else JSON.get(p, p) for p in parts)


def _rows(cls: ast.ClassDef, lines: list[str]) -> list[tuple[str, str, str]]:
    out = []
    for node in cls.body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            line = lines[node.lineno - 1]
            meaning = line.split("#", 1)[1].strip() if "#" in line else ""
            out.append((node.target.id, _json_type(ast.unparse(node.annotation)), meaning))
    return out


def render(source: str | None = None) -> str:
    """Return ``docs/outputs.md`` as the site row's source defines it."""
    text = SOURCE.read_text(encoding="utf-8") if source is None else source
    lines = text.splitlines()
    classes = {n.name: n for n in ast.parse(text).body if isinstance(n, ast.ClassDef)}
    parts = [HEAD]
    for name in SECTIONS:
        cls = classes[name]
        title = (ast.get_docstring(cls) or name).splitlines()[0].replace("``", "`")
        title = re.sub(r":\w+:`~?", "`", title)  # Sphinx roles: plain code
        parts.append(f"\n## `{name}`: {title}\n\n| column | type | meaning |\n|---|---|---|\n")
        parts += [f"| `{k}` | {t} | {m.replace('|', '/')} |\n" for k, t, m in _rows(cls, lines)
                  if k != "geometry"]
    return "".join(parts)


def main() -> int:
    """Write the doc; return 0."""
    DOC.write_text(render(), encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
