"""A training run's model, loaded from its checkpoint, and the latents of a clip's frames
(``tempose extract`` writes them; ``analyze`` and fine-tuning encode with the same code)."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from models.checkpoint import build_loaded, load_checkpoint
from models.config import RunConfig
from models.model import TemporalPoseModel
from models.variants import get_variant
from store.schema import Run
from tempose_cli.core.errors import TemposeError
from tempose_cli.core.workspace import Workspace
from tempose_cli.learn.dataset import FrameStore


def load_model(ws: Workspace, run: Run,
               device: torch.device) -> tuple[TemporalPoseModel, RunConfig]:
    if run.kind != "train":
        raise TemposeError(f"run {run.id} is a {run.kind} run, not a training run")
    if not run.checkpoint_path or not ws.abs(run.checkpoint_path).exists():
        raise TemposeError(f"run {run.id} has no checkpoint yet (train it: tempose train)")
    # Only the weights are read (mmap); the optimizer state stays on disk.
    ckpt = load_checkpoint(ws.abs(run.checkpoint_path), mmap=True)
    cfg = RunConfig.from_dict(ckpt["config"])
    model = build_loaded(lambda: TemporalPoseModel(cfg.model, get_variant(cfg.train.variant)),
                         ckpt["model"])
    return model.to(device).eval(), cfg


@torch.no_grad()
def encode_clip(model: TemporalPoseModel, store: FrameStore, ci: int, device: torch.device,
                batch: int = 64, flip: bool = False,
                track: Callable[[np.ndarray], np.ndarray] | None = None
                ) -> dict[str, np.ndarray]:
    """Box, z_tv, z_ti and the regressor's features of every frame of clip ``ci``;
    ``flip``: of the horizontally mirrored frames (and background), whose pose is
    ``models.skeleton.mirror_pose`` of the clip's. ``track``: a function of the clip's
    whole (T, 4) box track giving the boxes to crop at (e.g. ``models.track``'s flight
    parabola), applied before any frame is encoded."""
    n = store.lengths[ci]

    def inputs(idx: list[int]) -> tuple[Tensor, Tensor, Tensor]:
        frames, background, noise = store.inputs([ci] * len(idx), idx, device)
        if flip:
            return frames.flip(-1), background.flip(-1), noise.flip(-1)
        return frames, background, noise

    batches = [list(range(t0, min(n, t0 + batch))) for t0 in range(0, n, batch)]
    given = None  # with ``track``: the whole track first, then the crops at its boxes
    if track is not None:
        boxes = np.concatenate([model.boxes(*inputs(idx)).cpu().numpy() for idx in batches])
        given = np.asarray(track(boxes), np.float32)  # (T, 4)
    out: dict[str, list] = {"z_tv": [], "z_ti": [], "box": []}
    for idx in batches:  # model.encode, the box given or the model's own
        frames, background, noise = inputs(idx)
        box = (model.boxes(frames, background, noise) if given is None
               else torch.from_numpy(given[idx]).to(device))  # (B, 4)
        z_tv, z_ti = model.latents(model.crops(frames, box), box, background, noise)
        for k, v in (("z_tv", z_tv), ("z_ti", z_ti), ("box", box)):
            out[k].append(v.cpu().numpy())
    arrays = {k: np.concatenate(v).astype(np.float32) for k, v in out.items()}
    arrays["features"] = model.features(torch.from_numpy(arrays["z_tv"]),
                                        torch.from_numpy(arrays["z_ti"])).numpy()
    return arrays
