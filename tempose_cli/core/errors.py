"""Errors that reach the user as one line naming the file and the problem."""

from __future__ import annotations

from pathlib import Path


class TemposeError(Exception):
    """A user-facing failure: the CLI prints ``str(err)`` and exits non-zero."""

    exit_code = 1


class InputError(TemposeError):
    """Bad input file: names the file and the problem in one line."""

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = " ".join(str(problem).split())  # always one line
        super().__init__(f"{self.path}: {self.problem}")


class NotFoundError(TemposeError):
    """An id or name that the catalogue does not know."""

    exit_code = 2
