"""Checkpoints hold everything to rebuild and resume a run exactly (nanoGPT style):
config, weights, optimizer, the step and every random state in play."""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any

import numpy as np
import torch

# The one atomic write (fsync'ed); store.files imports nothing but numpy.
from store.files import write_atomic

FORMAT = 1


def rng_state(torch_generator: torch.Generator, sampler_state: dict) -> dict[str, Any]:
    return {
        "torch": torch.get_rng_state(),
        "generator": torch_generator.get_state(),
        "sampler": sampler_state,
        "numpy": np.random.get_state(),
        "python": random.getstate(),
    }


def restore_rng(state: dict[str, Any], torch_generator: torch.Generator) -> dict:
    """Restore global and loop generators; returns the sampler's state to set."""
    torch.set_rng_state(state["torch"])
    torch_generator.set_state(state["generator"])
    np.random.set_state(state["numpy"])
    random.setstate(state["python"])
    return state["sampler"]


def save_checkpoint(path: Path, *, config: dict, model: torch.nn.Module,
                    optimizer: torch.optim.Optimizer | None, step: int, rng: dict | None,
                    extra: dict | None = None) -> Path:
    """Write atomically (``store.files.write_atomic``: temporary name, fsync, rename): a
    kill never leaves half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT, "config": config, "model": model.state_dict(),
        "optimizer": optimizer.state_dict() if optimizer is not None else None,
        "step": step, "rng": rng, "extra": extra or {},
    }
    return write_atomic(path, lambda f: torch.save(payload, f))


def load_checkpoint(path: Path) -> dict[str, Any]:
    # weights_only=False: the payload holds numpy RNG states next to tensors; the file
    # is one tempose wrote into its own workspace.
    ckpt = torch.load(path, map_location="cpu", weights_only=False)
    if ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: checkpoint format {ckpt.get('format')} is not {FORMAT}")
    return ckpt
