"""Rendering: the humanoid through pybullet's TinyRenderer, composited over the scene.

The body is rasterised with view/projection matrices built from the same K, R, t the
labels are projected with. A body pixel is kept where the body is nearer than the
scene surface along that pixel's ray (water, platform, slope hide what is behind
them), then sensor noise is added to the whole frame.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from tempose_cli.synth.camera import gl_matrices, look_at
from tempose_cli.synth.humanoid import Humanoid
from tempose_cli.synth.scene import Scene, SceneImage, render_scene

NEAR, FAR = 0.05, 2000.0


class BodyRenderer:
    def __init__(self, body: Humanoid, K: np.ndarray, size: tuple[int, int]):
        self.body, self.K, self.size = body, np.asarray(K, float), size
        w, h = size
        uu, vv = np.meshgrid(np.arange(w), np.arange(h))
        x, y = (uu - K[0, 2]) / K[0, 0], (vv - K[1, 2]) / K[1, 1]
        self._ray_len = np.sqrt(1 + x * x + y * y).astype(np.float32)  # range / depth

    def render(self, R: np.ndarray, t: np.ndarray, base_pos: np.ndarray, base_rot: np.ndarray,
               sph: np.ndarray, rev: np.ndarray, others: Sequence[tuple] = ()
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Body RGB (H, W, 3) uint8, the body's mask (H, W) bool, ray distance (H, W)
        float32 and the mask of ``others``: more people in the frame, each given as
        (Humanoid, base_pos, base_rot, sph, rev); their pixels are in the RGB too."""
        p, body = self.body.p, self.body
        body.set_articulation(sph, rev)
        body.place(base_pos, base_rot)
        for other, o_pos, o_rot, o_sph, o_rev in others:
            other.set_articulation(o_sph, o_rev)
            other.place(o_pos, o_rot)
        w, h = self.size
        view, proj = gl_matrices(self.K, R, t, w, h, NEAR, FAR)
        _, _, rgba, depth, seg = p.getCameraImage(
            w, h, view, proj, renderer=p.ER_TINY_RENDERER, lightDirection=[0.3, -0.6, 1.0],
            physicsClientId=body.client)
        rgba = np.asarray(rgba, np.uint8).reshape(h, w, 4)
        seg = np.asarray(seg).reshape(h, w)
        mask = seg == body.id
        other_mask = np.isin(seg, [o[0].id for o in others])
        depth = np.asarray(depth, np.float32).reshape(h, w)
        z = FAR * NEAR / (FAR - (FAR - NEAR) * depth)
        return rgba[..., :3], mask, z * self._ray_len, other_mask


class Background:
    """Per-frame background and scene distance for a static or a panning camera.

    A camera that only rotates about its centre sees the scene as a function of ray
    direction alone, so one wide reference image (same centre) warped by the
    homography K R_i R_ref^T K_ref^-1 gives every frame exactly (up to resampling).
    """

    def __init__(self, scene: Scene, K: np.ndarray, centre: np.ndarray, R: np.ndarray,
                 size: tuple[int, int]):
        self.size, self.K = size, np.asarray(K, float)
        w, h = size
        R = np.asarray(R, float)
        self.static = R.ndim == 2
        if self.static:
            self.image: SceneImage = render_scene(scene, K, R, centre, w, h, ss=1)
            return
        self.R = R
        fwd = R[:, 2].mean(0)
        self.R_ref = look_at(centre, np.asarray(centre) + fwd)
        corners = np.array([[-0.5, -0.5, 1], [w - 0.5, -0.5, 1], [w - 0.5, h - 0.5, 1],
                            [-0.5, h - 0.5, 1]], float)
        rays = np.einsum("tji,kj->tki", R, corners @ np.linalg.inv(K).T)  # world, (T, 4, 3)
        cam = rays.reshape(-1, 3) @ self.R_ref.T
        if (cam[:, 2] <= 0.2 * np.linalg.norm(cam, axis=1)).any():
            raise ValueError("camera pans too far for one reference image")
        f = K[0, 0]
        uv = f * cam[:, :2] / cam[:, 2:3]
        lo, hi = np.floor(uv.min(0)) - 2, np.ceil(uv.max(0)) + 2
        self.K_ref = np.array([[f, 0, -lo[0]], [0, f, -lo[1]], [0, 0, 1.0]])
        rw, rh = int(hi[0] - lo[0]) + 1, int(hi[1] - lo[1]) + 1
        self.image = render_scene(scene, self.K_ref, self.R_ref, centre, rw, rh, ss=1)

    def frame(self, i: int, t: float, out: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """Background (H, W, 3) float32 (into ``out`` if given) and scene distance (H, W)."""
        if self.static:
            return self.image.frame(t, out), self.image.range
        H = self.K @ self.R[i] @ self.R_ref.T @ np.linalg.inv(self.K_ref)
        w, h = self.size
        rgb = cv2.warpPerspective(self.image.rgb, H, (w, h), dst=out, flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
        rng = cv2.warpPerspective(self.image.range, H, (w, h), flags=cv2.INTER_NEAREST,
                                  borderMode=cv2.BORDER_REPLICATE)
        return rgb, rng


@dataclass
class Sensor:
    """Fixed-pattern-free sensor noise: a seeded bank of Gaussian noise frames."""

    bank: np.ndarray  # (B, H, W, 3) float32

    @classmethod
    def make(cls, rng: np.random.Generator, size: tuple[int, int], sigma: float = 0.02,
             n: int = 8) -> Sensor:
        w, h = size
        return cls(sigma * rng.standard_normal((n, h, w, 3), dtype=np.float32))

    def apply(self, img: np.ndarray, i: int, inplace: bool = False) -> np.ndarray:
        """uint8 frame of ``img`` + noise; ``inplace`` reuses ``img`` as the float scratch."""
        out = img if inplace else np.empty_like(img)
        np.add(img, self.bank[i % len(self.bank)], out=out)
        np.clip(out, 0.0, 1.0, out=out)
        np.multiply(out, 255.0, out=out)
        np.add(out, 0.5, out=out)
        return out.astype(np.uint8)


def composite(bg: np.ndarray, scene_range: np.ndarray, body_rgb: np.ndarray,
              body_mask: np.ndarray, body_range: np.ndarray, inplace: bool = False
              ) -> tuple[np.ndarray, np.ndarray]:
    """Frame (H, W, 3) float32 (``bg`` itself when ``inplace``) and the visible-body mask."""
    visible = body_range < scene_range
    visible &= body_mask
    out = bg if inplace else bg.copy()
    rows, cols = np.flatnonzero(visible.any(1)), np.flatnonzero(visible.any(0))
    if len(rows):  # only the body's bounding box is touched
        box = slice(rows[0], rows[-1] + 1), slice(cols[0], cols[-1] + 1)
        body = body_rgb[box].astype(np.float32)
        body *= 1.0 / 255.0
        np.copyto(out[box], body, where=visible[box][..., None])
    return out, visible
