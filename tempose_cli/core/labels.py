"""Pose track files (``<stem>.pose.csv``): the one schema for labels and predictions.

Wide format, one row per frame: ``frame,time_s`` then per joint ``_x,_y,_z`` (metres,
camera coordinates), ``_u,_v`` (pixels), optional ``_vis`` / ``_conf``, and an optional
``interpolated`` flag. An empty cell means "not labelled"; the literal NaN is refused
so that a broken export is never mistaken for a sparse label file.
"""

from __future__ import annotations

import csv
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.skeleton import DIVE14
from store.files import write_atomic
from tempose_cli.core.errors import InputError

SUFFIX_3D = ("x", "y", "z")
SUFFIX_2D = ("u", "v")
OPTIONAL_SUFFIXES = ("vis", "conf")


@dataclass
class PoseTrack:
    """Per-frame joints of one clip. Unlabelled values are NaN."""

    frame: np.ndarray  # (T,) int
    time_s: np.ndarray  # (T,) float
    j3d: np.ndarray | None = None  # (T, J, 3) metres, camera coordinates
    j2d: np.ndarray | None = None  # (T, J, 2) pixels
    vis: np.ndarray | None = None  # (T, J) 0/1
    conf: np.ndarray | None = None  # (T, J)
    interpolated: np.ndarray | None = None  # (T,) bool
    joints: tuple[str, ...] = DIVE14

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def kind(self) -> str:
        return "+".join(k for k, a in (("2d", self.j2d), ("3d", self.j3d)) if a is not None)

    def labelled_frames(self, which: str = "3d") -> np.ndarray:
        """Indices of rows whose every joint has a value in ``which`` ("3d" or "2d")."""
        arr = self.j3d if which == "3d" else self.j2d
        if arr is None:
            return np.zeros(0, dtype=np.int64)
        return np.flatnonzero(np.isfinite(arr).all(axis=(1, 2)))

    def save_npz(self, path: Path) -> None:
        arrays = {k: v for k, v in self.__dict__.items() if isinstance(v, np.ndarray)}
        arrays["joints"] = np.array(self.joints)
        write_atomic(path, lambda f: np.savez(f, **arrays))

    @classmethod
    def load_npz(cls, path: Path) -> PoseTrack:
        with np.load(path) as z:
            kw = {k: z[k] for k in z.files if k != "joints"}
            return cls(joints=tuple(str(j) for j in z["joints"]), **kw)


def _parse_cell(text: str, path: Path, row: int, col: str) -> float:
    text = text.strip()
    if text == "":
        return math.nan
    try:
        value = float(text)
    except ValueError:
        raise InputError(path, f"row {row}, column {col}: not a number: {text!r}") from None
    if not math.isfinite(value):
        raise InputError(
            path, f"row {row}, column {col}: {text} is not allowed (leave the cell empty "
            "for an unlabelled value)"
        )
    return value


