"""The ablation's fit (knn on 2 frames of context, each clip read as a track) of trained
runs at fractions 1 / 0.2 / 0.05, as one loop: the shared part of the one-off fit-stage
probes under ``benchmarks/results/*/`` (each changes something before calling ``fit``)
and of ``gap_by_dive.py``. Not a command of its own; nothing is written to the catalogue.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import torch  # noqa: E402

from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.fitdata import FitOptions  # noqa: E402
from tempose_cli.pipeline.ablation import fit_options, make_request  # noqa: E402
from tempose_cli.pipeline.fit import FitResult, fit_core  # noqa: E402

EVERIES = (1, 5, 20)  # label fractions 1 / 0.2 / 0.05


def ablation_options(seed: int, every: int, **changes) -> FitOptions:
    """``tempose ablation``'s own fit of a variant row on the diver split (its defaults,
    ``pipeline.ablation.fit_options``), with ``changes`` (e.g. feature="z_tv")."""
    req = make_request(["ours"], ["mean"], [1.0], "diver", None, seed)
    return replace(fit_options(req, every, "frozen"), **changes)


def ablation_fits(home: str, seed: int, runs: list[int], everies: tuple[int, ...] = EVERIES,
                  **changes) -> Iterator[tuple[int, int, Callable[[], FitResult]]]:
    """Per run and fraction: (run, every, fit), ``fit()`` fitting and evaluating anew."""
    ws = Workspace.from_options(home)
    sessions = session_factory(open_catalogue(ws.url, upgrade=False))
    for run in runs:
        for every in everies:
            opts = ablation_options(seed, every, **changes)
            yield run, every, (lambda r=run, o=opts: fit_core(sessions, ws, r, o,
                                                                torch.device("cpu")))
