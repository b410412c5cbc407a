"""One ski run's analysis from its pose track: leg and trunk angles, CG, turns, jumps.

``analyze_ski`` is what ``tempose analyze`` calls for a clip of sport ``ski`` (the dive
analysis, ``dive_analysis``, is for dives); exports, plots and the overlay draw from
the result. Every metric of the summary carries its unit and definition
(``DEFINITIONS``, written into the JSON beside the values).

Frames. The 3D joints are in camera axes (x right, y down, z forward), either camera
coordinates (labels) or pelvis-centred (the regressor's output). A panning camera
rotates from frame to frame: ``R_per_frame[i]`` maps world to camera axes of frame i
(x_cam = R_i x_world + t_i), so the world's up in frame i is R_i's third column and
a camera-coordinate point goes back to the world (the panorama's frame: the camera
turns about a fixed centre) by R_i^T (x - t_i); the fixed centre only shifts the
track, so t is not needed. Without a rotation the image's up stands in (a level
camera) and the world frame is the camera's.

The CG's trajectory. Camera-coordinate joints give the CG in metres directly. For
pelvis-centred joints it is rebuilt from the image: the 2D CG on its ray through K,
at the depth f / s_i, with s_i the body's per-frame scale in pixels per metre
(``px_per_m``, e.g. ``placement.frame_scales``; smoothed over 0.5 s, boxes jitter).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.skeleton import JOINT_INDEX
from tempose_cli.core.labels import PoseTrack
from tempose_cli.pose import biomech as bm
from tempose_cli.pose.dive_analysis import is_pelvis_centred, trunk_length
from tempose_cli.pose.flight import G, Parabola, detect_flight, flight_tolerance
from tempose_cli.pose.smoothing import lowpass

TURN_CUTOFF_HZ = 1.5  # low-pass of the lateral CG before its extrema are read as turns
TURN_PROMINENCE = 0.3  # an extremum counts when it stands out by this share of the range
TURN_MIN_PROMINENCE_M = 0.2
MAX_JUMPS = 5
JUMP_MIN_RISE_M = 0.2  # a flight must lift the CG this much above take-off ...
JUMP_G_TOLERANCE = 0.25  # ... and its free fit's curvature be within 25% of g

DEFINITIONS: dict[str, dict[str, str]] = {
    "knee_flexion_deg": {
        "unit": "deg", "definition": "per leg (l, r), the included angle between thigh "
        "(hip -> knee) and shank (knee -> ankle); 0 = straight leg; min, max and range "
        "(max - min) over the run"},
    "hip_flexion_deg": {
        "unit": "deg", "definition": "per leg, the angle from the trunk's downward "
        "direction to the thigh in the body's sagittal plane, positive forwards; 0 = "
        "standing straight; min, max and range over the run"},
    "upper_body_inclination_deg": {
        "unit": "deg", "definition": "angle between the trunk (mid-hip -> neck) and the "
        "world's vertical; 0 = upright; min, max, mean over the run"},
    "shank_upper_body_angle_deg": {
        "unit": "deg", "definition": "angulation proxy: per leg, the angle between the "
        "shank (ankle -> knee) and the trunk (mid-hip -> neck); 0 = parallel; min, max, "
        "mean over the run"},
    "cg_height_above_lower_ankle_m": {
        "unit": "m", "definition": "whole-body centre of gravity (segment table) above "
        "the lower of the two ankles, along the world's vertical; min, max, mean"},
    "turns": {
        "unit": "count, s", "definition": "turns found from the CG's lateral position in "
        "the world (panorama) frame: its horizontal displacement across the mean "
        "direction of travel (+ = the skier's left), low-passed at "
        f"{TURN_CUTOFF_HZ:g} Hz; each extremum standing out by at least "
        f"{TURN_PROMINENCE:g} x the range (and {TURN_MIN_PROMINENCE_M:g} m) is one turn's "
        "apex (where the path crosses the fall line): a leftmost point is a right turn "
        "(the skier swings back to the right), a rightmost point a left turn; "
        "turn_period_s = median time between consecutive apexes (one turn, half a "
        "left-right cycle)"},
    "jumps": {
        "unit": "s, m", "definition": "flight segments where the CG height (world "
        "vertical, linear descent of the slope removed) follows one free-fall parabola "
        "with curvature -g (the dive analysis's ballistic fit, flight.detect_flight), "
        f"kept when the CG rises at least {JUMP_MIN_RISE_M:g} m and the free fit's g is "
        f"within {JUMP_G_TOLERANCE:.0%} of 9.81 m/s^2 (a running stride's bob is not a jump); "
        "airtime_s = (last - first flight frame) / fps; height_m = the parabola's apex "
        "above its value at take-off"},
}


@dataclass
class SkiAnalysis:
    frame: np.ndarray  # (T,)
    t: np.ndarray  # (T,) seconds, or frame numbers when fps is unknown
    fps: float | None
    angles: dict[str, np.ndarray] = field(default_factory=dict)  # (T,) degrees each
    cg3d: np.ndarray | None = None  # (T, 3) in the joints' frame
    cg_uv: np.ndarray | None = None  # (T, 2) pixels
    cg_world: np.ndarray | None = None  # (T, 3) metres, world (panorama) frame
    cg_height: np.ndarray | None = None  # (T,) m above the lower ankle
    lateral: np.ndarray | None = None  # (T,) m, + = skier's left (low-passed)
    turn_frames: list[int] = field(default_factory=list)
    turn_directions: list[str] = field(default_factory=list)  # "left" | "right"
    jumps: list[Parabola] = field(default_factory=list)  # on ``jump_height``
    jump_height: np.ndarray | None = None  # (T,) m, detrended world height of the CG
    summary: dict = field(default_factory=dict)


def _f(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def _stats(x: np.ndarray, keys: tuple[str, ...] = ("min", "max", "range")) -> dict:
    x = np.asarray(x, float)
    fin = x[np.isfinite(x)]
    if not len(fin):
        return dict.fromkeys(keys)
    vals = {"min": fin.min(), "max": fin.max(), "range": np.ptp(fin), "mean": fin.mean()}
    return {k: _f(vals[k]) for k in keys}


def _mid(j: np.ndarray, a: str, b: str) -> np.ndarray:
    return 0.5 * (j[:, JOINT_INDEX[a]] + j[:, JOINT_INDEX[b]])


def ups_per_frame(R: np.ndarray | None, n: int) -> np.ndarray:
    """(T, 3) world up in each frame's camera axes: R_i's third column; the image up
    when R is None. R: (3, 3) for a fixed camera or (T, 3, 3) per frame."""
    if R is None:
        return np.broadcast_to(bm.IMAGE_UP, (n, 3)).copy()
    R = np.asarray(R, float)
    if R.ndim == 2:
        R = np.broadcast_to(R, (n, 3, 3))
    up = R[:, :, 2]
    return up / np.linalg.norm(up, axis=1, keepdims=True)


def ski_angles(j3d: np.ndarray, up: np.ndarray) -> dict[str, np.ndarray]:
    """Joint flexions (``biomech.joint_angles``), upper-body inclination and the
    shank-to-upper-body angle per leg, (T,) degrees each (``DEFINITIONS``)."""
    j = np.asarray(j3d, float)
    out = bm.joint_angles(j)
    trunk = j[:, JOINT_INDEX["neck"]] - _mid(j, "l_hip", "r_hip")
    out["upper_body_inclination"] = bm.included_angle(trunk, up)
    for s in ("l", "r"):
        shank = j[:, JOINT_INDEX[f"{s}_knee"]] - j[:, JOINT_INDEX[f"{s}_ankle"]]
        out[f"shank_upper_body_{s}"] = bm.included_angle(shank, trunk)
    return out


def cg_height_above_lower_ankle(j3d: np.ndarray, up: np.ndarray) -> np.ndarray:
    j = np.asarray(j3d, float)
    cg = bm.centre_of_gravity(j)
    ankles = np.stack([np.einsum("ti,ti->t", cg - j[:, JOINT_INDEX[a]], up)
                       for a in ("l_ankle", "r_ankle")])
    return np.max(ankles, axis=0)  # above the lower ankle = the larger difference


def to_world(points: np.ndarray, R: np.ndarray | None) -> np.ndarray:
    """(T, 3) camera-coordinate points to the world (panorama) frame, up to the camera
    centre's constant offset: R_i^T x_i (module docstring)."""
    if R is None:
        return np.asarray(points, float)
    R = np.asarray(R, float)
    if R.ndim == 2:
        return points @ R
    return np.einsum("tji,tj->ti", R, points)


