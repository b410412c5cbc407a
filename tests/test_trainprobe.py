"""The training-time pose probe (pipeline/trainprobe.py) and the ridge under it."""

import numpy as np
import pytest
import torch

from models.ridge import ridge_fit, ridge_select
from tempose_cli.learn.dataset import ClipFrames
from tempose_cli.pipeline.trainprobe import LabelledClip, PoseProbe, athlete_extent_px, box_quality


def test_ridge_recovers_a_linear_map_and_selects_lambda() -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 10))
    w = rng.normal(size=(10, 3))
    y = x @ w + 0.01 * rng.normal(size=(400, 3)) + 5.0
    r = ridge_fit(x, y, 1e-3)
    assert np.abs(r.predict(x) - y).max() < 0.1
    err = lambda p, t: float(np.abs(p - t).mean())  # noqa: E731
    best = ridge_select(x[:300], y[:300], x[300:], y[300:], err)
    assert best.lam <= 10  # a heavy penalty would shrink the true map
    with pytest.raises(ValueError):
        ridge_fit(x, y[:10], 1.0)
    with pytest.raises(ValueError):
        r.predict(x[:, :3])


class PoseInPixels(torch.nn.Module):
    """A stand-in model whose features are the pose written into the frame's first row
    (or noise): what a probe must tell apart."""

    def __init__(self, informative: bool):
        super().__init__()
        self.informative = informative

    def encode(self, frames: torch.Tensor, background: torch.Tensor | None = None,
               noise: torch.Tensor | None = None):
        feats = frames[:, 0, 0, :42] if self.informative else torch.rand(len(frames), 42)
        box = torch.tensor([0.3, 0.3, 0.0, 0.0]).expand(len(frames), 4)
        return box, feats, feats[:, :2]

    def features(self, z_tv, z_ti):  # noqa: ANN001, ANN201
        return z_tv


def _clips(n_athletes: int = 4, T: int = 300) -> list[LabelledClip]:
    rng = np.random.default_rng(1)
    out = []
    for a in range(n_athletes):
        j3d = rng.normal(scale=0.3, size=(T, 14, 3))
        j3d[:, 8] = -j3d[:, 9]  # pelvis (mid-hip) at the origin: the targets are these
        frames = np.zeros((T, 8, 64, 3), np.uint8)
        frames[:, 0, :42, 0] = np.clip(128 + 200 * j3d.reshape(T, 42), 0, 255).astype(np.uint8)
        j2d = np.stack([np.full((T, 14), 20.0), np.full((T, 14), 30.0)], -1)
        j2d[:, 0] += 10  # 10 px tall
        cf = ClipFrames(a, f"h{a}", f"A{a}", frames, np.zeros((8, 64, 3), np.float32), j2d,
                        (64, 8))
        out.append(LabelledClip(cf, j3d))
    return out


def test_probe_tells_pose_features_from_noise() -> None:
    probe = PoseProbe(_clips())
    good = probe(PoseInPixels(True), torch.device("cpu"))
    bad = probe(PoseInPixels(False), torch.device("cpu"))
    assert good["probe_n_mpjpe"] < 0.5 * good["probe_mean_pose"]
    assert bad["probe_n_mpjpe"] > 0.8 * bad["probe_mean_pose"]
    assert good["probe_mean_pose"] == pytest.approx(bad["probe_mean_pose"])
    # Box 0.3 of the 8 px frame height = 2.4 px side over a 10 px tall athlete.
    assert good["box_size_ratio"] == pytest.approx(0.24)
    assert good["box_size_ok"] == 0.0


def test_probe_needs_three_athletes() -> None:
    with pytest.raises(ValueError, match="3 athletes"):
        PoseProbe(_clips(2))


def test_box_quality_and_extent() -> None:
    j2d = np.zeros((2, 14, 2))
    j2d[:, 0] = [10, 40]  # extent: 10 px wide, 40 px tall -> 40
    assert athlete_extent_px(j2d).tolist() == [40.0, 40.0]
    box = np.array([[0.5, 0.5, 0.0, 0.0]] * 2)  # side 0.5 x 100 px = 50 px, centred
    ref = np.array([[49.5, 49.5], [49.5, 59.5]])  # frame centre in pixels, then 10 px below
    q = box_quality(box, ref, j2d, (100, 100))
    assert q["size_ratio"].tolist() == [1.25, 1.25]
    assert np.allclose(q["centre_err"], [0.0, 0.1])
