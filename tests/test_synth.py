"""The synthetic benchmark: exact labels, ballistic CG, athletes, determinism, ingest."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest
from typer.testing import CliRunner

from models.skeleton import MIRROR_INDEX, bone_lengths, mirror_pose
from tempose_cli.core.labels import read_pose_csv
from tempose_cli.media.video import read_all_frames
from tempose_cli.synth import camera as cam
from tempose_cli.synth import quat
from tempose_cli.synth.bystander import replay_bystander
from tempose_cli.synth.generate import SynthConfig, generate

SIZE = (128, 128)  # the diver is a few pixels tall at 64x64: limbs vanish


def _config(out: Path, **kw) -> SynthConfig:
    base = dict(out_dir=out, sport="dive", athletes=2, clips=1, fps=20.0, size=SIZE, seed=7,
                heights=(3.0, 5.0), masks=True)
    return SynthConfig(**(base | kw))


@pytest.fixture(scope="module")
def dives(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dives")
    generate(_config(out))
    return out


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs")
    generate(_config(out, sport="ski", athletes=1, run_s=1.5, fps=15.0))
    return out


def _clips(folder: Path) -> list[tuple[dict, object, np.ndarray]]:
    out = []
    for sc in sorted(folder.glob("*.json")):
        stem = sc.name.removesuffix(".json")
        side = json.loads(sc.read_text())
        labels = read_pose_csv(folder / f"{stem}.pose.csv")
        with np.load(folder / f"{stem}.mask.npz") as z:
            masks = z["mask"].astype(bool)
        out.append((side, labels, masks))
    return out


def test_outputs_and_sidecar(dives):
    stems = sorted(p.name.removesuffix(".json") for p in dives.glob("*.json"))
    assert stems == ["dive_a01_d001", "dive_a02_d001"]
    for side, labels, masks in _clips(dives):
        assert side["sport"] == "dive" and side["athlete"] in ("A01", "A02")
        assert side["height_m"] in (3.0, 5.0) and side["fps"] == 20.0
        assert np.asarray(side["camera"]["K"]).shape == (3, 3)
        mocap = side["synth"]["mocap"]
        assert {m["file"] for m in mocap} <= {"humanoid3d_jump.txt", "humanoid3d_backflip.txt"}
        assert all(len(m["frames"]) == 2 for m in mocap)
        n = len(read_all_frames(dives / f"{side_stem(side, dives)}.mp4"))
        assert len(labels) == n == len(masks)


def side_stem(side: dict, folder: Path) -> str:
    for sc in folder.glob("*.json"):
        if json.loads(sc.read_text()) == side:
            return sc.name.removesuffix(".json")
    raise AssertionError("sidecar not found")


def test_reprojection_is_exact(dives, runs):
    for folder in (dives, runs):
        for side, labels, _ in _clips(folder):
            K = np.asarray(side["camera"]["K"])
            err = np.abs(cam.project(labels.j3d, K) - labels.j2d)
            assert err.max() < 1e-3  # sub-pixel: only the CSV's rounding


def test_mirrored_pose_projects_onto_the_flipped_image(dives):
    """mirror_pose is what a horizontally flipped frame shows: its projection is the
    flipped image's 2D labels with the sides swapped (the principal point is centred)."""
    for side, labels, masks in _clips(dives):
        K = np.asarray(side["camera"]["K"])
        w = masks.shape[2]
        assert K[0, 2] == pytest.approx((w - 1) / 2)
        flipped_2d = labels.j2d[:, MIRROR_INDEX].copy()
        flipped_2d[..., 0] = (w - 1) - flipped_2d[..., 0]
        err = np.abs(cam.project(mirror_pose(labels.j3d), K) - flipped_2d)
        assert err.max() < 1e-3
        assert not np.allclose(mirror_pose(labels.j3d), labels.j3d)


def test_ski_camera_pans(runs):
    side, labels, _ = _clips(runs)[0]
    R = np.asarray(side["camera"]["R_per_frame"])
    t = np.asarray(side["camera"]["t_per_frame"])
    assert R.shape == (len(labels), 3, 3)
    centre = np.asarray(side["camera"]["centre"])
    assert np.allclose(t, -np.einsum("tij,j->ti", R, centre), atol=1e-5)
    yaw = np.degrees(np.arctan2(R[:, 2, 1], R[:, 2, 0]))
    assert np.ptp(yaw) > 5  # the camera really rotates


