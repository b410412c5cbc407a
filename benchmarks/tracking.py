"""Does the detector's box follow the athlete? Tracking error over training steps.

Run:  .venv/bin/python benchmarks/tracking.py --home HOME [--steps 1200] [--every 100]
      [--variant ours|ours-no-gravity] [--tolerance 0.08] [--set w_cover=0 ...]

Trains a variant (cpu profile) on the catalogued dives of HOME -- ``ours`` in stage 1
only (gravity + reconstruction), ``ours-no-gravity`` with its DSL + reconstruction from
the start -- and every ``--every`` steps prints the distance from the box centre to the
projected true CG (or the labelled pelvis), as a fraction of the frame height, and how
often the box holds it (tempose_cli/pose/tracking.py). At the end: the first evaluated step
from which the error stays below ``--tolerance`` (the gravity benchmark). PNG grids go
to --out. Nothing is written to the catalogue.
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

from store.catalogue import list_clips  # noqa: E402
from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.dataset import FrameStore, load_clips  # noqa: E402
from tempose_cli.learn.features import encode_clip  # noqa: E402
from tempose_cli.media.visualise import save_grid  # noqa: E402
from tempose_cli.pipeline.train import Dist, Trainer, run_config  # noqa: E402
from tempose_cli.pose.tracking import reference_track, tracking_error  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--steps", type=int, default=1200)
    ap.add_argument("--every", type=int, default=100)
    ap.add_argument("--out", default="tracking-bench")
    ap.add_argument("--variant", default="ours")
    ap.add_argument("--stage1-steps", type=int, default=None,
                    help="dives: gravity pre-training steps (default: all of --steps)")
    ap.add_argument("--tolerance", type=float, default=0.08,
                    help="error / frame height counted as tracking")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="TrainConfig override, e.g. w_cover=0")
    args = ap.parse_args()
    overrides = {}
    for item in args.set:
        key, _, value = item.partition("=")
        overrides[key] = ast.literal_eval(value)
    ws = Workspace.from_options(args.home)
    with session_factory(open_catalogue(ws.url)).begin() as s:
        rows = list(list_clips(s, sport="dive"))
        clips = load_clips(ws, rows)
        sidecars = [r.sidecar for r in rows]
    cfg = run_config("cpu", args.variant, "dive",
                     {"steps": args.steps, "stage1_steps": args.stage1_steps or args.steps,
                      **overrides})
    out = Path(args.out)
    trainer = Trainer(cfg, FrameStore(clips), torch.device("cpu"), out, None, Dist())

    def evaluate() -> dict:
        trainer.model.eval()
        res = [tracking_error(encode_clip(trainer.model, FrameStore([c]), 0,
                                          torch.device("cpu"))["box"],
                              reference_track(sc, c.j2d), c.video_size)
               for c, sc in zip(clips, sidecars, strict=True)]
        return {k: float(np.mean([r[k] for r in res])) for k in ("mean_rel", "inside")}

    print(f"{len(clips)} dives, variant {args.variant}, overrides {overrides or 'none'}")
    print(f"{'step':>6} {'seconds':>8} {'error/height':>13} {'CG in box':>10}")
    t0 = time.perf_counter()
    reached = None  # first evaluated step from which the error stays under the tolerance
    while trainer.step < args.steps:
        trainer.train_step()
        if trainer.step % args.every == 0 or trainer.step == args.steps:
            r = evaluate()
            print(f"{trainer.step:6d} {time.perf_counter() - t0:8.0f} {r['mean_rel']:13.3f} "
                  f"{r['inside']:10.2f}", flush=True)
            save_grid(out / f"step{trainer.step:06d}.png", trainer._last_vis)
            if r["mean_rel"] >= args.tolerance:
                reached = None
            elif reached is None:
                reached = trainer.step
    print(f"steps to tolerance {args.tolerance}: {reached if reached else f'> {args.steps}'}")


if __name__ == "__main__":
    main()
