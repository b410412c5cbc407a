"""Where one trained run's fit wins over another's: test errors by dive position and athlete.

Run:  .venv/bin/python benchmarks/gap_by_dive.py --fit NAME:HOME:RUN:SEED --fit ... \
          [--everies 1,5,20]

Each ``--fit`` is a trained run (its features extracted) and the split seed of its
ablation, all of one seed so that they share the test clips. At each label fraction
1/K the script fits each run exactly as ``tempose ablation`` does (knn, the ablation's
context, the clip read as a track, every choice on the validation clips) and prints,
per run, over all test frames, then per dive position (A straight, B pike, C tuck, D
free: the code's last letter) and per test athlete: the mean N-MPJPE (mm), the P-MPJPE
(mm, rotation removed), and the error of the trunk's direction (hip centre to neck):
its median in degrees and the share of frames where it is over 90 degrees (the body
upside down or facing the wrong way). Made to ask whether a Table V gap
(``ae-stn-dec`` below ``ours`` at fraction 1) lies in some movements, athletes or in
the body's orientation rather than everywhere. Nothing is written to
the catalogue.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))  # benchmarks/, then the root

from ablation_fits import ablation_options  # noqa: E402

from models.metrics import n_mpjpe, p_mpjpe  # noqa: E402
from models.skeleton import DIVE14, JOINT_INDEX  # noqa: E402
from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.fitdata import clip_sources, labelled_clips  # noqa: E402
from tempose_cli.pipeline.evaluate import MM, FitModel, side_frames, side_predictions  # noqa: E402
from tempose_cli.pipeline.fit import fit_core  # noqa: E402
from tempose_cli.pose.biomech import included_angle  # noqa: E402


def trunk_error(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(N, 14, 3) poses -> (N,) angle in degrees between the predicted and the true trunk
    (hip centre -> neck)."""
    if pred.shape != true.shape or pred.shape[1:] != (len(DIVE14), 3):
        raise ValueError(f"expected two (N, 14, 3) arrays, got {pred.shape}, {true.shape}")
    neck, hips = JOINT_INDEX["neck"], [JOINT_INDEX["l_hip"], JOINT_INDEX["r_hip"]]

    def trunk(j: np.ndarray) -> np.ndarray:
        return j[:, neck] - j[:, hips].mean(1)  # (N, 3)
    return included_angle(trunk(pred), trunk(true))


def group_stats(errors: dict[str, np.ndarray], groups: np.ndarray) -> dict[str, dict]:
    """Per-frame ``errors`` ({"n_mpjpe", "p_mpjpe": mm, "trunk": degrees}, each (N,))
    -> {group: frames, their mean N-MPJPE and P-MPJPE, median trunk error and share of
    frames with it over 90 degrees}, groups in sorted order, "all" first."""
    out = {}
    for g in ["all", *sorted(set(groups.tolist()))]:
        sel = np.ones(len(groups), bool) if g == "all" else groups == g
        t = errors["trunk"][sel]
        out[g] = {"frames": int(sel.sum()), "n_mpjpe": float(errors["n_mpjpe"][sel].mean()),
                  "p_mpjpe": float(errors["p_mpjpe"][sel].mean()),
                  "trunk_median": float(np.median(t)), "trunk_over_90": float((t > 90).mean())}
    return out


def parse_fit(spec: str) -> tuple[str, str, int, int]:
    parts = spec.split(":")
    if len(parts) != 4 or not parts[2].isdigit() or not parts[3].isdigit():
        raise SystemExit(f"error: --fit {spec!r} is not NAME:HOME:RUN:SEED")
    return parts[0], parts[1], int(parts[2]), int(parts[3])


def fit_errors(home: str, run: int, seed: int, every: int
               ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray]:
    """-> per test frame: errors ({"n_mpjpe", "p_mpjpe": mm, "trunk": degrees}), the
    clip's dive position and its athlete, each (N,)."""
    ws = Workspace.from_options(home)
    sessions = session_factory(open_catalogue(ws.url, upgrade=False))
    opts = ablation_options(seed, every)
    res = fit_core(sessions, ws, run, opts, torch.device("cpu"))
    with sessions.begin() as s:
        test = set(res.split.test)
        srcs = {c.clip_id: c for c in
                clip_sources(s, ws, [c for c in labelled_clips(s, "dive") if c.id in test])}
    side = [srcs[c] for c in res.split.test]
    tr = res.train_run
    model = FitModel(opts, res.regressor, None, tr["id"], tr["dir"], torch.device("cpu"))
    pred, true, cid, _ = side_predictions(model, side, side_frames(side, opts, 1))
    p, t = pred * MM, true * MM
    errors = {"n_mpjpe": n_mpjpe(p, t, "frame"), "p_mpjpe": p_mpjpe(p, t, "frame"),
              "trunk": trunk_error(pred, true)}
    position = np.array([f"position {(srcs[c].dive or '?')[-1]}" for c in cid])
    athlete = np.array([f"athlete {srcs[c].athlete}" for c in cid])
    return errors, position, athlete


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--fit", action="append", required=True, metavar="NAME:HOME:RUN:SEED")
    ap.add_argument("--everies", default="1,5,20")
    a = ap.parse_args()
    fits = [parse_fit(f) for f in a.fit]
    if len({seed for *_, seed in fits}) > 1:  # the groups are those of one set's test clips
        ap.error("every --fit must be of the same seed (the same test clips)")
    for every in (int(v) for v in a.everies.split(",")):
        stats: dict[str, dict] = {}
        for name, home, run, seed in fits:
            errors, position, athlete = fit_errors(home, run, seed, every)
            stats[name] = group_stats(errors, position) | group_stats(errors, athlete)
        print(f"fraction 1/{every}: N-MPJPE / P-MPJPE (mm) / trunk error median (deg), "
              "share over 90 deg")
        for g, cell in stats[fits[0][0]].items():
            print(f"  {g:>14} ({cell['frames']:4d} frames): " + "   ".join(
                f"{n} {c['n_mpjpe']:.1f} / {c['p_mpjpe']:.1f} / {c['trunk_median']:.0f} deg, "
                f"{100 * c['trunk_over_90']:.0f}%"
                for n, c in ((n, stats[n][g]) for n in stats)))


if __name__ == "__main__":
    main()
