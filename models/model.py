"""The self-supervised model: detector + split encoder + decoder, and its losses per step.

One module holds every network of every variant; ``Variant`` switches parts on or off
(models/variants.py), so all variants train through the same code.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import combinations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from models import losses as L
from models.config import ModelConfig, TrainConfig
from models.networks import Decoder, ProjectionHead, SplitEncoder, Weak2DHead
from models.stn import Detector, border_window, composite, crop, full_frame_box, paste
from models.variants import Variant


@dataclass
class Batch:
    """One mini-batch on the device, group-major (see models/sampler.py)."""

    frames: Tensor  # (N, 3, H, W) in [0, 1], the cached frames
    background: Tensor  # (N, 3, H, W) in [0, 1], the clip's background at the same size
    delta: Tensor  # (N,) frames from the group's first row
    clip: Tensor  # (N,) clip index
    groups: int
    group_size: int
    mode: str  # "contrastive" | "gravity"
    j2d: Tensor | None = None  # (N, J, 2) normalised frame coordinates, NaN = unlabelled
    extra_frames: Tensor | None = None  # (M, 3, H, W) random frames for the detector terms
    extra_background: Tensor | None = None  # (M, 3, H, W)
    # The clips' per-pixel background noise (FrameStore.noise), for the foreground maps.
    bg_noise: Tensor | None = None  # (N, 1, H, W)
    extra_bg_noise: Tensor | None = None  # (M, 1, H, W)
    frame: Tensor | None = None  # (N,) frame index within its clip (TrainConfig.ti_swap)


def colour_jitter(x: Tensor, strength: float, generator: torch.Generator | None) -> Tensor:
    """Per-sample brightness, contrast, saturation and channel gains on (B, 3, h, w) crops.

    Applied to the z_tv input only (DESIGN, disentanglement): colour then says nothing
    about pose, so z_tv has no reason to carry appearance.
    """
    if strength <= 0:
        return x
    B = x.shape[0]

    def factor(n: int, s: float) -> Tensor:
        r = torch.rand(B, n, 1, 1, generator=generator, device="cpu").to(x.device)
        return 1 + s * (2 * r - 1)

    grey = x.mean(1, keepdim=True)  # (B, 1, h, w)
    x = grey + factor(1, strength) * (x - grey)  # saturation
    mean = x.mean((1, 2, 3), keepdim=True)
    x = mean + factor(1, strength) * (x - mean)  # contrast
    x = x * factor(1, strength) * factor(3, strength / 3)  # brightness, channel gains
    return x.clamp(0, 1)


def channel_shuffle(x: Tensor, p: float, generator: torch.Generator | None) -> Tensor:
    """Each (B, 3, h, w) crop's RGB channels permuted at random with probability ``p``.

    Not in the paper: brightness, contrast and channel gains leave hue, so a suit's
    colour still reached z_tv; with the channels shuffled it can only come from z_ti.
    """
    if p <= 0:
        return x
    B = x.shape[0]
    keys = torch.rand(B, 3, generator=generator, device="cpu")
    perm = keys.argsort(1)  # (B, 3) a random permutation per sample
    use = torch.rand(B, generator=generator, device="cpu") < p
    perm[~use] = torch.arange(3)
    idx = perm.to(x.device)[:, :, None, None].expand_as(x)
    return x.gather(1, idx)


def background_swap(crops: Tensor, crop_bg: Tensor, fg: Tensor, p: float,
                    generator: torch.Generator | None) -> Tensor:
    """(B, 3, c, c) crops whose pixels off the athlete (``fg`` 0) are, with probability
    ``p`` per crop, another crop's of the batch, that crop's athlete replaced by its
    background. The other crop is drawn per crop, so within a clip the background no
    longer changes with time (TrainConfig.tv_bg_swap)."""
    if p <= 0:
        return crops
    B = crops.shape[0]
    perm = torch.randperm(B, generator=generator, device="cpu").to(crops.device)
    use = (torch.rand(B, generator=generator, device="cpu") < p).to(crops.device)
    other = fg[perm] * crop_bg[perm] + (1 - fg[perm]) * crops[perm]  # (B, 3, c, c) no athlete
    swapped = fg * crops + (1 - fg) * other  # (B, 3, c, c)
    return torch.where(use[:, None, None, None], swapped, crops)


def foreground_map(frames: Tensor, background: Tensor, threshold: float | Tensor) -> Tensor:
    """(N, 1, H, W) 1 where any channel differs from the background by more than threshold
    (a number, or a per-pixel (N, 1, H, W) map: TemporalPoseModel.fg_threshold)."""
    return ((frames - background).abs().amax(1, keepdim=True) > threshold).to(frames.dtype)


def foreground_weighted_mse(pred: Tensor, target: Tensor, background: Tensor, weight: float,
                            threshold: float | Tensor) -> Tensor:
    """Pixel L2 with pixels unlike the background weighted ``1 + weight``.

    A diver filmed whole-flight covers ~1% of the frame: plain L2 is then minimised by
    painting nothing (mask 0, I_hat = background) and the detector never gets a
    gradient towards the athlete. Up-weighting the pixels the background cannot
    explain restores that signal; weights are normalised to mean 1 so the term keeps
    the scale of plain L2 (weight 0 gives exactly the paper's plain L2).
    """
    if pred.shape != target.shape or target.shape != background.shape:
        raise ValueError(f"shapes differ: {pred.shape}, {target.shape}, {background.shape}")
    w = 1 + weight * foreground_map(target, background, threshold)  # (N, 1, H, W)
    return (w * (pred - target) ** 2).mean() / w.mean()


def foreground_colour_mse(rgb: Tensor, target: Tensor, background: Tensor,
                          threshold: float | Tensor) -> Tensor:
    """L2 of the decoder's own RGB (before compositing) on the target's foreground pixels.

    Not in the paper. The composite lets a soft mask paint the body as a dark silhouette
    at the right place (issue 11's grids); judged on the athlete's pixels alone, the
    decoder must draw their colours, which z_ti (constant within a clip) can carry.
    """
    if rgb.shape != target.shape or target.shape != background.shape:
        raise ValueError(f"shapes differ: {rgb.shape}, {target.shape}, {background.shape}")
    fg = foreground_map(target, background, threshold)  # (N, 1, H, W)
    return (fg * (rgb - target) ** 2).sum() / (3 * fg.sum()).clamp_min(1.0)


def palette_mass(rgb: Tensor, weight: Tensor, sigma: float = 0.2) -> Tensor:
    """(N, 3, H, W) colours, (N, 1, H, W) weights -> (N, 27): the weight each of a 3x3x3
    grid of RGB anchors receives, each pixel's weight shared out softly by colour."""
    levels = torch.tensor([0.0, 0.5, 1.0], device=rgb.device, dtype=rgb.dtype)
    anchors = torch.cartesian_prod(levels, levels, levels)  # (27, 3)
    x = rgb.flatten(2).transpose(1, 2)  # (N, HW, 3)
    d2 = ((x[:, :, None, :] - anchors) ** 2).sum(-1)  # (N, HW, 27)
    soft = torch.softmax(-d2 / (2 * sigma ** 2), -1)  # (N, HW, 27)
    return (weight.flatten(2).transpose(1, 2) * soft).sum(1)  # (N, 27)


def foreground_palette_loss(rgb: Tensor, mask: Tensor, target: Tensor, background: Tensor,
                            threshold: float | Tensor) -> Tensor:
    """L1 between the colour histogram the decoder paints (its RGB, each pixel counted by
    its mask, the mask held fixed) and that of the target's pixels unlike the background,
    pooled over each crop.

    Not in the paper. Pooled, it does not depend on where a limb is, so the decoder is
    asked for the athlete's colours even where it is unsure of the pose (the per-pixel
    term, foreground_colour_mse, gave a blur of body and background). The mask is
    detached: through it the term was met by no mask at all (measured, the mask went to
    0 by step 400 with it normalised or not); where to paint stays the reconstruction's.
    Crops with no foreground pixel are left out.
    """
    if rgb.shape != target.shape or target.shape != background.shape:
        raise ValueError(f"shapes differ: {rgb.shape}, {target.shape}, {background.shape}")
    if mask.shape != (rgb.shape[0], 1, *rgb.shape[2:]):
        raise ValueError(f"mask must have shape {(rgb.shape[0], 1, *rgb.shape[2:])}, "
                         f"got {tuple(mask.shape)}")
    fg = foreground_map(target, background, threshold)  # (N, 1, H, W)
    m = mask.detach()
    present = (fg.flatten(1).sum(1) > 0) & (m.flatten(1).sum(1) > 0)  # (N,)
    if not present.any():
        return rgb.sum() * 0
    painted = palette_mass(rgb[present], m[present])  # (n, 27)
    wanted = palette_mass(target[present], fg[present])  # (n, 27)
    painted = painted / painted.sum(1, keepdim=True)
    wanted = wanted / wanted.sum(1, keepdim=True)
    return (painted - wanted).abs().sum(1).mean()


def centre_weight(size: int, sigma: float = 0.4, device: torch.device | None = None) -> Tensor:
    """(1, 1, size, size) Gaussian bump over the crop (crop coordinates in [-1, 1])."""
    x = torch.linspace(-1, 1, size, device=device)
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return (g[:, None] * g[None, :])[None, None]


def foreground_coverage_loss(box: Tensor, frames: Tensor, background: Tensor, weight: Tensor,
                             threshold: float | Tensor) -> Tensor:
    """1 - the share of the (blurred) foreground mass under the box's centre weighting.

    Not in the paper: the pixels unlike the background are where Eq. 1 needs the
    decoder, so the box must sit on them. The reconstruction's gradient only reaches
    a box that already overlaps the athlete; blurring the foreground map and weighting
    it by a bump centred in the box makes the pull act from afar and centre the box
    (mean-shift-like). With the batch-mean size prior it draws boxes onto the athlete
    within minutes on a CPU; ``w_cover = 0`` trains with the paper's losses alone.
    """
    N, _, H, W = frames.shape
    fg = foreground_map(frames, background, threshold)
    k = max(3, (H // 6) | 1)  # odd blur kernel, ~1/6 of the frame
    fg = F.avg_pool2d(fg, k, stride=1, padding=k // 2, count_include_pad=False)
    cover = paste(weight.expand(N, 1, -1, -1), box, H, W)  # (N, 1, H, W)
    mass = fg.sum((1, 2, 3)).clamp_min(1e-6)
    return (1 - (fg * cover).sum((1, 2, 3)) / mass).mean()


def blob_under(fg: Tensor, weight: Tensor, max_iter: int = 0) -> Tensor:
    """(N, H, W) mask of the connected foreground blob with the most ``weight``.

    ``fg`` (N, H, W) is 0/1. Blobs are found at half resolution (a 2x2 cell is
    foreground if any pixel is), 8-connected after one 3x3 dilation there, so a limb
    a few pixels from the trunk is the same body. Each cell starts with its own id and
    takes its neighbours' largest within the blob until nothing changes (at most
    ``max_iter`` steps; 0: the half-size H + W); the blob whose pixels carry the most
    ``weight`` wins. Pure torch, so it runs where the batch is; half resolution makes
    it ~8x cheaper (measured 0.24 s a step at full size, 48 frames of 96 px, 1 thread).
    """
    N, H, W = fg.shape
    x, wt = fg[:, None], (weight * fg)[:, None]  # (N, 1, H, W)
    if H % 2 or W % 2:  # pad to even so the half-resolution cells tile the frame
        x, wt = F.pad(x, (0, W % 2, 0, H % 2)), F.pad(wt, (0, W % 2, 0, H % 2))
    small = F.max_pool2d(x, 2)  # (N, 1, h, w)
    mass_cell = F.avg_pool2d(wt, 2)  # (N, 1, h, w), weight per cell (x 1/4)
    grown = F.max_pool2d(small, 3, 1, 1)
    h, w = small.shape[-2:]
    ids = torch.arange(1, h * w + 1, device=fg.device, dtype=fg.dtype).view(1, 1, h, w) * grown
    for _ in range(max_iter or h + w):
        nxt = F.max_pool2d(ids, 3, 1, 1) * grown
        if torch.equal(nxt, ids):
            break
        ids = nxt
    flat = ids.view(N, -1).long()  # (N, h*w), 0 outside every blob
    mass = torch.zeros(N, h * w + 1, device=fg.device, dtype=wt.dtype)
    mass.scatter_add_(1, flat, mass_cell.view(N, -1))
    mass[:, 0] = 0
    best = mass.argmax(1)  # (N,)
    keep = (flat == best[:, None]).view(N, 1, h, w).to(fg.dtype)
    keep = F.interpolate(keep, scale_factor=2, mode="nearest")[:, 0, :H, :W]  # (N, H, W)
    return keep * fg


def foreground_extent_box(box: Tensor, frames: Tensor, background: Tensor,
                          threshold: float | Tensor,
                          margin: float, reach: float, blob: bool = False) -> Tensor:
    """(N, 4) boxes that would frame the foreground near each box: its centroid, and
    ``margin`` x its extent.

    Not in the paper. The pixels unlike the background, weighted by a Gaussian of
    ``reach`` box half-sizes around the (detached) box, give a centroid and second
    moments; a uniform blob of half-length a has std a / sqrt(3), so the blob's
    half-extent is sqrt(3) std along each axis. The larger of the two, in pixels,
    times ``margin`` is the half side of a square box (square in pixels, so a crop is
    never stretched), returned with the centroid as (s_x, s_y, u, v) and detached: a
    target, like CAMShift's window update (mean shift for the centre). Empty
    neighbourhoods keep the current box. With ``blob`` only the connected foreground
    blob with the most weight near the box counts (``blob_under``): two people in the
    window otherwise give one box around both, a fixed point of this update.
    """
    N, _, H, W = frames.shape
    fg = foreground_map(frames, background, threshold)[:, 0]  # (N, H, W)
    b = box.detach()
    ys = torch.linspace(-1 + 1 / H, 1 - 1 / H, H, device=frames.device)
    xs = torch.linspace(-1 + 1 / W, 1 - 1 / W, W, device=frames.device)
    gx = torch.exp(-0.5 * ((xs[None] - b[:, 2:3]) / (reach * b[:, 0:1])) ** 2)  # (N, W)
    gy = torch.exp(-0.5 * ((ys[None] - b[:, 3:4]) / (reach * b[:, 1:2])) ** 2)  # (N, H)
    window = gy[:, :, None] * gx[:, None, :]  # (N, H, W)
    if blob:
        fg = blob_under(fg, window)
    w = fg * window  # (N, H, W)
    px, py = w.sum(1), w.sum(2)  # (N, W), (N, H) marginals
    mass = px.sum(1)  # (N,)
    m = mass.clamp_min(1e-6)
    mx = (px * xs).sum(1) / m
    my = (py * ys).sum(1) / m
    vx = (px * (xs - mx[:, None]) ** 2).sum(1) / m
    vy = (py * (ys - my[:, None]) ** 2).sum(1) / m
    half_px = torch.maximum(3 ** 0.5 * vx.sqrt() * W / 2, 3 ** 0.5 * vy.sqrt() * H / 2)  # (N,)
    side = margin * half_px
    scale = torch.stack([side / (W / 2), side / (H / 2)], 1).clamp(0.05, 1.0)  # (N, 2)
    target = torch.cat([scale, torch.stack([mx, my], 1)], 1)  # (N, 4)
    empty = (mass < 1.0)[:, None]  # fewer than one foreground pixel's worth
    return torch.where(empty, b, target)


class TemporalPoseModel(nn.Module):
    def __init__(self, cfg: ModelConfig, variant: Variant):
        super().__init__()
        self.cfg = cfg
        self.variant = variant
        self.detector = Detector(cfg)
        self.encoder = SplitEncoder(cfg)
        self.decoder = Decoder(cfg)
        self.weak2d = Weak2DHead(cfg)
        # Only where a contrastive term uses it: an unused module would stall DDP.
        dim = cfg.z_tv if variant.split else cfg.z_tv + cfg.z_ti
        self.projector = (ProjectionHead(dim, cfg.contrastive_head)
                          if cfg.contrastive_head > 0 and variant.contrastive else None)
        self.register_buffer("window", border_window(cfg.crop_size, cfg.window_margin),
                             persistent=False)
        self.register_buffer("centre", centre_weight(cfg.crop_size), persistent=False)

    # --- inference -------------------------------------------------------------------
    def fg_threshold(self, threshold: float, noise: Tensor | None) -> float | Tensor:
        """The foreground threshold: ``threshold``, raised by ModelConfig.fg_noise_k x the
        clip's per-pixel background noise (N, 1, h, w) where that is given."""
        if noise is None or self.cfg.fg_noise_k <= 0:
            return threshold
        return threshold + self.cfg.fg_noise_k * noise

    def boxes(self, frames: Tensor, background: Tensor | None = None,
              noise: Tensor | None = None) -> Tensor:
        """(B, 4) boxes: the detector's, refined onto the foreground when the clip's
        ``background`` (B, 3, H, W) is given (ModelConfig.box_refine_steps); ``noise``
        (B, 1, H, W): the clip's background noise (FrameStore.noise)."""
        if not self.variant.stn:
            return full_frame_box(frames.shape[0], frames.device)
        box = self.detector(frames)  # (B, 4)
        if background is not None and self.cfg.box_refine_steps > 0:
            r = self.cfg.recon_size
            if frames.shape[-2:] != (r, r):  # the size the detector terms see in training
                frames = F.interpolate(frames, size=(r, r), mode="area")
                background = F.interpolate(background, size=(r, r), mode="area")
                if noise is not None:
                    noise = F.interpolate(noise, size=(r, r), mode="area")
            box = self.refine(box, frames, background, noise)
        return box

    def refine(self, box: Tensor, frames: Tensor, background: Tensor,
               noise: Tensor | None = None) -> Tensor:
        """Mean-shift steps of (N, 4) boxes onto the foreground near them (detached)."""
        c = self.cfg
        threshold = self.fg_threshold(c.box_refine_threshold, noise)
        for _ in range(c.box_refine_steps):
            box = foreground_extent_box(box, frames, background, threshold,
                                        c.box_refine_margin, c.box_refine_reach,
                                        c.box_refine_blob)
        return box

    def crops(self, frames: Tensor, box: Tensor) -> Tensor:
        return crop(frames, box, self.cfg.crop_size)  # (B, C, c, c)

    def encode(self, frames: Tensor, background: Tensor | None = None,
               noise: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(B, 3, H, W) frames -> box (B, 4), z_tv (B, Dtv), z_ti (B, Dti); no augmentation.
        With the clips' ``background`` (and its ``noise``) the box is refined onto the
        athlete first."""
        box = self.boxes(frames, background, noise)
        z_tv, z_ti = self.latents(self.crops(frames, box), box, background, noise)
        return box, z_tv, z_ti

    def latents(self, crops: Tensor, box: Tensor, background: Tensor | None = None,
                noise: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """(B, 3, c, c) crops at ``box`` -> z_tv (B, Dtv), z_ti (B, Dti); each head from the
        athlete's pixels only with its ``*_input athlete`` and the clips' background."""
        if background is None or "athlete" not in (self.cfg.tv_input, self.cfg.ti_input):
            return self.encoder(crops)
        crop_noise = None if noise is None else self.crops(noise, box)
        tv_in, ti_in = self.head_inputs(crops, self.crops(background, box), crop_noise)
        z_tv, _ = self.encoder(tv_in, part="tv")
        _, z_ti = self.encoder(ti_in, part="ti")
        return z_tv, z_ti

    def head_inputs(self, crops: Tensor, crop_bg: Tensor, crop_noise: Tensor | None = None,
                    tv_pixels: Tensor | None = None,
                    fg: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """What the z_tv and z_ti heads see (ModelConfig.tv_input / ti_input): the crops,
        or the athlete over grey; ``tv_pixels`` (the colour-jittered crops in training):
        the z_tv head's pixels (default the crops); ``fg``: the athlete mask if known."""
        tv_pixels = crops if tv_pixels is None else tv_pixels
        if "athlete" not in (self.cfg.tv_input, self.cfg.ti_input):
            return tv_pixels, crops
        if fg is None:  # (B, 1, c, c), once for both
            fg = self.athlete_mask(crops, crop_bg, crop_noise)
        tv_in = fg * tv_pixels + (1 - fg) * 0.5 if self.cfg.tv_input == "athlete" else tv_pixels
        ti_in = fg * crops + (1 - fg) * 0.5 if self.cfg.ti_input == "athlete" else crops
        return tv_in, ti_in

    def athlete_mask(self, crops: Tensor, crop_bg: Tensor,
                     crop_noise: Tensor | None = None) -> Tensor:
        """(B, 1, c, c): 1 where a crop's pixel is unlike the background (the athlete)."""
        return foreground_map(crops, crop_bg,
                              self.fg_threshold(self.cfg.box_refine_threshold, crop_noise))

    def features(self, z_tv: Tensor, z_ti: Tensor) -> Tensor:
        """What the pose regressor sees: z_tv with the split, the whole latent without."""
        return z_tv if self.variant.split else torch.cat([z_tv, z_ti], -1)

    def decode(self, z_tv: Tensor, z_ti: Tensor, box: Tensor, background: Tensor):
        rgb, mask = self.decoder(z_tv, z_ti)
        frame, pasted = composite(rgb, mask, box, background, self.window)
        return rgb, mask, frame, pasted

    # --- training --------------------------------------------------------------------
    def forward(self, *args, **kwargs):  # noqa: ANN002, ANN003, ANN201 - DDP calls forward
        return self.losses(*args, **kwargs)

    def losses(self, b: Batch, stage: int, tc: TrainConfig, recon_loss: nn.Module | None,
               generator: torch.Generator | None = None) -> tuple[Tensor, dict, dict]:
        """Weighted total loss, its terms (floats), and tensors to visualise.

        Stage 1 (dives with gravity): reconstruction + gravity/order/scale on the box
        track of equidistant frames. Stage 2: contrastive + reconstruction (+ z_ti swap
        and far-z_ti term with the split), gravity off (Sec. 3.3).
        """
        v = self.variant
        G, S = b.groups, b.group_size
        r = self.cfg.recon_size
        small: dict[str, Tensor] = {}

        def at_recon(key: str, t: Tensor) -> Tensor:  # each tensor downsampled once a step
            if key not in small:
                small[key] = F.interpolate(t, size=(r, r), mode="area")  # (n, C, r, r)
            return small[key]

        def noise_at_recon(key: str, t: Tensor | None) -> Tensor | None:
            return None if t is None else at_recon(key, t)

        # Foreground thresholds: per pixel where the clips' background noise is known.
        thr = self.fg_threshold(tc.fg_threshold, noise_at_recon("bg_noise", b.bg_noise))

        box = self.boxes(b.frames)  # (N, 4), the detector's
        if v.stn and tc.refine_in_training and self.cfg.box_refine_steps > 0:
            # The encoder learns on the crops inference gives it (refined, so detached);
            # the decoder's output is still pasted at the detector's box.
            enc_box = self.refine(box, at_recon("frames", b.frames),
                                  at_recon("background", b.background),
                                  noise_at_recon("bg_noise", b.bg_noise))
        else:
            enc_box = box if tc.encoder_box_grad else box.detach()  # see TrainConfig
        crops = self.crops(b.frames, enc_box)  # (N, 3, c, c)
        crop_bg = self.crops(b.background, enc_box.detach())  # (N, 3, c, c)
        crop_noise = None if b.bg_noise is None else self.crops(b.bg_noise, enc_box.detach())
        crop_thr = self.fg_threshold(tc.fg_threshold, crop_noise)  # (N, 1, c, c) or a number
        fg = self.athlete_mask(crops, crop_bg, crop_noise) if tc.tv_bg_swap > 0 else None
        tv_pixels = crops if fg is None else background_swap(crops, crop_bg, fg, tc.tv_bg_swap,
                                                              generator)
        jittered = channel_shuffle(colour_jitter(tv_pixels, tc.jitter, generator),
                                   tc.channel_shuffle, generator)
        # The grey stays grey (jitter first, then the mask): as at inference.
        tv_in, ti_in = self.head_inputs(crops, crop_bg, crop_noise, tv_pixels=jittered, fg=fg)
        z_tv, _ = self.encoder(tv_in, part="tv")
        _, z_ti = self.encoder(ti_in, part="ti")
        if v.split:  # z_ti of another frame of the same clip
            if tc.ti_swap == "others":
                z_ti_dec = L.mean_of_others_within_groups(z_ti, G)  # (N, Dti)
            elif tc.ti_swap == "far" and b.frame is not None:
                z_ti_dec = z_ti[L.farthest_within_groups(b.frame.view(G, S)).to(z_ti.device)]
            else:
                z_ti_dec = z_ti[L.permute_within_groups(G, S, generator).to(z_ti.device)]
            if tc.ti_own > 0:  # some frames decoded from their own z_ti (TrainConfig.ti_own)
                own = torch.rand(z_ti.shape[0], generator=generator, device="cpu") < tc.ti_own
                z_ti_dec = torch.where(own.to(z_ti.device)[:, None], z_ti, z_ti_dec)  # (N, Dti)
        else:
            z_ti_dec = z_ti
        terms: dict[str, Tensor] = {}
        vis: dict[str, Tensor] = {"frames": b.frames, "box": box, "crops": crops,
                                  "tv_input": tv_in}
        if v.decoder and recon_loss is not None:
            target = at_recon("frames", b.frames)
            bg = at_recon("background", b.background)
            rgb, mask, frame, _ = self.decode(z_tv, z_ti_dec, box, bg)
            pixel = foreground_weighted_mse(frame, target, bg, tc.fg_weight, thr)
            terms["recon"] = tc.w_recon * pixel
            # The same composite in the box's own coordinates, at crop resolution. The box
            # is detached here: a loss seen only inside the box would otherwise pay the
            # detector to move onto empty background.
            m = mask * self.window
            crop_hat = m * rgb + (1 - m) * crop_bg
            if self.cfg.perceptual_region == "crop":
                rec = recon_loss(crop_hat, crops.detach())
            else:
                rec = recon_loss(frame, target)
            terms["perceptual"] = tc.w_recon * tc.w_perceptual * rec["perceptual"]
            if tc.w_crop_recon > 0:
                terms["crop_recon"] = tc.w_crop_recon * foreground_weighted_mse(
                    crop_hat, crops.detach(), crop_bg, tc.crop_fg_weight, crop_thr)
            if tc.w_fg_colour > 0:
                terms["fg_colour"] = tc.w_fg_colour * foreground_colour_mse(
                    rgb, crops.detach(), crop_bg, crop_thr)
            if tc.w_fg_palette > 0:
                terms["fg_palette"] = tc.w_fg_palette * foreground_palette_loss(
                    rgb, m, crops.detach(), crop_bg, crop_thr)
            vis.update(decoded=rgb, mask=mask, recon=frame, target=target)

        if v.stn:
            all_box = box
            if b.extra_frames is not None:
                all_box = torch.cat([box, self.boxes(b.extra_frames)])
            # Every frame the detector terms see, at the reconstruction size.
            det_frames = [at_recon("frames", b.frames)]
            det_bg = [at_recon("background", b.background)]
            det_noise = [noise_at_recon("bg_noise", b.bg_noise)]
            if b.extra_frames is not None:
                det_frames.append(at_recon("extra_frames", b.extra_frames))
                det_bg.append(at_recon("extra_background", b.extra_background))
                det_noise.append(noise_at_recon("extra_bg_noise", b.extra_bg_noise))
            det_frames, det_bg = torch.cat(det_frames), torch.cat(det_bg)  # (N + M, 3, r, r)
            det_thr = (self.fg_threshold(tc.fg_threshold, torch.cat(det_noise))  # type: ignore[arg-type]
                       if all(n is not None for n in det_noise) else tc.fg_threshold)
            if tc.w_cover > 0:
                terms["cover"] = tc.w_cover * foreground_coverage_loss(
                    all_box, det_frames, det_bg, self.centre, det_thr)
            if tc.box_size == "extent" and stage >= tc.box_extent_from_stage:
                target = foreground_extent_box(
                    all_box, det_frames, det_bg, det_thr, tc.box_extent_margin,
                    tc.box_extent_reach, tc.box_extent_blob)  # (N + M, 4), detached
                # Size always; the centre too with box_extent_centre (mean shift).
                k = 4 if tc.box_extent_centre else 2
                terms["box_extent"] = tc.w_box_extent * (
                    (all_box[:, :k] - target[:, :k]) ** 2).mean() / (2 * tc.box_extent_sigma ** 2)
            else:
                terms["box_prior"] = tc.w_box_prior * L.box_prior_loss(
                    all_box[:, :2], tc.box_prior_size, tc.box_prior_sigma)

        if stage == 1 and b.mode == "gravity" and v.stn:
            vv = box[:, 3].view(G, S)  # (G, 4) box-centre heights at t, t+k, t+2k, t+3k
            terms["gravity"] = tc.w_gravity * L.gravity_loss(vv)
            d = b.delta.view(G, S)
            early, late = [], []
            for i, j in combinations(range(S), 2):
                far_enough = (d[:, j] - d[:, i]) >= tc.order_min_gap
                early.append(vv[:, i][far_enough])
                late.append(vv[:, j][far_enough])
            if sum(len(e) for e in early):
                terms["order"] = tc.w_order * L.order_loss(torch.cat(early), torch.cat(late))
            s = box[:, :2].view(G, S, 2)
            terms["scale"] = tc.w_scale * L.scale_smoothness_loss(
                s[:, :-1].reshape(-1, 2), s[:, 1:].reshape(-1, 2))

        # Stage 1's quadruples t, t+k, t+2k, t+3k carry their frame distances, so DSL
        # applies to them as is; CSS and the triplet need stage 2's near/far sampling.
        if (stage == 2 and b.mode == "contrastive") or (
                stage == 1 and tc.stage1_contrastive and v.contrastive == "dsl"):
            z = self.features(z_tv, z_ti)  # (N, D)
            if self.projector is not None:
                z = self.projector(z)  # (N, contrastive_head)
            z = z.view(G, S, -1)  # (G, 4, D): ref, near, mid, far
            d = b.delta.view(G, S).to(z.dtype)
            if v.contrastive == "dsl":
                ref = z[:, :1].expand(-1, S - 1, -1).reshape(-1, z.shape[-1])
                terms["dsl"] = tc.w_contrastive * L.dsl_loss(
                    ref, z[:, 1:].reshape(-1, z.shape[-1]), d[:, 1:].reshape(-1), tc.neg_min,
                    tc.dsl_power)
            elif v.contrastive == "css":
                terms["css"] = tc.w_contrastive * L.css_infonce(
                    z[:, 0], z[:, 1], z[:, 3], tc.css_temperature)
            elif v.contrastive == "triplet":
                terms["triplet"] = tc.w_contrastive * L.triplet_loss(
                    z[:, 0], z[:, 1], z[:, 3], tc.triplet_margin)
            if v.split and tc.w_ti_same > 0:
                terms["ti_same"] = tc.w_ti_same * L.ti_same_similarity(z_ti.view(G, S, -1))
            if v.split and G > 1:
                # Appearance of other clips: the only "far" z_ti that may differ (within
                # a clip the swap makes z_ti constant), so push those apart.
                ti = z_ti.view(G, S, -1)[:, 0]  # (G, Dti)
                other = torch.roll(ti, 1, 0)
                clips = b.clip.view(G, S)[:, 0]
                differ = clips != torch.roll(clips, 1, 0)
                if differ.any():
                    terms["ti_far"] = tc.w_ti_far * L.ti_far_dissimilarity(
                        ti[differ], other[differ])

        if tc.weak_2d and b.j2d is not None:
            bx = box.detach()[:, None]  # (N, 1, 4)
            target = (b.j2d - bx[..., 2:]) / bx[..., :2]  # frame -> crop coordinates
            terms["weak_2d"] = tc.w_weak_2d * L.weak_2d_loss(self.weak2d(z_tv), target)

        total = sum(terms.values()) if terms else box.sum() * 0
        return total, {k: float(t.detach()) for k, t in terms.items()}, vis
