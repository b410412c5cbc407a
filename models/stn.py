"""Spatial transformer: the detector's box, the crop and the inverse paste (Eq. 1).

A box is (s_x, s_y, u, v) in the normalised coordinates of ``affine_grid`` (the frame
spans [-1, 1]; +v is down). The crop's output grid maps to frame coordinates
x = s_x * x' + u, y = s_y * y' + v; the inverse transform is analytic.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models.config import ModelConfig
from models.networks import norm


def box_to_theta(box: Tensor) -> Tensor:
    """(B, 4) boxes -> (B, 2, 3) affine matrices frame <- crop."""
    if box.ndim != 2 or box.shape[1] != 4:
        raise ValueError(f"box must be (B, 4), got {tuple(box.shape)}")
    sx, sy, u, v = box.unbind(1)
    zero = torch.zeros_like(sx)
    return torch.stack([torch.stack([sx, zero, u], 1), torch.stack([zero, sy, v], 1)], 1)


def inverse_theta(box: Tensor) -> Tensor:
    """(B, 4) boxes -> (B, 2, 3) affine matrices crop <- frame:
    [[1/s_x, 0, -u/s_x], [0, 1/s_y, -v/s_y]]."""
    sx, sy, u, v = box.unbind(1)
    zero = torch.zeros_like(sx)
    return torch.stack([torch.stack([1 / sx, zero, -u / sx], 1),
                        torch.stack([zero, 1 / sy, -v / sy], 1)], 1)


def crop(frames: Tensor, box: Tensor, size: int) -> Tensor:
    """Cut (B, C, size, size) crops out of (B, C, H, W) frames (bilinear, zeros outside)."""
    grid = F.affine_grid(box_to_theta(box), [frames.shape[0], frames.shape[1], size, size],
                         align_corners=False)
    return F.grid_sample(frames, grid, mode="bilinear", padding_mode="zeros",
                         align_corners=False)


def paste(crops: Tensor, box: Tensor, height: int, width: int) -> Tensor:
    """Inverse STN: place (B, C, h, w) crops into (B, C, height, width) frames, zeros elsewhere."""
    grid = F.affine_grid(inverse_theta(box), [crops.shape[0], crops.shape[1], height, width],
                         align_corners=False)
    return F.grid_sample(crops, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def paste_factors(box: Tensor, size: int, height: int, width: int) -> tuple[Tensor, Tensor]:
    """``paste`` as two bilinear weight matrices: rows (B, height, size) and columns
    (B, width, size), so that ``paste(crops, box, H, W) = rows @ crops @ columns^T``.

    A box's transform has no rotation or shear, so grid_sample's bilinear weights split
    into a row part and a column part. Sums over the pasted frame, or the few rows and
    columns a box covers, then cost a crop's worth of work instead of a frame's.
    """
    sx, sy, u, v = box.unbind(1)

    def weights(n: int, scale: Tensor, centre: Tensor) -> Tensor:
        x = (2 * torch.arange(n, dtype=box.dtype, device=box.device) + 1) / n - 1  # (n,)
        g = (x[None] - centre[:, None]) / scale[:, None]  # (B, n) crop coordinates
        ix = ((g + 1) * size - 1) / 2  # crop pixel index, as grid_sample unnormalises
        k = torch.arange(size, dtype=box.dtype, device=box.device)
        return (1 - (ix[..., None] - k).abs()).clamp_min(0)  # (B, n, size) tent weights

    return weights(height, sy, v), weights(width, sx, u)


def border_window(size: int, margin: float, device: torch.device | None = None) -> Tensor:
    """(1, 1, size, size) window: 1 inside, a smoothstep fade to 0 over the outer ``margin``
    (fraction of the half-width) of the crop.

    Keeps a decoded mask that is still on at the border from leaving a hard edge
    when pasted into the frame.
    """
    x = torch.linspace(-1, 1, size, device=device)
    r = ((1 - x.abs()) / margin).clamp(0, 1)
    w1 = r * r * (3 - 2 * r)  # smoothstep
    return (w1[:, None] * w1[None, :])[None, None]


def composite(crop_rgb: Tensor, crop_mask: Tensor, box: Tensor, background: Tensor,
              window: Tensor) -> tuple[Tensor, Tensor]:
    """I_hat = M' * C' + (1 - M') * background, with C', M' the pasted crop and mask.

    crop_rgb (B, 3, h, w), crop_mask (B, 1, h, w), background (B, 3, H, W).
    Returns the re-synthesised frame and the pasted mask M' (B, 1, H, W).
    """
    H, W = background.shape[-2:]
    pasted = paste(torch.cat([crop_rgb, crop_mask * window], 1), box, H, W)  # (B, 4, H, W)
    rgb, mask = pasted[:, :3], pasted[:, 3:]
    return mask * rgb + (1 - mask) * background, mask


class Detector(nn.Module):
    """Small CNN on the downsampled frame -> bounded box (s_x, s_y, u, v).

    The centre is the soft-argmax of a heatmap over the frame (translation-equivariant:
    where the athlete is shows up where the features fire, so it is learnt in far
    fewer steps than regressing coordinates from flattened features), scaled by
    ``centre_max``; the scales come from pooled features, s = s_min + (1 - s_min) *
    sigmoid(.). Both output layers start at zero: a uniform heatmap and sigmoid(0),
    i.e. training starts from the centred box of mid scale.
    """

    def __init__(self, cfg: ModelConfig):
        super().__init__()
        w = cfg.detector_width
        layers: list[nn.Module] = []
        c_in = 3
        for c_out, stride in ((w, 2), (2 * w, 2), (2 * w, 1), (4 * w, 2), (4 * w, 1)):
            layers += [nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1),
                       norm(c_out), nn.ReLU(inplace=True)]
            c_in = c_out
        self.features = nn.Sequential(*layers)  # (B, 4w, size/8, size/8)
        self.heatmap = nn.Conv2d(c_in, 1, 3, padding=1)
        self.scale = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, 2))
        for layer in (self.heatmap, self.scale[-1]):
            nn.init.zeros_(layer.weight)
            nn.init.zeros_(layer.bias)
        self.size = cfg.detector_size
        self.scale_min = cfg.scale_min
        self.centre_max = cfg.centre_max

    def forward(self, frames: Tensor) -> Tensor:
        """(B, 3, H, W) frames in [0, 1] -> (B, 4) boxes."""
        x = F.interpolate(frames, size=(self.size, self.size), mode="area")
        f = self.features(x * 2 - 1)
        logits = self.heatmap(f)  # (B, 1, h, w)
        B, _, h, w = logits.shape
        p = torch.softmax(logits.view(B, -1), 1).view(B, h, w)
        ys = torch.linspace(-1 + 1 / h, 1 - 1 / h, h, device=x.device)  # cell centres
        xs = torch.linspace(-1 + 1 / w, 1 - 1 / w, w, device=x.device)
        centre = torch.stack([(p.sum(1) * xs).sum(1), (p.sum(2) * ys).sum(1)], 1)  # (B, 2)
        scale = self.scale_min + (1 - self.scale_min) * torch.sigmoid(self.scale(f))
        return torch.cat([scale, self.centre_max * centre], 1)


def full_frame_box(batch: int, device: torch.device | None = None) -> Tensor:
    """The identity box (the whole frame), for variants without the detector."""
    return torch.tensor([1.0, 1.0, 0.0, 0.0], device=device).expand(batch, 4)
