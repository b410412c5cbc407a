"""Split encoder (time-variant / time-invariant heads over one trunk) and decoder."""

from __future__ import annotations

import torch
import torchvision
from torch import Tensor, nn

from models.config import ModelConfig


def norm(channels: int) -> nn.GroupNorm:
    """GroupNorm, not BatchNorm: a mini-batch holds 4 frames of each of a few clips, so
    batch statistics (and the running averages used at extraction) depend on which
    clips were drawn; per-sample normalisation behaves the same in training and eval."""
    return nn.GroupNorm(min(8, channels // 4) or 1, channels)


def _conv_block(c_in: int, c_out: int, stride: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
                         norm(c_out), nn.ReLU(inplace=True))


def _trunk(cfg: ModelConfig) -> tuple[nn.Module, int, int]:
    """-> trunk, its output width, and the channels of its last map (the pooled width)."""
    if cfg.encoder == "resnet50":  # the paper's encoder; weights never downloaded
        net = torchvision.models.resnet50(weights=None)
        net.fc = nn.Identity()
        return net, 2048, 2048
    w = cfg.encoder_width  # "small" (ModelConfig checks the name)
    net = nn.Sequential(
        _conv_block(3, w, 2), _conv_block(w, w, 1),
        _conv_block(w, 2 * w, 2), _conv_block(2 * w, 2 * w, 1),
        _conv_block(2 * w, 4 * w, 2), _conv_block(4 * w, 4 * w, 2),
    )
    if cfg.encoder_pool == "flatten":  # (B, 4w, 4, 4) -> (B, 64w): spatial layout kept
        return nn.Sequential(*net, nn.AdaptiveAvgPool2d(4), nn.Flatten()), 4 * w * 16, 4 * w
    return nn.Sequential(*net, nn.AdaptiveAvgPool2d(1), nn.Flatten()), 4 * w, 4 * w


class SplitEncoder(nn.Module):
    """Crop -> (z_tv, z_ti). The two parts share every weight but the output layer."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.trunk, dim, channels = _trunk(cfg)
        # "avg" on a flattened map: z_ti reads the map averaged over its positions.
        self.ti_avg = cfg.ti_pool == "avg" and dim != channels
        self.channels = channels
        self.tv_head = nn.Linear(dim, cfg.z_tv)
        self.ti_head = nn.Linear(channels if self.ti_avg else dim, cfg.z_ti)

    def forward(self, crops: Tensor, part: str = "both") -> tuple[Tensor | None, Tensor | None]:
        """(B, 3, h, w) crops in [0, 1] -> z_tv (B, z_tv), z_ti (B, z_ti)."""
        h = self.trunk(crops * 2 - 1)  # (B, dim)
        z_tv = self.tv_head(h) if part in ("both", "tv") else None
        if part in ("both", "ti"):
            h_ti = h.view(len(h), self.channels, -1).mean(-1) if self.ti_avg else h  # (B, C)
            z_ti = self.ti_head(h_ti)
        else:
            z_ti = None
        return z_tv, z_ti


class ProjectionHead(nn.Module):
    """Feature -> the space the contrastive term acts in (ModelConfig.contrastive_head):
    Linear, ReLU, Linear, as SimCLR's g(.)."""

    def __init__(self, dim: int, out: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(dim, dim), nn.ReLU(inplace=True), nn.Linear(dim, out))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z)  # (B, D) -> (B, out)


class Decoder(nn.Module):
    """(z_tv, z_ti) -> RGB crop (B, 3, s, s) in [0, 1] and mask (B, 1, s, s) in [0, 1]."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = cfg.decoder_width
        self.start = 6 if cfg.crop_size % 6 == 0 else 4
        ups = 0
        size = self.start
        while size < cfg.crop_size:
            size *= 2
            ups += 1
        if size != cfg.crop_size:
            raise ValueError(f"crop_size {cfg.crop_size} must be 4 or 6 times a power of two")
        self.fc = nn.Sequential(nn.Linear(cfg.z_tv + cfg.z_ti, 4 * w * self.start ** 2),
                                nn.ReLU(inplace=True))
        blocks: list[nn.Module] = []
        c = 4 * w
        for _ in range(ups):  # halve the channels at each doubling: cost stays flat per level
            c_out = max(w // 2, c // 2)
            blocks += [nn.Upsample(scale_factor=2, mode="nearest"), _conv_block(c, c_out, 1)]
            c = c_out
        self.body = nn.Sequential(*blocks)
        self.out = nn.Conv2d(c, 4, 3, padding=1)
        self.width = 4 * w

    def forward(self, z_tv: Tensor, z_ti: Tensor) -> tuple[Tensor, Tensor]:
        h = self.fc(torch.cat([z_tv, z_ti], 1))  # (B, 4w * s0^2)
        h = h.view(-1, self.width, self.start, self.start)  # (B, 4w, s0, s0)
        out = self.out(self.body(h))  # (B, 4, s, s)
        return torch.sigmoid(out[:, :3]), torch.sigmoid(out[:, 3:])


class Weak2DHead(nn.Module):
    """Optional MLP on z_tv regressing 2D pose in crop coordinates (Sec. 3, weak labels)."""

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        self.joints = cfg.weak_2d_joints
        self.net = nn.Sequential(nn.Linear(cfg.z_tv, 256), nn.ReLU(inplace=True),
                                 nn.Linear(256, 2 * self.joints))

    def forward(self, z_tv: Tensor) -> Tensor:
        return self.net(z_tv).view(-1, self.joints, 2)  # (B, J, 2)
