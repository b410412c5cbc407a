"""benchmarks/paired_seeds.py: two settings of one row compared seed by seed."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tempose_cli.pipeline.ablation import csv_text
from tests.benchmark_module import benchmark_module
from tests.test_merge_ablation import _row


def _csv(path: Path, values: list[float], fraction: float = 0.2) -> str:
    path.write_text(csv_text([{**_row("ours", "variant", fraction, v), "repeat": i}
                              for i, v in enumerate(values)]
                             + [_row("mean", "baseline", fraction, 400.0)]))
    return str(path)


def test_differences_are_per_seed_means_with_the_pooled_noise(tmp_path: Path) -> None:
    mod = benchmark_module("paired_seeds")
    a = mod.trainings([f"1:{_csv(tmp_path / 'a1.csv', [100.0, 110.0])},"
                       f"{_csv(tmp_path / 'a1b.csv', [120.0])}",
                       f"2:{_csv(tmp_path / 'a2.csv', [200.0])}"], "ours", "a")
    b = mod.trainings([f"1:{_csv(tmp_path / 'b1.csv', [130.0, 150.0])}",
                       f"2:{_csv(tmp_path / 'b2.csv', [190.0, 210.0])}"], "ours", "b")
    assert [len(a[1]), len(a[2]), len(b[1])] == [3, 1, 2]  # repeat 0 of two files kept apart
    res = mod.compare(a, b)
    # Pooled sd: a/1 (100, 110, 120) ss 200, b/1 ss 200, b/2 ss 200 -> sqrt(600 / 4).
    sd, dof = res["noise"][0.2]
    assert dof == 4 and sd == pytest.approx(math.sqrt(150.0))
    s1 = res["per_seed"][1][0.2]
    assert s1[:5] == (110.0, 3, 140.0, 2, 30.0)
    assert s1[5] == pytest.approx(30.0 / (sd * math.sqrt(1 / 3 + 1 / 2)))
    assert res["per_seed"][2][0.2][4] == 0.0
    mean, se = res["overall"][0.2]
    assert mean == 15.0
    assert se == pytest.approx(math.sqrt(sd ** 2 * (1 / 3 + 1 / 2) + sd ** 2 * (1 + 1 / 2)) / 2)


def test_bad_specs_stop_with_one_line(tmp_path: Path) -> None:
    mod = benchmark_module("paired_seeds")
    with pytest.raises(SystemExit, match="is not SEED:CSV"):
        mod.trainings(["x.csv"], "ours", "a")
    with pytest.raises(SystemExit, match="no such file"):
        mod.trainings([f"1:{tmp_path / 'none.csv'}"], "ours", "a")
    (tmp_path / "e.csv").write_text(csv_text([_row("mean", "baseline", 0.2, 400.0)]))
    with pytest.raises(SystemExit, match="no 'dsl' rows for seed 1"):
        mod.trainings([f"1:{_csv(tmp_path / 'a.csv', [1.0])}"], "dsl", "a")
    with pytest.raises(SystemExit, match="no 'ours' rows for seed 1"):  # the same seed again
        mod.trainings([f"1:{_csv(tmp_path / 'a.csv', [1.0])}",
                       f"1:{tmp_path / 'e.csv'}"], "ours", "a")
