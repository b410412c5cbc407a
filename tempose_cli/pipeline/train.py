"""Training orchestration: run record, loop, checkpoints, loss CSV, PNG grids, DDP.

``torchrun --nproc-per-node K -m tempose_cli train ...`` runs the same loop with
DistributedDataParallel (gloo on CPU, NCCL on GPU); rank 0 alone writes the catalogue,
checkpoints, logs and images.
"""

from __future__ import annotations

import csv
import math
import os
import random
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from sqlalchemy.orm import Session, sessionmaker

from models.checkpoint import load_checkpoint, restore_rng, rng_state, save_checkpoint
from models.config import ModelConfig, RunConfig, TrainConfig
from models.ema import WeightAverage
from models.model import TemporalPoseModel
from models.perceptual import ReconstructionLoss
from models.sampler import TemporalSampler
from models.variants import get_variant
from store.catalogue import list_clips
from store.schema import Clip, Run, utcnow
from tempose_cli.core.errors import NotFoundError, TemposeError
from tempose_cli.core.workspace import Workspace
from tempose_cli.learn.dataset import FrameStore, load_clips
from tempose_cli.learn.device import resolve_device
from tempose_cli.media.visualise import save_grid
from tempose_cli.pipeline.runs import claim, with_heartbeat
from tempose_cli.pipeline.trainprobe import PROBE_COLUMNS, PoseProbe, labelled_for_probe

# (step, total, stage, loss terms)
Progress = Callable[[int, int, int, dict], None]


@dataclass
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    distributed: bool = False  # a process group is up and the model is wrapped in DDP

    @property
    def main(self) -> bool:
        return self.rank == 0

    @classmethod
    def setup(cls, device: torch.device) -> Dist:
        world = int(os.environ.get("WORLD_SIZE", "1"))
        # Under torchrun (TORCHELASTIC_RUN_ID) even one process joins a process group and
        # trains through DDP, so a one-GPU machine runs the NCCL path that several use.
        if world == 1 and "TORCHELASTIC_RUN_ID" not in os.environ:
            return cls()
        backend = "nccl" if device.type == "cuda" else "gloo"
        if not dist.is_initialized():
            if device.type == "cuda":  # NCCL binds each rank to its own GPU
                torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
            dist.init_process_group(backend)
        return cls(dist.get_rank(), world, int(os.environ.get("LOCAL_RANK", "0")), True)

    def close(self) -> None:
        """Leave the process group (NCCL warns of leaked resources otherwise)."""
        if self.distributed and dist.is_initialized():
            dist.destroy_process_group()

    def describe(self) -> str:
        if not self.distributed:
            return ""
        return f", DDP over {self.world} process(es) ({dist.get_backend()})"

    def broadcast(self, obj):  # noqa: ANN001, ANN201
        if not self.distributed:
            return obj
        box = [obj]
        dist.broadcast_object_list(box, src=0)
        return box[0]


def seed_everything(seed: int) -> torch.Generator:
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)


def training_clips(session: Session, sport: str, clip_ids: list[int] | None) -> list[Clip]:
    clips = list(list_clips(session, sport=sport))
    if clip_ids:
        known = {c.id for c in clips}
        missing = [i for i in clip_ids if i not in known]
        if missing:
            raise NotFoundError(f"no {sport} clip with id {missing[0]} (see: tempose clips list)")
        clips = [c for c in clips if c.id in set(clip_ids)]
    if not clips:
        raise TemposeError(f"no {sport} clips in the catalogue (ingest some: tempose ingest PATH)")
    return clips


def stage_of(step: int, cfg: RunConfig) -> int:
    """Dives with the gravity prior pre-train for ``stage1_steps`` (Sec. 3.3), then stage 2."""
    return 1 if cfg.train.gravity_stage and step < cfg.train.stage1_steps else 2


