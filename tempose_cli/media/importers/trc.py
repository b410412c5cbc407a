"""OpenSim TRC markers as Pose2Sim writes them, and the marker -> ``dive14`` mapping.

Axes: Pose2Sim's world is Z up; it writes the TRC in OpenSim's Y-up frame,
``(X, Y, Z)_trc = (Y, Z, X)_world``. Frames: the row's ``Time`` places it
(video frame = round(Time x DataRate)): Pose2Sim numbers ``Frame#`` from 0 with
Time = Frame# / rate, OpenSim (and tempose's export) from 1 with Time = (Frame# - 1) /
rate, and Time agrees in both. Units ``m``, ``mm`` or ``cm``. A missing value (empty
cell or ``nan``) stays missing: it becomes an empty cell in the labels, never NaN text.

Marker map: each ``dive14`` joint is filled from an expression over the marker names,
``A`` (one marker), ``A + B`` (their mean: neck = LShoulder + RShoulder) and ``X | Y``
(the first alternative that has a value in that frame). ``DEFAULT_MAP`` holds the names
of Pose2Sim's HALPE_26 and BODY_25B sets (and tempose's own joint names are always
accepted); a ``--map FILE`` of ``joint = expression`` lines replaces entries.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.skeleton import DIVE14
from tempose_cli.core.errors import InputError
from tempose_cli.core.labels import PoseTrack, _parse_cell
from tempose_cli.media.exports import write_trc as write_trc_track

DEFAULT_MAP: dict[str, str] = {
    "head": "Head", "neck": "Neck",
    "l_shoulder": "LShoulder", "r_shoulder": "RShoulder",
    "l_elbow": "LElbow", "r_elbow": "RElbow", "l_wrist": "LWrist", "r_wrist": "RWrist",
    "l_hip": "LHip", "r_hip": "RHip", "l_knee": "LKnee", "r_knee": "RKnee",
    "l_ankle": "LAnkle", "r_ankle": "RAnkle",
}
UNITS = {"m": 1.0, "mm": 1e-3, "cm": 1e-2}
# (X, Y, Z)_trc = (Y, Z, X)_world: rows of TRC_FROM_WORLD pick the world axes.
TRC_FROM_WORLD = np.array([[0.0, 1.0, 0.0], [0.0, 0.0, 1.0], [1.0, 0.0, 0.0]])


def world_to_trc(points: np.ndarray) -> np.ndarray:
    return np.asarray(points, float) @ TRC_FROM_WORLD.T


def trc_to_world(points: np.ndarray) -> np.ndarray:
    return np.asarray(points, float) @ TRC_FROM_WORLD


# ---------------------------------------------------------------- marker map


def parse_expression(text: str) -> list[list[str]]:
    """``"A + B | C"`` -> [["A", "B"], ["C"]]."""
    alts = [[n.strip() for n in alt.split("+")] for alt in text.split("|")]
    if not alts or any(not n for alt in alts for n in alt):
        raise ValueError(f"bad marker expression {text!r}")
    return alts


def read_map(path: str | Path) -> dict[str, str]:
    """A ``--map`` file: ``joint = expression`` per line, ``#`` comments."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read marker map: {e}") from None
    out: dict[str, str] = {}
    for i, raw in enumerate(lines, start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        joint, eq, expr = (s.strip() for s in line.partition("="))
        if not eq or not expr:
            raise InputError(path, f"line {i}: expected 'joint = marker' (or 'A + B'), "
                             f"found {raw.strip()!r}")
        if joint not in DIVE14:
            raise InputError(path, f"line {i}: {joint!r} is not a dive14 joint "
                             f"({', '.join(DIVE14)})")
        try:
            parse_expression(expr)
        except ValueError as e:
            raise InputError(path, f"line {i}: {e}") from None
        out[joint] = expr
    return out


@dataclass(frozen=True)
class MarkerMap:
    """Per dive14 joint, the alternatives as lists of indices into the source's names."""

    alternatives: tuple[tuple[tuple[int, ...], ...], ...]
    expressions: tuple[str, ...]  # what was used, for the record

    def apply(self, values: np.ndarray, ok: np.ndarray | None = None
              ) -> tuple[np.ndarray, np.ndarray]:
        """(T, M, D) values (+ (T, M) usable mask) -> (T, 14, D) joints and, per joint,
        the index of the alternative used (-1 = none: the joint stays NaN)."""
        values = np.asarray(values, float)
        usable = np.isfinite(values).all(-1) if ok is None else ok & np.isfinite(values).all(-1)
        T, _, D = values.shape
        out = np.full((T, len(self.alternatives), D), np.nan)
        used = np.full((T, len(self.alternatives)), -1)
        for j, alts in enumerate(self.alternatives):
            for a, idx in enumerate(alts):
                take = usable[:, list(idx)].all(1) & (used[:, j] < 0)
                out[take, j] = values[take][:, list(idx)].mean(1)
                used[take, j] = a
        return out, used


def resolve_map(names: list[str], source: Path, overrides: dict[str, str] | None = None,
                defaults: dict[str, str] | None = None, map_path: Path | None = None,
                what: str = "marker set") -> MarkerMap:
    """Bind each dive14 joint to the source's names (case-insensitive); a joint that
    cannot be filled is an InputError naming ``source`` (or the map file)."""
    index = {n.lower(): i for i, n in reversed(list(enumerate(names)))}
    defaults = DEFAULT_MAP if defaults is None else defaults
    overrides = overrides or {}
    alternatives, exprs, missing = [], [], []
    for joint in DIVE14:
        if joint in overrides:
            alts = parse_expression(overrides[joint])
            absent = sorted({n for alt in alts for n in alt if n.lower() not in index})
            if absent:
                raise InputError(map_path or source, f"{joint} = {overrides[joint]}: no "
                                 f"{', '.join(absent)} in {source.name}")
            candidates = [overrides[joint]]
        else:
            candidates = [defaults.get(joint, joint), joint]
        bound = []
        for expr in dict.fromkeys(candidates):
            for alt in parse_expression(expr):
                if all(n.lower() in index for n in alt):
                    bound.append(tuple(index[n.lower()] for n in alt))
        if not bound:
            missing.append(f"{joint} ({defaults.get(joint, joint)})")
        alternatives.append(tuple(dict.fromkeys(bound)))
        exprs.append(" | ".join(" + ".join(names[i] for i in alt) for alt in bound))
    if missing:
        raise InputError(source, f"the {what} cannot fill dive14: no marker for "
                         f"{', '.join(missing)}; pass --map FILE with lines like "
                         "'neck = LShoulder + RShoulder'")
    return MarkerMap(tuple(alternatives), tuple(exprs))


# ---------------------------------------------------------------- TRC files


@dataclass
class Trc:
    path: Path
    rate: float
    markers: list[str]
    frames: np.ndarray  # (T,) the file's Frame# column
    time_s: np.ndarray  # (T,)
    xyz: np.ndarray  # (T, M, 3) metres, in the file's (Y-up) axes; NaN = missing

    def frame_index(self) -> np.ndarray:
        """0-based frame of each row from its Time (module docstring)."""
        pos = self.time_s * self.rate
        idx = np.rint(pos).astype(np.int64)
        off = np.abs(pos - idx) > 0.05
        if off.any():
            r = int(np.flatnonzero(off)[0])
            raise InputError(self.path, f"row of Frame# {self.frames[r]}: Time "
                             f"{self.time_s[r]:g} s is not on the {self.rate:g} Hz frame grid")
        if len(np.unique(idx)) != len(idx):
            raise InputError(self.path, "two rows have the same Time")
        return idx


def _cell(text: str, path: Path, line: int, column: str) -> float:
    """A coordinate; empty or ``nan`` (pandas' and Pose2Sim's gap) is missing."""
    return math.nan if text.strip().lower() == "nan" else _parse_cell(text, path, line, column)


def read_trc(path: str | Path) -> Trc:
    """Parse a TRC (tab-separated, ``PathFileType 4``); every problem names the file."""
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8", errors="strict").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read TRC: {e}") from None
    if not lines or not lines[0].startswith("PathFileType"):
        raise InputError(path, "not a TRC file (expected a 'PathFileType' header line)")
    if len(lines) < 5:
        raise InputError(path, f"only {len(lines)} lines: a TRC has 5 header lines")
    keys = [k.strip() for k in lines[1].split("\t")]
    vals = [v.strip() for v in lines[2].split("\t")]
    head = dict(zip(keys, vals, strict=False))
    try:
        rate = float(head.get("DataRate") or head["CameraRate"])
    except (KeyError, ValueError):
        raise InputError(path, "header has no DataRate") from None
    if not math.isfinite(rate) or rate <= 0:
        raise InputError(path, f"DataRate must be positive, got {rate:g}")
    units = head.get("Units", "m")
    if units not in UNITS:
        raise InputError(path, f"Units {units!r}: expected m, mm or cm")
    names_row = [c.strip() for c in lines[3].split("\t")]
    if names_row[:2] != ["Frame#", "Time"]:
        raise InputError(path, "line 4 must start with 'Frame#<tab>Time'")
    markers = [c for c in names_row[2:] if c]
    if not markers:
        raise InputError(path, "no marker names on line 4")
    if len(set(markers)) != len(markers):
        dup = sorted({m for m in markers if markers.count(m) > 1})
        raise InputError(path, f"duplicate marker names: {', '.join(dup)}")
    n_markers = head.get("NumMarkers")
    if n_markers and n_markers.isdigit() and int(n_markers) != len(markers):
        raise InputError(path, f"header says {n_markers} markers, line 4 names {len(markers)}")
    width = 2 + 3 * len(markers)
    columns = [f"{m} {axis}" for m in markers for axis in "XYZ"]
    rows = []
    for i, line in enumerate(lines[5:], start=6):
        if not line.strip():
            continue
        cells = line.split("\t")
        if len(cells) > width and any(c.strip() for c in cells[width:]):
            raise InputError(path, f"line {i}: {len(cells)} cells, {width} expected")
        cells = (cells + [""] * width)[:width]
        try:
            frame = int(float(cells[0]))
        except ValueError:
            raise InputError(path, f"line {i}: Frame# {cells[0]!r} is not a number") from None
        t = _cell(cells[1], path, i, "Time")
        if math.isnan(t):
            raise InputError(path, f"line {i}: no Time")
        rows.append([frame, t] + [_cell(c, path, i, col) for c, col in zip(cells[2:], columns,
                                                                              strict=True)])
    if not rows:
        raise InputError(path, "no data rows")
    n_frames = head.get("NumFrames")
    if n_frames and n_frames.isdigit() and int(n_frames) != len(rows):
        raise InputError(path, f"header says {n_frames} frames, the file has {len(rows)} rows "
                         "(truncated?)")
    data = np.array(rows, float)
    xyz = data[:, 2:].reshape(len(rows), len(markers), 3) * UNITS[units]
    xyz[np.isnan(xyz).any(-1)] = np.nan  # a marker is there or not
    return Trc(path, rate, markers, data[:, 0].astype(np.int64), data[:, 1], xyz)


def write_world_trc(path: Path, joints_world: np.ndarray, fps: float,
                    markers: tuple[str, ...]) -> Path:
    """(T, M, 3) world joints (Z up) as a Pose2Sim-convention TRC (Y up), Frame# from 1."""
    track = PoseTrack(frame=np.arange(len(joints_world)),
                      time_s=np.arange(len(joints_world)) / fps,
                      j3d=world_to_trc(joints_world), joints=tuple(markers))
    # up = +Y makes exports' axis change the identity: the points are already TRC axes.
    write_trc_track(path, track, fps, up=np.array([0.0, 1.0, 0.0]))
    return Path(path)
