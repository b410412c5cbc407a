"""benchmarks/gap_by_dive.py: a fit's per-clip figures grouped by dive position or athlete."""

from __future__ import annotations

import pytest

from tests.benchmark_module import benchmark_module


def test_groups_are_frame_weighted_means_of_the_clips() -> None:
    mod = benchmark_module("gap_by_dive")
    per_clip = {"1": {"frames": 30, "n_mpjpe": 100.0}, "2": {"frames": 10, "n_mpjpe": 200.0},
                "3": {"frames": 20, "n_mpjpe": 50.0}}
    groups = mod.by_group(per_clip, {1: "position C", 2: "position C", 3: "position B"})
    assert groups == {"position B": pytest.approx(50.0),
                      "position C": pytest.approx((30 * 100 + 10 * 200) / 40)}
    assert list(groups) == ["position B", "position C"]  # sorted: rows line up across runs


def test_a_malformed_fit_is_a_one_line_error() -> None:
    mod = benchmark_module("gap_by_dive")
    assert mod.parse_fit("ours:/h/a:5:21") == ("ours", "/h/a", 5, 21)
    with pytest.raises(SystemExit, match="NAME:HOME:RUN:SEED"):
        mod.parse_fit("ours:/h/a:five:21")
