"""The examples stay true: the sidecar parses, the walk-through's commands exist."""

from __future__ import annotations

import json
import shlex
from pathlib import Path

from typer.testing import CliRunner

from tempose_cli.cli.app import app
from tempose_cli.core.sidecar import parse_sidecar

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_example_sidecar_parses() -> None:
    path = EXAMPLES / "sidecar.json"
    meta = parse_sidecar(path, json.loads(path.read_text()))
    assert meta.sport == "dive" and meta.athlete == "A. Diver"


def test_walkthrough_commands_exist_and_take_its_options() -> None:
    lines = [ln[len("$T "):] for ln in (EXAMPLES / "walkthrough.sh").read_text().splitlines()
             if ln.startswith("$T ")]
    assert len(lines) >= 10
    runner = CliRunner(env={"COLUMNS": "200"})
    for line in lines:
        words = shlex.split(line)
        path = [w for w in words[:2] if not w.startswith("-") and w.isidentifier()]
        res = runner.invoke(app, [*path, "--help"])
        assert res.exit_code == 0, f"{line}: {res.output}"
        for opt in (w for w in words if w.startswith("--")):
            assert opt in res.output, f"{line}: {opt} is not an option of tempose {path}"