def detector_lr_mult(step: int, cfg: RunConfig) -> float:
    """Detector rate multiplier: cosine from detector_lr_mult to the final value over
    ``detector_lr_span`` steps (0: the whole run), then constant.

    Deterministic in the step, so ``--resume`` follows the same schedule.
    """
    tc = cfg.train
    frac = min(1.0, step / max(1, tc.detector_span))
    a, b = tc.detector_lr_mult, tc.detector_lr_final_mult
    return b + 0.5 * (a - b) * (1.0 + math.cos(math.pi * frac))


class Trainer:
    def __init__(self, cfg: RunConfig, store: FrameStore, device: torch.device, run_dir: Path,
                 perceptual_weights: str | None, ddp: Dist):
        self.cfg, self.store, self.device, self.run_dir, self.ddp = cfg, store, device, run_dir, ddp
        tc = cfg.train
        self.generator = seed_everything(tc.seed + 1000 * ddp.rank)
        self.model = TemporalPoseModel(cfg.model, get_variant(tc.variant)).to(device)
        self.recon = ReconstructionLoss(perceptual_weight=1.0, weights_path=perceptual_weights,
                                        seed=tc.perceptual_seed).to(device)
        detector = list(self.model.detector.parameters())
        ids = {id(p) for p in detector}
        self.optimizer = torch.optim.Adam([
            {"params": [p for p in self.model.parameters() if id(p) not in ids], "lr": tc.lr},
            {"params": detector, "lr": tc.detector_lr * tc.detector_lr_mult},
        ])
        self.sampler = TemporalSampler(store.lengths, tc, seed=tc.seed + 1000 * ddp.rank)
        self.step = 0
        self.ema = WeightAverage(self.model, tc.ema_decay) if tc.ema_decay > 0 else None
        self.net = self.model
        if ddp.distributed:
            ids = [device.index] if device.type == "cuda" else None
            # Variants switch parts off, so some parameters get no gradient in a step.
            self.net = torch.nn.parallel.DistributedDataParallel(
                self.model, device_ids=ids, find_unused_parameters=True)

    @property
    def checkpoint_path(self) -> Path:
        return self.run_dir / "checkpoint.pt"

    @property
    def model_to_use(self) -> TemporalPoseModel:
        """What extract, fits and the probe use: the weight average when there is one."""
        return self.model if self.ema is None else self.ema.average

    def save(self) -> None:
        extra: dict = {"perceptual": self.recon.source}
        if self.ema is not None:  # "model" is the average; the training weights for --resume
            extra["ema"] = {k: v for k, v in self.ema.state_dict().items() if k != "average"}
            extra["train_model"] = self.model.state_dict()
        save_checkpoint(self.checkpoint_path, config=self.cfg.to_dict(),
                        model=self.model_to_use, optimizer=self.optimizer, step=self.step,
                        rng=rng_state(self.generator, self.sampler.state()), extra=extra)

    def load(self, path: Path) -> None:
        ckpt = load_checkpoint(path)
        extra = ckpt.get("extra") or {}
        if self.ema is not None and "ema" in extra:
            self.ema.load_state_dict({**extra["ema"], "average": ckpt["model"]})
            self.model.load_state_dict(extra["train_model"])
        else:  # no average saved (or none wanted now): train on from the saved weights
            self.model.load_state_dict(extra.get("train_model", ckpt["model"]))
        self.optimizer.load_state_dict(ckpt["optimizer"])
        self.step = ckpt["step"]
        sampler_state = restore_rng(ckpt["rng"], self.generator)
        if self.ddp.rank == 0:
            self.sampler.set_state(sampler_state)
        else:  # other ranks: a fresh, distinct stream from this step on
            self.sampler.rng = np.random.default_rng(self.cfg.train.seed + 1000 * self.ddp.rank
                                                     + self.step)

    def train_step(self, stage: int | None = None) -> tuple[int, dict]:
        """One optimisation step; the stage follows the step count unless given."""
        tc = self.cfg.train
        stage = stage or stage_of(self.step, self.cfg)
        gravity = stage == 1 and (tc.stage1_batches == "gravity" or self.step % 2 == 0)
        fb = self.sampler.equidistant() if gravity else self.sampler.contrastive()
        variant = self.model.variant
        extra = self.sampler.random_frames(tc.detector_extra) if variant.stn else None
        batch = self.store.batch(fb, self.device, with_2d=tc.weak_2d, extra=extra)
        self.model.train()
        total, terms, vis = self.net(batch, stage, tc, self.recon, self.generator)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        if tc.grad_clip > 0:
            torch.nn.utils.clip_grad_norm_(self.model.parameters(), tc.grad_clip)
        self.optimizer.param_groups[1]["lr"] = tc.detector_lr * detector_lr_mult(self.step,
                                                                                 self.cfg)
        self.optimizer.step()
        if self.ema is not None:
            self.ema.update(self.model)
        self.step += 1
        terms["total"] = float(total.detach())
        self._last_vis = vis
        return stage, terms

    def run(self, progress: Progress | None = None, probe: PoseProbe | None = None) -> None:
        tc = self.cfg.train
        log = LossLog(self.run_dir / "losses.csv", self.step) if self.ddp.main else None
        last_probe: dict[str, float] = {}
        while self.step < tc.steps:
            stage, terms = self.train_step()
            if probe is not None and self.ddp.main and tc.probe_every > 0 and (
                    self.step % tc.probe_every == 0 or self.step == tc.steps):
                result = probe(self.model_to_use, self.device)
                last_probe = {k: result[k] for k in PROBE_COLUMNS}
                terms.update(last_probe)
            if log:
                log.write(self.step, stage, terms)
            if self.ddp.main and (self.step % tc.image_every == 0 or self.step == tc.steps):
                save_grid(self.run_dir / "images" / f"step{self.step:06d}.png", self._last_vis)
            if self.ddp.main and (self.step % tc.checkpoint_every == 0 or self.step == tc.steps):
                self.save()
            if progress and self.ddp.main:
                progress(self.step, tc.steps, stage, {**terms, **last_probe})
        if log:
            log.close()


