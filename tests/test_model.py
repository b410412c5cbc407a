"""Networks, STN geometry and the per-step losses of every variant (unit level, CPU)."""

from dataclasses import replace

import numpy as np
import pytest
import torch

from models.config import ModelConfig, TrainConfig
from models.model import (
    Batch,
    TemporalPoseModel,
    background_swap,
    blob_under,
    channel_shuffle,
    colour_jitter,
    foreground_extent_box,
    foreground_map,
)
from models.networks import Decoder
from models.perceptual import ReconstructionLoss
from models.sampler import TemporalSampler
from models.stn import Detector, border_window, composite, crop, paste, paste_factors
from models.variants import VARIANTS, get_variant


def test_crop_then_paste_reproduces_the_frame_inside_the_box() -> None:
    torch.manual_seed(0)
    frames = torch.rand(2, 3, 64, 64)
    # Boxes on the pixel grid (half the frame, shifted by whole pixels): sampling is exact.
    box = torch.tensor([[0.5, 0.5, 0.0, 0.0], [0.5, 0.5, 0.25, -0.25]])
    back = paste(crop(frames, box, 32), box, 64, 64)
    # Inside the box (away from its border) the pasted crop equals the frame.
    for i, (sx, sy, u, v) in enumerate(box.tolist()):
        x0, x1 = int((u - sx + 1) / 2 * 64) + 2, int((u + sx + 1) / 2 * 64) - 2
        y0, y1 = int((v - sy + 1) / 2 * 64) + 2, int((v + sy + 1) / 2 * 64) - 2
        inside = (back[i, :, y0:y1, x0:x1] - frames[i, :, y0:y1, x0:x1]).abs().max()
        assert inside < 1e-5, inside
        outside = back[i].clone()
        outside[:, y0 - 3:y1 + 3, x0 - 3:x1 + 3] = 0
        assert outside.abs().max() == 0  # nothing pasted outside the box


def test_composite_uses_background_where_mask_is_off() -> None:
    bg = torch.rand(1, 3, 32, 32)
    box = torch.tensor([[0.5, 0.5, 0.0, 0.0]])
    window = border_window(16, 0.15)
    frame, pasted = composite(torch.ones(1, 3, 16, 16), torch.zeros(1, 1, 16, 16), box, bg, window)
    assert torch.allclose(frame, bg) and pasted.abs().max() == 0
    frame, pasted = composite(torch.ones(1, 3, 16, 16), torch.ones(1, 1, 16, 16), box, bg, window)
    assert torch.allclose(frame[..., 14:18, 14:18], torch.ones(1, 3, 4, 4), atol=1e-3)
    assert torch.allclose(frame[..., :4, :4], bg[..., :4, :4])  # outside the box


def test_window_fades_to_zero_at_the_border() -> None:
    w = border_window(32, 0.15)[0, 0]
    assert w[0].max() == 0 and w[:, 0].max() == 0 and (w[8:24, 8:24] == 1).all()


def test_detector_starts_from_a_centred_box() -> None:
    cfg = ModelConfig()
    box = Detector(cfg)(torch.rand(3, 3, 80, 100))
    expected = torch.tensor([cfg.scale_min + (1 - cfg.scale_min) * 0.5] * 2 + [0.0, 0.0])
    assert torch.allclose(box, expected.expand(3, 4), atol=1e-6)


@pytest.mark.parametrize("crop_size", [32, 48, 64, 96, 128])
def test_decoder_output_size(crop_size: int) -> None:
    cfg = ModelConfig(crop_size=crop_size)
    rgb, mask = Decoder(cfg)(torch.rand(2, cfg.z_tv), torch.rand(2, cfg.z_ti))
    assert rgb.shape == (2, 3, crop_size, crop_size) and mask.shape == (2, 1, crop_size, crop_size)


def test_colour_jitter_changes_colour_not_layout() -> None:
    x = torch.rand(4, 3, 16, 16)
    y = colour_jitter(x, 0.3, torch.Generator().manual_seed(0))
    assert y.shape == x.shape and not torch.allclose(x, y)
    assert 0 <= y.min() and y.max() <= 1
    assert colour_jitter(x, 0.0, None) is x


def _batch(mode: str, frames_hw=(72, 72)) -> Batch:
    g = torch.Generator().manual_seed(1)
    n = 8
    delta = torch.tensor([0, 1, 5, 14] * 2) if mode == "contrastive" else torch.tensor(
        [0, 2, 4, 6] * 2)
    return Batch(frames=torch.rand(n, 3, *frames_hw, generator=g),
                 background=torch.rand(n, 3, *frames_hw, generator=g), delta=delta,
                 clip=torch.tensor([0] * 4 + [1] * 4), groups=2, group_size=4, mode=mode,
                 j2d=torch.rand(n, 14, 2, generator=g) * 2 - 1)


TINY = ModelConfig(detector_size=32, crop_size=32, recon_size=48, encoder_width=8, z_tv=16,
                   z_ti=8, decoder_width=8, detector_width=8)


def test_channel_shuffle_permutes_colours_per_sample() -> None:
    g = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 8, 8, generator=g)
    assert torch.equal(channel_shuffle(x, 0.0, g), x)
    y = channel_shuffle(x, 1.0, g)
    # Every sample holds the same three channels, in some order; most orders change.
    assert torch.allclose(y.sort(1).values, x.sort(1).values)
    assert (y != x).flatten(1).any(1).float().mean() > 0.6


