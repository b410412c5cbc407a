"""Where the athlete is in the image: the detector's box, the decoded mask, and the 2D
placement of a pelvis-centred 3D pose (what ``tempose analyze`` draws and exports).

The regressor predicts pelvis-centred 3D joints only: no position in the image and no
distance from the camera. The detector's box track and the decoder's mask (both from
the training run's model, per frame) say where the athlete is and how large it looks,
so the 2D joints are an estimate built from the two (``place_skeleton``).

Coordinates: detector boxes and centres are in the STN's normalised frame coordinates
(``models/stn.py``: the frame spans [-1, 1], +v down, ``align_corners=False``); pixels
have their centres at integers (the label convention), so u = (x + 1) W / 2 - 0.5.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from models.model import TemporalPoseModel
from models.skeleton import pelvis_centred
from models.stn import paste
from tempose_cli.core.errors import TemposeError
from tempose_cli.learn.dataset import ClipFrames, FrameStore
from tempose_cli.pipeline.extract import encode_clip
from tempose_cli.pose import biomech

# A pasted mask holding less than one full pixel of mass says nothing about where the
# athlete is: the centre falls back to the box's.
MIN_MASK_MASS = 1.0


def norm_to_px(xy: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Normalised frame coordinates (..., 2) -> pixels at ``size`` = (W, H)."""
    return (np.asarray(xy, float) + 1) * np.asarray(size, float) / 2 - 0.5


