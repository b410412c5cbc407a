"""The 2D placement of a pelvis-centred 3D pose in the image: an estimate from the
detector's track (``learn/detector.py``) and, with the clip's K, a perspective
projection (``core/geometry.py``)."""

from __future__ import annotations

import numpy as np

from models.skeleton import pelvis_centred
from tempose_cli.core.geometry import back_project, project
from tempose_cli.pose import biomech


def frame_scales(j3d: np.ndarray, box_side_px: np.ndarray, fill: float = 0.85) -> np.ndarray:
    """(T,) pixels per metre of each frame by the scale rule of ``place_skeleton``: the
    joints' extent in the image plane spans ``fill`` of the box's longer side."""
    p = pelvis_centred(np.asarray(j3d, float))
    q = p - biomech.centre_of_gravity(p)[:, None]
    extent = np.maximum(np.ptp(q[..., 0], axis=1), np.ptp(q[..., 1], axis=1))  # (T,) m
    with np.errstate(invalid="ignore", divide="ignore"):
        return fill * np.asarray(box_side_px, float) / extent


def place_skeleton(j3d: np.ndarray, anchor_uv: np.ndarray, box_side_px: np.ndarray,
                   K: np.ndarray | None = None, fill: float = 0.85
                   ) -> tuple[np.ndarray, dict]:
    """2D joints (T, 14, 2) in pixels for pelvis-centred 3D joints (T, 14, 3) in metres.

    An estimate, from two assumptions:

    - position: the body's centre of gravity (``biomech.centre_of_gravity``, the same
      segment table as the analysis) projects onto ``anchor_uv``, the mask-based
      centre. The mask's centroid is the silhouette's, which lies near the CG in any
      pose, while the pelvis leaves it in a pike or tuck; anchoring the CG also keeps
      the image CG track (the flight parabola) the mask's own measurement.
    - scale: the skeleton's extent in the image plane (the larger of its x and y
      ranges, metres) spans ``fill`` of the box's longer side. The default 0.85 is
      the part of the crop where the decoder's paste window is 1
      (``ModelConfig.window_margin`` = 0.15). The per-frame ratio is noisy (boxes
      jitter, the extent changes with the pose), and a diver's distance from the
      camera changes little in a dive, so one scale, the median over frames, is used
      for the whole clip.

    With the camera matrix ``K`` the pose is placed at the depth Z = f / scale (f the
    mean focal length in pixels) on the ray through the anchor and projected with K
    (perspective); without K it is drawn with weak perspective, uv = anchor + scale *
    (x, y). Camera axes are the labels' (x right, y down), so no rotation is needed.
    Frames with a missing joint are NaN.
    """
    p = pelvis_centred(np.asarray(j3d, float))
    q = p - biomech.centre_of_gravity(p)[:, None]  # CG-centred
    ratio = frame_scales(p, box_side_px, fill)
    ok = np.isfinite(ratio) & (ratio > 0)
    scale = float(np.median(ratio[ok])) if ok.any() else float("nan")
    anchor = np.asarray(anchor_uv, float)
    info = {"estimate": True, "anchor": "centre of gravity at the mask-based centre",
            "scale_rule": f"joint extent = {fill:g} x the box's longer side, median over "
                          "frames", "px_per_m": scale, "fill": fill}
    if K is None:
        info["projection"] = "weak perspective (no camera matrix)"
        return anchor[:, None] + scale * q[..., :2], info
    K = np.asarray(K, float)
    f = 0.5 * (K[0, 0] + K[1, 1])
    depth = f / scale
    points = q + depth * back_project(anchor, K)[:, None]  # CG at depth Z on the ray
    info |= {"projection": "perspective with the clip's K", "depth_m": depth}
    return project(points, K), info
