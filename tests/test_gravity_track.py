"""models.track.gravity_track: the flight parabola at inference."""

from __future__ import annotations

import numpy as np
import pytest

from models.track import gravity_track


def dive_track(T: int = 40, platform: int = 8) -> np.ndarray:
    """(T, 4) boxes: still on the platform, then a parabola (v down, u drifting)."""
    t = np.arange(T, dtype=float)
    tf = np.clip(t - platform, 0, None)
    v = -0.5 - 0.03 * tf + 0.0025 * tf ** 2  # rises, then falls
    u = -0.4 + 0.01 * tf
    return np.stack([np.full(T, 0.15), np.full(T, 0.15), u, v], 1)


def test_entry_frames_are_moved_onto_the_parabola_and_the_rest_kept():
    clean = dive_track()
    seen = clean.copy()
    rng = np.random.default_rng(1)
    seen[:, 2:] += rng.normal(0, 0.005, (len(seen), 2))  # the visible extent's jitter
    seen[-3:, 3] -= 0.15  # entry: the body under water, the box on the legs above it
    seen[-3:, :2] = 0.05
    out, moved = gravity_track(seen, 25.0)
    assert moved[-3:].all() and moved.sum() == 3
    np.testing.assert_allclose(out[-3:, 3], clean[-3:, 3], atol=0.02)
    np.testing.assert_allclose(out[-3:, :2], 0.15)  # the nearest inlier's side
    np.testing.assert_array_equal(out[~moved], seen[~moved])


def test_platform_frames_before_the_flight_are_left_alone():
    seen = dive_track()
    seen[:4, 3] += 0.3  # way off any parabola, but before the first inlier
    out, moved = gravity_track(seen, 25.0)
    assert not moved[:4].any()
    np.testing.assert_array_equal(out[:4], seen[:4])


@pytest.mark.parametrize("v", [np.full(30, 0.1), np.linspace(0.5, -0.5, 30)])
def test_a_track_without_a_falling_parabola_is_unchanged(v):
    box = np.stack([np.full(30, 0.2), np.full(30, 0.2), np.zeros(30), v], 1)
    box[10, 3] += 0.5  # an outlier that a fit with c > 0 could be tempted to move
    out, moved = gravity_track(box, 25.0)
    assert not moved.any()
    np.testing.assert_array_equal(out, box)


def test_short_tracks_and_bad_shapes():
    out, moved = gravity_track(dive_track(5), 25.0)
    assert not moved.any() and out.shape == (5, 4)
    with pytest.raises(ValueError, match=r"\(T, 4\)"):
        gravity_track(np.zeros((5, 3)), 25.0)


def test_encode_clip_crops_at_the_boxes_the_track_function_gives():
    import torch

    from models.config import ModelConfig
    from models.model import TemporalPoseModel
    from models.variants import get_variant
    from tempose_cli.learn.dataset import ClipFrames, FrameStore
    from tempose_cli.learn.features import encode_clip

    torch.manual_seed(0)
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (6, 48, 48, 3), dtype=np.uint8)
    store = FrameStore([ClipFrames(1, "h", "A", frames, np.full((48, 48, 3), 128.0,
                                                                np.float32), None, (48, 48))])
    model = TemporalPoseModel(ModelConfig(detector_size=32, crop_size=32, recon_size=48),
                              get_variant("ours")).eval()
    plain = encode_clip(model, store, 0, torch.device("cpu"), batch=4)
    same = encode_clip(model, store, 0, torch.device("cpu"), batch=4, track=lambda b: b)
    for k in ("box", "z_tv", "z_ti", "features"):
        np.testing.assert_allclose(same[k], plain[k], atol=1e-5)
    fixed = np.tile(np.array([[0.5, 0.5, 0.2, -0.1]], np.float32), (6, 1))
    moved = encode_clip(model, store, 0, torch.device("cpu"), batch=4, track=lambda b: fixed)
    np.testing.assert_allclose(moved["box"], fixed)
    assert not np.allclose(moved["z_tv"], plain["z_tv"])  # the crops changed


def test_box_targets_splits_a_generated_dive_into_its_phases():
    from tests.benchmark_module import benchmark_module

    phases = benchmark_module("box_targets").dive_phases
    out = phases({"synth": {"takeoff_frame": 4}}, 10)
    assert list(out) == ["platform"] * 4 + ["flight"] * 3 + ["entry"] * 3
    assert set(phases({"fps": 25}, 5)) == {"unknown"}  # a user's clip: no take-off known
