"""One dive's analysis from its pose track: angles, rotation, CG flight, the summary.

``analyze_dive`` is what ``tempose analyze`` calls after the (optionally smoothed)
track is known; exports, plots and the overlay then only draw from the result.

Which CG height track. Camera-coordinate 3D joints (labels; ``is_pelvis_centred``
tells them from body-relative ones) give the CG in metres, its height taken along the
world's up (camera R known) or the image's up (a level camera), and the flight is
detected with the curvature fixed to -g (``flight.detect_flight``). Pelvis-centred 3D
(the regressor's output) has no trajectory, so the height comes from the image: the
segment-weighted CG of the 2D joints (``biomech.centre_of_gravity`` works in 2D), in
pixels, up positive, with the curvature fixed by the body's own image scale when 3D
and 2D joints are both known. For camera-coordinate 3D with K, the image track is the
3D CG projected with K. Heights are relative to the fitted CG height at take-off
(the first flight frame).

The image parabola gives the gravity-implied scale (metres per pixel, needs fps); a
second, independent scale comes from the body itself when both 3D (metres) and 2D
(pixels) joints are known: the weak-perspective factor between them. The two agree
when the camera is level and the athlete moves parallel to the image plane.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.skeleton import JOINT_INDEX, pelvis, pelvis_centred
from tempose_cli.core.labels import PoseTrack
from tempose_cli.pose import biomech as bm
from tempose_cli.pose.flight import G, Parabola, detect_flight, fit_parabola, flight_tolerance
from tempose_cli.pose.flight import metres_per_pixel as mpp_from_curvature
from tempose_cli.pose.rotation import one_way_in_flight


@dataclass
class DiveAnalysis:
    frame: np.ndarray  # (T,)
    t: np.ndarray  # (T,) seconds (frame / fps), or frame numbers when fps is unknown
    fps: float | None
    angles: dict[str, np.ndarray] = field(default_factory=dict)  # (T,) degrees each
    somersault_deg: np.ndarray | None = None  # (T,) 0 = upright, + forward
    # (T,) flight frames whose trunk angle the one-way rotation overruled (rotation.py)
    somersault_replaced: np.ndarray | None = None
    cg3d: np.ndarray | None = None  # (T, 3) in the joints' frame, metres
    cg_uv: np.ndarray | None = None  # (T, 2) pixels
    height: np.ndarray | None = None  # (T,) CG height above take-off, in height_unit
    height_unit: str = ""
    flight: Parabola | None = None  # fitted to ``height`` over the flight
    image_flight: Parabola | None = None  # fitted to the image height (px) over it
    body_px_per_m: float | None = None  # weak-perspective scale from 3D vs 2D joints
    summary: dict = field(default_factory=dict)


def is_pelvis_centred(j3d: np.ndarray) -> bool:
    """True when the joints are body-relative rather than camera coordinates: the
    pelvis stays within half a trunk length of the origin (a regressor's pelvis-centred
    output is only near zero; a camera is metres away from the athlete)."""
    j = np.asarray(j3d, float)
    dist = np.linalg.norm(pelvis(j), axis=-1)
    dist = dist[np.isfinite(dist)]
    return len(dist) == 0 or bool(np.median(dist) < 0.5 * trunk_length(j))


def trunk_length(joints: np.ndarray, q: float = 50.0) -> float:
    """A body size in the joints' unit: the q-th percentile over frames of the
    pelvis-to-neck distance (use a high q for 2D, where the trunk is foreshortened)."""
    d = np.linalg.norm(joints[:, JOINT_INDEX["neck"]] - pelvis(joints), axis=-1)
    d = d[np.isfinite(d)]
    return float(np.percentile(d, q)) if len(d) else float("nan")


def body_scale_px_per_m(j3d: np.ndarray, j2d: np.ndarray) -> float:
    """Weak-perspective pixels per metre: per frame, the least-squares factor s with
    (u, v) - mean ~ s (x, y) - mean of the pelvis-centred joints (image-aligned camera
    axes), then the median over frames."""
    a = pelvis_centred(np.asarray(j3d, float))[..., :2]
    b = np.asarray(j2d, float)
    b = b - np.nanmean(b, axis=1, keepdims=True)
    a = a - np.nanmean(a, axis=1, keepdims=True)
    num = np.nansum(a * b, axis=(1, 2))
    den = np.nansum(a * a, axis=(1, 2))
    ok = (den > 0) & np.isfinite(a).all(axis=(1, 2)) & np.isfinite(b).all(axis=(1, 2))
    return float(np.median(num[ok] / den[ok])) if ok.any() else float("nan")


def _project(points: np.ndarray, K: np.ndarray) -> np.ndarray:
    uvw = points @ np.asarray(K, float).T
    return uvw[..., :2] / uvw[..., 2:3]


def _has_trunk(j3d: np.ndarray) -> bool:
    need = [JOINT_INDEX[n] for n in ("neck", "l_hip", "r_hip")]
    return bool(np.isfinite(j3d[:, need]).all(axis=(1, 2)).any())


def _f(x: float | None) -> float | None:
    return None if x is None or not np.isfinite(x) else float(x)


def analyze_dive(track: PoseTrack, fps: float | None, *, K: np.ndarray | None = None,
                 R: np.ndarray | None = None, code: str | None = None, g: float = G,
                 camera_coords: bool | None = None, one_way: bool = True) -> DiveAnalysis:
    """Angles, somersault angle, CG track, flight parabola and the dive summary.

    ``camera_coords``: whether track.j3d is in camera coordinates (True) or
    body-relative, e.g. pelvis-centred (False); None decides by ``is_pelvis_centred``.
    ``one_way`` False: the flight's somersault angle plainly unwrapped (the baseline
    ``benchmarks/somersault_count.py`` measures the one-way reading against).
    """
    frame = np.asarray(track.frame)
    t = frame / fps if fps else frame.astype(float)
    res = DiveAnalysis(frame=frame, t=t, fps=fps)
    j3d = None if track.j3d is None else np.asarray(track.j3d, float)
    j2d = None if track.j2d is None else np.asarray(track.j2d, float)
    up = bm.gravity_up(R)
    if camera_coords is None:
        camera_coords = j3d is not None and not is_pelvis_centred(j3d)
    camera3d = j3d is not None and camera_coords
    if j3d is not None:
        res.angles = bm.joint_angles(j3d)
        res.cg3d = bm.centre_of_gravity(j3d)
    if camera3d and K is not None:
        res.cg_uv = _project(res.cg3d, K)
    elif j2d is not None:
        res.cg_uv = bm.centre_of_gravity(j2d)
    image_h = None if res.cg_uv is None else -res.cg_uv[:, 1]
    if j3d is not None and j2d is not None:
        res.body_px_per_m = body_scale_px_per_m(j3d, j2d)

    # The height track the flight is found on, its unit and the residual scale.
    accel = None
    if camera3d:
        h, res.height_unit = res.cg3d @ up, "m"
        tol = flight_tolerance(h, trunk_length(j3d))
        accel = -g if fps else None
    elif image_h is not None:
        h, res.height_unit = image_h, "px"
        tol = flight_tolerance(h, trunk_length(j2d, 90.0))
        # Known body scale: the image height accelerates at g (px/m) times the share
        # of gravity along the image's vertical (1 for a level camera).
        if fps and res.body_px_per_m and res.body_px_per_m > 0:
            accel = -g * res.body_px_per_m * float(-up[1])
    else:
        h = None
    if h is not None and np.isfinite(h).sum() >= 5:
        res.flight = detect_flight(t, h, tol, accel=accel)
        # Take-off height from the fitted curve, not the (noisier) sample itself.
        ref = (res.flight(t[res.flight.start]) if res.flight else h[np.isfinite(h)][0])
        res.height = h - ref
        if res.flight:
            res.flight = fit_parabola(t, res.height, res.flight.start, res.flight.end)
            if image_h is not None and np.isfinite(image_h[res.flight.start]):
                res.image_flight = fit_parabola(t, image_h - image_h[res.flight.start],
                                                res.flight.start, res.flight.end)
    end = res.flight.end if res.flight else len(frame) - 1
    if j3d is not None and _has_trunk(j3d[:end + 1]):
        axis = bm.somersault_axis(j3d[:end + 1])  # up to entry: not the water's chaos
        res.somersault_deg = bm.somersault_angle(j3d, up, axis)
        if res.flight and one_way:  # in the air the rotation goes one way (rotation.py)
            res.somersault_deg, res.somersault_replaced = one_way_in_flight(
                res.somersault_deg, res.flight.start, res.flight.end, fps)
    res.summary = dive_summary(res, j3d, up, code, g, up_known=R is not None)
    return res


def dive_summary(res: DiveAnalysis, j3d: np.ndarray | None, up: np.ndarray, code: str | None,
              g: float, up_known: bool) -> dict:
    """The dive summary (JSON-ready: floats, ints, bools, strings or None).

    Flight time = (last - first flight frame) / fps: the frames in the air, so up to a
    frame shorter than the time the CG takes to reach the water.
    Somersaults are counted from upright, as the dive tables do, not from the take-off
    frame (divers leave the board already leaning into the rotation): |angle at the
    last flight frame| / 360, read off the track unwrapped from its first frame, and
    through the flight read as a rotation that goes one way (``rotation.py``; the
    flight frames whose own angle it overruled are counted in
    somersault_frames_overruled).
    Highest CG point: the fitted parabola's maximum over the flight, above its value
    at the first flight frame. Tightest hip / knee: the largest flexion of the
    left-right mean over the flight.
    Entry: the body line (ankles -> head) against the vertical at the last flight
    frame. Without a detected flight the whole track stands in for it.
    """
    fl = res.flight
    s, e = (fl.start, fl.end) if fl else (0, len(res.frame) - 1)
    out: dict = {"flight_detected": fl is not None,
                 "flight_start_frame": int(res.frame[s]) if fl else None,
                 "flight_end_frame": int(res.frame[e]) if fl else None,
                 "flight_time_s": _f((e - s) / res.fps) if fl and res.fps else None,
                 "height_unit": res.height_unit or None,
                 "up": "gravity (camera rotation)" if up_known else "image up (level camera)",
                 "segment_table": bm.SEGMENT_TABLE}
    mpp = None
    if res.fps and res.image_flight is not None:
        mpp = mpp_from_curvature(res.image_flight.a, g)
    out["metres_per_pixel"] = _f(mpp)
    body = res.body_px_per_m
    out["metres_per_pixel_from_body"] = _f(1.0 / body) if body and body > 0 else None
    out["g_fit_mps2"] = (_f(-fl.acceleration) if fl and res.fps and res.height_unit == "m"
                         else None)
    peak = None
    if fl is not None:  # the fitted curve's highest point within the flight
        t_apex = min(max(fl.apex[0], res.t[s]), res.t[e])
        peak = float(fl(t_apex))
    if res.height_unit == "m":
        out["cg_max_height_above_takeoff_m"] = _f(peak)
    else:
        out["cg_max_height_above_takeoff_px"] = _f(peak)
        out["cg_max_height_above_takeoff_m"] = (_f(peak * mpp) if peak is not None and mpp
                                                 else None)
    expected = bm.half_somersaults(code)
    out["dive_code"] = code
    out["somersaults_expected"] = None if expected is None else expected / 2
    if res.somersault_deg is not None and np.isfinite(res.somersault_deg[e]):
        turn = float(res.somersault_deg[e])
        out["somersaults"] = abs(turn) / 360.0
        out["somersaults_nearest_half"] = round(abs(turn) / 180.0) / 2
        out["rotation"] = "forward" if turn > 0 else "backward"
    else:
        out |= {"somersaults": None, "somersaults_nearest_half": None, "rotation": None}
    rep = res.somersault_replaced
    out["somersault_frames_overruled"] = None if rep is None else int(rep.sum())
    for joint in ("hip", "knee"):
        a = [res.angles.get(f"{joint}_flexion_{side}") for side in ("l", "r")]
        if a[0] is None:
            out[f"tightest_{joint}_flexion_deg"] = None
            continue
        mean = np.nanmean(np.stack(a)[:, s:e + 1], axis=0) if e >= s else np.array([np.nan])
        out[f"tightest_{joint}_flexion_deg"] = (_f(np.nanmax(mean)) if np.isfinite(mean).any()
                                                else None)
    if j3d is not None:
        angle, head_first = bm.body_angle_from_vertical(j3d[e], up)
        out["entry_body_angle_from_vertical_deg"] = _f(angle)
        out["entry_head_first"] = bool(head_first) if np.isfinite(angle) else None
    return out