@pytest.mark.parametrize("name", sorted(VARIANTS))
def test_every_variant_computes_its_terms(name: str) -> None:
    variant = get_variant(name)
    model = TemporalPoseModel(TINY, variant)
    rec = ReconstructionLoss()
    tc = TrainConfig(weak_2d=True, w_ti_same=0.1)
    total, terms, _ = model.losses(_batch("contrastive"), 2, tc, rec)
    assert torch.isfinite(total)
    assert ("ti_same" in terms) == variant.split
    assert ("recon" in terms) == variant.decoder
    assert ("box_extent" in terms) == variant.stn  # the default box size follows the athlete
    assert "box_prior" not in terms
    assert ("ti_far" in terms) == variant.split
    assert (variant.contrastive in terms) if variant.contrastive else not (
        {"dsl", "css", "triplet"} & set(terms))
    total.backward()
    if variant.stn:
        total1, terms1, _ = model.losses(_batch("gravity"), 1, tc, rec)
        assert {"gravity", "order", "scale"} <= set(terms1)
        assert "box_extent" in terms1 and "box_prior" not in terms1  # tight from step 0
        # stage1_contrastive (default): DSL on the stage-1 quadruples; CSS and the
        # triplet need stage 2's near / far sampling.
        assert ({"dsl", "css", "triplet"} & set(terms1)) == (
            {"dsl"} if variant.contrastive == "dsl" else set())
        paper = replace(tc, stage1_contrastive=False, box_extent_from_stage=2)
        _, terms_paper, _ = model.losses(_batch("gravity"), 1, paper, rec)
        assert not {"dsl", "css", "triplet"} & set(terms_paper)  # the paper: DSL from stage 2
        assert "box_prior" in terms_paper and "box_extent" not in terms_paper


def test_gradients_reach_the_detector_through_the_resynthesis() -> None:
    torch.manual_seed(0)
    model = TemporalPoseModel(TINY, get_variant("ours"))
    tc = TrainConfig(w_box_prior=0.0, w_contrastive=0.0, w_ti_far=0.0, w_cover=0.0)
    total, terms, _ = model.losses(_batch("contrastive"), 2, tc, ReconstructionLoss())
    assert set(terms) >= {"recon", "perceptual"}
    total.backward()
    grad = model.detector.heatmap.weight.grad
    assert grad is not None and grad.abs().sum() > 0


@pytest.mark.parametrize("through", [True, False])
def test_encoder_box_grad_decides_whether_dsl_moves_the_detector(through: bool) -> None:
    torch.manual_seed(0)
    model = TemporalPoseModel(TINY, get_variant("dsl-stn"))  # no decoder: DSL alone
    tc = TrainConfig(w_cover=0.0, w_box_extent=0.0, encoder_box_grad=through)
    total, terms, _ = model.losses(_batch("contrastive"), 2, tc, ReconstructionLoss())
    assert terms["dsl"] > 0
    total.backward()
    moved = sum(float(p.grad.abs().sum()) for p in model.detector.parameters()
                if p.grad is not None)
    assert (moved > 0) == through
    assert any(p.grad is not None and p.grad.abs().sum() > 0  # the encoder still learns
               for p in model.encoder.parameters())


def test_sampler_distances() -> None:
    tc = TrainConfig(pos_max=2, neg_min=10, groups=64)
    s = TemporalSampler([30, 40, 12, 5], tc, seed=0)
    fb = s.contrastive()
    d = fb.delta.reshape(-1, 4)
    assert (d[:, 0] == 0).all()
    assert ((1 <= d[:, 1]) & (d[:, 1] <= 2)).all()
    assert ((2 < d[:, 2]) & (d[:, 2] < 10)).all()
    assert (d[:, 3] >= 10).all()
    assert set(fb.clip.tolist()) <= {0, 1, 2}  # the 5-frame clip has no far partner
    for c, f in zip(fb.clip, fb.frame, strict=True):
        assert 0 <= f < [30, 40, 12, 5][c]
    g = s.equidistant()
    fr = g.frame.reshape(-1, 4)
    k = fr[:, 1] - fr[:, 0]
    assert (k >= 1).all() and (fr[:, 2] - fr[:, 1] == k).all() and (fr[:, 3] - fr[:, 2] == k).all()
    assert (g.clip.reshape(-1, 4) == g.clip.reshape(-1, 4)[:, :1]).all()  # one clip per group


def test_foreground_weighted_mse() -> None:
    from models.model import foreground_weighted_mse

    bg = torch.zeros(1, 3, 16, 16)
    target = bg.clone()
    target[..., 4:8, 4:8] = 1.0  # the athlete
    pred = bg.clone()  # paints nothing
    plain = torch.nn.functional.mse_loss(pred, target)
    assert torch.isclose(foreground_weighted_mse(pred, target, bg, 0.0, 0.1), plain)
    weighted = foreground_weighted_mse(pred, target, bg, 20.0, 0.1)
    assert weighted > 5 * plain  # missing the athlete costs more
    assert foreground_weighted_mse(target, target, bg, 20.0, 0.1) == 0


def test_coverage_pulls_the_box_onto_the_foreground() -> None:
    from models.model import centre_weight, foreground_coverage_loss

    bg = torch.zeros(1, 3, 48, 48)
    frame = bg.clone()
    frame[..., 30:38, 8:14] = 1.0  # athlete left of centre, low
    weight = centre_weight(24)
    on = torch.tensor([[0.3, 0.3, -0.54, 0.42]])  # centred on the athlete
    off = torch.tensor([[0.3, 0.3, 0.5, -0.5]])
    assert foreground_coverage_loss(on, frame, bg, weight, 0.1) < 0.7 * \
        foreground_coverage_loss(off, frame, bg, weight, 0.1)
    box = torch.tensor([[0.3, 0.3, 0.0, 0.0]], requires_grad=True)
    foreground_coverage_loss(box, frame, bg, weight, 0.1).backward()
    assert box.grad[0, 2] > 0 and box.grad[0, 3] < 0  # descent moves it left and down


