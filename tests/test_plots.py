"""OpenCV line plots: ticks, that lines land where the data are, the dive plots."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from tempose_cli.core.labels import PoseTrack
from tempose_cli.media.plots import (
    Series,
    line_plot,
    nice_ticks,
    plot_cg_height,
    plot_joint_angles,
    plot_rotation,
)
from tempose_cli.pose.dive_analysis import analyze_dive


def test_nice_ticks():
    np.testing.assert_allclose(nice_ticks(0.3, 9.2), np.arange(0, 11, 2))
    np.testing.assert_allclose(nice_ticks(-534, 40, step=90), np.arange(-540, 91, 90))
    assert len(nice_ticks(5.0, 5.0)) >= 2 and len(nice_ticks(np.nan, 1.0)) == 2


def test_line_plot_draws_the_series():
    x = np.linspace(0, 10, 50)
    img = line_plot([Series(x, x, "rising", colour=(255, 0, 0)),
                     Series(x, np.full(50, np.nan), "nothing")], "t", "x", "y",
                    size=(400, 300), spans=[(2, 4, "flight")])
    assert img.shape == (300, 400, 3) and img.dtype == np.uint8
    red = (img[..., 0] > 200) & (img[..., 1] < 80) & (img[..., 2] < 80)
    ys, xs = np.nonzero(red[:, :-200])  # the curve, left of the legend
    assert len(xs) > 50
    assert np.corrcoef(xs, -ys)[0, 1] > 0.99  # rising to the right


def _dive_track(n: int = 40, fps: float = 25.0) -> PoseTrack:
    """A stick body thrown up, rotating forward one half turn, in camera coordinates."""
    t = np.arange(n) / fps
    body = np.zeros((14, 3))
    body[:, 1] = [-0.8, -0.6, -0.55, -0.55, -0.3, -0.3, -0.05, -0.05, 0, 0, 0.4, 0.4, 0.8,
                  0.8]
    body[:, 0] = [0, 0, 0.2, -0.2, 0.2, -0.2, 0.2, -0.2, 0.1, -0.1, 0.1, -0.1, 0.1, -0.1]
    theta = np.pi * t / t[-1]
    rot = np.stack([np.stack([np.ones(n), np.zeros(n), np.zeros(n)], 1),
                    np.stack([np.zeros(n), np.cos(theta), -np.sin(theta)], 1),
                    np.stack([np.zeros(n), np.sin(theta), np.cos(theta)], 1)], 1)
    j3d = np.einsum("tij,kj->tki", rot, body)
    cg_y = -(3.0 * t - 4.905 * t * t)  # image down = -height
    j3d = j3d + np.stack([np.zeros(n), cg_y, np.full(n, 10.0)], 1)[:, None]
    return PoseTrack(frame=np.arange(n), time_s=t, j3d=j3d)


@pytest.mark.parametrize("plot", [plot_joint_angles, plot_cg_height, plot_rotation])
def test_dive_plots_are_pngs(tmp_path: Path, plot):
    a = analyze_dive(_dive_track(), 25.0, K=np.array([[500, 0, 320], [0, 500, 240],
                                                       [0, 0, 1.0]]))
    assert a.flight is not None
    path = plot(tmp_path / "p.png", a)
    img = cv2.imread(str(path))
    assert img is not None and img.shape[0] > 300 and img.shape[1] > 600
    assert len(np.unique(img.reshape(-1, 3), axis=0)) > 10  # more than an empty frame


def test_plots_without_flight_or_angles(tmp_path: Path):
    uv = np.random.default_rng(0).random((8, 14, 2)) * 100
    a = analyze_dive(PoseTrack(frame=np.arange(8), time_s=np.arange(8) / 10, j2d=uv), None)
    for plot in (plot_joint_angles, plot_cg_height, plot_rotation):
        assert plot(tmp_path / f"{plot.__name__}.png", a).is_file()
