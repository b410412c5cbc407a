"""``tempose ablation`` end to end on a tiny generated set: rows, files, baselines, reuse."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import cv2
import pytest
import torch
from sqlalchemy import func, select

from tempose_cli.pipeline.ablation import ROW_KEYS, log_ticks
from tests.conftest import generated_catalogue, sessions, tempose

# 2 variants (ours has the detector the baselines borrow; dsl has none) x 2 fractions.
FAST = ["--variants", "ours,dsl", "--baselines", "mean,random,scratch", "--fractions", "1,0.5",
        "--steps", "4", "--fit-steps", "20", "--hidden", "16", "--device", "cpu"]


@pytest.fixture(scope="module")
def done(tmp_path_factory):
    """A 4-athlete catalogue and one finished ablation: (home, out, rows)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny networks: a second thread only adds contention
    root = tmp_path_factory.mktemp("ablation")
    home = generated_catalogue(root, athletes=4, clips=1)
    out = root / "out"
    res = tempose(home, "ablation", *FAST, "--out", out)
    assert res.exit_code == 0, res.output
    yield home, out, json.loads(res.stdout)
    torch.set_num_threads(threads)


def n_runs(home: Path) -> int:
    from store.schema import Run

    with sessions(home).begin() as s:
        return s.scalar(select(func.count()).select_from(Run))


def test_rows_and_files(done) -> None:
    home, out, rows = done
    assert len(rows) == 5 * 2  # (2 variants + 3 baselines) x 2 fractions
    assert [(r["row"], r["fraction"]) for r in rows[:4]] == [
        ("ours", 1.0), ("ours", 0.5), ("dsl", 1.0), ("dsl", 0.5)]
    for r in rows:
        assert set(ROW_KEYS) <= set(r), r
        assert r["test_frames"] > 0 and r["train_frames"] > 0
        assert 0 < r["p_mpjpe"] <= r["mpjpe"] and r["n_mpjpe"] <= r["mpjpe"] + 1e-6
    by = {(r["row"], r["fraction"]): r for r in rows}
    for f in (1.0, 0.5):  # every row sees the same split and labelled frames
        assert len({(by[n, f]["train_frames"], by[n, f]["test_frames"])
                    for n in ("ours", "dsl", "mean", "random", "scratch")}) == 1
        assert by["ours", f]["n_mpjpe_vs_ours"] == pytest.approx(1.0)
        assert by["mean", f]["fit"] is None and by["mean", f]["run"] is None
        for b in ("random", "scratch"):
            assert by[b, f]["run"] == by["ours", f]["run"] and by[b, f]["detector_from"] == "ours"
    assert by["ours", 0.5]["train_frames"] < by["ours", 1.0]["train_frames"]

    with open(out / "ablation.csv") as f:
        table = list(csv.DictReader(f))
    assert [r["row"] for r in table] == [r["row"] for r in rows]
    assert {"n_mpjpe_vs_ours", "n_mpjpe_vs_mean", *ROW_KEYS} <= set(table[0])
    md = (out / "ablation.md").read_text()
    assert "## N-MPJPE (mm) (ratio to `ours`)" in md and "| scratch |" in md
    assert "tempose --home" in md and "--steps 4" in md and "min" in md
    assert "detector of the `ours` run" in md
    img = cv2.imread(str(out / "ablation.png"))
    assert img is not None and img.shape[0] > 400 and img.shape[1] > 800
    assert not [p.name for p in out.iterdir() if p.name.startswith(".")]  # no temporaries


def test_mean_baseline_is_the_training_mean_pose(done) -> None:
    """Equal to a fit with no regressor step: its regressor outputs the training mean."""
    from tempose_cli.core.workspace import Workspace
    from tempose_cli.learn.fitdata import FitOptions
    from tempose_cli.pipeline.chain import ensure_fit, fit_result

    home, _, rows = done
    ours = next(r for r in rows if r["row"] == "ours" and r["fraction"] == 0.5)
    mean = next(r for r in rows if r["row"] == "mean" and r["fraction"] == 0.5)
    ss = sessions(home)
    opts = FitOptions(split="diver", every=2, steps=0, hidden=16)
    fit_id, _ = ensure_fit(ss, Workspace.from_options(home), ours["run"], opts,
                           torch.device("cpu"))
    with ss.begin() as s:
        ref = fit_result(s, fit_id)
    assert ref["mean_pose"]
    assert (mean["train_frames"], mean["test_frames"]) == (ref["train_frames"],
                                                          ref["test_frames"])
    for m in ("mpjpe", "n_mpjpe", "p_mpjpe"):
        assert mean[m] == pytest.approx(ref[m], abs=0.05), m  # float64 here, float32 there