def test_random_frames_cover_all_clips() -> None:
    s = TemporalSampler([30, 40, 12, 5], TrainConfig(), seed=0)
    clips, frames = s.random_frames(400)
    assert set(clips.tolist()) == {0, 1, 2, 3}
    assert all(0 <= f < [30, 40, 12, 5][c] for c, f in zip(clips, frames, strict=True))


def test_fixed_box_prior_is_still_available() -> None:
    model = TemporalPoseModel(TINY, get_variant("ours"))
    tc = TrainConfig(box_size="fixed")
    _, terms, _ = model.losses(_batch("contrastive"), 2, tc, ReconstructionLoss())
    assert "box_prior" in terms and "box_extent" not in terms


def test_extent_scale_frames_a_blob_by_its_size() -> None:
    # A 20 x 40 px foreground rectangle in a 96 px frame, centred at pixel (30, 50).
    H = W = 96
    bg = torch.zeros(1, 3, H, W)
    frames = bg.clone()
    frames[:, :, 30:70, 20:40] = 1.0
    # Box roughly on it, too large: the target must not depend on that.
    for s in (0.3, 0.6):
        box = torch.tensor([[s, s, (30 / W) * 2 - 1, (50 / H) * 2 - 1]])
        target = foreground_extent_box(box, frames, bg, 0.1, margin=1.0, reach=3.0)
        # Half-extent of the long side is 20 px -> s = 20 / 48 in normalised units.
        assert target.shape == (1, 4)
        assert abs(float(target[0, 1]) - 20 / 48) < 0.03, target
        assert torch.allclose(target[0, 0], target[0, 1])  # square in pixels
        # Centroid of the rectangle: pixel (29.5, 49.5) in normalised coordinates.
        assert abs(float(target[0, 2]) - ((29.5 + 0.5) / W * 2 - 1)) < 0.02, target
        assert abs(float(target[0, 3]) - ((49.5 + 0.5) / H * 2 - 1)) < 0.02, target
    empty = foreground_extent_box(box, bg, bg, 0.1, margin=1.0, reach=3.0)
    assert torch.allclose(empty, box)  # no foreground: keep the current box


def test_blob_under_keeps_the_heaviest_connected_blob() -> None:
    fg = torch.zeros(2, 31, 33)  # odd sizes: the half-resolution cells are padded
    fg[:, 2:10, 2:8] = 1  # 48 px
    fg[:, 18:30, 20:26] = 1  # 72 px
    weight = torch.ones(2, 31, 33)
    weight[1, :12, :12] = 5.0  # the second frame's weight favours the smaller blob
    keep = blob_under(fg, weight)
    assert keep.shape == fg.shape and bool((keep <= fg).all())
    assert float(keep[0].sum()) == 72 and float(keep[0, 20, 22]) == 1
    assert float(keep[1].sum()) == 48 and float(keep[1, 3, 3]) == 1
    assert float(blob_under(torch.zeros(1, 8, 8), torch.ones(1, 8, 8)).sum()) == 0


def test_extent_blob_frames_one_person_where_the_plain_target_frames_two() -> None:
    # Two 20 x 40 px people 40 px apart; the box starts near the left one.
    H = W = 96
    bg = torch.zeros(1, 3, H, W)
    frames = bg.clone()
    frames[:, :, 30:70, 10:30] = 1.0
    frames[:, :, 30:70, 60:80] = 1.0
    box = torch.tensor([[0.6, 0.6, (20 / W) * 2 - 1, (50 / H) * 2 - 1]])
    both = foreground_extent_box(box, frames, bg, 0.1, margin=1.0, reach=2.0)
    one = foreground_extent_box(box, frames, bg, 0.1, margin=1.0, reach=2.0, blob=True)
    assert float(both[0, 2]) > (30 / W) * 2 - 1  # pulled towards the right person
    assert float(both[0, 0]) > 1.3 * 20 / 48  # and wider than one person
    assert abs(float(one[0, 1]) - 20 / 48) < 0.03, one  # the left person's half-height
    assert abs(float(one[0, 2]) - ((19.5 + 0.5) / W * 2 - 1)) < 0.02, one


def test_box_extent_blob_reaches_the_refinement_at_inference() -> None:
    from tempose_cli.pipeline.train import run_config

    cfg = run_config("cpu", "ours", "dive", {})
    assert cfg.train.box_extent_blob and cfg.model.box_refine_blob
    cfg = run_config("cpu", "ours", "dive", {"box_extent_blob": False})
    assert not cfg.train.box_extent_blob and not cfg.model.box_refine_blob


def test_the_box_is_refined_onto_the_athlete_when_the_background_is_known() -> None:
    # A blob off the detector's initial (centred, large) box; frames at 2x recon_size.
    H = W = 96
    bg = torch.zeros(2, 3, H, W)
    frames = bg.clone()
    frames[:, :, 50:80, 60:76] = 1.0  # 16 x 30 px, centred at pixel (67.5, 64.5)
    refined = TemporalPoseModel(replace(TINY, box_refine_steps=2), get_variant("ours")).eval()
    raw = TemporalPoseModel(replace(TINY, box_refine_steps=0), get_variant("ours")).eval()
    raw.load_state_dict(refined.state_dict())
    detector = raw.boxes(frames)
    assert torch.allclose(raw.boxes(frames, bg), detector)  # steps 0: the detector's box
    assert torch.allclose(refined.boxes(frames), detector)  # no background: as is
    box = refined.boxes(frames, bg)
    centre = torch.tensor([(67.5 + 0.5) / W * 2 - 1, (64.5 + 0.5) / H * 2 - 1])
    assert (box[:, 2:] - centre).abs().max() < 0.05, box
    assert (detector[:, 2:] - centre).abs().max() > 0.2  # it did move
    assert torch.allclose(box[:, 1], torch.tensor(1.15 * 15 / 48), atol=0.04), box
    z = refined.encode(frames, bg)
    assert torch.allclose(z[0], box)
    # A variant without the detector keeps the whole frame.
    whole = TemporalPoseModel(replace(TINY, box_refine_steps=2), get_variant("dsl"))
    assert torch.allclose(whole.boxes(frames, bg), whole.boxes(frames))


