"""Export writers: CSV round trip, TRC (loaded by OpenSim itself), MOT, JSON."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import tempose_cli
from models.skeleton import DIVE14
from tempose_cli.core.labels import PoseTrack, read_pose_csv
from tempose_cli.media.exports import (
    export_names,
    export_record,
    fill_gaps,
    trc_rotation,
    write_csv,
    write_json,
    write_mot,
    write_trc,
)
from tempose_cli.pose.biomech import joint_angles

FPS = 25.0


def make_track(n: int = 30, seed: int = 0) -> PoseTrack:
    """A wandering body in camera coordinates, with gaps: frame 0 and the last frame
    miss a joint (dropped in TRC), frames 10-12 miss another (interpolated)."""
    rng = np.random.default_rng(seed)
    base = rng.normal(0, 0.3, (14, 3)) + (0, 0, 6.0)
    j3d = base + np.cumsum(rng.normal(0, 0.01, (n, 14, 3)), 0)
    j3d = j3d.round(6)
    j3d[0, 3] = np.nan
    j3d[-1, 7] = np.nan
    j3d[10:13, 5] = np.nan
    j2d = (j3d[..., :2] / j3d[..., 2:] * 500 + 320).round(4)
    return PoseTrack(frame=np.arange(n), time_s=np.arange(n) / FPS, j3d=j3d, j2d=j2d,
                     conf=np.ones((n, 14)) * 0.5)


def test_csv_round_trip(tmp_path: Path):
    track = make_track()
    path = write_csv(tmp_path / "x.pose.csv", track)
    back = read_pose_csv(path, n_frames=len(track))
    np.testing.assert_array_equal(back.j3d, track.j3d)  # NaN where NaN, same numbers
    np.testing.assert_array_equal(back.j2d, track.j2d)
    np.testing.assert_array_equal(back.conf, track.conf)
    np.testing.assert_array_equal(back.time_s, track.time_s)


def test_csv_round_trip_of_generated_labels(tmp_path: Path):
    """Labels of a rendered dive -> export -> re-import: the same numbers."""
    pytest.importorskip("pybullet")
    from tempose_cli.synth.generate import SynthConfig, generate

    generate(SynthConfig(out_dir=tmp_path, athletes=1, clips=1, fps=10.0, size=(64, 64),
                         seed=1, heights=(3.0,)))
    labels = read_pose_csv(tmp_path / "dive_a01_d001.pose.csv")
    write_csv(tmp_path / "export.pose.csv", labels)
    back = read_pose_csv(tmp_path / "export.pose.csv", n_frames=len(labels))
    for name in ("j3d", "j2d", "vis", "time_s", "frame"):
        np.testing.assert_array_equal(getattr(back, name), getattr(labels, name))
    assert (tmp_path / "export.pose.csv").read_bytes() == \
        (tmp_path / "dive_a01_d001.pose.csv").read_bytes()


def test_fill_gaps_reports_what_it_did():
    x = np.arange(10.0)[:, None].repeat(2, 1)
    x[0, 0] = x[4:6, 1] = x[9, 1] = np.nan
    out, rep = fill_gaps(x, ["a", "b"])
    assert (rep.first, rep.last) == (1, 8) and len(out) == 8
    np.testing.assert_allclose(out[:, 1], np.arange(1.0, 9.0))  # linear fill is exact
    assert rep.filled == {"a": 0, "b": 2}
    assert rep.dropped_leading == 1 and rep.dropped_trailing == 1
    assert len(rep.lines()) == 3
    with pytest.raises(ValueError, match="b has no value"):
        fill_gaps(np.c_[np.ones(3), np.full(3, np.nan)], ["a", "b"])


def test_trc_axes():
    np.testing.assert_allclose(trc_rotation(), np.diag([1.0, -1.0, -1.0]))
    up = np.array([0.0, -np.cos(0.3), np.sin(0.3)])  # a camera pitched by 0.3 rad
    Rt = trc_rotation(up)
    np.testing.assert_allclose(Rt @ Rt.T, np.eye(3), atol=1e-12)
    assert np.linalg.det(Rt) == pytest.approx(1.0)
    np.testing.assert_allclose(Rt @ up, [0, 1, 0], atol=1e-12)  # Y is up


def _parse_trc(path: Path) -> tuple[list[list[str]], np.ndarray]:
    """Read the file as OpenSim's TRCFileAdapter does: tab/space-delimited header
    lines 1-5 (line 3 holds the values of the keys on line 2), data from line 6 on,
    each row Frame#, Time and 3 numbers per marker."""
    lines = path.read_text().splitlines()
    header = [ln.split("\t") for ln in lines[:5]]
    data = np.array([[float(v) for v in ln.split()] for ln in lines[5:] if ln.strip()])
    return header, data


