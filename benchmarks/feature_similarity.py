"""How alike a trained run's features are for frames Δ apart, and for poses a distance apart.

Run:  .venv/bin/python benchmarks/feature_similarity.py --home HOME --run R
      [--key z_tv|z_ti|features] [--raw]

DSL (paper Sec. 3.2) asks the cosine of z_tv for two frames Δ apart to follow a line
from 1 at Δ = 0 to 0 at ``neg_min``; knn then reads the features standardised. On every
labelled dive clip of HOME this prints the mean cosine of the run's extracted features
(standardised over all frames as the knn fit does; ``--raw``: as DSL sees them) for
frames Δ apart, per dive position (A straight, B pike, C tuck), with the mean
pelvis-centred pose distance of those pairs, then the mean cosine of all pairs of a clip
within 24 frames binned by their pose distance. A run whose features stay alike for
poses far apart gives knn less to tell them by. Needs ``tempose extract --run R``;
nothing is written to the catalogue.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.fitdata import clip_sources, labelled_clips, load_features  # noqa: E402
from tempose_cli.pipeline.extract import get_train_run  # noqa: E402

DELTAS = (1, 2, 4, 6, 8, 12, 16, 24)
BINS = (0.0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.7, np.inf)  # pose distance, metres


def pair_table(feats: list[np.ndarray], poses: list[np.ndarray], max_delta: int
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Every pair of frames of one clip at most ``max_delta`` apart -> (clip index, Δ,
    cosine of the (T, D) features, mean joint distance of the (T, 14, 3) poses), each
    (P,); pairs with an unlabelled frame are left out."""
    if len(feats) != len(poses):
        raise ValueError(f"{len(feats)} feature arrays for {len(poses)} pose tracks")
    out: list[list[np.ndarray]] = [[], [], [], []]
    for i, (z, y) in enumerate(zip(feats, poses, strict=True)):
        if len(z) != len(y):
            raise ValueError(f"clip {i}: {len(z)} feature rows for {len(y)} poses")
        u = z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)  # (T, D)
        ok = np.isfinite(y).all(axis=(1, 2))
        for d in range(1, min(max_delta, len(z) - 1) + 1):
            both = ok[d:] & ok[:-d]
            cos = (u[d:] * u[:-d]).sum(1)[both]
            dist = np.linalg.norm(y[d:] - y[:-d], axis=-1).mean(-1)[both]
            for k, v in enumerate((np.full(len(cos), i), np.full(len(cos), d), cos, dist)):
                out[k].append(v)
    if not out[0]:
        return tuple(np.zeros(0) for _ in range(4))  # type: ignore[return-value]
    return tuple(np.concatenate(v) for v in out)  # type: ignore[return-value]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--run", type=int, required=True, help="the training run's id")
    ap.add_argument("--key", default="z_tv", help="z_tv | z_ti | features (the fit's input)")
    ap.add_argument("--raw", action="store_true", help="cosine of the features as stored")
    a = ap.parse_args()
    ws = Workspace.from_options(a.home)
    sessions = session_factory(open_catalogue(ws.url, upgrade=False))
    with sessions.begin() as s:
        run = get_train_run(s, a.run)
        run_dir = ws.abs(run.directory)
        srcs = clip_sources(s, ws, labelled_clips(s, "dive"))
    feats = [load_features(a.run, run_dir, c.content_hash, c.clip_id, a.key) for c in srcs]
    if not a.raw:
        every = np.concatenate(feats)
        mu, sd = every.mean(0), every.std(0) + 1e-6
        feats = [(f - mu) / sd for f in feats]
    poses = [c.targets() for c in srcs]  # pelvis-centred already
    clip, delta, cos, dist = pair_table(feats, poses, max(DELTAS))
    position = np.array([(c.dive or "?")[-1] for c in srcs])[clip.astype(int)]
    how = "as stored" if a.raw else "standardised"
    print(f"run {a.run} of {a.home}, {a.key} {how}: mean cosine (pose distance, mm) at Δ")
    for p in sorted(set(position.tolist())):
        cells = [f"Δ{d} {cos[sel].mean():.2f} ({1000 * dist[sel].mean():.0f})"
                 for d in DELTAS if (sel := (position == p) & (delta == d)).any()]
        print(f"  position {p}: " + "  ".join(cells))
    cells = [f"[{lo:g}, {hi:g}) {cos[sel].mean():.2f}"
             for lo, hi in zip(BINS[:-1], BINS[1:], strict=True)
             if (sel := (dist >= lo) & (dist < hi)).any()]
    print("  by pose distance (m): " + "  ".join(cells))


if __name__ == "__main__":
    main()