def cg_from_image(cg_uv: np.ndarray, K: np.ndarray, px_per_m: np.ndarray,
                  fps: float | None) -> np.ndarray:
    """(T, 3) camera coordinates of the CG from its image point and the body's
    per-frame scale: depth f / s on the ray through the point."""
    K = np.asarray(K, float)
    s = np.asarray(px_per_m, float).copy()
    s[~(s > 0)] = np.nan
    if fps and np.isfinite(s).sum() > 10:
        s = lowpass(s, fps, 2.0, order=2)  # boxes jitter; depth changes slowly
    depth = 0.5 * (K[0, 0] + K[1, 1]) / s
    ray = np.concatenate([cg_uv, np.ones((len(cg_uv), 1))], 1) @ np.linalg.inv(K).T
    return ray * depth[:, None]


def lateral_track(cg_world: np.ndarray, world_up: np.ndarray) -> np.ndarray:
    """Horizontal CG displacement across the mean direction of travel (+ = left)."""
    c = np.asarray(cg_world, float)
    ok = np.isfinite(c).all(1)
    out = np.full(len(c), np.nan)
    if ok.sum() < 2:
        return out
    flat = c - np.outer(c @ world_up, world_up)
    idx = np.flatnonzero(ok)
    travel = flat[idx[-1]] - flat[idx[0]]
    if np.linalg.norm(travel) < 1e-9:
        return out
    fwd = travel / np.linalg.norm(travel)
    left = np.cross(world_up, fwd)
    out[ok] = (flat[ok] - flat[idx[0]]) @ left
    return out


