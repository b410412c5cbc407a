"""CLI commands; each module adds its commands to ``tempose_cli.cli.app.app``."""

from __future__ import annotations

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn


def progress_bar(console: Console, disable: bool, transient: bool = False) -> Progress:
    """Bar with a count, elapsed time and a free ``info`` field (loss terms, paths)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TimeElapsedColumn(), TextColumn("{task.fields[info]}"), console=console,
                    disable=disable, transient=transient)
