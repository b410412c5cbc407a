"""The box targets of issue 11 on a trained run's extracted box track.

Run:  .venv/bin/python benchmarks/box_targets.py --home HOME --run R [--margin M] [--noise-k K]
      [--phases] [--gravity-track FIT_TOL,REPLACE_TOL] [--bystander]

For every labelled frame of every labelled dive clip: the box centre's distance to the
reference track (the projected true CG) over the frame height, and the box side over
the athlete's 2D joint extent (``pipeline.trainprobe.box_quality``, the training
probe's measure). Prints the share of frames with the centre within 0.03, with the size
within 1.5x either way, and with both; ``--phases`` also splits generated dives into
their phases (on the platform before take-off, flight, the last 3 frames);
``--gravity-track`` measures each clip's track after ``models.track.gravity_track``;
``--bystander`` (sets made with ``tempose synth --bystander``) also counts the frames
whose box centre is nearer the bystander's CG than the diver's.
Needs ``tempose extract --run R`` first; nothing is written to the catalogue.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.track import gravity_track  # noqa: E402
from store.catalogue import list_clips  # noqa: E402
from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.geometry import project  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.dataset import FrameStore, features_path, load_clips  # noqa: E402
from tempose_cli.learn.features import encode_clip, load_model  # noqa: E402
from tempose_cli.pipeline.extract import get_train_run  # noqa: E402
from tempose_cli.pipeline.trainprobe import box_quality  # noqa: E402
from tempose_cli.pose.tracking import reference_track  # noqa: E402
from tempose_cli.synth.bystander import replay_bystander  # noqa: E402

CENTRE_OK, SIZE_OK = 0.03, 1.5  # issue 11's targets (fraction of frame height, ratio)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--run", type=int, required=True, help="the training run's id")
    ap.add_argument("--margin", type=float, default=None,
                    help="re-encode with the refinement's box margin set to M "
                         "(ModelConfig.box_refine_margin) instead of reading the extracted box")
    ap.add_argument("--noise-k", type=float, default=None,
                    help="re-encode with the foreground threshold raised by K x the clip's "
                         "background noise (ModelConfig.fg_noise_k), e.g. 3")
    ap.add_argument("--phases", action="store_true",
                    help="also by phase of generated dives: platform, flight, last 3 frames")
    ap.add_argument("--gravity-track", default=None, metavar="FIT_TOL,REPLACE_TOL",
                    help="hold each track to its flight parabola (models.track), e.g. 0.03,0.06")
    ap.add_argument("--bystander", action="store_true",
                    help="also: frames whose box is nearer the bystander than the diver")
    a = ap.parse_args()
    ws = Workspace.from_options(a.home)
    sessions = session_factory(open_catalogue(ws.url))
    if a.gravity_track:
        fit_tol, replace_tol = (float(x) for x in a.gravity_track.split(","))
    errs, ratios, phases, errs_by = [], [], [], []
    n_moved = 0
    with sessions.begin() as s:
        run = get_train_run(s, a.run)
        run_dir = ws.abs(run.directory)
        model = None
        if a.margin is not None or a.noise_k is not None:
            model, _ = load_model(ws, run, torch.device("cpu"))
            changes = {"box_refine_margin": a.margin, "fg_noise_k": a.noise_k}
            model.cfg = replace(model.cfg, box_refine_steps=max(1, model.cfg.box_refine_steps),
                                **{k: v for k, v in changes.items() if v is not None})
        clips = [c for c in list_clips(s, sport="dive")
                 if any(lb.frames_3d for lb in c.labels)]
        for c, f in zip(clips, load_clips(ws, clips), strict=True):
            if model is not None:
                box = encode_clip(model, FrameStore([f]), 0, torch.device("cpu"))["box"]
            else:
                path = features_path(run_dir, c.content_hash)
                if not path.exists():
                    sys.exit(f"error: {path}: no features (run tempose extract --run {a.run})")
                with np.load(path) as z:
                    box = z["box"]  # (T, 4)
            if a.gravity_track:
                box, moved = gravity_track(box, c.fps, fit_tol, replace_tol)
                n_moved += int(moved.sum())
            q = box_quality(box, reference_track(c.sidecar, f.j2d), f.j2d, f.video_size)
            errs.append(q["centre_err"])
            if a.bystander:
                by = replay_bystander(c.sidecar, len(box))
                ref = None if by is None else project(
                    by.track.cg_world, *(np.asarray(c.sidecar["camera"][k], float)
                                         for k in ("K", "R", "t")))
                errs_by.append(box_quality(box, ref, None, f.video_size)["centre_err"])
            ratios.append(q["size_ratio"])
            phases.append(dive_phases(c.sidecar, len(box)))
    e, r = np.concatenate(errs), np.concatenate(ratios)  # (N,), (N,)
    centre = e <= CENTRE_OK
    size = (r <= SIZE_OK) & (r >= 1 / SIZE_OK)  # nan ratios count as misses
    print(f"{a.home} run {a.run}: {len(e)} frames; centre error mean {np.nanmean(e):.4f}, "
          f"within {CENTRE_OK}: {centre.mean():.1%}; size ratio median {np.nanmedian(r):.2f}, "
          f"within {SIZE_OK}x: {size.mean():.1%}; both: {(centre & size).mean():.1%}")
    if a.bystander:
        eb = np.concatenate(errs_by)  # (N,), NaN on clips without a bystander
        has = np.isfinite(eb)
        print(f"  bystander in {has.sum()} frames: box centre nearer them than the diver on "
              f"{(eb[has] < e[has]).mean():.1%}, within {CENTRE_OK} of them on "
              f"{(eb[has] <= CENTRE_OK).mean():.1%}")
    if a.gravity_track:
        print(f"  gravity track {a.gravity_track}: {n_moved} boxes moved")
    if a.phases:
        ph = np.concatenate(phases)  # (N,)
        for name in PHASES:
            m = ph == name
            if m.any():
                print(f"  {name:>8}: {m.sum():5d} frames ({m.mean():.1%}); centre "
                      f"{centre[m].mean():.1%}, size {size[m].mean():.1%}, both "
                      f"{(centre & size)[m].mean():.1%}; misses of both: "
                      f"{(~(centre & size) & m).sum() / max(1, (~(centre & size)).sum()):.1%}")


PHASES = ("platform", "flight", "entry", "unknown")


def dive_phases(sidecar: dict | None, n: int) -> np.ndarray:
    """(n,) phase names of a clip's frames from a generated dive's take-off frame."""
    synth = (sidecar or {}).get("synth") or {}
    out = np.full(n, "unknown", dtype=object)
    if "takeoff_frame" in synth:
        out[:] = "flight"
        out[: int(synth["takeoff_frame"])] = "platform"
        out[max(0, n - 3):] = "entry"
    return out


if __name__ == "__main__":
    main()
