"""Labels for real recordings: Pose2Sim TRC + calibration and OpenPose JSON importers,
checked on the multi-camera session ``tempose synth --cameras`` makes."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from models.skeleton import DIVE14
from tempose_cli.core.errors import InputError
from tempose_cli.core.labels import read_pose_csv
from tempose_cli.media.importers.calibration import read_calibration
from tempose_cli.media.importers.openpose import LAYOUTS, detect_layout
from tempose_cli.media.importers.trc import DEFAULT_MAP, read_trc, trc_to_world, world_to_trc
from tempose_cli.synth.generate import SynthConfig, generate

from .conftest import tempose

STEM = "dive_a01_d001"
CFG = dict(sport="dive", athletes=1, clips=1, fps=10.0, size=(64, 64), seed=5, heights=(3.0,))


@pytest.fixture(scope="module")
def session(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("session")
    generate(SynthConfig(out_dir=out, cameras=3, **CFG))
    return out


@pytest.fixture
def clip(session: Path, tmp_path: Path):
    """A copy of the session; returns (folder, camera name) -> video path, without the
    camera's labels (the importers make them), the truth kept aside."""
    folder = tmp_path / "s"
    shutil.copytree(session, folder)

    def video(cam: str = "cam01", keep_labels: bool = False) -> Path:
        v = folder / f"{STEM}_{cam}.mp4"
        if not keep_labels:
            (folder / f"{STEM}_{cam}.pose.csv").unlink()
        return v

    return folder, video


def truth(session: Path, cam: str):
    return read_pose_csv(session / f"{STEM}_{cam}.pose.csv")


def run(home: Path, *args):
    return tempose(home, *args, json_out=False)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def failed(res, name: str) -> str:
    """A one-line error naming ``name``, non-zero exit; returns the line."""
    assert res.exit_code != 0, res.output
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and name in line, line
    return line


def from_trc(home, folder, cam="cam01", trc=None, calib=None, *extra):
    return run(home, "labels", "from-trc", trc or folder / f"{STEM}.trc", "--calibration",
               calib or folder / f"{STEM}_calibration.toml", "--camera", cam,
               "--video", folder / f"{STEM}_{cam}.mp4", *extra)


# ---------------------------------------------------------------- synth --cameras


def test_session_files_and_camera0_unchanged(session: Path, tmp_path: Path) -> None:
    names = {p.name for p in session.iterdir()}
    for c in ("cam00", "cam01", "cam02"):
        assert {f"{STEM}_{c}.mp4", f"{STEM}_{c}.json", f"{STEM}_{c}.pose.csv"} <= names
    cams = read_calibration(session / f"{STEM}_calibration.toml")
    assert list(cams) == ["cam00", "cam01", "cam02"]
    for name, c in cams.items():
        side = json.loads((session / f"{STEM}_{name}.json").read_text())
        np.testing.assert_allclose(c.K, side["camera"]["K"], atol=1e-6)
        np.testing.assert_allclose(c.R, side["camera"]["R"], atol=1e-6)
        np.testing.assert_allclose(c.t, side["camera"]["t"], atol=1e-6)
        assert side["synth"]["session"]["camera"] == name and c.size == (64, 64)
    assert not np.allclose(cams["cam00"].R, cams["cam01"].R)
    # --cameras 1: today's files, and camera 0 of a session is that camera, byte for byte
    generate(SynthConfig(out_dir=tmp_path, **CFG))
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        f"{STEM}.json", f"{STEM}.mp4", f"{STEM}.pose.csv"]
    for ext in (".mp4", ".pose.csv"):
        assert (tmp_path / f"{STEM}{ext}").read_bytes() == \
            (session / f"{STEM}_cam00{ext}").read_bytes()


def test_trc_is_pose2sim_convention(session: Path) -> None:
    trc = read_trc(session / f"{STEM}.trc")
    assert trc.markers == [DEFAULT_MAP[j] for j in DIVE14] and trc.rate == 10.0
    side = json.loads((session / f"{STEM}_cam00.json").read_text())
    cam, labels = side["camera"], truth(session, "cam00")
    world = trc_to_world(trc.xyz)  # (Y, Z, X)_world = (X, Y, Z)_trc: Y up in the file
    assert np.all(trc.xyz[..., 1] > -1.0) and np.all(world[..., 2] == trc.xyz[..., 1])
    cam_xyz = world @ np.asarray(cam["R"]).T + np.asarray(cam["t"])
    np.testing.assert_allclose(cam_xyz, labels.j3d, atol=1e-5)  # 6 decimals in each file
    np.testing.assert_allclose(world_to_trc(world), trc.xyz)


