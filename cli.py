"""Heatwatch command line: thin commands that parse options, call the library, write outputs.

Every command shares the options defined in :mod:`pipeline.cli_options`-style helpers below
(``--config``, ``--out``). Errors derived from :class:`pipeline.errors.HeatwatchError` are printed
as one clear line and turn into a non-zero exit code; anything else is a bug and shows a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console

from pipeline import __version__
from pipeline.config import Config, load_config
from pipeline.errors import HeatwatchError

if TYPE_CHECKING:
    from rich.progress import Progress

app = typer.Typer(
    name="heatwatch",
    help="Watch AI datacenters from space through their heat.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

# Shared options -------------------------------------------------------------------------------
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", "-c", help="YAML file overriding configs/default.yaml."),
]
OutOpt = Annotated[Path, typer.Option("--out", "-o", help="Output folder (created if absent).")]


def _config(path: Path | None, overrides: dict | None = None) -> Config:
    return load_config(path, overrides=overrides)


def _fail(exc: HeatwatchError) -> typer.Exit:
    console.print(f"[bold red]error:[/] {exc}")
    return typer.Exit(code=2)


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(f"heatwatch {__version__}")
        raise typer.Exit()


# Commands are added below, one section each. ---------------------------------------------------


# thermal ----------------------------------------------------------------------------------------
#: Exit code when the job finished but some inputs were skipped (reported on stderr).
EXIT_PARTIAL = 3


def _progress() -> "Progress":
    from rich.progress import (BarColumn, MofNCompleteColumn, Progress, TextColumn,
                               TimeElapsedColumn)

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), console=console, transient=False)


@app.command()
def thermal(
    imagery_dir: Annotated[Path, typer.Argument(help="Folder of Landsat C2 products.")],
    out: OutOpt,
    config: ConfigOpt = None,
) -> None:
    """Calibrate, mask and normalise every scene: temperature and anomaly COGs per scene."""
    from pipeline.reader import Problem
    from pipeline.thermal import run_thermal

    try:
        cfg = _config(config)
        from pipeline.reader import discover_products

        n = len(discover_products(imagery_dir)[0])
        with _progress() as progress:
            task = progress.add_task("thermal", total=n)

            def report(product, result) -> None:  # type: ignore[no-untyped-def]
                if isinstance(result, Problem):
                    progress.console.print(f"[yellow]skipped[/] {result.path.name}: {result.message}")
                else:
                    progress.console.print(result.line())
                progress.advance(task)

            done, problems = run_thermal(imagery_dir, out, cfg, on_result=report)
    except HeatwatchError as exc:
        raise _fail(exc) from exc
    for p in problems:
        if not p.message.endswith("skipped"):
            continue
        console.print(f"[yellow]ignored[/] {p.path}: {p.message}")
    console.print(f"{len(done)} scene(s) written to {out}, {len(problems)} problem(s)")
    if not done:
        console.print("[bold red]error:[/] no scene could be processed")
        raise typer.Exit(code=2)
    if problems:
        raise typer.Exit(code=EXIT_PARTIAL)


def main() -> None:  # pragma: no cover - console entry
    """Run the CLI, turning Heatwatch errors into a clean message and exit code 2."""
    try:
        app()
    except HeatwatchError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
