"""MPJPE, N-MPJPE, P-MPJPE on constructed cases (models/metrics.py)."""

import numpy as np
import pytest

from models.metrics import (
    all_metrics,
    joint_errors,
    mpjpe,
    n_mpjpe,
    p_mpjpe,
    procrustes_align,
    scale_to,
)


def poses(n: int = 5, j: int = 14, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, j, 3)) * 300  # mm


def rotation(axis: np.ndarray, angle: float) -> np.ndarray:
    a = axis / np.linalg.norm(axis)
    K = np.array([[0, -a[2], a[1]], [a[2], 0, -a[0]], [-a[1], a[0], 0]])
    return np.eye(3) + np.sin(angle) * K + (1 - np.cos(angle)) * K @ K


def test_identical_poses_have_zero_error() -> None:
    gt = poses()
    for value in all_metrics(gt, gt).values():
        assert value == pytest.approx(0, abs=1e-6)


def test_mpjpe_hand_computed() -> None:
    gt = np.zeros((2, 2, 3))
    pred = np.zeros((2, 2, 3))
    pred[0, 0] = [3, 4, 0]  # 5
    pred[0, 1] = [0, 0, 1]  # 1
    pred[1, 0] = [0, 6, 8]  # 10
    # frame 1, joint 1 stays 0
    assert mpjpe(pred, gt) == pytest.approx((5 + 1 + 10 + 0) / 4)
    assert np.allclose(mpjpe(pred, gt, "joint"), [7.5, 0.5])
    assert np.allclose(mpjpe(pred, gt, "frame"), [3, 5])
    assert np.allclose(mpjpe(pred, gt, "none"), [[5, 1], [10, 0]])
    assert np.allclose(joint_errors(pred, gt), [[5, 1], [10, 0]])


def test_n_mpjpe_is_zero_after_a_pure_scale_but_mpjpe_is_not() -> None:
    gt = poses()
    pred = gt * np.array([0.5, 1.7, 3.0, 0.9, 1.1])[:, None, None]  # a scale per frame
    assert mpjpe(pred, gt) > 10
    assert n_mpjpe(pred, gt) == pytest.approx(0, abs=1e-6)
    assert np.allclose(scale_to(pred, gt), gt)


def test_p_mpjpe_is_zero_after_rotation_scale_translation() -> None:
    gt = poses()
    R = rotation(np.array([0.3, -1.0, 0.5]), 2.1)
    pred = 0.7 * gt @ R.T + np.array([100.0, -50.0, 2000.0])
    assert mpjpe(pred, gt) > 100 and n_mpjpe(pred, gt) > 10
    assert p_mpjpe(pred, gt) == pytest.approx(0, abs=1e-6)
    assert np.allclose(procrustes_align(pred, gt), gt, atol=1e-6)


def test_p_mpjpe_never_reflects() -> None:
    gt = poses(n=3)
    mirrored = gt * np.array([-1.0, 1.0, 1.0])  # a reflection is not a rotation
    assert p_mpjpe(mirrored, gt) > 1.0


def test_metric_ordering_on_noisy_predictions() -> None:
    gt = poses(n=50)
    pred = 1.2 * gt + np.random.default_rng(1).normal(size=gt.shape) * 20
    m = all_metrics(pred, gt)
    assert m["p_mpjpe"] <= m["n_mpjpe"] + 1e-9 <= m["mpjpe"] + 1e-9


def test_leading_dimensions_are_kept() -> None:
    gt = poses(n=6).reshape(2, 3, 14, 3)
    pred = gt + 1.0
    assert mpjpe(pred, gt, "frame").shape == (2, 3)
    assert n_mpjpe(pred, gt, "none").shape == (2, 3, 14)
    assert p_mpjpe(pred, gt, "joint").shape == (14,)


@pytest.mark.parametrize("fn", [mpjpe, n_mpjpe, p_mpjpe])
def test_shape_mismatch_raises(fn) -> None:
    with pytest.raises(ValueError, match="differ in shape"):
        fn(np.zeros((4, 14, 3)), np.zeros((4, 13, 3)))
    with pytest.raises(ValueError, match="expected"):
        fn(np.zeros((4, 14)), np.zeros((4, 14)))


def test_unknown_reduction_raises() -> None:
    with pytest.raises(ValueError, match="unknown reduce"):
        mpjpe(poses(), poses(), "median")
