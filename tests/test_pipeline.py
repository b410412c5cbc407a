"""The demo's resumable steps: identical configurations are reused, not redone."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import torch

from tempose_cli.core.workspace import Workspace
from tempose_cli.learn.fitdata import FitOptions
from tempose_cli.pipeline.chain import done_train_run, ensure_features, ensure_fit
from tests.conftest import add_train_run, generated_catalogue, sessions


def test_features_and_fits_are_reused(tmp_path: Path, one_thread) -> None:
    home = generated_catalogue(tmp_path, athletes=3, clips=1)
    run_id, _ = add_train_run(home, "0001-ours")
    ws, ss, cpu = Workspace.from_options(home), sessions(home), torch.device("cpu")
    assert ensure_features(ss, ws, run_id, cpu) == 3
    assert ensure_features(ss, ws, run_id, cpu) == 0  # all extracted: nothing to do
    opts = FitOptions(split="diver", every=2, steps=20, hidden=16, batch=32)
    first, reused = ensure_fit(ss, ws, run_id, opts, cpu)
    assert not reused
    assert ensure_fit(ss, ws, run_id, opts, cpu) == (first, True)
    other, reused = ensure_fit(ss, ws, run_id, FitOptions(**{**opts.to_dict(), "every": 3}),
                               cpu)
    assert not reused and other != first


def test_train_runs_match_on_the_whole_config(tmp_path: Path) -> None:
    from models.config import RunConfig

    home = tmp_path / "home"
    home.mkdir()
    run_id, _ = add_train_run(home, "0001-ours")
    with sessions(home).begin() as s:
        from store.schema import Run

        cfg = RunConfig.from_dict(s.get(Run, run_id).config)
        assert done_train_run(s, cfg).id == run_id
        longer = RunConfig(cfg.model, replace(cfg.train, steps=cfg.train.steps + 1), cfg.profile)
        assert done_train_run(s, longer) is None
        # A run recorded before an option existed matches it at its default (it trained
        # without it); the same option set otherwise does not.
        run = s.get(Run, run_id)
        old = {k: dict(v) if isinstance(v, dict) else v for k, v in run.config.items()}
        old["train"].pop("w_fg_colour")
        run.config = old
        s.flush()
        assert done_train_run(s, cfg).id == run_id
        coloured = RunConfig(cfg.model, replace(cfg.train, w_fg_colour=1.0), cfg.profile)
        assert done_train_run(s, coloured) is None


def test_fit_result_reads_the_recorded_fit(tmp_path: Path, one_thread) -> None:
    from tempose_cli.pipeline.chain import fit_result

    home = generated_catalogue(tmp_path, athletes=3, clips=1)
    run_id, _ = add_train_run(home, "0001-ours")
    ws, ss, cpu = Workspace.from_options(home), sessions(home), torch.device("cpu")
    ensure_features(ss, ws, run_id, cpu)
    fit_id, _ = ensure_fit(ss, ws, run_id, FitOptions(split="diver", steps=20, hidden=16,
                                                      batch=32), cpu)
    with ss.begin() as s:
        from store.schema import Run

        res, cfg = fit_result(s, fit_id), s.get(Run, fit_id).config
    assert res["fit"] == fit_id and res["test"] == cfg["split"]["test"]
    assert res["mean_pose"] == (cfg["best_step"] == 0)
    assert res["test_frames"] > 0 and res["p_mpjpe"] <= res["mpjpe"]


def test_ensure_dives_can_withhold_the_labels(tmp_path: Path) -> None:
    """Unlabelled athletes for the self-supervised training: catalogued without labels,
    their label files kept aside; a second call generates and ingests nothing new."""
    from store.catalogue import list_clips
    from tempose_cli.pipeline.chain import ensure_dives
    from tempose_cli.synth.generate import SynthConfig

    ws = Workspace.from_options(tmp_path / "home")
    ws.ensure()
    ss = sessions(ws.home)
    cfg = SynthConfig(out_dir=tmp_path / "clips", athletes=2, clips=1, fps=10.0,
                      size=(64, 64), seed=2, heights=(3.0,), first_athlete=1)
    aside = tmp_path / "aside"
    first = ensure_dives(ss, ws, cfg, withhold_labels=aside)
    assert (first["generated"], first["ingested"]) == (1, 1)
    assert [p.name for p in aside.iterdir()] == ["dive_a02_d001.pose.csv"]
    assert not list(cfg.out_dir.glob("*.pose.csv"))
    with ss() as s:
        (clip,) = list_clips(s)
        assert clip.athlete.name == "A02" and clip.labels == []
    again = ensure_dives(ss, ws, cfg, withhold_labels=aside)
    assert (again["generated"], again["ingested"], again["catalogued"]) == (0, 0, 1)
