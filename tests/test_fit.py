"""`tempose fit / evaluate / probe / runs compare` and ``predict`` on generated dives (CPU).

Two training runs share one small generated catalogue (3 athletes x 2 dives, 64 px):

- ``real``: an untrained model of the cpu profile, its features written by the real
  ``tempose extract`` (what every code path runs on, fine-tuning included);
- ``synthetic``: features made from the labels themselves (z_tv = a fixed random
  projection of the pelvis-centred pose, z_ti = an athlete code, plus noise), so the
  features do carry pose and identity: a fit must beat the mean pose, the probe must
  find the athletes in z_ti and not in z_tv.
"""

from __future__ import annotations

import csv
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from models.config import ModelConfig, RunConfig, TrainConfig
from models.metrics import all_metrics
from models.model import TemporalPoseModel
from models.regressor import TRACK_LAMS
from models.skeleton import DIVE14, pelvis_centred
from models.variants import get_variant
from store.catalogue import list_clips
from store.files import write_atomic
from store.schema import Evaluation, Run
from tempose_cli.core.labels import PoseTrack
from tempose_cli.core.workspace import Workspace
from tempose_cli.learn.dataset import features_path
from tempose_cli.pipeline.evaluate import predict

from .conftest import add_train_run, generated_catalogue, ok, sessions, tempose

SMALL = ["--hidden", "64", "--device", "cpu"]
pytestmark = pytest.mark.usefixtures("one_thread")


def write_synthetic_features(home: Path, run_dir: Path, db: str | None = None) -> None:
    rng = np.random.default_rng(0)
    proj = rng.normal(size=(42, 32))
    codes = {}
    with sessions(home, db).begin() as s:
        for c in list_clips(s):
            track = PoseTrack.load_npz(home / c.labels[0].array_path)
            pose = pelvis_centred(track.j3d).reshape(len(track), 42)
            z_tv = pose @ proj + 0.01 * rng.normal(size=(len(track), 32))
            code = codes.setdefault(c.athlete.name, rng.normal(size=16) * 3)
            z_ti = code + 0.1 * rng.normal(size=(len(track), 16))
            arrays = {"z_tv": z_tv, "z_ti": z_ti, "box": np.zeros((len(track), 4)),
                      "features": z_tv}
            arrays = {k: v.astype(np.float32) for k, v in arrays.items()}
            path = features_path(run_dir, c.content_hash)
            write_atomic(path, lambda f, a=arrays: np.savez(f, **a))


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> dict:
    h = generated_catalogue(tmp_path_factory.mktemp("fit"))
    real, _ = add_train_run(h, "0001-ours")
    ok(h, "extract", "--run", real, "--device", "cpu")
    synthetic, synthetic_dir = add_train_run(h, "0002-synthetic")
    write_synthetic_features(h, synthetic_dir)
    bare, _ = add_train_run(h, "0003-not-extracted")
    return {"home": h, "real": real, "synthetic": synthetic, "bare": bare}


def labelled_counts(home: Path) -> dict[int, int]:
    with sessions(home).begin() as s:
        return {c.id: c.labels[0].frames_3d for c in list_clips(s)}


def test_fit_on_pose_carrying_features_beats_the_mean_pose(home) -> None:
    h = home["home"]
    rec = ok(h, "fit", "--run", home["synthetic"], "--split", "diver", "--every", "3",
             "--steps", "300", *SMALL)
    with sessions(h).begin() as s:
        fit = s.get(Run, rec["fit"])
        cfg = fit.config
        assert fit.kind == "fit" and fit.parent_id == home["synthetic"] and fit.variant == "ours"
        assert (h / fit.checkpoint_path).exists()
        ev = s.query(Evaluation).filter_by(run_id=fit.id).one()
        assert ev.split == "diver" and ev.fraction == pytest.approx(1 / 3)
        by_id = {c.id: c for c in list_clips(s)}
        split = cfg["split"]
        test_athletes = {by_id[i].athlete.name for i in split["test"]}
        seen = {by_id[i].athlete.name for i in split["train"] + split["val"]}
        assert test_athletes and not test_athletes & seen
        # Baseline: the training side's mean pose, predicted for every test frame.
        mean = np.mean(np.concatenate([
            pelvis_centred(PoseTrack.load_npz(h / by_id[i].labels[0].array_path).j3d)[::3]
            for i in split["train"]]), 0)
        truth = np.concatenate([
            pelvis_centred(PoseTrack.load_npz(h / by_id[i].labels[0].array_path).j3d)
            for i in split["test"]])
    counts = labelled_counts(h)
    assert cfg["labelled_frames"]["train"] == sum(math.ceil(counts[i] / 3)
                                                  for i in split["train"])
    assert cfg["labelled_frames"]["test"] == sum(counts[i] for i in split["test"])
    mean_mpjpe = 1000 * all_metrics(np.broadcast_to(mean, truth.shape), truth)["mpjpe"]
    assert rec["n_frames"] == len(truth)
    assert rec["mpjpe"] < 0.5 * mean_mpjpe, (rec["mpjpe"], mean_mpjpe)
    assert rec["p_mpjpe"] <= rec["n_mpjpe"] <= rec["mpjpe"] + 1e-6
    assert set(rec["per_joint"]) == set(DIVE14)


