"""A fit's 3D pose for any clip (``predict``), its metrics (``tempose evaluate``) in mm.

Metrics follow paper Sec. 4.2 on pelvis-centred poses: MPJPE, N-MPJPE (per-frame
least-squares scale) and P-MPJPE (per-frame similarity Procrustes), overall, per
joint and per clip. ``--export-predictions`` writes every test frame's predicted and
true joints so the numbers can be recomputed by anyone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker
from torch import nn

from models.checkpoint import build_loaded, load_checkpoint
from models.config import RunConfig
from models.metrics import METRICS
from models.model import TemporalPoseModel
from models.regressor import KNNRegressor, RegressorConfig, build_regressor
from models.skeleton import DIVE14
from models.variants import get_variant
from store.catalogue import get_clip
from store.files import write_atomic
from store.schema import Evaluation, Export, Run
from tempose_cli.core.errors import NotFoundError, TemposeError
from tempose_cli.core.records import require_clip
from tempose_cli.core.workspace import Workspace
from tempose_cli.learn.finetune import encode_features
from tempose_cli.learn.fitdata import ClipSource, FitOptions, clip_sources, inputs, load_features
from tempose_cli.learn.splits import keep_every

MM = 1000.0  # labels and predictions are metres; metrics are reported in millimetres


@dataclass
class FitModel:
    """A fitted regressor with where its features come from."""

    opts: FitOptions
    regressor: nn.Module
    pose_model: TemporalPoseModel | None  # None: the training run's extracted features
    train_run_id: int
    train_dir: Path
    device: torch.device
    _inputs: dict[int, np.ndarray] = field(default_factory=dict)

    def inputs(self, src: ClipSource) -> np.ndarray:
        """(T, D [+ 28]) regressor input of every frame of a clip (cached per clip)."""
        if src.clip_id not in self._inputs:
            if self.pose_model is not None:
                f = encode_features(self.pose_model, src, self.device)
            else:
                f = load_features(self.train_run_id, self.train_dir, src.content_hash,
                                  src.clip_id, self.opts.feature)
            self._inputs[src.clip_id] = inputs(f, src, self.opts.with_2d, self.opts.context)
        return self._inputs[src.clip_id]

    def prime(self, src: ClipSource, features: np.ndarray) -> None:
        """Use ``features`` (T, D), made by the caller's own pass, as the clip's."""
        self._inputs[src.clip_id] = inputs(features, src, self.opts.with_2d, self.opts.context)

    @torch.no_grad()
    def predict(self, src: ClipSource, frames: np.ndarray | None = None) -> np.ndarray:
        """(N, 14, 3) pelvis-centred metres for ``frames`` (all frames when None).

        Rows whose input is incomplete (``--with-2d`` on a frame without 2D labels)
        are NaN.
        """
        x = self.inputs(src)
        if tracks(self.regressor):  # along the whole clip, then the frames asked for
            out = clip_track(self.regressor, x, self.device)
            return out if frames is None else out[frames]
        if frames is not None:
            x = x[frames]
        out = np.full((len(x), len(DIVE14), 3), np.nan)
        ok = np.flatnonzero(np.isfinite(x).all(1))
        self.regressor.eval()
        for a in range(0, len(ok), 4096):
            rows = ok[a:a + 4096]
            xb = torch.from_numpy(x[rows]).float().to(self.device)  # (B, D)
            out[rows] = self.regressor(xb).cpu().double().numpy()  # (B, 14, 3)
        return out


def tracks(regressor: nn.Module) -> bool:
    """Whether the regressor predicts a clip as a track (knn with a temporal weight)."""
    return isinstance(regressor, KNNRegressor) and regressor.cfg.track_lam > 0


@torch.no_grad()
def clip_track(regressor: KNNRegressor, x: np.ndarray, device: torch.device,
               lam: float | None = None) -> np.ndarray:
    """(T, 14, 3) ``KNNRegressor.predict_track`` over a clip's (T, D) inputs; rows with
    incomplete input are NaN and skipped (the track joins the frames either side)."""
    out = np.full((len(x), len(DIVE14), 3), np.nan)
    ok = np.flatnonzero(np.isfinite(x).all(1))
    if len(ok):
        xb = torch.from_numpy(x[ok]).float().to(device)  # (T', D)
        out[ok] = regressor.predict_track(xb, lam).cpu().double().numpy()  # (T', 14, 3)
    return out


def side_predictions(model: FitModel, sources: list[ClipSource],
                     frames: dict[int, np.ndarray]) -> tuple[np.ndarray, ...]:
    """Predicted and true poses (N, 14, 3) metres, clip ids (N,) and frames (N,)."""
    pred, true, cid, fid = [], [], [], []
    for src in sources:
        f = frames[src.clip_id]
        pred.append(model.predict(src, f))
        true.append(src.targets()[f])
        cid.append(np.full(len(f), src.clip_id))
        fid.append(f)
    if not pred:
        raise TemposeError("no test frames to evaluate")
    return tuple(np.concatenate(a) for a in (pred, true, cid, fid))


def error_summary(pred: np.ndarray, true: np.ndarray, clip_ids: np.ndarray) -> dict:
    """MPJPE, N-MPJPE, P-MPJPE in mm: overall, per joint and per clip."""
    p, t = pred * MM, true * MM
    frame = {k: fn(p, t, "frame") for k, fn in METRICS.items()}  # (N,) each
    joint = {k: fn(p, t, "joint") for k, fn in METRICS.items()}  # (J,) each
    per_clip = {}
    for c in np.unique(clip_ids):
        sel = clip_ids == c
        per_clip[str(int(c))] = {"frames": int(sel.sum()),
                                 **{k: float(v[sel].mean()) for k, v in frame.items()}}
    return {**{k: float(v.mean()) for k, v in frame.items()}, "n_frames": int(len(p)),
            "per_joint": {j: {k: float(joint[k][i]) for k in METRICS}
                          for i, j in enumerate(DIVE14)},
            "per_clip": per_clip}


def load_fit(session: Session, ws: Workspace, fit_id: int,
             device: torch.device) -> tuple[FitModel, Run]:
    run = session.get(Run, fit_id)
    if run is None or run.kind != "fit":
        raise NotFoundError(f"no fit {fit_id} (see: tempose runs list --kind fit)")
    if not run.checkpoint_path or not ws.abs(run.checkpoint_path).exists():
        raise TemposeError(f"fit {fit_id}: checkpoint {run.checkpoint_path} is missing")
    # Only the weights are read (mmap); the optimizer state stays on disk.
    ckpt = load_checkpoint(ws.abs(run.checkpoint_path), mmap=True)
    opts = FitOptions.from_dict(ckpt["config"]["fit"])
    reg_cfg = RegressorConfig.from_dict(ckpt["config"]["regressor"])
    reg = build_loaded(lambda: build_regressor(reg_cfg), ckpt["model"])
    pose_model = None
    if ckpt["extra"].get("pose_model") is not None:
        cfg = RunConfig.from_dict(ckpt["config"]["pose_model"])
        pose_model = build_loaded(
            lambda: TemporalPoseModel(cfg.model, get_variant(cfg.train.variant)),
            ckpt["extra"]["pose_model"])
        pose_model.to(device).eval()
    parent = session.get(Run, run.parent_id) if run.parent_id is not None else None
    if parent is None:
        raise TemposeError(f"fit {fit_id}: its training run {run.parent_id} is gone")
    model = FitModel(opts, reg.to(device).eval(), pose_model, parent.id,
                     ws.abs(parent.directory), device)
    return model, run


def predict(sessions: sessionmaker[Session], ws: Workspace, fit_id: int, clip_id: int,
            device: torch.device | None = None) -> np.ndarray:
    """(T, 14, 3) pelvis-centred 3D joints in metres for every frame of a clip.

    Joints in ``DIVE14`` order. With a fit made ``--with-2d``, frames without 2D labels
    are NaN. Raises NotFoundError for unknown fit or clip ids, and TemposeError when
    the training run's features of the clip are missing (run ``tempose extract``).
    """
    device = device or torch.device("cpu")
    with sessions.begin() as s:
        model, _ = load_fit(s, ws, fit_id, device)
        clip = require_clip(s, clip_id)
        src = clip_sources(s, ws, [clip], open_frames=model.pose_model is not None)[0]
    return model.predict(src)


def write_predictions_csv(path: Path, pred: np.ndarray, true: np.ndarray, clip_ids: np.ndarray,
                          frames: np.ndarray) -> Path:
    """clip_id, frame, pred_<joint>_x/_y/_z..., true_<joint>_x/_y/_z... (metres,
    pelvis-centred, camera axes), one row per test frame."""
    cols = ["clip_id", "frame"]
    for side in ("pred", "true"):
        cols += [f"{side}_{j}_{a}" for j in DIVE14 for a in "xyz"]
    lines = [",".join(cols)]
    for i in range(len(pred)):
        vals = np.concatenate([pred[i].ravel(), true[i].ravel()])
        lines.append(f"{int(clip_ids[i])},{int(frames[i])}," +
                     ",".join("" if not np.isfinite(v) else f"{v:.6f}" for v in vals))
    text = "\n".join(lines) + "\n"
    return write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def evaluate_fit(sessions: sessionmaker[Session], ws: Workspace, fit_id: int,
                 device: torch.device, export: Path | None = None) -> dict:
    """Re-evaluate a fit on its recorded test clips; update its Evaluation (one
    transaction, with the predictions CSV recorded as an Export)."""
    with sessions.begin() as s:
        model, run = load_fit(s, ws, fit_id, device)
        test_ids = run.config["split"]["test"]
        clips = []
        for cid in test_ids:
            clip = get_clip(s, cid)
            if clip is None:
                raise TemposeError(f"fit {fit_id}: test clip {cid} is no longer catalogued")
            clips.append(clip)
        sources = clip_sources(s, ws, clips, open_frames=model.pose_model is not None)
        info = {"fit": fit_id, "train_run": model.train_run_id, "variant": run.variant,
                "split": model.opts.split, "every": model.opts.every,
                "fraction": model.opts.fraction, "mode": model.opts.mode,
                "regressor": model.opts.regressor, "with_2d": model.opts.with_2d,
                "context": model.opts.context}
    frames = side_frames(sources, model.opts, 1)
    pred, true, cid, fid = side_predictions(model, sources, frames)
    summary = error_summary(pred, true, cid)
    if export is not None:
        write_predictions_csv(export, pred, true, cid, fid)
    with sessions.begin() as s:
        ev = s.scalar(select(Evaluation).where(Evaluation.run_id == fit_id,
                                               Evaluation.split == model.opts.split))
        if ev is None:
            ev = Evaluation(run_id=fit_id, split=model.opts.split)
            s.add(ev)
        ev.fraction = model.opts.fraction
        ev.mpjpe, ev.n_mpjpe, ev.p_mpjpe = summary["mpjpe"], summary["n_mpjpe"], summary["p_mpjpe"]
        ev.n_frames = summary["n_frames"]
        ev.details = evaluation_details(model.opts, summary)
        if export is not None:
            s.add(Export(run_id=fit_id, kind="csv", path=ws.rel(export),
                         params={"what": "test predictions", "units": "m", "frames": len(pred)}))
    return {**info, **summary, "export": str(export) if export is not None else None}


def side_frames(sources: list[ClipSource], opts: FitOptions, every: int) -> dict[int, np.ndarray]:
    """Labelled frames used per clip: every K-th by frame index (``every`` = 1: all)."""
    return {s.clip_id: keep_every(s.labelled(opts.with_2d), every) for s in sources}


def evaluation_details(opts: FitOptions, summary: dict) -> dict:
    return {"mode": opts.mode, "regressor": opts.regressor, "with_2d": opts.with_2d,
            "context": opts.context, "track": opts.track, "every": opts.every, "units": "mm",
            "per_joint": summary["per_joint"], "per_clip": summary["per_clip"]}
