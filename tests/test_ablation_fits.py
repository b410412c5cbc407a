"""benchmarks/ablation_fits.py: the benchmarks fit trained runs as `tempose ablation` does."""

from __future__ import annotations

from tempose_cli.pipeline.ablation_names import FIT_CONTEXT, FIT_REGRESSOR, FIT_TRACK
from tests.benchmark_module import benchmark_module


def test_ablation_options_are_the_ablations_frozen_fit() -> None:
    mod = benchmark_module("ablation_fits")
    for every in mod.EVERIES:
        o = mod.ablation_options(27, every)
        assert (o.mode, o.split, o.every, o.seed) == ("frozen", "diver", every, 27)
        assert (o.regressor, o.context, o.track) == (FIT_REGRESSOR, FIT_CONTEXT, FIT_TRACK)
        assert o.feature == "features"
    changed = mod.ablation_options(27, 5, feature="z_tv")
    assert changed.feature == "z_tv" and changed.context == FIT_CONTEXT
