"""The knn fit of a trained run with its features read under another metric; prints
the test N-MPJPE (mm) per fraction (every 1 / 5 / 20), the fit otherwise as the
ablation's (knn, 2 frames of context, the track). A one-off probe (RESULTS.md, "The
knn fit's metric"); nothing is written to the catalogue.

Metrics (each frame's feature row f, before the fit's own standardisation):
- ``std``: f as the fit reads it today;
- ``l2``: f / |f|, the cosine geometry DSL trains (``models.losses.dsl_loss``);
- ``white32``: f projected on the 32 leading principal directions of every frame in
  play, each scaled to unit variance (PCA whitening).

Run (from the repository root):
    .venv/bin/python benchmarks/results/knn-metric/probe.py HOME SEED RUNS std,l2,white32
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/

import numpy as np  # noqa: E402
from ablation_fits import ablation_fits  # noqa: E402

import tempose_cli.pipeline.evaluate as evaluate  # noqa: E402
import tempose_cli.pipeline.fit as fit  # noqa: E402

LOAD = fit.load_features
STATE: dict = {"metric": "std", "seen": None, "white": None}


def read(*args, **kwargs) -> np.ndarray:
    f = LOAD(*args, **kwargs)
    if STATE["seen"] is not None:
        STATE["seen"].append(f)
    metric = STATE["metric"]
    if metric == "std":
        return f
    f = f.astype(np.float64)
    if metric == "l2":
        return (f / np.linalg.norm(f, axis=1, keepdims=True).clip(1e-9)).astype(np.float32)
    if metric == "white32":
        mean, w = STATE["white"]
        return ((f - mean) @ w).astype(np.float32)
    raise SystemExit(f"unknown metric {metric}")


fit.load_features = evaluate.load_features = read
home, seed, runs, metrics = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(",")
for run, every, fit_run in ablation_fits(home, seed, [int(r) for r in runs.split(",")]):
    if every == 1:  # a plain fit first collects every frame in play (no labels)
        STATE.update(metric="std", seen=[])
        fit_run()
        frames = np.concatenate(STATE["seen"]).astype(np.float64)  # (N, D)
        STATE["seen"] = None
        ev, vec = np.linalg.eigh(np.cov((frames - frames.mean(0)).T))
        top = np.argsort(ev)[::-1][:32]
        STATE["white"] = (frames.mean(0), vec[:, top] / np.sqrt(ev[top].clip(1e-9)))
    cells = []
    for metric in metrics:
        STATE["metric"] = metric
        cells.append(f"{metric}: {fit_run().summary['n_mpjpe']:.1f}")
    print(f"{home} seed {seed} run {run} 1/{every}: " + ", ".join(cells), flush=True)
