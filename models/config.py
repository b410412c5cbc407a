"""Configuration of the self-supervised model and its training (saved in every checkpoint).

Two profiles: ``cpu`` (small frames, crops and networks: a useful model in minutes on
two cores) and ``paper`` (the paper's sizes: ResNet-50 encoder, 128 px crops, for a GPU).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from models.variants import get_variant


def _check_choices(cfg: object, choices: tuple[tuple[str, tuple[str, ...]], ...]) -> None:
    """A one-line ValueError for the first named field whose value is not among its
    allowed names (e.g. ``ti_pool 'max': same | avg``)."""
    for name, allowed in choices:
        if getattr(cfg, name) not in allowed:
            raise ValueError(f"{name} {getattr(cfg, name)!r}: {' | '.join(allowed)}")


@dataclass(frozen=True)
class ModelConfig:
    """Networks: detector (STN), split encoder, decoder (DESIGN "The self-supervised model")."""

    detector_size: int = 64  # the detector sees the frame downsampled to this square
    detector_width: int = 16
    # The STN crop fed to the encoder, and the decoder's output. 64, not 48: with the box
    # tight on the diver the body then spans ~50 px of the crop (issue 11's probe).
    crop_size: int = 64
    recon_size: int = 96  # frames are re-synthesised and compared at this square size
    # Where the ResNet-18 perceptual term looks: the whole re-synthesised frame (paper), or
    # only the box, at crop resolution (cpu: ~6x cheaper; the pixel term still covers the
    # whole frame, which is what teaches the detector where the athlete is).
    perceptual_region: str = "crop"
    encoder: str = "small"  # "small" conv net | "resnet50" (paper)
    encoder_width: int = 32
    # How the small encoder's last map reaches the heads: "flatten" keeps its 4x4 layout
    # (where a limb is in the crop is the pose), "avg" pools it away (ResNet-50 style).
    encoder_pool: str = "flatten"
    z_tv: int = 64  # time-variant (pose) latent
    z_ti: int = 32  # time-invariant (appearance) latent
    decoder_width: int = 32
    # Box parametrisation of the predecessor's reference implementation:
    # s = s_min + (1 - s_min) * sigmoid(.), centre = c_max * tanh(.), zero-initialised output.
    scale_min: float = 0.1
    centre_max: float = 0.8
    window_margin: float = 0.15  # the pasted mask fades out over this outer part of the crop
    weak_2d_joints: int = 14  # joints of the optional weak 2D head
    # Not in the paper: mean-shift steps of the detector's box onto the pixels unlike the
    # clip's background (the extent pull's target, models/model.py), at recon_size, before
    # the crop. One step took the held-out ridge probe of the same trained model from
    # 346.6 to 285.1 mm (seed 12) and 304.1 to 287.2 (seed 13), the box centre within 0.03
    # of the frame height on 90% of frames instead of 32% / 64% (RESULTS.md, run P2r); a
    # third step drifted (0.034). 0: the detector's box as is. The same values as
    # TrainConfig's extent pull, which trains the detector towards one such step.
    box_refine_steps: int = 1
    box_refine_threshold: float = 0.1
    box_refine_margin: float = 1.15
    box_refine_reach: float = 2.0
    box_refine_blob: bool = False  # run_config sets it from TrainConfig.box_extent_blob
    # Not in the paper: the foreground threshold raised per pixel by this many times the
    # clip's background noise there (FrameStore.noise: the median over the clip of each
    # pixel's difference from its background), as in per-pixel Gaussian background models.
    # Rippling water passed the fixed threshold over the lower frame: its speckle pulled
    # the cover and extent terms and the refinement into boxes of 0.7-1.0 of the frame on
    # whole clips (RESULTS.md, "background noise"). 0: the fixed threshold alone.
    fg_noise_k: float = 3.0
    # What the z_ti head sees: the crop ("crop", the paper), or only the athlete
    # ("athlete": pixels like the clip's background set to grey; needs the background,
    # as the refinement does). Not in the paper: z_ti, constant within a clip and pushed
    # apart between clips, can be met by the crop's background alone.
    ti_input: str = "crop"
    # The same for the z_tv head (pixels like the background grey after the colour
    # jitter). Not in the paper: DSL rewards any cue that changes with time, and the
    # crop's background changes with the dive's phase; a ridge probe read the phase off
    # `ours`' crop-input feature (R^2 0.48-0.51; `ae-stn-dec`, no DSL: 0.27-0.44). With
    # "athlete", two trainings on each of seeds 26 and 27: N-MPJPE -20.0 / -26.5 / -15.8
    # and -35.8 / -25.2 / -35.4 mm at label fractions 1 / 0.2 / 0.05, lower in all 12
    # pairs. Not the default: a frozen random encoder gains more (117-145 mm at 1), so
    # `ours` / `random` at 0.05 misses 0.80 on seeds 27 and 28, and the demo's 201C
    # counted 0.11 and 1.11 forward in its two trainings (RESULTS.md, "z_tv from the
    # athlete's pixels").
    tv_input: str = "crop"
    # What the z_ti head reads of the small encoder's flattened map: the same as z_tv
    # ("same"), or the map averaged over its 4x4 positions ("avg", as the paper's pooled
    # ResNet gives it): appearance should not depend on where a limb is in the crop.
    ti_pool: str = "same"
    # Not in the paper: the contrastive term acts on an MLP projection of the feature
    # (this many outputs; models/networks.ProjectionHead) instead of on the feature the
    # regressor reads, as in SimCLR (Chen et al. 2020, Sec. 4.2), so that DSL's
    # "far frames are unrelated" need not erase pose shared by frames far apart in
    # time. 0: on the feature itself (the paper). At 64, two trainings on each of seeds 21
    # and 22: N-MPJPE +23.8 / +44.7 / +26.0 mm at fractions 1 / 0.2 / 0.05 on 21, -15.0 /
    # -0.8 / -7.1 on 22, the crop reconstruction worse on both (RESULTS.md): off.
    contrastive_head: int = 0

    def __post_init__(self) -> None:
        if self.contrastive_head < 0:
            raise ValueError(f"contrastive_head {self.contrastive_head}: 0 (off) or > 0")
        _check_choices(self, (("encoder", ("small", "resnet50")),
                              ("encoder_pool", ("flatten", "avg")),
                              ("perceptual_region", ("crop", "frame")),
                              ("ti_input", ("crop", "athlete")),
                              ("tv_input", ("crop", "athlete")),
                              ("ti_pool", ("same", "avg"))))

    @classmethod
    def profile(cls, name: str) -> ModelConfig:
        if name == "cpu":
            return cls()
        if name == "paper":
            return cls(detector_size=128, detector_width=32, crop_size=128, recon_size=256,
                       perceptual_region="frame", encoder="resnet50", z_tv=512, z_ti=128,
                       decoder_width=64)
        raise ValueError(f"unknown profile {name!r} (cpu|paper)")


@dataclass(frozen=True)
class TrainConfig:
    """Schedule, sampling distances and loss weights."""

    variant: str = "ours"
    sport: str = "dive"
    # 3000, the gravity stage keeping its 600 (2400 of stage 2, not 900): against 1500,
    # `ours` fell 19 / 15 / 13 mm N-MPJPE on average at label fractions 1 / 0.2 / 0.05 on
    # seeds 21-25, lower on 4 of 5 at each; box targets level (RESULTS.md, "3000 steps").
    steps: int = 3000
    stage1_steps: int = 600  # dives: gravity + reconstruction until here, then DSL (Sec. 3.3)
    groups: int = 4  # clips per mini-batch
    group_size: int = 4  # frames per clip: (ref, near, intermediate, far) or t, t+k, t+2k, t+3k
    # Adam. Encoder and decoder at 3x the paper's 1e-4: on the standard set the held-out
    # ridge probe reached 388.5 mm at step 300 against 409.6 at 1e-4 (mean pose 425.9),
    # with the same box; the detector keeps its own rate (detector_lr): raising it with
    # the rest made the box track worse (centre error 0.130 vs 0.095 at step 600).
    lr: float = 3e-4
    detector_lr: float = 1e-4
    # The detector's zero-initialised heatmap must become peaked within the cpu profile's
    # minutes; at 1e-4 it needs ~10x the steps (measured), so it learns 10x faster.
    detector_lr_mult: float = 10.0
    # ... then decays (cosine) to detector_lr_final_mult over detector_lr_span steps and
    # stays there: at a constant 10x the box collapsed to a static one after ~800 steps.
    detector_lr_final_mult: float = 1.0
    # 0: the decay spans the whole run. It used to end with the gravity stage (600 of
    # 1500 steps); over the whole run `ours` gained 3-40 mm N-MPJPE at label fractions
    # 0.2 and 0.05 on each of 4 seeds, and the box targets held (benchmarks/RESULTS.md).
    detector_lr_span: int = 0
    grad_clip: float = 1.0  # global gradient-norm clip (0: off); guards the detector's jumps
    # Random frames per step seen by the detector terms only (cover, box prior): the main
    # batch holds 4 near-identical frames per clip, too little variety to learn where
    # the athlete is from (measured: tracking error 0.13 vs 0.06 of the frame height).
    detector_extra: int = 16
    seed: int = 0
    # Temporal distances in frames (near <= pos_max < intermediate < neg_min <= far).
    pos_max: int = 2
    neg_min: int = 12
    # DSL's target similarity (1 - Δ / neg_min) ** dsl_power. 1: the paper's line. The
    # pose distance between frames Δ apart (`tempose stats pose-distance`, standard set,
    # seeds 21 and 22) rises to its plateau at Δ = 12 as 1 - (1 - Δ / 12) ** 2 does
    # (within 0.03), which is what 2 follows: near frames then less alike than the line.
    # At 2, two trainings on each of seeds 21 and 22: -4.3 / -10.1 mm N-MPJPE at label
    # fraction 1, +10.3 / +6.9 at 0.05, inside the noise (RESULTS.md): the line stays.
    dsl_power: float = 1.0
    gravity_k_max: int = 8  # stage 1 samples t, t+k, t+2k, t+3k with 1 <= k <= k_max
    order_min_gap: int = 6  # order term on pairs at least this many frames apart
    w_recon: float = 1.0
    fg_weight: float = 20.0  # extra weight of pixels unlike the background (small athletes)
    fg_threshold: float = 0.1  # |frame - background| (0-1) above which a pixel is foreground
    w_cover: float = 1.0  # box covers the foreground (models/model.py); 0: the paper's losses
    w_perceptual: float = 0.5
    w_contrastive: float = 0.2
    w_ti_far: float = 0.05
    # Which frame of the group gives the decoder its z_ti (the split, Sec. 3.2): "any"
    # other frame at random (the paper), or "far", the group's frame farthest in time
    # (models/losses.farthest_within_groups): "any" pairs a frame with its near
    # neighbour (<= pos_max frames) a third of the time, whose z_ti then carries the
    # pose the decoder needs (the probe's MLP read 202.6 mm from z_ti, 170.4 from z_tv).
    # "others": the mean z_ti of the group's other frames (models/losses.py
    # mean_of_others_within_groups), whose poses blur in the average.
    ti_swap: str = "any"
    # z_ti of frames of one clip pulled together (models/losses.ti_same_similarity); not
    # in the paper, whose swap alone leaves z_ti varying within its clips as much as z_tv
    # (83-88% of its variance, seeds 21-24 at 3000 steps), so KMeans found 17-23% of 12
    # athletes. At 0.1: 7-11% within clips, KMeans 33-48% (the pixels' own colour
    # statistics: 42-66%); N-MPJPE level over 25 trainings on 5 seeds (2-3 of each
    # setting a seed): +2.9 / -0.5 / +0.2 mm at label fractions 1 / 0.2 / 0.05, each
    # within one standard error (benchmarks/paired_seeds.py, RESULTS.md). 0: the swap
    # alone.
    w_ti_same: float = 0.1
    # Probability that a frame is decoded with its own z_ti instead of the swapped one
    # (the split's decoder then sees the frame as ae-stn-dec's does for that share), so
    # the shared encoder trunk also learns the frame itself through the z_ti head. Not in
    # the paper. A candidate for ae-stn-dec's lead in orientation (RESULTS.md, "Seed 27").
    # At 1, 2 trainings on each of seeds 26 and 27 against the default's: N-MPJPE -10.6 /
    # -0.6 / -10.0 mm at label fractions 1 / 0.2 / 0.05 on average, the trunk flipped as
    # often, ae-stn-dec still 29 mm below on seed 27; on seed 28 (one training) +0.1 / -6.6 /
    # -5.9; at 0.5 no gain (RESULTS.md, "A frame decoded with its own z_ti"). 0: the
    # paper's swap for every frame.
    ti_own: float = 0.0
    # Box size: "fixed" pulls the batch-mean size to box_prior_size (the paper's prior);
    # "extent" pulls each box to box_extent_margin x the extent of the foreground near it
    # (second moments of the pixels unlike the background, CAMShift-like). The fixed 0.3
    # left the ~0.12-tall diver at 1/8 of the crop and the decoder drawing a blur (issue 11).
    box_size: str = "extent"
    w_box_prior: float = 0.1
    box_prior_size: float = 0.3
    box_prior_sigma: float = 0.1
    w_box_extent: float = 1.0
    box_extent_margin: float = 1.15  # at 1.3 the box side was 1.73x the joints' extent
    box_extent_sigma: float = 0.05
    box_extent_reach: float = 2.0  # foreground counted within this many box half-sizes
    # ... from this stage on; before it, the fixed prior. From step 0 (1) the box shrank
    # before it had found the diver when DSL could move it (seed 12: centre error 0.092
    # at step 1250, run G); with the box detached from the encoder (encoder_box_grad
    # False) it finds him from step 0 on seeds 12 and 13 (0.063 / 0.034 at step 1500).
    box_extent_from_stage: int = 1
    # ... and pull the centre to the foreground's centroid there too: with the size alone
    # the tight box sat off-centre (centre error 0.109 of the frame height at step 900).
    box_extent_centre: bool = True
    # ... from the connected foreground blob with the most weight near the box only
    # (models/model.py blob_under), here and in the refinement at inference. Not in the
    # paper. With a second person on the platform (tempose synth --bystander) the box
    # without it framed both (2.2-2.4x the diver's extent; box targets met on 24% of
    # frames, seeds 21 and 22); with it 70-76%, and N-MPJPE fell 48 / 35 / 6 mm (seed
    # 21) and 83 / 71 / 36 (22) at fractions 1 / 0.2 / 0.05. Level on the standard set
    # (seeds 21-24: +2.5 / -3.0 / +2.0 mm on average, box within a point).
    box_extent_blob: bool = True
    # DSL in stage 1 too, on the equidistant quadruples (their frame distances are known),
    # so the encoder learns pose for all the steps, not only after the gravity stage.
    # Departs from the paper, which switches DSL on after it; with the box detached (next)
    # and the tight box from step 0 (run P2), `ours` went from 318.1 / 338.3 to 308.4 /
    # 333.9 mm at fractions 0.2 / 0.05 on seed 12, and from 316.2 / 355.0 to 285.7 / 328.6
    # on seed 13. Without the detach, DSL drew the box off the diver (runs G, H).
    stage1_contrastive: bool = True
    # Stage 1's batches: "gravity", the equidistant quadruples t, t+k, t+2k, t+3k every
    # step (the paper), or "alternate": those on even steps, stage 2's near/far groups on
    # odd ones (gravity terms on the first, DSL on both), so DSL sees its designed
    # distances from step 0 as `ours-no-gravity` does. Measured (seeds 21 / 22, N-MPJPE
    # at fractions 1 / 0.2 / 0.05): 203.9 / 241.3 / 313.7 against 166.4 / 201.9 / 297.5,
    # and 137.2 / 169.2 / 242.5 against 136.5 / 171.0 / 248.0: not kept.
    stage1_batches: str = "gravity"
    # Whether the encoder's crops pass gradient to the detector. True is the paper (one
    # STN trained through everything); False detaches the box where it feeds the encoder,
    # so DSL and the far-z_ti term cannot move it (a loose box satisfied them on smooth
    # background); the detector learns from the full-frame reconstruction (where the
    # decoder pastes), cover, size and gravity.
    encoder_box_grad: bool = False
    # The encoder's crops from the refined box (ModelConfig.box_refine_steps), as at
    # inference; False: from the detector's box (the refinement then only at inference).
    refine_in_training: bool = False
    # Pixel term in crop space, at crop resolution, over the same crop of the background
    # (box detached): the decoder must draw the body, which is ~11 px tall at recon_size.
    # The full-frame term stays for the detector. 0: the full-frame term alone.
    w_crop_recon: float = 1.0
    crop_fg_weight: float = 5.0
    # The decoder's RGB against the crop on the athlete's pixels only (models/model.py
    # foreground_colour_mse); not in the paper. 0: off.
    w_fg_colour: float = 0.0
    # The colour histogram the decoder paints against that of the crop's athlete pixels
    # (models/model.py foreground_palette_loss), pooled over the crop; not in the paper.
    # 0: off.
    w_fg_palette: float = 0.0
    # The track terms are satisfied by a box that never moves, so they must not outweigh
    # the pull towards the athlete while tracking is still noisy (at 20/1/10 the box
    # froze: tracking error 0.14 vs 0.10 of the frame height after 400 steps).
    w_gravity: float = 1.0
    w_order: float = 0.1
    w_scale: float = 1.0
    w_weak_2d: float = 1.0
    weak_2d: bool = False
    css_temperature: float = 0.1
    triplet_margin: float = 0.2
    jitter: float = 0.3  # colour jitter strength on the z_tv input
    # Probability of a random RGB permutation of the z_tv input (models/model.py
    # channel_shuffle), so hue, which the jitter keeps, reaches the decoder only through
    # z_ti. 0: off.
    channel_shuffle: float = 0.0
    # Probability that a z_tv input's background (its pixels like the clip's background)
    # is replaced by another crop's of the batch, in training only (models/model.py
    # background_swap): DSL then cannot read the dive's phase off the background, while
    # inference still sees the crop. Not in the paper. At 1, two trainings on each of
    # seeds 26 and 27: the phase left the feature (ridge R^2 0.29-0.32, as with
    # tv_input athlete) but N-MPJPE moved -5.1 / -7.5 / +21.9 and +15.3 / +6.2 / +5.9 mm
    # at label fractions 1 / 0.2 / 0.05, the trunk flipped more (RESULTS.md, "A
    # background swap"). 0: off.
    tv_bg_swap: float = 0.0
    perceptual_seed: int = 0
    image_every: int = 250
    # Ridge probe z_tv -> 3D pose on held-out athletes every this many steps, when the
    # training clips hold labels of >= 3 athletes (pipeline/trainprobe.py); 0: off.
    probe_every: int = 250
    checkpoint_every: int = 100
    # EMA of the weights (models/ema.py); the checkpoint's model is then the average and
    # the training weights ride along for --resume. Not in the paper. Measured on 6 paired
    # trainings (seeds 19-22, benchmarks/RESULTS.md): N-MPJPE at fraction 0.05 -13 mm on
    # average (5 of 6 better), level at 0.2 and 1. 0: off.
    ema_decay: float = 0.995

    def __post_init__(self) -> None:
        _check_choices(self, (("ti_swap", ("any", "far", "others")),
                              ("stage1_batches", ("gravity", "alternate"))))
        if not self.dsl_power > 0:
            raise ValueError(f"dsl_power {self.dsl_power}: > 0 (1: the paper's line)")
        if not 0.0 <= self.ema_decay < 1.0:
            raise ValueError(f"ema_decay {self.ema_decay}: 0 (off) or in (0, 1)")
        for name in ("tv_bg_swap", "ti_own"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} {getattr(self, name)}: a probability in [0, 1]")

    @property
    def gravity_stage(self) -> bool:
        """Whether the run pre-trains with the gravity prior (dives, a variant with it)."""
        variant = get_variant(self.variant)
        return variant.gravity and variant.stn and self.sport == "dive"

    @property
    def detector_span(self) -> int:
        """Steps the detector's rate decays over (``detector_lr_span``, 0: the whole run)."""
        return self.detector_lr_span or self.steps

    @classmethod
    def for_sport(cls, sport: str, **overrides: Any) -> TrainConfig:
        # Ski runs last longer and change pose more slowly per frame than a dive's somersaults.
        base = cls(sport=sport) if sport == "dive" else cls(sport=sport, pos_max=3, neg_min=20)
        return replace(base, **overrides)