def test_labels_land_on_the_rendered_body(dives, runs):
    for folder in (dives, runs):
        for _, labels, masks in _clips(folder):
            grown = np.stack([cv2.dilate(m.astype(np.uint8), np.ones((3, 3), np.uint8))
                              for m in masks]).astype(bool)
            u = np.rint(labels.j2d[..., 0]).astype(int)
            v = np.rint(labels.j2d[..., 1]).astype(int)
            vis = labels.vis > 0
            t = np.nonzero(vis)[0]
            assert vis.mean() > 0.5
            assert grown[t, v[vis], u[vis]].mean() > 0.95


def test_pixel_convention_matches_renderer():
    """A camera-facing square: its projected edges fall exactly between mask pixels."""
    from tempose_cli.synth.humanoid import pybullet

    p = pybullet()
    client = p.connect(p.DIRECT)
    try:
        w, h = 120, 90
        K = cam.intrinsics(w, h, 50)
        K[0, 2] += 3.3
        K[1, 2] -= 2.1
        centre = np.array([0.0, -8.0, 1.0])
        R = cam.look_at(centre, [0.0, 0.0, 1.0])
        t = cam.translation(R, centre)
        vs = p.createVisualShape(p.GEOM_BOX, halfExtents=[0.5, 0.01, 0.5],
                                 physicsClientId=client)
        body = p.createMultiBody(0, -1, vs, basePosition=[0.7, 0, 1.6], physicsClientId=client)
        view, proj = cam.gl_matrices(K, R, t, w, h, 0.1, 100)
        seg = np.asarray(p.getCameraImage(w, h, view, proj, renderer=p.ER_TINY_RENDERER,
                                          physicsClientId=client)[4]).reshape(h, w)
        vv, uu = np.nonzero(seg == body)
        corners = np.array([[0.2, -0.01, 1.1], [1.2, -0.01, 2.1]])
        uv = cam.project(cam.to_camera(corners, R, t), K)
        lo, hi = uv.min(0), uv.max(0)  # pixel (u, v) is inside iff its centre is
        assert (uu.min(), uu.max()) == (int(np.ceil(lo[0])), int(np.floor(hi[0])))
        assert (vv.min(), vv.max()) == (int(np.ceil(lo[1])), int(np.floor(hi[1])))
    finally:
        p.disconnect(client)


def test_cg_follows_the_parabola(dives):
    for side, _, _ in _clips(dives):
        s = side["synth"]
        cg = np.asarray(s["cg_world"])
        air = cg[s["takeoff_frame"]: s["entry_frame"] + 1]
        dt = 1.0 / side["fps"]
        assert len(air) >= 10
        d2 = np.diff(air[:, 2], 2)
        np.testing.assert_allclose(d2, -9.81 * dt * dt, atol=5e-6)
        np.testing.assert_allclose(np.diff(air[:, 0], 2), 0.0, atol=5e-6)
        assert air[-1, 2] >= 0 > air[-1, 2] + np.diff(air[:, 2])[-1] - 9.81 * dt * dt


def test_cg_is_the_placed_bodys_mass_centre():
    """Independent check: re-pose the body in pybullet and average its links' mass centres."""
    from tempose_cli.synth.dive import DiveCode, make_dive
    from tempose_cli.synth.humanoid import N_LINKS, Humanoid, pybullet

    p = pybullet()
    client = p.connect(p.DIRECT)
    try:
        body = Humanoid(client, 0.24, {})
        d = make_dive(body, DiveCode.parse("5253B"), 10.0, 15.0, np.random.default_rng(1))
        tr = d.body
        for i in range(0, len(tr.cg_world), 5):
            body.set_articulation(tr.sph[i], tr.rev[i])
            body.place(tr.base_pos[i], tr.base_rot[i])
            states = p.getLinkStates(body.id, list(range(N_LINKS)), computeForwardKinematics=1,
                                     physicsClientId=client)
            com = np.array([s[0] for s in states])
            cg = (body.mass[:, None] * com).sum(0) / body.mass.sum()
            np.testing.assert_allclose(cg, tr.cg_world[i], atol=1e-6)
        # Twists and somersaults end where the code says: 2.5 somersaults -> head first.
        assert tr.joints_world[-1, 0, 2] < tr.joints_world[-1, 12, 2]
    finally:
        p.disconnect(client)


