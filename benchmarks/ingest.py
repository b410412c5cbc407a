"""Ingest throughput: `tempose ingest` frames/s against ffmpeg decoding the same file.

Run:  .venv/bin/python benchmarks/ingest.py [--size 1280x720] [--frames 300]

Makes a textured panning clip, then in one run measures
  baseline  ffmpeg -i clip.mp4 -f null -         (decode only, nothing kept)
  ingest    tempose ingest (hash, probe, decode + scale into the frame cache,
            background, catalogue) with --background median and panorama
and prints frames/s and the ratio to the baseline.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tempose_cli.core.ffmpeg import encode_mp4, ffmpeg_exe  # noqa: E402


def make_clip(path: Path, w: int, h: int, n: int) -> None:
    rng = np.random.default_rng(0)
    world = cv2.resize((rng.random((h // 16, 3 * w // 16, 3)) * 255).astype(np.uint8),
                       (3 * w, h), interpolation=cv2.INTER_CUBIC)

    def frames():
        for t in range(n):
            x0 = int(t * (2 * w) / n)
            f = world[:, x0:x0 + w].copy()
            cv2.circle(f, (w // 2, h // 2 + int(40 * np.sin(t / 5))), h // 10, (240, 40, 40), -1)
            yield f

    encode_mp4(path, frames(), 30, (w, h), crf=20)


def timed(cmd: list[str]) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True)
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--work-size", default="512")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        clip = Path(tmp) / "clip.mp4"
        make_clip(clip, w, h, args.frames)
        base = timed([ffmpeg_exe(), "-v", "error", "-i", str(clip), "-f", "null", "-"])
        rows = [("ffmpeg decode to null (baseline)", base)]
        for method in ("median", "panorama"):
            home = Path(tmp) / f"home-{method}"
            rows.append((f"tempose ingest --background {method}", timed([
                sys.executable, "-m", "tempose_cli", "--home", str(home), "ingest", str(clip),
                "--background", method, "--work-size", args.work_size])))
    n = args.frames
    print(f"clip: {w}x{h}, {n} frames, H.264; work size {args.work_size}; "
          f"machine: {cv2.getNumberOfCPUs()} CPU(s)")
    print(f"{'what':44s} {'seconds':>8s} {'frames/s':>9s} {'vs baseline':>12s}")
    for name, sec in rows:
        print(f"{name:44s} {sec:8.2f} {n / sec:9.1f} {base / sec:11.2f}x")


if __name__ == "__main__":
    main()
