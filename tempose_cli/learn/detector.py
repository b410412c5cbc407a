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
from models.stn import paste
from tempose_cli.core.errors import TemposeError
from tempose_cli.core.geometry import px_to_norm
from tempose_cli.learn.dataset import ClipFrames, FrameStore
from tempose_cli.learn.features import encode_clip

# A pasted mask holding less than one full pixel of mass says nothing about where the
# athlete is: the centre falls back to the box's.
MIN_MASK_MASS = 1.0


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
