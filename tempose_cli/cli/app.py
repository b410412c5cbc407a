"""The ``tempose`` command line: the app of ``cli/context.py`` with every command module
registered on it.

Commands are thin: parse options, call a pipeline function, print with rich (or JSON
with ``--json``). Any TemposeError becomes one line on stderr and a non-zero exit.
"""

from __future__ import annotations

# Imported for their side effect of adding commands to ``app``; each imports
# ``tempose_cli.cli.context`` only, never this module.
from tempose_cli.cli import (  # noqa: F401
    ablation,
    analyze,
    clips,
    demo,
    doctor,
    fit,
    ingest,
    labels,
    stats,
    synth,
    train,
)
from tempose_cli.cli.context import State, app, state

__all__ = ["State", "app", "main", "state"]


def main() -> None:
    app()
