"""Pose-distance statistics (paper Fig. 6) and the ``tempose stats`` command."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from tempose_cli.pipeline.stats import pose_distance_curve


def _track(T: int, speed: float) -> np.ndarray:
    """A pose whose left wrist drifts linearly away from the pelvis: distance ∝ Δ."""
    j = np.zeros((T, 14, 3))
    j[:, 8] = [-0.1, 0, 0]
    j[:, 9] = [0.1, 0, 0]
    j[:, 6, 0] = speed * np.arange(T)
    return j


def test_curve_is_zero_at_zero_and_linear_for_linear_motion():
    deltas, mm, counts = pose_distance_curve([_track(20, 0.014)], 5)
    assert deltas.tolist() == [0, 1, 2, 3, 4, 5]
    assert mm[0] == 0
    np.testing.assert_allclose(mm, 1000 * 0.014 * deltas / 14)  # one joint of 14 moves
    assert counts.tolist() == [20, 19, 18, 17, 16, 15]


def test_curve_skips_unlabelled_frames_and_empty_deltas():
    j = _track(6, 0.014)
    j[2] = np.nan
    deltas, mm, counts = pose_distance_curve([j], 8)
    assert counts[0] == 5 and counts[1] == 3
    assert np.isnan(mm[6:]).all() and (counts[6:] == 0).all()


def test_curve_levels_off_for_periodic_motion():
    t = np.arange(200)
    j = np.zeros((200, 14, 3))
    j[:, 6, 0] = 0.3 * np.sin(2 * np.pi * t / 40)
    _, mm, _ = pose_distance_curve([j], 60)
    assert mm[10] > mm[2] > 0
    assert mm[20] > mm[40]  # returns after a period instead of growing without bound


def test_cli_pose_distance(tmp_path):
    from tempose_cli.cli.app import app
    from tempose_cli.synth.generate import SynthConfig, generate

    clips = tmp_path / "clips"
    generate(SynthConfig(out_dir=clips, athletes=2, clips=1, fps=10.0, size=(64, 64), seed=2,
                         heights=(3.0,)))
    runner = CliRunner()
    home = str(tmp_path / "home")
    r = runner.invoke(app, ["--home", home, "ingest", str(clips)])
    assert r.exit_code == 0, r.output
    png = tmp_path / "fig6.png"
    r = runner.invoke(app, ["--home", home, "--json", "stats", "pose-distance", "--sport", "dive",
                            "--max-delta", "8", "--out", str(png)])
    assert r.exit_code == 0, r.output
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert '"clips": 2' in r.output
    r = runner.invoke(app, ["--home", home, "stats", "pose-distance", "--sport", "ski"])
    assert r.exit_code != 0 and "no 3D labels" in r.output
