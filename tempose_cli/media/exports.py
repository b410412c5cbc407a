"""Export writers in the formats coaches' tools read: CSV, OpenSim TRC and MOT, JSON.

- CSV: the label schema itself (``labels.write_pose_csv``), so an export re-imports as
  labels; NaN (an empty cell) is allowed there and only there.
- TRC (OpenSim markers, also opened by Kinovea): tab-separated, the ``PathFileType 4``
  header, metres, **Y up**, Time = frame / fps, Frame# = frame + 1 (TRC frame numbers
  count from 1; tempose's from 0). Never NaN, because OpenSim's inverse kinematics
  fails on it: interior gaps are filled by linear interpolation, rows at the start or
  end that cannot be filled are dropped, and ``GapReport`` says which.
- MOT (OpenSim storage of joint angles): ``Coordinates``/``version=1``/``nRows``/
  ``nColumns``/``inDegrees=yes``/``endheader``, a ``time`` column first; same gap rule.
- JSON: what was exported, from what (clip, athlete, run, fit, tempose version), units,
  axes, fps, smoothing and the dive summary. NaN becomes null (JSON has no NaN).

TRC axes. Camera coordinates are x right, y down (image rows), z forward (OpenCV).
The TRC frame has Y = up: the world's up in camera coordinates when the camera's
rotation is known (``biomech.gravity_up``), else the image's up (-y, a level camera).
X = the camera's x made perpendicular to Y (image right), Z = X x Y (right-handed;
towards the camera for a level camera). For a level camera this is a 180 degree turn
about x: (X, Y, Z) = (x, -y, -z).
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

import tempose_cli
from store.files import write_atomic
from tempose_cli.core.labels import PoseTrack, write_pose_csv

UNITS = {"j3d": "m", "j2d": "px", "time_s": "s", "angles": "deg"}
CAMERA_AXES = "camera: x right, y down (image rows), z forward (OpenCV); metres"


def write_csv(path: Path, track: PoseTrack) -> Path:
    """The label schema (``frame,time_s,<joint>_x..``): re-imports with read_pose_csv."""
    write_pose_csv(path, track)
    return Path(path)


@dataclass
class GapReport:
    """What was done to make a track NaN-free for OpenSim."""

    n_frames: int
    first: int  # first kept row (index into the track)
    last: int  # last kept row, inclusive
    filled: dict[str, int] = field(default_factory=dict)  # column -> frames interpolated

    @property
    def dropped_leading(self) -> int:
        return self.first

    @property
    def dropped_trailing(self) -> int:
        return self.n_frames - 1 - self.last

    def lines(self) -> list[str]:
        out = [f"{name}: {n} frame(s) filled by linear interpolation"
               for name, n in self.filled.items() if n]
        if self.dropped_leading:
            out.append(f"dropped {self.dropped_leading} leading frame(s) with no value to "
                       "interpolate from")
        if self.dropped_trailing:
            out.append(f"dropped {self.dropped_trailing} trailing frame(s) with no value to "
                       "interpolate from")
        return out

    def as_dict(self) -> dict:
        return {"frames_in": self.n_frames, "rows_kept": [self.first, self.last],
                "dropped_leading": self.dropped_leading,
                "dropped_trailing": self.dropped_trailing,
                "filled_frames": {k: v for k, v in self.filled.items() if v}}


def fill_gaps(x: np.ndarray, names: list[str] | None = None
              ) -> tuple[np.ndarray, GapReport]:
    """Linearly interpolate interior NaN runs of (T, C, ...) data along time.

    A group (everything after the first axis of one column, e.g. a marker's x, y, z)
    counts as missing when any of its values is. Returns the rows that are complete
    after filling (a contiguous block: only leading/trailing runs stay empty) and the
    report. Raises ValueError when no row can be completed.
    """
    x = np.array(x, float)
    T = len(x)
    cols = x.reshape(T, x.shape[1] if x.ndim > 1 else 1, -1)
    names = names or [str(i) for i in range(cols.shape[1])]
    frames = np.arange(T)
    filled: dict[str, int] = {}
    first, last = 0, T - 1
    for c in range(cols.shape[1]):
        ok = np.isfinite(cols[:, c]).all(-1)
        if not ok.any():
            raise ValueError(f"{names[c]} has no value in any frame")
        lo, hi = int(np.flatnonzero(ok)[0]), int(np.flatnonzero(ok)[-1])
        gap = ~ok & (frames > lo) & (frames < hi)
        for d in range(cols.shape[2]):
            cols[gap, c, d] = np.interp(frames[gap], frames[ok], cols[ok, c, d])
        filled[names[c]] = int(gap.sum())
        first, last = max(first, lo), min(last, hi)
    if first > last:
        raise ValueError("no frame has a value for every column, even after interpolation")
    report = GapReport(T, first, last, filled)
    return cols.reshape(x.shape)[first:last + 1], report


def trc_rotation(up: np.ndarray | None = None) -> np.ndarray:
    """(3, 3) rows = the TRC's X, Y, Z axes in camera coordinates (module docstring)."""
    y = np.array([0.0, -1.0, 0.0]) if up is None else np.asarray(up, float)
    y = y / np.linalg.norm(y)
    x = np.array([1.0, 0.0, 0.0]) - y[0] * y
    if np.linalg.norm(x) < 1e-6:  # up along the image's x: keep the image's z instead
        x = np.array([0.0, 0.0, 1.0]) - y[2] * y
    x /= np.linalg.norm(x)
    return np.stack([x, y, np.cross(x, y)])


def _fmt(v: float, digits: int = 6) -> str:
    out = f"{v:.{digits}f}"
    return "0." + "0" * digits if out == "-0." + "0" * digits else out


def write_trc(path: Path, track: PoseTrack, fps: float, up: np.ndarray | None = None
              ) -> GapReport:
    """OpenSim TRC of the 3D joints (metres, Y up); returns what gap filling did."""
    if track.j3d is None:
        raise ValueError("the track has no 3D joints")
    if not fps or fps <= 0:
        raise ValueError("a TRC needs the frame rate")
    path = Path(path)
    markers = list(track.joints)
    xyz = np.einsum("ij,tkj->tki", trc_rotation(up), np.asarray(track.j3d, float))
    data, report = fill_gaps(xyz, markers)
    assert np.isfinite(data).all()
    frames = np.asarray(track.frame)[report.first:report.last + 1]
    rate = f"{fps:g}"
    lines = [
        f"PathFileType\t4\t(X/Y/Z)\t{path.name}",
        "DataRate\tCameraRate\tNumFrames\tNumMarkers\tUnits\tOrigDataRate\t"
        "OrigDataStartFrame\tOrigNumFrames",
        f"{rate}\t{rate}\t{len(data)}\t{len(markers)}\tm\t{rate}\t{int(frames[0]) + 1}\t"
        f"{len(track)}",
        "\t".join(["Frame#", "Time"] + [f"{m}\t\t" for m in markers]).rstrip("\t"),
        "\t\t" + "\t".join(f"X{i}\tY{i}\tZ{i}" for i in range(1, len(markers) + 1)),
    ]
    for f, row in zip(frames, data, strict=True):
        cells = [str(int(f) + 1), _fmt(int(f) / fps)] + [_fmt(v) for v in row.ravel()]
        lines.append("\t".join(cells))
    text = "\n".join(lines) + "\n"
    write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))
    return report


