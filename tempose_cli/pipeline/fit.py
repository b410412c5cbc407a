"""``tempose fit``: a 3D pose regressor on a training run's features (paper Sec. 3.4, 4).

The self-supervised model stays frozen (unless fine-tuning); the regressor learns from
every K-th labelled frame of the training-side clips, is selected on the validation
clips and evaluated on the test clips. The fit becomes a Run(kind="fit") with its
checkpoint, the split it used and an Evaluation in millimetres, written in one
transaction at the end (a killed fit leaves no record).
"""

from __future__ import annotations

import os
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from sqlalchemy.orm import Session, sessionmaker

from models.checkpoint import rng_state, save_checkpoint
from models.config import RunConfig
from models.model import TemporalPoseModel
from models.regressor import (
    LoopResult,
    RegressorConfig,
    build_regressor,
    choose_track_lam,
    fit_knn,
    pose_loss,
    train_loop,
)
from store.schema import Evaluation, Run, utcnow
from tempose_cli.core.errors import TemposeError
from tempose_cli.core.workspace import Workspace
from tempose_cli.learn.features import load_model
from tempose_cli.learn.finetune import EndToEnd, encode_features, fresh_pose_model, train_end_to_end
from tempose_cli.learn.fitdata import (
    MODES,
    ClipSource,
    FitOptions,
    clip_sources,
    inputs,
    labelled_clips,
    load_features,
    split_for,
)
from tempose_cli.learn.splits import Split
from tempose_cli.pipeline.evaluate import (
    MM,
    FitModel,
    error_summary,
    evaluation_details,
    side_frames,
    side_predictions,
)
from tempose_cli.pipeline.extract import get_train_run

# (step, total, info)
Progress = Callable[[int, int, str], None]


def stack(feats: dict[int, np.ndarray], sources: list[ClipSource],
          frames: dict[int, np.ndarray]) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of the chosen frames: inputs (N, D) and pelvis-centred targets (N, 14, 3)."""
    xs = [feats[s.clip_id][frames[s.clip_id]] for s in sources]
    ys = [s.targets()[frames[s.clip_id]] for s in sources]
    if not xs:
        return torch.zeros(0, 1), torch.zeros(0, 14, 3)
    x, y = np.concatenate(xs), np.concatenate(ys)
    return torch.from_numpy(x).float(), torch.from_numpy(y).float()


def new_regressor(cfg: RegressorConfig, x: torch.Tensor, y: torch.Tensor) -> torch.nn.Module:
    """A seeded regressor whose standardisation is fitted on the training rows."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        reg = build_regressor(cfg)
    reg.fit_normalisation(x, y)
    return reg


