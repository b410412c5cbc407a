"""Pinhole cameras (OpenCV convention) and the matching pybullet view/projection matrices.

World: z up, metres. Camera: x right, y down, z forward; X_cam = R X_world + t.
Pixels: (u, v) = (column, row) with the centre of pixel [row, col] at integer (u, v) =
(col, row), i.e. the image spans u in [-0.5, W - 0.5]. The pybullet projection matrix
below is built for exactly this convention, so labels projected with K land on the
rendered body (tests/test_synth.py checks it against the segmentation mask).
"""

from __future__ import annotations

import numpy as np


def intrinsics(width: int, height: int, hfov_deg: float) -> np.ndarray:
    """K with square pixels, principal point at the image centre, horizontal FOV."""
    f = 0.5 * width / np.tan(np.radians(hfov_deg) / 2)
    return np.array([[f, 0.0, (width - 1) / 2], [0.0, f, (height - 1) / 2], [0.0, 0.0, 1.0]])


def look_at(centre: np.ndarray, target: np.ndarray, up=(0.0, 0.0, 1.0)) -> np.ndarray:
    """World->camera rotation R for a camera at ``centre`` looking at ``target`` (no roll)."""
    z = np.asarray(target, float) - np.asarray(centre, float)
    z /= np.linalg.norm(z)
    x = np.cross(z, np.asarray(up, float))
    x /= np.linalg.norm(x)
    y = np.cross(z, x)  # image down
    return np.stack([x, y, z])


def translation(R: np.ndarray, centre: np.ndarray) -> np.ndarray:
    return -np.asarray(R) @ np.asarray(centre, float)


def to_camera(points: np.ndarray, R: np.ndarray, t: np.ndarray) -> np.ndarray:
    """(..., 3) world -> camera coordinates."""
    return points @ np.asarray(R).T + np.asarray(t)


def project(points_cam: np.ndarray, K: np.ndarray) -> np.ndarray:
    """(..., 3) camera coordinates -> (..., 2) pixels."""
    uvw = points_cam @ np.asarray(K).T
    return uvw[..., :2] / uvw[..., 2:3]


def pixel_rays(K: np.ndarray, R: np.ndarray, width: int, height: int, ss: int = 1) -> np.ndarray:
    """Unit world-space ray directions through pixel (sub-)centres: (H*ss, W*ss, 3)."""
    off = (np.arange(ss) + 0.5) / ss - 0.5
    u = (np.arange(width)[:, None] + off[None, :]).ravel()
    v = (np.arange(height)[:, None] + off[None, :]).ravel()
    uu, vv = np.meshgrid(u, v)
    pix = np.stack([uu, vv, np.ones_like(uu)], -1)
    d = pix @ np.linalg.inv(K).T @ R  # camera ray -> world: R^T d_cam
    return d / np.linalg.norm(d, axis=-1, keepdims=True)


def gl_matrices(K: np.ndarray, R: np.ndarray, t: np.ndarray, width: int, height: int,
                near: float, far: float) -> tuple[list[float], list[float]]:
    """pybullet (OpenGL, column-major) view and projection matrices for K, R, t.

    OpenGL looks down -z with y up, so the view is diag(1, -1, -1) times [R | t]. The
    projection maps pixel centres: u = fx X/Z + cx  <->  window x = u + 0.5, and image
    rows count down from the top (TinyRenderer returns row 0 at the top).
    """
    view = np.eye(4)
    view[:3, :3] = np.diag([1.0, -1.0, -1.0]) @ R
    view[:3, 3] = np.diag([1.0, -1.0, -1.0]) @ t
    fx, fy, cx, cy = K[0, 0], K[1, 1], K[0, 2], K[1, 2]
    proj = np.zeros((4, 4))
    proj[0, 0] = 2 * fx / width
    proj[0, 2] = 1 - 2 * (cx + 0.5) / width
    proj[1, 1] = 2 * fy / height
    proj[1, 2] = 2 * (cy + 0.5) / height - 1
    proj[2, 2] = -(far + near) / (far - near)
    proj[2, 3] = -2 * far * near / (far - near)
    proj[3, 2] = -1.0
    return view.T.ravel().tolist(), proj.T.ravel().tolist()


def frame_points(points: np.ndarray, K: np.ndarray, size: tuple[int, int],
                 view_dir: np.ndarray, margin: float = 0.08) -> tuple[np.ndarray, np.ndarray]:
    """Camera centre and R looking along ``view_dir`` at the points' box centre, at the
    nearest distance where every point projects inside the image with ``margin`` to spare."""
    w, h = size
    target = 0.5 * (points.min(0) + points.max(0))
    view_dir = np.asarray(view_dir, float) / np.linalg.norm(view_dir)

    def fits(dist: float) -> bool:
        centre = target - dist * view_dir
        R = look_at(centre, target)
        pc = to_camera(points, R, translation(R, centre))
        if (pc[:, 2] <= 0.1).any():
            return False
        uv = project(pc, K)
        return bool(((uv[:, 0] >= margin * w) & (uv[:, 0] <= (1 - margin) * w)
                     & (uv[:, 1] >= margin * h) & (uv[:, 1] <= (1 - margin) * h)).all())

    dist = 2.0
    while not fits(dist):
        dist *= 1.05
    while dist > 1.0 and fits(dist * 0.98):
        dist *= 0.98
    centre = target - dist * view_dir
    return centre, look_at(centre, target)
