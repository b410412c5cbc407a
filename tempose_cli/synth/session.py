"""``synth --cameras N``: the same dive seen by N calibrated cameras, as a lab records it.

Camera 0 is the clip's usual camera. Cameras 1.. draw from their own generators
(seeded by the clip's seed and the camera index), so camera 0's bytes do not change:
another field of view, the view turned about the vertical by ``YAW_OFFSETS_DEG`` and a
pitch. Beside the videos, what Pose2Sim would give for the session: a calibration TOML
(``<stem>_calibration.toml``, cameras ``cam00``..) and the world joints as a TRC
(``<stem>.trc``, OpenSim Y up, Pose2Sim's marker names).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from models.skeleton import DIVE14
from tempose_cli.media.importers.calibration import Camera, write_calibration
from tempose_cli.media.importers.trc import DEFAULT_MAP, write_world_trc
from tempose_cli.synth import camera as cam

YAW_OFFSETS_DEG = (0.0, 40.0, -40.0, 20.0, -20.0, 60.0, -60.0, 10.0)
MAX_CAMERAS = len(YAW_OFFSETS_DEG)
MARKERS = tuple(DEFAULT_MAP[j] for j in DIVE14)  # Head, Neck, LShoulder, ...


def camera_name(c: int) -> str:
    return f"cam{c:02d}"


def view_stem(stem: str, c: int, cameras: int) -> str:
    return stem if cameras == 1 else f"{stem}_{camera_name(c)}"


def extra_camera(clip_seed: list[int], c: int, points: np.ndarray, size: tuple[int, int],
                 yaw: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.random.Generator]:
    """K, centre, R and the generator (sensor noise) of camera ``c`` >= 1."""
    rng = np.random.default_rng(np.random.SeedSequence([*clip_seed, 1000 + c]))
    K = cam.intrinsics(*size, float(rng.uniform(40, 55)))
    turn = yaw + np.radians(YAW_OFFSETS_DEG[c])
    view = [np.sin(turn), np.cos(turn), float(rng.uniform(-0.25, 0.0))]
    centre, R = cam.frame_points(points, K, size, view)
    return K, centre, R, rng


def write_session(out_dir: Path, stem: str, views: list[tuple[np.ndarray, np.ndarray]],
                  Ks: list[np.ndarray], size: tuple[int, int], joints_world: np.ndarray,
                  fps: float) -> dict:
    """The calibration TOML and TRC of the session; returns what the sidecars record."""
    cams = [Camera(camera_name(c), size, K, np.zeros(4), R, -R @ centre)
            for c, ((centre, R), K) in enumerate(zip(views, Ks, strict=True))]
    calib, trc = f"{stem}_calibration.toml", f"{stem}.trc"
    write_calibration(out_dir / calib, cams)
    write_world_trc(out_dir / trc, joints_world, fps, MARKERS)
    return {"cameras": len(cams), "calibration": calib, "trc": trc,
            "trc_axes": "(X, Y, Z)_trc = (Y, Z, X)_world (OpenSim Y up, Pose2Sim)"}