class LossLog:
    """losses.csv, one row per step; on resume, rows after the checkpoint are dropped."""

    COLUMNS = ["step", "stage", "total", "recon", "crop_recon", "perceptual", "cover", "dsl",
               "css", "triplet", "ti_far", "ti_same", "box_prior", "box_extent", "gravity",
               "order", "scale", "weak_2d", "fg_colour", "fg_palette", *PROBE_COLUMNS]

    def __init__(self, path: Path, start_step: int):
        rows = []
        if path.exists() and start_step > 0:
            with open(path, newline="") as f:
                rows = [r for r in csv.DictReader(f) if int(r["step"]) <= start_step]
        self.f = open(path, "w", newline="")
        self.w = csv.DictWriter(self.f, self.COLUMNS, extrasaction="ignore")
        self.w.writeheader()
        self.w.writerows(rows)

    def write(self, step: int, stage: int, terms: dict) -> None:
        self.w.writerow({"step": step, "stage": stage,
                         **{k: f"{v:.6g}" for k, v in terms.items()}})
        self.f.flush()

    def close(self) -> None:
        self.f.close()


def make_probe(ws: Workspace, clips: list[Clip], every: int) -> tuple[PoseProbe | None, str]:
    """The training-time pose probe over the labelled clips among ``clips``, and a note."""
    if every <= 0:
        return None, "pose probe off"
    try:
        probe = PoseProbe(labelled_for_probe(ws, clips))
    except ValueError as e:
        return None, f"pose probe off ({e})"
    return probe, (f"pose probe every {every} steps on held-out athletes "
                   f"{', '.join(probe.test_athletes)}")


def run_config(profile: str, variant: str, sport: str, overrides: dict) -> RunConfig:
    get_variant(variant)  # fail early on a bad name
    model = ModelConfig.profile(profile)
    train = TrainConfig.for_sport(sport, variant=variant,
                                  **{k: v for k, v in overrides.items() if v is not None})
    if profile == "paper":
        train = replace(train, groups=max(train.groups, 8))
    if train.box_extent_blob:  # the refinement at inference frames the blob it was taught
        model = replace(model, box_refine_blob=True)
    return RunConfig(model=model, train=train, profile=profile)