def test_bone_lengths_constant_per_athlete(dives):
    """Every bone within one rigid link is constant; shoulder-hip spans the spine joint."""
    from models.skeleton import BONES

    rigid = np.array([set(b) not in ({"l_shoulder", "l_hip"}, {"r_shoulder", "r_hip"})
                      for b in BONES])
    per_athlete: dict[str, list[np.ndarray]] = {}
    for side, labels, _ in _clips(dives):
        per_athlete.setdefault(side["athlete"], []).append(bone_lengths(labels.j3d))
    means = {}
    for athlete, lengths in per_athlete.items():
        b = np.concatenate(lengths)  # (T, n_bones)
        assert np.ptp(b[:, rigid], axis=0).max() < 1e-4
        assert np.ptp(b[:, ~rigid], axis=0).max() < 0.05  # the spine bends a little
        means[athlete] = b.mean(0)
    assert not np.allclose(means["A01"], means["A02"], atol=1e-3)  # body sizes differ


def test_athletes_look_different(dives):
    colours = {}
    for side, _, masks in _clips(dives):
        frames = read_all_frames(dives / f"{side_stem(side, dives)}.mp4")
        inner = np.stack([cv2.erode(m.astype(np.uint8), np.ones((2, 2), np.uint8))
                          for m in masks]).astype(bool)
        use = inner if inner.sum() > 20 else masks
        colours[side["athlete"]] = frames[use].reshape(-1, 3).astype(float).mean(0)
    assert np.linalg.norm(colours["A01"] - colours["A02"]) > 10


def test_bodysuits_cover_the_limbs(dives, tmp_path):
    """--appearance bodysuit: each region wears what the sidecar says; the dive is the same."""
    from tempose_cli.synth.athletes import make_athletes
    from tempose_cli.synth.humanoid import LINK

    suits = make_athletes(12, 7, "bodysuit")
    assert [a.id for a in suits] == [a.id for a in make_athletes(12, 7)]
    assert len({(a.arms, a.thighs, a.shins) for a in suits}) > 4  # the wardrobe varies
    for a in suits:
        c = a.link_colours("dive")
        wear = {"suit": a.suit, "suit2": a.suit2, "suit3": a.suit3, "skin": a.skin}
        assert c[LINK["left_elbow"]][:3] == wear[a.arms]
        assert c[LINK["right_hip"]][:3] == wear[a.thighs] != a.skin  # thighs never bare
        assert c[LINK["left_knee"]][:3] == wear[a.shins]
        assert c[LINK["chest"]][:3] == a.suit and c[LINK["left_wrist"]][:3] == a.skin
    out = tmp_path / "suits"
    generate(_config(out, appearance="bodysuit"))
    for name in ("dive_a01_d001", "dive_a02_d001"):
        side = json.loads((out / f"{name}.json").read_text())
        assert side["synth"]["athlete"]["pattern"] == "bodysuit"
        assert {"arms", "thighs", "shins", "suit3_rgb"} <= set(side["synth"]["athlete"])
        # Same dive and camera, other clothes: labels identical, pixels not.
        assert (out / f"{name}.pose.csv").read_bytes() == (dives / f"{name}.pose.csv").read_bytes()
        assert not np.array_equal(read_all_frames(out / f"{name}.mp4"),
                                  read_all_frames(dives / f"{name}.mp4"))
    with pytest.raises(ValueError, match="dives only"):
        generate(_config(tmp_path / "ski", sport="ski", appearance="bodysuit"))
    with pytest.raises(ValueError, match="unknown appearance"):
        generate(_config(tmp_path / "wetsuit", appearance="wetsuit"))
    assert not (tmp_path / "ski").exists() and not (tmp_path / "wetsuit").exists()


