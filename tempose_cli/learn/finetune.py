"""Encoders held by a fit: end-to-end fine-tuning (paper Fig. 9) and supervised baselines.

- ``finetune``: the training run's encoder, initialised from its self-supervised
  weights, trained with the regressor on the labelled frames.
- ``random``: the same regressor on the features of a randomly initialised (seeded)
  encoder of the same configuration, kept frozen: what the features buy.
- ``scratch``: the ``finetune`` path from that random initialisation: a fully
  supervised encoder trained on the labelled fraction only.

In every mode the crop comes from the training run's detector, frozen: the comparison
isolates what the encoder learned without labels (a random detector would only crop
the middle of the frame, and the regressor is never given boxes to learn from).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor, nn

from models.config import RunConfig
from models.model import TemporalPoseModel
from models.regressor import LoopResult, RegressorConfig, pose_loss, train_loop
from models.variants import get_variant
from tempose_cli.learn.dataset import FrameStore
from tempose_cli.learn.features import encode_clip
from tempose_cli.learn.fitdata import ClipSource, FitOptions


def fresh_pose_model(cfg: RunConfig, trained: TemporalPoseModel | None, seed: int) -> \
        TemporalPoseModel:
    """A seeded random TemporalPoseModel of ``cfg``, with the trained detector if given."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = TemporalPoseModel(cfg.model, get_variant(cfg.train.variant))
    if trained is not None:
        model.detector.load_state_dict(trained.detector.state_dict())
    return model


def encode_features(model: TemporalPoseModel, source: ClipSource,
                    device: torch.device) -> np.ndarray:
    """(T, D) regressor features of every frame of a clip through ``model``."""
    assert source.frames is not None, "frames not opened"
    model.eval()
    return encode_clip(model, FrameStore([source.frames]), 0, device)["features"]


class EndToEnd(nn.Module):
    """Frozen detector box -> crop -> encoder features (-> + 2D pose) -> regressor."""

    def __init__(self, pose_model: TemporalPoseModel, regressor: nn.Module):
        super().__init__()
        self.pose_model = pose_model
        self.regressor = regressor
        for p in pose_model.detector.parameters():
            p.requires_grad_(False)

    def forward(self, frames: Tensor, pose_2d: Tensor | None = None,
                background: Tensor | None = None, noise: Tensor | None = None) -> Tensor:
        with torch.no_grad():
            box = self.pose_model.boxes(frames, background, noise)  # (B, 4)
        crops = self.pose_model.crops(frames, box)  # (B, 3, c, c)
        z_tv, z_ti = self.pose_model.latents(crops, box, background, noise)  # (B, Dtv), (B, Dti)
        x = self.pose_model.features(z_tv, z_ti)  # (B, D)
        if pose_2d is not None:
            x = torch.cat([x, pose_2d], 1)  # (B, D + 28)
        return self.regressor(x)  # (B, 14, 3)


def _side(sources: list[ClipSource], frames: dict[int, np.ndarray], with_2d: bool):
    """Flatten a side: (clip index, frame) rows, targets (N, 14, 3), 2D (N, 28) or None."""
    ci, ti, ys, p2 = [], [], [], []
    for k, src in enumerate(sources):
        f = frames[src.clip_id]
        ci += [k] * len(f)
        ti += f.tolist()
        ys.append(src.targets()[f])
        if with_2d:
            p2.append(src.pose_2d()[f])
    y = torch.from_numpy(np.concatenate(ys)).float() if ys else torch.zeros(0, 14, 3)
    pose_2d = torch.from_numpy(np.concatenate(p2)).float() if with_2d and p2 else None
    return np.array(ci, dtype=np.int64), np.array(ti, dtype=np.int64), y, pose_2d


def train_end_to_end(net: EndToEnd, cfg: RegressorConfig, opts: FitOptions,
                     train: list[ClipSource], train_frames: dict[int, np.ndarray],
                     val: list[ClipSource], val_frames: dict[int, np.ndarray],
                     device: torch.device, generator: torch.Generator,
                     progress: Callable[[int, int, str], None] | None = None) \
        -> tuple[torch.optim.Optimizer, LoopResult]:
    """Adam on the encoder (``encoder_lr``) and the regressor (``lr``) from cached frames."""
    net.to(device)
    store = FrameStore([s.frames for s in train])
    ci, ti, y, p2 = _side(train, train_frames, opts.with_2d)
    optimizer = torch.optim.Adam([
        {"params": list(net.pose_model.encoder.parameters()), "lr": opts.encoder_lr},
        {"params": list(net.regressor.parameters()), "lr": cfg.lr},
    ], weight_decay=cfg.weight_decay)
    scale = net.regressor.y_scale

    def step_loss(step: int) -> Tensor:
        idx = torch.randint(len(y), (min(opts.image_batch, len(y)),), generator=generator)
        sel = idx.numpy()
        frames, bg, noise = store.inputs(ci[sel], ti[sel], device)  # (B, 3, H, W), ...
        pose_2d = None if p2 is None else p2[idx].to(device)
        return pose_loss(net(frames, pose_2d, bg, noise), y[idx].to(device), scale)

    validate = None
    if val:
        vstore = FrameStore([s.frames for s in val])
        vci, vti, vy, vp2 = _side(val, val_frames, opts.with_2d)

        @torch.no_grad()
        def validate() -> float:
            net.eval()
            errs = []
            for a in range(0, len(vy), opts.image_batch):
                b = slice(a, a + opts.image_batch)
                frames, bg, noise = vstore.inputs(vci[b], vti[b], device)
                pose_2d = None if vp2 is None else vp2[b].to(device)
                errs.append((net(frames, pose_2d, bg, noise).cpu() - vy[b]).norm(dim=-1).mean(-1))
            return float(torch.cat(errs).mean()) if errs else float("nan")

    result = train_loop(net, optimizer, cfg, step_loss, validate, progress)
    return optimizer, result
