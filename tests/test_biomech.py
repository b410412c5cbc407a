"""Biomechanics (CG, angles, somersaults) and the dive analysis on generated dives."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from models.skeleton import JOINT_INDEX, pelvis_centred
from tempose_cli.core.labels import PoseTrack, read_pose_csv
from tempose_cli.pose import biomech as bm
from tempose_cli.pose.dive_analysis import analyze_dive, body_scale_px_per_m, is_pelvis_centred
from tempose_cli.pose.flight import detect_flight, fit_parabola, metres_per_pixel, noise_level

J = JOINT_INDEX
FPS = 25.0
# Codes of every group (forward, back, reverse, inward, twister) and position.
CODES = [("101B", 3.0), ("103C", 5.0), ("105B", 10.0), ("201A", 3.0), ("203B", 10.0),
         ("303C", 10.0), ("403C", 10.0), ("5253B", 10.0)]


def standing(T: int = 1) -> np.ndarray:
    """A person facing the camera in camera coordinates (x right, y down, z forward),
    2 m away, arms hanging: every joint at full extension."""
    pose = np.zeros((14, 3))
    rows = {"head": (0, -1.60), "neck": (0, -1.45), "l_shoulder": (0.2, -1.4),
            "r_shoulder": (-0.2, -1.4), "l_elbow": (0.2, -1.1), "r_elbow": (-0.2, -1.1),
            "l_wrist": (0.2, -0.8), "r_wrist": (-0.2, -0.8), "l_hip": (0.1, -0.9),
            "r_hip": (-0.1, -0.9), "l_knee": (0.1, -0.5), "r_knee": (-0.1, -0.5),
            "l_ankle": (0.1, -0.1), "r_ankle": (-0.1, -0.1)}
    for name, (x, y) in rows.items():
        pose[J[name]] = (x, y, 2.0)
    return np.repeat(pose[None], T, 0)


def test_segment_table_is_a_whole_body():
    w = bm.segment_weights()
    assert w.shape == (14,) and np.all(w >= 0) and w.sum() == pytest.approx(1.0)
    assert sum(s[3] for s in bm.SEGMENTS) == pytest.approx(1.0)
    j = standing()
    cg = bm.centre_of_gravity(j)[0]
    assert cg[0] == pytest.approx(0.0, abs=1e-12)  # left-right symmetric
    assert -1.1 < cg[1] < -0.9  # a little above the hips (y points down)
    # Works on 2D joints too, and a missing joint gives NaN, not a guess.
    assert np.allclose(bm.centre_of_gravity(j[..., :2]), cg[:2])
    j[0, J["l_knee"]] = np.nan
    assert np.isnan(bm.centre_of_gravity(j)).all()


def test_angles_zero_at_full_extension_and_ninety_at_right_angles():
    j = standing(2)
    a = bm.joint_angles(j)
    for name, v in a.items():
        np.testing.assert_allclose(v, 0.0, atol=1e-9, err_msg=name)
    # Frame 1: left thigh forward (towards the camera: -z), left forearm forward,
    # right shin bent back (+z), right arm straight forward.
    hip, knee = j[1, J["l_hip"]], j[1, J["l_knee"]]
    j[1, J["l_knee"]] = hip + (0, 0, -0.4)
    j[1, J["l_ankle"]] = j[1, J["l_knee"]] + (0, 0.4, 0)
    j[1, J["l_wrist"]] = j[1, J["l_elbow"]] + (0, 0, -0.3)
    j[1, J["r_ankle"]] = j[1, J["r_knee"]] + (0, 0, 0.4)
    j[1, J["r_elbow"]] = j[1, J["r_shoulder"]] + (0, 0, -0.3)
    j[1, J["r_wrist"]] = j[1, J["r_shoulder"]] + (0, 0, -0.6)
    a = bm.joint_angles(j)
    assert a["hip_flexion_l"][1] == pytest.approx(90.0)
    assert a["knee_flexion_l"][1] == pytest.approx(90.0)  # shank hangs from the thigh
    assert a["elbow_flexion_l"][1] == pytest.approx(90.0)
    assert a["knee_flexion_r"][1] == pytest.approx(90.0)
    assert a["hip_flexion_r"][1] == pytest.approx(0.0, abs=1e-9)
    assert a["shoulder_flexion_r"][1] == pytest.approx(90.0)  # arm forward = flexion
    assert a["elbow_flexion_r"][1] == pytest.approx(0.0, abs=1e-6)
    del hip, knee
    # Arm backwards is negative (extension).
    j[1, J["r_elbow"]] = j[1, J["r_shoulder"]] + (0, 0, 0.3)
    assert bm.joint_angles(j)["shoulder_flexion_r"][1] == pytest.approx(-90.0)


def test_shoulder_passes_overhead_without_a_jump():
    """The arm swings forward and up over the head: 0 -> 270 deg, continuous."""
    T = 61
    j = standing(T)
    phi = np.radians(np.linspace(0, 270, T))
    sh = j[:, J["l_shoulder"]]
    arm = np.stack([np.zeros(T), np.cos(phi), -np.sin(phi)], 1) * 0.3  # down, then forward
    j[:, J["l_elbow"]] = sh + arm
    j[:, J["l_wrist"]] = sh + 2 * arm
    a = bm.joint_angles(j)["shoulder_flexion_l"]
    np.testing.assert_allclose(a, np.degrees(phi), atol=1e-6)
    assert np.abs(np.diff(a)).max() < 180


def test_unwrap_skips_nan():
    a = np.array([170.0, -175.0, np.nan, -160.0, 179.0, -179.0])
    u = bm.unwrap_deg(a)
    assert np.isnan(u[2])
    np.testing.assert_allclose(u[[0, 1, 3]], [170, 185, 200])
    assert np.abs(np.diff(u[np.isfinite(u)])).max() < 180


def test_dive_code_parser():
    assert bm.half_somersaults("403C") == 3
    assert bm.half_somersaults("5253B") == 5
    assert bm.half_somersaults("609X") is None and bm.half_somersaults(None) is None


def test_parabola_fit_and_scale():
    t = np.arange(30) / 25.0
    h = 3.0 + 2.5 * t - 0.5 * 9.81 * t * t
    p = fit_parabola(t, h)
    assert p.acceleration == pytest.approx(-9.81) and p.rms < 1e-9
    assert p.apex[0] == pytest.approx(2.5 / 9.81)
    # 40 px per metre: the image parabola's curvature gives 1/40 m per px back.
    assert metres_per_pixel(fit_parabola(t, 40 * h).a) == pytest.approx(1 / 40)
    assert noise_level(h) == pytest.approx(0.0, abs=1e-9)


def test_flight_detection_on_a_noisy_track():
    """Platform (still, then a push upwards), free fall, water (braking), plus noise."""
    rng = np.random.default_rng(0)
    fps, g = 50.0, 9.81
    t = np.arange(150) / fps
    t0, t1 = 0.8, 2.2  # take-off and entry
    v0 = 3.0
    h = np.where(t < t0 - 0.3, 0.0, 0.5 * (v0 / 0.3) * (t - (t0 - 0.3)) ** 2)
    fall = v0 * (t - t0) - 0.5 * g * (t - t0) ** 2
    h = np.where(t >= t0, 0.5 * v0 * 0.3 + fall, h)
    h_entry = 0.5 * v0 * 0.3 + v0 * (t1 - t0) - 0.5 * g * (t1 - t0) ** 2
    v_entry = v0 - g * (t1 - t0)
    h = np.where(t > t1, h_entry + v_entry * 0.2 * (1 - np.exp(-(t - t1) / 0.2)), h)
    noisy = h + rng.normal(0, 0.01, len(h))
    for track, accel in ((h, None), (noisy, None), (noisy, -g)):
        f = detect_flight(t, track, tol=0.03, accel=accel)
        assert abs(f.start - t0 * fps) <= 3 and abs(f.end - t1 * fps) <= 3
        assert -f.acceleration == pytest.approx(g, rel=0.03)
    assert detect_flight(t, np.where(t < 1, t, 2 - t)) is None  # no parabola: a tent


@pytest.fixture(scope="module")
def dives():
    """Ground-truth world joints of simulated dives, one per code (no rendering)."""
    pytest.importorskip("pybullet")
    from tempose_cli.synth.dive import DiveCode, make_dive
    from tempose_cli.synth.humanoid import Humanoid, pybullet

    p = pybullet()
    client = p.connect(p.DIRECT)
    try:
        body = Humanoid(client, 0.24, {})
        return {code: make_dive(body, DiveCode.parse(code), height, FPS,
                                np.random.default_rng(i))
                for i, (code, height) in enumerate(CODES)}
    finally:
        p.disconnect(client)


def pitched_camera(pitch_deg: float = 20.0):
    """World -> camera (R, t) of a camera 14 m to the side, looking down by pitch_deg."""
    from tempose_cli.synth import camera as cam

    centre = np.array([1.5, -14.0, 4.0])
    target = centre + np.array([0.0, np.cos(np.radians(pitch_deg)),
                                -np.sin(np.radians(pitch_deg))])
    R = cam.look_at(centre, target)
    return R, cam.translation(R, centre), cam.intrinsics(640, 480, 50)


@pytest.mark.parametrize("code", [c for c, _ in CODES])
def test_somersaults_match_the_dive_code(dives, code):
    R, t, K = pitched_camera()
    d = dives[code]
    j3d = d.body.joints_world @ R.T + t  # camera coordinates, as the labels are
    n = len(j3d)
    track = PoseTrack(frame=np.arange(n), time_s=np.arange(n) / FPS, j3d=j3d)
    a = analyze_dive(track, FPS, K=K, R=R, code=code)
    s = a.summary
    assert s["somersaults_nearest_half"] == s["somersaults_expected"] == \
        bm.half_somersaults(code) / 2
    assert abs(s["somersaults"] - s["somersaults_expected"]) < 0.1
    if not code.startswith("5"):  # twisters turn their hips away: no meaningful sign
        group = int(code[0])
        assert s["rotation"] == ("forward" if group in (1, 4) else "backward")
    assert np.abs(np.diff(a.somersault_deg)).max() < 180
    if not code.startswith("5"):  # a true track turns one way: no frame is overruled
        assert s["somersault_frames_overruled"] == 0
    # The flight: take-off within a frame or two, entry = the clip's last frame.
    assert abs(s["flight_start_frame"] - d.takeoff_frame) <= 2
    assert abs(s["flight_end_frame"] - d.entry_frame) <= 1
    assert s["entry_head_first"] and s["entry_body_angle_from_vertical_deg"] < 25
    # Pelvis-centred 3D (what the regressor predicts) gives the same rotation.
    centred = PoseTrack(frame=track.frame, time_s=track.time_s, j3d=pelvis_centred(j3d))
    b = analyze_dive(centred, FPS, R=R, code=code)
    assert b.summary["somersaults_nearest_half"] == s["somersaults_expected"]


@pytest.mark.parametrize("code", [c for c, _ in CODES])
def test_cg_from_joints_falls_with_g(dives, code):
    """Over the true flight, the segment-table CG (not the simulator's link masses)
    accelerates along gravity at g within 5%, seen by a camera pitched down 20 deg."""
    R, t, _ = pitched_camera()
    d = dives[code]
    j3d = d.body.joints_world @ R.T + t
    up = bm.gravity_up(R)
    assert up @ np.array([0.0, -1.0, 0.0]) < np.cos(np.radians(15))  # not image-up
    h = bm.centre_of_gravity(j3d) @ up
    time = np.arange(len(h)) / FPS
    fit = fit_parabola(time, h, d.takeoff_frame, d.entry_frame)
    assert -fit.acceleration == pytest.approx(9.81, rel=0.05)
    assert fit.max_abs < 0.1  # metres: the model's CG wobbles by centimetres only
    # The simulator's own CG is exactly ballistic: the gap is the segment model's.
    cg_sim = d.body.cg_world[d.takeoff_frame:d.entry_frame + 1, 2]
    exact = fit_parabola(time[d.takeoff_frame:d.entry_frame + 1], cg_sim)
    assert -exact.acceleration == pytest.approx(9.81, rel=1e-6)


def test_pitched_camera_needs_its_rotation(dives):
    R, t, K = pitched_camera(25.0)
    d = dives["403C"]
    j3d = d.body.joints_world @ R.T + t
    track = PoseTrack(frame=np.arange(len(j3d)), time_s=np.arange(len(j3d)) / FPS, j3d=j3d)
    with_r = analyze_dive(track, FPS, K=K, R=R).summary["g_fit_mps2"]
    level = analyze_dive(track, FPS, K=K).summary["g_fit_mps2"]
    assert with_r == pytest.approx(9.81, rel=0.05)
    assert level == pytest.approx(9.81 * np.cos(np.radians(25)), rel=0.06)


def test_pose_helpers():
    j = standing(3)
    assert not is_pelvis_centred(j) and is_pelvis_centred(pelvis_centred(j))
    noisy = pelvis_centred(j) + np.random.default_rng(0).normal(0, 0.03, j.shape)
    assert is_pelvis_centred(noisy)  # a regressor's output is only near zero
    uv = 100 * pelvis_centred(j)[..., :2] + 50  # 100 px per metre, orthographic
    assert body_scale_px_per_m(j, uv) == pytest.approx(100.0)
    angle, head_first = bm.body_angle_from_vertical(j[0])
    assert angle == pytest.approx(0.0, abs=1e-6) and not head_first


@pytest.fixture(scope="module")
def clips(tmp_path_factory) -> Path:
    """Two rendered dives with sidecars and labels (tiny, as tests/test_synth.py)."""
    pytest.importorskip("pybullet")
    from tempose_cli.synth.generate import SynthConfig, generate

    out = tmp_path_factory.mktemp("clips")
    generate(SynthConfig(out_dir=out, athletes=1, clips=2, fps=FPS, size=(96, 96), seed=3,
                         heights=(3.0, 10.0)))
    return out


def test_generated_clips_end_to_end(clips):
    """Labels + sidecar -> the summary agrees with the simulator, in 3D and from 2D."""
    for sidecar in sorted(clips.glob("*.json")):
        side = json.loads(sidecar.read_text())
        syn, cam = side["synth"], side["camera"]
        K, R, t = (np.asarray(cam[k]) for k in ("K", "R", "t"))
        track = read_pose_csv(clips / sidecar.name.replace(".json", ".pose.csv"))
        a = analyze_dive(track, side["fps"], K=K, R=R, code=side["dive"])
        s = a.summary
        assert s["somersaults_nearest_half"] == syn["dive"]["half_somersaults"] / 2
        assert s["g_fit_mps2"] == pytest.approx(9.81, rel=0.05)
        assert abs(s["flight_start_frame"] - syn["takeoff_frame"]) <= 2
        assert s["flight_time_s"] == pytest.approx(syn["dive"]["flight_s"], abs=3 / FPS)
        # Gravity-implied image scale vs the true one (depth / focal length).
        cg_cam = np.asarray(syn["cg_world"]) @ R.T + t
        true_mpp = np.median(cg_cam[:, 2]) / K[0, 0]
        assert s["metres_per_pixel"] == pytest.approx(true_mpp, rel=0.05)
        assert s["metres_per_pixel_from_body"] == pytest.approx(true_mpp, rel=0.05)
        apex = syn["dive"]["v0_mps"][2] ** 2 / (2 * 9.81)
        assert s["cg_max_height_above_takeoff_m"] == pytest.approx(apex, abs=0.1)
        # What the regressor gives: pelvis-centred 3D and 2D joints, no camera.
        pred = PoseTrack(frame=track.frame, time_s=track.time_s,
                         j3d=pelvis_centred(track.j3d), j2d=track.j2d)
        b = analyze_dive(pred, side["fps"], code=side["dive"]).summary
        assert b["height_unit"] == "px" and b["g_fit_mps2"] is None
        assert b["metres_per_pixel"] == pytest.approx(true_mpp, rel=0.08)
        assert b["somersaults_nearest_half"] == s["somersaults_nearest_half"]
        assert b["cg_max_height_above_takeoff_m"] == pytest.approx(apex, abs=0.15)
        json.dumps(s), json.dumps(b)  # JSON-ready as it is


def test_analysis_without_fps_or_3d():
    j = standing(12)
    uv = 100 * j[..., :2] + 300
    only2d = PoseTrack(frame=np.arange(12), time_s=np.arange(12) / 10, j2d=uv)
    s = analyze_dive(only2d, None).summary
    assert s["somersaults"] is None and s["flight_time_s"] is None
    assert s["metres_per_pixel"] is None
