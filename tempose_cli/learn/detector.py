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
from models.stn import paste_factors
from tempose_cli.core.errors import TemposeError
from tempose_cli.core.geometry import MaskPatch, px_to_norm
from tempose_cli.learn.dataset import ClipFrames, FrameStore

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
        """The masks pasted into frames of ``size`` (W, H), one (H, W) array per index,
        made when read (a clip's worth of full-frame masks would not fit in memory at
        512 px)."""
        if self.crop_masks is None:
            return None
        return PastedMasks(self.crop_masks, self.box, size)

    def mask_patches(self, size: tuple[int, int]) -> Sequence[MaskPatch] | None:
        """The same masks as ``masks``, each only over the rectangle its box covers
        (zeros elsewhere): what the overlay blends."""
        if self.crop_masks is None:
            return None
        return PastedMasks(self.crop_masks, self.box, size, patches=True)

    def box_side_px(self, size: tuple[int, int]) -> np.ndarray:
        """(T,) the box's longer side in pixels at ``size`` (a box spans 2 s of 2)."""
        return np.maximum(self.box[:, 0] * size[0], self.box[:, 1] * size[1])


class PastedMasks(Sequence):
    """Crop masks pasted into frames of ``size`` (``stn.paste``), one at a time when read:
    through ``stn.paste_factors``, only over the rows and columns the box covers, so a
    frame costs about a crop's worth of work. Items are (H, W) arrays, or ``MaskPatch``
    with ``patches``."""

    def __init__(self, crop_masks: np.ndarray, box: np.ndarray, size: tuple[int, int],
                 patches: bool = False):
        self.crop_masks, self.box, self.size, self.patches = crop_masks, box, size, patches

    def __len__(self) -> int:
        return len(self.crop_masks)

    def patch(self, i: int) -> MaskPatch:
        if not 0 <= i < len(self):
            raise IndexError(i)
        b = torch.from_numpy(np.asarray(self.box[i:i + 1], np.float64))
        ry, rx = (f[0].numpy() for f in paste_factors(b, self.crop_masks.shape[-1],
                                                       self.size[1], self.size[0]))
        rows, cols = np.flatnonzero(ry.any(1)), np.flatnonzero(rx.any(1))
        if not len(rows) or not len(cols):  # the box lies outside the frame
            return MaskPatch(0, 0, np.zeros((0, 0), np.float32), self.size)
        y0, y1, x0, x1 = rows[0], rows[-1] + 1, cols[0], cols[-1] + 1
        values = ry[y0:y1] @ self.crop_masks[i].astype(np.float64) @ rx[x0:x1].T
        return MaskPatch(int(x0), int(y0), values.astype(np.float32), self.size)

    def __getitem__(self, i):  # noqa: ANN001, ANN204 - Sequence protocol (int only)
        p = self.patch(i)
        return p if self.patches else p.full()


@dataclass
class Latents:
    """One pass over a clip: the training run's z_tv, z_ti and box of every frame, and the
    regressor features of a fit's own encoder when it has one."""

    arrays: dict[str, np.ndarray]  # "z_tv", "z_ti", "box" (+ whatever the file holds)
    source: str  # "features <file>" or "encoded"
    fit_features: np.ndarray | None = None  # (T, D) through ``own``'s encoder


def _read_features(features: Path, n: int) -> dict[str, np.ndarray] | None:
    with np.load(features) as z:
        if not {"z_tv", "z_ti", "box"} <= set(z.files):
            return None
        arrays = {k: z[k].astype(np.float32) for k in z.files}
    if len(arrays["box"]) != n:
        raise TemposeError(f"{features}: {len(arrays['box'])} rows for "
                           f"{n} frames (re-run tempose extract)")
    return arrays