def _one_athlete_over_two_backgrounds() -> tuple[torch.Tensor, torch.Tensor]:
    """(2, 3, 48, 48) frames of the same athlete over two clips' backgrounds, and those."""
    torch.manual_seed(0)
    bgs = 0.3 + 0.4 * torch.rand(2, 3, 48, 48)
    frames = bgs.clone()
    frames[:, :, 10:30, 20:28] = torch.tensor([0.95, 0.05, 0.05])[:, None, None]
    return frames, bgs


def _athlete_over_grey(model: TemporalPoseModel, crops: torch.Tensor,
                       crop_bg: torch.Tensor) -> torch.Tensor:
    """(B, 3, c, c) the crops with the pixels like the background grey: what an
    ``*_input athlete`` head should see."""
    fg = model.athlete_mask(crops, crop_bg)  # (B, 1, c, c)
    return fg * crops + (1 - fg) * 0.5


def test_ti_input_athlete_hides_the_background_from_z_ti() -> None:
    frames, bgs = _one_athlete_over_two_backgrounds()
    model = TemporalPoseModel(replace(TINY, ti_input="athlete", tv_input="crop"),
                              get_variant("dsl")).eval()
    box = model.boxes(frames, bgs)
    crops, crop_bg = model.crops(frames, box), model.crops(bgs, box)
    seen = _athlete_over_grey(model, crops, crop_bg)
    differ = (seen[0] - seen[1]).abs().amax(0) > 1e-4  # (c, c)
    # Only the crop's resampled edge pixels of the athlete still mix in the background.
    assert differ.float().mean() < 0.1 < ((crops[0] - crops[1]).abs().amax(0) > 1e-4).float().mean()
    _, z_tv, z_ti = model.encode(frames, bgs)
    assert torch.allclose(z_ti, model.encoder(seen, part="ti")[1])
    assert torch.allclose(z_tv, model.encoder(crops, part="tv")[0])
    # Fits see the same features (dsl: no split, so z_ti is part of them).
    from tempose_cli.learn.finetune import EndToEnd
    net = EndToEnd(model, torch.nn.Identity()).eval()
    assert torch.allclose(net(frames, background=bgs), model.features(z_tv, z_ti), atol=1e-6)


def test_tv_input_athlete_hides_the_background_from_z_tv() -> None:
    frames, bgs = _one_athlete_over_two_backgrounds()
    model = TemporalPoseModel(replace(TINY, tv_input="athlete"), get_variant("ours")).eval()
    box, z_tv, z_ti = model.encode(frames, bgs)
    crops, crop_bg = model.crops(frames, box), model.crops(bgs, box)
    seen = _athlete_over_grey(model, crops, crop_bg)
    assert torch.allclose(z_tv, model.encoder(seen, part="tv")[0])
    assert torch.allclose(z_ti, model.encoder(crops, part="ti")[1])  # ti_input stays "crop"
    plain = TemporalPoseModel(replace(TINY, tv_input="crop"), get_variant("ours")).eval()
    plain.load_state_dict(model.state_dict())
    _, z_tv_plain, _ = plain.encode(frames, bgs)
    # The two backgrounds move the plain z_tv; the athlete-only one barely.
    assert (z_tv[0] - z_tv[1]).norm() < 0.5 * (z_tv_plain[0] - z_tv_plain[1]).norm()


def _spy_on_encoder(model: TemporalPoseModel) -> dict:
    """{head part: the pixels the encoder last saw for it}, filled as the model trains."""
    seen: dict = {}
    encode = model.encoder.forward

    def spy_encoder(x, part="both"):  # noqa: ANN001, ANN202
        seen[part] = x
        return encode(x, part=part)

    model.encoder.forward = spy_encoder
    return seen


def _batch_with_a_red_athlete() -> Batch:
    b = _batch("contrastive")
    b.frames = b.background.clone()
    b.frames[:, :, 20:50, 30:40] = torch.tensor([0.95, 0.05, 0.05])[:, None, None]
    return b


def test_tv_input_athlete_trains_z_tv_on_the_jittered_athlete_over_grey() -> None:
    model = TemporalPoseModel(replace(TINY, tv_input="athlete"), get_variant("ours"))
    seen, b = _spy_on_encoder(model), _batch_with_a_red_athlete()
    total, _, vis = model.losses(b, 2, TrainConfig(jitter=0.3), ReconstructionLoss(),
                                 torch.Generator().manual_seed(0))
    assert torch.isfinite(total)
    crop_bg = model.crops(b.background, vis["box"])
    fg = foreground_map(vis["crops"], crop_bg, TINY.box_refine_threshold)  # (N, 1, c, c)
    tv = seen["tv"]
    assert torch.all((tv - 0.5).abs()[(fg < 1e-6).expand_as(tv)] < 1e-6)  # grey, unjittered
    athlete = (fg > 0.999).expand_as(tv)
    assert athlete.any()
    assert not torch.allclose(tv[athlete], vis["crops"][athlete])  # the jittered colours
    from models.config import RunConfig
    d = RunConfig().to_dict()
    del d["model"]["tv_input"]  # runs from before the option: the crop, as trained
    assert RunConfig.from_dict(d).model.tv_input == "crop"