def test_same_seed_same_bytes(tmp_path):
    a, b, c = tmp_path / "a", tmp_path / "b", tmp_path / "c"
    for out, seed in ((a, 3), (b, 3), (c, 4)):
        generate(_config(out, athletes=1, fps=12.0, seed=seed))
    for suffix in (".pose.csv", ".json", ".mask.npz"):
        name = f"dive_a01_d001{suffix}"
        assert (a / name).read_bytes() == (b / name).read_bytes()
    csv = "dive_a01_d001.pose.csv"
    assert (a / csv).read_bytes() != (c / csv).read_bytes()
    fa = read_all_frames(a / "dive_a01_d001.mp4")
    fb = read_all_frames(b / "dive_a01_d001.mp4")
    assert np.array_equal(fa, fb)


def test_first_athlete_grows_a_set(dives, tmp_path):
    """Athletes from first_athlete on are the same people and clips as in the full set."""
    generate(_config(tmp_path, first_athlete=1))
    assert sorted(p.name for p in tmp_path.glob("*.mp4")) == ["dive_a02_d001.mp4"]
    for suffix in (".pose.csv", ".json", ".mask.npz"):
        name = f"dive_a02_d001{suffix}"
        assert (tmp_path / name).read_bytes() == (dives / name).read_bytes()
    with pytest.raises(ValueError, match="first_athlete 2"):
        generate(_config(tmp_path, first_athlete=2))


def test_mocap_slerp_hits_keyframes():
    from tempose_cli.synth.mocap import load_clip

    clip = load_clip("backflip")
    pose = clip.sample(clip.times[:5])
    same = np.abs(np.sum(pose.sph * clip.frames.sph[:5], axis=-1))  # |<q, q'>| = 1
    np.testing.assert_allclose(same, 1.0, atol=1e-9)
    mid = clip.sample(0.5 * (clip.times[:-1] + clip.times[1:]))
    np.testing.assert_allclose(np.linalg.norm(mid.sph, axis=-1), 1.0, atol=1e-9)
    q = quat.slerp(np.array([0, 0, 0, 1.0]), quat.from_axis_angle([0, 0, 1.0], 1.0), 0.25)
    np.testing.assert_allclose(q, quat.from_axis_angle([0, 0, 1.0], 0.25), atol=1e-12)


def test_dive_codes():
    from tempose_cli.synth.dive import CODES, DiveCode

    d = DiveCode.parse("5253B")
    assert (d.group, d.half_somersaults, d.half_twists, d.position) == (2, 5, 3, "B")
    assert DiveCode.parse("109C").half_somersaults == 9
    with pytest.raises(ValueError):
        DiveCode.parse("609X")
    assert len({DiveCode.parse(c).code for c in CODES}) == len(CODES)


def test_bystander_is_drawn_but_not_labelled(dives, tmp_path):
    """A bystander adds pixels outside the diver and changes nothing else of the dive."""
    out = tmp_path / "bystander"
    generate(_config(out, bystander=True))
    for stem in ("dive_a01_d001", "dive_a02_d001"):
        side = json.loads((out / f"{stem}.json").read_text())
        assert side["synth"]["bystander"]["motion"]["file"].startswith("humanoid3d_")
        assert side["synth"]["bystander"]["anchor_m"][2] == side["height_m"]  # on the platform
        plain, busy = (read_pose_csv(d / f"{stem}.pose.csv") for d in (dives, out))
        np.testing.assert_array_equal(plain.j3d, busy.j3d)  # the same dive, same camera
        assert (busy.vis <= plain.vis).all()  # a bystander can only hide joints
        with np.load(dives / f"{stem}.mask.npz") as a, np.load(out / f"{stem}.mask.npz") as b:
            m_plain, m_busy = a["mask"].astype(bool), b["mask"].astype(bool)
        assert (m_busy <= m_plain).all()  # the masks stay the diver's
        f_plain, f_busy = (read_all_frames(d / f"{stem}.mp4").astype(int) for d in (dives, out))
        changed = np.abs(f_busy - f_plain).max(-1) > 40  # (T, H, W)
        # Someone is drawn in (nearly) every frame, and not where the diver is.
        assert (changed.sum((1, 2)) > 5).mean() > 0.9
        assert (changed & m_plain).sum() < 0.1 * changed.sum()
        # The benchmarks rebuild them from the clip's seed: the same person, same place.
        again = replay_bystander(side, len(busy.j3d))
        assert again is not None and again.record == side["synth"]["bystander"] | {
            "anchor_m": again.record["anchor_m"]}
        np.testing.assert_allclose(again.record["anchor_m"],
                                   side["synth"]["bystander"]["anchor_m"], atol=1e-4)
    assert replay_bystander(json.loads((dives / "dive_a01_d001.json").read_text()), 3) is None