def test_evaluate_exports_a_csv_that_recomputes_the_metrics(home, tmp_path) -> None:
    h = home["home"]
    fit = ok(h, "fit", "--run", home["synthetic"], "--split", "dive", "--fraction", "0.5",
             "--steps", "60", *SMALL)
    out = tmp_path / "pred.csv"
    rec = ok(h, "evaluate", fit["fit"], "--export-predictions", out, "--device", "cpu")
    for k in ("mpjpe", "n_mpjpe", "p_mpjpe"):
        assert rec[k] == pytest.approx(fit[k], rel=1e-5)  # re-evaluation is deterministic
    with open(out, newline="") as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == rec["n_frames"]
    cols = [f"{j}_{a}" for j in DIVE14 for a in "xyz"]
    pred = np.array([[float(r["pred_" + c]) for c in cols] for r in rows]).reshape(-1, 14, 3)
    true = np.array([[float(r["true_" + c]) for c in cols] for r in rows]).reshape(-1, 14, 3)
    again = all_metrics(pred * 1000, true * 1000)
    for k, v in again.items():
        assert v == pytest.approx(rec[k], abs=0.01)  # µm rounding in the file
    # predict(): every frame of a clip, and the same numbers as the export.
    clip_id = int(rows[0]["clip_id"])
    ws = Workspace.from_options(h)
    track = predict(sessions(h), ws, fit["fit"], clip_id)
    with sessions(h).begin() as s:
        n = next(c.frame_count for c in list_clips(s) if c.id == clip_id)
    assert track.shape == (n, 14, 3) and np.isfinite(track).all()
    mine = [r for r in rows if int(r["clip_id"]) == clip_id]
    frames = [int(r["frame"]) for r in mine]
    assert np.allclose(track[frames], pred[:len(mine)], atol=2e-6)
    text = tempose(h, "evaluate", fit["fit"], "--device", "cpu", json_out=False)
    assert text.exit_code == 0 and "N-MPJPE" in text.stdout and "l_ankle" in text.stdout


def test_real_features_dive_split_resmlp_with_2d(home) -> None:
    h = home["home"]
    rec = ok(h, "fit", "--run", home["real"], "--split", "dive", "--every", "4",
             "--regressor", "resmlp", "--with-2d", "--steps", "20", *SMALL)
    with sessions(h).begin() as s:
        cfg = s.get(Run, rec["fit"]).config
    split = cfg["split"]
    assert not set(split["test"]) & set(split["train"] + split["val"])
    # context 2 (the default on frozen features): the frame and 2 either side, then 2D.
    assert cfg["regressor"] == "resmlp" and cfg["with_2d"] and cfg["context"] == 2
    assert cfg["net"]["in_dim"] == 3 * 64 + 28
    assert all(math.isfinite(rec[k]) for k in ("mpjpe", "n_mpjpe", "p_mpjpe"))


@pytest.mark.parametrize("how", [["--finetune"], ["--baseline", "random"],
                                 ["--baseline", "scratch"]])
