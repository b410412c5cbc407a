"""The import rule of README "Architecture": the contracts in pyproject.toml hold (the
same check as ``lint-imports`` in ``make test``), and no import circle remains."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import grimp

ROOT = Path(__file__).resolve().parent.parent


def _graph() -> grimp.ImportGraph:
    sys.path.insert(0, str(ROOT))
    try:
        return grimp.build_graph("tempose_cli", "models", "store", cache_dir=None)
    finally:
        sys.path.remove(str(ROOT))


def test_no_import_circle() -> None:
    g = _graph()
    modules = sorted(m for m in g.modules if m.split(".")[0] in ("tempose_cli", "models", "store"))
    state: dict[str, int] = {}  # 1: on the stack, 2: done
    cycles: list[list[str]] = []

    def visit(m: str, stack: list[str]) -> None:
        state[m] = 1
        stack.append(m)
        for n in sorted(g.find_modules_directly_imported_by(m)):
            if n not in modules:
                continue
            if state.get(n) == 1:
                cycles.append(stack[stack.index(n):] + [n])
            elif n not in state:
                visit(n, stack)
        stack.pop()
        state[m] = 2

    for m in modules:
        if m not in state:
            visit(m, [])
    assert cycles == [], "import circles: " + "; ".join(" -> ".join(c) for c in cycles)


def test_contracts_hold() -> None:
    exe = Path(sys.executable).with_name("lint-imports")
    res = subprocess.run([str(exe)], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-2000:]
