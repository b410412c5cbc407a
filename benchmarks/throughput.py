"""Throughput: `tempose analyze` and training against bare baselines, in one run.

Run:  .venv/bin/python benchmarks/throughput.py --home HOME [--fit F] [--clip C[,C2...]]
      [--repeats 3] [--steps 20] [--device cpu|cuda]

Needs a workspace with a fit (e.g. after `tempose demo`). Generated dives are 256 px,
where decoding is far cheaper than on coach footage: for a realistic size, ingest e.g.
`tempose synth DIR --athletes 1 --dives 1 --size 1280x720` into the same workspace,
`tempose extract` it, and pass both clips (--clip 3,4). Measures, on each clip:
  ffmpeg      decoding the clip's video to null (frames/s)
  bare        detector + encoder + decoder (mask) + regressor forward passes on random
              tensors of the clip's frame shape, batches of 32 (frames/s)
  analyze     tempose_cli.pipeline.analyze.analyze in-process, with and without the overlay
              video (frames/s; includes model loading, exports and plots, not imports)
start-up of `tempose --help` and `tempose clips list` as fresh processes, and training:
seconds per step of Trainer.train_step against a bare loop over the same
networks and losses on random tensors (benchmarks/train_step.py), on HOME's clips.
Prints each figure and its ratio to the baseline measured in the same run (--steps 0:
no training figures).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from sqlalchemy import select

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from train_step import step_costs  # noqa: E402

from store.catalogue import get_clip, list_clips  # noqa: E402
from store.db import open_catalogue, session_factory  # noqa: E402
from store.schema import Run  # noqa: E402
from tempose_cli.core.ffmpeg import ffmpeg_exe  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.dataset import FrameStore, load_clips  # noqa: E402
from tempose_cli.learn.device import resolve_device  # noqa: E402
from tempose_cli.learn.features import load_model  # noqa: E402
from tempose_cli.pipeline.analyze import AnalyzeOptions, analyze  # noqa: E402
from tempose_cli.pipeline.evaluate import load_fit  # noqa: E402
from tempose_cli.pipeline.train import Dist, Trainer  # noqa: E402


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()  # GPU work is asynchronous: time what has finished


def best_of(fn, repeats: int) -> float:  # noqa: ANN001
    """Fastest of ``repeats`` timed calls after one warm-up (seconds)."""
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return min(times)


def measure_clip(sessions, ws: Workspace, fit_id: int, clip, frames, model,  # noqa: ANN001
                 reg_model, repeats: int, device: torch.device) -> None:
    """ffmpeg decoding, bare forward passes and analyze (with and without the overlay)."""
    video, n = ws.abs(clip.path), clip.frame_count
    h, w = frames.frames.shape[1:3]

    def decode() -> None:
        subprocess.run([ffmpeg_exe(), "-v", "error", "-i", str(video), "-f", "null", "-"],
                       check=True)

    @torch.no_grad()
    def bare() -> None:
        for a in range(0, n, 32):
            x = torch.rand(min(32, n - a), 3, h, w, device=device)  # (B, 3, H, W)
            box, z_tv, z_ti = model.encode(x, torch.rand_like(x))  # with the refinement
            if model.variant.decoder:
                model.decoder(z_tv, z_ti)
            reg_model.regressor(model.features(z_tv, z_ti))
        sync()

    def run_analyze(video: bool) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            analyze(sessions, ws, clip.id, AnalyzeOptions(fit_id=fit_id, out=Path(tmp),
                                                          video=video), device)

    t_dec = best_of(decode, repeats)
    t_bare = best_of(bare, repeats)
    t_novid = best_of(lambda: run_analyze(False), repeats)
    t_vid = best_of(lambda: run_analyze(True), repeats)
    print(f"clip {clip.id}: {n} frames, source {clip.width}x{clip.height}, {w}x{h} work size")
    print(f"{'':28} {'frames/s':>9} {'vs ffmpeg':>10} {'vs bare':>8}")
    for name, t in (("ffmpeg decode to null", t_dec), ("bare forward passes", t_bare),
                    ("analyze --no-video", t_novid), ("analyze (with overlay MP4)", t_vid)):
        print(f"{name:28} {n / t:9.1f} {t_dec / t:10.3f} {t_bare / t:8.3f}")


def measure_startup(home: str, repeats: int) -> None:
    """Wall time of `tempose --help` and `tempose clips list` as fresh processes, next
    to a bare `python -c pass` in the same run (issue 12's start-up targets: < 0.5 s)."""
    root = Path(__file__).resolve().parent.parent

    def timed(*argv: str) -> float:
        def once() -> None:
            subprocess.run([sys.executable, *argv], check=True, cwd=root,
                           stdout=subprocess.DEVNULL)
        return best_of(once, repeats)

    t_py = timed("-c", "pass")
    print(f"start-up, best of {repeats} (seconds; python -c pass: {t_py:.3f} s):")
    for name, argv in (("tempose --help", ["--help"]),
                       ("tempose clips list", ["--home", home, "clips", "list"])):
        t = timed("-m", "tempose_cli", *argv)
        print(f"{name:28} {t:6.3f} s  ({t - t_py:.3f} s more than python -c pass)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--fit", type=int, default=None, help="default: the latest fit")
    ap.add_argument("--clip", default=None,
                    help="clip id(s), e.g. 3 or 3,4 (default: the fit's first test clip)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--steps", type=int, default=20,
                    help="training steps timed per stage (0: no training figures)")
    ap.add_argument("--device", default="cpu", help="cpu | cuda: analyze, forward passes and "
                    "training steps run there")
    args = ap.parse_args()
    device = resolve_device(args.device)
    measure_startup(args.home, args.repeats)
    ws = Workspace.from_options(args.home)
    sessions = session_factory(open_catalogue(ws.url))
    with sessions.begin() as s:
        fit = (s.get(Run, args.fit) if args.fit else
               s.scalars(select(Run).where(Run.kind == "fit").order_by(Run.id.desc())).first())
        if fit is None:
            sys.exit("no fit in this workspace: run tempose demo first")
        clip_ids = ([int(c) for c in args.clip.split(",")] if args.clip else
                    [fit.config["split"]["test"][0]])
        clips = [get_clip(s, c) for c in clip_ids]
        reg_model, _ = load_fit(s, ws, fit.id, device)
        model, cfg = load_model(ws, s.get(Run, fit.parent_id), device)
        frames = load_clips(ws, clips)
        all_clips = load_clips(ws, list(list_clips(s, sport="dive"))) if args.steps else []
    print(f"fit {fit.id} (run {fit.parent_id}, {cfg.train.variant}); torch {torch.__version__}, "
          f"{torch.get_num_threads()} threads; device {device}"
          f"{f' ({torch.cuda.get_device_name(device)})' if device.type == 'cuda' else ''}; "
          f"best of {args.repeats}")
    for clip, f in zip(clips, frames, strict=True):
        measure_clip(sessions, ws, fit.id, clip, f, model, reg_model, args.repeats, device)
    if not args.steps:
        return

    trainer = Trainer(cfg, FrameStore(all_clips), device, Path(tempfile.mkdtemp()), None, Dist())
    rows, per_step, extra = step_costs(trainer, args.steps)
    print(f"training ({cfg.train.variant}, {per_step} frames/step + {extra} detector-only):")
    print(f"{'stage':>5} {'steps/s':>8} {'bare steps/s':>13} {'full/bare time':>15}")
    for stage, full, bare_s in rows:
        print(f"{stage:>5} {1 / full:8.2f} {1 / bare_s:13.2f} {full / bare_s:15.2f}")


if __name__ == "__main__":
    main()
