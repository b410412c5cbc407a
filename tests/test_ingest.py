import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from store.framecache import open_frames
from tempose_cli.core.labels import PoseTrack, write_pose_csv
from tempose_cli.media.video import read_all_frames
from tempose_cli.pipeline import ingest as ingest_mod

from .conftest import moving_square_frames, write_clip


def labels_for(n: int, seed: int = 0) -> PoseTrack:
    rng = np.random.default_rng(seed)
    return PoseTrack(frame=np.arange(n), time_s=np.arange(n) / 25,
                     j3d=rng.normal(size=(n, 14, 3)), j2d=rng.random((n, 14, 2)) * 40)


def catalogue_rows(home: Path, sql: str = "select path from clips order by id") -> list:
    db = home / "catalogue.sqlite"
    if not db.exists():
        return []
    with sqlite3.connect(db) as c:
        return c.execute(sql).fetchall()


def test_ingest_success_path(cli, clip_factory, home: Path) -> None:
    a = clip_factory("a.mp4", sidecar={"sport": "dive", "athlete": "A01", "dive": "107B",
                                       "height_m": 10, "split": ["train"],
                                       "camera": {"K": [[50, 0, 32], [0, 50, 24], [0, 0, 1]]}})
    write_pose_csv(a.with_name("a.pose.csv"), labels_for(24))
    clip_factory("b.mp4", frames=moving_square_frames(seed=1))
    res = cli("ingest", a.parent, "--sport", "ski", "--athlete", "A02", "--work-size", "32")
    assert res.exit_code == 0, res.output
    assert "2 ingested" in res.output

    res = cli("clips", "list", json_out=True)
    clips = {Path(c["path"]).name: c for c in json.loads(res.stdout)}
    assert clips["a.mp4"]["sport"] == "dive"  # the sidecar wins over the command line
    assert clips["a.mp4"]["athlete"] == "A01" and clips["a.mp4"]["dive"] == "107B"
    assert clips["a.mp4"]["height_m"] == 10 and clips["a.mp4"]["split"] == ["train"]
    assert clips["a.mp4"]["labels"] == [{"kind": "2d+3d", "frames_3d": 24, "frames_2d": 24,
                                         "source": str(a.with_name("a.pose.csv"))}]
    assert clips["b.mp4"]["sport"] == "ski" and clips["b.mp4"]["athlete"] == "A02"
    assert clips["b.mp4"]["background"] == "panorama"
    for c in clips.values():
        assert c["frame_count"] == 24 and c["size"] == [64, 48] and c["fps"] == 25
        assert c["work_size"] == [32, 24]
    # The cache holds exactly what ffmpeg decodes at the work resolution.
    cached = open_frames(home / clips["a.mp4"]["frames_path"])
    np.testing.assert_array_equal(cached, read_all_frames(a, (32, 24)))
    # Median background equals numpy's per-pixel median of the decoded frames.
    med = np.load(home / clips["a.mp4"]["background_path"])
    np.testing.assert_array_equal(med, np.median(np.asarray(cached), axis=0).astype(np.float32))
    pano = np.load(home / clips["b.mp4"]["background_path"], mmap_mode="r")
    assert pano.shape == (24, 24, 32, 3) and pano.dtype == np.uint8

    res = cli("clips", "list", "--athlete", "A01")
    assert "a.mp4" in res.output and "b.mp4" not in res.output
    res = cli("clips", "show", str(clips["a.mp4"]["id"]))
    assert res.exit_code == 0 and "107B" in res.output


def test_dive_halves_background(cli, clip_factory, home: Path) -> None:
    a = clip_factory("a.mp4")
    assert cli("ingest", a, "--background", "dive-halves").exit_code == 0
    clip = json.loads(cli("clips", "show", "1", json_out=True).stdout)
    frames = open_frames(home / clip["frames_path"])
    bg = np.load(home / clip["background_path"])
    np.testing.assert_array_equal(bg[:24], frames[-1][:24])
    np.testing.assert_array_equal(bg[24:], frames[0][24:])


def test_reingest_is_noop_and_moves_are_recognised(cli, clip_factory, home: Path) -> None:
    a = clip_factory("a.mp4")
    assert cli("ingest", a).exit_code == 0
    before = catalogue_rows(home, "select id, content_hash, frames_path from clips")
    res = cli("ingest", a)
    assert res.exit_code == 0 and "already catalogued as clip 1" in res.output
    moved = a.with_name("renamed.mp4")
    a.rename(moved)
    res = cli("ingest", moved, json_out=True)
    out = json.loads(res.stdout)
    assert out["summary"] == {"ingested": 0, "catalogued": 1, "failed": 0}
    assert "moved from" in out["files"][0]["message"]
    assert catalogue_rows(home, "select id, content_hash, frames_path from clips") == before
    assert catalogue_rows(home) == [(str(moved.resolve()),)]


