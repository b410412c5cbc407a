"""Frames/s of ``tempose synth`` end to end (render + encode + labels) versus rendering alone.

Run: .venv/bin/python benchmarks/synth.py [--size 256x256] [--athletes 2] [--dives 3] [--jobs N]
The baseline is a bare TinyRenderer loop over the same humanoid, camera size and
poses in one process, measured in the same run, so the ratio is what the generator
costs on top. The generator is timed with --jobs 1 and with N workers (default: CPUs);
the parallel figure includes starting the worker processes.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tempose_cli.synth import camera as cam  # noqa: E402
from tempose_cli.synth.generate import SynthConfig, default_jobs, generate  # noqa: E402
from tempose_cli.synth.humanoid import Humanoid, pybullet  # noqa: E402
from tempose_cli.synth.mocap import load_clip  # noqa: E402


def render_only(size: tuple[int, int], frames: int) -> float:
    """Bare getCameraImage loop: the humanoid posed from the backflip clip, side-on camera."""
    p = pybullet()
    client = p.connect(p.DIRECT)
    try:
        body = Humanoid(client, 0.25, {})
        clip = load_clip("backflip")
        pose = clip.sample(np.linspace(0, clip.duration, frames))
        w, h = size
        K = cam.intrinsics(w, h, 50)
        centre = np.array([0.0, -12.0, 5.0])
        R = cam.look_at(centre, [0.0, 0.0, 5.0])
        view, proj = cam.gl_matrices(K, R, cam.translation(R, centre), w, h, 0.05, 2000.0)
        start = time.perf_counter()
        for i in range(frames):
            body.set_articulation(pose.sph[i], pose.rev[i])
            body.place(np.array([0.0, 0.0, 5.0]), np.array([0.7071, 0, 0, 0.7071]))
            p.getCameraImage(w, h, view, proj, renderer=p.ER_TINY_RENDERER,
                             physicsClientId=client)
        return frames / (time.perf_counter() - start)
    finally:
        p.disconnect(client)


def end_to_end(args, size: tuple[int, int], jobs: int) -> tuple[int, int, float]:
    """(clips, frames, wall seconds) of one ``generate`` run into a scratch folder."""
    with tempfile.TemporaryDirectory() as tmp:
        cfg = SynthConfig(out_dir=Path(tmp), sport=args.sport, athletes=args.athletes,
                          clips=args.dives, fps=args.fps, size=size, seed=0)
        start = time.perf_counter()
        results = generate(cfg, jobs=jobs)
        elapsed = time.perf_counter() - start
    return len(results), sum(r.frames for r in results), elapsed


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="256x256")
    ap.add_argument("--athletes", type=int, default=2)
    ap.add_argument("--dives", type=int, default=3)
    ap.add_argument("--sport", default="dive")
    ap.add_argument("--fps", type=float, default=25.0)
    ap.add_argument("--jobs", type=int, default=default_jobs(),
                    help="the parallel run's workers (default: CPUs)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    load = ", ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"cpu cores: {default_jobs()}, load average {load}; size {w}x{h}, "
          f"sport {args.sport}, fps {args.fps}")
    base = render_only((w, h), 300)
    print(f"rendering alone (bare getCameraImage loop, one process): {base:.1f} frames/s")
    for jobs in dict.fromkeys((1, args.jobs)):
        clips, frames, elapsed = end_to_end(args, (w, h), jobs)
        e2e = frames / elapsed
        print(f"end to end --jobs {jobs}: {clips} clips, {frames} frames in {elapsed:.2f} s "
              f"= {e2e:.1f} frames/s, ratio to rendering alone {e2e / base:.2f} "
              f"(render + scene + composite + encode + labels{', workers start' * (jobs > 1)})")


if __name__ == "__main__":
    main()
