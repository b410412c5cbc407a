"""`tempose train / extract / transfer` on generated dives, through the CLI (CPU, small)."""

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from models.variants import VARIANTS
from tempose_cli.cli.app import app
from tempose_cli.synth.generate import SynthConfig, generate
from tests.conftest import sessions as open_sessions

FAST = ["--steps", "4", "--stage1-steps", "2"]


@pytest.fixture(scope="module")
def home(tmp_path_factory) -> Path:
    """Two athletes, two dives each, ingested."""
    root = tmp_path_factory.mktemp("train")
    generate(SynthConfig(out_dir=root / "clips", athletes=2, clips=2, fps=20.0, size=(96, 96),
                         seed=3, heights=(5.0, 7.5)))
    res = CliRunner().invoke(app, ["--home", str(root / "home"), "ingest", str(root / "clips")])
    assert res.exit_code == 0, res.output
    return root / "home"


def tempose(home: Path, *args: str):
    return CliRunner(env={"COLUMNS": "200"}).invoke(
        app, ["--home", str(home), "--json", *[str(a) for a in args]])


def train(home: Path, *args: str) -> dict:
    res = tempose(home, "train", *args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def weights(home: Path, run: dict) -> dict:
    return torch.load(home / run["checkpoint"], weights_only=False)["model"]


def test_training_lowers_reconstruction_and_shows_it(home: Path) -> None:
    run = train(home, "--steps", "40", "--stage1-steps", "20", "--seed", "1")
    assert run["status"] == "done" and run["step"] == 40
    assert run["perceptual"] == "random-resnet18-seed0"  # recorded, nothing downloaded
    folder = Path(run["directory"])
    with open(folder / "losses.csv") as f:
        rows = list(csv.DictReader(f))
    assert [int(r["step"]) for r in rows] == list(range(1, 41))
    assert {r["stage"] for r in rows[:20]} == {"1"} and {r["stage"] for r in rows[20:]} == {"2"}
    assert all(r["gravity"] for r in rows[:20]) and not any(r["gravity"] for r in rows[20:])
    assert all(r["dsl"] for r in rows[20:]) and all(r["cover"] for r in rows)
    grid = cv2.imread(str(folder / "images" / "step000040.png"))
    # 4 rows of 6 panels of 128 px: frame, crop, z_tv's input, decoded, mask, re-synthesised.
    assert grid.shape == (4 * 128, 6 * 128, 3)
    # The same mini-batch, before and after training: reconstruction went down.
    from models.checkpoint import load_checkpoint
    from models.model import TemporalPoseModel
    from models.perceptual import ReconstructionLoss
    from models.sampler import TemporalSampler
    from models.variants import get_variant
    from store.catalogue import list_clips
    from store.db import open_catalogue, session_factory
    from tempose_cli.core.workspace import Workspace
    from tempose_cli.learn.dataset import FrameStore, load_clips
    from tempose_cli.pipeline.train import RunConfig

    ws = Workspace.from_options(home)
    with session_factory(open_catalogue(ws.url)).begin() as s:
        store = FrameStore(load_clips(ws, list(list_clips(s))))
    ckpt = load_checkpoint(folder / "checkpoint.pt")
    cfg = RunConfig.from_dict(ckpt["config"])
    batch = store.batch(TemporalSampler(store.lengths, cfg.train, 9).contrastive(), "cpu")
    recon = ReconstructionLoss()

    def recon_term(state: dict | None) -> float:
        torch.manual_seed(0)
        model = TemporalPoseModel(cfg.model, get_variant("ours"))
        if state is not None:
            model.load_state_dict(state)
        with torch.no_grad():
            _, terms, _ = model.losses(batch, 2, cfg.train, recon, torch.Generator().manual_seed(0))
        return terms["recon"] + terms["perceptual"]

    assert recon_term(ckpt["model"]) < 0.7 * recon_term(None)


def train_section(home: Path, run_id: int) -> dict:
    """The run's TrainConfig as catalogued."""
    from store.schema import Run

    with open_sessions(home).begin() as s:
        return dict(s.get(Run, run_id).config["train"])


def interrupted_like(home: Path, run_id: int, at: int) -> int:
    """A new run of run ``run_id``'s config stopped by an exception once step ``at`` is
    checkpointed, as a killed run stops; returns its id."""
    from dataclasses import replace

    from sqlalchemy import func, select

    from models.config import RunConfig
    from store.schema import Run
    from tempose_cli.core.workspace import Workspace
    from tempose_cli.pipeline.train import train_command

    ws, sessions = Workspace.from_options(home), open_sessions(home)
    with sessions.begin() as s:
        cfg = RunConfig.from_dict(s.get(Run, run_id).config)
    cfg = RunConfig(cfg.model, replace(cfg.train, checkpoint_every=1), cfg.profile)

    class Stop(Exception):
        pass

    def stop(step: int, *_: object) -> None:
        if step >= at:
            raise Stop

    with pytest.raises(Stop):
        train_command(sessions, ws, cfg=cfg, resume=None, steps=None, device_name="cpu",
                      clip_ids=None, perceptual_weights=None, progress=stop, log=lambda m: None)
    with sessions.begin() as s:
        return s.scalar(select(func.max(Run.id)))


def test_resume_is_bit_for_bit(home: Path) -> None:
    straight = train(home, "--steps", "6", "--stage1-steps", "3", "--seed", "5")
    half = interrupted_like(home, straight["run"], 3)
    resumed = train(home, "--resume", str(half))
    assert resumed["run"] == half and resumed["step"] == 6
    a, b = weights(home, straight), weights(home, resumed)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k
    # Extended past its plan, the run keeps the detector decay it was planned with.
    assert train(home, "--resume", str(half), "--steps", "8")["step"] == 8
    tc = train_section(home, half)
    assert (tc["steps"], tc["detector_lr_span"]) == (8, 6)


def test_resume_with_a_weight_average_is_bit_for_bit(home: Path) -> None:
    args = ["--stage1-steps", "3", "--seed", "6", "--ema-decay", "0.9"]
    straight = train(home, "--steps", "6", *args)
    half = interrupted_like(home, straight["run"], 3)
    resumed = train(home, "--resume", str(half))
    a, b = (torch.load(home / r["checkpoint"], weights_only=False) for r in (straight, resumed))
    assert a["extra"]["ema"] == b["extra"]["ema"] == {"decay": 0.9, "updates": 6}
    for part in ("model", "train_model"):
        wa = a["model"] if part == "model" else a["extra"][part]
        wb = b["model"] if part == "model" else b["extra"][part]
        assert all(torch.equal(wa[k], wb[k]) for k in wa), part
    # The run's model is the average, not the last step's weights.
    assert any(not torch.equal(a["model"][k], a["extra"]["train_model"][k]) for k in a["model"]
               if a["model"][k].is_floating_point())


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_every_variant_trains_through_the_same_command(home: Path, variant: str) -> None:
    run = train(home, "--variant", variant, *FAST)
    assert run["status"] == "done"


def test_extract_writes_features_for_every_frame(home: Path) -> None:
    run = train(home, *FAST)
    res = tempose(home, "extract", "--run", run["run"])
    assert res.exit_code == 0, res.output
    written = json.loads(res.stdout)
    clips = json.loads(tempose(home, "clips", "list").stdout)
    assert sorted(w["clip"] for w in written) == sorted(c["id"] for c in clips)
    frames = {c["id"]: c["frame_count"] for c in clips}
    for w in written:
        with np.load(w["path"]) as z:
            assert z["z_tv"].shape == (frames[w["clip"]], 64)
            assert z["z_ti"].shape == (frames[w["clip"]], 32)
            assert z["box"].shape == (frames[w["clip"]], 4)
            assert np.array_equal(z["features"], z["z_tv"])  # "ours" regresses from z_tv


def test_transfer_writes_a_grid(home: Path, tmp_path: Path) -> None:
    run = train(home, *FAST)
    out = tmp_path / "t.png"
    res = tempose(home, "transfer", "--run", run["run"], "1:0", "3:5", "--out", out)
    assert res.exit_code == 0, res.output
    assert out.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize("args, message", [
    (["train", "--resume", "999"], "no training run 999"),
    (["train", "--sport", "ski", *FAST], "no ski clips in the catalogue"),
    (["train", "--variant", "nope"], "unknown variant 'nope'"),
    (["extract", "--run", "999"], "no training run 999"),
    (["transfer", "--run", "1", "1:0", "1:99999"], "not 99999"),
])
def test_errors_are_one_line(home: Path, args, message) -> None:
    res = CliRunner().invoke(app, ["--home", str(home), *args])
    assert res.exit_code != 0
    assert message in res.output
    # A handled error exits (SystemExit); an unhandled one would be the exception itself.
    assert isinstance(res.exception, SystemExit), res.exception


def test_torchrun_two_cpu_processes(home: Path) -> None:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2",
           "--master-port", "29517", "-m", "tempose_cli", "--home", str(home), "--json",
           "train", "--device", "cpu", *FAST]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    runs = json.loads(tempose(home, "runs", "list").stdout)
    assert runs[-1]["status"] == "done" and runs[-1]["step"] == 4