# ---------------------------------------------------------------- from-trc


@pytest.mark.parametrize("cam", ["cam01", "cam02"])
def test_from_trc_round_trip(session: Path, clip, home: Path, cam: str) -> None:
    folder, video = clip
    video(cam)
    before = json.loads((folder / f"{STEM}_{cam}.json").read_text())
    res = from_trc(home, folder, cam)
    assert res.exit_code == 0, res.output
    want = truth(session, cam)
    got = read_pose_csv(folder / f"{STEM}_{cam}.pose.csv", n_frames=len(want))
    assert np.abs(got.j3d - want.j3d).max() < 1e-3  # metres
    assert np.abs(got.j2d - want.j2d).max() < 0.5  # pixels
    side = json.loads((folder / f"{STEM}_{cam}.json").read_text())
    assert {k: v for k, v in side.items() if k != "camera"} == \
        {k: v for k, v in before.items() if k != "camera"}  # other keys kept
    np.testing.assert_allclose(side["camera"]["K"], before["camera"]["K"], atol=1e-6)
    np.testing.assert_allclose(side["camera"]["R"], before["camera"]["R"], atol=1e-6)
    np.testing.assert_allclose(side["camera"]["t"], before["camera"]["t"], atol=1e-6)
    assert side["camera"]["distortion"] == [0.0, 0.0, 0.0, 0.0]
    assert side["camera"]["name"] == cam


def test_from_trc_keeps_other_columns_and_ingests(session: Path, clip, home: Path) -> None:
    folder, video = clip
    v = video("cam01", keep_labels=True)  # the synth's labels (with _vis) are there
    res = from_trc(home, folder)
    assert res.exit_code == 0, res.output
    got = read_pose_csv(folder / f"{STEM}_cam01.pose.csv")
    np.testing.assert_array_equal(got.vis, truth(session, "cam01").vis)
    res = run(home, "ingest", v)
    assert res.exit_code == 0, res.output
    assert "1 ingested" in res.output


def _distort(K, dist, xyz):
    """OpenCV's radial-tangential model by hand."""
    k1, k2, p1, p2 = dist
    x, y = xyz[..., 0] / xyz[..., 2], xyz[..., 1] / xyz[..., 2]
    r2 = x * x + y * y
    radial = 1 + k1 * r2 + k2 * r2 * r2
    xd = x * radial + 2 * p1 * x * y + p2 * (r2 + 2 * x * x)
    yd = y * radial + p1 * (r2 + 2 * y * y) + 2 * p2 * x * y
    return np.stack([K[0, 0] * xd + K[0, 2], K[1, 1] * yd + K[1, 2]], -1)


def test_from_trc_projects_with_lens_distortion(session: Path, clip, home: Path) -> None:
    folder, video = clip
    video("cam01")
    calib = folder / f"{STEM}_calibration.toml"
    dist = [-0.6, 0.25, 0.004, -0.003]
    text = calib.read_text().replace("distortions = [ 0.0, 0.0, 0.0, 0.0]",
                                     f"distortions = [ {', '.join(map(str, dist))}]")
    calib.write_text(text)
    res = from_trc(home, folder)
    assert res.exit_code == 0, res.output
    got, want = read_pose_csv(folder / f"{STEM}_cam01.pose.csv"), truth(session, "cam01")
    K = read_calibration(calib)["cam01"].K
    np.testing.assert_allclose(got.j2d, _distort(K, dist, want.j3d), atol=2e-3)
    assert np.abs(got.j2d - want.j2d).max() > 0.5  # the distortion moved the joints
    side = json.loads((folder / f"{STEM}_cam01.json").read_text())
    assert side["camera"]["distortion"] == dist


def _rewrite_trc(path: Path, edit) -> None:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")


