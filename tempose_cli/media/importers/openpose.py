"""OpenPose-style 2D keypoints: a folder with one JSON per frame, ``people[i].
pose_keypoints_2d`` = x, y, confidence per keypoint (what Pose2Sim reads and writes).

Layouts (keypoint order) are detected from the count where it is unambiguous (17:
coco17, 26: halpe26); 25 is BODY_25 or BODY_25B, so ``--layout`` must say which. A
keypoint is used when its confidence is above 0 and at least ``min_confidence``. With
several people in a frame, the one nearest the previous frame's person is kept (in
the first frame: the most confident), and each such choice is logged.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from tempose_cli.core.errors import InputError
from tempose_cli.media.importers.trc import DEFAULT_MAP, MarkerMap, resolve_map

_EARS = "LEar + REar | Nose"
LAYOUTS: dict[str, tuple[str, ...]] = {
    "body25": ("Nose", "Neck", "RShoulder", "RElbow", "RWrist", "LShoulder", "LElbow",
               "LWrist", "MidHip", "RHip", "RKnee", "RAnkle", "LHip", "LKnee", "LAnkle",
               "REye", "LEye", "REar", "LEar", "LBigToe", "LSmallToe", "LHeel", "RBigToe",
               "RSmallToe", "RHeel"),
    "body25b": ("Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow",
                "RElbow", "LWrist", "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle",
                "RAnkle", "Neck", "Head", "LBigToe", "LSmallToe", "LHeel", "RBigToe",
                "RSmallToe", "RHeel"),
    "coco17": ("Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow",
               "RElbow", "LWrist", "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle",
               "RAnkle"),
    "halpe26": ("Nose", "LEye", "REye", "LEar", "REar", "LShoulder", "RShoulder", "LElbow",
                "RElbow", "LWrist", "RWrist", "LHip", "RHip", "LKnee", "RKnee", "LAnkle",
                "RAnkle", "Head", "Neck", "Hip", "LBigToe", "RBigToe", "LSmallToe",
                "RSmallToe", "LHeel", "RHeel"),
}
# Where a layout has no head (top) or neck keypoint: the mid-ears (else the nose), and
# the mid-shoulders.
LAYOUT_MAPS: dict[str, dict[str, str]] = {
    "body25": DEFAULT_MAP | {"head": _EARS},
    "body25b": DEFAULT_MAP,
    "coco17": DEFAULT_MAP | {"head": _EARS, "neck": "LShoulder + RShoulder"},
    "halpe26": DEFAULT_MAP,
}
_NUMBER = re.compile(r"(\d+)(?!.*\d)")


def detect_layout(count: int, folder: Path, layout: str = "auto") -> str:
    if layout != "auto":
        if layout not in LAYOUTS:
            raise InputError(folder, f"unknown layout {layout!r} ({', '.join(LAYOUTS)})")
        if len(LAYOUTS[layout]) != count:
            raise InputError(folder, f"layout {layout} has {len(LAYOUTS[layout])} keypoints, "
                             f"the files have {count}")
        return layout
    found = [k for k, v in LAYOUTS.items() if len(v) == count]
    if not found:
        raise InputError(folder, f"{count} keypoints per person: no known layout "
                         f"({', '.join(f'{k} {len(v)}' for k, v in LAYOUTS.items())})")
    if len(found) > 1:
        raise InputError(folder, f"{count} keypoints per person could be "
                         f"{' or '.join(found)}: pass --layout")
    return found[0]


def frame_files(folder: Path) -> list[Path]:
    """The folder's JSON files in frame order (by the last number in the name)."""
    if not folder.is_dir():
        raise InputError(folder, "not a folder of OpenPose JSON files")
    files = list(folder.glob("*.json"))
    if not files:
        raise InputError(folder, "no .json files")
    numbers = [_NUMBER.search(f.stem) for f in files]
    if all(numbers):
        pairs = sorted(zip((int(m.group(1)) for m in numbers), files, strict=True))
        nums = [n for n, _ in pairs]
        gaps = [(a, b) for a, b in zip(nums, nums[1:], strict=False) if b != a + 1]
        if gaps:
            a, b = gaps[0]
            raise InputError(folder, f"frame numbers jump from {a} to {b}: "
                             "one JSON file per frame is needed")
        return [f for _, f in pairs]
    return sorted(files)


