"""Overlay MP4: same fps and frame count as the source, drawn where the joints are."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from tempose_cli.media.overlay import box_from_stn, draw_frame, rescale, write_overlay
from tempose_cli.media.video import decode_frames, probe, read_all_frames


def _pose(n: int, w: int, h: int) -> np.ndarray:
    """A small stick figure drifting right: (n, 14, 2) pixels."""
    base = np.array([[0, -12], [0, -9], [-3, -8], [3, -8], [-4, -4], [4, -4], [-4, 0],
                     [4, 0], [-2, 0], [2, 0], [-2, 5], [2, 5], [-2, 10], [2, 10]], float)
    return base + np.stack([np.linspace(w * 0.3, w * 0.7, n), np.full(n, h / 2)], 1)[:, None]


@pytest.mark.parametrize("fps", [25.0, 29.97])
def test_overlay_keeps_fps_and_frame_count(tmp_path: Path, clip_factory, fps: float):
    src = clip_factory("src.mp4", fps=fps)  # conftest: a moving square, 24 frames
    info = probe(src)
    n = info.frame_count
    j2d = _pose(n, info.width, info.height)
    j2d[5, 3] = np.nan  # a missing joint is skipped, not drawn at (0, 0)
    boxes = box_from_stn(np.tile([0.5, 0.6, 0.0, 0.1], (n, 1)), info.width, info.height)
    masks = np.zeros((n, 12, 16))  # coarser than the frame: resized
    masks[:, 4:8, 6:10] = 1.0
    out = write_overlay(tmp_path / "out" / "overlay.mp4",
                        decode_frames(src, (info.width, info.height)), info.fps, n,
                        j2d=j2d, boxes=boxes, masks=masks, cg_uv=j2d.mean(1))
    got = probe(out)
    assert got.frame_count == n and got.fps == pytest.approx(info.fps)
    assert (got.width, got.height, got.codec) == (info.width, info.height, "h264")
    assert sorted(p.name for p in out.parent.iterdir()) == ["overlay.mp4"]


def test_odd_sizes_are_padded_not_cropped(tmp_path: Path):
    frames = np.full((5, 33, 47, 3), 90, np.uint8)
    out = write_overlay(tmp_path / "o.mp4", iter(frames), 10.0, 5)
    info = probe(out)
    assert (info.width, info.height, info.frame_count) == (48, 34, 5)


def test_wrong_frame_count_leaves_nothing(tmp_path: Path):
    frames = np.zeros((4, 32, 32, 3), np.uint8)
    with pytest.raises(ValueError, match="expected 6"):
        write_overlay(tmp_path / "o.mp4", iter(frames), 10.0, 6)
    with pytest.raises(ValueError, match="more than"):
        write_overlay(tmp_path / "o.mp4", iter(frames), 10.0, 3)
    assert list(tmp_path.iterdir()) == []


def test_drawing_lands_on_the_joints():
    img = np.zeros((120, 160, 3), np.uint8)
    j2d = _pose(1, 160, 120)[0]
    out = draw_frame(img, 7, 0.28, j2d=j2d, cg=j2d.mean(0))
    assert out is not img and not img.any()  # the input is not drawn on
    for u, v in j2d.round().astype(int):
        assert out[v, u].any()
    assert out[2:14, 2:60].any()  # the frame number and time text
    mask = np.zeros((120, 160))
    mask[10:20, 10:20] = 1
    tinted = draw_frame(np.full_like(img, 100), 0, mask=mask)
    assert (tinted[15, 15] != 100).any() and (tinted[100, 100] == 100).all()


def test_box_and_rescale_conventions():
    np.testing.assert_allclose(box_from_stn([1.0, 1.0, 0.0, 0.0], 64, 48), [0, 0, 64, 48])
    np.testing.assert_allclose(box_from_stn([0.5, 0.5, 0.5, -0.5], 64, 48),
                               [32, 0, 64, 24])
    # Pixel centres map to pixel centres: pixel 0 of a 2x upscale spans 0..1.
    np.testing.assert_allclose(rescale(np.array([0.0, 0.0]), (2, 2)), [0.5, 0.5])
    np.testing.assert_allclose(rescale(np.array([[-0.5, -0.5, 9.5, 9.5]]), (3, 3)),
                               [[-0.5, -0.5, 29.5, 29.5]])


def test_overlay_of_a_generated_dive(tmp_path: Path):
    """The synthetic clip's labels drawn on its own video: the skeleton is visible."""
    pytest.importorskip("pybullet")
    from tempose_cli.core.labels import read_pose_csv
    from tempose_cli.synth.generate import SynthConfig, generate

    generate(SynthConfig(out_dir=tmp_path, athletes=1, clips=1, fps=10.0, size=(64, 64),
                         seed=1, heights=(3.0,)))
    src = tmp_path / "dive_a01_d001.mp4"
    labels = read_pose_csv(tmp_path / "dive_a01_d001.pose.csv")
    info = probe(src)
    out = write_overlay(tmp_path / "ov.mp4", decode_frames(src, (128, 128)), info.fps,
                        info.frame_count, j2d=labels.j2d, scale=(2.0, 2.0))
    got = probe(out)
    assert (got.fps, got.frame_count) == (info.fps, info.frame_count) == (10.0, len(labels))
    a, b = read_all_frames(out), read_all_frames(src, (128, 128))
    assert np.abs(a.astype(int) - b.astype(int)).sum(-1).max() > 100  # something drawn
