"""How well the detector's box follows the athlete: box centre against the true CG.

The reference point is the projection of the whole-body centre of gravity when the
sidecar records it in world coordinates (generated clips: ``synth.cg_world``), else
the 2D pelvis (mid-hip) of the labels. Pixels are at the source video's size.
"""

from __future__ import annotations

import numpy as np

from models.skeleton import JOINT_INDEX
from tempose_cli.core.geometry import box_centres_px, project


def reference_track(sidecar: dict | None, j2d: np.ndarray | None) -> np.ndarray | None:
    """(T, 2) pixels of the CG (from the sidecar) or of the labelled pelvis; None if neither."""
    synth = (sidecar or {}).get("synth") or {}
    camera = (sidecar or {}).get("camera") or {}
    if "cg_world" in synth and "K" in camera:
        cg = np.asarray(synth["cg_world"], float)
        R = np.asarray(camera.get("R_per_frame", camera.get("R", np.eye(3))), float)
        t = np.asarray(camera.get("t_per_frame", camera.get("t", np.zeros(3))), float)
        return project(cg, np.asarray(camera["K"], float), R, t)
    if j2d is not None:
        return 0.5 * (j2d[:, JOINT_INDEX["l_hip"]] + j2d[:, JOINT_INDEX["r_hip"]])
    return None


def tracking_error(box: np.ndarray, reference: np.ndarray, size: tuple[int, int]) -> dict:
    """Distance from box centre to the reference point, and how often the box holds it."""
    if box.shape[0] != reference.shape[0]:
        raise ValueError(f"{box.shape[0]} boxes but {reference.shape[0]} reference points")
    ok = np.isfinite(reference).all(1)
    centres = box_centres_px(box, size)[ok]
    ref = reference[ok]
    dist = np.linalg.norm(centres - ref, axis=1)
    w, h = size
    half = box[ok, :2] * np.array([w, h]) / 2  # half extents in pixels
    inside = (np.abs(ref - centres) <= half).all(1)
    return {"frames": int(ok.sum()), "mean_px": float(dist.mean()),
            "mean_rel": float(dist.mean() / h), "inside": float(inside.mean())}
