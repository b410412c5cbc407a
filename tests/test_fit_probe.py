"""benchmarks/fit_probe.py: the true-joints box of ``--oracle-box``."""

from __future__ import annotations

import numpy as np

from tempose_cli.core.geometry import box_corners_px
from tests.benchmark_module import benchmark_module


def _module():
    return benchmark_module("fit_probe")


def test_joints_box_is_square_centred_and_scaled_on_the_joints() -> None:
    size = (320, 240)  # (W, H): a square box has different normalised half-extents
    j2d = np.zeros((2, 14, 2))
    j2d[0, :, 0] = np.linspace(100, 140, 14)  # 40 px wide, 80 px tall
    j2d[0, :, 1] = np.linspace(50, 130, 14)
    j2d[1] = np.nan  # an unlabelled frame
    box = _module().joints_boxes(j2d, size, 1.5)  # (2, 4)
    x0, y0, x1, y1 = box_corners_px(box[0], size)
    assert np.isclose(x1 - x0, 120) and np.isclose(y1 - y0, 120)  # 1.5 x the longer side
    assert np.isclose((x0 + x1) / 2, 120) and np.isclose((y0 + y1) / 2, 90)
    assert np.isnan(box[1]).all()
