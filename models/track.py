"""The gravity prior at inference: a dive's box track held to one parabola in flight.

In training the prior asks the detector for constant vertical acceleration of the box
centre (Sec. 3.3, ``losses.gravity_loss``); frame by frame at inference the box still
follows what is visible, so it drifts off the body's centre where the body is hidden
(the entry: hands and head under water, a splash in view). ``gravity_track`` fits the
clip's centres with v(t) = a + b t + c t^2 and u(t) = d + e t, robustly (the most
centres within ``fit_tol`` of a parabola through three of them), and moves the centres
that stray more than ``replace_tol`` from it, between the first inlier and ``extend``
frames past the last, onto it. Frames before the flight (on the platform) are left as
they are, and so is a track with too few inliers (no flight in view: a ski run, a
still athlete).

Only parabolas that gravity could make count: c, in normalised units per frame^2, must
be within ``accel_range`` of g / 2 / fps^2 scaled by the median box side taken as
``body_m`` metres (image v grows downwards). Without that, any slow or still track is
a parabola too; and the inliers must span enough frames for the curve to depart from a
straight line by more than ``fit_tol`` (c L^2 / 8 >= 1.5 fit_tol over a span of L
frames), with no gap of more than ``max_gap`` frames.

Measured (benchmarks/RESULTS.md, 2026-12-06): the held track meets the box-centre
target where the detector's does not, but crops at it are no better for pose, so
inference crops at the detector's box; this is a measuring tool, not a default.
"""

from __future__ import annotations

import numpy as np


def _design(t: np.ndarray, order: int) -> np.ndarray:
    return np.stack([t ** p for p in range(order + 1)], -1)  # (..., order + 1)


G = 9.81  # m / s^2


def _largest_run(inl: np.ndarray, max_gap: int) -> np.ndarray:
    """(T,) bool -> the largest group of True frames with gaps of at most ``max_gap``
    frames between neighbours (a flight is one stretch of frames; a lone frame that
    happens to sit on the curve elsewhere is not part of it)."""
    idx = np.flatnonzero(inl)
    out = np.zeros_like(inl)
    if len(idx) == 0:
        return out
    cuts = np.flatnonzero(np.diff(idx) > max_gap + 1) + 1
    groups = np.split(idx, cuts)
    out[max(groups, key=len)] = True
    return out


def gravity_track(box: np.ndarray, fps: float, fit_tol: float = 0.03,
                  replace_tol: float = 0.06, min_inliers: int = 8, extend: int = 3,
                  accel_range: tuple[float, float] = (0.25, 4.0), body_m: float = 1.7,
                  max_gap: int = 3, triples: int = 3000, seed: int = 0
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(T, 4) boxes (s_x, s_y, u, v), normalised -> (T, 4) boxes and (T,) bool: the
    frames whose centre was moved onto the flight's parabola. Tolerances are in the
    normalised units of u and v (the frame spans 2)."""
    box = np.asarray(box, float)
    if box.ndim != 2 or box.shape[1] != 4:
        raise ValueError(f"expected (T, 4) boxes, got {box.shape}")
    if fps <= 0:
        raise ValueError(f"fps must be positive, got {fps}")
    T = len(box)
    moved = np.zeros(T, bool)
    if T < max(min_inliers, 4):
        return box.copy(), moved
    t = np.arange(T, dtype=float)
    u, v = box[:, 2], box[:, 3]  # (T,)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.integers(0, T, size=(triples, 3)), 1)  # (N, 3)
    idx = idx[(idx[:, 0] < idx[:, 1]) & (idx[:, 1] < idx[:, 2])]
    if len(idx) == 0:
        return box.copy(), moved
    A = _design(t[idx], 2)  # (N, 3, 3)
    coef = np.linalg.solve(A, v[idx][..., None])[..., 0]  # (N, 3): a, b, c
    # What gravity gives in normalised units / frame^2 for an athlete of this box height.
    accel = 0.5 * G / fps ** 2 * 2 * float(np.median(box[:, 1])) / body_m
    lo, hi = accel_range[0] * accel, accel_range[1] * accel

    def gravity_like(c: np.ndarray) -> np.ndarray:
        return (c >= lo) & (c <= hi)

    ok = gravity_like(coef[:, 2])
    if not ok.any():
        return box.copy(), moved
    coef = coef[ok]
    res = np.abs(coef @ _design(t, 2).T - v)  # (N, T)
    rows = np.unique(res < fit_tol, axis=0)  # (M, T) distinct inlier sets
    rows = rows[rows.sum(1) >= min_inliers]
    if len(rows) == 0:
        return box.copy(), moved
    inl = max((_largest_run(r, max_gap) for r in rows), key=lambda r: int(r.sum()))  # (T,)
    for _ in range(2):  # least squares on the inliers, then the inliers of that fit
        if inl.sum() < min_inliers:
            return box.copy(), moved
        cv, *_ = np.linalg.lstsq(_design(t[inl], 2), v[inl], rcond=None)
        if not gravity_like(cv[2]):
            return box.copy(), moved
        inl = _largest_run(np.abs(_design(t, 2) @ cv - v) < fit_tol, max_gap)
    if inl.sum() < min_inliers:
        return box.copy(), moved
    first, last = np.flatnonzero(inl)[[0, -1]]
    if cv[2] * (last - first) ** 2 / 8 < 1.5 * fit_tol:  # a line would do: no flight seen
        return box.copy(), moved
    cu, *_ = np.linalg.lstsq(_design(t[inl], 1), u[inl], rcond=None)
    fit_v, fit_u = _design(t, 2) @ cv, _design(t, 1) @ cu  # (T,), (T,)
    span = (t >= first) & (t <= last + extend)
    moved = span & ((np.abs(fit_v - v) > replace_tol) | (np.abs(fit_u - u) > replace_tol))
    out = box.copy()
    out[moved, 2], out[moved, 3] = fit_u[moved], fit_v[moved]
    # The box side where the body is hidden: that of the nearest inlier frame.
    inl_idx = np.flatnonzero(inl)
    near = inl_idx[np.abs(inl_idx[None, :] - np.flatnonzero(moved)[:, None]).argmin(1)]
    out[moved, :2] = box[near, :2]
    return out, moved
