"""The one pixel convention (core/geometry.py): pixel centres at integers, OpenCV's
convention and the one ``tempose synth`` writes into its labels."""

from __future__ import annotations

import cv2
import numpy as np

from tempose_cli.core.geometry import (
    box_centres_px,
    box_corners_px,
    norm_to_px,
    project,
    px_to_norm,
    rescale_px,
)


def test_pixel_convention_centres_at_integers_like_opencv_and_synth_labels() -> None:
    w, h = 64, 48
    # The frame's edges (normalised -1 and +1) are pixel edges: -0.5 and W - 0.5.
    np.testing.assert_allclose(norm_to_px([[-1, -1], [1, 1]], (w, h)),
                               [[-0.5, -0.5], [w - 0.5, h - 0.5]])
    # The centre of pixel 0 is normalised -1 + 1/W (align_corners=False).
    np.testing.assert_allclose(px_to_norm([0.0, 0.0], (w, h)), [-1 + 1 / w, -1 + 1 / h])
    uv = np.random.default_rng(0).uniform(-1, 70, (10, 2))
    np.testing.assert_allclose(norm_to_px(px_to_norm(uv, (w, h)), (w, h)), uv)
    # A full-frame box spans the pixel edges; its centre is the image centre.
    np.testing.assert_allclose(box_corners_px([1, 1, 0, 0], (w, h)),
                               [-0.5, -0.5, w - 0.5, h - 0.5])
    np.testing.assert_allclose(box_centres_px(np.array([[1, 1, 0, 0]]), (w, h)),
                               [[(w - 1) / 2, (h - 1) / 2]])
    np.testing.assert_allclose(rescale_px(np.array([-0.5, -0.5, w - 0.5, h - 0.5]), (2, 2)),
                               [-0.5, -0.5, 2 * w - 0.5, 2 * h - 0.5])
    # Projection through K agrees with OpenCV's (principal point (W-1)/2 = image centre,
    # as synth's cameras place it), with and without a pose R, t.
    K = np.array([[80.0, 0, (w - 1) / 2], [0, 82.0, (h - 1) / 2], [0, 0, 1]])
    rng = np.random.default_rng(1)
    pts = rng.uniform([-1, -1, 4], [1, 1, 8], (20, 3))
    rvec, t = np.array([0.1, -0.2, 0.05]), np.array([0.2, -0.1, 0.5])
    R = cv2.Rodrigues(rvec)[0]
    ref, _ = cv2.projectPoints(pts, rvec, t, K, None)
    np.testing.assert_allclose(project(pts, K, R, t), ref[:, 0], atol=1e-9)
    np.testing.assert_allclose(project(np.array([0.0, 0.0, 5.0]), K),
                               [(w - 1) / 2, (h - 1) / 2])