def track_rows(x: np.ndarray, frames: np.ndarray, targets: np.ndarray, device: torch.device
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One validation clip for ``choose_track_lam``: the (T', D) rows with complete input
    (as ``evaluate.clip_track`` reads the clip), the labelled frames' positions among
    them and their (N, 14, 3) poses."""
    ok = np.isfinite(x).all(1)
    at = np.cumsum(ok) - 1  # row of each frame among the complete ones
    f = frames[ok[frames]]
    return (torch.from_numpy(x[ok]).float().to(device), torch.from_numpy(at[f]),
            torch.from_numpy(targets[f]).float().to(device))


def fit_arrays(cfg: RegressorConfig, x: torch.Tensor, y: torch.Tensor, x_val: torch.Tensor,
               y_val: torch.Tensor, device: torch.device, generator: torch.Generator,
               progress: Progress | None = None
               ) -> tuple[torch.nn.Module, torch.optim.Optimizer | None, LoopResult]:
    """Train a regressor on (N, D) inputs -> (N, 14, 3) poses with Adam; select on val.
    knn has nothing to train: it keeps the rows, chooses k on val and has no optimizer."""
    if cfg.kind == "knn":
        knn, val = fit_knn(cfg, x.to(device), y.to(device), x_val.to(device), y_val.to(device))
        return knn, None, LoopResult(None, val, 0, [])
    reg = new_regressor(cfg, x, y).to(device)
    x, y = x.to(device), y.to(device)
    optimizer = torch.optim.Adam(reg.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)

    def step_loss(step: int) -> torch.Tensor:
        idx = torch.randint(len(x), (min(cfg.batch, len(x)),), generator=generator).to(device)
        return pose_loss(reg(x[idx]), y[idx], reg.y_scale)

    @torch.no_grad()
    def validate() -> float:
        reg.eval()
        pred = torch.cat([reg(x_val[a:a + 4096].to(device)).cpu()
                          for a in range(0, len(x_val), 4096)])
        return float((pred - y_val).norm(dim=-1).mean())

    result = train_loop(reg, optimizer, cfg, step_loss, validate if len(x_val) else None,
                        progress)
    return reg, optimizer, result


@dataclass
class FitResult:
    """A trained, evaluated fit, not yet recorded."""

    opts: FitOptions
    train_run: dict  # id, variant, profile, dir
    split: Split
    counts: dict[str, int]  # labelled frames per side
    net: RegressorConfig
    regressor: torch.nn.Module
    optimizer: torch.optim.Optimizer | None  # None: knn
    loop: LoopResult
    generator: torch.Generator
    pose_model: TemporalPoseModel | None
    pose_config: RunConfig | None
    summary: dict  # test metrics (mm), per joint, per clip
    seconds: float
    # knn read as a track: validation N-MPJPE (mm) per track weight tried; empty otherwise
    track_scores: dict[float, float] = field(default_factory=dict)

    def config(self) -> dict:
        """What the fit's Run records: enough to audit and to reproduce it."""
        o, loop = self.opts, self.loop
        return {
            "train_run": self.train_run["id"], "mode": o.mode, "split": self.split.to_dict(),
            "every": o.every, "fraction": o.fraction, "regressor": o.regressor,
            "with_2d": o.with_2d, "context": o.context, "seed": o.seed, "feature": o.feature,
            "labelled_frames": self.counts, "best_step": loop.best_step,
            "steps_run": loop.steps_run, "seconds": round(self.seconds, 2),
            "best_val_mpjpe_mm": None if loop.best_val != loop.best_val else MM * loop.best_val,
            "options": o.to_dict(), "net": self.net.to_dict(),
        }


def fit_core(sessions: sessionmaker[Session], ws: Workspace, run_id: int, opts: FitOptions,
             device: torch.device, progress: Progress | None = None,
             log: Callable[[str], None] = lambda m: None) -> FitResult:
    """Split, train the regressor (and encoder when asked), evaluate on the test side."""
    if opts.mode not in MODES:
        raise TemposeError(f"unknown fit mode {opts.mode!r} ({'|'.join(MODES)})")
    if opts.context and opts.mode in ("finetune", "scratch"):
        raise TemposeError(f"{opts.mode} encodes one frame at a time: --context needs "
                           "frozen features (the run's, or --baseline random)")
    if opts.track and opts.regressor != "knn":
        raise TemposeError(f"--track reads a clip as a sequence of labelled frames: it needs "
                           f"--regressor knn, not {opts.regressor}")
    if opts.regressor == "knn" and opts.mode in ("finetune", "scratch"):
        raise TemposeError(f"{opts.mode} trains the encoder through the regressor: use "
                           "--regressor mlp or resmlp (knn has no gradient)")
    with sessions.begin() as s:
        train_run = get_train_run(s, run_id)
        tr = {"id": train_run.id, "variant": train_run.variant, "profile": train_run.profile,
              "dir": ws.abs(train_run.directory)}
        rows = labelled_clips(s, opts.sport)
        split = split_for(rows, opts)
        used = set(split.train + split.val + split.test)
        sources = clip_sources(s, ws, [c for c in rows if c.id in used],
                               open_frames=opts.needs_frames)
        pose_model = run_cfg = None
        if opts.needs_frames:
            trained, run_cfg = load_model(ws, train_run, device)
            pose_model = trained if opts.mode == "finetune" else \
                fresh_pose_model(run_cfg, trained, opts.seed).to(device)
    by_id = {src.clip_id: src for src in sources}
    side = {k: [by_id[c] for c in getattr(split, k)] for k in ("train", "val", "test")}
    frames = {"train": side_frames(side["train"], opts, opts.every),
              "val": side_frames(side["val"], opts, opts.every),
              "test": side_frames(side["test"], opts, 1)}
    counts = {k: int(sum(len(f) for f in v.values())) for k, v in frames.items()}
    if counts["train"] == 0:
        raise TemposeError("no labelled frames on the training side of the split")
    if counts["test"] == 0:
        raise TemposeError("no labelled frames on the test side of the split")
    log(f"split {split.kind}: {len(split.train)} train / {len(split.val)} val / "
        f"{len(split.test)} test clips; {counts['train']} labelled training frames "
        f"(every {opts.every}), {counts['val']} validation, {counts['test']} test")

    # Features of every frame of the clips in play: the extract's, or the fit's encoder.
    feats = {}
    for src in sources:
        f = (encode_features(pose_model, src, device) if pose_model is not None else
             load_features(tr["id"], tr["dir"], src.content_hash, src.clip_id, opts.feature))
        feats[src.clip_id] = inputs(f, src, opts.with_2d, opts.context)
    x, y = stack(feats, side["train"], frames["train"])
    x_val, y_val = stack(feats, side["val"], frames["val"])
    cfg = RegressorConfig(kind=opts.regressor, in_dim=x.shape[1], hidden=opts.hidden,
                          lr=opts.lr, batch=opts.batch, steps=opts.steps, seed=opts.seed)
    generator = torch.Generator().manual_seed(opts.seed)
    t0 = time.perf_counter()
    scores: dict[float, float] = {}  # the track weights' validation N-MPJPE (knn)
    if opts.mode in ("finetune", "scratch"):
        assert pose_model is not None
        reg = new_regressor(cfg, x, y)
        optimizer, loop = train_end_to_end(EndToEnd(pose_model, reg), cfg, opts, side["train"],
                                           frames["train"], side["val"], frames["val"], device,
                                           generator, progress)
    else:
        reg, optimizer, loop = fit_arrays(cfg, x, y, x_val, y_val, device, generator, progress)
        if opts.track:
            scores = choose_track_lam(reg, [track_rows(feats[s.clip_id], frames["val"][s.clip_id],
                                                       s.targets(), device)
                                            for s in side["val"] if len(frames["val"][s.clip_id])])
            log("track weight on validation (N-MPJPE mm): " + ", ".join(
                f"{lam:g}: {v:.1f}" for lam, v in scores.items())
                + f"; kept {reg.cfg.track_lam:g}")
    seconds = time.perf_counter() - t0
    model = FitModel(opts, reg, pose_model, tr["id"], tr["dir"], device)
    pred, true, clip_ids, _ = side_predictions(model, side["test"], frames["test"])
    net = getattr(reg, "cfg", cfg)  # knn's records its k and bank size
    return FitResult(opts, tr, split, counts, net, reg, optimizer, loop, generator, pose_model,
                     run_cfg, error_summary(pred, true, clip_ids), seconds, scores)


def run_fit(sessions: sessionmaker[Session], ws: Workspace, run_id: int, opts: FitOptions,
            device: torch.device, progress: Progress | None = None,
            log: Callable[[str], None] = lambda m: None) -> int:
    """Fit, evaluate on the test side and record (one transaction); returns the fit's id."""
    res = fit_core(sessions, ws, run_id, opts, device, progress, log)
    # Checkpoint in a temporary folder, renamed to runs/<id>-fit-... once the id exists.
    tmp = ws.runs_dir / f".fit-tmp-{os.getpid()}-{time.time_ns()}"
    save_checkpoint(
        tmp / "checkpoint.pt", model=res.regressor, optimizer=res.optimizer,
        step=res.loop.steps_run, rng=rng_state(res.generator, {}),
        config={"fit": opts.to_dict(), "regressor": res.net.to_dict(),
                "pose_model": res.pose_config.to_dict() if res.pose_model is not None else None},
        extra={"pose_model": None if res.pose_model is None else res.pose_model.state_dict(),
               "history": res.loop.history})
    try:
        with sessions.begin() as s:
            fit_id = record_fit(s, ws, res, tmp).id
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return fit_id


def record_fit(s: Session, ws: Workspace, res: FitResult, tmp: Path) -> Run:
    """The fit's Run (its folder moved into place) and its test Evaluation."""
    tr, opts = res.train_run, res.opts
    fit = Run(kind="fit", variant=tr["variant"], profile=tr["profile"], parent_id=tr["id"],
              config=res.config(), directory="", status="done", step=res.loop.steps_run,
              finished_at=utcnow())
    s.add(fit)
    s.flush()
    label = opts.mode if opts.mode != "frozen" else opts.regressor
    fit.directory = f"runs/{fit.id:04d}-fit-{opts.split}-{label}"
    folder = ws.abs(fit.directory)
    if folder.exists():  # left by a fit whose transaction rolled back: no record owns it
        shutil.rmtree(folder)
    os.replace(tmp, folder)
    fit.checkpoint_path = ws.rel(folder / "checkpoint.pt")
    s.add(evaluation_row(fit.id, opts, res.summary))
    return fit


def evaluation_row(run_id: int, opts: FitOptions, summary: dict) -> Evaluation:
    return Evaluation(run_id=run_id, split=opts.split, fraction=opts.fraction,
                      mpjpe=summary["mpjpe"], n_mpjpe=summary["n_mpjpe"],
                      p_mpjpe=summary["p_mpjpe"], n_frames=summary["n_frames"],
                      details=evaluation_details(opts, summary))