def find_turns(t: np.ndarray, lateral: np.ndarray) -> tuple[list[int], list[str]]:
    """Frames of the turn apexes (extrema of the lateral track) and their directions."""
    from scipy.signal import find_peaks

    y = np.asarray(lateral, float)
    ok = np.isfinite(y)
    if ok.sum() < 5:
        return [], []
    fill = np.interp(np.arange(len(y)), np.flatnonzero(ok), y[ok])
    prom = max(TURN_PROMINENCE * float(np.ptp(fill)), TURN_MIN_PROMINENCE_M)
    hi, _ = find_peaks(fill, prominence=prom)
    lo, _ = find_peaks(-fill, prominence=prom)
    # Leftmost point (max): the skier swings back to the right, a right turn.
    apex = sorted([(int(i), "right") for i in hi] + [(int(i), "left") for i in lo])
    return [a for a, _ in apex], [d for _, d in apex]


def find_jumps(t: np.ndarray, h: np.ndarray, body: float, g: float) -> list[Parabola]:
    """Free-fall segments of a (detrended) CG height in metres (``DEFINITIONS``)."""
    h = np.asarray(h, float).copy()
    out: list[Parabola] = []
    tol = flight_tolerance(h, body)
    for _ in range(4 * MAX_JUMPS):
        fl = detect_flight(t, h, tol, accel=-g)
        if fl is None or len(out) == MAX_JUMPS:
            break
        rise = float(fl(min(max(fl.apex[0], t[fl.start]), t[fl.end])) - fl(t[fl.start]))
        if rise >= JUMP_MIN_RISE_M and abs(-fl.acceleration - g) <= JUMP_G_TOLERANCE * g:
            out.append(fl)
        h[max(0, fl.start - 1):fl.end + 2] = np.nan  # take-off and landing frames too
    return sorted(out, key=lambda p: p.start)