def test_background_swap_keeps_the_athlete_and_takes_another_crops_background() -> None:
    B, c = 8, 16
    colours = torch.linspace(0.1, 0.6, B)  # crop i's background: grey colours[i]
    crop_bg = colours[:, None, None, None].expand(B, 3, c, c).clone()
    crops = crop_bg + 0.01 * torch.rand(B, 3, c, c, generator=torch.Generator().manual_seed(0))
    fg = torch.zeros(B, 1, c, c)
    for i in range(B):  # each athlete (red) at its own place
        fg[i, :, i:i + 6, 5:9] = 1
        crops[i, :, i:i + 6, 5:9] = torch.tensor([0.95, 0.05, 0.05])[:, None, None]
    assert background_swap(crops, crop_bg, fg, 0.0, torch.Generator()) is crops
    out = background_swap(crops, crop_bg, fg, 1.0, torch.Generator().manual_seed(3))
    athlete = (fg > 0).expand_as(crops)
    assert torch.equal(out[athlete], crops[athlete])
    moved = 0
    for i in range(B):
        off = out[i][~athlete[i]]
        # One other crop's background, its noise kept, and none of its athlete's red.
        j = int((colours - off.mean()).abs().argmin())
        assert (off - colours[j]).abs().max() < 0.011
        moved += j != i
    assert moved >= B // 2
    # Same generator state, same draw: training stays reproducible from its seed.
    again = background_swap(crops, crop_bg, fg, 1.0, torch.Generator().manual_seed(3))
    assert torch.equal(out, again)


def test_tv_bg_swap_trains_z_tv_on_the_athlete_over_other_backgrounds() -> None:
    model = TemporalPoseModel(TINY, get_variant("ours"))
    seen, b = _spy_on_encoder(model), _batch_with_a_red_athlete()
    rec = ReconstructionLoss()
    model.losses(b, 2, TrainConfig(jitter=0.0), rec, torch.Generator().manual_seed(0))
    assert torch.equal(seen["tv"], seen["ti"])  # off: both heads see the crops
    total, _, vis = model.losses(b, 2, TrainConfig(jitter=0.0, tv_bg_swap=1.0), rec,
                                 torch.Generator().manual_seed(0))
    assert torch.isfinite(total)
    crops = vis["crops"]
    assert torch.equal(seen["ti"], crops)  # z_ti keeps the crop
    fg = foreground_map(crops, model.crops(b.background, vis["box"]), TINY.box_refine_threshold)
    athlete = (fg > 0.999).expand_as(crops)
    assert athlete.any()
    assert torch.allclose(seen["tv"][athlete], crops[athlete])
    assert not torch.allclose(seen["tv"][~athlete], crops[~athlete])  # backgrounds swapped
    with pytest.raises(ValueError, match="tv_bg_swap"):
        TrainConfig(tv_bg_swap=1.5)


def test_runs_from_before_the_refinement_are_rebuilt_as_trained() -> None:
    from models.config import RunConfig
    d = RunConfig().to_dict()
    assert RunConfig.from_dict(d).model.box_refine_steps == ModelConfig().box_refine_steps
    del d["model"]["box_refine_steps"]
    assert RunConfig.from_dict(d).model.box_refine_steps == 0


def test_runs_from_before_the_weight_average_are_rebuilt_without_one() -> None:
    from models.config import RunConfig, TrainConfig
    d = RunConfig().to_dict()
    assert RunConfig.from_dict(d).train.ema_decay == TrainConfig().ema_decay > 0
    del d["train"]["ema_decay"]
    assert RunConfig.from_dict(d).train.ema_decay == 0.0


def test_runs_from_before_the_z_ti_pull_are_rebuilt_without_it() -> None:
    from models.config import RunConfig, TrainConfig
    d = RunConfig().to_dict()
    assert RunConfig.from_dict(d).train.w_ti_same == TrainConfig().w_ti_same > 0
    del d["train"]["w_ti_same"]
    assert RunConfig.from_dict(d).train.w_ti_same == 0.0


@pytest.mark.parametrize("refine", [True, False])
def test_encoder_crops_follow_the_refined_box_in_training(refine: bool) -> None:
    model = TemporalPoseModel(replace(TINY, box_refine_steps=1), get_variant("ours"))
    tc = TrainConfig(refine_in_training=refine)
    b = _batch("contrastive")
    total, _, vis = model.losses(b, 2, tc, ReconstructionLoss())
    assert torch.isfinite(total)
    r = TINY.recon_size
    small = [torch.nn.functional.interpolate(t, size=(r, r), mode="area")
             for t in (b.frames, b.background)]
    box = model.refine(vis["box"], *small) if refine else vis["box"]
    assert torch.allclose(vis["crops"], model.crops(b.frames, box), atol=1e-6)


def test_paste_factors_are_the_paste() -> None:
    torch.manual_seed(1)
    crops = torch.rand(5, 1, 16, 16)
    box = torch.tensor([[1.0, 1.0, 0.0, 0.0], [0.3, 0.5, 0.2, -0.1], [0.4, 0.2, 0.9, 0.95],
                        [0.2, 0.2, 1.5, 0.0], [0.7, 0.9, -0.6, 0.3]])  # one outside
    rows, cols = paste_factors(box, 16, 40, 56)
    assert rows.shape == (5, 40, 16) and cols.shape == (5, 56, 16)
    assert torch.allclose(rows @ crops[:, 0] @ cols.transpose(1, 2),
                          paste(crops, box, 40, 56)[:, 0], atol=1e-5)