def px_to_norm(uv: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    return (np.asarray(uv, float) + 0.5) * 2 / np.asarray(size, float) - 1


@dataclass
class DetectorTrack:
    """Per frame: the detector's box, the decoded crop mask and the mask-based centre."""

    box: np.ndarray  # (T, 4) (s_x, s_y, u, v), normalised
    crop_masks: np.ndarray | None  # (T, c, c) mask x the paste window; None: no decoder
    centre: np.ndarray  # (T, 2) normalised: mask-weighted centroid, or the box centre
    from_mask: np.ndarray  # (T,) bool: the centre is the mask's (else the box's)
    source: str  # where the box and latents came from

    def __len__(self) -> int:
        return len(self.box)

    def masks(self, size: tuple[int, int]) -> Sequence[np.ndarray] | None:
        """The masks pasted into frames of ``size`` (W, H), one per index, made lazily
        (a clip's worth of full-frame masks would not fit in memory at 512 px)."""
        if self.crop_masks is None:
            return None
        return PastedMasks(self.crop_masks, self.box, size)

    def box_side_px(self, size: tuple[int, int]) -> np.ndarray:
        """(T,) the box's longer side in pixels at ``size`` (a box spans 2 s of 2)."""
        return np.maximum(self.box[:, 0] * size[0], self.box[:, 1] * size[1])


class PastedMasks(Sequence):
    """Frame-sized masks made a block at a time: the overlay reads them in order, and
    one paste per frame costs ~15x more than per frame of a block of 32 (measured on
    2 threads: thread start-up dominates a single small grid_sample)."""

    block = 32

    def __init__(self, crop_masks: np.ndarray, box: np.ndarray, size: tuple[int, int]):
        self.crop_masks, self.box, self.size = crop_masks, box, size
        self._start, self._cache = -1, np.zeros((0,))

    def __len__(self) -> int:
        return len(self.crop_masks)

    def __getitem__(self, i):  # noqa: ANN001, ANN204 - Sequence protocol (int only)
        if not 0 <= i < len(self):
            raise IndexError(i)
        if not self._start <= i < self._start + len(self._cache):
            self._start = i
            sl = slice(i, i + self.block)
            m = torch.from_numpy(np.ascontiguousarray(self.crop_masks[sl], np.float32))
            b = torch.from_numpy(np.asarray(self.box[sl], np.float32))
            self._cache = paste(m[:, None], b, self.size[1], self.size[0])[:, 0].numpy()
        return self._cache[i - self._start]


def _latents(model: TemporalPoseModel, features: Path | None, frames: ClipFrames,
             device: torch.device) -> tuple[dict[str, np.ndarray], str]:
    """z_tv, z_ti and box of every frame: from ``tempose extract``'s file when there is
    one (no second pass over the frames), else encoded now with the same model."""
    if features is not None and features.exists():
        with np.load(features) as z:
            if {"z_tv", "z_ti", "box"} <= set(z.files):
                arrays = {k: z[k].astype(np.float32) for k in ("z_tv", "z_ti", "box")}
                if len(arrays["box"]) != len(frames):
                    raise TemposeError(f"{features}: {len(arrays['box'])} rows for "
                                       f"{len(frames)} frames (re-run tempose extract)")
                return arrays, f"features {features.name}"
    return encode_clip(model, FrameStore([frames]), 0, device), "encoded"


@torch.no_grad()
def detector_track(model: TemporalPoseModel, frames: ClipFrames, device: torch.device,
                   features: Path | None = None, batch: int = 64) -> DetectorTrack:
    """Box, decoded mask and mask-based centre of every frame of a clip.

    The mask is the decoder's (crop-sized, times the border window the model pastes
    with), pasted into the frame cache's size with ``stn.paste``; the centre is its
    mass-weighted centroid there, so parts of the crop outside the frame do not count.
    Frames whose pasted mask is (nearly) empty, and every frame of a variant without a
    decoder, use the box centre instead.
    """
    lat, source = _latents(model, features, frames, device)
    box = lat["box"].astype(np.float64)
    h, w = frames.frames.shape[1:3]
    centre = box[:, 2:4].copy()
    from_mask = np.zeros(len(box), bool)
    if not model.variant.decoder:
        return DetectorTrack(box, None, centre, from_mask, source)
    xs = torch.arange(w, dtype=torch.float32, device=device)
    ys = torch.arange(h, dtype=torch.float32, device=device)
    crops = []
    for a in range(0, len(box), batch):
        z_tv = torch.from_numpy(lat["z_tv"][a:a + batch]).to(device)
        z_ti = torch.from_numpy(lat["z_ti"][a:a + batch]).to(device)
        b = torch.from_numpy(lat["box"][a:a + batch]).to(device)
        _, mask = model.decoder(z_tv, z_ti)
        mask = mask * model.window  # (B, 1, c, c), as composite() pastes it
        frame_mask = paste(mask, b, h, w)[:, 0]  # (B, H, W)
        mass = frame_mask.sum((1, 2))
        cu = (frame_mask.sum(1) * xs).sum(1) / mass.clamp_min(1e-9)
        cv = (frame_mask.sum(2) * ys).sum(1) / mass.clamp_min(1e-9)
        ok = (mass >= MIN_MASK_MASS).cpu().numpy()
        uv = torch.stack([cu, cv], 1).cpu().double().numpy()
        centre[a:a + batch][ok] = px_to_norm(uv[ok], (w, h))
        from_mask[a:a + batch] = ok
        crops.append(mask[:, 0].cpu().numpy())
    return DetectorTrack(box, np.concatenate(crops), centre, from_mask, source)


def place_skeleton(j3d: np.ndarray, anchor_uv: np.ndarray, box_side_px: np.ndarray,
                   K: np.ndarray | None = None, fill: float = 0.85
                   ) -> tuple[np.ndarray, dict]:
    """2D joints (T, 14, 2) in pixels for pelvis-centred 3D joints (T, 14, 3) in metres.

    An estimate, from two assumptions:

    - position: the body's centre of gravity (``biomech.centre_of_gravity``, the same
      segment table as the analysis) projects onto ``anchor_uv``, the mask-based
      centre. The mask's centroid is the silhouette's, which lies near the CG in any
      pose, while the pelvis leaves it in a pike or tuck; anchoring the CG also keeps
      the image CG track (the flight parabola) the mask's own measurement.
    - scale: the skeleton's extent in the image plane (the larger of its x and y
      ranges, metres) spans ``fill`` of the box's longer side. The default 0.85 is
      the part of the crop where the decoder's paste window is 1
      (``ModelConfig.window_margin`` = 0.15). The per-frame ratio is noisy (boxes
      jitter, the extent changes with the pose), and a diver's distance from the
      camera changes little in a dive, so one scale, the median over frames, is used
      for the whole clip.

    With the camera matrix ``K`` the pose is placed at the depth Z = f / scale (f the
    mean focal length in pixels) on the ray through the anchor and projected with K
    (perspective); without K it is drawn with weak perspective, uv = anchor + scale *
    (x, y). Camera axes are the labels' (x right, y down), so no rotation is needed.
    Frames with a missing joint are NaN.
    """
    p = pelvis_centred(np.asarray(j3d, float))
    q = p - biomech.centre_of_gravity(p)[:, None]  # CG-centred
    extent = np.maximum(np.ptp(q[..., 0], axis=1), np.ptp(q[..., 1], axis=1))  # (T,) m
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = fill * np.asarray(box_side_px, float) / extent
    ok = np.isfinite(ratio) & (ratio > 0)
    scale = float(np.median(ratio[ok])) if ok.any() else float("nan")
    anchor = np.asarray(anchor_uv, float)
    info = {"estimate": True, "anchor": "centre of gravity at the mask-based centre",
            "scale_rule": f"joint extent = {fill:g} x the box's longer side, median over "
                          "frames", "px_per_m": scale, "fill": fill}
    if K is None:
        info["projection"] = "weak perspective (no camera matrix)"
        return anchor[:, None] + scale * q[..., :2], info
    K = np.asarray(K, float)
    f = 0.5 * (K[0, 0] + K[1, 1])
    depth = f / scale
    ray = np.concatenate([anchor, np.ones((len(anchor), 1))], 1) @ np.linalg.inv(K).T
    points = q + depth * ray[:, None] / ray[:, None, 2:3]  # CG at depth Z on the ray
    uvw = points @ K.T
    info |= {"projection": "perspective with the clip's K", "depth_m": depth}
    return uvw[..., :2] / uvw[..., 2:3], info