def test_rerun_reuses_runs_and_fits(done, tmp_path: Path) -> None:
    home, out, rows = done
    before = n_runs(home)
    res = tempose(home, "ablation", *FAST, "--out", tmp_path / "again")
    assert res.exit_code == 0, res.output
    assert n_runs(home) == before  # nothing trained or fitted again
    assert json.loads(res.stdout) == rows
    assert (tmp_path / "again" / "ablation.csv").read_text() == \
        (out / "ablation.csv").read_text()
    text = tempose(home, "ablation", *FAST, "--out", tmp_path / "text", json_out=False)
    assert text.exit_code == 0, text.output
    assert "reused" in text.stdout and "scratch" in text.stdout and "ablation.png" in text.stdout


def test_defaults_are_knn_with_context_and_the_paper_s_mlp_reuses_the_training(done, tmp_path
                                                                            ) -> None:
    home, out, rows = done
    by = {(r["row"], r["fraction"]): r for r in rows}
    for f in (1.0, 0.5):  # the defaults: knn on 2 frames either side; scratch the MLP alone
        assert by["ours", f]["regressor"] == by["random", f]["regressor"] == "knn"
        assert by["ours", f]["context"] == by["random", f]["context"] == 2
        assert by["scratch", f]["regressor"] == "mlp" and by["scratch", f]["context"] == 0
        assert by["mean", f]["regressor"] is None
    md = (out / "ablation.md").read_text()
    assert "regressor: k nearest labelled frames, on each frame's features and those 2" in md
    res = tempose(home, "ablation", *FAST, "--regressor", "mlp", "--context", "0",
                  "--out", tmp_path / "mlp")
    assert res.exit_code == 0, res.output
    mlp = {(r["row"], r["fraction"]): r for r in json.loads(res.stdout)}
    assert {r["run"] for r in mlp.values() if r["run"]} == {r["run"] for r in rows if r["run"]}
    for f in (1.0, 0.5):
        assert mlp["ours", f]["regressor"] == mlp["random", f]["regressor"] == "mlp"
        assert mlp["ours", f]["context"] == 0 and mlp["ours", f]["fit"] != by["ours", f]["fit"]
        assert mlp["scratch", f]["fit"] == by["scratch", f]["fit"]  # the same fit, reused
        assert mlp["mean", f]["n_mpjpe"] == by["mean", f]["n_mpjpe"]
    assert "regressor: MLP\n" in (tmp_path / "mlp" / "ablation.md").read_text()


def test_fits_recorded_before_an_option_existed_are_reused(done, tmp_path) -> None:
    from store.schema import Run

    home, _, rows = done
    with sessions(home).begin() as s:  # as fits recorded before --context was added
        stripped = 0
        for fit in s.scalars(select(Run).where(Run.kind == "fit")):
            if fit.config["options"]["context"] == 0:  # scratch: the frame alone
                fit.config = {**fit.config, "options": {
                    k: v for k, v in fit.config["options"].items() if k != "context"}}
                stripped += 1
    assert stripped >= 2  # scratch at both fractions (and any MLP fit of an earlier test)
    before = n_runs(home)
    res = tempose(home, "ablation", *FAST, "--out", tmp_path / "old")
    assert res.exit_code == 0, res.output
    assert n_runs(home) == before and json.loads(res.stdout) == rows


@pytest.mark.parametrize("args, message", [
    (["--regressor", "svm"], "unknown regressor 'svm'"),
    (["--context", "-1"], "--context must be >= 0"),
    (["--variants", "ours,nope"], "unknown variant 'nope'"),
    (["--baselines", "median"], "unknown baseline 'median'"),
    (["--fractions", "1,1.5"], "outside (0, 1]"),
    (["--fractions", "0"], "outside (0, 1]"),
    (["--fractions", "a"], "not a number"),
    (["--split", "both"], "unknown split 'both'"),
    (["--variants", "dsl", "--baselines", "random"], "crop with a trained detector"),
    (["--set", "nope=1"], "KEY a TrainConfig field"),
    (["--set", "seed=3"], "the ablation sets it"),
    (["--set", "w_contrastive=much"], "w_contrastive takes a float"),
    (["--set", "ti_swap=nearest"], "ti_swap 'nearest': any | far | others"),
    (["--repeats", "0"], "--repeats must be >= 1"),
    (["--model", "nope=1"], "KEY a ModelConfig field"),
    (["--model", "crop_size=wide"], "crop_size takes a int"),
    (["--model", "ti_pool=max"], "ti_pool 'max': same | avg"),
])
def test_bad_requests_are_one_line_errors(done, tmp_path: Path, args, message) -> None:
    home = done[0]
    before = n_runs(home)
    res = tempose(home, "ablation", *FAST, *args, "--out", tmp_path / "out")
    assert res.exit_code != 0
    assert res.stderr.startswith("error: ") and message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out").exists() and n_runs(home) == before


