"""benchmarks/gap_by_dive.py: per-frame errors grouped by dive position or athlete."""

from __future__ import annotations

import numpy as np
import pytest

from tests.benchmark_module import benchmark_module


def test_trunk_error_is_the_angle_between_the_trunks() -> None:
    mod = benchmark_module("gap_by_dive")
    true = np.zeros((2, 14, 3))
    true[:, 1] = (0.0, 0.0, 0.5)  # neck above the hips: upright
    pred = true.copy()
    pred[1, 1] = (0.0, 0.0, -0.5)  # upside down
    pred[1, 0] = (0.3, 0.0, 0.0)  # the head does not count
    assert mod.trunk_error(pred, true) == pytest.approx([0.0, 180.0])
    with pytest.raises(ValueError, match="14, 3"):
        mod.trunk_error(pred[:, :13], true[:, :13])


def test_group_stats_per_group_and_over_all() -> None:
    mod = benchmark_module("gap_by_dive")
    errors = {"n_mpjpe": np.array([100.0, 200.0, 50.0]), "p_mpjpe": np.array([10.0, 20.0, 5.0]),
              "trunk": np.array([5.0, 170.0, 10.0])}
    stats = mod.group_stats(errors, np.array(["position C", "position C", "position B"]))
    assert list(stats) == ["all", "position B", "position C"]
    assert stats["all"]["n_mpjpe"] == pytest.approx(350 / 3)
    c = stats["position C"]
    assert c["frames"] == 2
    assert (c["n_mpjpe"], c["p_mpjpe"]) == (pytest.approx(150.0), pytest.approx(15.0))
    assert (c["trunk_median"], c["trunk_over_90"]) == (pytest.approx(87.5), 0.5)


def test_a_malformed_fit_is_a_one_line_error() -> None:
    mod = benchmark_module("gap_by_dive")
    assert mod.parse_fit("ours:/h/a:5:21") == ("ours", "/h/a", 5, 21)
    with pytest.raises(SystemExit, match="NAME:HOME:RUN:SEED"):
        mod.parse_fit("ours:/h/a:five:21")
