"""PNG grids that show what the model does (people would rather look than read losses)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from store.files import write_atomic
from tempose_cli.core.geometry import box_corners_px


def to_image(t: torch.Tensor, size: int) -> np.ndarray:
    """(C, h, w) tensor in [0, 1] -> (size, size, 3) uint8 RGB."""
    t = t.detach().float().cpu()
    if t.shape[0] == 1:
        t = t.expand(3, -1, -1)
    t = F.interpolate(t[None], size=(size, size), mode="bilinear", align_corners=False)[0]
    return (t.clamp(0, 1).permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)


def draw_box(img: np.ndarray, box: torch.Tensor, colour=(255, 40, 40)) -> np.ndarray:  # noqa: ANN001
    """Draw a normalised box (s_x, s_y, u, v) on an image."""
    h, w = img.shape[:2]
    # Edges (a full-frame box spans 0..W), truncated to the pixel grid as before.
    x0, y0, x1, y1 = (box_corners_px(box.detach().cpu().numpy(), (w, h)) + 0.5).tolist()
    out = np.ascontiguousarray(img.copy())
    cv2.rectangle(out, (int(x0), int(y0)), (int(x1), int(y1)), colour, 1)
    return out


COLUMNS = ("frames", "crops", "tv_input", "decoded", "mask", "recon")


def grid(vis: dict, rows: int = 4, size: int = 128) -> np.ndarray:
    """Columns: input frame with the box, crop, what the z_tv head saw (training grids:
    jittered, its background swapped or grey with those options), decoded crop, mask,
    re-synthesised frame; ``size`` px a panel (128: the body in a crop is large enough to
    judge by eye)."""
    n = min(rows, vis["frames"].shape[0])
    columns = [k for k in COLUMNS if k != "tv_input" or k in vis]
    lines = []
    for i in range(n):
        cells = []
        for key in columns:
            if key not in vis:
                cells.append(np.full((size, size, 3), 64, np.uint8))
                continue
            img = to_image(vis[key][i], size)
            if key == "frames":
                img = draw_box(img, vis["box"][i])
            cells.append(img)
        lines.append(np.concatenate(cells, 1))
    return np.concatenate(lines, 0)


def save_png(path: Path, rgb: np.ndarray) -> Path:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(rgb, cv2.COLOR_RGB2BGR))
    if not ok:
        raise RuntimeError(f"could not encode {path}")
    return write_atomic(path, lambda f: f.write(buf.tobytes()))


def save_grid(path: Path, vis: dict) -> Path:
    return save_png(path, grid(vis))
