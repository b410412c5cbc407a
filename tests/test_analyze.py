"""`tempose analyze` / `tempose export` on generated dives (CPU, seconds).

One small catalogue (3 athletes x 1 dive, 64 px, 20 fps), an untrained seeded
training run, the real ``tempose extract`` and a short ``tempose fit``: the numbers
mean nothing, the files, their consistency and the catalogue records are what is
checked. Every failure must leave the catalogue exactly as it was and no folder behind.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from sqlalchemy import select, text

from models.skeleton import DIVE14, pelvis_centred
from store.catalogue import get_clip, list_clips
from store.schema import Export, Run
from tempose_cli.core.errors import TemposeError
from tempose_cli.core.labels import read_pose_csv
from tempose_cli.core.workspace import Workspace
from tempose_cli.media.video import probe
from tempose_cli.pipeline.analyze import AnalyzeOptions, analyze, parse_ids
from tempose_cli.pipeline.evaluate import predict

from .conftest import add_train_run, generated_catalogue, ok, sessions, tempose

pytestmark = pytest.mark.usefixtures("one_thread")
CPU = ["--device", "cpu"]


@pytest.fixture(scope="module")
def cat(tmp_path_factory) -> dict:
    h = generated_catalogue(tmp_path_factory.mktemp("analyze"), clips=1, heights=(5.0,))
    run, _ = add_train_run(h, "0001-ours")
    ok(h, "extract", "--run", run, *CPU)
    fit = ok(h, "fit", "--run", run, "--split", "diver", "--steps", "5", "--hidden", "32",
             *CPU)["fit"]
    with sessions(h).begin() as s:
        clips = {c.id: {"frames": c.frame_count, "path": c.path, "video_fps": c.video_fps,
                        "athlete": c.athlete.name} for c in list_clips(s)}
    return {"home": h, "run": run, "fit": fit, "clips": clips}


def snapshot(home: Path) -> dict:
    """Every row of the catalogue's tables, to compare before and after a failure."""
    with sessions(home).begin() as s:
        tables = [r[0] for r in s.execute(text(
            "select name from sqlite_master where type = 'table'"))]
        return {t: sorted(map(tuple, s.execute(text(f"select * from {t}")).all()), key=str)
                for t in tables}


def exports_of(home: Path, folder: str) -> list[Export]:
    with sessions(home).begin() as s:
        inside = Export.path.startswith(folder + "/", autoescape=True)
        return list(s.scalars(select(Export).where(inside)))


def leftovers(root: Path) -> list[str]:
    return sorted(p.name for p in root.iterdir() if p.name.startswith(".")) \
        if root.exists() else []