def _bad_inputs(folder: Path) -> dict[str, str]:
    """Broken files beside good ones; name -> expected words of the one-line reason."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "zero.mp4").write_bytes(b"")
    (folder / "text.mp4").write_text("this is not a video\n" * 20)
    good = write_clip(folder / "src.mp4")
    data = good.read_bytes()
    (folder / "truncated.mp4").write_bytes(data[: len(data) // 2])
    corrupt = bytearray(data)
    for i in range(len(data) // 3, len(data) // 3 + 400):
        corrupt[i] ^= 0x5A
    (folder / "corrupt.mp4").write_bytes(bytes(corrupt))
    os.symlink(folder / "missing-target.mp4", folder / "dangling.mp4")
    (folder / "dir.mp4").mkdir()
    write_clip(folder / "badjson.mp4", frames=moving_square_frames(seed=2))
    (folder / "badjson.json").write_text('{"sport": "dive",')
    write_clip(folder / "badsport.mp4", frames=moving_square_frames(seed=3),
               sidecar={"sport": "swim"})
    for name, seed, edit in [
        ("missingjoint", 4, lambda t: t),
        ("extrajoint", 5, lambda t: t),
        ("nan", 6, lambda t: t),
        ("shortlabels", 7, lambda t: t),
    ]:
        write_clip(folder / f"{name}.mp4", frames=moving_square_frames(seed=seed))
        track = labels_for(24 if name != "shortlabels" else 20)
        write_pose_csv(folder / f"{name}.pose.csv", edit(track))
    lab = folder / "missingjoint.pose.csv"
    rows = [r.split(",") for r in lab.read_text().splitlines()]
    keep = [i for i, h in enumerate(rows[0]) if not h.startswith("l_knee_")]
    lab.write_text("\n".join(",".join(r[i] for i in keep) for r in rows) + "\n")
    lab = folder / "extrajoint.pose.csv"
    lab.write_text(lab.read_text().replace("head_x", "nose_x", 1))
    lab = folder / "nan.pose.csv"
    lines = lab.read_text().splitlines()
    cells = lines[3].split(",")
    cells[4] = "nan"
    lines[3] = ",".join(cells)
    lab.write_text("\n".join(lines) + "\n")
    return {
        "zero.mp4": "empty file",
        "text.mp4": "not a readable video",
        "truncated.mp4": "truncated",
        "corrupt.mp4": "corrupt",
        "dangling.mp4": "no such file",
        "dir.mp4": "not a regular file",
        "badjson.json": "malformed JSON",
        "badsport.json": "'sport' must be one of",
        "missingjoint.pose.csv": "missing 3D columns for joints: l_knee",
        "extrajoint.pose.csv": "extra joints not in the dive14 skeleton: nose",
        "nan.pose.csv": "nan is not allowed",
        "shortlabels.pose.csv": "labels have 20 rows but the video has 24 frames",
    }


def test_bad_inputs_are_reported_and_skipped(cli, tmp_path: Path, home: Path) -> None:
    folder = tmp_path / "mixed"
    expected = _bad_inputs(folder)
    res = cli("ingest", folder, json_out=True)
    assert res.exit_code == 1
    out = json.loads(res.stdout)
    failed = {Path(f["path"]).name: f["message"] for f in out["files"] if f["status"] == "failed"}
    ingested = sorted(Path(f["path"]).name for f in out["files"] if f["status"] == "ingested")
    assert ingested == ["src.mp4"]
    assert len(failed) == len(expected)
    for name, words in expected.items():
        video = name.split(".")[0] + ".mp4"
        message = failed[video]
        assert str(folder / name) in message, message  # names the offending file
        assert words in message, message
        assert "\n" not in message
    assert [Path(p).name for (p,) in catalogue_rows(home)] == ["src.mp4"]
    # Nothing half-written: only the good clip's cache and background exist.
    assert len(list((home / "frames").iterdir())) == 1
    assert len(list((home / "backgrounds").iterdir())) == 1


def test_nonexistent_path_and_unsupported_file(cli, tmp_path: Path) -> None:
    txt = tmp_path / "notes.txt"
    txt.write_text("x")
    res = cli("ingest", tmp_path / "nope", txt)
    assert res.exit_code == 1
    assert "no such file or folder" in res.output and "unsupported file type .txt" in res.output


def test_interrupted_ingest_leaves_no_clip(cli, clip_factory, home: Path, monkeypatch) -> None:
    a = clip_factory("a.mp4")

    def boom(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(ingest_mod, "_estimate_background", boom)
    res = cli("ingest", a)
    assert res.exit_code != 0
    assert catalogue_rows(home) == []
    assert not [p for p in (home / "frames").iterdir() if ".tmp-" in p.name]
    monkeypatch.undo()
    res = cli("ingest", a)
    assert res.exit_code == 0 and "1 ingested" in res.output


def _run_ingest(home: Path, folder: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "tempose_cli", "--home", str(home), "--json", "ingest",
         str(folder), "--work-size", "64"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.fixture
def folder_of_clips(tmp_path: Path) -> Path:
    folder = tmp_path / "many"
    for i in range(6):
        write_clip(folder / f"c{i}.mp4", frames=moving_square_frames(n=40, seed=10 + i))
    return folder


def test_killed_ingest_lists_only_complete_clips(folder_of_clips: Path, home: Path) -> None:
    proc = _run_ingest(home, folder_of_clips)
    time.sleep(2.5)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    for (frames_path, count) in catalogue_rows(home, "select frames_path, frame_count from clips"):
        assert open_frames(home / frames_path).shape[0] == count == 40
    proc = _run_ingest(home, folder_of_clips)
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    assert len(catalogue_rows(home)) == 6
    assert not [p for d in ("frames", "backgrounds") for p in (home / d).iterdir()
                if ".tmp-" in p.name]


def test_concurrent_ingest_of_one_folder(folder_of_clips: Path, home: Path) -> None:
    procs = [_run_ingest(home, folder_of_clips) for _ in range(2)]
    outs = [p.communicate(timeout=300) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [o[1] for o in outs]
    assert "database is locked" not in "".join(o[1] for o in outs)
    assert len(catalogue_rows(home)) == 6  # each clip exactly once
    statuses = [f["status"] for o in outs for f in json.loads(o[0])["files"]]
    assert statuses.count("ingested") == 6 and statuses.count("catalogued") == 6
