"""Shared fixtures: a workspace, a CLI runner, small videos made on the fly, and the
helpers of the tests that need a catalogue with a (seeded, untrained) training run."""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tempose_cli.cli.app import app
from tempose_cli.core.ffmpeg import encode_mp4
from tempose_cli.core.workspace import Workspace


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def cli(home: Path):
    """Run ``tempose --home <home> ARGS``; returns the CliRunner result."""
    runner = CliRunner(env={"COLUMNS": "200"})

    def run(*args: str, json_out: bool = False):
        pre = ["--home", str(home)] + (["--json"] if json_out else [])
        return runner.invoke(app, pre + [str(a) for a in args])

    return run


def moving_square_frames(n: int = 24, h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """A textured static background with a bright square moving top to bottom."""
    rng = np.random.default_rng(seed)
    base = (rng.random((h // 8, w // 8, 3)) * 200).astype(np.uint8)
    bg = np.kron(base, np.ones((8, 8, 1), np.uint8))  # blocky texture: survives H.264
    frames = np.repeat(bg[None], n, axis=0).copy()
    for t in range(n):
        y = int(t * (h - 10) / max(n - 1, 1))
        x = (w // 2 - 5 + 2 * t) % (w - 10)
        frames[t, y:y + 10, x:x + 10] = 255
    return frames


def write_clip(path: Path, frames: np.ndarray | None = None, fps: float = 25.0,
               sidecar: dict | None = None) -> Path:
    frames = moving_square_frames() if frames is None else frames
    path.parent.mkdir(parents=True, exist_ok=True)
    encode_mp4(path, frames, fps, (frames.shape[2], frames.shape[1]), crf=12)
    if sidecar is not None:
        path.with_suffix(".json").write_text(json.dumps(sidecar))
    return path


@pytest.fixture
def clip_factory(tmp_path: Path):
    def make(name: str = "clip.mp4", **kw) -> Path:
        return write_clip(tmp_path / "clips" / name, **kw)

    return make


@pytest.fixture
def one_thread():
    """Tiny networks: a second intra-op thread only adds contention on a busy 2-core box."""
    import torch

    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def tempose(home: Path, *args, json_out: bool = True):
    """``tempose --home HOME [--json] ARGS`` in-process; the CliRunner result."""
    pre = ["--home", str(home)] + (["--json"] if json_out else [])
    return CliRunner(env={"COLUMNS": "200"}).invoke(app, pre + [str(a) for a in args])


def ok(home: Path, *args) -> dict | list:
    """Run with ``--json``, assert success, return the parsed output."""
    res = tempose(home, *args)
    assert res.exit_code == 0, res.output
    return json.loads(res.stdout)


def sessions(home: Path, db: str | None = None):
    from store.db import open_catalogue, session_factory

    return session_factory(open_catalogue(Workspace.from_options(home, db).url))


def add_train_run(home: Path, name: str, db: str | None = None) -> tuple[int, Path]:
    """A training run record with the checkpoint of an untrained (seeded) cpu model."""
    import torch

    from models.checkpoint import save_checkpoint
    from models.config import ModelConfig, RunConfig, TrainConfig
    from models.model import TemporalPoseModel
    from models.variants import get_variant
    from store.schema import Run

    cfg = RunConfig(ModelConfig.profile("cpu"), TrainConfig(variant="ours"), "cpu")
    torch.manual_seed(0)
    model = TemporalPoseModel(cfg.model, get_variant("ours"))
    with sessions(home, db).begin() as s:
        run = Run(kind="train", variant="ours", profile="cpu", config=cfg.to_dict(),
                  directory=f"runs/{name}", status="done")
        s.add(run)
        s.flush()
        save_checkpoint(home / run.directory / "checkpoint.pt", config=cfg.to_dict(),
                        model=model, optimizer=None, step=0, rng=None)
        run.checkpoint_path = f"{run.directory}/checkpoint.pt"
        return run.id, home / run.directory


def generated_catalogue(root: Path, athletes: int = 3, clips: int = 2, seed: int = 3,
                        heights: tuple[float, ...] = (5.0, 7.5)) -> Path:
    """Generated dives (64 px, 20 fps) ingested into ``root/home``; returns the home."""
    from tempose_cli.synth.generate import SynthConfig, generate

    generate(SynthConfig(out_dir=root / "clips", athletes=athletes, clips=clips, fps=20.0,
                         size=(64, 64), seed=seed, heights=heights))
    home = root / "home"
    res = CliRunner().invoke(app, ["--home", str(home), "ingest", str(root / "clips")])
    assert res.exit_code == 0, res.output
    return home


@pytest.fixture(scope="session")
def pg_cluster():
    """A throwaway PostgreSQL server (tests/postgres.py) for the whole session.

    When it cannot be started the tests that use it fail with the reason under CI (env
    ``CI`` set: CI must never pass without them) and are skipped, with the reason,
    elsewhere.
    """
    from .postgres import ServerUnavailable, start_cluster, stop_cluster

    try:
        cluster, why = start_cluster(), ""
    except ServerUnavailable as e:
        cluster, why = None, f"PostgreSQL test server unavailable: {e}"
    if cluster is None:
        if os.environ.get("CI"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why + " (CI is unset: skipped; under CI this fails)")
    yield cluster
    stop_cluster(cluster)


@pytest.fixture
def pg_url(pg_cluster) -> str:
    """SQLAlchemy URL of a fresh, empty database on the test server."""
    return pg_cluster.new_database()