def test_bystander_is_for_dives_only(tmp_path):
    with pytest.raises(ValueError, match="dives only"):
        generate(_config(tmp_path, sport="ski", bystander=True))


def test_cli_synth_then_ingest(tmp_path):
    from tempose_cli.cli.app import app

    runner = CliRunner()
    out = tmp_path / "clips"
    r = runner.invoke(app, ["synth", str(out), "--athletes", "1", "--dives", "1",
                            "--fps", "10", "--size", "64x64", "--seed", "1", "--heights", "3"])
    assert r.exit_code == 0, r.output
    assert (out / "dive_a01_d001.pose.csv").is_file()
    r = runner.invoke(app, ["--home", str(tmp_path / "home"), "ingest", str(out)])
    assert r.exit_code == 0, r.output


@pytest.mark.parametrize("args, message", [
    (["--size", "64by64"], "--size"),
    (["--size", "63x64"], "even"),
    (["--sport", "golf"], "--sport"),
    (["--heights", "2"], "--heights"),
    (["--sport", "ski", "--bystander"], "--bystander"),
    (["--appearance", "wetsuit"], "--appearance"),
    (["--sport", "ski", "--appearance", "bodysuit"], "--appearance"),
])
def test_cli_errors_are_one_line(tmp_path, args, message):
    from tempose_cli.cli.app import app

    r = CliRunner().invoke(app, ["synth", str(tmp_path / "o"), *args])
    assert r.exit_code != 0
    assert message in r.output and len(r.output.strip().splitlines()) == 1


def test_cli_unwritable_out_dir(tmp_path):
    from tempose_cli.cli.app import app

    blocker = tmp_path / "file"
    blocker.write_text("x")
    r = CliRunner().invoke(app, ["synth", str(blocker / "sub")])
    assert r.exit_code != 0 and "output folder" in r.output


def test_parallel_jobs_same_bytes(tmp_path):
    """Clips rendered by worker processes equal the serial ones, byte for byte."""
    serial, parallel = tmp_path / "serial", tmp_path / "parallel"
    kw = dict(size=(64, 64), fps=10.0, heights=(3.0,))
    done = []
    generate(_config(serial, **kw), jobs=1)
    results = generate(_config(parallel, **kw), on_clip=lambda r: done.append(r.stem), jobs=2)
    stems = ["dive_a01_d001", "dive_a02_d001"]
    assert [r.stem for r in results] == stems and sorted(done) == stems
    for stem in stems:
        for suffix in (".pose.csv", ".json", ".mask.npz", ".mp4"):
            name = f"{stem}{suffix}"
            assert (serial / name).read_bytes() == (parallel / name).read_bytes(), name
        assert np.array_equal(read_all_frames(serial / f"{stem}.mp4"),
                              read_all_frames(parallel / f"{stem}.mp4"))
    assert sorted(p.name for p in serial.iterdir()) == sorted(p.name for p in parallel.iterdir())


def test_cli_worker_error_is_one_line(tmp_path):
    from tempose_cli.cli.app import app

    images = tmp_path / "images"
    images.mkdir()
    (images / "broken.png").write_bytes(b"not a png")
    r = CliRunner().invoke(app, ["synth", str(tmp_path / "o"), "--athletes", "2", "--dives", "1",
                                 "--fps", "10", "--size", "64x64", "--heights", "3",
                                 "--backgrounds", str(images), "--jobs", "2"])
    assert r.exit_code != 0
    assert "not a readable image" in r.output and len(r.output.strip().splitlines()) == 1
    assert "synth dive_a0" in r.output
