"""The pybullet humanoid: loading, appearance, posing, dive14 joints, CG and inertia.

The body frame is the URDF's: y up (head), x forward (toes), z to the body's right.
Joint positions come from pybullet's own forward kinematics, so labels and the
rendered body are the same model.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from models.skeleton import DIVE14
from tempose_cli.synth.mocap import JOINTS, SPHERICAL

N_LINKS = 15  # root .. left_wrist (the base is link -1)
LINK = {"root": 0, "chest": 1, "neck": 2, "right_hip": 3, "right_knee": 4, "right_ankle": 5,
        "right_shoulder": 6, "right_elbow": 7, "right_wrist": 8, "left_hip": 9,
        "left_knee": 10, "left_ankle": 11, "left_shoulder": 12, "left_elbow": 13,
        "left_wrist": 14}
# dive14 joint -> (link, use the link's centre of mass instead of its joint origin).
# The head is the centre of the head sphere (its centre of mass); the rest are joints.
JOINT_SOURCE: dict[str, tuple[int, bool]] = {
    "head": (LINK["neck"], True), "neck": (LINK["neck"], False),
    "l_shoulder": (LINK["left_shoulder"], False), "r_shoulder": (LINK["right_shoulder"], False),
    "l_elbow": (LINK["left_elbow"], False), "r_elbow": (LINK["right_elbow"], False),
    "l_wrist": (LINK["left_wrist"], False), "r_wrist": (LINK["right_wrist"], False),
    "l_hip": (LINK["left_hip"], False), "r_hip": (LINK["right_hip"], False),
    "l_knee": (LINK["left_knee"], False), "r_knee": (LINK["right_knee"], False),
    "l_ankle": (LINK["left_ankle"], False), "r_ankle": (LINK["right_ankle"], False),
}
_SPH_LINKS = [link for name, link, dof in JOINTS if dof == 4]
_REV_LINKS = [link for name, link, dof in JOINTS if dof == 1]
assert [n for n, _, d in JOINTS if d == 4] == list(SPHERICAL)


@contextmanager
def quiet() -> Iterator[None]:
    """Silence pybullet's C-level prints (build banner, URDF axis warnings)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    try:
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
        yield
    finally:
        os.dup2(saved[0], 1)
        os.dup2(saved[1], 2)
        for fd in (*saved, devnull):
            os.close(fd)


def pybullet():
    with quiet():
        import pybullet as p
    return p


@dataclass(frozen=True)
class BodyState:
    """One pose evaluated in the body frame (base at the origin, identity orientation)."""

    joints: np.ndarray  # (14, 3) dive14 joints
    cg: np.ndarray  # (3,) whole-body centre of gravity
    inertia: np.ndarray  # (3, 3) inertia tensor about the CG (model mass units)


class Humanoid:
    """The URDF humanoid at ``scale`` (0.25 = the mocap's ~1.7 m body) in a pybullet client."""

    def __init__(self, client: int, scale: float, link_colours: dict[int, tuple[float, ...]]):
        import pybullet_data

        p = pybullet()
        self.p, self.client, self.scale = p, client, scale
        urdf = os.path.join(pybullet_data.getDataPath(), "humanoid", "humanoid.urdf")
        with quiet():
            self.id = p.loadURDF(urdf, globalScaling=scale, useFixedBase=False,
                                 flags=p.URDF_MAINTAIN_LINK_ORDER, physicsClientId=client)
        for link, rgba in link_colours.items():
            p.changeVisualShape(self.id, link, rgbaColor=list(rgba), physicsClientId=client)
        dyn = [p.getDynamicsInfo(self.id, i, physicsClientId=client) for i in range(N_LINKS)]
        self.mass = np.array([d[0] for d in dyn])  # (15,)
        self.local_inertia = np.array([d[2] for d in dyn])  # (15, 3) principal moments

    def set_articulation(self, sph: np.ndarray, rev: np.ndarray) -> None:
        """Joint rotations: sph (8, 4) xyzw quaternions, rev (4,) radians."""
        idx = _SPH_LINKS + _REV_LINKS
        values = [list(map(float, q)) for q in sph] + [[float(a)] for a in rev]
        self.p.resetJointStatesMultiDof(self.id, idx, values, physicsClientId=self.client)

    def place(self, pos: np.ndarray, rot: np.ndarray) -> None:
        self.p.resetBasePositionAndOrientation(
            self.id, list(map(float, pos)), list(map(float, rot)), physicsClientId=self.client)

    def body_state(self) -> BodyState:
        """Forward kinematics of the current articulation with the base at the origin."""
        p = self.p
        self.place(np.zeros(3), np.array([0.0, 0.0, 0.0, 1.0]))
        states = p.getLinkStates(self.id, list(range(N_LINKS)), computeForwardKinematics=1,
                                 physicsClientId=self.client)
        com = np.array([s[0] for s in states])  # (15, 3) link centres of mass
        frame = np.array([s[4] for s in states])  # (15, 3) link (joint) origins
        joints = np.stack([com[link] if use_com else frame[link]
                           for link, use_com in (JOINT_SOURCE[j] for j in DIVE14)])
        m = self.mass
        cg = (m[:, None] * com).sum(0) / m.sum()
        # Inertia about the CG: parallel-axis point masses plus each link's own tensor.
        r = com - cg
        inertia = np.eye(3) * (m * (r * r).sum(1)).sum() - np.einsum("i,ij,ik->jk", m, r, r)
        for i, s in enumerate(states):
            rot = np.array(p.getMatrixFromQuaternion(s[1])).reshape(3, 3)
            inertia += rot @ np.diag(self.local_inertia[i]) @ rot.T
        return BodyState(joints=joints, cg=cg, inertia=inertia)
