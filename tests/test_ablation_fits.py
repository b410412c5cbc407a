"""benchmarks/ablation_fits.py: the benchmarks fit trained runs as `tempose ablation` does."""

from __future__ import annotations

from tempose_cli.pipeline.ablation import fit_options, make_request
from tests.benchmark_module import benchmark_module


def test_ablation_options_are_the_ablations_own_fit() -> None:
    mod = benchmark_module("ablation_fits")
    req = make_request(["ours"], ["mean"], [1.0, 0.2, 0.05], "diver", None, seed=27)
    for every in mod.EVERIES:
        assert mod.ablation_options(27, every) == fit_options(req, every, "frozen")
    assert mod.ablation_options(27, 5, feature="z_tv").feature == "z_tv"
    assert mod.ablation_options(27, 5) != fit_options(req, 5, "scratch")  # not the MLP's
