"""Image geometry: the one pixel convention and the one projection through K.

Pixels have their centres at integers (OpenCV's convention, and what ``tempose synth``
writes into its labels): pixel (0, 0) covers [-0.5, 0.5]^2 and a W x H image spans
u in [-0.5, W - 0.5], v in [-0.5, H - 0.5].

Normalised frame coordinates are the STN's (``models/stn.py``): the frame spans
[-1, 1] on both axes, +v down, ``align_corners=False``; so u = (x + 1) W / 2 - 0.5.

Detector boxes are (s_x, s_y, u, v) in normalised units: half-extents and centre.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

G = 9.81  # m/s^2, standard gravity to 3 digits (the analysis and the benchmark's dives)


def norm_to_px(xy: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Normalised frame coordinates (..., 2) -> pixels at ``size`` = (W, H)."""
    return (np.asarray(xy, float) + 1) * np.asarray(size, float) / 2 - 0.5


def px_to_norm(uv: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Pixels (..., 2) at ``size`` = (W, H) -> normalised frame coordinates."""
    return (np.asarray(uv, float) + 0.5) * 2 / np.asarray(size, float) - 1


def box_corners_px(box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Boxes (..., 4) = (s_x, s_y, u, v), normalised -> corners (x0, y0, x1, y1) in pixels
    (a full-frame box: (-0.5, -0.5, W - 0.5, H - 0.5))."""
    sx, sy, u, v = np.moveaxis(np.asarray(box, float), -1, 0)
    lo = norm_to_px(np.stack([u - sx, v - sy], -1), size)
    hi = norm_to_px(np.stack([u + sx, v + sy], -1), size)
    return np.concatenate([lo, hi], -1)


def box_centres_px(box: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Boxes (..., 4), normalised -> their centres (..., 2) in pixels."""
    return norm_to_px(np.asarray(box, float)[..., 2:4], size)


def rescale_px(uv: np.ndarray, scale: tuple[float, float]) -> np.ndarray:
    """Pixel coordinates (..., 2k) to another resolution, ``scale`` = (new W / old W,
    new H / old H): u' = (u + 0.5) s - 0.5 (pixel centres stay centres)."""
    s = np.resize(np.asarray(scale, float), np.shape(uv)[-1])
    return (np.asarray(uv, float) + 0.5) * s - 0.5


def project(points: np.ndarray, K: np.ndarray, R: np.ndarray | None = None,
            t: np.ndarray | None = None) -> np.ndarray:
    """Points (..., 3) -> pixels (..., 2) through the camera matrix K (pinhole).

    Without R, t the points are in camera coordinates (x right, y down, z forward);
    with them they are world points, x_cam = R x + t (R, t may be per frame:
    (T, 3, 3), (T, 3) for points (T, 3))."""
    p = np.asarray(points, float)
    if R is not None:
        p = np.einsum("...ij,...j->...i", np.asarray(R, float), p)
    if t is not None:
        p = p + np.asarray(t, float)
    uvw = p @ np.asarray(K, float).T
    return uvw[..., :2] / uvw[..., 2:3]


def back_project(uv: np.ndarray, K: np.ndarray) -> np.ndarray:
    """Pixels (..., 2) -> rays (..., 3) in camera coordinates with z = 1."""
    uv = np.asarray(uv, float)
    ray = np.concatenate([uv, np.ones(uv.shape[:-1] + (1,))], -1) @ np.linalg.inv(
        np.asarray(K, float)).T
    return ray / ray[..., 2:3]


@dataclass(frozen=True)
class MaskPatch:
    """A frame-sized mask that is zero outside one rectangle: ``values`` (h, w) at rows
    ``y0``.. and columns ``x0``.. of a frame of ``size`` = (W, H). What a pasted crop
    mask is; blending only the rectangle gives the same image as blending the frame."""

    x0: int
    y0: int
    values: np.ndarray
    size: tuple[int, int]

    def full(self) -> np.ndarray:
        """The (H, W) mask, zeros outside the rectangle."""
        out = np.zeros((self.size[1], self.size[0]), self.values.dtype)
        h, w = self.values.shape
        out[self.y0:self.y0 + h, self.x0:self.x0 + w] = self.values
        return out