def test_finetune_and_supervised_baselines(home, how) -> None:
    h = home["home"]
    rec = ok(h, "fit", "--run", home["real"], "--split", "diver", "--every", "5",
             "--steps", "3", *how, *SMALL)
    mode = {"--finetune": "finetune"}.get(how[0], how[-1])
    assert rec["mode"] == mode and math.isfinite(rec["mpjpe"])
    with sessions(h).begin() as s:
        fit = s.get(Run, rec["fit"])
        ckpt = torch.load(h / fit.checkpoint_path, weights_only=False)
        test_clip = fit.config["split"]["test"][0]
    assert ckpt["extra"]["pose_model"] is not None  # the fit's own encoder, saved
    track = predict(sessions(h), Workspace.from_options(h), rec["fit"], test_clip)
    assert track.shape[1:] == (14, 3) and np.isfinite(track).all()
    # random: frozen features, so knn by default (no steps); the others train the MLP.
    assert fit_steps(h, rec["fit"]) == (0 if mode == "random" else 3)
    assert fit.config["regressor"] == ("knn" if mode == "random" else "mlp")


def fit_steps(h: Path, fit_id: int) -> int:
    with sessions(h).begin() as s:
        return s.get(Run, fit_id).config["steps_run"]


def test_end_to_end_trains_the_encoder_not_the_detector() -> None:
    from models.regressor import RegressorConfig, build_regressor
    from tempose_cli.learn.finetune import EndToEnd

    cfg = RunConfig(ModelConfig.profile("cpu"), TrainConfig(variant="ours"), "cpu")
    net = EndToEnd(TemporalPoseModel(cfg.model, get_variant("ours")),
                   build_regressor(RegressorConfig(in_dim=64, hidden=16, dropout=0.0)))
    with torch.no_grad():  # a non-zero last layer, so gradients reach the encoder
        net.regressor.body[-1].weight.normal_()
    out = net(torch.rand(2, 3, 64, 64))  # (2, 14, 3)
    assert out.shape == (2, 14, 3)
    out.square().mean().backward()
    assert net.pose_model.encoder.tv_head.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in net.pose_model.detector.parameters())


def test_probe_finds_athletes_in_z_ti_and_pose_in_z_tv(home) -> None:
    h = home["home"]
    res = ok(h, "probe", "--run", home["synthetic"], "--steps", "150", *SMALL)
    k = res["kmeans"]
    assert k["z_ti"]["accuracy"] == 1.0 and k["z_ti"]["k"] == 3
    assert k["z_tv"]["accuracy"] < 0.9
    # z_ti is an athlete code plus a little noise: constant within clips; z_tv is pose.
    assert k["z_ti"]["within_clip"] < 0.05 < 0.5 < k["z_tv"]["within_clip"]
    r = res["regression"]
    assert r["z_tv"]["mpjpe"] < r["z_ti"]["mpjpe"]
    with sessions(h).begin() as s:
        rows = {e.split: e for e in s.query(Evaluation).filter_by(run_id=home["synthetic"])}
    assert set(rows) == {"probe-kmeans-z_tv", "probe-kmeans-z_ti", "probe-regress-z_tv",
                         "probe-regress-z_ti"}
    assert rows["probe-kmeans-z_ti"].details["accuracy"] == 1.0
    text = tempose(h, "probe", "--run", home["synthetic"], "--steps", "5", *SMALL,
                   json_out=False)
    assert text.exit_code == 0 and "KMeans athlete accuracy" in text.stdout
    assert "variance within clips" in text.stdout


def test_runs_compare_shows_variants_by_label_fraction(home) -> None:
    h = home["home"]
    ok(h, "fit", "--run", home["synthetic"], "--split", "diver", "--every", "1",
       "--steps", "10", *SMALL)
    tables = ok(h, "runs", "compare")
    by_split = {t["split"]: t for t in tables}
    assert "diver" in by_split
    diver = by_split["diver"]
    assert diver["metric"] == "n_mpjpe" and diver["fractions"][0] == "100%"
    ours = next(r for r in diver["rows"] if r["label"] == "ours")  # the default fit
    assert ours["cells"]["100%"] is not None
    dive = {r["label"] for t in ok(h, "runs", "compare", "--split", "dive") for r in t["rows"]}
    assert "ours (resmlp, +2D)" in dive  # what departs from the defaults is named
    p = ok(h, "runs", "compare", "--metric", "p_mpjpe", "--split", "diver")
    assert [t["split"] for t in p] == ["diver"]
    text = tempose(h, "runs", "compare", json_out=False)
    assert text.exit_code == 0 and "diver-split: N-MPJPE" in text.stdout


