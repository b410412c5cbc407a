"""benchmarks/feature_similarity.py: the pairs of frames whose feature cosine it averages."""

from __future__ import annotations

import numpy as np
import pytest

from tests.benchmark_module import benchmark_module


def test_pairs_within_max_delta_with_their_cosine_and_pose_distance() -> None:
    mod = benchmark_module("feature_similarity")
    z = np.array([[1.0, 0.0], [2.0, 0.0], [0.0, 3.0]])  # frame 2 orthogonal to 0 and 1
    y = np.zeros((3, 14, 3))
    y[1] += 0.1  # every joint 0.1 * sqrt(3) m away from frame 0's
    y[2] = np.nan  # unlabelled: its pairs are left out
    clip, delta, cos, dist = mod.pair_table([z], [y], max_delta=2)
    assert clip.tolist() == [0] and delta.tolist() == [1]
    assert cos == pytest.approx([1.0])  # cosine: scale does not count
    assert dist == pytest.approx([0.1 * np.sqrt(3)])
    y[2] = 0.0
    clip, delta, cos, dist = mod.pair_table([z], [y], max_delta=2)
    pairs = sorted(zip(delta.tolist(), cos.round(6).tolist(), strict=True))
    assert pairs == [(1, 0.0), (1, 1.0), (2, 0.0)]


def test_mismatched_inputs_are_refused() -> None:
    mod = benchmark_module("feature_similarity")
    with pytest.raises(ValueError, match="feature rows"):
        mod.pair_table([np.zeros((3, 2))], [np.zeros((4, 14, 3))], 2)
    with pytest.raises(ValueError, match="pose tracks"):
        mod.pair_table([np.zeros((3, 2))], [], 2)
