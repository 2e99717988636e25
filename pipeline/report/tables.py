"""Terminal tables: one cell format for missing values, verdicts, heat intervals and statuses.

:func:`print_table` prints a rich table whole (columns stack under their neighbour when the
terminal is narrow); cells are literal text, never rich markup (site ids and names are
untrusted). :mod:`pipeline.report.console` builds each command's tables from these.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from typing import Any

from rich.console import Console
from rich.text import Text

from pipeline.core.site_row import OVER, UNDER

__all__ = ["VERDICT_CAPTION", "VERDICT_EVIDENCE", "VERDICT_EVIDENCE_CAPTION", "cell",
           "energy_value", "heat_cells", "print_table", "sites_cell", "status_cell",
           "verdict_cell", "verdict_evidence_cells"]

#: Verdicts as the tables show them, keyed by the words of :mod:`pipeline.core.site_row`
#: (the other verdicts pass through whole; the full words, margins and coefficients are in
#: sites.geojson and the reports; :data:`VERDICT_CAPTION` says what they mean).
_SHORT_VERDICT: dict[str, str] = {OVER: "refuted: over", UNDER: "refuted: under"}


VERDICT_CAPTION = ("verdict: the declared power tested against the heat interval; refuted: over "
                   "= declared more than the heat allows, refuted: under = less; not refuted is "
                   "no verification (margin and coefficient in sites.geojson and the reports)")


#: Headers of the evidence behind a verdict (:func:`verdict_evidence_cells`).
VERDICT_EVIDENCE = ("margin", "physics")
VERDICT_EVIDENCE_CAPTION = ("margin: factor by which the verdict's deciding check passed or "
                            "failed; physics: the verdict with the physics coefficient")


def verdict_cell(verdict: object) -> str:
    """Return a verdict in the few characters a table column has ('-' if missing)."""
    if cell(verdict) == "-":  # None, or NaN in a data frame
        return "-"
    return _SHORT_VERDICT.get(str(verdict), str(verdict))


def verdict_evidence_cells(row: Mapping[str, Any]) -> list[str]:
    """Cells of the evidence behind a row's verdict: margin and physics-coefficient verdict.

    Examples
    --------
    >>> verdict_evidence_cells({"verdict_margin": 1.834, "verdict_physics": OVER})
    ['1.83', 'refuted: over']
    >>> verdict_evidence_cells({})  # a status stored before the store kept them
    ['-', '-']
    """
    return [cell(row.get("verdict_margin"), "{:.2f}"), verdict_cell(row.get("verdict_physics"))]


def cell(value: object, fmt: str = "{}") -> str:
    """Table cell text: '-' for missing values (None/NaN), else formatted."""
    if value is None or (isinstance(value, float) and value != value):
        return "-"
    return fmt.format(value)


def sites_cell(value: object, fmt: str = "{}") -> Text:
    """Return a catalog value as literal text, dimmed when missing."""
    text = cell(value, fmt)  # Text, not markup: catalog values are untrusted
    return Text(text, style="dim" if text == "-" else "")


def heat_cells(heat: object, low: object, high: object) -> list[str]:
    """Cells of a heat figure and its interval: ``["497", "[232-966]"]`` (``"-"`` if none)."""
    def num(v: object) -> str:
        return f"{v:.0f}" if isinstance(v, int | float) and v == v else "?"

    if not isinstance(heat, int | float) or heat != heat:
        return ["-", "-"]
    return [num(heat), f"[{num(low)}-{num(high)}]"]


def status_cell(row: Mapping[str, Any]) -> str:
    """Return a site's status, plus "possible shutdown" when its last clear looks lack heat.

    An excluded or rejected place carries its reason (``excluded: near X (power plant)``).
    """
    # imported here: report.evidence and report.files load geopandas and matplotlib (~1 s),
    # which `heatwatch --help` and `--version` do not need
    from pipeline.report.evidence import status_text

    since = row.get("possible_shutdown_since")
    status = "-" if cell(row.get("status")) == "-" else status_text(dict(row))
    return f"{status}, possible shutdown" if isinstance(since, str) and since else status


def print_table(title: str, columns: Sequence[str], rows: Iterable[Sequence[object]], *,
                right: Collection[str] = (), stack: Collection[str] = (),
                caption: str | None = None, empty: str = "none",
                out: Console | None = None) -> None:
    """Print a table whole, on one line per row when it fits the terminal.

    Cells are literal text (no rich markup: site ids and names are untrusted) and fold
    instead of being cut with an ellipsis. When the table is wider than the terminal (80
    columns when the output is piped), each column named in ``stack`` goes under the column
    before it, two lines per row. Without rows, one line says ``title: empty``.
    """
    from rich import box
    from rich.table import Table

    out = out or Console()
    cells = [[c if isinstance(c, Text) else Text(str(c)) for c in row] for row in rows]
    if not cells:
        out.print(Text(f"{title}: {empty}"))
        return
    heads = list(columns)

    def build() -> Table:
        table = Table(title=title, caption=caption, box=box.SIMPLE_HEAD, pad_edge=False,
                      collapse_padding=True)
        for h in heads:
            table.add_column(h, overflow="fold", justify="right" if h in right else "left")
        for row in cells:
            table.add_row(*row)
        return table

    table = build()
    natural = out.measure(table, options=out.options.update(max_width=100_000)).maximum
    if stack and natural > out.width:
        starts = [i for i, h in enumerate(columns) if i == 0 or h not in stack]
        groups = [range(a, b) for a, b in zip(starts, [*starts[1:], len(columns)], strict=True)]
        heads = ["\n".join(columns[j] for j in g) for g in groups]
        right = {h for h, g in zip(heads, groups, strict=True) if columns[g[0]] in right}
        cells = [[Text("\n").join(row[j] for j in g) for g in groups] for row in cells]
        table = build()
    out.print(table)


def energy_value(value: object, unit: str) -> str:
    """Format an energy-model figure for its unit."""
    if not isinstance(value, int | float):
        return ""
    if unit in {"FLOP/s", "OP/s", "FLOP"}:
        return f"{value:.3g}"
    if unit in {"count", "H100e"}:
        return f"{value:,.0f}"
    return f"{value:,.2f}" if unit in {"x", "kW"} else f"{value:,.1f}"
