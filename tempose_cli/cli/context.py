"""What every command module imports: the Typer app and its groups, the per-invocation
State (workspace, catalogue sessions, console, ``--json``), error handling and the one
progress bar helper.

Command modules import this module only (plus pipeline functions, lazily); ``cli/app.py``
imports the command modules, so registering a command makes no import circle.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from typer.core import TyperGroup

import tempose_cli
from tempose_cli.core.errors import TemposeError
from tempose_cli.core.workspace import Workspace

if TYPE_CHECKING:
    from rich.progress import Progress
    from sqlalchemy.orm import Session, sessionmaker


class TemposeGroup(TyperGroup):
    """Turns TemposeError / CatalogueError into a one-line message and an exit code."""

    def invoke(self, ctx: typer.Context) -> Any:
        from store.db import CatalogueError

        try:
            return super().invoke(ctx)
        except (TemposeError, CatalogueError) as e:
            err_console().print(f"error: {e}", markup=False, highlight=False, soft_wrap=True)
            raise typer.Exit(getattr(e, "exit_code", 1)) from None


def err_console() -> Console:
    return Console(stderr=True, soft_wrap=True, highlight=False)


@dataclass
class State:
    """What every command gets in ``ctx.obj``."""

    workspace: Workspace
    json: bool = False
    console: Console = field(default_factory=lambda: Console(highlight=False))
    _sessions: sessionmaker[Session] | None = None

    def sessions(self) -> sessionmaker[Session]:
        """Open (create / migrate) the catalogue on first use."""
        if self._sessions is None:
            from store.db import open_catalogue, session_factory

            engine = open_catalogue(self.workspace.url)  # before ensure(): a bad --db
            self.workspace.ensure()  # creates no folder
            self._sessions = session_factory(engine)
        return self._sessions

    def emit(self, data: Any) -> None:
        """Print ``data`` as JSON on stdout (``--json``)."""
        sys.stdout.write(json.dumps(data, indent=2, default=str) + "\n")


app = typer.Typer(
    cls=TemposeGroup,
    name="tempose",
    help=(
        "Self-supervised 3D pose for diving and skiing video.\n\n"
        "Example: tempose --home ./work ingest clips/"
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
    context_settings={"help_option_names": ["-h", "--help"]},
)

runs_app = typer.Typer(help="Training and fitting runs.\n\nExample: tempose runs list",
                       no_args_is_help=True)
app.add_typer(runs_app, name="runs")


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tempose {tempose_cli.__version__}")
        raise typer.Exit()


@app.callback()
def main_options(
    ctx: typer.Context,
    home: str = typer.Option(
        None, "--home", envvar="TEMPOSE_HOME",
        help="Workspace folder (catalogue, frame cache, runs, exports). Default ./tempose-home.",
    ),
    db: str = typer.Option(
        None, "--db", envvar="TEMPOSE_DB",
        help="Catalogue as any SQLAlchemy URL. Default: SQLite file in the home.",
    ),
    json_out: bool = typer.Option(False, "--json", help="Machine-readable JSON on stdout."),
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    ctx.obj = State(workspace=Workspace.from_options(home, db), json=json_out)


def state(ctx: typer.Context) -> State:
    obj = ctx.find_root().obj
    assert isinstance(obj, State)
    return obj


def progress_bar(console: Console, disable: bool, transient: bool = False) -> Progress:
    """Bar with a count, elapsed time and a free ``info`` field (loss terms, paths)."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
    )

    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=console,
                    disable=disable, transient=transient)


def clip_ids_option(text: str | None) -> list[int] | None:
    """A command's clip-id list (``1,2`` or ``1-10,14``); None when not given."""
    from tempose_cli.core.parsing import parse_ids

    if not text:
        return None
    try:
        return parse_ids(text)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