@torch.inference_mode()
def clip_latents(model: TemporalPoseModel, frames: ClipFrames, device: torch.device,
                 features: Path | None = None, own: TemporalPoseModel | None = None,
                 batch: int = 64) -> Latents:
    """z_tv, z_ti and box of every frame: from ``tempose extract``'s file when there is
    one (read once, every array it holds), else encoded now with the same model. With
    ``own`` (a fit's fine-tuned or supervised encoder, which crops with the training
    run's frozen detector) its features come from the same pass: each frame goes
    through the detector and the crop once, and through each encoder once."""
    arrays = None
    if features is not None and features.exists():
        arrays = _read_features(features, len(frames))
    source = "encoded" if arrays is None else f"features {features.name}"
    if arrays is not None and own is None:
        return Latents(arrays, source)
    store = FrameStore([frames])
    out: dict[str, list] = {"z_tv": [], "z_ti": [], "box": [], "own_tv": [], "own_ti": []}
    for t0 in range(0, len(frames), batch):
        idx = list(range(t0, min(len(frames), t0 + batch)))
        x, bg, noise = store.inputs([0] * len(idx), idx, device)
        if arrays is not None:  # the training run's latents are on file: only ``own``
            box, tv, ti = own.encode(x, bg, noise)
        else:
            box = model.boxes(x, bg, noise)
            crops = model.crops(x, box)
            z_tv, z_ti = model.latents(crops, box, bg, noise)
            for k, v in (("z_tv", z_tv), ("z_ti", z_ti), ("box", box)):
                out[k].append(v.cpu().numpy())
            if own is None:
                continue
            if own.cfg.crop_size != model.cfg.crop_size:
                crops = own.crops(x, box)
            tv, ti = own.latents(crops, box, bg, noise)
        out["own_tv"].append(tv.cpu().numpy())
        out["own_ti"].append(ti.cpu().numpy())
    if arrays is None:
        arrays = {k: np.concatenate(out[k]).astype(np.float32) for k in ("z_tv", "z_ti", "box")}
        arrays["features"] = model.features(torch.from_numpy(arrays["z_tv"]),
                                            torch.from_numpy(arrays["z_ti"])).numpy()
    fit_features = None
    if own is not None:
        tv, ti = (np.concatenate(out[k]).astype(np.float32) for k in ("own_tv", "own_ti"))
        fit_features = own.features(torch.from_numpy(tv), torch.from_numpy(ti)).numpy()
    return Latents(arrays, source, fit_features)


@torch.inference_mode()
def detector_track(model: TemporalPoseModel, frames: ClipFrames, device: torch.device,
                   features: Path | None = None, batch: int = 64,
                   latents: Latents | None = None) -> DetectorTrack:
    """Box, decoded mask and mask-based centre of every frame of a clip.

    The mask is the decoder's (crop-sized, times the border window the model pastes
    with); the centre is the mass-weighted centroid of its paste into the frame cache's
    size (``stn.paste``), so parts of the crop outside the frame do not count. The sums
    come from ``stn.paste_factors``: no frame-sized mask is made here, only by
    ``masks`` / ``mask_patches`` when something reads them (the overlay).
    Frames whose pasted mask is (nearly) empty, and every frame of a variant without a
    decoder, use the box centre instead. ``latents``: ``clip_latents``'s, already made.
    """
    if latents is None:
        latents = clip_latents(model, frames, device, features, batch=batch)
    lat, source = latents.arrays, latents.source
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
        mask = (mask * model.window)[:, 0]  # (B, c, c), as composite() pastes it
        # Mass and first moments of the pasted mask R_y M R_x^T without pasting it:
        # sum_ij (R_y M R_x^T)_ij f_i g_j = (R_y^T f)^T M (R_x^T g).
        ry, rx = paste_factors(b, mask.shape[-1], h, w)  # (B, H, c), (B, W, c)
        r1, c1 = ry.sum(1), rx.sum(1)  # (B, c)
        ry_v, rx_u = (ry * ys[:, None]).sum(1), (rx * xs[:, None]).sum(1)
        mass = torch.einsum("bi,bij,bj->b", r1, mask, c1)
        cu = torch.einsum("bi,bij,bj->b", r1, mask, rx_u) / mass.clamp_min(1e-9)
        cv = torch.einsum("bi,bij,bj->b", ry_v, mask, c1) / mass.clamp_min(1e-9)
        ok = (mass >= MIN_MASK_MASS).cpu().numpy()
        uv = torch.stack([cu, cv], 1).cpu().double().numpy()
        centre[a:a + batch][ok] = px_to_norm(uv[ok], (w, h))
        from_mask[a:a + batch] = ok
        crops.append(mask.cpu().numpy())
    return DetectorTrack(box, np.concatenate(crops), centre, from_mask, source)
