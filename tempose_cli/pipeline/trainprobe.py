"""Watch training learn: a ridge probe from z_tv to 3D pose on athletes it never fitted on.

Issue 11, item 4. Every ``probe_every`` steps ``tempose train`` encodes the labelled
clips, fits a ridge regression on every ``every``-th labelled frame of the fit athletes
(lambda chosen on one of them held out), and reports the N-MPJPE (mm) on all labelled
frames of the held-out athletes, next to the training mean pose; and how tight the box
is (centre to the true CG or labelled pelvis, and box side over the athlete's 2D extent).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from models.metrics import n_mpjpe
from models.ridge import ridge_select
from models.skeleton import pelvis_centred
from store.schema import Clip
from tempose_cli.core.geometry import box_centres_px
from tempose_cli.core.labels import PoseTrack
from tempose_cli.core.workspace import Workspace
from tempose_cli.learn.dataset import ClipFrames, FrameStore, load_clips
from tempose_cli.pose.tracking import reference_track

SIZE_TOLERANCE = 1.5  # box side within this factor of the athlete's 2D extent
# What a probe adds to the training log (losses.csv, the progress bar).
PROBE_COLUMNS = ("probe_n_mpjpe", "probe_mean_pose", "box_centre_err", "box_size_ratio")


@dataclass
class LabelledClip:
    frames: ClipFrames
    j3d: np.ndarray  # (T, 14, 3) camera metres, NaN where unlabelled
    sidecar: dict | None = None


def labelled_for_probe(ws: Workspace, clips: list[Clip]) -> list[LabelledClip]:
    """The clips among ``clips`` with 3D labels, frames opened (inside the caller's session)."""
    with_3d = [c for c in clips if any(lb.frames_3d for lb in c.labels)]
    out = []
    for c, frames in zip(with_3d, load_clips(ws, with_3d), strict=True):
        tracks = [PoseTrack.load_npz(ws.abs(lb.array_path)) for lb in c.labels]
        j3d = next(t.j3d for t in tracks if t.j3d is not None)
        out.append(LabelledClip(frames, j3d, c.sidecar))
    return out


def athlete_extent_px(j2d: np.ndarray) -> np.ndarray:
    """(T, 14, 2) pixels -> (T,) the longer side of the joints' bounding box."""
    span = np.nanmax(j2d, 1) - np.nanmin(j2d, 1)  # (T, 2)
    return span.max(1)


def box_quality(box: np.ndarray, reference: np.ndarray | None, j2d: np.ndarray | None,
                size: tuple[int, int]) -> dict[str, np.ndarray]:
    """Per-frame centre error / frame height and box side / athlete extent (NaN unknown)."""
    w, h = size
    n = len(box)
    err = np.full(n, np.nan)
    ratio = np.full(n, np.nan)
    if reference is not None:
        err = np.linalg.norm(box_centres_px(box, size) - reference, axis=1) / h
    if j2d is not None:
        with np.errstate(invalid="ignore"):
            ratio = box[:, 1] * h / athlete_extent_px(j2d)
    return {"centre_err": err, "size_ratio": ratio}


class PoseProbe:
    """Held-out-athlete ridge probe over a fixed set of labelled clips."""

    def __init__(self, clips: list[LabelledClip], every: int = 5, test_share: float = 0.25,
                 seed: int = 0):
        athletes = sorted({c.frames.athlete or f"clip{c.frames.clip_id}" for c in clips})
        if len(athletes) < 3:
            raise ValueError(f"the probe needs labelled clips of at least 3 athletes, "
                             f"got {len(athletes)}")
        rng = np.random.default_rng(seed)
        order = [athletes[i] for i in rng.permutation(len(athletes))]
        n_test = max(1, int(np.ceil(test_share * len(athletes))))
        self.test_athletes = sorted(order[:n_test])
        self.val_athlete = order[n_test]
        self.clips = clips
        self.every = every
        self.store = FrameStore([c.frames for c in clips])
        self.targets = [pelvis_centred(c.j3d.astype(np.float64)) for c in clips]

    def _athlete(self, c: LabelledClip) -> str:
        return c.frames.athlete or f"clip{c.frames.clip_id}"

    def _side(self, c: LabelledClip) -> str:
        a = self._athlete(c)
        return "test" if a in self.test_athletes else "val" if a == self.val_athlete else "fit"

    def _frames(self, ci: int) -> np.ndarray:
        """Labelled frames the probe reads: all on the test side, every K-th elsewhere."""
        y = self.targets[ci].reshape(len(self.targets[ci]), -1)
        ok = np.flatnonzero(np.isfinite(y).all(1))
        return ok if self._side(self.clips[ci]) == "test" else ok[::self.every]

    @torch.no_grad()
    def __call__(self, model, device: torch.device, batch: int = 64) -> dict[str, float]:  # noqa: ANN001
        was_training = model.training
        model.eval()
        parts: dict[str, list] = {k: [] for k in ("fit", "val", "test")}
        box_err, box_ratio = [], []
        for ci, c in enumerate(self.clips):
            idx = self._frames(ci)
            feats, boxes = [], []
            for i in range(0, len(idx), batch):  # only the frames the probe reads
                at = [ci] * len(idx[i:i + batch]), idx[i:i + batch]
                box, z_tv, z_ti = model.encode(*self.store.inputs(*at, device))
                feats.append(model.features(z_tv, z_ti).cpu().numpy())
                boxes.append(box.cpu().numpy())
            box = np.concatenate(boxes)
            ref = reference_track(c.sidecar, c.frames.j2d)
            q = box_quality(box, None if ref is None else ref[idx],
                            None if c.frames.j2d is None else c.frames.j2d[idx],
                            c.frames.video_size)
            box_err.append(q["centre_err"])
            box_ratio.append(q["size_ratio"])
            y = self.targets[ci].reshape(len(self.targets[ci]), -1)[idx]  # (n, 42)
            parts[self._side(c)].append((np.concatenate(feats), y))
        model.train(was_training)

        def cat(side: str) -> tuple[np.ndarray, np.ndarray]:
            return (np.concatenate([p[0] for p in parts[side]]),
                    np.concatenate([p[1] for p in parts[side]]))

        def err(pred: np.ndarray, y: np.ndarray) -> float:
            return n_mpjpe(pred.reshape(-1, 14, 3) * 1000, y.reshape(-1, 14, 3) * 1000)

        (x, y), (xv, yv), (xt, yt) = cat("fit"), cat("val"), cat("test")
        ridge = ridge_select(x, y, xv, yv, err)
        mean = np.concatenate([y, yv]).mean(0, keepdims=True).repeat(len(yt), 0)
        e = np.concatenate(box_err)
        r = np.concatenate(box_ratio)
        ok_r = np.isfinite(r)
        return {
            "probe_n_mpjpe": err(ridge.predict(xt), yt),
            "probe_mean_pose": err(mean, yt),
            "probe_lambda": ridge.lam,
            "probe_labels": float(len(x) + len(xv)),
            "box_centre_err": float(np.nanmean(e)),
            "box_centre_ok": float(np.nanmean(e <= 0.03)),
            "box_size_ratio": float(np.nanmedian(r)),
            "box_size_ok": float(np.mean((r[ok_r] <= SIZE_TOLERANCE)
                                         & (r[ok_r] >= 1 / SIZE_TOLERANCE))),
        }


