"""The ``tempose`` command line: global options, error handling, command registry.

Commands are thin: parse options, call a library function, print with rich (or JSON
with ``--json``). Any TemposeError becomes one line on stderr and a non-zero exit.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from typing import Any

import typer
from rich.console import Console
from sqlalchemy.orm import Session, sessionmaker
from typer.core import TyperGroup

from tempose_cli import __version__
from tempose_cli.errors import TemposeError
from tempose_cli.workspace import Workspace


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


def _version(value: bool) -> None:
    if value:
        typer.echo(f"tempose {__version__}")
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


def _register() -> None:
    # Imported for their side effect of adding commands to ``app``.
    from tempose_cli.commands import (  # noqa: F401
        analyze,
        clips,
        demo,
        doctor,
        fit,
        ingest,
        stats,
        synth,
        train,
    )


_register()


def main() -> None:
    app()