def analyze_ski(track: PoseTrack, fps: float | None, *, K: np.ndarray | None = None,
                R: np.ndarray | None = None, camera_coords: bool | None = None,
                px_per_m: np.ndarray | None = None, g: float = G) -> SkiAnalysis:
    """Angles, CG height, turns, jumps and the ski summary (module docstring).

    ``R``: (3, 3) or per-frame (T, 3, 3) world-to-camera rotations (a panning camera's
    ``R_per_frame``); ``px_per_m``: (T,) body scale, needed for the CG trajectory of
    pelvis-centred joints; ``camera_coords`` as in ``dive_analysis.analyze_dive``.
    """
    frame = np.asarray(track.frame)
    n = len(frame)
    t = frame / fps if fps else frame.astype(float)
    res = SkiAnalysis(frame=frame, t=t, fps=fps)
    j3d = None if track.j3d is None else np.asarray(track.j3d, float)
    j2d = None if track.j2d is None else np.asarray(track.j2d, float)
    up = ups_per_frame(R, n)
    world_up = np.array([0.0, 0.0, 1.0]) if R is not None else bm.IMAGE_UP.copy()
    if camera_coords is None:
        camera_coords = j3d is not None and not is_pelvis_centred(j3d)
    if j3d is not None:
        res.angles = ski_angles(j3d, up)
        res.cg3d = bm.centre_of_gravity(j3d)
        res.cg_height = cg_height_above_lower_ankle(j3d, up)
    if j3d is not None and camera_coords and K is not None:
        uvw = res.cg3d @ np.asarray(K, float).T
        res.cg_uv = uvw[:, :2] / uvw[:, 2:3]
    elif j2d is not None:
        res.cg_uv = bm.centre_of_gravity(j2d)
    cam = None
    if j3d is not None and camera_coords:
        cam = res.cg3d
    elif res.cg_uv is not None and K is not None and px_per_m is not None:
        cam = cg_from_image(res.cg_uv, K, px_per_m, fps)
    if cam is not None:
        res.cg_world = to_world(cam, R)
        lat = lateral_track(res.cg_world, world_up)
        if fps and np.isfinite(lat).sum() > 10 and TURN_CUTOFF_HZ < fps / 2:
            lat = lowpass(lat, fps, TURN_CUTOFF_HZ, order=2)
        res.lateral = lat
        res.turn_frames, res.turn_directions = find_turns(t, lat)
        h = res.cg_world @ world_up
        ok = np.isfinite(h)
        if fps and ok.sum() >= 5 and j3d is not None:
            slope, icpt = np.polyfit(t[ok], h[ok], 1)  # the slope's steady descent
            res.jump_height = h - (icpt + slope * t)
            # detect_flight returns the free fit over each run: its curvature measures g.
            res.jumps = find_jumps(t, res.jump_height, trunk_length(j3d), g)
    res.summary = ski_summary(res, up_known=R is not None,
                              per_frame=R is not None and np.asarray(R).ndim == 3,
                              trajectory="camera-coordinate joints" if camera_coords else
                              "2D CG at the body's per-frame depth" if cam is not None
                              else None)
    return res


def ski_summary(res: SkiAnalysis, up_known: bool, per_frame: bool,
                trajectory: str | None) -> dict:
    """The ski summary (JSON-ready): values beside their ``definitions``."""
    a = res.angles
    out: dict = {"sport": "ski",
                 "up": ("gravity (per-frame camera rotation)" if per_frame else
                        "gravity (camera rotation)" if up_known else
                        "image up (level camera)"),
                 "cg_trajectory": trajectory,
                 "segment_table": bm.SEGMENT_TABLE}
    for joint in ("knee", "hip"):
        out[f"{joint}_flexion_deg"] = {s: _stats(a[f"{joint}_flexion_{s}"]) if a else None
                                       for s in ("l", "r")}
    mean3 = ("min", "max", "mean")
    out["upper_body_inclination_deg"] = (_stats(a["upper_body_inclination"], mean3)
                                         if a else None)
    out["shank_upper_body_angle_deg"] = {s: _stats(a[f"shank_upper_body_{s}"], mean3)
                                         if a else None for s in ("l", "r")}
    out["cg_height_above_lower_ankle_m"] = (_stats(res.cg_height, mean3)
                                            if res.cg_height is not None else None)
    if res.lateral is None:
        out["turns"] = None
    else:
        times = [float(res.t[i]) for i in res.turn_frames]
        gaps = np.diff(times)
        out["turns"] = {
            "count": len(times),
            "left": res.turn_directions.count("left"),
            "right": res.turn_directions.count("right"),
            "turn_period_s": _f(np.median(gaps)) if len(gaps) and res.fps else None,
            "lateral_range_m": _stats(res.lateral)["range"],
            "apexes": [{"frame": int(res.frame[i]), "time_s": _f(tt), "direction": d}
                       for i, tt, d in zip(res.turn_frames, times, res.turn_directions,
                                           strict=True)]}
    if res.jump_height is None:
        out["jumps"] = None
    else:
        jumps = []
        for p in res.jumps:
            t_apex = min(max(p.apex[0], res.t[p.start]), res.t[p.end])
            jumps.append({"start_frame": int(res.frame[p.start]),
                          "end_frame": int(res.frame[p.end]),
                          "airtime_s": _f((p.end - p.start) / res.fps),
                          "height_m": _f(float(p(t_apex)) - float(p(res.t[p.start]))),
                          "g_fit_mps2": _f(-p.acceleration)})
        out["jumps"] = {"count": len(jumps), "segments": jumps,
                        "longest_airtime_s": max((j["airtime_s"] or 0 for j in jumps),
                                                 default=None)}
    out["definitions"] = DEFINITIONS
    return out