def test_analyze_writes_consistent_exports(cat) -> None:
    h, fit = cat["home"], cat["fit"]
    clip = min(cat["clips"])
    n = cat["clips"][clip]["frames"]
    res = ok(h, "analyze", "--dive", clip, *CPU)
    folder = Path(res["folder"])
    assert folder.parent == h / "exports" and folder.name == f"{res['label']}_fit{fit}"
    assert res["fit"] == fit and res["run"] == cat["run"]  # the only fit is the default
    files = {k: Path(v) for k, v in res["files"].items()}
    assert all(p.parent == folder and p.exists() for p in files.values())
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in files.values())
    assert leftovers(h / "exports") == []

    # CSV: one row per frame, the label schema (re-imports), the fit's prediction.
    track = read_pose_csv(files["csv"], n_frames=n)
    assert len(track) == n and np.isfinite(track.j3d).all() and np.isfinite(track.j2d).all()
    ws = Workspace.from_options(h)
    pred = pelvis_centred(predict(sessions(h), ws, fit, clip))
    assert np.allclose(track.j3d, pred, atol=2e-6)
    assert np.allclose(track.time_s, np.arange(n) / 20.0)

    # TRC: the header's counts and OpenSim's own reader.
    lines = files["trc"].read_text().splitlines()
    header = dict(zip(lines[1].split("\t"), lines[2].split("\t"), strict=True))
    assert int(header["NumFrames"]) == n and int(header["NumMarkers"]) == len(DIVE14)
    osim = pytest.importorskip("opensim")
    osim.Logger.removeFileSink()  # else it writes opensim.log into the working folder
    table = osim.TimeSeriesTableVec3(str(files["trc"]))
    assert table.getNumRows() == n and table.getNumColumns() == len(DIVE14)
    assert list(table.getColumnLabels()) == list(DIVE14)

    # Overlay: the source's fps and frame count.
    src, got = probe(Path(cat["clips"][clip]["path"])), probe(files["overlay"])
    assert got.frame_count == src.frame_count == n and got.fps == pytest.approx(src.fps)
    assert got.codec == "h264"

    # JSON: what the catalogue says.
    rec = json.loads(files["json"].read_text())
    assert (rec["clip_id"], rec["fit"], rec["run"]) == (clip, fit, cat["run"])
    assert rec["athlete"] == cat["clips"][clip]["athlete"] and rec["n_frames"] == n
    assert rec["smoothing"] == {"applied": False} and rec["pose_2d"]["estimate"] is True
    assert set(rec["files"].values()) == {p.name for p in files.values()}
    assert rec["summary"]["dive_code"] == res["summary"]["dive_code"]
    # A dive keeps the dive summary (the ski one is for ski clips only).
    assert rec["sport"] == res["sport"] == "dive" and "sport" not in rec["summary"]
    assert {"somersaults", "flight_time_s", "entry_body_angle_from_vertical_deg"} <= set(
        rec["summary"])
    with sessions(h).begin() as s:
        c = get_clip(s, clip)
        assert rec["dive_code"] == c.dive_code and rec["fps"] == c.fps
        assert s.get(Run, fit).parent_id == rec["run"]
    detector = files["detector_csv"].read_text().splitlines()
    assert len(detector) == n + 1 and detector[0].startswith("frame,time_s,box_x0")
    d = np.array([[float(v) for v in row.split(",")] for row in detector[1:]])
    assert ((d[:, 2] <= d[:, 6]) & (d[:, 6] <= d[:, 4])).all()  # the centre is in the box
    assert ((d[:, 3] <= d[:, 7]) & (d[:, 7] <= d[:, 5])).all()
    log = (folder / "logs.txt").read_text()
    assert f"tempose analyze --dive {clip}" in log and "trc: no gaps" in log

    # Export rows: every file, with the clip and the fit, paths relative to the home.
    rows = exports_of(h, ws.rel(folder))
    assert sorted(r.kind for r in rows) == sorted(
        ["csv", "csv", "trc", "mot", "json", "mp4", "png", "png", "png", "log"])
    assert {(r.clip_id, r.run_id) for r in rows} == {(clip, fit)}
    assert all(not Path(r.path).is_absolute() and (h / r.path).exists() for r in rows)
    assert all(r.params["smoothing"] == {"applied": False} for r in rows)

    # A rerun replaces the folder and its records, leaving nothing aside.
    again = ok(h, "analyze", "--dive", clip, "--fit", fit, *CPU)
    assert again["folder"] == res["folder"]
    assert sorted(r.path for r in exports_of(h, ws.rel(folder))) == sorted(r.path for r in rows)
    assert leftovers(h / "exports") == []


def test_no_video_and_smoothing(cat) -> None:
    h = cat["home"]
    clip = max(cat["clips"])
    plain = ok(h, "analyze", "--dive", clip, "--no-video", *CPU)
    smooth = ok(h, "analyze", "--dive", clip, "--no-video", "--smooth", "6", *CPU)
    assert Path(smooth["folder"]).name == Path(plain["folder"]).name + "_smooth-butter6hz"
    for res in (plain, smooth):
        assert "overlay" not in res["files"]
        assert not list(Path(res["folder"]).glob("*.mp4"))
        kinds = {r.kind for r in exports_of(h, Workspace.from_options(h).rel(res["folder"]))}
        assert "mp4" not in kinds and "trc" in kinds
    rec = json.loads(Path(smooth["files"]["json"]).read_text())
    assert rec["smoothing"]["applied"] and rec["smoothing"]["cutoff_hz"] == 6
    assert rec["smoothing"]["order"] == 4
    a, b = (read_pose_csv(r["files"]["csv"]).j3d for r in (plain, smooth))
    assert a.shape == b.shape and not np.allclose(a, b)
    assert all(Path(p).name.startswith(Path(smooth["folder"]).name)
               for k, p in smooth["files"].items() if k != "log")