def test_missing_markers_are_empty_cells_and_offset(session: Path, clip, home: Path) -> None:
    folder, video = clip
    video("cam01")
    trc = folder / f"{STEM}.trc"
    n = len(truth(session, "cam01"))

    def edit(lines):
        cells = lines[6].split("\t")
        cells[2:5] = ["", "", ""]  # Head missing in the second frame
        lines[6] = "\t".join(cells)
        lines = lines[:-2]  # the last two frames are not in the file
        head = lines[2].split("\t")
        head[2] = str(n - 2)
        lines[2] = "\t".join(head)
        return lines

    _rewrite_trc(trc, edit)
    line = failed(from_trc(home, folder), trc.name)  # counts differ: explicit offset needed
    assert "--frame-offset" in line and f"has {n}" in line
    assert not (folder / f"{STEM}_cam01.pose.csv").exists()
    res = from_trc(home, folder, "cam01", None, None, "--frame-offset", "0")
    assert res.exit_code == 0, res.output
    labels = folder / f"{STEM}_cam01.pose.csv"
    assert "nan" not in labels.read_text().lower()
    got = read_pose_csv(labels, n_frames=n)
    assert np.isnan(got.j3d[1, 0]).all() and np.isnan(got.j2d[1, 0]).all()
    assert np.isfinite(got.j3d[1, 1:]).all()
    assert np.isnan(got.j3d[-2:]).all()
    np.testing.assert_allclose(got.j3d[2:-2], truth(session, "cam01").j3d[2:-2], atol=1e-5)
    # shifted by two, the n - 2 rows end on the last frame; by three, past it
    res = from_trc(home, folder, "cam01", None, None, "--frame-offset", "2")
    assert res.exit_code == 0
    np.testing.assert_allclose(read_pose_csv(labels).j3d[3, 1:],
                               truth(session, "cam01").j3d[1, 1:], atol=1e-5)
    before = snapshot(folder)
    failed(from_trc(home, folder, "cam01", None, None, "--frame-offset", "3"), trc.name)
    assert snapshot(folder) == before


def test_marker_map(session: Path, clip, home: Path, tmp_path: Path) -> None:
    folder, video = clip
    video("cam01")
    trc = folder / f"{STEM}.trc"
    # a set without Head or Neck (e.g. Pose2Sim's COCO_17 names it Nose and has no Neck)
    _rewrite_trc(trc, lambda ls: ls[:3] + [ls[3].replace("Head", "Nose").replace(
        "Neck", "Chest")] + ls[4:])
    before = snapshot(folder)
    line = failed(from_trc(home, folder), trc.name)
    assert "head" in line and "neck" in line and "--map" in line
    assert snapshot(folder) == before
    bad = tmp_path / "bad.map"
    bad.write_text("noggin = Nose\n")
    failed(from_trc(home, folder, "cam01", None, None, "--map", bad), "bad.map")
    bad.write_text("head = Nose\nneck = Sternum\n")
    failed(from_trc(home, folder, "cam01", None, None, "--map", bad), "bad.map")
    assert snapshot(folder) == before
    good = tmp_path / "coco.map"
    good.write_text("# dive14 joint = marker expression\nhead = Nose\n"
                    "neck = LShoulder + RShoulder\n")
    res = from_trc(home, folder, "cam01", None, None, "--map", good)
    assert res.exit_code == 0, res.output
    got, want = read_pose_csv(folder / f"{STEM}_cam01.pose.csv"), truth(session, "cam01")
    np.testing.assert_allclose(got.j3d[:, 0], want.j3d[:, 0], atol=1e-5)  # Nose -> head
    np.testing.assert_allclose(got.j3d[:, 1], want.j3d[:, 2:4].mean(1), atol=1e-5)


@pytest.mark.parametrize("case", ["camera", "calib-key", "calib-toml", "rate", "not-trc",
                                  "bad-labels", "size"])
def test_from_trc_bad_inputs(clip, home: Path, case: str) -> None:
    folder, video = clip
    video("cam01")
    trc, calib = folder / f"{STEM}.trc", folder / f"{STEM}_calibration.toml"
    cam, name = "cam01", calib.name
    if case == "camera":
        cam = "cam07"
    elif case == "calib-key":
        calib.write_text(calib.read_text().replace("rotation = ", "rotation_ = ", 2))
    elif case == "calib-toml":
        calib.write_text("[cam01\nname = 1\n")
    elif case == "rate":
        _rewrite_trc(trc, lambda ls: ls[:2] + [ls[2].replace("10\t10", "60\t60", 1)] + ls[3:])
        name = trc.name
    elif case == "not-trc":
        trc.write_text("hello\n")
        name = trc.name
    elif case == "bad-labels":
        (folder / f"{STEM}_cam01.pose.csv").write_text("frame,time_s,head_x\n0,0,nan\n")
        name = f"{STEM}_cam01.pose.csv"
    elif case == "size":
        calib.write_text(calib.read_text().replace("size = [ 64.0, 64.0]", "size = [ 128.0, 64.0]"))
    before = snapshot(folder)
    line = failed(from_trc(home, folder, cam), name)
    if case == "camera":
        assert "cam07" in line and "cam00, cam01, cam02" in line
    assert snapshot(folder) == before