def test_build_loaded_gives_the_same_model_without_initialising_it(tmp_path) -> None:
    from models.checkpoint import build_loaded, load_checkpoint, save_checkpoint
    from models.regressor import RegressorConfig, build_regressor

    torch.manual_seed(0)
    model = TemporalPoseModel(TINY, get_variant("ours")).eval()
    reg = build_regressor(RegressorConfig(kind="mlp", in_dim=16, hidden=32)).eval()
    for net, name in ((model, "m"), (reg, "r")):
        save_checkpoint(tmp_path / f"{name}.pt", config={}, model=net, optimizer=None,
                        step=0, rng=None)
    state = load_checkpoint(tmp_path / "m.pt", mmap=True)["model"]
    torch.manual_seed(123)  # another initialisation would differ: there must be none
    loaded = build_loaded(lambda: TemporalPoseModel(TINY, get_variant("ours")), state).eval()
    loaded_reg = build_loaded(lambda: build_regressor(reg.cfg), load_checkpoint(
        tmp_path / "r.pt", mmap=True)["model"]).eval()
    for a, b in ((model, loaded), (reg, loaded_reg)):
        ta, tb = {**dict(a.named_parameters()), **dict(a.named_buffers())}, \
            {**dict(b.named_parameters()), **dict(b.named_buffers())}
        assert ta.keys() == tb.keys()  # the non-persistent window and centre too
        assert all(torch.equal(ta[k], tb[k]) for k in ta)
        assert all(p.requires_grad for p in b.parameters())
    x = torch.rand(2, 3, 48, 48)
    with torch.no_grad():
        for u, v in zip(model.encode(x), loaded.encode(x), strict=True):
            assert torch.equal(u, v)
        z = torch.rand(3, 16)
        assert torch.equal(reg(z), loaded_reg(z))
    with pytest.raises(RuntimeError, match="Missing key"):
        build_loaded(lambda: TemporalPoseModel(TINY, get_variant("ours")),
                     {k: v for k, v in state.items() if not k.startswith("decoder.")})


def test_ti_pool_avg_reads_z_ti_off_the_map_averaged_over_positions() -> None:
    from models.networks import SplitEncoder
    torch.manual_seed(0)
    enc = SplitEncoder(replace(TINY, encoder_pool="flatten", ti_pool="avg")).eval()
    crops = torch.rand(3, 3, TINY.crop_size, TINY.crop_size)
    z_tv, z_ti = enc(crops)
    h = enc.trunk(crops * 2 - 1)  # (B, C * 16)
    assert enc.ti_head.in_features == enc.channels < h.shape[1] == enc.tv_head.in_features
    pooled = h.view(3, enc.channels, 16).mean(-1)  # (B, C)
    assert torch.allclose(z_ti, enc.ti_head(pooled))
    assert torch.allclose(z_tv, enc.tv_head(h))
    # A crop mirrored left to right moves every limb but keeps the appearance: the
    # pooled z_ti changes far less than the position-keeping z_tv.
    z_tv2, z_ti2 = enc(crops.flip(-1))
    assert (z_ti2 - z_ti).norm() / z_ti.norm() < 0.5 * (z_tv2 - z_tv).norm() / z_tv.norm()
    with pytest.raises(ValueError, match="ti_pool"):
        SplitEncoder(replace(TINY, ti_pool="max"))


def test_foreground_colour_mse_judges_only_the_athletes_pixels() -> None:
    from models.model import foreground_colour_mse
    bg = torch.full((1, 3, 8, 8), 0.5)
    target = bg.clone()
    target[:, :, 2:4, 2:4] = torch.tensor([0.9, 0.1, 0.1])[:, None, None]  # the athlete
    wrong_bg = target.clone()
    wrong_bg[:, :, 6:, 6:] = 0.0  # only background pixels differ
    assert foreground_colour_mse(wrong_bg, target, bg, 0.1) == 0
    dark = target.clone()
    dark[:, :, 2:4, 2:4] = 0.0  # a dark silhouette in the right place
    assert torch.isclose(foreground_colour_mse(dark, target, bg, 0.1),
                         torch.tensor((0.81 + 0.01 + 0.01) / 3))
    with pytest.raises(ValueError, match="shapes differ"):
        foreground_colour_mse(dark[:, :, :4], target, bg, 0.1)


@pytest.mark.parametrize("term, weight", [("fg_colour", "w_fg_colour"),
                                          ("fg_palette", "w_fg_palette")])
def test_the_colour_terms_train_the_decoder_only_when_asked(term, weight) -> None:
    torch.manual_seed(0)
    model = TemporalPoseModel(TINY, get_variant("ours"))
    _, off, _ = model.losses(_batch("contrastive"), 2, TrainConfig(), ReconstructionLoss())
    assert term not in off
    tc = TrainConfig(**{weight: 1.0}, w_recon=0.0, w_contrastive=0.0, w_ti_far=0.0,
                     w_cover=0.0, w_box_prior=0.0, w_box_extent=0.0)
    total, terms, _ = model.losses(_batch("contrastive"), 2, tc, ReconstructionLoss())
    assert terms[term] > 0
    total.backward()
    assert model.decoder.out.weight.grad.abs().sum() > 0


def test_foreground_palette_loss_asks_for_the_athletes_colours_wherever_they_are() -> None:
    from models.model import foreground_palette_loss, palette_mass
    bg = torch.full((2, 3, 8, 8), 0.5)
    target = bg.clone()
    target[0, :, 2:4, 2:4] = torch.tensor([1.0, 0.0, 0.0])[:, None, None]  # a red athlete
    mask = torch.zeros(2, 1, 8, 8)
    mask[:, :, 2:4, 2:4] = 1
    # The right colour painted elsewhere in the crop costs nothing (pooled); crop 1 has no
    # athlete and is left out.
    moved, moved_mask = torch.roll(target, 3, -1), torch.roll(mask, 3, -1)
    assert foreground_palette_loss(moved, moved_mask, target, bg, 0.1) < 1e-6
    blue = target.clone()
    blue[0, :, 2:4, 2:4] = torch.tensor([0.0, 0.0, 1.0])[:, None, None]
    wrong = foreground_palette_loss(blue, mask, target, bg, 0.1)
    assert wrong > 1.9  # nearly disjoint histograms: L1 close to 2
    half = target.clone()
    half[0, :, 2:3, 2:4] = torch.tensor([0.0, 0.0, 1.0])[:, None, None]
    assert 0.5 * wrong - 0.05 < foreground_palette_loss(half, mask, target, bg, 0.1) < wrong
    assert torch.allclose(palette_mass(target, mask).sum(1), torch.full((2,), 4.0))
    # The mask says where the decoder paints; the term judges only the colours there.
    rgb = blue.clone().requires_grad_()
    mask = mask.clone().requires_grad_()
    foreground_palette_loss(rgb, mask, target, bg, 0.1).backward()
    assert mask.grad is None and rgb.grad.abs().sum() > 0
    nobody = bg.clone()
    assert foreground_palette_loss(blue, mask, nobody, bg, 0.1) == 0
    with pytest.raises(ValueError, match="mask must have shape"):
        foreground_palette_loss(blue, mask[:, :, :4], target, bg, 0.1)
    with pytest.raises(ValueError, match="shapes differ"):
        foreground_palette_loss(blue[:, :, :4], mask, target, bg, 0.1)


