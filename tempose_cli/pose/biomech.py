"""Biomechanics of a dive14 pose track: centre of gravity, joint angles, somersault angle.

Pure numpy on (T, 14, D) joints (D = 3 metres, or D = 2 pixels for the CG); a frame
with a missing (NaN) joint gives NaN wherever that joint is needed, never a guess.

Centre of gravity
    Segment masses and centre-of-mass positions are Dempster's (1955) cadaver data as
    tabulated by Winter, *Biomechanics and Motor Control of Human Movement*, 4th ed.
    (2009), Table 4.1: mass as a fraction of body mass, CoM as a fraction of the
    segment length from its proximal end. The paper (Honari et al.) uses the Clauser,
    McConville & Young (1969) tables; both are regression tables of the same kind and
    ``SEGMENTS`` can be swapped. dive14 has no hands, feet or spine, so the combined
    segments of the table are used (forearm+hand to the wrist, shank+foot to the
    ankle, head+neck, trunk = mid-hip to mid-shoulder); the fractions sum to 1.

Angles
    Degrees, unwrapped over time (``unwrap_deg``: no 179 -> -179 jumps). Knee and
    elbow are hinge joints: the included angle between the two bones, 0 = full
    extension. Hip and shoulder flexion are measured in the body's sagittal plane
    (perpendicular to the left-right axis of the pelvis or the shoulders): the angle
    from the trunk's downward direction to the thigh / upper arm, positive forwards
    (flexion), so 0 = standing straight / arm along the body, 90 = pike at a right
    angle / arm forward, 180 = arm overhead (the entry position; unwrapping lets it
    pass 180 without a jump). Camera coordinates are right-handed (x right, y down,
    z forward), which the sign convention relies on.

Somersault
    The pelvis -> neck axis, projected onto the plane perpendicular to the somersault
    axis and measured from "up" in that plane, unwrapped: 0 = upright, 180 = inverted,
    positive = forward rotation (the head travels towards the diver's front, groups 1
    and 4), negative = backward (groups 2 and 3).
"""

from __future__ import annotations

import numpy as np

from models.skeleton import JOINT_INDEX

# (name, proximal joints, distal joints, mass fraction, CoM from proximal / length).
# Winter (2009) Table 4.1 rows: head+neck "C7-T1 to ear canal" 0.081 at 1.000 (the
# CoM sits at the ear canal, i.e. our head joint); trunk "greater trochanter to
# glenohumeral joint" 0.497 at 0.50; upper arm 0.028 at 0.436; forearm+hand "elbow
# to ulnar styloid" 0.022 at 0.682; thigh 0.100 at 0.433; foot+leg "femoral condyles
# to medial malleolus" 0.061 at 0.606.
SEGMENTS: tuple[tuple[str, tuple[str, ...], tuple[str, ...], float, float], ...] = (
    ("head_neck", ("neck",), ("head",), 0.081, 1.0),
    ("trunk", ("l_hip", "r_hip"), ("l_shoulder", "r_shoulder"), 0.497, 0.50),
    ("l_upper_arm", ("l_shoulder",), ("l_elbow",), 0.028, 0.436),
    ("r_upper_arm", ("r_shoulder",), ("r_elbow",), 0.028, 0.436),
    ("l_forearm_hand", ("l_elbow",), ("l_wrist",), 0.022, 0.682),
    ("r_forearm_hand", ("r_elbow",), ("r_wrist",), 0.022, 0.682),
    ("l_thigh", ("l_hip",), ("l_knee",), 0.100, 0.433),
    ("r_thigh", ("r_hip",), ("r_knee",), 0.100, 0.433),
    ("l_shank_foot", ("l_knee",), ("l_ankle",), 0.061, 0.606),
    ("r_shank_foot", ("r_knee",), ("r_ankle",), 0.061, 0.606),
)
SEGMENT_TABLE = "Dempster (1955) via Winter (2009) Table 4.1"
IMAGE_UP = np.array([0.0, -1.0, 0.0])  # camera y points down the image


def _mean_of(joints: np.ndarray, names: tuple[str, ...]) -> np.ndarray:
    return np.mean([joints[..., JOINT_INDEX[n], :] for n in names], axis=0)