# ---------------------------------------------------------------- from-openpose


def write_openpose(folder: Path, uv: np.ndarray, layout: str = "halpe26",
                   others: dict[int, list[np.ndarray]] | None = None, first: int = 0) -> Path:
    """One JSON per frame from dive14 pixels (NaN = not detected) in ``layout``; extra
    people per frame from ``others`` are listed before the athlete."""
    folder.mkdir(parents=True, exist_ok=True)
    names = LAYOUTS[layout]
    for t, frame in enumerate(uv):
        kp = np.zeros((len(names), 3))
        for j, joint in enumerate(DIVE14):
            name = DEFAULT_MAP[joint]
            if name in names and np.isfinite(frame[j]).all():
                kp[names.index(name)] = [*frame[j], 0.9]
        people = [{"person_id": [-1], "pose_keypoints_2d": p.ravel().tolist()}
                  for p in (others or {}).get(t, [])]
        people.append({"person_id": [-1], "pose_keypoints_2d": kp.ravel().tolist()})
        name = f"cam01_{first + t:012d}_keypoints.json"
        (folder / name).write_text(json.dumps({"version": 1.3, "people": people}))
    return folder


def from_openpose(home, folder, jsons, *extra):
    return run(home, "labels", "from-openpose", jsons, "--video",
               folder / f"{STEM}_cam01.mp4", *extra)


def test_from_openpose_merges_into_3d(session: Path, clip, home: Path) -> None:
    folder, video = clip
    video("cam01")
    assert from_trc(home, folder).exit_code == 0  # 3D (and projected 2D) first
    want = truth(session, "cam01")
    detected = want.j2d + 0.3  # a detector that is a little off
    detected[4, 3] = np.nan  # r_shoulder not found in frame 4
    jsons = write_openpose(folder / "json", detected)
    res = from_openpose(home, folder, jsons)
    assert res.exit_code == 0, res.output
    assert "layout halpe26" in res.output
    got = read_pose_csv(folder / f"{STEM}_cam01.pose.csv")
    np.testing.assert_allclose(got.j2d, detected, atol=1e-4)
    assert np.abs(got.j3d - want.j3d).max() < 1e-3  # the 3D stayed
    assert np.nanmin(got.conf) == pytest.approx(0.9) and np.isnan(got.conf[4, 3])
    # only 2D on a clip without labels
    (folder / f"{STEM}_cam01.pose.csv").unlink()
    assert from_openpose(home, folder, jsons).exit_code == 0
    got = read_pose_csv(folder / f"{STEM}_cam01.pose.csv")
    assert got.j3d is None and got.kind == "2d"


def test_layouts_by_count() -> None:
    assert detect_layout(17, Path("j")) == "coco17" and detect_layout(26, Path("j")) == "halpe26"
    with pytest.raises(InputError, match="body25 or body25b: pass --layout"):
        detect_layout(25, Path("j"))
    assert detect_layout(25, Path("j"), "body25b") == "body25b"
    with pytest.raises(InputError, match="has 17 keypoints"):
        detect_layout(26, Path("j"), "coco17")
    with pytest.raises(InputError, match="18 keypoints"):
        detect_layout(18, Path("j"))


