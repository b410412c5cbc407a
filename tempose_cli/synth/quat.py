"""Quaternion helpers in pybullet's (x, y, z, w) order, vectorised over leading axes."""

from __future__ import annotations

import numpy as np


def normalize(q: np.ndarray) -> np.ndarray:
    return q / np.linalg.norm(q, axis=-1, keepdims=True)


def multiply(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hamilton product a*b (apply b first, then a)."""
    ax, ay, az, aw = np.moveaxis(np.asarray(a, float), -1, 0)
    bx, by, bz, bw = np.moveaxis(np.asarray(b, float), -1, 0)
    return np.stack([
        aw * bx + ax * bw + ay * bz - az * by,
        aw * by - ax * bz + ay * bw + az * bx,
        aw * bz + ax * by - ay * bx + az * bw,
        aw * bw - ax * bx - ay * by - az * bz,
    ], axis=-1)


def from_axis_angle(axis: np.ndarray, angle: np.ndarray) -> np.ndarray:
    axis = np.asarray(axis, float) / np.linalg.norm(axis)
    half = 0.5 * np.asarray(angle, float)[..., None]
    return np.concatenate([np.sin(half) * axis, np.cos(half)], axis=-1)


def to_matrix(q: np.ndarray) -> np.ndarray:
    """(..., 4) -> (..., 3, 3) rotation matrices."""
    x, y, z, w = np.moveaxis(normalize(np.asarray(q, float)), -1, 0)
    return np.stack([
        np.stack([1 - 2 * (y * y + z * z), 2 * (x * y - z * w), 2 * (x * z + y * w)], -1),
        np.stack([2 * (x * y + z * w), 1 - 2 * (x * x + z * z), 2 * (y * z - x * w)], -1),
        np.stack([2 * (x * z - y * w), 2 * (y * z + x * w), 1 - 2 * (x * x + y * y)], -1),
    ], axis=-2)


def slerp(a: np.ndarray, b: np.ndarray, f: np.ndarray) -> np.ndarray:
    """Spherical interpolation from a (f=0) to b (f=1) along the shorter arc.

    a, b: (..., 4); f broadcastable to a[..., 0].
    """
    a, b = normalize(np.asarray(a, float)), normalize(np.asarray(b, float))
    f = np.asarray(f, float)[..., None]
    dot = np.sum(a * b, axis=-1, keepdims=True)
    b = np.where(dot < 0, -b, b)  # q and -q are the same rotation: take the short way
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin = np.sin(theta)
    near = sin < 1e-6  # nearly equal: linear interpolation is exact to rounding
    safe = np.where(near, 1.0, sin)
    wa = np.where(near, 1.0 - f, np.sin((1.0 - f) * theta) / safe)
    wb = np.where(near, f, np.sin(f * theta) / safe)
    return normalize(wa * a + wb * b)
