"""The quickest honest probe of a training configuration (issue 11's research loop).

Run:  .venv/bin/python benchmarks/feature_probe.py --home HOME [--steps 1500] [--every 250]
      [--variant ours] [--stage1-steps 600] [--set KEY=VALUE ...] [--model KEY=VALUE ...]

Trains a variant (cpu profile, TrainConfig / ModelConfig overrides with --set / --model)
on every catalogued dive of HOME, and every --every steps prints the ridge probe from the
features to 3D pose on held-out athletes (tempose_cli/pipeline/trainprobe.py: N-MPJPE in mm next
to the training mean pose) and the box's tightness (centre error / frame height, share
of frames within 0.03; box side / athlete 2D extent, share within 1.5x). Step 0 is the
random initialisation. Nothing is written to the catalogue; PNG grids go to --out.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.config import ModelConfig  # noqa: E402
from store.catalogue import list_clips  # noqa: E402
from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.dataset import FrameStore, load_clips  # noqa: E402
from tempose_cli.learn.features import encode_clip  # noqa: E402
from tempose_cli.media.visualise import save_grid  # noqa: E402
from tempose_cli.pipeline.probe import cluster_probe  # noqa: E402
from tempose_cli.pipeline.train import Dist, Trainer, run_config  # noqa: E402
from tempose_cli.pipeline.trainprobe import PoseProbe, labelled_for_probe  # noqa: E402


def parse_sets(items: list[str]) -> dict:
    out = {}
    for item in items:
        key, _, value = item.partition("=")
        try:
            out[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            out[key] = value
    return out


def clusters(model, probe: PoseProbe) -> str:  # noqa: ANN001
    """KMeans on z_ti and z_tv of every frame of the probe's clips, as ``tempose probe``,
    then the share of each one's variance within clips."""
    was_training = model.training
    model.eval()
    parts: dict[str, list] = {"z_ti": [], "z_tv": []}
    athletes, clip_of = [], []
    for ci, c in enumerate(probe.clips):
        arrays = encode_clip(model, probe.store, ci, torch.device("cpu"))
        for k in parts:
            parts[k].append(arrays[k])
        athletes += [c.frames.athlete or f"clip{c.frames.clip_id}"] * len(arrays["z_ti"])
        clip_of += [ci] * len(arrays["z_ti"])
    model.train(was_training)
    r = cluster_probe({k: np.concatenate(v) for k, v in parts.items()}, np.array(athletes),
                      np.array(clip_of))
    return (f" {r['z_ti']['accuracy']:6.2f} {r['z_tv']['accuracy']:6.2f}"
            f" {r['z_ti']['within_clip']:6.2f} {r['z_tv']['within_clip']:6.2f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--steps", type=int, default=1500)
    ap.add_argument("--stage1-steps", type=int, default=600)
    ap.add_argument("--every", type=int, default=250)
    ap.add_argument("--variant", default="ours")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="probe-bench")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--save-at", type=int, action="append", default=[],
                    help="write OUT/stepN.pt at these steps (e.g. the end of stage 1)")
    ap.add_argument("--init", default=None,
                    help="start from a checkpoint written by --save-at (same stage-1 config)")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--model", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--kmeans", action="store_true",
                    help="also KMeans (k = athletes) on z_ti and z_tv of every labelled frame "
                         "(tempose probe's matched accuracy): columns ti_km, tv_km; and the "
                         "share of each one's variance within clips: ti_in, tv_in")
    args = ap.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    ws = Workspace.from_options(args.home)
    with session_factory(open_catalogue(ws.url)).begin() as s:
        rows = list(list_clips(s, sport="dive"))
        clips = load_clips(ws, rows)
        probe = PoseProbe(labelled_for_probe(ws, rows))
    cfg = run_config("cpu", args.variant, "dive",
                     {"steps": args.steps, "stage1_steps": args.stage1_steps, "seed": args.seed,
                      **parse_sets(args.set)})
    if args.model:
        from dataclasses import replace
        cfg.model = replace(cfg.model, **parse_sets(args.model))
        assert isinstance(cfg.model, ModelConfig)
    out = Path(args.out)
    trainer = Trainer(cfg, FrameStore(clips), torch.device("cpu"), out, None, Dist())
    if args.init:
        trainer.load(Path(args.init))
    print(f"{len(clips)} dives; probe: test athletes {probe.test_athletes}, "
          f"val {probe.val_athlete}; variant {args.variant}; "
          f"overrides {args.set or 'none'} {args.model or ''}", flush=True)
    print(f"{'step':>6} {'s':>6} {'probe':>7} {'mean':>7} {'ratio':>6} {'lam':>6} "
          f"{'c_err':>6} {'c_ok':>5} {'size':>5} {'s_ok':>5}"
          f"{' ti_km  tv_km  ti_in  tv_in' if args.kmeans else ''}", flush=True)
    t0 = time.perf_counter()
    while True:
        if trainer.step % args.every == 0 or trainer.step == args.steps:
            r = probe(trainer.model, torch.device("cpu"))
            km = clusters(trainer.model, probe) if args.kmeans else ""
            print(f"{trainer.step:6d} {time.perf_counter() - t0:6.0f} {r['probe_n_mpjpe']:7.1f} "
                  f"{r['probe_mean_pose']:7.1f} {r['probe_n_mpjpe'] / r['probe_mean_pose']:6.3f} "
                  f"{r['probe_lambda']:6.0f} {r['box_centre_err']:6.3f} {r['box_centre_ok']:5.2f} "
                  f"{r['box_size_ratio']:5.2f} {r['box_size_ok']:5.2f}{km}", flush=True)
            if trainer.step and getattr(trainer, "_last_vis", None):
                save_grid(out / f"step{trainer.step:06d}.png", trainer._last_vis)
        if trainer.step in args.save_at:
            trainer.run_dir.mkdir(parents=True, exist_ok=True)
            trainer.save()
            trainer.checkpoint_path.rename(out / f"step{trainer.step}.pt")
        if trainer.step >= args.steps:
            break
        trainer.train_step()


if __name__ == "__main__":
    main()