def segment_weights() -> np.ndarray:
    """(14,) weights with CG = sum_j w_j * joint_j (the table is linear in the joints)."""
    w = np.zeros(len(JOINT_INDEX))
    for _, prox, dist, mass, com in SEGMENTS:
        for n in prox:
            w[JOINT_INDEX[n]] += mass * (1 - com) / len(prox)
        for n in dist:
            w[JOINT_INDEX[n]] += mass * com / len(dist)
    return w / w.sum()


def centre_of_gravity(joints: np.ndarray) -> np.ndarray:
    """(..., 14, D) joints -> (..., D) whole-body CG (NaN where a joint is missing).

    With D = 2 (pixels) this is the segment-weighted CG of the 2D joints, which equals
    the projection of the 3D CG under weak perspective (an athlete far from the camera
    compared with the body's depth extent).
    """
    joints = np.asarray(joints, float)
    return np.einsum("j,...jd->...d", segment_weights(), joints)


def _unit(v: np.ndarray) -> np.ndarray:
    n = np.linalg.norm(v, axis=-1, keepdims=True)
    with np.errstate(invalid="ignore", divide="ignore"):
        return v / n


def _dot(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.einsum("...i,...i->...", a, b)


def unwrap_deg(angle: np.ndarray) -> np.ndarray:
    """Unwrap a (T,) angle in degrees along time; NaN frames are skipped, not bridged
    with a jump (``np.unwrap`` would turn everything after the first NaN into NaN)."""
    a = np.asarray(angle, float)
    out = a.copy()
    ok = np.isfinite(a)
    if ok.sum() > 1:
        out[ok] = np.unwrap(a[ok], period=360.0)
    return out


def included_angle(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Angle between vectors a and b in degrees, [0, 180]; atan2 stays accurate near 0
    and 180, where arccos of the dot product loses precision."""
    return np.degrees(np.arctan2(np.linalg.norm(np.cross(a, b), axis=-1), _dot(a, b)))


def plane_angle(a: np.ndarray, b: np.ndarray, axis: np.ndarray) -> np.ndarray:
    """Signed rotation (degrees, (-180, 180]) from a to b about the unit ``axis``, with
    both vectors projected onto the plane perpendicular to it."""
    sin = _dot(np.cross(a, b), axis)
    cos = _dot(a, b) - _dot(a, axis) * _dot(b, axis)
    return np.degrees(np.arctan2(sin, cos))


def _j(joints: np.ndarray, name: str) -> np.ndarray:
    return joints[..., JOINT_INDEX[name], :]


def joint_angles(j3d: np.ndarray) -> dict[str, np.ndarray]:
    """(T, 14, 3) -> {hip/knee/elbow/shoulder}_flexion_{l,r}: (T,) degrees, unwrapped.

    Column names are tempose's own (0 = extension, flexion positive); they are not the
    coordinate names or signs of any particular OpenSim model.
    """
    j = np.asarray(j3d, float)
    mid_hip = _mean_of(j, ("l_hip", "r_hip"))
    mid_sh = _mean_of(j, ("l_shoulder", "r_shoulder"))
    trunk_down = mid_hip - mid_sh
    pelvis_right = _unit(_j(j, "r_hip") - _j(j, "l_hip"))
    shoulder_right = _unit(_j(j, "r_shoulder") - _j(j, "l_shoulder"))
    out: dict[str, np.ndarray] = {}
    for s in ("l", "r"):
        hip, knee, ankle = _j(j, f"{s}_hip"), _j(j, f"{s}_knee"), _j(j, f"{s}_ankle")
        sh, el, wr = _j(j, f"{s}_shoulder"), _j(j, f"{s}_elbow"), _j(j, f"{s}_wrist")
        out[f"hip_flexion_{s}"] = plane_angle(trunk_down, knee - hip, pelvis_right)
        out[f"knee_flexion_{s}"] = included_angle(knee - hip, ankle - knee)
        out[f"elbow_flexion_{s}"] = included_angle(el - sh, wr - el)
        out[f"shoulder_flexion_{s}"] = plane_angle(trunk_down, el - sh, shoulder_right)
    return {k: unwrap_deg(v) for k, v in sorted(out.items())}


def gravity_up(R: np.ndarray | None) -> np.ndarray:
    """World up (0, 0, 1) in camera coordinates, x_cam = R x_world + t: R's third column.
    Without R, the image's up (-y): right for a level camera only, and said so."""
    if R is None:
        return IMAGE_UP.copy()
    up = np.asarray(R, float)[:, 2]
    return up / np.linalg.norm(up)


def somersault_axis(j3d: np.ndarray) -> np.ndarray:
    """Unit somersault axis in the joints' frame, pointing to the diver's left.

    The pelvis -> neck direction turns in the plane perpendicular to the somersault
    axis, so the axis is the least-variance direction of those unit vectors over the
    track (their scatter matrix's smallest eigenvector). When the trunk hardly turned
    (second eigenvalue < 5% of the first) that plane is not defined and the mean
    right-to-left hip axis is used instead. Either way the sign is chosen to agree with
    the mean hip axis, so forward somersaults come out positive; in twisting dives the
    hip axis averages out and the sign may not mean anything.
    """
    j = np.asarray(j3d, float)
    trunk = _unit(_j(j, "neck") - _mean_of(j, ("l_hip", "r_hip")))
    left = _unit(_j(j, "l_hip") - _j(j, "r_hip"))
    ok = np.isfinite(trunk).all(-1) & np.isfinite(left).all(-1)
    if not ok.any():
        raise ValueError("no frame with the neck and both hips labelled")
    left_mean = left[ok].mean(0)
    vals, vecs = np.linalg.eigh(trunk[ok].T @ trunk[ok] / ok.sum())
    axis = vecs[:, 0] if vals[1] > 0.05 * vals[2] else left_mean
    axis = axis / np.linalg.norm(axis)
    return -axis if axis @ left_mean < 0 else axis


def somersault_angle(j3d: np.ndarray, up: np.ndarray | None = None,
                     axis: np.ndarray | None = None) -> np.ndarray:
    """(T, 14, 3) -> (T,) whole-body rotation in degrees (0 = upright), unwrapped.

    ``up``: the world's up in the joints' frame (``gravity_up``); ``axis``: the
    somersault axis (``somersault_axis`` by default). If up is (nearly) parallel to the
    axis, the trunk direction of the first labelled frame is used as the zero instead.
    """
    j = np.asarray(j3d, float)
    n = somersault_axis(j) if axis is None else np.asarray(axis, float)
    trunk = _j(j, "neck") - _mean_of(j, ("l_hip", "r_hip"))
    ref = IMAGE_UP if up is None else np.asarray(up, float)
    e1 = ref - (ref @ n) * n
    if np.linalg.norm(e1) < 0.1:
        first = trunk[np.isfinite(trunk).all(-1)][0]
        e1 = first - (first @ n) * n
    e1 = e1 / np.linalg.norm(e1)
    e2 = np.cross(n, e1)  # e1 turned +90 degrees about n
    return unwrap_deg(np.degrees(np.arctan2(trunk @ e2, trunk @ e1)))


def body_angle_from_vertical(j3d: np.ndarray, up: np.ndarray | None = None
                             ) -> tuple[np.ndarray, np.ndarray]:
    """Per frame: the angle (degrees, 0..90) between the body line (mid-ankle -> head)
    and the vertical, and whether the head is below the feet (a head-first entry)."""
    j = np.asarray(j3d, float)
    up = IMAGE_UP if up is None else np.asarray(up, float)
    line = _j(j, "head") - _mean_of(j, ("l_ankle", "r_ankle"))
    to_up = included_angle(line, np.broadcast_to(up, line.shape))
    return np.minimum(to_up, 180.0 - to_up), line @ up < 0


def half_somersaults(code: str | None) -> int | None:
    """Half somersaults a dive code announces (third digit of groups 1-4, e.g. 403C -> 3;
    the third of five digits for twisters); None when the code cannot be parsed."""
    if not code:
        return None
    from tempose_cli.core.divecode import DiveCode  # the one dive-code parser

    try:
        return DiveCode.parse(code).half_somersaults
    except ValueError:
        return None