@dataclass
class RunConfig:
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    profile: str = "cpu"

    def to_dict(self) -> dict[str, Any]:
        return {"profile": self.profile, "model": asdict(self.model), "train": asdict(self.train)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RunConfig:
        def build(kind, values):  # noqa: ANN001 - ignore keys a newer version removed
            names = {f.name for f in fields(kind)}
            return kind(**{k: v for k, v in values.items() if k in names})

        model = dict(d["model"])
        model.setdefault("box_refine_steps", 0)  # runs from before the refinement: as trained
        model.setdefault("ti_input", "crop")
        model.setdefault("tv_input", "crop")
        model.setdefault("ti_pool", "same")
        model.setdefault("fg_noise_k", 0.0)  # runs from before the noise model: as trained
        model.setdefault("box_refine_blob", False)  # runs from before the blob: as trained
        train = dict(d["train"])
        train.setdefault("ema_decay", 0.0)  # runs from before the weight average: as trained
        train.setdefault("box_extent_blob", False)
        train.setdefault("w_ti_same", 0.0)  # runs from before the term: trained without it
        tc = build(TrainConfig, train)
        if "detector_lr_span" not in train:  # from before the span: over the gravity stage
            tc = replace(tc, detector_lr_span=tc.stage1_steps if tc.gravity_stage else 0)
        return cls(model=build(ModelConfig, model), train=tc, profile=d.get("profile", "cpu"))