def write_mot(path: Path, time_s: np.ndarray, columns: dict[str, np.ndarray],
              name: str = "Coordinates") -> GapReport:
    """OpenSim .mot of (T,) columns in degrees, ``time`` first; NaN filled or dropped
    exactly as in ``write_trc``."""
    path = Path(path)
    names = list(columns)
    values = np.stack([np.asarray(columns[k], float) for k in names], 1)
    data, report = fill_gaps(values, names)
    times = np.asarray(time_s, float)[report.first:report.last + 1]
    lines = [name, "version=1", f"nRows={len(data)}", f"nColumns={len(names) + 1}",
             "inDegrees=yes", "endheader", "\t".join(["time"] + names)]
    lines += ["\t".join([_fmt(t)] + [_fmt(v) for v in row])
              for t, row in zip(times, data, strict=True)]
    text = "\n".join(lines) + "\n"
    write_atomic(path, lambda fh: fh.write(text.encode("utf-8")))
    return report


def to_jsonable(obj, digits: int = 6):  # noqa: ANN001, ANN201 - any JSON-like value
    """Numpy to plain Python, floats rounded, NaN/inf to None (JSON has no NaN)."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [to_jsonable(v, digits) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist(), digits)
    if isinstance(obj, bool | np.bool_):
        return bool(obj)
    if isinstance(obj, int | np.integer):
        return int(obj)
    if isinstance(obj, float | np.floating):
        v = float(obj)
        return round(v, digits) if math.isfinite(v) else None
    if isinstance(obj, Path):
        return str(obj)
    return obj


def export_record(*, clip: str, fps: float | None, n_frames: int, athlete: str | None = None,
                  run: str | int | None = None, fit: str | int | None = None,
                  up_source: str = "image up (level camera assumed)",
                  smoothing: dict | None = None, summary: dict | None = None,
                  files: dict[str, str] | None = None, gaps: dict | None = None,
                  extra: dict | None = None) -> dict:
    """The metadata that goes into the export's JSON (pass the result to write_json)."""
    record = {
        "software": {"name": "tempose", "version": tempose_cli.__version__},
        "clip": clip, "athlete": athlete, "run": run, "fit": fit,
        "fps": fps, "n_frames": n_frames,
        "units": UNITS,
        "axes": {"csv": CAMERA_AXES,
                 "trc": f"X image right, Y up ({up_source}), Z = X x Y; metres",
                 "pixels": "(u, v) = (column, row), pixel centres at integers"},
        "time": "time_s = frame / fps, frames counted from 0 (TRC Frame# from 1)",
        "smoothing": smoothing or {"applied": False},
        "summary": summary or {},
        "files": files or {},
        "gaps": gaps or {},
    }
    return record | (extra or {})


def write_json(path: Path, record: dict) -> Path:
    text = json.dumps(to_jsonable(record), indent=1, allow_nan=False) + "\n"
    return write_atomic(Path(path), lambda fh: fh.write(text.encode("utf-8")))


def export_names(stem: str, tag: str = "") -> dict[str, str]:
    """File names of one export, carrying the processing steps in ``tag`` (for example
    ``smoothing.smoothing_tag(6)`` -> ``dive_a01_d001_fit3_smooth-butter6hz.trc``)."""
    base = f"{stem}{tag}"
    return {"csv": f"{base}.pose.csv", "trc": f"{base}.trc", "mot": f"{base}_angles.mot",
            "json": f"{base}.json", "overlay": f"{base}_overlay.mp4",
            "angles_png": f"{base}_angles.png", "cg_png": f"{base}_cg.png",
            "rotation_png": f"{base}_rotation.png", "log": "logs.txt"}
