"""Checkpoints hold everything to rebuild and resume a run exactly (nanoGPT style):
config, weights, optimizer, the step and every random state in play."""

from __future__ import annotations

import random
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import torch
from torch import nn
from torch.nn.modules.module import register_module_parameter_registration_hook

# The one atomic write (fsync'ed); store.files imports nothing but numpy.
from store.files import write_atomic

FORMAT = 1
M = TypeVar("M", bound=nn.Module)


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


def load_checkpoint(path: Path, mmap: bool = False) -> dict[str, Any]:
    """The checkpoint's payload. ``mmap``: tensors are mapped from the file and read when
    used (copy-on-write), so a caller that needs only the weights does not read the
    optimizer state (two thirds of a fit's file)."""
    # weights_only=False: the payload holds numpy RNG states next to tensors; the file
    # is one tempose wrote into its own workspace.
    ckpt = torch.load(path, map_location="cpu", weights_only=False, mmap=mmap)
    if ckpt.get("format") != FORMAT:
        raise ValueError(f"{path}: checkpoint format {ckpt.get('format')} is not {FORMAT}")
    return ckpt


def build_loaded(factory: Callable[[], M], state: dict[str, torch.Tensor]) -> M:
    """``factory()``'s module holding ``state``'s weights, without the random
    initialisation the constructor would make only for it to be overwritten.

    Parameters are created on the meta device (no memory, no initialisation) and then
    replaced by the state's tensors (``assign``); buffers are built as usual, so the
    non-persistent ones, which no state dict holds, keep their computed values.
    """
    def to_meta(_module: nn.Module, _name: str, p: nn.Parameter | None):  # noqa: ANN202
        return None if p is None else nn.Parameter(p.to("meta"), p.requires_grad)

    hook = register_module_parameter_registration_hook(to_meta)
    try:
        module = factory()
    finally:
        hook.remove()
    module.load_state_dict(state, assign=True)  # strict: every parameter is replaced
    left = [n for n, t in [*module.named_parameters(), *module.named_buffers()] if t.is_meta]
    if left:
        raise ValueError(f"not in the state dict: {', '.join(left)}")
    return module