def train_command(sessions: sessionmaker[Session], ws: Workspace, *, cfg: RunConfig | None,
                  resume: int | None, steps: int | None, device_name: str,
                  clip_ids: list[int] | None, perceptual_weights: str | None,
                  progress: Progress | None = None, log: Callable[[str], None] = print) -> int:
    """Create (or resume) a training run and train it; returns the run id."""
    device = resolve_device(device_name)
    ddp = Dist.setup(device)
    if device.type == "cuda":
        device = torch.device("cuda", ddp.local_rank)
    ckpt_path: Path | None = None
    run_id = None
    if ddp.main:
        with sessions.begin() as s:
            if resume is not None:
                run = s.get(Run, resume)
                if run is None or run.kind != "train":
                    raise NotFoundError(f"no training run {resume} (see: tempose runs list)")
                cfg = RunConfig.from_dict(run.config)
                if steps is not None and steps != cfg.train.steps:
                    # A run extended past its plan keeps the detector decay it was
                    # planned with (then the final rate), instead of jumping back up.
                    cfg = RunConfig(cfg.model, replace(
                        cfg.train, steps=steps, detector_lr_span=cfg.train.detector_span),
                        cfg.profile)
                ckpt_path = ws.abs(run.checkpoint_path) if run.checkpoint_path else None
                source = run.perceptual_weights or ""  # "file:<path>" or the random init
                perceptual_weights = source[5:] if source.startswith("file:") else None
                run.status, run.config = "running", cfg.to_dict()
                claim(s, run)
                run_id = run.id
            else:
                assert cfg is not None
                run = Run(kind="train", variant=cfg.train.variant, profile=cfg.profile,
                          config=cfg.to_dict(), directory="", status="running")
                s.add(run)
                claim(s, run)
                s.flush()
                run.directory = f"runs/{run.id:04d}-{cfg.train.variant}"
                run_id = run.id
            clip_rows = training_clips(s, cfg.train.sport, clip_ids)
            clips = load_clips(ws, clip_rows)
            run_dir = ws.abs(run.directory)
            probe, probe_note = make_probe(ws, clip_rows, cfg.train.probe_every)
    run_id, cfg, ckpt_path = ddp.broadcast((run_id, cfg, ckpt_path))
    if not ddp.main:
        with sessions.begin() as s:
            run = s.get(Run, run_id)
            run_dir = ws.abs(run.directory)
            clips = load_clips(ws, training_clips(s, cfg.train.sport, clip_ids))
    run_dir.mkdir(parents=True, exist_ok=True)
    store = FrameStore(clips)
    trainer = Trainer(cfg, store, device, run_dir, perceptual_weights, ddp)
    if ckpt_path is not None and ckpt_path.exists():
        trainer.load(ckpt_path)
    if ddp.main:
        log(f"run {run_id}: {cfg.train.variant} ({get_variant(cfg.train.variant).describe()}), "
            f"{len(clips)} clips, {cfg.profile} profile, device {device}{ddp.describe()}, "
            f"perceptual loss: {trainer.recon.source}; {probe_note}")
        with sessions.begin() as s:
            run = s.get(Run, run_id)
            run.perceptual_weights = trainer.recon.source
            run.checkpoint_path = ws.rel(trainer.checkpoint_path)
    if ddp.main:
        progress = with_heartbeat(sessions, run_id, progress)
    try:
        trainer.run(progress, probe if ddp.main else None)
    except BaseException:
        if ddp.main:
            with sessions.begin() as s:
                run = s.get(Run, run_id)
                run.status, run.step = "interrupted", trainer.step
        raise
    if ddp.main:
        with sessions.begin() as s:
            run = s.get(Run, run_id)
            run.status, run.step, run.finished_at = "done", trainer.step, utcnow()
    ddp.close()
    return run_id

