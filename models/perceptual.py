"""Reconstruction loss: pixel L2 plus L2 on frozen ResNet-18 features (DESIGN.md).

ImageNet weights cannot be downloaded at run time, so the network is either loaded from a
local state_dict file (``--perceptual-weights``) or a fixed, seeded random ResNet-18; which
one is recorded in ``ReconstructionLoss.source`` for the run's log and record.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models import resnet18

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ReconstructionLoss"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
_MIN_SIDE = 32  # layer3 has stride 16: 32 px still leaves a 2x2 feature map


def _load_state_dict(path: str) -> Mapping[str, Tensor]:
    try:
        sd = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unreadable, not a torch file, or unsafe pickle
        raise ValueError(f"perceptual weights {path!r} could not be read: {exc}") from exc
    if isinstance(sd, Mapping) and "state_dict" in sd and isinstance(sd["state_dict"], Mapping):
        sd = sd["state_dict"]  # a training checkpoint that wraps the weights
    if not isinstance(sd, Mapping):
        raise ValueError(
            f"perceptual weights {path!r} hold a {type(sd).__name__}, not a resnet18 state_dict"
        )
    return sd


class ReconstructionLoss(nn.Module):
    """Pixel MSE + ``perceptual_weight`` * sum over ResNet-18 layers of feature MSE.

    The network is frozen: parameters never require grad and it stays in eval mode even
    when the owning model calls ``.train()`` (BatchNorm statistics must not drift, or the
    loss would change under the model being trained). Gradients still flow to ``pred``.
    Inputs are RGB in [0, 1]; ImageNet normalisation happens inside.
    """

    def __init__(
        self,
        perceptual_weight: float = 1.0,
        weights_path: str | None = None,
        seed: int = 0,
        layers: tuple[int, ...] = (1, 2, 3),
    ) -> None:
        super().__init__()
        layers = tuple(int(i) for i in layers)
        if (
            not layers
            or any(i not in (1, 2, 3, 4) for i in layers)
            or len(set(layers)) != len(layers)
        ):
            raise ValueError(f"layers must be distinct values from 1-4, got {layers}")
        self.perceptual_weight = float(perceptual_weight)
        self.layers = tuple(sorted(layers))

        if weights_path is not None:
            net = resnet18(weights=None)
            sd = _load_state_dict(str(weights_path))
            try:
                result = net.load_state_dict(sd, strict=False)
            except RuntimeError as exc:  # shape mismatch
                raise ValueError(
                    f"perceptual weights {str(weights_path)!r} do not fit a resnet18: {exc}"
                ) from exc
            # The classifier head is unused, so a backbone-only file is fine; anything
            # else missing or unexpected means it is not a resnet18.
            missing = [k for k in result.missing_keys if not k.startswith("fc.")]
            if missing or result.unexpected_keys:
                raise ValueError(
                    f"perceptual weights {str(weights_path)!r} do not fit a resnet18: "
                    f"missing {missing[:5]}{'...' if len(missing) > 5 else ''}, unexpected "
                    f"{result.unexpected_keys[:5]}"
                    f"{'...' if len(result.unexpected_keys) > 5 else ''}"
                )
            self.source = f"file:{Path(weights_path)}"
        else:
            # torchvision initialises from the global RNG: fork it so the caller's stream
            # is untouched and the network depends on ``seed`` alone.
            with torch.random.fork_rng(devices=[]):
                # CPU generator only: torch.manual_seed would also reseed (and leak into)
                # the CUDA generators, which fork_rng(devices=[]) does not restore.
                torch.default_generator.manual_seed(int(seed))
                net = resnet18(weights=None)
            self.source = f"random-resnet18-seed{int(seed)}"

        # Keep only the stem and the layers we read; layer4/fc would be dead weight.
        self.stem = nn.Sequential(net.conv1, net.bn1, net.relu, net.maxpool)
        self.blocks = nn.ModuleList(
            [getattr(net, f"layer{i}") for i in range(1, max(self.layers) + 1)]
        )
        for p in self.parameters():
            p.requires_grad_(False)
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)
        self.train(False)

    def train(self, mode: bool = True) -> ReconstructionLoss:
        """Record ``mode`` on this module but keep the frozen network in eval mode."""
        super().train(mode)
        self.stem.eval()
        self.blocks.eval()
        return self

    def features(self, x: Tensor) -> list[Tensor]:
        """(B, 3, H, W) in [0, 1] -> the chosen layers' feature maps."""
        h = self.stem((x - self.mean) / self.std)  # (B, 64, H/4, W/4)
        out = []
        for i, block in enumerate(self.blocks, start=1):
            h = block(h)  # (B, C_i, H/2^(i+1), W/2^(i+1))
            if i in self.layers:
                out.append(h)
        return out

    def forward(self, pred: Tensor, target: Tensor) -> dict[str, Tensor]:
        """Losses of ``pred`` against ``target`` (both (B, 3, H, W), H, W >= 32)."""
        for name, t in (("pred", pred), ("target", target)):
            if t.ndim != 4 or t.shape[1] != 3:
                raise ValueError(f"{name} must be (B, 3, H, W), got shape {tuple(t.shape)}")
        if pred.shape != target.shape:
            raise ValueError(
                f"pred and target must have the same shape, got {tuple(pred.shape)} "
                f"and {tuple(target.shape)}"
            )
        if min(pred.shape[-2:]) < _MIN_SIDE:
            raise ValueError(f"H and W must be >= {_MIN_SIDE}, got shape {tuple(pred.shape)}")

        pixel = F.mse_loss(pred, target)
        with torch.no_grad():
            feats_t = self.features(target)
        feats_p = self.features(pred)
        perceptual = sum(
            (F.mse_loss(fp, ft) for fp, ft in zip(feats_p, feats_t, strict=True)),
            start=pred.new_zeros(()),
        )
        return {
            "pixel": pixel,
            "perceptual": perceptual,
            "total": pixel + self.perceptual_weight * perceptual,
        }
