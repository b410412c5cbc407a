"""ReconstructionLoss: frozen, seeded or file-loaded ResNet-18 (models/perceptual.py)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torchvision.models import resnet18

from models.perceptual import ReconstructionLoss


@pytest.fixture(scope="module")
def rec() -> ReconstructionLoss:
    return ReconstructionLoss(seed=0)


def _images(b: int = 2, h: int = 40, w: int = 48, seed: int = 0) -> torch.Tensor:
    return torch.rand(b, 3, h, w, generator=torch.Generator().manual_seed(seed))


def test_zero_for_identical_images(rec):
    x = _images()
    out = rec(x, x.clone())
    assert set(out) == {"pixel", "perceptual", "total"}
    for v in out.values():
        assert v.item() == pytest.approx(0.0, abs=1e-12)


def test_positive_and_total_combines(rec):
    x, y = _images(seed=0), _images(seed=1)
    out = ReconstructionLoss(perceptual_weight=2.5, seed=0)(x, y)
    assert out["pixel"] > 0 and out["perceptual"] > 0
    assert torch.isclose(out["total"], out["pixel"] + 2.5 * out["perceptual"])
    assert torch.isclose(rec(x, y)["perceptual"], out["perceptual"])


def _params(m: ReconstructionLoss) -> dict[str, torch.Tensor]:
    return {k: v for k, v in m.state_dict().items() if v.is_floating_point()}


def test_seeded_init_is_deterministic_and_leaves_global_rng(rec):
    state = torch.get_rng_state()
    a, b, c = ReconstructionLoss(seed=0), ReconstructionLoss(seed=0), ReconstructionLoss(seed=1)
    assert torch.equal(torch.get_rng_state(), state), "global RNG must be untouched"
    assert a.source == "random-resnet18-seed0" and c.source == "random-resnet18-seed1"
    pa, pb, pc = _params(a), _params(b), _params(c)
    assert all(torch.equal(pa[k], pb[k]) for k in pa)
    assert any(not torch.equal(pa[k], pc[k]) for k in pa if "conv" in k)
    x, y = _images(seed=2), _images(seed=3)
    assert torch.equal(a(x, y)["perceptual"], b(x, y)["perceptual"])


def test_weights_file_round_trip(tmp_path: Path):
    torch.manual_seed(42)
    net = resnet18(weights=None)
    path = tmp_path / "resnet18.pth"
    torch.save(net.state_dict(), path)
    loss = ReconstructionLoss(weights_path=str(path))
    assert loss.source == f"file:{path}"
    assert torch.equal(loss.stem[0].weight, net.conv1.weight)
    assert torch.equal(loss.blocks[2][1].conv2.weight, net.layer3[1].conv2.weight)
    # A backbone-only file (no classifier head) is accepted too.
    sd = {k: v for k, v in net.state_dict().items() if not k.startswith("fc.")}
    torch.save(sd, tmp_path / "backbone.pth")
    ReconstructionLoss(weights_path=str(tmp_path / "backbone.pth"))


def test_wrong_weights_file_raises(tmp_path: Path):
    wrong = tmp_path / "wrong.pth"
    torch.save({"conv1.weight": torch.zeros(3, 3)}, wrong)
    with pytest.raises(ValueError, match="wrong.pth"):
        ReconstructionLoss(weights_path=str(wrong))
    junk = tmp_path / "junk.pth"
    junk.write_text("not a checkpoint")
    with pytest.raises(ValueError, match="junk.pth"):
        ReconstructionLoss(weights_path=str(junk))
    other = tmp_path / "other.pth"
    torch.save({"some.layer.weight": torch.zeros(2)}, other)
    with pytest.raises(ValueError, match="other.pth"):
        ReconstructionLoss(weights_path=str(other))


def test_frozen_but_grad_flows_to_pred(rec):
    assert all(not p.requires_grad for p in rec.parameters())
    rec.train()
    assert rec.training and not rec.stem.training
    assert all(not m.training for m in rec.blocks.modules())
    bn = rec.stem[1]
    before = bn.running_mean.clone()
    pred = _images(seed=4).requires_grad_(True)
    rec(pred, _images(seed=5))["total"].backward()
    assert pred.grad is not None and pred.grad.abs().sum() > 0
    assert torch.equal(bn.running_mean, before), "BatchNorm statistics must not update"
    assert all(p.grad is None for p in rec.parameters())


@pytest.mark.parametrize("hw", [(32, 32), (33, 47), (64, 96)])
def test_any_size_from_32(rec, hw):
    x = _images(1, *hw)
    assert torch.isfinite(rec(x, _images(1, *hw, seed=9))["total"])


def test_shape_errors(rec):
    with pytest.raises(ValueError, match=">= 32"):
        rec(torch.rand(1, 3, 16, 64), torch.rand(1, 3, 16, 64))
    with pytest.raises(ValueError, match="same shape"):
        rec(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 40))
    with pytest.raises(ValueError, match=r"\(B, 3, H, W\)"):
        rec(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32))
    with pytest.raises(ValueError, match="layers"):
        ReconstructionLoss(layers=(0, 2))
