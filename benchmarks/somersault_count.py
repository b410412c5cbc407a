"""Somersault count and sense on a fit's test dives: plain unwrapping against the one-way
reading of the flight (tempose_cli/pose/rotation.py), in the same run.

Run:  .venv/bin/python benchmarks/somersault_count.py --home HOME --fit F

For every test clip of the fit's split (the fit's own split options): `tempose analyze
--no-video` into a temporary folder, then the dive analysis of the exported (predicted)
track and of the labelled track, once with the flight read one way (what `analyze`
does) and once with the trunk angle plainly unwrapped (the baseline). A dive is right
when its count is within 0.25 of its code's and its sense (forward for groups 1 and 4,
backward for 2 and 3) is the code's. Nothing is written to the catalogue.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.catalogue import get_clip  # noqa: E402
from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.labels import PoseTrack, read_pose_csv  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.fitdata import labelled_clips, split_for  # noqa: E402
from tempose_cli.pipeline import analyze as pa  # noqa: E402
from tempose_cli.pipeline.evaluate import load_fit  # noqa: E402
from tempose_cli.pose import dive_analysis as da  # noqa: E402


def summary(track: PoseTrack, tg: pa.Target, one_way: bool) -> dict:
    return da.analyze_dive(track, tg.fps, K=tg.K, R=tg.R, code=tg.dive_code,
                           one_way=one_way).summary


def right(s: dict, code: str) -> bool:
    if s["somersaults"] is None or s["somersaults_expected"] is None:
        return False
    sense = "forward" if code[0] in "14" else "backward"
    return abs(s["somersaults"] - s["somersaults_expected"]) <= 0.25 and s["rotation"] == sense


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--fit", type=int, required=True, help="the fit run's id")
    a = ap.parse_args()
    ws = Workspace.from_options(a.home)
    sessions = session_factory(open_catalogue(ws.url))
    cpu = torch.device("cpu")
    with sessions() as s:
        fit, _ = load_fit(s, ws, a.fit, cpu)
        split = split_for(labelled_clips(s, "dive"), fit.opts)
        tracks = {}
        for cid in split.test:
            c = get_clip(s, cid)
            lab = [PoseTrack.load_npz(ws.abs(lb.array_path)) for lb in c.labels]
            tracks[cid] = next(t for t in lab if t.j3d is not None)
    counts = {k: 0 for k in ("pred plain", "pred one-way", "true plain", "true one-way")}
    with tempfile.TemporaryDirectory() as tmp:
        for cid in split.test:
            with sessions() as s:
                tg = pa.resolve(s, ws, cid, a.fit)
            res = pa.analyze(sessions, ws, cid, pa.AnalyzeOptions(fit_id=a.fit, out=Path(tmp),
                                                                  video=False), cpu)
            pred = read_pose_csv(res["files"]["csv"])
            row = [f"clip {cid:3d} {tg.dive_code}"]
            for src, track in (("pred", pred), ("true", tracks[cid])):
                for one_way in (False, True):
                    sm = summary(track, tg, one_way)
                    ok = right(sm, tg.dive_code)
                    counts[f"{src} {'one-way' if one_way else 'plain'}"] += ok
                    row.append(f"{src} {'one-way' if one_way else 'plain'} "
                               f"{sm['somersaults']:.2f} {sm['rotation'][0]}{'' if ok else ' x'}")
            print("  ".join(row), flush=True)
    n = len(split.test)
    print(f"\nfit {a.fit}: {n} test dives right (count within 0.25 and the code's sense):")
    for k, v in counts.items():
        print(f"  {k:13s} {v:2d} / {n}")
    base = counts["pred plain"]
    ratio = counts["pred one-way"] / base if base else float("inf")
    print(f"  one-way / plain on the predicted tracks: {ratio:.2f}x")


if __name__ == "__main__":
    main()
