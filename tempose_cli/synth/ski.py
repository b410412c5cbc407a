"""Ski runs: run/jump mocap carried down and across a slope, filmed by a panning camera.

The slope falls towards +x at angle alpha (surface z = -tan(alpha) x). The skier's root
follows a weaving path down the slope; the body leans into each turn by
atan(lateral acceleration / g). The camera stays at one centre and rotates to follow
the skier (a smoothed look-at), so the background moves from frame to frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tempose_cli.core.geometry import G
from tempose_cli.synth import quat
from tempose_cli.synth.humanoid import Humanoid
from tempose_cli.synth.mocap import MOCAP_SCALE, REVOLUTE
from tempose_cli.synth.motion import Q_UP, BodyTrack, Segment, combine, evaluate, place_by_base

RUN_CYCLE = (0.0, 0.8)  # one stride cycle of the run clip, seconds
JUMP_RANGE = (0.3, 1.4)  # crouch, take-off, flight, landing of the jump clip


@dataclass(frozen=True)
class Slope:
    alpha: float  # radians

    def height(self, x: np.ndarray) -> np.ndarray:
        return -np.tan(self.alpha) * np.asarray(x)

    @property
    def normal(self) -> np.ndarray:
        return np.array([np.sin(self.alpha), 0.0, np.cos(self.alpha)])


@dataclass
class SkiTrack:
    body: BodyTrack
    times: np.ndarray  # (T,)
    path: np.ndarray  # (T, 3) root path on the slope
    slope: Slope
    params: dict
    segments: list[dict]


def _smooth(x: np.ndarray, n: int) -> np.ndarray:
    """Zero-phase moving average over n frames (edges padded): the camera operator's lag."""
    if n <= 1:
        return x
    pad = np.pad(x, ((n // 2, n - 1 - n // 2), (0, 0)), mode="edge")
    kernel = np.ones(n) / n
    return np.stack([np.convolve(pad[:, i], kernel, mode="valid") for i in range(x.shape[1])], 1)


def make_run(body: Humanoid, fps: float, duration_s: float, rng: np.random.Generator) -> SkiTrack:
    ratio = body.scale / MOCAP_SCALE
    alpha = np.radians(rng.uniform(12, 22))
    slope = Slope(float(alpha))
    speed = float(rng.uniform(4.0, 6.5))  # m/s down the fall line
    amp = float(rng.uniform(1.5, 3.0))
    period = float(rng.uniform(1.6, 2.4))
    phase = float(rng.uniform(0, 2 * np.pi))
    n = int(round(duration_s * fps))
    t = np.arange(n) / fps
    x = -0.5 * speed * duration_s + speed * t
    y = amp * np.sin(2 * np.pi * t / period + phase)
    path = np.stack([x, y, slope.height(x)], 1)  # (T, 3)

    rate = float(rng.uniform(0.6, 0.9))
    jump_len = (JUMP_RANGE[1] - JUMP_RANGE[0])
    j0 = float(rng.uniform(0.3, 0.5)) * duration_s
    segs = [Segment("run", RUN_CYCLE, (0.0, j0), warp="loop", rate=rate)]
    if j0 + jump_len < duration_s:
        segs += [Segment("jump", JUMP_RANGE, (j0, j0 + jump_len)),
                 Segment("run", RUN_CYCLE, (j0 + jump_len, duration_s), warp="loop", rate=rate)]
    pose = combine(segs, t, fade=0.2)
    track = evaluate(body, pose)

    # Heading along the path; lean into the turn (positive roll tilts to the body's right).
    v = np.gradient(path[:, :2], 1 / fps, axis=0)
    a = np.gradient(v, 1 / fps, axis=0)
    speed_xy = np.linalg.norm(v, axis=1)
    lat = (v[:, 0] * a[:, 1] - v[:, 1] * a[:, 0]) / speed_xy  # > 0: turning left
    lean = -np.clip(np.arctan(lat / G), -0.6, 0.6)
    yaw = np.arctan2(v[:, 1], v[:, 0])
    heading = np.stack([np.cos(yaw), np.sin(yaw), np.zeros(n)], 1)
    q_yaw = quat.from_axis_angle([0.0, 0.0, 1.0], yaw)
    q_lean = np.stack([quat.from_axis_angle(h, ang) for h, ang in zip(heading, lean, strict=True)])
    # The mocap root's heading (about its y axis) is replaced by the path's; its pitch and
    # roll sway are kept.
    root = pose.root_rot
    fwd = quat.to_matrix(root)[:, :, 0]  # body x axis in the y-up mocap frame
    drift = np.arctan2(-fwd[:, 2], fwd[:, 0])
    level = quat.multiply(quat.from_axis_angle([0.0, 1.0, 0.0], -drift), root)
    rot = quat.multiply(quat.multiply(q_lean, q_yaw), quat.multiply(Q_UP, level))
    base = path.copy()
    base[:, 2] += pose.root_pos[:, 1] * ratio / np.cos(alpha)
    place_by_base(track, rot, base)
    params = {"slope_deg": round(float(np.degrees(alpha)), 4), "speed_mps": round(speed, 4),
              "weave_amplitude_m": round(amp, 4), "weave_period_s": round(period, 4),
              "run_rate": round(rate, 4), "duration_s": round(n / fps, 6),
              "turns": weave_turns(amp, period, phase, n / fps),
              "knee_flexion_deg": knee_flexion_range(track.rev)}
    return SkiTrack(track, t, path, slope, params, [s.provenance() for s in segs])


def weave_turns(amp: float, period: float, phase: float, duration_s: float) -> list[dict]:
    """Apexes of the weave y = amp sin(2 pi t / period + phase) within the run: where
    the path crosses the fall line (dy/dt = 0). At a leftmost point (y max, +y is the
    skier's left going down +x) the skier turns right; at a rightmost point, left."""
    out = []
    k = int(np.floor((phase - np.pi / 2) / np.pi))
    while True:
        t = (np.pi / 2 + k * np.pi - phase) * period / (2 * np.pi)
        if t > duration_s:
            return out
        if t >= 0:
            out.append({"time_s": round(float(t), 6), "direction": "right" if k % 2 == 0
                        else "left"})
        k += 1


def knee_flexion_range(rev: np.ndarray) -> dict[str, list[float]]:
    """[min, max] knee flexion per leg (degrees, 0 = straight) from the humanoid's own
    knee joint angles (revolute, negative = flexed), not from the joint positions."""
    flex = -np.degrees(np.asarray(rev, float))
    return {s: [round(float(flex[:, i].min()), 4), round(float(flex[:, i].max()), 4)]
            for s, i in (("l", REVOLUTE.index("left_knee")), ("r", REVOLUTE.index("right_knee")))}


def follow_camera(track: SkiTrack, fps: float, rng: np.random.Generator
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Camera centre (3,) beside the slope and per-frame world->camera rotations (T, 3, 3)."""
    from tempose_cli.synth.camera import look_at

    pelvis = 0.5 * (track.body.joints_world[:, 8] + track.body.joints_world[:, 9])
    xr = pelvis[:, 0].max() - pelvis[:, 0].min()
    dist = max(12.0, 0.65 * xr) + float(rng.uniform(0, 4))
    cx = float(pelvis[:, 0].mean() + rng.uniform(-2, 2))
    centre = np.array([cx, -dist, float(track.slope.height(cx)) + 1.7])
    target = _smooth(pelvis, max(1, int(round(0.4 * fps))))
    R = np.stack([look_at(centre, p) for p in target])
    return centre, R
