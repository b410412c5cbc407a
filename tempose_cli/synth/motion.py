"""Shared motion tools: time warps, segment cross-fades, body placement."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tempose_cli.synth import quat
from tempose_cli.synth.humanoid import Humanoid
from tempose_cli.synth.mocap import Pose, load_clip

# y-up mocap/URDF frame -> z-up world: +90 degrees about x (body right z -> world -y).
Q_UP = quat.from_axis_angle([1.0, 0.0, 0.0], np.pi / 2)
IDENTITY = np.array([0.0, 0.0, 0.0, 1.0])


def smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3 - 2 * x)


@dataclass
class Segment:
    """A stretch of one mocap clip mapped onto video time (the provenance of a motion)."""

    clip: str
    clip_t: tuple[float, float]  # clip time range, seconds
    video_t: tuple[float, float]  # video time range it is warped onto, seconds
    warp: str = "linear"  # linear | ease (smoothstep time warp) | loop (wraps, at ``rate``)
    rate: float = 1.0  # clip seconds per video second, for warp="loop"
    overrides: dict[str, float] = field(default_factory=dict)  # revolute joint -> angle
    upper_from: tuple[str, float] | None = None  # (clip, time): arms/trunk held from there

    def sample(self, t: np.ndarray) -> Pose:
        clip = load_clip(self.clip)
        t = np.asarray(t, float)
        a, b = self.clip_t
        if self.warp == "loop":
            pose = clip.sample(a + np.mod((t - self.video_t[0]) * self.rate, b - a))
        else:
            x = (t - self.video_t[0]) / (self.video_t[1] - self.video_t[0])
            x = smoothstep(x) if self.warp == "ease" else np.clip(x, 0.0, 1.0)
            pose = clip.sample(a + x * (b - a))
        if self.upper_from is not None:
            src = load_clip(self.upper_from[0]).sample(np.full(len(pose), self.upper_from[1]))
            for i in UPPER_SPH:
                pose.sph[:, i] = src.sph[:, i]
            for i in UPPER_REV:
                pose.rev[:, i] = src.rev[:, i]
        for name, angle in self.overrides.items():
            pose.rev[:, REV_INDEX[name]] = angle
        return pose

    def provenance(self) -> dict:
        clip = load_clip(self.clip)
        frames = [float(np.interp(t, clip.times, np.arange(len(clip.times))))
                  for t in self.clip_t]
        out = {"file": clip.file, "frames": [round(f, 3) for f in frames],
               "clip_t": [round(v, 4) for v in self.clip_t],
               "video_t": [round(v, 4) for v in self.video_t], "warp": self.warp}
        if self.warp == "loop":
            out["rate"] = round(self.rate, 4)
        if self.overrides:
            out["overrides_rad"] = {k: round(v, 4) for k, v in sorted(self.overrides.items())}
        if self.upper_from is not None:
            c = load_clip(self.upper_from[0])
            out["upper_body_from"] = {
                "file": c.file,
                "frame": round(float(np.interp(self.upper_from[1], c.times,
                                               np.arange(len(c.times)))), 3)}
        return out


# Indices into Pose.sph / Pose.rev (mocap.SPHERICAL / REVOLUTE orders).
UPPER_SPH = (0, 1, 4, 7)  # chest, neck, right_shoulder, left_shoulder
UPPER_REV = (1, 3)  # right_elbow, left_elbow
REV_INDEX = {"right_knee": 0, "right_elbow": 1, "left_knee": 2, "left_elbow": 3}


def combine(segments: list[Segment], t: np.ndarray, fade: float = 0.12) -> Pose:
    """Poses at times t from consecutive segments, cross-faded (slerp) at each boundary."""
    pose = segments[0].sample(t)
    for seg in segments[1:]:
        b = seg.video_t[0]
        w = smoothstep((t - (b - fade / 2)) / fade)
        pose = pose.blend(seg.sample(t), w)
    return pose


@dataclass
class BodyTrack:
    """Per-frame body: articulation, base pose, FK results in the body and world frames."""

    sph: np.ndarray  # (T, 8, 4)
    rev: np.ndarray  # (T, 4)
    joints_body: np.ndarray  # (T, 14, 3)
    cg_body: np.ndarray  # (T, 3)
    inertia: np.ndarray  # (T, 3, 3)
    base_pos: np.ndarray | None = None  # (T, 3) world
    base_rot: np.ndarray | None = None  # (T, 4) world
    joints_world: np.ndarray | None = None  # (T, 14, 3)
    cg_world: np.ndarray | None = None  # (T, 3)


def evaluate(body: Humanoid, pose: Pose) -> BodyTrack:
    """Forward kinematics of every frame's articulation (base at the origin)."""
    joints, cg, inertia = [], [], []
    for i in range(len(pose)):
        body.set_articulation(pose.sph[i], pose.rev[i])
        s = body.body_state()
        joints.append(s.joints)
        cg.append(s.cg)
        inertia.append(s.inertia)
    return BodyTrack(pose.sph, pose.rev, np.array(joints), np.array(cg), np.array(inertia))


def place_by_cg(track: BodyTrack, rot: np.ndarray, cg_world: np.ndarray) -> None:
    """Put the base so that the whole-body CG is exactly at ``cg_world`` (T, 3)."""
    Rm = quat.to_matrix(rot)  # (T, 3, 3)
    track.base_rot = rot
    track.base_pos = cg_world - np.einsum("tij,tj->ti", Rm, track.cg_body)
    track.joints_world = track.base_pos[:, None] + np.einsum("tij,tkj->tki", Rm, track.joints_body)
    track.cg_world = cg_world


def place_by_base(track: BodyTrack, rot: np.ndarray, base_pos: np.ndarray) -> None:
    Rm = quat.to_matrix(rot)
    track.base_rot, track.base_pos = rot, base_pos
    track.joints_world = base_pos[:, None] + np.einsum("tij,tkj->tki", Rm, track.joints_body)
    track.cg_world = base_pos + np.einsum("tij,tj->ti", Rm, track.cg_body)
