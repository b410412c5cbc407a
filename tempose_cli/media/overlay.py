"""Overlay video: box, mask tint, projected skeleton, CG marker, frame number and time.

``write_overlay`` draws on the source frames and encodes an H.264 MP4 (yuv420p,
faststart: it plays in browsers) with the source's fps and exactly one output frame
per input frame. yuv420p needs even sizes, so an odd width or height is padded by one
replicated pixel column or row (never cropped, never resampled). The file is written
under a temporary name and renamed, so a failure leaves nothing behind.

Coordinates: pixels with pixel centres at integers (the label convention). When the
frames are drawn at another resolution than the coordinates refer to (e.g. the frame
cache's work size), ``scale`` = (new width / old width, new height / old height) maps
them with u' = (u + 0.5) sx - 0.5.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from pathlib import Path

import cv2
import numpy as np

from models.skeleton import BONE_INDEX, DIVE14
from store.files import TMP_MARK
from tempose_cli.core.ffmpeg import encode_mp4
from tempose_cli.core.geometry import MaskPatch, box_corners_px, rescale_px

LEFT, RIGHT, CENTRE = (60, 140, 255), (255, 120, 60), (240, 240, 240)  # RGB
BOX, MASK, CG = (255, 220, 0), (0, 200, 120), (255, 0, 255)
# x264's fastest preset: the overlay is a viewing aid made on every analyze. Measured
# on a 40-frame overlay: 0.6-0.7x veryfast's (CRF 18) time at about twice its bytes;
# CRF 20 keeps the thin lines clean.
PRESET, CRF = "ultrafast", 20
_SIDE = [LEFT if n.startswith("l_") else RIGHT if n.startswith("r_") else CENTRE
         for n in DIVE14]


def box_from_stn(box: np.ndarray, width: int, height: int) -> np.ndarray:
    """Detector boxes (..., 4) = (s_x, s_y, u, v) in normalised [-1, 1] image units
    (the STN's, see visualise.draw_box) -> pixel corners (x0, y0, x1, y1)."""
    return box_corners_px(box, (width, height)) + 0.5  # edges: a full frame is 0..W


def rescale(uv: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Pixel coordinates (..., 2k) to another resolution (pixel centres stay centres)."""
    return rescale_px(uv, scale)


def _pt(p: np.ndarray, shift: int = 4) -> tuple[int, int]:
    """Sub-pixel point for OpenCV's fixed-point drawing (``shift`` fractional bits)."""
    return tuple(int(round(float(c) * (1 << shift))) for c in p)


def _tint(img: np.ndarray, m: np.ndarray, alpha: float) -> np.ndarray:
    a = (alpha * np.clip(np.asarray(m, float), 0, 1))[..., None]
    return (img * (1 - a) + np.array(MASK) * a).round().astype(np.uint8)


def draw_frame(rgb: np.ndarray, index: int, time_s: float | None = None, *,
               j2d: np.ndarray | None = None, box: np.ndarray | None = None,
               mask: np.ndarray | MaskPatch | None = None, cg: np.ndarray | None = None,
               alpha: float = 0.4) -> np.ndarray:
    """One overlay frame (a new array); any missing (None or NaN) element is skipped.
    ``mask``: in [0, 1], the frame's size (or resized to it), or a ``MaskPatch``."""
    img = np.ascontiguousarray(rgb, dtype=np.uint8).copy()
    h, w = img.shape[:2]
    thick = max(1, round(min(h, w) / 240))
    if isinstance(mask, MaskPatch):  # zero outside its rectangle: blend only that
        if mask.size != (w, h):
            raise ValueError(f"mask patch of a {mask.size[0]}x{mask.size[1]} frame on a "
                             f"{w}x{h} one")
        ph, pw = mask.values.shape
        region = img[mask.y0:mask.y0 + ph, mask.x0:mask.x0 + pw]
        region[:] = _tint(region, mask.values, alpha)
    elif mask is not None:
        m = np.asarray(mask, float)
        if m.shape != (h, w):
            m = cv2.resize(m, (w, h), interpolation=cv2.INTER_LINEAR)
        img = _tint(img, m, alpha)
    if box is not None and np.isfinite(box).all():
        x0, y0, x1, y1 = box
        cv2.rectangle(img, _pt((x0, y0)), _pt((x1, y1)), BOX, thick, cv2.LINE_AA, 4)
    if j2d is not None:
        ok = np.isfinite(j2d).all(-1)
        for a_, b_ in BONE_INDEX:
            if ok[a_] and ok[b_]:
                colour = _SIDE[b_] if _SIDE[a_] == _SIDE[b_] else CENTRE
                cv2.line(img, _pt(j2d[a_]), _pt(j2d[b_]), colour, thick, cv2.LINE_AA, 4)
        for k in np.flatnonzero(ok):
            cv2.circle(img, _pt(j2d[k]), (thick + 1) << 4, _SIDE[k], -1, cv2.LINE_AA, 4)
    if cg is not None and np.isfinite(cg).all():
        r = (2 * thick + 2) << 4
        cv2.circle(img, _pt(cg), r, CG, thick, cv2.LINE_AA, 4)
        cv2.drawMarker(img, tuple(int(round(c)) for c in cg), CG, cv2.MARKER_CROSS,
                       4 * thick + 4, thick)
    text = f"#{index}" + (f"  {time_s:.3f} s" if time_s is not None else "")
    scale = max(0.35, min(h, w) / 600)
    org = (4, int(14 * scale / 0.35))
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (0, 0, 0), thick + 2,
                cv2.LINE_AA)
    cv2.putText(img, text, org, cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), thick,
                cv2.LINE_AA)
    return img