def read_pose_csv(
    path: str | Path, *, n_frames: int | None = None, joints: tuple[str, ...] = DIVE14
) -> PoseTrack:
    """Read and validate a pose track; every problem is an InputError naming the file."""
    path = Path(path)
    try:
        with open(path, newline="", encoding="utf-8") as f:
            rows = list(csv.reader(f))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read labels: {e}") from None
    if not rows or not any(rows[0]):
        raise InputError(path, "empty labels file")
    header = [h.strip() for h in rows[0]]
    if header[:2] != ["frame", "time_s"]:
        found = ",".join(header[:2])
        raise InputError(path, f"header must start with 'frame,time_s', found {found!r}")
    if len(set(header)) != len(header):
        dup = sorted({h for h in header if header.count(h) > 1})
        raise InputError(path, f"duplicate columns: {', '.join(dup)}")

    cols: dict[tuple[str, str], int] = {}
    interp_col = None
    unknown_joints: set[str] = set()
    for i, name in enumerate(header[2:], start=2):
        if name == "interpolated":
            interp_col = i
            continue
        joint, _, suffix = name.rpartition("_")
        if suffix not in SUFFIX_3D + SUFFIX_2D + OPTIONAL_SUFFIXES or not joint:
            raise InputError(path, f"unknown column {name!r}")
        if joint not in joints:
            unknown_joints.add(joint)
        cols[(joint, suffix)] = i
    if unknown_joints:
        raise InputError(
            path, f"extra joints not in the dive14 skeleton: {', '.join(sorted(unknown_joints))}"
        )

    def group(suffixes: tuple[str, ...]) -> bool:
        present = [(j, s) for j in joints for s in suffixes if (j, s) in cols]
        if not present:
            return False
        missing = sorted({j for j in joints for s in suffixes if (j, s) not in cols})
        if missing:
            kind = "3D" if suffixes == SUFFIX_3D else "2D"
            raise InputError(path, f"missing {kind} columns for joints: {', '.join(missing)}")
        return True

    has3d, has2d = group(SUFFIX_3D), group(SUFFIX_2D)
    if not (has3d or has2d):
        raise InputError(path, "no joint columns (expected <joint>_x/_y/_z or <joint>_u/_v)")

    body = [r for r in rows[1:] if any(c.strip() for c in r)]
    n = len(body)
    if n_frames is not None and n != n_frames:
        raise InputError(path, f"labels have {n} rows but the video has {n_frames} frames")
    frame = np.zeros(n, dtype=np.int64)
    time_s = np.zeros(n, dtype=np.float64)
    data = np.full((n, len(header)), np.nan)
    for r, row in enumerate(body):
        line = r + 2
        if len(row) != len(header):
            raise InputError(path, f"row {line}: {len(row)} cells, header has {len(header)}")
        try:
            frame[r] = int(row[0])
        except ValueError:
            raise InputError(path, f"row {line}: frame {row[0]!r} is not an integer") from None
        time_s[r] = _parse_cell(row[1], path, line, "time_s")
        for i in range(2, len(header)):
            data[r, i] = _parse_cell(row[i], path, line, header[i])
    if not np.array_equal(frame, np.arange(n)):
        bad = int(np.flatnonzero(frame != np.arange(n))[0])
        raise InputError(path, f"row {bad + 2}: frame {frame[bad]}, expected {bad} "
                         "(one row per frame, in order)")

    def take(suffixes: tuple[str, ...]) -> np.ndarray:
        out = np.stack([data[:, [cols[(j, s)] for s in suffixes]] for j in joints], axis=1)
        partial = np.isnan(out).any(-1) & ~np.isnan(out).all(-1)  # (T, J)
        if partial.any():
            t, j = np.argwhere(partial)[0]
            raise InputError(path, f"row {t + 2}: joint {joints[j]} is only partly labelled")
        return out

    def optional(suffix: str) -> np.ndarray | None:
        if not any((j, suffix) in cols for j in joints):
            return None
        return np.stack(
            [data[:, cols[(j, suffix)]] if (j, suffix) in cols else np.full(n, np.nan)
             for j in joints], axis=1)

    return PoseTrack(
        frame=frame,
        time_s=time_s,
        j3d=take(SUFFIX_3D) if has3d else None,
        j2d=take(SUFFIX_2D) if has2d else None,
        vis=optional("vis"),
        conf=optional("conf"),
        interpolated=(data[:, interp_col] > 0) if interp_col is not None else None,
        joints=joints,
    )


def _fmt(value: float, digits: int) -> str:
    return "" if not math.isfinite(value) else f"{value:.{digits}f}"


def pose_csv_header(track: PoseTrack) -> list[str]:
    header = ["frame", "time_s"]
    for j in track.joints:
        if track.j3d is not None:
            header += [f"{j}_{s}" for s in SUFFIX_3D]
        if track.j2d is not None:
            header += [f"{j}_{s}" for s in SUFFIX_2D]
        if track.vis is not None:
            header.append(f"{j}_vis")
        if track.conf is not None:
            header.append(f"{j}_conf")
    if track.interpolated is not None:
        header.append("interpolated")
    return header


def write_pose_csv(path: str | Path, track: PoseTrack) -> None:
    """Write ``track`` in the wide schema (UTF-8, '.' decimals, empty cell for NaN).

    Metres get 6 decimals (µm), pixels 4: byte-identical output for identical input.
    """
    lines = [",".join(pose_csv_header(track))]
    for t in range(len(track)):
        cells = [str(int(track.frame[t])), _fmt(float(track.time_s[t]), 6)]
        for k in range(len(track.joints)):
            if track.j3d is not None:
                cells += [_fmt(float(v), 6) for v in track.j3d[t, k]]
            if track.j2d is not None:
                cells += [_fmt(float(v), 4) for v in track.j2d[t, k]]
            if track.vis is not None:
                cells.append(_fmt(float(track.vis[t, k]), 0))
            if track.conf is not None:
                cells.append(_fmt(float(track.conf[t, k]), 4))
        if track.interpolated is not None:
            cells.append("1" if track.interpolated[t] else "0")
        lines.append(",".join(cells))
    text = "\n".join(lines) + "\n"
    write_atomic(Path(path), lambda f: f.write(text.encode("utf-8")))
