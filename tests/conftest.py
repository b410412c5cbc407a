"""Shared fixtures: a workspace, a CLI runner, and small videos made on the fly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from tempose_cli.app import app
from tempose_cli.video import encode_mp4


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
