"""What a trained run's feature encodes, read by ridge probes fitted on the diver
split's training athletes (every labelled frame) and scored on its test athletes:
the dive's phase (frame / clip length, R^2), the box centre's height in the frame
(R^2; both change with time, so DSL rewards them), and the trunk's 3D direction
(neck from pelvis; mean angle error and the share of frames more than 90 degrees off).
A one-off probe (RESULTS.md, "z_tv from the athlete's pixels only"); nothing is written.

Run (from the repository root):
    .venv/bin/python benchmarks/results/tv-input/phase_probe.py HOME SEED RUNS [KEY]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/

import numpy as np  # noqa: E402
from ablation_fits import ablation_options  # noqa: E402

from models.ridge import ridge_fit  # noqa: E402
from models.skeleton import JOINT_INDEX  # noqa: E402
from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.fitdata import (  # noqa: E402
    clip_sources,
    labelled_clips,
    load_features,
    split_for,
)
from tempose_cli.pipeline.extract import get_train_run  # noqa: E402

NECK = JOINT_INDEX["neck"]
LAMS = (0.1, 1.0, 10.0, 100.0, 1000.0)


def side_rows(srcs, run_id, run_dir, key):
    xs, ys = [], []
    for src in srcs:
        f = load_features(run_id, run_dir, src.content_hash, src.clip_id, key)
        box = load_features(run_id, run_dir, src.content_hash, src.clip_id, "box")
        pose = src.targets()  # (T, 14, 3)
        t = np.arange(len(f))
        ok = np.isfinite(pose).all((1, 2))
        trunk = pose[:, NECK] / np.linalg.norm(pose[:, NECK], axis=-1, keepdims=True)
        y = np.concatenate([(t / max(len(f) - 1, 1))[:, None], box[:, 3:4], trunk], 1)
        xs.append(f[ok])
        ys.append(y[ok])
    return np.concatenate(xs).astype(np.float64), np.concatenate(ys)


def scores(y, p):
    r2 = [1 - ((y[:, i] - p[:, i]) ** 2).sum() / ((y[:, i] - y[:, i].mean()) ** 2).sum()
          for i in (0, 1)]
    u = p[:, 2:] / np.linalg.norm(p[:, 2:], axis=1, keepdims=True)
    ang = np.degrees(np.arccos(np.clip((u * y[:, 2:]).sum(1), -1, 1)))
    return r2[0], r2[1], ang.mean(), (ang > 90).mean()


home, seed, runs = sys.argv[1], int(sys.argv[2]), [int(r) for r in sys.argv[3].split(",")]
key = sys.argv[4] if len(sys.argv) > 4 else "features"
ws = Workspace.from_options(home)
sessions = session_factory(open_catalogue(ws.url, upgrade=False))
opts = ablation_options(seed, 1)
with sessions.begin() as s:
    rows = labelled_clips(s, opts.sport)
    split = split_for(rows, opts)
    srcs = {c.clip_id: c for c in clip_sources(s, ws, rows)}
    trs = {}
    for r in runs:
        t = get_train_run(s, r)
        trs[r] = (t.variant, ws.abs(t.directory))
for r in runs:
    variant, d = trs[r]
    x, y = side_rows([srcs[i] for i in split.train], r, d, key)
    xv, yv = side_rows([srcs[i] for i in split.val], r, d, key)
    xt, yt = side_rows([srcs[i] for i in split.test], r, d, key)
    # The weight on validation, by the trunk's angle error (fitted on training only).
    best = min(LAMS, key=lambda lam: scores(yv, ridge_fit(x, y, lam).predict(xv))[2])
    ph, cy, ang, off = scores(yt, ridge_fit(x, y, best).predict(xt))
    print(f"{home} run {r} {variant} {key}: phase R2 {ph:.2f}, box-height R2 {cy:.2f}, "
          f"trunk {ang:.1f} deg, >90: {100 * off:.1f}% (lam {best:g})", flush=True)
