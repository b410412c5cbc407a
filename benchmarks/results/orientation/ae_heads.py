"""The knn fit (as the ablation's) of one trained run on each key of its features file:
``features`` (what the fit reads; for `ae-stn-dec` [z_tv, z_ti] of the same frame),
``z_tv`` (the head on the colour-jittered crop) and ``z_ti``; prints the test
N-MPJPE / P-MPJPE (mm) per fraction. A one-off probe; nothing is written.

Run (from the repository root):
    .venv/bin/python benchmarks/results/orientation/ae_heads.py HOME SEED RUN
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3]))

import torch  # noqa: E402

from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.fitdata import FitOptions  # noqa: E402
from tempose_cli.pipeline.ablation_names import FIT_CONTEXT  # noqa: E402
from tempose_cli.pipeline.fit import fit_core  # noqa: E402

home, seed, run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ws = Workspace.from_options(home)
sessions = session_factory(open_catalogue(ws.url, upgrade=False))
for every in (1, 5, 20):
    cells = []
    for key in ("features", "z_tv", "z_ti"):
        opts = FitOptions(split="diver", every=every, seed=seed, regressor="knn",
                          context=FIT_CONTEXT, track=True, feature=key)
        s = fit_core(sessions, ws, run, opts, torch.device("cpu")).summary
        cells.append(f"{key} {s['n_mpjpe']:.1f}/{s['p_mpjpe']:.1f}")
    print(home, run, f"1/{every}", " | ".join(cells), flush=True)