def _even(img: np.ndarray) -> np.ndarray:
    h, w = img.shape[:2]
    if h % 2 or w % 2:
        img = cv2.copyMakeBorder(img, 0, h % 2, 0, w % 2, cv2.BORDER_REPLICATE)
    return img


def write_overlay(path: Path, frames: Iterable[np.ndarray], fps: float, n_frames: int, *,
                  j2d: np.ndarray | None = None, boxes: np.ndarray | None = None,
                  masks: Sequence[np.ndarray | MaskPatch] | np.ndarray | None = None,
                  cg_uv: np.ndarray | None = None, time_s: np.ndarray | None = None,
                  scale: tuple[float, float] | None = None) -> Path:
    """Encode the overlay of ``n_frames`` source frames (RGB, (H, W, 3) uint8) to MP4.

    Per-frame inputs are indexed by frame: ``j2d`` (T, 14, 2), ``boxes`` (T, 4) pixel
    corners (``box_from_stn`` converts detector boxes), ``masks`` (T, h, w) in [0, 1]
    (resized to the frame) or ``MaskPatch`` per frame, ``cg_uv`` (T, 2), ``time_s`` (T,)
    (default: frame / fps).
    Raises ValueError, leaving no file, when the frames are not exactly n_frames.
    """
    path = Path(path)
    if scale is not None:
        j2d = None if j2d is None else rescale(j2d, scale)
        boxes = None if boxes is None else rescale(boxes, scale)
        cg_uv = None if cg_uv is None else rescale(cg_uv, scale)
    times = np.arange(n_frames) / fps if time_s is None else np.asarray(time_s, float)
    count = 0
    size: list[tuple[int, int]] = []

    def drawn() -> Iterable[np.ndarray]:
        nonlocal count
        for i, rgb in enumerate(frames):
            if i >= n_frames:
                raise ValueError(f"more than the expected {n_frames} frames")
            img = _even(draw_frame(
                rgb, i, float(times[i]),
                j2d=None if j2d is None else j2d[i], box=None if boxes is None else boxes[i],
                mask=None if masks is None else masks[i],
                cg=None if cg_uv is None else cg_uv[i]))
            if not size:
                size.append((img.shape[1], img.shape[0]))
            elif (img.shape[1], img.shape[0]) != size[0]:
                raise ValueError(f"frame {i} is {img.shape[1]}x{img.shape[0]}, "
                                 f"the first was {size[0][0]}x{size[0][1]}")
            count += 1
            yield img

    it = iter(drawn())
    try:
        first = next(it)
    except StopIteration:
        raise ValueError("no frames to encode") from None
    # ffmpeg picks the container by the suffix, so the temporary name keeps ".mp4".
    tmp = path.with_name(f".{path.stem}{TMP_MARK}{os.getpid()}.mp4")
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        encode_mp4(tmp, _chain(first, it), fps, size[0], crf=CRF, preset=PRESET)
        if count != n_frames:
            raise ValueError(f"got {count} frames, expected {n_frames}")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _chain(first: np.ndarray, rest: Iterable[np.ndarray]) -> Iterable[np.ndarray]:
    yield first
    yield from rest
