"""Running the real typer app in-process, with a wide terminal so rich does not wrap."""

from __future__ import annotations

from click.testing import Result
from typer.testing import CliRunner

from cli import app

runner = CliRunner()
#: A terminal wide enough that rich keeps table rows and messages on one line.
WIDE = {"COLUMNS": "250"}


def run(*args: str) -> Result:
    """Invoke ``heatwatch ARGS`` and return the result (exit code, output)."""
    return runner.invoke(app, list(args), env=WIDE)


def one_line(text: str) -> str:
    """Undo rich's wrapping: the whole output as one line."""
    return " ".join(text.split())
