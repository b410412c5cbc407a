"""Atomic file writes: a temporary name beside the target, fsync, rename.

Temporary names carry the writer's pid, so files left by a killed process can be
told apart from those of a process still running (``remove_stale_tmp``).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

import numpy as np

TMP_MARK = ".tmp-"


def tmp_name(path: Path) -> Path:
    path = Path(path)
    return path.with_name(f".{path.name}{TMP_MARK}{os.getpid()}")


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> Path:
    """Write through ``write(fileobj)`` to a temporary name, then rename into place."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = tmp_name(path)
    try:
        with open(tmp, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def save_array_atomic(path: Path, array: np.ndarray) -> Path:
    return write_atomic(path, lambda f: np.save(f, array))


def remove_stale_tmp(directory: Path) -> int:
    """Delete temporary files left by processes that are no longer running."""
    removed = 0
    if not directory.is_dir():
        return 0
    for p in directory.glob(f".*{TMP_MARK}*"):
        pid = p.name.rsplit(TMP_MARK, 1)[-1]
        if pid.isdigit() and not process_alive(int(pid)):
            p.unlink(missing_ok=True)
            removed += 1
    return removed


def process_alive(pid: int) -> bool:
    """Whether a process with this pid exists on this host (signal 0 probes it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
