"""Training step cost of a profile: full step vs a bare loop on random tensors.

Run:  .venv/bin/python benchmarks/train_step.py [--steps 30] [--size 256] [--variant ours]
      [--profile cpu|paper] [--device cpu|cuda] [--home HOME]

Generates a few dives and ingests them into a temporary workspace (or, with --home,
uses the dives HOME holds: no pybullet needed), then in one run measures seconds per
step on --device of
  full   Trainer.train_step(): sampling, frame cache reads, background, losses,
         backward, Adam (what `tempose train` does per step)
  bare   the same networks and losses on random tensors of the same shapes
for stage 1 (gravity) and stage 2 (DSL), prints the ratio full / bare (the data
pipeline's overhead) and the process's peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.model import Batch  # noqa: E402
from store.catalogue import list_clips  # noqa: E402
from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.dataset import FrameStore, load_clips  # noqa: E402
from tempose_cli.learn.device import resolve_device  # noqa: E402
from tempose_cli.pipeline.ingest import IngestOptions, discover, ingest_file  # noqa: E402
from tempose_cli.pipeline.train import Dist, Trainer, run_config  # noqa: E402


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()  # GPU work is asynchronous: time what has finished


def timed(fn, n: int) -> float:  # noqa: ANN001
    fn()  # warm-up
    sync()
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    sync()
    return (time.perf_counter() - t0) / n


def step_costs(trainer: Trainer, steps: int) -> tuple[list[tuple[int, float, float]], int, int]:
    """[(stage, full s/step, bare s/step)], frames per step, detector-only frames per step."""
    rows = []
    for stage, mode in ((1, "gravity"), (2, "contrastive")):
        full = timed(lambda stage=stage: trainer.train_step(stage), steps)
        fb = (trainer.sampler.equidistant if stage == 1 else trainer.sampler.contrastive)()
        extra = trainer.sampler.random_frames(trainer.cfg.train.detector_extra)
        real = trainer.store.batch(fb, trainer.device, extra=extra)
        rand = Batch(frames=torch.rand_like(real.frames),
                     background=torch.rand_like(real.background), delta=real.delta,
                     clip=real.clip, groups=real.groups, group_size=real.group_size,
                     mode=mode, extra_frames=torch.rand_like(real.extra_frames),
                     extra_background=torch.rand_like(real.extra_background))

        def bare(rand=rand, stage=stage) -> None:  # noqa: ANN001
            total, _, _ = trainer.model.losses(rand, stage, trainer.cfg.train, trainer.recon,
                                               trainer.generator)
            trainer.optimizer.zero_grad(set_to_none=True)
            total.backward()
            trainer.optimizer.step()

        rows.append((stage, full, timed(bare, steps)))
    return rows, real.frames.shape[0], len(extra[0])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--variant", default="ours")
    ap.add_argument("--profile", default="cpu", choices=("cpu", "paper"))
    ap.add_argument("--device", default="cpu", help="cpu | cuda")
    ap.add_argument("--home", default=None, help="use the dives of this workspace")
    args = ap.parse_args()
    device = resolve_device(args.device)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        if args.home:
            ws = Workspace.from_options(args.home)
        else:
            from tempose_cli.synth.generate import SynthConfig, generate

            generate(SynthConfig(out_dir=root / "clips", athletes=2, clips=2,
                                 size=(args.size, args.size), seed=0, heights=(7.5, 10.0)))
            ws = Workspace.from_options(root / "home")
            ws.ensure()
        sessions = session_factory(open_catalogue(ws.url))
        if not args.home:
            for f in discover([root / "clips"])[0]:
                ingest_file(sessions, ws, f, IngestOptions())
        with sessions.begin() as s:
            clips = load_clips(ws, list(list_clips(s, sport="dive")))
        cfg = run_config(args.profile, args.variant, "dive", {"steps": 10**6})
        trainer = Trainer(cfg, FrameStore(clips), device, root / "run", None, Dist())
        rows, n, extra = step_costs(trainer, args.steps)
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    h, w = clips[0].frames.shape[1:3]
    gpu = f", {torch.cuda.get_device_name(device)}" if device.type == "cuda" else ""
    print(f"{args.profile} profile, variant {args.variant}, {n} frames/step (+{extra} "
          f"detector-only) of {w}x{h}, device {device}{gpu}, "
          f"torch {torch.__version__}, {torch.get_num_threads()} threads")
    print(f"{'stage':>5} {'full s/step':>12} {'bare s/step':>12} {'full/bare':>10} "
          f"{'steps/min':>10}")
    for stage, full, bare in rows:
        print(f"{stage:>5} {full:12.3f} {bare:12.3f} {full / bare:10.2f} {60 / full:10.0f}")
    print(f"peak resident memory: {peak_mb:.0f} MiB")
    if device.type == "cuda":
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated(device) / 2**20:.0f} MiB")


if __name__ == "__main__":
    main()