def read_people(path: Path) -> np.ndarray:
    """(P, N, 3) keypoints of every person in one file (P may be 0)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise InputError(path, f"malformed JSON: {e.msg} at line {e.lineno}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read: {e}") from None
    people = data.get("people") if isinstance(data, dict) else None
    if not isinstance(people, list):
        raise InputError(path, "no 'people' list (not an OpenPose keypoints file)")
    out = []
    for i, p in enumerate(people):
        kp = p.get("pose_keypoints_2d") if isinstance(p, dict) else None
        try:
            arr = np.asarray(kp, float)
        except (TypeError, ValueError):
            arr = np.zeros(1)
        if arr.ndim != 1 or len(arr) == 0 or len(arr) % 3 or not np.isfinite(arr).all():
            raise InputError(path, f"people[{i}].pose_keypoints_2d must be x, y, confidence "
                             "numbers per keypoint")
        out.append(arr.reshape(-1, 3))
    counts = {len(a) for a in out}
    if len(counts) > 1:
        raise InputError(path, f"people have different keypoint counts: {sorted(counts)}")
    return np.stack(out) if out else np.zeros((0, 0, 3))


def _distance(a: np.ndarray, b: np.ndarray) -> float:
    """Mean pixel distance between two people over the keypoints both have; their
    detected keypoints' centres where they share none."""
    both = (a[:, 2] > 0) & (b[:, 2] > 0)
    if both.any():
        return float(np.linalg.norm(a[both, :2] - b[both, :2], axis=1).mean())
    ca, cb = a[a[:, 2] > 0, :2], b[b[:, 2] > 0, :2]
    if not len(ca) or not len(cb):
        return float("inf")
    return float(np.linalg.norm(ca.mean(0) - cb.mean(0)))


@dataclass
class Keypoints:
    layout: str
    names: tuple[str, ...]
    xyc: np.ndarray  # (T, N, 3) the kept person per frame; NaN where nobody
    log: list[str] = field(default_factory=list)


def track_person(frames: list[np.ndarray], files: list[Path]) -> tuple[np.ndarray, list[str]]:
    """One person per frame (module docstring); the choices as log lines, runs merged."""
    n_kp = max(p.shape[1] for p in frames)
    out = np.full((len(frames), n_kp, 3), np.nan)
    prev = None
    choices: list[tuple[int, int, int, str]] = []  # (frame, people, kept, why)
    for t, people in enumerate(frames):
        if len(people) == 0:
            continue
        if len(people) > 1:
            if prev is None:
                k = int(np.argmax([np.clip(p[:, 2], 0, None).sum() for p in people]))
                why = "the most confident"
            else:
                d = [_distance(p, prev) for p in people]
                k = int(np.argmin(d))
                why = f"nearest the previous frame's person, {d[k]:.1f} px"
            choices.append((t, len(people), k, why))
        else:
            k = 0
        prev = people[k]
        out[t] = people[k]
    log = []
    i = 0
    while i < len(choices):
        t0, n, k, why = choices[i]
        j = i
        while (j + 1 < len(choices) and choices[j + 1][0] == choices[j][0] + 1
               and choices[j + 1][1:3] == (n, k)):
            j += 1
        span = f"frame {t0}" if j == i else f"frames {t0}-{choices[j][0]}"
        why = why if j == i else why.split(",")[0]
        log.append(f"{span} ({files[t0].name}): {n} people, kept people[{k}] ({why})")
        i = j + 1
    return out, log


def read_openpose(folder: str | Path, layout: str = "auto") -> Keypoints:
    folder = Path(folder)
    files = frame_files(folder)
    frames = [read_people(f) for f in files]
    counts = {p.shape[1] for p in frames if len(p)}
    if not counts:
        raise InputError(folder, "no person in any frame")
    if len(counts) > 1:
        raise InputError(folder, f"files have different keypoint counts: {sorted(counts)}")
    name = detect_layout(counts.pop(), folder, layout)
    xyc, log = track_person(frames, files)
    return Keypoints(name, LAYOUTS[name], xyc, log)


def to_dive14(kp: Keypoints, folder: Path, min_confidence: float,
              overrides: dict[str, str] | None = None, map_path: Path | None = None
              ) -> tuple[np.ndarray, np.ndarray, MarkerMap]:
    """(T, 14, 2) pixels and (T, 14) confidence (the lowest of a mean's keypoints);
    NaN where a keypoint is missing or below ``min_confidence``."""
    mm = resolve_map(list(kp.names), folder, overrides, LAYOUT_MAPS[kp.layout], map_path,
                     what=f"{kp.layout} layout")
    conf = kp.xyc[..., 2]
    ok = np.isfinite(conf) & (conf > 0) & (conf >= min_confidence)
    uv, used = mm.apply(kp.xyc[..., :2], ok)
    c = np.full(used.shape, np.nan)
    for j, alts in enumerate(mm.alternatives):
        for a, idx in enumerate(alts):
            sel = used[:, j] == a
            c[sel, j] = conf[sel][:, list(idx)].min(1)
    return uv, c, mm
