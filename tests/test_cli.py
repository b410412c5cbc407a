"""Every command documented (help with an example, listed in the README), global options."""

import sqlite3
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from tempose_cli import __version__
from tempose_cli.cli.app import app

README = (Path(__file__).parent.parent / "README.md").read_text()


def command_paths(group=None, prefix=()):
    group = group or typer.main.get_command(app)
    for name, cmd in group.commands.items():
        if getattr(cmd, "commands", None):
            yield from command_paths(cmd, prefix + (name,))
        else:
            yield prefix + (name,)


COMMANDS = sorted(command_paths())


def test_there_are_commands() -> None:
    assert ("ingest",) in COMMANDS and ("clips", "list") in COMMANDS


@pytest.mark.parametrize("path", COMMANDS, ids=" ".join)
def test_every_command_has_help_with_example_and_is_in_readme(path) -> None:
    res = CliRunner(env={"COLUMNS": "200"}).invoke(app, [*path, "--help"])
    assert res.exit_code == 0
    assert "Example: tempose " + " ".join(path) in res.output
    assert f"tempose {' '.join(path)}" in README, f"README does not document {path}"


def test_version() -> None:
    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0 and __version__ in res.output


def test_unknown_clip_is_one_line_error(cli) -> None:
    res = cli("clips", "show", "42")
    assert res.exit_code == 2
    assert res.stderr.strip() == "error: no clip with id 42 (see: tempose clips list)"


def test_foreign_catalogue_is_refused(cli, home: Path) -> None:
    home.mkdir(parents=True)
    with sqlite3.connect(home / "catalogue.sqlite") as c:
        c.execute("create table other (x)")
    res = cli("clips", "list")
    assert res.exit_code == 1
    assert "not a tempose catalogue" in res.stderr and len(res.stderr.strip().splitlines()) == 1


def test_db_option_points_anywhere(tmp_path: Path, home: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.sqlite'}"
    res = CliRunner().invoke(app, ["--home", str(home), "--db", url, "--json", "clips", "list"])
    assert res.exit_code == 0 and res.stdout.strip() == "[]"
    assert (tmp_path / "elsewhere.sqlite").exists()
    assert not (home / "catalogue.sqlite").exists()