def test_export_batch_goes_on_past_a_failure(cat, tmp_path) -> None:
    h = cat["home"]
    ids = sorted(cat["clips"])
    out = tmp_path / "batch"
    res = ok(h, "export", "--dives", f"{ids[0]}-{ids[1]}", "--no-video", "--out", out, *CPU)
    assert [r["clip"] for r in res["done"]] == ids[:2] and res["failed"] == []
    assert len([p for p in out.iterdir() if p.is_dir()]) == 2
    bad = tempose(h, "export", "--dives", f"{ids[0]},999", "--no-video", "--out", out, *CPU)
    assert bad.exit_code == 1
    rec = json.loads(bad.stdout)
    assert [r["clip"] for r in rec["done"]] == ids[:1]
    assert rec["failed"] == [{"dive": 999,
                              "error": "no clip with id 999 (see: tempose clips list)"}]
    text_out = tempose(h, "export", "--dives", "999", "--no-video", *CPU, json_out=False)
    assert text_out.exit_code == 1 and "failed: no clip with id 999" in text_out.stdout


@pytest.mark.parametrize("spec, message", [("3-1", "runs backwards"), ("1,x", "'x'"),
                                           ("", "is not an id"), ("1-", "'1-'")])
def test_bad_dive_ranges(cat, spec, message) -> None:
    with pytest.raises(ValueError, match=message):
        parse_ids(spec)
    res = tempose(cat["home"], "export", "--dives", spec, json_out=False)
    assert res.exit_code == 2 and message in res.output


def test_parse_ids() -> None:
    assert parse_ids("1-3,14, 2 ,7-7") == [1, 2, 3, 14, 7]


@pytest.mark.parametrize("args, message, code", [
    (["--dive", "999"], "error: no clip with id 999 (see: tempose clips list)", 2),
    (["--dive", "1", "--fit", "999"], "error: no fit 999", 2),
    (["--dive", "1", "--fit", "1"], "error: no fit 1", 2),  # a training run, not a fit
    (["--dive", "1", "--smooth", "15"], "must be between 0 and 10 Hz", 1),
])
def test_bad_input_is_one_line_and_changes_nothing(cat, args, message, code) -> None:
    h = cat["home"]
    before = snapshot(h)
    res = tempose(h, "analyze", *args, *CPU, json_out=False)
    assert res.exit_code == code, res.output
    assert message in res.stderr and len(res.stderr.strip().splitlines()) == 1
    assert snapshot(h) == before and leftovers(h / "exports") == []


def test_missing_frame_cache_is_named(cat) -> None:
    h = cat["home"]
    clip = min(cat["clips"])
    with sessions(h).begin() as s:
        frames = h / get_clip(s, clip).frames_path
    before = snapshot(h)
    hidden = frames.with_name(frames.name + ".away")
    frames.rename(hidden)
    try:
        res = tempose(h, "analyze", "--dive", clip, *CPU, json_out=False)
    finally:
        hidden.rename(frames)
    assert res.exit_code == 1
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and str(frames) in line and "tempose ingest" in line
    assert snapshot(h) == before


def test_unwritable_output_folder(cat, tmp_path) -> None:
    h = cat["home"]
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the export folder should go")
    before = snapshot(h)
    res = tempose(h, "analyze", "--dive", min(cat["clips"]), "--out", blocker, *CPU,
                  json_out=False)
    assert res.exit_code == 1
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1 and str(blocker) in line and "cannot write" in line
    assert snapshot(h) == before and blocker.read_text().startswith("a file")


