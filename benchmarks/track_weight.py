"""How well the validation clips choose the knn fit's track weight.

Run:  .venv/bin/python benchmarks/track_weight.py --home HOME --run R --seed S
      [--everies 1,5,20] [--lams 0,0.03,0.1,0.3]
      .venv/bin/python benchmarks/track_weight.py --summarise OUT.txt [--tuned 21,22]

``tempose fit`` (and ``tempose ablation``) reads each clip as a track and picks the
weight of the pose change between frames among ``models.regressor.TRACK_LAMS`` by the
N-MPJPE of the validation clips (``choose_track_lam``). For every label fraction 1/K
this prints, per weight, that validation score and the test N-MPJPE the same fit gets
with the weight held there, then the weight the validation clips pick among these
(``kept``: the fit's choice, were they its weights). The split, labelled frames
and knn are exactly the fit's; nothing is written to the catalogue. ``--summarise``
reads such outputs (several runs, one file) and prints, per fraction, the mean test
N-MPJPE over the runs under each rule: the weight chosen on validation among all the
weights printed (``kept``) and among ``models.regressor.TRACK_LAMS`` (the fit's choices
today), each weight held fixed, and the best weight on test (the oracle); ``--tuned``
splits the runs by seed into those a choice was tuned on and the others.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import models.regressor as regressor  # noqa: E402
from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.fitdata import FitOptions  # noqa: E402
from tempose_cli.pipeline.ablation_names import FIT_CONTEXT  # noqa: E402
from tempose_cli.pipeline.fit import fit_core  # noqa: E402


def fit_at(sessions, ws: Workspace, run: int, opts: FitOptions,  # noqa: ANN001
           lam: float) -> tuple[float, float]:
    """-> validation and test N-MPJPE (mm) of the fit with its track weight held at ``lam``."""
    saved = regressor.TRACK_LAMS
    regressor.TRACK_LAMS = (lam,)
    try:
        res = fit_core(sessions, ws, run, opts, torch.device("cpu"))
    finally:
        regressor.TRACK_LAMS = saved
    return res.track_scores[lam], res.summary["n_mpjpe"]


RUN_LINE = re.compile(r"run (\d+) of (\S+), seed (\d+):")
FRACTION_LINE = re.compile(r"fraction 1/(\d+): (.*); kept (\S+): (\S+)")
CELL = re.compile(r"([\d.]+): ([\d.]+) / ([\d.]+)")


Row = tuple[int, int, dict[float, tuple[float, float]], float, float]


def parse(text: str) -> list[Row]:
    """Lines of this script's output -> (seed, every, {weight: (validation, test)}, weight
    kept, its test) per run and fraction."""
    rows, seed = [], None
    for line in text.splitlines():
        if m := RUN_LINE.match(line):
            seed = int(m[3])
        elif (m := FRACTION_LINE.match(line)) and seed is not None:
            cells = {float(w): (float(v), float(t)) for w, v, t in CELL.findall(m[2])}
            rows.append((seed, int(m[1]), cells, float(m[3]), float(m[4])))
    return rows


def rules(rows: list[Row]) -> dict[str, float]:
    """Mean test N-MPJPE (mm) over ``rows`` under each rule of choosing the weight."""
    def chosen(cells: dict[float, tuple[float, float]], among) -> float:  # noqa: ANN001
        return cells[min(among, key=lambda w: cells[w][0])][1]

    weights = sorted(rows[0][2])
    among = "/".join(f"{w:g}" for w in regressor.TRACK_LAMS)  # the fit's choices today
    out = {"validation among all": sum(r[4] for r in rows) / len(rows),
           f"validation among {among}": sum(chosen(r[2], regressor.TRACK_LAMS)
                                             for r in rows) / len(rows)}
    for w in weights:
        out[f"fixed {w:g}"] = sum(r[2][w][1] for r in rows) / len(rows)
    out["oracle"] = sum(min(t for _, t in r[2].values()) for r in rows) / len(rows)
    return out


def summarise(text: str, tuned: set[int]) -> str:
    rows = parse(text)
    if not rows:
        raise SystemExit("--summarise: no 'fraction 1/K: ...; kept ...' lines in the file")
    groups = [("all", rows)]
    if tuned:
        groups = [("tuned on", [r for r in rows if r[0] in tuned]),
                  ("not tuned on", [r for r in rows if r[0] not in tuned]), *groups]
    lines = ["mean test N-MPJPE (mm) over runs, by the rule that picks the track weight"]
    for name, group in groups:
        for every in sorted({r[1] for r in group}):
            at = [r for r in group if r[1] == every]
            cells = "  ".join(f"{k} {v:.1f}" for k, v in rules(at).items())
            lines.append(f"{name}, fraction 1/{every} ({len(at)} runs): {cells}")
    if 0.0 in rows[0][2] and 0.03 in rows[0][2]:
        worse = sum(r[2][0.0][1] > r[2][0.03][1] for r in rows)
        kept0 = sum(r[3] == 0.0 for r in rows)
        lines.append(f"weight 0 worse than 0.03 on test in {worse} of {len(rows)} fits; "
                     f"validation among all chose 0 in {kept0}")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home")
    ap.add_argument("--run", type=int, help="the training run's id")
    ap.add_argument("--seed", type=int, help="the split seed (the ablation's)")
    ap.add_argument("--everies", default="1,5,20")
    ap.add_argument("--lams", default=",".join(f"{v:g}" for v in regressor.TRACK_LAMS))
    ap.add_argument("--summarise", metavar="OUT.txt",
                    help="instead: score the rules over this script's saved outputs")
    ap.add_argument("--tuned", default="", help="--summarise: seeds a choice was tuned on, "
                    "e.g. 21,22")
    a = ap.parse_args()
    if a.summarise:
        if not Path(a.summarise).is_file():
            raise SystemExit(f"error: no such file: {a.summarise}")
        tuned = {int(v) for v in a.tuned.split(",") if v}
        print(summarise(Path(a.summarise).read_text(), tuned))
        return
    if a.home is None or a.run is None or a.seed is None:
        ap.error("--home, --run and --seed are needed (or --summarise OUT.txt)")
    lams = tuple(float(v) for v in a.lams.split(","))
    ws = Workspace.from_options(a.home)
    sessions = session_factory(open_catalogue(ws.url, upgrade=False))
    print(f"run {a.run} of {a.home}, seed {a.seed}: N-MPJPE (mm) validation / test per weight")
    for every in (int(v) for v in a.everies.split(",")):
        opts = FitOptions(split="diver", every=every, seed=a.seed, regressor="knn",
                          context=FIT_CONTEXT, track=True)
        scores = {lam: fit_at(sessions, ws, a.run, opts, lam) for lam in lams}
        # The fit's own rule over these weights (choose_track_lam: first lowest on val).
        kept = min(lams, key=lambda lam: scores[lam][0])
        print(f"fraction 1/{every}: " + ", ".join(
            f"{lam:g}: {v:.1f} / {t:.1f}" for lam, (v, t) in scores.items())
            + f"; kept {kept:g}: {scores[kept][1]:.1f}")


if __name__ == "__main__":
    main()
