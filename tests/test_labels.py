from pathlib import Path

import numpy as np
import pytest

from models.skeleton import DIVE14
from tempose_cli.core.errors import InputError
from tempose_cli.core.labels import PoseTrack, pose_csv_header, read_pose_csv, write_pose_csv


def make_track(n: int = 5, seed: int = 0, with_2d: bool = True) -> PoseTrack:
    rng = np.random.default_rng(seed)
    j3d = rng.normal(size=(n, 14, 3)).round(6)
    j3d[1] = np.nan  # an unlabelled frame
    j2d = (rng.random((n, 14, 2)) * 100).round(4) if with_2d else None
    return PoseTrack(frame=np.arange(n), time_s=np.arange(n) / 25.0, j3d=j3d, j2d=j2d,
                     vis=np.ones((n, 14)))


def test_round_trip(tmp_path: Path) -> None:
    track = make_track()
    write_pose_csv(tmp_path / "a.pose.csv", track)
    back = read_pose_csv(tmp_path / "a.pose.csv", n_frames=5)
    np.testing.assert_array_equal(back.j3d, track.j3d)
    np.testing.assert_array_equal(back.j2d, track.j2d)
    assert back.kind == "2d+3d"
    assert list(back.labelled_frames("3d")) == [0, 2, 3, 4]
    # byte-identical on rewrite
    write_pose_csv(tmp_path / "b.pose.csv", back)
    assert (tmp_path / "a.pose.csv").read_bytes() == (tmp_path / "b.pose.csv").read_bytes()


def test_npz_round_trip(tmp_path: Path) -> None:
    track = make_track()
    track.save_npz(tmp_path / "t.npz")
    back = PoseTrack.load_npz(tmp_path / "t.npz")
    np.testing.assert_array_equal(back.j3d, track.j3d)
    assert back.joints == DIVE14


def _rewrite(path: Path, edit) -> Path:
    lines = path.read_text().splitlines()
    path.write_text("\n".join(edit(lines)) + "\n")
    return path


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda ls: [ls[0].replace("head_x", "nose_x")] + ls[1:], "extra joints not in the dive14"),
        (lambda ls: [",".join(c for c in ls[0].split(",")) + ",chin_x"]
         + [r + ",0" for r in ls[1:]], "extra joints"),
        (lambda ls: [ls[0]] + [ls[1].replace(ls[1].split(",")[2], "NaN", 1)] + ls[2:], "NaN"),
        (lambda ls: ls[:-1], "labels have 4 rows but the video has 5 frames"),
        (lambda ls: [ls[0]] + [ls[1].replace("0,", "7,", 1)] + ls[2:], "expected 0"),
        (lambda ls: [ls[0]] + [ls[1] + ",1"] + ls[2:], "cells"),
        (lambda ls: ["frame,time"] + ls[1:], "header must start"),
        (lambda ls: [ls[0]] + [ls[1].replace(ls[1].split(",")[2], "abc", 1)] + ls[2:],
         "not a number"),
        (lambda ls: [], "empty labels file"),
    ],
)
def test_bad_label_files(tmp_path: Path, edit, message: str) -> None:
    path = tmp_path / "x.pose.csv"
    write_pose_csv(path, make_track())
    _rewrite(path, edit)
    with pytest.raises(InputError, match=message) as info:
        read_pose_csv(path, n_frames=5)
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_missing_joint_columns(tmp_path: Path) -> None:
    track = make_track(with_2d=False)
    path = tmp_path / "m.pose.csv"
    write_pose_csv(path, track)
    header = pose_csv_header(track)
    drop = [i for i, h in enumerate(header) if h.startswith("r_ankle_")]
    rows = [line.split(",") for line in path.read_text().splitlines()]
    path.write_text("\n".join(",".join(c for i, c in enumerate(r) if i not in drop)
                              for r in rows) + "\n")
    with pytest.raises(InputError, match="missing 3D columns for joints: r_ankle"):
        read_pose_csv(path)


def test_partly_labelled_joint(tmp_path: Path) -> None:
    track = make_track(with_2d=False)
    track.j3d[0, 3, 1] = np.nan
    path = tmp_path / "p.pose.csv"
    write_pose_csv(path, track)
    with pytest.raises(InputError, match="only partly labelled"):
        read_pose_csv(path)
