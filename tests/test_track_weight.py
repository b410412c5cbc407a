"""benchmarks/track_weight.py --summarise: the rules of picking the knn track weight."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.benchmark_module import benchmark_module

OUTPUT = "\n".join([
    "run 5 of /h/a, seed 21: N-MPJPE (mm) validation / test per weight",
    "fraction 1/5: 0: 100.0 / 200.0, 0.03: 110.0 / 150.0, 0.1: 120.0 / 140.0, "
    "0.3: 130.0 / 160.0; kept 0: 200.0",
    "run 1 of /h/b, seed 23: N-MPJPE (mm) validation / test per weight",
    "fraction 1/5: 0: 100.0 / 180.0, 0.03: 90.0 / 170.0, 0.1: 80.0 / 175.0, "
    "0.3: 95.0 / 165.0; kept 0.1: 175.0",
])


def test_summarise_scores_each_rule_on_the_test_clips() -> None:
    mod = benchmark_module("track_weight")
    rows = mod.parse(OUTPUT)
    assert [(r[0], r[1], r[3], r[4]) for r in rows] == [(21, 5, 0.0, 200.0), (23, 5, 0.1, 175.0)]
    rules = mod.rules(rows)
    assert rules["validation among all"] == pytest.approx((200 + 175) / 2)
    # Among 0.03 / 0.1 / 0.3 validation picks 0.03 (150) and 0.1 (175).
    assert rules["validation among 0.03/0.1/0.3"] == pytest.approx((150 + 175) / 2)
    assert rules["fixed 0.3"] == pytest.approx((160 + 165) / 2)
    assert rules["oracle"] == pytest.approx((140 + 165) / 2)
    text = mod.summarise(OUTPUT, {21})
    assert "tuned on, fraction 1/5 (1 runs)" in text
    assert "not tuned on, fraction 1/5 (1 runs)" in text
    assert text.endswith("weight 0 worse than 0.03 on test in 2 of 2 fits; "
                         "validation among all chose 0 in 1")
    with pytest.raises(SystemExit, match="no 'fraction"):
        mod.summarise("nothing here", set())


def test_a_missing_output_file_is_a_one_line_error(tmp_path: Path) -> None:
    script = Path(__file__).resolve().parent.parent / "benchmarks" / "track_weight.py"
    res = subprocess.run([sys.executable, str(script), "--summarise", str(tmp_path / "no.txt")],
                         capture_output=True, text=True)
    assert res.returncode != 0
    assert res.stderr.strip() == f"error: no such file: {tmp_path / 'no.txt'}"

