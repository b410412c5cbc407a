"""The torch device a command runs on (``--device auto | cpu | cuda``)."""

from __future__ import annotations

import torch

from tempose_cli.core.errors import TemposeError


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise TemposeError("--device cuda asked for, but torch sees no CUDA device")
    if name != "cpu" and not name.startswith("cuda"):
        raise TemposeError(f"unknown device {name!r} (auto|cpu|cuda)")
    return torch.device(name)