def test_coco17_and_body25(session: Path, clip, home: Path) -> None:
    """Layouts without a head/neck keypoint: head = mid-ears (else the nose), neck =
    mid-shoulders (coco17)."""
    folder, video = clip
    video("cam01")
    want = truth(session, "cam01").j2d
    for layout in ("coco17", "body25"):
        names = LAYOUTS[layout]
        jsons = folder / layout
        jsons.mkdir()
        for t, frame in enumerate(want):
            kp = np.zeros((len(names), 3))
            for j, joint in enumerate(DIVE14):
                if DEFAULT_MAP[joint] in names:
                    kp[names.index(DEFAULT_MAP[joint])] = [*frame[j], 1.0]
            kp[names.index("LEar")] = [*(frame[0] + 1), 1.0]
            kp[names.index("REar")] = [*(frame[0] - 1), 0.05 if t == 2 else 1.0]
            kp[names.index("Nose")] = [*(frame[0] + 3), 1.0]
            (jsons / f"f_{t:04d}.json").write_text(
                json.dumps({"people": [{"pose_keypoints_2d": kp.ravel().tolist()}]}))
        extra = ["--layout", "body25"] if layout == "body25" else []
        res = from_openpose(home, folder, jsons, *extra)
        assert res.exit_code == 0, res.output
        got = read_pose_csv(folder / f"{STEM}_cam01.pose.csv").j2d
        head = want[:, 0].copy()
        head[2] += 3  # an ear below --min-confidence: the nose instead
        np.testing.assert_allclose(got[:, 0], head, atol=1e-4)
        neck = want[:, 2:4].mean(1) if layout == "coco17" else want[:, 1]
        np.testing.assert_allclose(got[:, 1], neck, atol=1e-4)
        np.testing.assert_allclose(got[:, 2:], want[:, 2:], atol=1e-4)
    # 25 keypoints without --layout is ambiguous
    failed(from_openpose(home, folder, folder / "body25"), "body25")


def test_several_people_keep_the_tracked_one(session: Path, clip, home: Path) -> None:
    folder, video = clip
    video("cam01")
    want = truth(session, "cam01").j2d
    rng = np.random.default_rng(0)

    def person(frame, shift, conf):
        kp = np.zeros((26, 3))
        kp[:, :2] = frame.mean(0) + shift + rng.normal(0, 2, (26, 2))
        kp[:, 2] = conf
        return kp

    # frame 0: a more confident bystander appears later; from frame 3 on, a second
    # person listed first, far away but very confident
    others = {t: [person(want[t], (25.0, 5.0), 1.0)] for t in range(3, len(want))}
    jsons = write_openpose(folder / "json", want, others=others)
    res = from_openpose(home, folder, jsons)
    assert res.exit_code == 0, res.output
    assert f"frames 3-{len(want) - 1}" in res.output and "kept people[1]" in res.output
    got = read_pose_csv(folder / f"{STEM}_cam01.pose.csv").j2d
    np.testing.assert_allclose(got, want, atol=1e-4)
    # the first frame has no previous person: the most confident is kept
    jsons2 = write_openpose(folder / "json2", want[:1],
                            others={0: [person(want[0], (20.0, 0.0), 0.2)]})
    for t in range(1, len(want)):
        shutil.copy(jsons / f"cam01_{t:012d}_keypoints.json", jsons2)
    res = from_openpose(home, folder, jsons2)
    assert res.exit_code == 0 and "the most confident" in res.output


@pytest.mark.parametrize("case", ["count", "gap", "malformed", "keypoints", "empty"])
def test_from_openpose_bad_inputs(session: Path, clip, home: Path, case: str) -> None:
    folder, video = clip
    video("cam01")
    want = truth(session, "cam01").j2d
    jsons = write_openpose(folder / "json", want)
    files = sorted(jsons.iterdir())
    name = "json"
    if case == "count":
        files[-1].unlink()
    elif case == "gap":
        files[3].unlink()
    elif case == "malformed":
        files[2].write_text("{")
        name = files[2].name
    elif case == "keypoints":
        files[2].write_text(json.dumps({"people": [{"pose_keypoints_2d": [1, 2]}]}))
        name = files[2].name
    elif case == "empty":
        for f in files:
            f.unlink()
    before = snapshot(folder)
    line = failed(from_openpose(home, folder, jsons), name)
    if case == "count":
        assert "--frame-offset" in line
    assert snapshot(folder) == before


def test_openpose_offset_and_trimmed(session: Path, clip, home: Path) -> None:
    folder, video = clip
    video("cam01")
    want = truth(session, "cam01").j2d
    jsons = write_openpose(folder / "json", want[4:9], first=4)
    res = from_openpose(home, folder, jsons, "--frame-offset", "4")
    assert res.exit_code == 0, res.output
    labels = folder / f"{STEM}_cam01.pose.csv"
    got = read_pose_csv(labels).j2d
    assert np.isnan(got[:4]).all() and np.isnan(got[9:]).all()
    np.testing.assert_allclose(got[4:9], want[4:9], atol=1e-4)
    assert "nan" not in labels.read_text().lower()