def test_failure_midway_leaves_nothing_and_keeps_the_old_folder(cat, tmp_path,
                                                                monkeypatch) -> None:
    h = cat["home"]
    clip = min(cat["clips"])
    ws = Workspace.from_options(h)
    out = tmp_path / "midway"
    opts = AnalyzeOptions(fit_id=cat["fit"], out=out)
    first = analyze(sessions(h), ws, clip, opts, _cpu())
    before = snapshot(h)
    old = {p.name: p.stat().st_mtime_ns for p in Path(first["folder"]).iterdir()}

    def broken(*a, **k):  # noqa: ANN002, ANN003
        raise RuntimeError("ffmpeg could not encode")

    monkeypatch.setattr("tempose_cli.media.overlay.encode_mp4", broken)
    with pytest.raises(TemposeError, match="overlay: ffmpeg could not encode"):
        analyze(sessions(h), ws, clip, opts, _cpu())
    assert snapshot(h) == before and leftovers(out) == []
    assert {p.name: p.stat().st_mtime_ns for p in Path(first["folder"]).iterdir()} == old


def _cpu():  # noqa: ANN202
    import torch

    return torch.device("cpu")


def test_no_fit_says_which_command_to_run(tmp_path) -> None:
    h = generated_catalogue(tmp_path, athletes=1, clips=1, heights=(5.0,))

    def error() -> str:
        before = snapshot(h)
        res = tempose(h, "analyze", "--dive", 1, *CPU, json_out=False)
        assert res.exit_code == 1 and len(res.stderr.strip().splitlines()) == 1
        assert snapshot(h) == before and leftovers(h / "exports") == []
        return res.stderr.strip()

    assert "tempose train" in error()
    run, _ = add_train_run(h, "0001-ours")
    assert (f"run: tempose extract --run {run}, then tempose fit --run {run} --split diver "
            "--fraction 0.1") in error()
    ok(h, "extract", "--run", run, *CPU)
    assert error().endswith(f"no fitted model yet; run: tempose fit --run {run} --split "
                            "diver --fraction 0.1")


def test_default_fit_prefers_one_with_features_and_encodes_otherwise(cat) -> None:
    h = cat["home"]
    bare, _ = add_train_run(h, "0009-not-extracted")
    late = ok(h, "fit", "--run", bare, "--split", "diver", "--finetune", "--steps", "1",
              "--hidden", "32", *CPU)["fit"]
    assert late > cat["fit"]
    clip = min(cat["clips"])
    assert ok(h, "analyze", "--dive", clip, "--no-video", *CPU)["fit"] == cat["fit"]
    res = ok(h, "analyze", "--dive", clip, "--no-video", "--fit", late, *CPU)
    rec = json.loads(Path(res["files"]["json"]).read_text())
    assert rec["run"] == bare and rec["pose_2d"]["latents"] == "encoded"
    assert len(read_pose_csv(res["files"]["csv"])) == cat["clips"][clip]["frames"]


def _clip_truth(h: Path, clip: int):  # noqa: ANN202
    from tempose_cli.core.labels import PoseTrack

    with sessions(h).begin() as s:
        c = get_clip(s, clip)
        return np.array(c.camera["K"], float), PoseTrack.load_npz(h / c.labels[0].array_path)


def test_placement_rule_recovers_the_labelled_2d(cat) -> None:
    """Fed the true pose, the true CG projection as the centre and a box that the rule's
    fill describes exactly, the placement gives back the labelled 2D joints (exactly up
    to the diver's depth change with K; to weak perspective's error without)."""
    from tempose_cli.pose import biomech
    from tempose_cli.pose.placement import place_skeleton

    K, track = _clip_truth(cat["home"], min(cat["clips"]))
    cg = biomech.centre_of_gravity(track.j3d)  # camera coordinates, metres
    anchor = (cg @ K.T)[:, :2] / (cg @ K.T)[:, 2:]
    pc = pelvis_centred(track.j3d)
    q = pc - biomech.centre_of_gravity(pc)[:, None]
    extent = np.maximum(np.ptp(q[..., 0], 1), np.ptp(q[..., 1], 1))
    side = K[0, 0] / cg[:, 2] * extent / 0.85  # the box the rule expects
    body_px = np.nanmean(np.ptp(track.j2d, axis=1).max(-1))
    for camera, tol in ((K, 0.01), (None, 0.1)):
        j2d, info = place_skeleton(pc, anchor, side, camera, fill=0.85)
        err = np.linalg.norm(j2d - track.j2d, axis=-1)
        assert np.nanmean(err) < tol * body_px, (camera is None, np.nanmean(err), body_px)
        assert info["estimate"] and info["px_per_m"] == pytest.approx(
            np.median(K[0, 0] / cg[:, 2]), rel=0.05)


