"""Pose2Sim calibration TOML: one table per camera, world -> camera, world Z up.

Each camera table has ``name``, ``size`` ([width, height] pixels), ``matrix`` (K),
``distortions`` (k1, k2, p1, p2: OpenCV's radial/tangential model), ``rotation`` (a
Rodrigues vector) and ``translation`` (metres), with X_cam = R X_world + t; an optional
``fisheye`` flag (only ``false`` is supported) and a ``[metadata]`` table. Pixels follow
OpenCV (pixel centres at integers), as tempose's do.
"""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from store.files import write_atomic
from tempose_cli.core.errors import InputError


@dataclass(frozen=True)
class Camera:
    name: str
    size: tuple[int, int]  # (width, height) pixels
    K: np.ndarray  # (3, 3)
    dist: np.ndarray  # (4,) k1, k2, p1, p2
    R: np.ndarray  # (3, 3) world -> camera
    t: np.ndarray  # (3,) metres

    @property
    def rvec(self) -> np.ndarray:
        return cv2.Rodrigues(np.asarray(self.R, float))[0].ravel()

    def to_camera(self, points_world: np.ndarray) -> np.ndarray:
        """(..., 3) world -> camera coordinates (NaN stays NaN)."""
        return np.asarray(points_world, float) @ self.R.T + self.t

    def project(self, points_cam: np.ndarray) -> np.ndarray:
        """(..., 3) camera coordinates -> (..., 2) pixels with the lens distortion; NaN for
        points that are missing or not in front of the camera."""
        pts = np.asarray(points_cam, float)
        flat = pts.reshape(-1, 3)
        out = np.full((len(flat), 2), np.nan)
        ok = np.isfinite(flat).all(1) & (flat[:, 2] > 1e-9)
        if ok.any():
            uv, _ = cv2.projectPoints(flat[ok].reshape(-1, 1, 3), np.zeros(3), np.zeros(3),
                                      np.asarray(self.K, float), np.asarray(self.dist, float))
            out[ok] = uv.reshape(-1, 2)
        return out.reshape(pts.shape[:-1] + (2,))

    def sidecar(self, source: str | None = None) -> dict:
        """The sidecar's ``camera`` object (``K``, ``R``, ``t`` as ingest reads them)."""
        out = {"K": self.K.tolist(), "R": self.R.tolist(), "t": self.t.tolist(),
               "distortion": self.dist.tolist(), "distortion_model": "opencv k1,k2,p1,p2",
               "size": list(self.size), "name": self.name}
        if source:
            out["calibration"] = source
        return out


def _numbers(path: Path, table: str, key: str, value, shape: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.asarray(value, float)
    except (TypeError, ValueError):
        arr = None
    if arr is None or arr.shape != shape or not np.isfinite(arr).all():
        want = "x".join(map(str, shape))
        raise InputError(path, f"[{table}] {key} must be {want} numbers, got {value!r}")
    return arr


def parse_camera(path: Path, table: str, data: dict) -> Camera:
    if not isinstance(data, dict):
        raise InputError(path, f"[{table}] is not a table")
    for key in ("size", "matrix", "distortions", "rotation", "translation"):
        if key not in data:
            raise InputError(path, f"[{table}] has no '{key}'")
    if data.get("fisheye", False) is True:
        raise InputError(path, f"[{table}] is a fisheye calibration (not supported)")
    size = _numbers(path, table, "size", data["size"], (2,))
    if (size <= 0).any() or not all(float(s).is_integer() for s in size):
        raise InputError(path, f"[{table}] size must be two positive whole numbers")
    K = _numbers(path, table, "matrix", data["matrix"], (3, 3))
    if K[0, 0] <= 0 or K[1, 1] <= 0 or not np.allclose(K[2], [0, 0, 1]):
        raise InputError(path, f"[{table}] matrix is not a camera matrix (fx, fy > 0, "
                         "last row 0 0 1)")
    dist = _numbers(path, table, "distortions", data["distortions"], (4,))
    rvec = _numbers(path, table, "rotation", data["rotation"], (3,))
    t = _numbers(path, table, "translation", data["translation"], (3,))
    R = cv2.Rodrigues(rvec)[0]
    name = data.get("name", table)
    return Camera(str(name), (int(size[0]), int(size[1])), K, dist, R, t)


def read_calibration(path: str | Path) -> dict[str, Camera]:
    """Cameras by table name (``[metadata]`` and other non-camera tables skipped)."""
    path = Path(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read calibration: {e}") from None
    except tomllib.TOMLDecodeError as e:
        raise InputError(path, f"malformed TOML: {e}") from None
    cams = {k: parse_camera(path, k, v) for k, v in data.items()
            if isinstance(v, dict) and "matrix" in v}
    if not cams:
        raise InputError(path, "no camera tables (expected [name] tables with 'matrix')")
    return cams


def find_camera(path: str | Path, cams: dict[str, Camera], name: str) -> Camera:
    """The camera whose table name or ``name`` is ``name``."""
    for key, c in cams.items():
        if name in (key, c.name):
            return c
    known = ", ".join(sorted(cams))
    raise InputError(path, f"no camera {name!r} in the calibration (cameras: {known})")


def _num(v: float) -> str:
    v = float(v)
    if not math.isfinite(v):
        raise ValueError(f"cannot write {v} in a calibration")
    text = repr(0.0 if v == 0 else v)
    return text


def _list(values) -> str:
    return "[ " + ", ".join(_num(v) for v in values) + "]"


def write_calibration(path: str | Path, cameras: list[Camera]) -> Path:
    """Pose2Sim's own layout (``calibration.toml_write``): readable by Pose2Sim and here."""
    parts = []
    for c in cameras:
        parts.append(
            f"[{c.name}]\nname = \"{c.name}\"\nsize = {_list(c.size)}\n"
            f"matrix = [ {', '.join(_list(row) for row in np.asarray(c.K))}]\n"
            f"distortions = {_list(c.dist)}\nrotation = {_list(c.rvec)}\n"
            f"translation = {_list(c.t)}\nfisheye = false\n\n")
    parts.append("[metadata]\nadjusted = false\nerror = 0.0\n")
    text = "".join(parts)
    return write_atomic(Path(path), lambda f: f.write(text.encode("utf-8")))