@pytest.mark.parametrize("args, message, code", [
    (["fit", "--run", "999"], "no training run 999", 2),
    (["evaluate", "999"], "no fit 999", 2),
    (["evaluate", "1"], "no fit 1", 2),
    (["probe", "--run", "999"], "no training run 999", 2),
    (["fit", "--run", "1", "--fraction", "0.5", "--every", "2"], "not both", 2),
    (["runs", "compare", "--metric", "mpjpe2"], "--metric must be one of", 2),
])
def test_errors_are_one_line(home, args, message, code) -> None:
    res = tempose(home["home"], *args, json_out=False)
    assert res.exit_code == code, res.output
    assert message in res.output and isinstance(res.exception, SystemExit)


def test_missing_features_say_to_extract(home) -> None:
    res = tempose(home["home"], "fit", "--run", home["bare"], "--steps", "2", *SMALL,
                  json_out=False)
    assert res.exit_code == 1
    line = res.stderr.strip()
    assert len(line.splitlines()) == 1
    assert f"tempose extract --run {home['bare']}" in line


def test_knn_fit_is_recorded_and_re_evaluated_from_its_checkpoint(home) -> None:
    h = home["home"]
    rec = ok(h, "fit", "--run", home["synthetic"], "--split", "diver", "--every", "3",
             "--regressor", "knn", "--context", "2", *SMALL)
    with sessions(h).begin() as s:
        cfg = s.get(Run, rec["fit"]).config
    assert cfg["regressor"] == "knn" and cfg["net"]["k"] >= 1 and cfg["context"] == 2
    assert cfg["net"]["in_dim"] == 3 * 32  # the frame's features, then d before and after
    assert cfg["net"]["bank"] == cfg["labelled_frames"]["train"] and cfg["best_step"] is None
    again = ok(h, "evaluate", rec["fit"], "--device", "cpu")
    assert again["n_mpjpe"] == pytest.approx(rec["n_mpjpe"], rel=1e-6)
    mlp = ok(h, "fit", "--run", home["synthetic"], "--split", "diver", "--every", "3",
             "--steps", "300", *SMALL)
    # Features linear in the pose: the nearest labelled frames carry it too.
    assert rec["mpjpe"] < 1.5 * mlp["mpjpe"], (rec["mpjpe"], mlp["mpjpe"])


def test_knn_track_is_the_default_recorded_and_re_evaluated(home) -> None:
    h = home["home"]
    rec = ok(h, "fit", "--run", home["synthetic"], "--split", "diver", "--every", "3", *SMALL)
    with sessions(h).begin() as s:
        fit = s.get(Run, rec["fit"])
        cfg = fit.config
    assert cfg["regressor"] == "knn" and cfg["options"]["track"] is True
    assert cfg["net"]["track_lam"] in TRACK_LAMS  # chosen on validation, never 0
    again = ok(h, "evaluate", rec["fit"], "--device", "cpu")
    assert again["n_mpjpe"] == pytest.approx(rec["n_mpjpe"], rel=1e-6)
    flat = ok(h, "fit", "--run", home["synthetic"], "--split", "diver", "--every", "3",
              "--no-track", *SMALL)
    with sessions(h).begin() as s:
        assert s.get(Run, flat["fit"]).config["options"]["track"] is False
    res = tempose(h, "fit", "--run", home["synthetic"], "--regressor", "mlp", "--track",
                  *SMALL, json_out=False)
    assert res.exit_code == 2 and "--track needs --regressor knn" in res.output


@pytest.mark.parametrize("args, message", [
    (["--regressor", "knn"], "knn has no gradient"),
    (["--context", "2"], "--context needs frozen features"),
])
def test_knn_and_context_cannot_train_an_encoder(home, args, message) -> None:
    res = tempose(home["home"], "fit", "--run", home["real"], "--baseline", "scratch",
                  *args, *SMALL, json_out=False)
    assert res.exit_code == 1 and message in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1


def test_context_stacks_the_neighbouring_frames_clamped_at_the_ends() -> None:
    from tempose_cli.learn.fitdata import with_context

    f = np.arange(5, dtype=float)[:, None]  # (5, 1): frame t has feature t
    out = with_context(f, 2)
    assert out.tolist() == [[0, 0, 2], [1, 0, 3], [2, 0, 4], [3, 1, 4], [4, 2, 4]]
    assert with_context(f, 0) is f