def _model_and_frames(cat):  # noqa: ANN001, ANN202
    """The catalogue's training run loaded, its first clip's frames and features file."""
    from tempose_cli.learn.dataset import features_path, load_clips
    from tempose_cli.learn.features import load_model

    h, clip = cat["home"], min(cat["clips"])
    ws = Workspace.from_options(h)
    with sessions(h).begin() as s:
        run = s.get(Run, cat["run"])
        model, _ = load_model(ws, run, _cpu())
        c = get_clip(s, clip)
        frames = load_clips(ws, [c])[0]
        feats = features_path(ws.abs(run.directory), c.content_hash)
    return model, frames, feats


def test_mask_centre_and_its_fallback(cat, monkeypatch) -> None:
    from tempose_cli.core.geometry import norm_to_px
    from tempose_cli.learn import detector as projection

    model, frames, feats = _model_and_frames(cat)
    det = projection.detector_track(model, frames, _cpu(), feats)
    assert det.source.startswith("features") and det.from_mask.all()
    size = (frames.frames.shape[2], frames.frames.shape[1])
    masks = det.masks(size)
    for i in (0, len(det) // 2, len(det) - 1):  # the centroid of the pasted mask itself
        m = masks[i]
        uv = [(m.sum(0) * np.arange(size[0])).sum() / m.sum(),
              (m.sum(1) * np.arange(size[1])).sum() / m.sum()]
        assert np.allclose(norm_to_px(det.centre[i], size), uv, atol=1e-3)
    monkeypatch.setattr(projection, "MIN_MASK_MASS", 1e12)  # every mask "empty"
    det = projection.detector_track(model, frames, _cpu(), None)  # encoded, no features
    assert det.source == "encoded" and not det.from_mask.any()
    assert np.allclose(det.centre, det.box[:, 2:4])


def test_mask_pasted_once_is_stn_paste_and_draws_the_same_overlay(cat) -> None:
    """The centre (from the paste's factors) and the overlay's mask patches are
    ``stn.paste`` of the decoded masks, and blending a patch draws the same frame as
    blending the whole pasted mask."""
    import torch

    from models.stn import paste
    from tempose_cli.core.geometry import norm_to_px
    from tempose_cli.learn import detector as projection
    from tempose_cli.media.overlay import draw_frame

    model, frames, feats = _model_and_frames(cat)
    det = projection.detector_track(model, frames, _cpu(), feats)
    H, W = frames.frames.shape[1:3]
    ref = paste(torch.from_numpy(det.crop_masks[:, None]).float(),
                torch.from_numpy(det.box).float(), H, W)[:, 0].numpy()  # (T, H, W)
    mass = ref.sum((1, 2))
    uv = np.stack([(ref.sum(1) * np.arange(W)).sum(1), (ref.sum(2) * np.arange(H)).sum(1)],
                  1) / mass[:, None]
    assert det.from_mask.all()
    np.testing.assert_allclose(norm_to_px(det.centre, (W, H)), uv, atol=1e-3)
    patches, full = det.mask_patches((W, H)), det.masks((W, H))
    for i in range(len(det)):
        p = patches[i]
        np.testing.assert_allclose(p.full(), ref[i], atol=1e-5)
        np.testing.assert_array_equal(full[i], p.full())
        assert p.full().sum() == pytest.approx(p.values.sum())  # nothing left outside
        img = frames.frames[i]
        np.testing.assert_array_equal(draw_frame(img, i, mask=p),
                                      draw_frame(img, i, mask=p.full()))
