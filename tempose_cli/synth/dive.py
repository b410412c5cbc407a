"""Dives: FINA codes, the take-off from a platform, ballistic flight, somersault and twist.

Frame of the world: z up, water surface z = 0, platform edge at x = 0 with the
platform at x < 0; the diver leaves it towards +x. The whole-body CG follows
p0 + v0 t + g t^2 / 2 exactly from take-off (t = 0) until it reaches the water.

Somersault: angular momentum about the CG is conserved in flight, so the rotation
rate is L / I(t) with I the moment of inertia about the somersault axis in the
current articulation (from the links' masses): theta(t) = N pi F(t) / F(T), with
F(t) the integral of 1 / I. Tucking therefore spins the body faster than laying out.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tempose_cli.core.divecode import GROUPS, POSITIONS, DiveCode
from tempose_cli.core.geometry import G
from tempose_cli.synth import quat
from tempose_cli.synth.humanoid import Humanoid
from tempose_cli.synth.mocap import MOCAP_SCALE, load_clip
from tempose_cli.synth.motion import (
    IDENTITY,
    Q_UP,
    BodyTrack,
    Segment,
    combine,
    evaluate,
    place_by_base,
    place_by_cg,
    smoothstep,
)

HEIGHTS = (1.0, 3.0, 5.0, 7.5, 10.0)
CODES = (
    "101A", "101B", "101C", "103B", "103C", "105B", "105C", "107B", "107C", "109C",
    "201A", "201B", "201C", "203B", "203C", "205B", "205C", "207C",
    "301A", "301B", "301C", "303B", "303C", "305C", "307C",
    "401B", "401C", "403B", "403C", "405B", "405C", "407C",
    "5132D", "5152B", "5154B", "5231D", "5233D", "5253B", "5331D", "5333D", "5431D",
)
# Mocap landmarks (seconds), read off the clips: jump take-off and apex, the backflip's
# tuck (knees to chest, minimum inertia) and its arms-overhead frame before take-off.
JUMP_TAKEOFF, JUMP_APEX = 0.78, 1.0
BACKFLIP_TUCK = (0.86, 1.12)
BACKFLIP_ARMS_UP = 0.66


def flight_time(z0: float, v0z: float) -> float:
    """Time for the CG to fall from z0 (launched at v0z) to the water surface z = 0."""
    return (v0z + np.sqrt(v0z * v0z + 2 * G * z0)) / G


def _segments(code: DiveCode, pre_s: float, flight_s: float) -> list[Segment]:
    """Take-off from the jump clip, the position from the backflip (or jump), entry."""
    ext = min(0.22, 0.2 * flight_s)
    entry = min(0.4, 0.25 * flight_s)
    p0, p1 = ext, flight_s - entry
    segs = [Segment("jump", (JUMP_TAKEOFF - pre_s, JUMP_TAKEOFF), (-pre_s, 0.0)),
            Segment("jump", (JUMP_TAKEOFF, JUMP_TAKEOFF + ext), (0.0, ext))]
    knees_straight = {"right_knee": 0.0, "left_knee": 0.0}
    if code.position == "C":
        segs.append(Segment("backflip", BACKFLIP_TUCK, (p0, p1), warp="ease"))
    elif code.position == "B":
        segs.append(Segment("backflip", BACKFLIP_TUCK, (p0, p1), warp="ease",
                            overrides=knees_straight))
    else:  # straight or free: the jump's extended apex, legs straight
        segs.append(Segment("jump", (JUMP_APEX - 0.05, JUMP_APEX + 0.05), (p0, p1),
                            overrides=knees_straight))
    segs.append(Segment("jump", (JUMP_APEX, JUMP_APEX + 0.05), (p1, flight_s + 1e-3),
                        overrides=knees_straight | {"right_elbow": 0.0, "left_elbow": 0.0},
                        upper_from=("backflip", BACKFLIP_ARMS_UP)))
    return segs


@dataclass
class DiveTrack:
    body: BodyTrack
    times: np.ndarray  # (T,) video time, seconds (frame / fps)
    takeoff_frame: int
    entry_frame: int  # last frame with the CG above the water
    params: dict
    segments: list[dict]


def make_dive(body: Humanoid, code: DiveCode, height_m: float, fps: float,
              rng: np.random.Generator) -> DiveTrack:
    """Simulate one dive of ``body`` from a platform of ``height_m`` metres."""
    ratio = body.scale / MOCAP_SCALE
    v0z = float(rng.uniform(2.6, 3.6))
    v0x = float(rng.uniform(0.6, 1.1))
    pre_s = float(rng.uniform(0.3, 0.5))
    twist_dir = float(rng.choice([-1.0, 1.0]))
    k0 = int(round(pre_s * fps))
    pre_s = k0 / fps  # take-off exactly on a frame
    # The CG height at take-off is needed for the flight time: jump clip at take-off.
    jump = load_clip("jump")
    takeoff_pose = jump.sample(np.array([JUMP_TAKEOFF]))
    body.set_articulation(takeoff_pose.sph[0], takeoff_pose.rev[0])
    cg_to = jump.sample(np.array([JUMP_TAKEOFF])).root_pos[0] * ratio
    cg_to = cg_to + quat.to_matrix(takeoff_pose.root_rot[0]) @ body.body_state().cg
    z0 = height_m + float(cg_to[1])
    T = flight_time(z0, v0z)
    n_flight = int(np.floor(T * fps + 1e-9))
    times = (np.arange(k0 + n_flight + 1) - k0) / fps  # 0 at take-off
    segs = _segments(code, pre_s, T)
    pose = combine(segs, times)
    track = evaluate(body, pose)

    face = Q_UP if code.facing_water else quat.multiply(
        quat.from_axis_angle([0.0, 0.0, 1.0], np.pi), Q_UP)
    pre = times < 0
    fl = ~pre
    # On the platform: the mocap root trajectory, feet on the platform top.
    rot = np.empty((len(times), 4))
    rot[pre | (times == 0)] = quat.multiply(face, pose.root_rot[pre | (times == 0)])
    Rf = quat.to_matrix(face)
    base = np.zeros((len(times), 3))
    base[pre | (times == 0)] = (pose.root_pos[pre | (times == 0)] * ratio) @ Rf.T
    # In the air: the take-off lean fades out; somersault about world y, twist about
    # the body's long axis.
    lean = quat.slerp(np.broadcast_to(pose.root_rot[k0], (fl.sum(), 4)),
                      np.broadcast_to(IDENTITY, (fl.sum(), 4)), smoothstep(times[fl] / 0.3))
    tf = times[fl]
    p_a, p_b = tf[0] + 0.2 * T, T - 0.3 * T
    psi = twist_dir * code.half_twists * np.pi * smoothstep((tf - p_a) / max(p_b - p_a, 1e-3))
    body_rot = quat.multiply(quat.multiply(face, lean),
                             quat.from_axis_angle([0.0, 1.0, 0.0], psi))
    # Moment of inertia about the somersault axis (world y) for each flight frame.
    axis_b = np.einsum("tji,j->ti", quat.to_matrix(body_rot), np.array([0.0, 1.0, 0.0]))
    inertia = np.einsum("ti,tij,tj->t", axis_b, track.inertia[fl], axis_b)
    inv = 1.0 / inertia
    F = np.concatenate([[0.0], np.cumsum(0.5 * (inv[1:] + inv[:-1]) * np.diff(tf))])
    # The entry falls between frames: extend F to T with the last frame's rate.
    F_T = F[-1] + inv[-1] * (T - tf[-1])
    theta = code.rotation_sign * code.half_somersaults * np.pi * F / F_T
    som = quat.from_axis_angle([0.0, 1.0, 0.0], theta)
    rot[fl] = quat.multiply(som, body_rot)

    # Pre-take-off placement (horizontal anchor: the leading ankle 10 cm behind the edge).
    place_by_base(track, rot, np.where(pre[:, None] | (times == 0)[:, None], base, 0.0))
    ankles = track.joints_world[k0, 12:14]
    anchor = np.array([-0.10 - ankles[:, 0].max(), -track.cg_world[k0, 1], height_m])
    base[pre | (times == 0)] += anchor
    p0 = track.cg_world[k0] + anchor
    v0 = np.array([v0x, 0.0, v0z])
    cg = np.empty((len(times), 3))
    cg[fl] = p0 + tf[:, None] * v0 + 0.5 * np.array([0.0, 0.0, -G]) * tf[:, None] ** 2
    place_by_base(track, rot, base)
    cg[pre] = track.cg_world[pre]
    rot_all = rot
    place_by_cg(track, rot_all, cg)
    params = {"code": code.code, "group": GROUPS[code.group][0],
              "position": POSITIONS[code.position], "half_somersaults": code.half_somersaults,
              "half_twists": code.half_twists, "twist_direction": twist_dir,
              "height_m": height_m, "takeoff_cg_m": [round(float(v), 6) for v in p0],
              "v0_mps": [round(float(v), 6) for v in v0], "g_mps2": G,
              "flight_s": round(float(T), 6), "pre_takeoff_s": round(pre_s, 6)}
    return DiveTrack(track, times + pre_s, k0, k0 + n_flight, params,
                     [s.provenance() for s in segs])
