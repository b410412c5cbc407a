"""How much of the athlete is in the pixels at all? The ceiling of `tempose probe`'s z_ti.

Run:  .venv/bin/python benchmarks/ti_ceiling.py --home HOME [--every 3] [--threshold 40]
      .venv/bin/python benchmarks/ti_ceiling.py --home HOME --run R   # a run's latents too

For every --every-th frame of each catalogued dive clip with an athlete, the pixels unlike
the clip's background (max channel difference > --threshold of 255) are summarised by
hand: their mean RGB and a 12-bin hue histogram of the saturated ones. On these
features it reports (1) KMeans with k = athletes, matched accuracy, as `tempose probe`
scores z_ti, and (2) nearest athlete centroid with each clip left out (the centroids
from the athlete's other clips). No learning is involved: if these are far below 90%,
the appearance differences the generated athletes have are small at this resolution.

With --run R, z_tv and z_ti of that run's extracted features (every frame, rows
L2-normalised as `tempose probe` clusters them) get the same two scores, plus KMeans on
each clip's mean and the share of the variance within clips: where a latent's frames
wander within their clip, per-frame KMeans misses athletes its clip means still hold.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.cluster import kmeans, matched_accuracy  # noqa: E402
from store.catalogue import list_clips  # noqa: E402
from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.dataset import load_clips  # noqa: E402
from tempose_cli.learn.fitdata import load_features  # noqa: E402
from tempose_cli.pipeline.extract import get_train_run  # noqa: E402
from tempose_cli.pipeline.probe import cluster_probe  # noqa: E402


def colour_features(frame: np.ndarray, bg: np.ndarray, threshold: float) -> np.ndarray | None:
    """(H, W, 3) uint8 frame and background -> (15,) mean RGB + hue histogram, or None."""
    f = frame.astype(np.float32)
    m = np.abs(f - bg.astype(np.float32)).max(-1) > threshold  # (H, W)
    if m.sum() < 20:
        return None
    hsv = cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2HSV_FULL)[m]  # (n, 3)
    sat = hsv[:, 1] > 64
    hist = np.histogram(hsv[sat, 0], bins=12, range=(0, 256))[0].astype(np.float64)
    hist /= max(hist.sum(), 1.0)
    return np.concatenate([f[m].mean(0) / 255.0, hist])


def left_out_centroid_accuracy(x: np.ndarray, who: np.ndarray, cid: np.ndarray) -> float:
    """Nearest athlete centroid, each clip left out (centroids from the other clips)."""
    names, truth = np.unique(who, return_inverse=True)
    hits = []
    for c in np.unique(cid):
        tr, te = cid != c, cid == c
        cent = np.stack([x[tr & (who == n)].mean(0) for n in names])  # (k, D)
        pred = np.argmin(((x[te][:, None] - cent[None]) ** 2).sum(-1), 1)
        hits.append(float((pred == truth[te]).mean()))
    return float(np.mean(hits))  # the clips' mean


def latent_scores(x: np.ndarray, who: np.ndarray, cid: np.ndarray) -> str:
    """(N, D) latents of frames -> the line of scores printed for a run's z_tv or z_ti."""
    probe = cluster_probe({"x": x}, who, cid, seed=0)["x"]  # as `tempose probe` scores it
    x = x / np.maximum(np.linalg.norm(x, axis=1, keepdims=True), 1e-12)
    names, truth = np.unique(who, return_inverse=True)
    clips = np.unique(cid)
    means = np.stack([x[cid == c].mean(0) for c in clips])  # (clips, D)
    owner = np.array([truth[cid == c][0] for c in clips])
    clip_labels, _, _ = kmeans(means, len(names), restarts=10, seed=0)
    return (f"KMeans {probe['accuracy']:.2f}, on clip means "
            f"{matched_accuracy(clip_labels, owner):.2f}; nearest centroid, clip left out "
            f"{left_out_centroid_accuracy(x, who, cid):.2f}; variance within clips "
            f"{probe['within_clip']:.0%}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--every", type=int, default=3)
    ap.add_argument("--threshold", type=float, default=40.0)
    ap.add_argument("--run", type=int, default=None,
                    help="also score this training run's z_tv and z_ti (tempose extract)")
    a = ap.parse_args()
    ws = Workspace.from_options(a.home)
    with session_factory(open_catalogue(ws.url)).begin() as s:
        rows = [c for c in list_clips(s, sport="dive") if c.athlete]
        clips = load_clips(ws, rows, labels=False)
        run_dir = ws.abs(get_train_run(s, a.run).directory) if a.run is not None else None
        keys = [(c.id, c.content_hash, c.athlete.name) for c in rows]
    feats, athletes, clip_ids = [], [], []
    for c in clips:
        for t in range(0, len(c), a.every):
            bg = c.background if c.background.ndim == 3 else c.background[t]
            x = colour_features(np.asarray(c.frames[t]), np.asarray(bg), a.threshold)
            if x is not None:
                feats.append(x)
                athletes.append(c.athlete)
                clip_ids.append(c.clip_id)
    x, who, cid = np.array(feats), np.array(athletes), np.array(clip_ids)
    names, truth = np.unique(who, return_inverse=True)
    k = len(names)
    print(f"{len(x)} frames, {len(np.unique(cid))} clips, {k} athletes (chance {1 / k:.2f})")
    for name, cols in (("mean RGB + hue histogram", slice(None)),
                       ("hue histogram", slice(3, None))):
        labels, _, _ = kmeans(x[:, cols], k, restarts=10, seed=0)
        print(f"KMeans on {name}: {matched_accuracy(labels, truth):.2f}")
    print(f"nearest athlete centroid, each clip left out: "
          f"{left_out_centroid_accuracy(x, who, cid):.2f} (clip mean)")
    if run_dir is not None:
        for part in ("z_tv", "z_ti"):
            arrays = [load_features(a.run, run_dir, h, i, part) for i, h, _ in keys]
            pairs = list(zip(keys, arrays, strict=True))
            who = np.concatenate([[n] * len(z) for (_, _, n), z in pairs])
            cid = np.concatenate([[i] * len(z) for (i, _, _), z in pairs])
            print(f"run {a.run} {part} ({len(who)} frames): "
                  f"{latent_scores(np.concatenate(arrays), who, cid)}")


if __name__ == "__main__":
    main()
