"""The ``dive14`` skeleton: joint names, bones and the pelvis (mid-hip) convention."""

from __future__ import annotations

import numpy as np

DIVE14: tuple[str, ...] = (
    "head", "neck",
    "l_shoulder", "r_shoulder", "l_elbow", "r_elbow", "l_wrist", "r_wrist",
    "l_hip", "r_hip", "l_knee", "r_knee", "l_ankle", "r_ankle",
)
JOINT_INDEX: dict[str, int] = {name: i for i, name in enumerate(DIVE14)}

BONES: tuple[tuple[str, str], ...] = (
    ("head", "neck"),
    ("neck", "l_shoulder"), ("l_shoulder", "l_elbow"), ("l_elbow", "l_wrist"),
    ("neck", "r_shoulder"), ("r_shoulder", "r_elbow"), ("r_elbow", "r_wrist"),
    ("l_shoulder", "l_hip"), ("r_shoulder", "r_hip"), ("l_hip", "r_hip"),
    ("l_hip", "l_knee"), ("l_knee", "l_ankle"),
    ("r_hip", "r_knee"), ("r_knee", "r_ankle"),
)
BONE_INDEX: np.ndarray = np.array([(JOINT_INDEX[a], JOINT_INDEX[b]) for a, b in BONES])
# Each joint's mirror image: left and right swapped, the midline joints kept.
MIRROR_INDEX: np.ndarray = np.array([
    JOINT_INDEX["r_" + n[2:] if n.startswith("l_") else "l_" + n[2:] if n.startswith("r_") else n]
    for n in DIVE14])


def mirror_pose(joints: np.ndarray) -> np.ndarray:
    """(..., 14, 3) camera-frame joints -> the pose a horizontally flipped image shows.

    Flipping the image about a centred principal point negates the camera x axis; the
    body's left then appears as its right, so the joints' sides are swapped too.
    """
    if joints.shape[-2:] != (len(DIVE14), 3):
        raise ValueError(f"expected (..., {len(DIVE14)}, 3) joints, got shape {joints.shape}")
    out = joints[..., MIRROR_INDEX, :].copy()
    out[..., 0] *= -1
    return out


def pelvis(joints: np.ndarray) -> np.ndarray:
    """Mid-hip point of (..., 14, D) joints -> (..., D)."""
    if joints.shape[-2] != len(DIVE14):
        raise ValueError(f"expected {len(DIVE14)} joints, got shape {joints.shape}")
    return 0.5 * (joints[..., JOINT_INDEX["l_hip"], :] + joints[..., JOINT_INDEX["r_hip"], :])


def pelvis_centred(joints: np.ndarray) -> np.ndarray:
    """(..., 14, 3) joints with the pelvis moved to the origin (the training frame)."""
    return joints - pelvis(joints)[..., None, :]


def bone_lengths(joints: np.ndarray) -> np.ndarray:
    """(..., 14, D) -> (..., n_bones) Euclidean bone lengths."""
    a = joints[..., BONE_INDEX[:, 0], :]
    b = joints[..., BONE_INDEX[:, 1], :]
    return np.linalg.norm(a - b, axis=-1)