def _spy_on_z_ti(model: TemporalPoseModel) -> dict:
    """{"z_ti": the z_ti head's output, "z_ti_dec": the z_ti the decoder got}, filled as
    the model trains."""
    seen: dict = {}
    encode, decode = model.encoder.forward, model.decode

    def spy_encoder(x, part="both"):  # noqa: ANN001, ANN202
        z_tv, z_ti = encode(x, part=part)
        if part == "ti":
            seen["z_ti"] = z_ti
        return z_tv, z_ti

    def spy_decode(z_tv, z_ti, box, bg):  # noqa: ANN001, ANN202
        seen["z_ti_dec"] = z_ti
        return decode(z_tv, z_ti, box, bg)

    model.encoder.forward, model.decode = spy_encoder, spy_decode
    return seen


def _from_another_frame_of_its_clip(seen: dict, i: int) -> bool:
    """Whether row i of a batch of 2 clips x 4 frames was decoded with the z_ti of
    another frame of its own clip."""
    group = range(4 * (i // 4), 4 * (i // 4) + 4)
    return any(torch.equal(seen["z_ti_dec"][i], seen["z_ti"][j]) for j in group if j != i)


@pytest.mark.parametrize("swap", ["any", "far", "others"])
def test_ti_swap_decides_which_frames_z_ti_the_decoder_gets(swap) -> None:
    model = TemporalPoseModel(TINY, get_variant("ours"))
    seen = _spy_on_z_ti(model)
    b = _batch("contrastive")
    b.frame = torch.tensor([20, 21, 26, 40, 30, 29, 24, 10])  # (ref, near, mid, far) x 2
    model.losses(b, 2, TrainConfig(ti_swap=swap), ReconstructionLoss(),
                 torch.Generator().manual_seed(0))
    far = torch.tensor([3, 3, 3, 0, 7, 7, 7, 4])  # "far": the frame farthest in time
    assert torch.equal(seen["z_ti_dec"], seen["z_ti"][far]) == (swap == "far")
    # "others": the mean of the clip's other frames; "any": one other frame at random.
    z = seen["z_ti"].view(2, 4, -1)
    others = torch.stack([z[:, [j for j in range(4) if j != i]].mean(1) for i in range(4)], 1)
    assert torch.allclose(seen["z_ti_dec"], others.reshape(8, -1)) == (swap == "others")
    if swap == "any":  # each frame decoded with the z_ti of another frame of its clip
        assert all(_from_another_frame_of_its_clip(seen, i) for i in range(8))


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_ti_own_decodes_that_share_of_frames_with_their_own_z_ti(p) -> None:
    model = TemporalPoseModel(TINY, get_variant("ours"))
    seen = _spy_on_z_ti(model)
    b = _batch("contrastive")
    model.losses(b, 2, TrainConfig(ti_own=p), ReconstructionLoss(),
                 torch.Generator().manual_seed(1))
    own = [torch.equal(seen["z_ti_dec"][i], seen["z_ti"][i]) for i in range(8)]
    if p == 0.0:  # the swap everywhere: never a frame's own z_ti
        assert not any(own)
    elif p == 1.0:
        assert all(own)
    else:  # some own, the rest from another frame of the clip
        assert 0 < sum(own) < 8
        assert all(_from_another_frame_of_its_clip(seen, i) for i in range(8) if not own[i])
    # Same generator state, same draw: training stays reproducible from its seed.
    first = seen["z_ti_dec"].clone()
    model.losses(b, 2, TrainConfig(ti_own=p), ReconstructionLoss(),
                 torch.Generator().manual_seed(1))
    assert torch.equal(seen["z_ti_dec"], first)


def test_ti_swap_is_checked() -> None:
    with pytest.raises(ValueError, match="ti_swap"):
        TrainConfig(ti_swap="near")
    with pytest.raises(ValueError, match="ti_own"):
        TrainConfig(ti_own=-0.1)


def _speckled_clip(T: int = 20, H: int = 96, W: int = 96, seed: int = 0):
    """Frames (T, H, W, 3) uint8: a still background whose lower third flickers at random
    (rippling water: a pixel lit in 60% of frames) and a red 12 x 24 px athlete crossing
    the upper part, 4 px a frame."""
    rng = np.random.default_rng(seed)
    bg = np.full((H, W, 3), 120, np.uint8)
    frames = np.repeat(bg[None], T, 0).copy()
    speckle = rng.random((T, H // 3, W)) < 0.6  # (T, H/3, W)
    frames[:, -(H // 3):][speckle] = 200
    for t in range(T):
        frames[t, 6:30, 4 * t:4 * t + 12] = (250, 40, 40)
    return frames, bg.astype(np.float32)


def test_the_background_noise_map_is_high_on_rippling_water_only() -> None:
    from tempose_cli.learn.dataset import ClipFrames, FrameStore
    frames, bg = _speckled_clip()
    store = FrameStore([ClipFrames(1, "h", "A", frames, bg, None, (96, 96))])
    noise = store.noise([0, 0], [0, 5])  # (2, 1, H, W): one map per clip
    assert noise.shape == (2, 1, 96, 96) and torch.equal(noise[0], noise[1])
    water, sky = noise[0, 0, -32:], noise[0, 0, :64]
    # The athlete covers each pixel of its path in 3 of 20 frames: the median leaves it out.
    assert float(sky.max()) == 0.0
    assert float(water.mean()) > 0.8 * 80 / 255  # most water pixels: lit in most frames


def test_noise_raises_the_threshold_so_the_refinement_ignores_the_water() -> None:
    # Water that flickers in most frames: its median difference is large, the athlete's 0.
    H = W = 96
    rng = np.random.default_rng(1)
    bg = torch.full((1, 3, H, W), 0.5)
    frame = bg.clone()
    lit = torch.from_numpy(rng.random((H // 3, W)) < 0.6)  # (32, 96)
    frame[0, :, -(H // 3):][:, lit] = 0.8
    frame[0, :, 10:34, 40:52] = torch.tensor([0.98, 0.15, 0.15])[:, None, None]
    noise = torch.zeros(1, 1, H, W)
    noise[0, 0, -(H // 3):] = 0.3  # what FrameStore.noise gives water lit in most frames
    cfg = replace(TINY, box_refine_steps=1, box_refine_reach=10.0)
    plain = TemporalPoseModel(replace(cfg, fg_noise_k=0.0), get_variant("ours")).eval()
    aware = TemporalPoseModel(replace(cfg, fg_noise_k=3.0), get_variant("ours")).eval()
    aware.load_state_dict(plain.state_dict())
    centre_y = (22 + 0.5) / H * 2 - 1  # the athlete's rows 10..33
    pulled = plain.boxes(frame, bg, noise)  # fg_noise_k 0: the noise is not used
    box = aware.boxes(frame, bg, noise)
    assert abs(float(box[0, 3]) - centre_y) < 0.05, box
    assert float(pulled[0, 3]) > centre_y + 0.3, pulled  # dragged down to the water
    assert float(box[0, 1]) < 0.5 * float(pulled[0, 1])
    assert torch.allclose(aware.boxes(frame, bg), pulled)  # no noise map: the fixed threshold


def test_the_training_terms_read_the_noise_map() -> None:
    model = TemporalPoseModel(replace(TINY, fg_noise_k=3.0), get_variant("ours"))
    tc = TrainConfig(w_cover=1.0)
    b = _batch("contrastive")
    torch.manual_seed(0)
    base, terms, _ = model.losses(b, 2, tc, ReconstructionLoss())
    b.bg_noise = torch.full_like(b.frames[:, :1], 0.5)  # every pixel "noisy": no foreground
    torch.manual_seed(0)
    _, quiet, _ = model.losses(b, 2, tc, ReconstructionLoss())
    assert torch.isfinite(base)
    assert quiet["cover"] != terms["cover"] and quiet["recon"] != terms["recon"]


def test_runs_from_before_the_blob_and_the_detector_span_are_rebuilt_as_trained() -> None:
    from models.config import RunConfig
    d = RunConfig(train=TrainConfig(box_extent_blob=True),
                  model=ModelConfig(box_refine_blob=True)).to_dict()
    assert RunConfig.from_dict(d).train.box_extent_blob
    for part, key in (("model", "box_refine_blob"), ("train", "box_extent_blob"),
                      ("train", "detector_lr_span")):
        del d[part][key]
    old = RunConfig.from_dict(d)
    assert not old.train.box_extent_blob and not old.model.box_refine_blob
    # The detector's rate used to decay over the gravity stage, or the whole run without.
    assert old.train.detector_lr_span == old.train.stage1_steps == 600
    d["train"]["variant"] = "ours-no-gravity"
    assert RunConfig.from_dict(d).train.detector_lr_span == 0


def test_runs_from_before_the_noise_model_are_rebuilt_without_it() -> None:
    from models.config import RunConfig
    d = RunConfig().to_dict()
    assert RunConfig.from_dict(d).model.fg_noise_k == ModelConfig().fg_noise_k > 0
    del d["model"]["fg_noise_k"]
    assert RunConfig.from_dict(d).model.fg_noise_k == 0.0


@pytest.mark.parametrize("name", ["ours", "dsl-stn-dec", "ae-stn-dec"])
def test_contrastive_head_takes_the_contrastive_term_off_the_feature(name: str) -> None:
    from models.networks import ProjectionHead
    variant = get_variant(name)
    assert TemporalPoseModel(TINY, variant).projector is None  # the paper: on the feature
    torch.manual_seed(0)
    model = TemporalPoseModel(replace(TINY, contrastive_head=12), variant)
    if not variant.contrastive:  # nothing would train it
        assert model.projector is None
        return
    assert isinstance(model.projector, ProjectionHead)
    dim = TINY.z_tv if variant.split else TINY.z_tv + TINY.z_ti
    assert model.projector.net[0].in_features == dim and model.projector.net[-1].out_features == 12
    total, terms, _ = model.losses(_batch("contrastive"), 2, TrainConfig(), ReconstructionLoss())
    assert terms["dsl"] > 0
    total.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in model.projector.parameters())
    # Downstream the regressor still reads the feature itself, not the projection.
    _, z_tv, z_ti = model.encode(torch.rand(2, 3, 72, 72))
    assert model.features(z_tv, z_ti).shape[1] == dim
    with pytest.raises(ValueError, match="contrastive_head"):
        replace(TINY, contrastive_head=-1)
