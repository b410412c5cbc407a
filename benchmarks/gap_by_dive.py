"""Where one trained run's fit wins over another's: test N-MPJPE by dive position and athlete.

Run:  .venv/bin/python benchmarks/gap_by_dive.py --fit NAME:HOME:RUN:SEED --fit ... \
          [--everies 1,5,20]

Each ``--fit`` is a trained run (its features extracted) and the split seed of its
ablation. At each label fraction 1/K the script fits the run exactly as ``tempose
ablation`` does (knn, the ablation's context, the clip read as a track, every choice on
the validation clips) and prints the test N-MPJPE of each run over all test frames,
then per dive position (A straight, B pike, C tuck, D free: the code's last letter)
and per test athlete, each the frame-weighted mean of the fit's per-clip figures. Made to
ask whether a Table V gap (``ae-stn-dec`` below ``ours`` at fraction 1) lies in some
movements or athletes rather than all. Nothing is written to the catalogue.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.fitdata import FitOptions, clip_sources, labelled_clips  # noqa: E402
from tempose_cli.pipeline.ablation_names import FIT_CONTEXT  # noqa: E402
from tempose_cli.pipeline.fit import fit_core  # noqa: E402


def by_group(per_clip: dict[str, dict], group_of: dict[int, str],
             metric: str = "n_mpjpe") -> dict[str, float]:
    """Frame-weighted mean of ``metric`` per group of clips (a fit's ``summary["per_clip"]``:
    {clip id: {"frames": n, metric: mean}}; ``group_of``: clip id -> group)."""
    total: dict[str, float] = {}
    frames: dict[str, int] = {}
    for cid, cell in per_clip.items():
        g = group_of[int(cid)]
        total[g] = total.get(g, 0.0) + cell["frames"] * cell[metric]
        frames[g] = frames.get(g, 0) + cell["frames"]
    return {g: total[g] / frames[g] for g in sorted(total)}


def parse_fit(spec: str) -> tuple[str, str, int, int]:
    parts = spec.split(":")
    if len(parts) != 4 or not parts[2].isdigit() or not parts[3].isdigit():
        raise SystemExit(f"error: --fit {spec!r} is not NAME:HOME:RUN:SEED")
    return parts[0], parts[1], int(parts[2]), int(parts[3])


def fit_groups(home: str, run: int, seed: int, every: int
               ) -> tuple[float, dict[str, float], dict[str, float], dict[str, int]]:
    """-> overall test N-MPJPE (mm), per dive position, per athlete, test frames per group."""
    ws = Workspace.from_options(home)
    sessions = session_factory(open_catalogue(ws.url, upgrade=False))
    opts = FitOptions(split="diver", every=every, seed=seed, regressor="knn",
                      context=FIT_CONTEXT, track=True)
    res = fit_core(sessions, ws, run, opts, torch.device("cpu"))
    with sessions.begin() as s:
        test = set(res.split.test)
        srcs = clip_sources(s, ws, [c for c in labelled_clips(s, "dive") if c.id in test])
    position = {c.clip_id: f"position {(c.dive or '?')[-1]}" for c in srcs}
    athlete = {c.clip_id: f"athlete {c.athlete}" for c in srcs}
    per_clip = res.summary["per_clip"]
    frames: dict[str, int] = {}
    for cid, cell in per_clip.items():
        for g in (position[int(cid)], athlete[int(cid)]):
            frames[g] = frames.get(g, 0) + cell["frames"]
    return (res.summary["n_mpjpe"], by_group(per_clip, position), by_group(per_clip, athlete),
            frames)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fit", action="append", required=True, metavar="NAME:HOME:RUN:SEED")
    ap.add_argument("--everies", default="1,5,20")
    a = ap.parse_args()
    fits = [parse_fit(f) for f in a.fit]
    for every in (int(v) for v in a.everies.split(",")):
        out = {name: fit_groups(home, run, seed, every) for name, home, run, seed in fits}
        names = list(out)
        print(f"fraction 1/{every}, test N-MPJPE (mm): "
              + "  ".join(f"{n} {out[n][0]:.1f}" for n in names))
        for part in (1, 2):
            for g in out[names[0]][part]:
                print(f"  {g:>14} ({out[names[0]][3][g]:4d} frames): "
                      + "  ".join(f"{n} {out[n][part].get(g, float('nan')):6.1f}"
                                  for n in names))


if __name__ == "__main__":
    main()
