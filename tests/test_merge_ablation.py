"""benchmarks/merge_ablation.py: Table V rows from several ablation outputs."""

from __future__ import annotations

from pathlib import Path

from tempose_cli.pipeline.ablation import csv_text
from tests.benchmark_module import benchmark_module


def _module():
    return benchmark_module("merge_ablation")


def _row(name: str, kind: str, fraction: float, n: float, kept: bool | None = False) -> dict:
    return {"row": name, "kind": kind, "fraction": fraction, "every": round(1 / fraction),
            "train_frames": 100, "test_frames": 50, "mpjpe": n + 50, "n_mpjpe": n,
            "p_mpjpe": n / 2, "fit": 3 if kind == "variant" else None,
            "run": 2 if kind == "variant" else None,
            "mean_pose_kept": kept if kind == "variant" else None,
            "detector_from": "ours" if name == "random" else None}


def test_later_files_win_and_rows_follow_table_v(tmp_path: Path) -> None:
    a, b = tmp_path / "a.csv", tmp_path / "b.csv"
    a.write_text(csv_text([_row("mean", "baseline", 0.2, 400.0),
                           _row("ours", "variant", 0.2, 320.0),
                           _row("random", "baseline", 0.2, 380.0)]))
    b.write_text(csv_text([_row("ours", "variant", 0.2, 310.0, kept=True),
                           _row("dsl", "variant", 0.2, 350.0),
                           _row("ours", "variant", 1.0, 290.0)]))
    rows = _module().merge([a, b])
    assert [(r["row"], r["fraction"]) for r in rows] == [
        ("dsl", 0.2), ("ours", 1.0), ("ours", 0.2), ("mean", 0.2), ("random", 0.2)]
    ours = rows[2]
    assert ours["n_mpjpe"] == 310.0 and ours["mean_pose_kept"] is True and ours["fit"] == 3
    assert rows[4]["detector_from"] == "ours" and rows[3]["fit"] is None
    # The merged rows write as the ablation's own rows do.
    assert csv_text(rows).splitlines()[0] == a.read_text().splitlines()[0]


def test_repeats_stay_apart_and_files_from_before_repeats_read_as_repeat_0(
        tmp_path: Path) -> None:
    old, new = tmp_path / "old.csv", tmp_path / "new.csv"
    text = csv_text([_row("ours", "variant", 0.2, 320.0)]).splitlines()
    col = text[0].split(",").index("repeat")
    old.write_text("\n".join(",".join(v for i, v in enumerate(line.split(",")) if i != col)
                             for line in text) + "\n")  # written before --repeats existed
    new.write_text(csv_text([{**_row("ours", "variant", 0.2, 300.0), "repeat": 1},
                             {**_row("ours", "variant", 0.2, 330.0), "repeat": 0}]))
    rows = _module().merge([old, new])
    assert [(r["repeat"], r["n_mpjpe"]) for r in rows] == [(0, 330.0), (1, 300.0)]
    rows = _module().merge([new, old])
    assert [(r["repeat"], r["n_mpjpe"]) for r in rows] == [(0, 320.0), (1, 300.0)]