def test_torchrun_one_process_trains_through_ddp(home: Path) -> None:
    """One torchrun process still joins a process group and wraps the model in DDP (the
    path a one-GPU machine takes with NCCL); a plain call does not."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "1",
           "--master-port", "29518", "-m", "tempose_cli", "--home", str(home),
           "train", "--device", "cpu", *FAST]
    env = {**os.environ, "COLUMNS": "500"}  # rich wraps the run's line at the width
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "DDP over 1 process(es) (gloo)" in proc.stdout
    runs = json.loads(tempose(home, "runs", "list").stdout)
    assert runs[-1]["status"] == "done" and runs[-1]["step"] == 4
    plain = CliRunner(env={"COLUMNS": "500"}).invoke(
        app, ["--home", str(home), "train", "--device", "cpu", *FAST])
    assert plain.exit_code == 0, plain.output
    assert "device cpu, perceptual loss" in plain.stdout and "DDP" not in plain.stdout


def test_detector_rate_decays_over_its_span_then_stays() -> None:
    from tempose_cli.pipeline.train import detector_lr_mult, run_config

    cfg = run_config("cpu", "ours", "dive",
                     {"steps": 900, "stage1_steps": 600, "detector_lr_span": 600})
    rates = [detector_lr_mult(s, cfg) for s in range(0, 900, 50)]
    assert rates[0] == pytest.approx(cfg.train.detector_lr_mult)
    assert all(a >= b for a, b in zip(rates, rates[1:], strict=False))  # never rises
    assert rates[5] > rates[6]  # still decaying at step 250
    assert detector_lr_mult(600, cfg) == pytest.approx(cfg.train.detector_lr_final_mult)
    assert detector_lr_mult(899, cfg) == pytest.approx(cfg.train.detector_lr_final_mult)
    # By default the decay spans the whole run, gravity stage or not.
    for variant in ("ours", "ours-no-gravity"):
        cfg2 = run_config("cpu", variant, "dive", {"steps": 900, "stage1_steps": 600})
        assert detector_lr_mult(450, cfg2) == pytest.approx(
            0.5 * (cfg2.train.detector_lr_mult + cfg2.train.detector_lr_final_mult))
        assert detector_lr_mult(600, cfg2) > cfg2.train.detector_lr_final_mult


def test_killed_run_shows_interrupted_and_resumes(home: Path) -> None:
    """kill -9 leaves no chance to record anything: the pid + heartbeat tell."""
    import os
    import signal
    import time

    from sqlalchemy import select

    from store.schema import Run

    root = Path(__file__).resolve().parent.parent
    proc = subprocess.Popen(
        [sys.executable, "-m", "tempose_cli", "--home", str(home), "--json", "train",
         "--steps", "100000", "--stage1-steps", "2", "--device", "cpu"],
        cwd=root, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    sessions = open_sessions(home)
    deadline = time.monotonic() + 300
    run_id = None
    try:
        while time.monotonic() < deadline and proc.poll() is None:
            with sessions.begin() as s:
                run = s.scalar(select(Run).where(Run.pid == proc.pid))
                if run is not None and run.step > 0:  # training, heartbeat written
                    run_id = run.id
                    break
            time.sleep(0.5)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert run_id is not None, proc.stderr.read().decode()[-2000:]
    rows = {r["id"]: r for r in json.loads(tempose(home, "runs", "list").stdout)}
    assert rows[run_id]["status"] == "interrupted"
    resumed = train(home, "--resume", str(run_id), "--steps", "4")
    assert resumed["run"] == run_id and resumed["status"] == "done"
    assert resumed["step"] >= 4


def test_training_probes_pose_on_held_out_athletes(tmp_path: Path) -> None:
    """With labels of >= 3 athletes, losses.csv carries the ridge probe every N steps."""
    generate(SynthConfig(out_dir=tmp_path / "clips", athletes=3, clips=1, fps=20.0,
                         size=(64, 64), seed=5, heights=(7.5,)))
    home = tmp_path / "home"
    assert CliRunner().invoke(app, ["--home", str(home), "ingest",
                                    str(tmp_path / "clips")]).exit_code == 0
    run = train(home, "--steps", "4", "--stage1-steps", "2", "--probe-every", "2")
    with open(Path(run["directory"]) / "losses.csv") as f:
        rows = list(csv.DictReader(f))
    probed = [int(r["step"]) for r in rows if r["probe_n_mpjpe"]]
    assert probed == [2, 4]
    for r in rows:
        if r["probe_n_mpjpe"]:
            assert float(r["probe_n_mpjpe"]) > 0 and float(r["probe_mean_pose"]) > 0
            assert 0 <= float(r["box_centre_err"]) < 2 and float(r["box_size_ratio"]) > 0
    run = train(home, "--steps", "2", "--stage1-steps", "1", "--probe-every", "0")
    with open(Path(run["directory"]) / "losses.csv") as f:
        assert not any(r["probe_n_mpjpe"] for r in csv.DictReader(f))


@pytest.mark.parametrize("batches,modes", [("gravity", ["gravity"] * 4),
                                           ("alternate", ["gravity", "contrastive"] * 2)])
def test_stage_one_batches_are_gravity_quadruples_or_alternate(tmp_path: Path, batches: str,
                                                               modes: list) -> None:
    from tempose_cli.learn.dataset import ClipFrames, FrameStore
    from tempose_cli.pipeline.train import Dist, Trainer, run_config

    cfg = run_config("cpu", "ours", "dive", {"steps": 6, "stage1_steps": 4,
                                             "stage1_batches": batches, "detector_extra": 2})
    rng = np.random.default_rng(0)
    clips = [ClipFrames(i, f"h{i}", "A", rng.integers(0, 255, (30, 48, 48, 3), dtype=np.uint8),
                        np.full((48, 48, 3), 128.0, np.float32), None, (48, 48))
             for i in range(4)]
    trainer = Trainer(cfg, FrameStore(clips), torch.device("cpu"), tmp_path, None, Dist())
    seen = []

    def recording(method):
        def sample():
            fb = method()
            seen.append(fb.mode)
            return fb
        return sample

    for name in ("equidistant", "contrastive"):
        setattr(trainer.sampler, name, recording(getattr(trainer.sampler, name)))
    for _ in range(6):
        trainer.train_step()  # counts its own steps
    assert seen[:4] == modes and seen[4:] == ["contrastive"] * 2  # stage 2: always near/far
    with pytest.raises(ValueError, match="stage1_batches"):
        run_config("cpu", "ours", "dive", {"stage1_batches": "sometimes"})
