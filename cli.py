"""Heatwatch command line: thin commands that parse options, call the library, write outputs.

Every command shares the options defined in :mod:`pipeline.cli_options`-style helpers below
(``--config``, ``--out``). Errors derived from :class:`pipeline.errors.HeatwatchError` are printed
as one clear line and turn into a non-zero exit code; anything else is a bug and shows a traceback.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from pipeline import __version__
from pipeline.config import Config, load_config
from pipeline.errors import HeatwatchError

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


def main() -> None:  # pragma: no cover - console entry
    """Run the CLI, turning Heatwatch errors into a clean message and exit code 2."""
    try:
        app()
    except HeatwatchError as exc:
        console.print(f"[bold red]error:[/] {exc}")
        sys.exit(2)


if __name__ == "__main__":  # pragma: no cover
    main()
