"""``tempose probe``: how well z_tv and z_ti are disentangled (paper Sec. 4.4.3).

- KMeans with k = number of athletes on z_tv and on z_ti of every frame, scored
  against athlete identity by the accuracy under the best one-to-one cluster-to-athlete
  map (Hungarian matching). Disentangled features: high for z_ti (appearance), near
  chance (1/k) for z_tv (pose). Rows are L2-normalised first: the training losses
  compare latents by cosine similarity.
- The same regressor trained on z_ti and on z_tv (same split): z_tv should give the
  far lower MPJPE.
- The share of each latent's variance that lies within clips (the same normalised
  rows): a time-invariant z_ti should be near 0. Per-frame KMeans cannot find the
  athletes in a z_ti that mostly varies within its clips, whatever its clip means hold.

Results are recorded as Evaluation rows of the training run, split ``probe-...``,
replacing that run's previous probe rows, in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

import numpy as np
import torch
from sqlalchemy import delete
from sqlalchemy.orm import Session, sessionmaker

from models.cluster import kmeans, matched_accuracy, within_group_share
from store.catalogue import list_clips
from store.schema import Evaluation
from tempose_cli.core.errors import TemposeError
from tempose_cli.core.workspace import Workspace
from tempose_cli.learn.fitdata import FitOptions, load_features
from tempose_cli.pipeline.extract import get_train_run
from tempose_cli.pipeline.fit import fit_core

PARTS = ("z_tv", "z_ti")


def cluster_probe(features: dict[str, np.ndarray], athletes: np.ndarray, clips: np.ndarray,
                  *, seed: int = 0, restarts: int = 10) -> dict[str, dict]:
    """KMeans (k = athletes) on each (N, D) array -> matched accuracy and the share of
    the variance within clips, per array."""
    k = len(np.unique(athletes))
    out = {}
    for name, x in features.items():
        x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
        labels, _, inertia = kmeans(x, k, restarts=restarts, seed=seed)
        out[name] = {"accuracy": matched_accuracy(labels, athletes), "k": k,
                     "frames": int(len(x)), "chance": 1.0 / k, "inertia": inertia,
                     "within_clip": within_group_share(x, clips)}
    return out


def run_probe(sessions: sessionmaker[Session], ws: Workspace, run_id: int, opts: FitOptions,
              device: torch.device, max_frames: int = 4000,
              progress: Callable[[str, int, int, str], None] | None = None) -> dict:
    """Cluster and regression probes of a training run's z_tv and z_ti."""
    with sessions.begin() as s:
        run = get_train_run(s, run_id)
        run_dir = ws.abs(run.directory)
        clips = [(c.id, c.content_hash, c.athlete.name) for c in list_clips(s, sport=opts.sport)
                 if c.athlete is not None]
    if len({a for _, _, a in clips}) < 2:
        raise TemposeError(f"the probe needs {opts.sport} clips of at least 2 athletes")
    parts: dict[str, list[np.ndarray]] = {p: [] for p in PARTS}
    who: list[np.ndarray] = []
    which: list[np.ndarray] = []
    for cid, digest, athlete in clips:
        for p in PARTS:
            parts[p].append(load_features(run_id, run_dir, digest, cid, p))
        who.append(np.full(len(parts["z_tv"][-1]), athlete, dtype=object))
        which.append(np.full(len(parts["z_tv"][-1]), cid))
    athletes = np.concatenate(who).astype(str)
    clip_of = np.concatenate(which)
    rng = np.random.default_rng(opts.seed)
    keep = np.sort(rng.permutation(len(athletes))[:max_frames])  # seeded subsample
    if progress:
        progress("clustering", 0, 1, f"{len(keep)} frames")
    clusters = cluster_probe({p: np.concatenate(parts[p])[keep] for p in PARTS},
                             athletes[keep], clip_of[keep], seed=opts.seed)
    regress = {}
    for i, p in enumerate(PARTS):
        def step(k: int, n: int, info: str, p: str = p) -> None:
            if progress:
                progress(f"regressor on {p}", k, n, info)

        res = fit_core(sessions, ws, run_id, replace(opts, feature=p, with_2d=False,
                                                      mode="frozen"), device, step)
        regress[p] = {k: res.summary[k] for k in ("mpjpe", "n_mpjpe", "p_mpjpe", "n_frames")}
        regress[p]["labelled_frames"] = res.counts
        regress[p]["split"] = res.split.to_dict()
        if progress:
            progress(f"regressor on {p}", i + 1, len(PARTS), "")
    with sessions.begin() as s:
        s.execute(delete(Evaluation).where(Evaluation.run_id == run_id,
                                           Evaluation.split.like("probe-%")))
        for p, r in clusters.items():
            s.add(Evaluation(run_id=run_id, split=f"probe-kmeans-{p}", n_frames=r["frames"],
                             details=r))
        for p, r in regress.items():
            s.add(Evaluation(run_id=run_id, split=f"probe-regress-{p}", fraction=opts.fraction,
                             mpjpe=r["mpjpe"], n_mpjpe=r["n_mpjpe"], p_mpjpe=r["p_mpjpe"],
                             n_frames=r["n_frames"],
                             details={"split": r["split"], "labelled_frames": r["labelled_frames"],
                                      "regressor": opts.regressor, "units": "mm"}))
    return {"run": run_id, "kmeans": clusters, "regression": regress}