def test_no_labelled_clips_is_a_one_line_error(tmp_path: Path) -> None:
    res = tempose(tmp_path / "home", "ablation", *FAST, "--out", tmp_path / "out")
    assert res.exit_code != 0 and "no dive clips with 3D labels" in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and not (tmp_path / "out").exists()


def test_log_axis_ticks_enclose_the_fractions() -> None:
    assert [t for _, t in log_ticks(0.05, 1)] == ["0.05", "0.1", "0.2", "0.5", "1"]
    assert [t for _, t in log_ticks(1 / 3, 1)] == ["0.2", "0.5", "1"]
    assert [t for _, t in log_ticks(1, 1)] == ["0.5", "1"]


def test_steps_keep_the_profiles_stage_one_share() -> None:
    from tempose_cli.core.errors import TemposeError
    from tempose_cli.pipeline.ablation import parse_model_set, parse_train_set, train_config

    default = train_config("ours", "dive", None, 0).train
    assert (default.steps, default.stage1_steps) == (3000, 600)
    short = train_config("ours", "dive", 10, 3).train
    assert (short.steps, short.stage1_steps, short.seed) == (10, 2, 3)
    # --set stage1_steps=M wins over the share, with or without --steps.
    (given,) = parse_train_set(["stage1_steps=300"])
    assert train_config("ours", "dive", None, 0, [given]).train.stage1_steps == 300
    assert train_config("ours", "dive", 10, 0, [("stage1_steps", 2)]).train.stage1_steps == 2
    with pytest.raises(TemposeError, match="the ablation sets it"):
        parse_train_set(["seed=4"])
    # --model overrides the cpu profile's networks, the rest of the profile kept.
    (pool,) = parse_model_set(["ti_pool=avg"])
    model = train_config("ours", "dive", None, 0, (), [pool]).model
    assert model.ti_pool == "avg" and model.crop_size == train_config("ours", "dive", None,
                                                                        0).model.crop_size


def test_set_trains_the_variants_with_the_override(done, tmp_path: Path) -> None:
    """--set / --model: new runs with the overrides in their recorded config, the same baselines'
    mean rows; the runs of the defaults are left as they were."""
    from store.schema import Run

    home, _, rows = done
    fast = [a if a != "ours,dsl" else "ours" for a in FAST]
    res = tempose(home, "ablation", *fast, "--baselines", "mean", "--set", "ti_swap=far",
                  "--model", "ti_pool=avg", "--out", tmp_path / "far")
    assert res.exit_code == 0, res.output
    far = {(r["row"], r["fraction"]): r for r in json.loads(res.stdout)}
    by = {(r["row"], r["fraction"]): r for r in rows}
    assert far["ours", 1.0]["run"] != by["ours", 1.0]["run"]
    assert far["mean", 1.0]["n_mpjpe"] == by["mean", 1.0]["n_mpjpe"]
    with sessions(home).begin() as s:
        assert s.get(Run, far["ours", 1.0]["run"]).config["train"]["ti_swap"] == "far"
        assert s.get(Run, far["ours", 1.0]["run"]).config["model"]["ti_pool"] == "avg"
        assert s.get(Run, by["ours", 1.0]["run"]).config["model"]["ti_pool"] == "same"
        assert s.get(Run, by["ours", 1.0]["run"]).config["train"]["ti_swap"] == "any"


def test_repeats_train_again_with_other_seeds_and_report_mean_and_sd(done, tmp_path) -> None:
    """--repeats 2: repeat 0 is the plain ablation's run (reused), repeat 1 a new run
    with seed + 1000; the baselines crop with repeat 0's detector; the Markdown gives
    mean ± sd and the ratios are against ours' mean over its repeats."""
    from store.schema import Run
    from tempose_cli.pipeline.ablation import REPEAT_SEED_STRIDE

    home, out, rows = done
    fast = [a if a != "ours,dsl" else "ours" for a in FAST]
    res = tempose(home, "ablation", *fast, "--baselines", "mean,random", "--repeats", "2",
                  "--out", tmp_path / "rep")
    assert res.exit_code == 0, res.output
    got = json.loads(res.stdout)
    by = {(r["row"], r["fraction"], r["repeat"]): r for r in got}
    old = {(r["row"], r["fraction"]): r for r in rows}
    assert len(got) == 2 * 2 + 2 * 2  # ours x 2 repeats + mean, random; x 2 fractions
    assert by["ours", 1.0, 0]["run"] == old["ours", 1.0]["run"]
    assert by["ours", 1.0, 1]["run"] not in (None, old["ours", 1.0]["run"])
    assert by["random", 1.0, 0]["run"] == old["ours", 1.0]["run"]
    with sessions(home).begin() as s:
        assert s.get(Run, by["ours", 1.0, 1]["run"]).config["train"]["seed"] == \
            REPEAT_SEED_STRIDE
    for f in (1.0, 0.5):
        a, b = by["ours", f, 0]["n_mpjpe"], by["ours", f, 1]["n_mpjpe"]
        assert by["ours", f, 0]["n_mpjpe_vs_ours"] == pytest.approx(a / ((a + b) / 2))
    md = (tmp_path / "rep" / "ablation.md").read_text()
    assert "repeats: each variant trained with seeds seed + 1000 r" in md and "ours: 2" in md
    mean_ours = (by["ours", 1.0, 0]["n_mpjpe"] + by["ours", 1.0, 1]["n_mpjpe"]) / 2
    assert f"| ours | {mean_ours:.1f} ± " in md
    with (tmp_path / "rep" / "ablation.csv").open() as f:
        assert [r["repeat"] for r in csv.DictReader(f)][:4] == ["0", "0", "1", "1"]


