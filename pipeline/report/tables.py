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

__all__ = ["VERDICT_CAPTION", "cell", "energy_value", "heat_cells", "print_table", "sites_cell",
           "status_cell", "verdict_cell"]

#: Verdicts as the tables show them (the full words, margins and coefficients are in
#: sites.geojson and the reports; :data:`VERDICT_CAPTION` says what they mean).
_SHORT_VERDICT = {"refuted: over-declared": "refuted: over", "refuted: under-reported":
                  "refuted: under"}


VERDICT_CAPTION = ("verdict: the declared power tested against the heat interval; refuted: over "
                   "= declared more than the heat allows, refuted: under = less; not refuted is "
                   "no verification (margin and coefficient in sites.geojson and the reports)")


def verdict_cell(verdict: object) -> str:
    """Return a verdict in the few characters a table column has."""
    return "-" if verdict is None else _SHORT_VERDICT.get(str(verdict), str(verdict))


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
