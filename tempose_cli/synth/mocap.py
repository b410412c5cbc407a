"""DeepMimic motion-capture clips shipped in the pybullet wheel, resampled by slerp.

A clip file (``pybullet_data/data/motions/humanoid3d_<name>.txt``) is JSON with
``Frames``: per keyframe ``[duration, root xyz, root quat wxyz, then per joint of the
humanoid: chest, neck, r_hip, r_knee, r_ankle, r_shoulder, r_elbow, l_hip, l_knee,
l_ankle, l_shoulder, l_elbow]`` (spherical joints as quaternions wxyz, knees and elbows
as one angle). Coordinates are y-up, metres for the humanoid at globalScaling 0.25.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np

from tempose_cli.synth import quat

# The humanoid's articulated joints in file order, with their link index in the URDF
# (loaded with URDF_MAINTAIN_LINK_ORDER) and degrees of freedom.
JOINTS: tuple[tuple[str, int, int], ...] = (
    ("chest", 1, 4), ("neck", 2, 4),
    ("right_hip", 3, 4), ("right_knee", 4, 1), ("right_ankle", 5, 4),
    ("right_shoulder", 6, 4), ("right_elbow", 7, 1),
    ("left_hip", 9, 4), ("left_knee", 10, 1), ("left_ankle", 11, 4),
    ("left_shoulder", 12, 4), ("left_elbow", 13, 1),
)
SPHERICAL = tuple(name for name, _, dof in JOINTS if dof == 4)  # 8 joints
REVOLUTE = tuple(name for name, _, dof in JOINTS if dof == 1)  # knees, elbows
MOCAP_SCALE = 0.25  # globalScaling the clips were recorded for


def motions_dir() -> Path:
    import pybullet_data

    return Path(pybullet_data.getDataPath()) / "data" / "motions"


@dataclass
class Pose:
    """A sequence of humanoid poses (mocap frame: y up, the body faces +x)."""

    root_pos: np.ndarray  # (T, 3) metres at MOCAP_SCALE
    root_rot: np.ndarray  # (T, 4) xyzw
    sph: np.ndarray  # (T, 8, 4) xyzw, SPHERICAL order
    rev: np.ndarray  # (T, 4) radians, REVOLUTE order

    def __len__(self) -> int:
        return len(self.root_pos)

    def take(self, idx: np.ndarray | slice) -> Pose:
        return Pose(self.root_pos[idx], self.root_rot[idx], self.sph[idx], self.rev[idx])

    @staticmethod
    def concat(parts: list[Pose]) -> Pose:
        return Pose(*(np.concatenate([getattr(p, k) for p in parts])
                      for k in ("root_pos", "root_rot", "sph", "rev")))

    def blend(self, other: Pose, w: np.ndarray) -> Pose:
        """Per-frame slerp/lerp towards ``other`` with weights w (T,) in [0, 1]."""
        w = np.asarray(w, float)
        return Pose(
            self.root_pos + w[:, None] * (other.root_pos - self.root_pos),
            quat.slerp(self.root_rot, other.root_rot, w),
            quat.slerp(self.sph, other.sph, w[:, None]),
            self.rev + w[:, None] * (other.rev - self.rev),
        )


@dataclass(frozen=True)
class Clip:
    name: str
    file: str  # file name inside pybullet_data/data/motions
    times: np.ndarray  # (F,) keyframe times, seconds
    frames: Pose  # F keyframes

    @property
    def duration(self) -> float:
        return float(self.times[-1])

    def sample(self, t: np.ndarray) -> Pose:
        """Poses at clip times ``t`` (seconds, clamped to the clip): slerp between keyframes."""
        t = np.clip(np.asarray(t, float), 0.0, self.duration)
        i = np.clip(np.searchsorted(self.times, t, side="right") - 1, 0, len(self.times) - 2)
        span = self.times[i + 1] - self.times[i]
        f = np.where(span > 0, (t - self.times[i]) / np.where(span > 0, span, 1.0), 0.0)
        a, b = self.frames.take(i), self.frames.take(i + 1)
        return a.blend(b, f)

    def frame_time(self, frame: float) -> float:
        """Clip time of a (fractional) keyframe index."""
        return float(np.interp(frame, np.arange(len(self.times)), self.times))


@cache
def load_clip(name: str) -> Clip:
    """Parse ``humanoid3d_<name>.txt``; quaternions are converted from wxyz to xyzw."""
    path = motions_dir() / f"humanoid3d_{name}.txt"
    data = np.asarray(json.loads(path.read_text())["Frames"], dtype=float)  # (F, 44)
    if data.ndim != 2 or data.shape[1] != 44:
        raise ValueError(f"{path}: expected 44 values per frame, got {data.shape}")
    durations = data[:, 0]
    times = np.concatenate([[0.0], np.cumsum(durations[:-1])])
    col = 8
    sph, rev = [], []
    for _, _, dof in JOINTS:
        if dof == 4:
            sph.append(data[:, col:col + 4][:, [1, 2, 3, 0]])
        else:
            rev.append(data[:, col])
        col += dof
    # Keyframe timing: drop repeated times (zero durations) so interpolation is defined.
    keep = np.concatenate([[True], np.diff(times) > 1e-9])
    frames = Pose(
        root_pos=data[:, 1:4],
        root_rot=quat.normalize(data[:, 4:8][:, [1, 2, 3, 0]]),
        sph=quat.normalize(np.stack(sph, axis=1)),
        rev=np.stack(rev, axis=1),
    ).take(keep)
    return Clip(name=name, file=path.name, times=times[keep], frames=frames)