def test_summarise_is_the_mean_and_sample_sd_over_repeats() -> None:
    from tempose_cli.pipeline.ablation import summarise, with_ratios

    def row(name: str, repeat: int, v: float) -> dict:
        return {"row": name, "kind": "variant", "fraction": 1.0, "mpjpe": v, "n_mpjpe": v,
                "p_mpjpe": v / 2, "mean_pose_kept": repeat == 1, "repeat": repeat}

    rows = [row("ours", 0, 100.0), row("ours", 1, 120.0), row("dsl", 0, 150.0)]
    ours, dsl = summarise(rows)
    assert (ours["n_mpjpe"], ours["repeats"], ours["mean_pose_kept"]) == (110.0, 2, True)
    assert ours["n_mpjpe_sd"] == pytest.approx(14.1421, abs=1e-3)
    assert dsl["n_mpjpe_sd"] is None and dsl["repeats"] == 1
    assert [r["n_mpjpe_vs_ours"] for r in with_ratios(rows)] == pytest.approx(
        [100 / 110, 120 / 110, 150 / 110])


def test_gaps_to_ours_are_read_against_the_pooled_training_noise() -> None:
    from tempose_cli.pipeline.ablation import gaps_to_ours, pooled_noise

    def row(name: str, repeat: int, v: float, kind: str = "variant") -> dict:
        return {"row": name, "kind": kind, "fraction": 0.2, "mpjpe": v, "n_mpjpe": v,
                "p_mpjpe": v, "mean_pose_kept": False, "repeat": repeat}

    rows = [row("ours", 0, 100.0), row("ours", 1, 104.0), row("dsl", 0, 120.0),
            row("dsl", 1, 128.0), row("ae-stn-dec", 0, 99.0), row("mean", 0, 400.0, "baseline")]
    sd, df = pooled_noise(rows)[0.2]
    assert df == 2 and sd == pytest.approx(((8 + 32) / 2) ** 0.5)  # ours: 2^2 x 2, dsl: 4^2 x 2
    gaps = gaps_to_ours(rows)
    assert set(gaps) == {("dsl", 0.2), ("ae-stn-dec", 0.2)}  # baselines and ours left out
    assert gaps["dsl", 0.2] == pytest.approx((22.0, 22.0 / (sd * (1 / 2 + 1 / 2) ** 0.5)))
    assert gaps["ae-stn-dec", 0.2] == pytest.approx((-3.0, -3.0 / (sd * (1 + 1 / 2) ** 0.5)))
    assert pooled_noise([r for r in rows if r["repeat"] == 0]) == {}  # nothing repeated


def test_markdown_footnotes_the_star_only_when_a_cell_has_one() -> None:
    from tempose_cli.pipeline.ablation import ROW_KEYS, Meta, markdown

    def row(name: str, kept: bool | None, kind: str = "variant") -> dict:
        return dict.fromkeys(ROW_KEYS) | {
            "row": name, "kind": kind, "fraction": 0.2, "mpjpe": 200.0, "n_mpjpe": 150.0,
            "p_mpjpe": 90.0, "mean_pose_kept": kept, "repeat": 0, "train_frames": 10,
            "test_frames": 40}

    meta = Meta(command="tempose ablation", seconds=1.0)
    plain = markdown([row("ours", False), row("mean", None, "baseline")], meta)
    assert "kept the untrained regressor" not in plain and "| 150.0* |" not in plain
    starred = markdown([row("ours", True), row("mean", None, "baseline")], meta)
    assert "kept the untrained regressor" in starred and "150.0*" in starred