def test_trc_is_nan_free_with_the_opensim_header(tmp_path: Path):
    track = make_track()
    path = tmp_path / "x.trc"
    rep = write_trc(path, track, FPS)
    header, data = _parse_trc(path)
    assert header[0] == ["PathFileType", "4", "(X/Y/Z)", "x.trc"]
    keys = ["DataRate", "CameraRate", "NumFrames", "NumMarkers", "Units", "OrigDataRate",
            "OrigDataStartFrame", "OrigNumFrames"]
    assert header[1] == keys
    meta = dict(zip(keys, header[2], strict=True))
    n = len(track) - 2  # first and last frames are dropped, the interior gap filled
    assert meta == {"DataRate": "25", "CameraRate": "25", "NumFrames": str(n),
                    "NumMarkers": "14", "Units": "m", "OrigDataRate": "25",
                    "OrigDataStartFrame": "2", "OrigNumFrames": str(len(track))}
    assert [c for c in header[3] if c][:3] == ["Frame#", "Time", "head"]
    assert [c for c in header[3] if c][2:] == list(DIVE14)
    assert [c for c in header[4] if c][:4] == ["X1", "Y1", "Z1", "X2"]
    assert data.shape == (n, 2 + 3 * 14) and np.isfinite(data).all()
    np.testing.assert_array_equal(data[:, 0], np.arange(2, n + 2))  # Frame# from 1
    np.testing.assert_allclose(data[:, 1], np.arange(1, n + 1) / FPS)  # frame / fps
    # Y up: the camera's -y; frame 1, head.
    np.testing.assert_allclose(data[0, 2:5], track.j3d[1, 0] * (1, -1, -1), atol=1e-6)
    assert rep.filled["r_elbow"] == 3 and rep.dropped_leading == rep.dropped_trailing == 1


def _opensim():
    osim = pytest.importorskip("opensim")
    osim.Logger.removeFileSink()  # else it writes opensim.log into the working folder
    return osim


def test_trc_loads_in_opensim(tmp_path: Path):
    osim = _opensim()
    track = make_track()
    path = tmp_path / "dive.trc"
    write_trc(path, track, FPS)
    table = osim.TimeSeriesTableVec3(str(path))  # OpenSim's TRCFileAdapter
    assert table.getNumRows() == len(track) - 2
    assert table.getNumColumns() == 14
    assert list(table.getColumnLabels()) == list(DIVE14)
    assert table.getIndependentColumn()[0] == pytest.approx(1 / FPS)
    assert table.getTableMetaDataAsString("Units") == "m"
    assert table.getTableMetaDataAsString("DataRate") == "25"
    row = table.getRowAtIndex(0)
    assert row[0].get(1) == pytest.approx(-track.j3d[1, 0, 1], abs=1e-6)


def test_mot_header_and_opensim(tmp_path: Path):
    track = make_track()
    angles = joint_angles(track.j3d)
    path = tmp_path / "angles.mot"
    rep = write_mot(path, track.time_s, angles)
    lines = path.read_text().splitlines()
    n = len(track) - 2
    assert lines[:6] == ["Coordinates", "version=1", f"nRows={n}",
                         f"nColumns={len(angles) + 1}", "inDegrees=yes", "endheader"]
    assert lines[6].split("\t") == ["time", *angles]
    rows = np.array([[float(v) for v in ln.split("\t")] for ln in lines[7:]])
    assert rows.shape == (n, len(angles) + 1) and np.isfinite(rows).all()
    assert rep.dropped_leading == 1
    osim = _opensim()
    table = osim.TimeSeriesTable(str(path))
    assert table.getNumRows() == n and table.getNumColumns() == len(angles)
    assert table.getTableMetaDataAsString("inDegrees") == "yes"


def test_json_record(tmp_path: Path):
    summary = {"somersaults": 1.5, "g_fit_mps2": float("nan"), "ok": np.bool_(True),
               "frames": np.int64(3), "curve": np.array([1.0, np.nan])}
    rec = export_record(clip="dive_a01_d001", fps=FPS, n_frames=30, athlete="A01", run=4,
                        fit="mlp-10pct", smoothing={"applied": False}, summary=summary,
                        files=export_names("dive_a01_d001_fit3", "_smooth-butter6hz"))
    path = write_json(tmp_path / "x.json", rec)
    back = json.loads(path.read_text())
    assert back["software"] == {"name": "tempose", "version": tempose_cli.__version__}
    assert (back["clip"], back["athlete"], back["run"], back["fit"]) == \
        ("dive_a01_d001", "A01", 4, "mlp-10pct")
    assert back["units"]["j3d"] == "m" and "Y up" in back["axes"]["trc"]
    assert back["summary"] == {"somersaults": 1.5, "g_fit_mps2": None, "ok": True,
                               "frames": 3, "curve": [1.0, None]}
    assert back["files"]["trc"] == "dive_a01_d001_fit3_smooth-butter6hz.trc"
    assert "NaN" not in path.read_text()


def test_writes_leave_nothing_partial(tmp_path: Path):
    track = make_track()
    track.j3d[:, 4] = np.nan  # a marker never seen: no TRC can be written
    with pytest.raises(ValueError, match="l_elbow"):
        write_trc(tmp_path / "bad.trc", track, FPS)
    assert list(tmp_path.iterdir()) == []
