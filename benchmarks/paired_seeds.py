"""Two settings of one row compared seed by seed, every training of each pooled.

Run:  .venv/bin/python benchmarks/paired_seeds.py --row ours \
          --a 21:A21/ablation.csv --a 22:A22/ablation.csv,A22b/ablation.csv \
          --b 21:B21/ablation.csv --b 22:B22/ablation.csv [--names "swap alone,pulled"]

Each ``--a`` / ``--b`` is SEED:CSV[,CSV...], the `tempose ablation` outputs holding that
setting's trainings on that seed (give each training once: a folder that reused a run
of another names it again). Prints, per seed and label fraction, the mean N-MPJPE of
each setting over its trainings, B - A, and that difference in standard errors of the
training noise; then the mean of the per-seed differences with its standard error. The
noise is the pooled sample sd over every (setting, seed) trained more than once
(``pooled_noise`` of the ablation), so two or three trainings a cell are enough.
"""

from __future__ import annotations

import argparse
import math
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tempose_cli.pipeline.ablation import pooled_noise, read_csv, summarise  # noqa: E402


def trainings(spec: list[str], row: str, arm: str) -> dict[int, list[dict]]:
    """SEED:CSV[,CSV] -> {seed: the rows of ``row``, renamed ``arm/seed``, one per
    training, repeat and fraction}."""
    out: dict[int, list[dict]] = {}
    for item in spec:
        seed, _, files = item.partition(":")
        if not seed.isdigit() or not files:
            raise SystemExit(f"error: {item!r} is not SEED:CSV[,CSV...]")
        paths = [Path(p) for p in files.split(",")]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise SystemExit(f"error: no such file: {missing[0]}")
        found = [{**r, "row": f"{arm}/{seed}", "kind": "variant", "repeat": (i, r["repeat"])}
                 for i, path in enumerate(paths) for r in read_csv(path) if r["row"] == row]
        if not found:  # per item: a seed named twice must not hide an empty second item
            raise SystemExit(f"error: no {row!r} rows for seed {seed} in {files}")
        out.setdefault(int(seed), []).extend(found)
    return out


def compare(a: dict[int, list[dict]], b: dict[int, list[dict]],
            metric: str = "n_mpjpe") -> dict:
    """Per seed and fraction: (mean A, n A, mean B, n B, B - A, (B - A) / se); and per
    fraction the mean over seeds of B - A with its standard error."""
    seeds = sorted(set(a) & set(b))
    if not seeds:
        raise SystemExit("error: no seed has both settings")
    rows = [r for s in seeds for r in (*a[s], *b[s])]
    noise = pooled_noise(rows, metric)
    means = {(r["row"], r["fraction"]): r for r in summarise(rows)}
    fractions = sorted({r["fraction"] for r in rows}, reverse=True)
    per_seed: dict[int, dict[float, tuple]] = {}
    overall: dict[float, tuple[float, float]] = {}
    for f in fractions:
        diffs, var = [], 0.0
        for s in seeds:
            ra, rb = means.get((f"a/{s}", f)), means.get((f"b/{s}", f))
            if ra is None or rb is None:
                continue
            d = rb[metric] - ra[metric]
            se = (noise[f][0] * math.sqrt(1 / ra["repeats"] + 1 / rb["repeats"])
                  if f in noise else math.nan)
            per_seed.setdefault(s, {})[f] = (ra[metric], ra["repeats"], rb[metric],
                                             rb["repeats"], d, d / se if se > 0 else math.nan)
            diffs.append(d)
            var += se ** 2
        if diffs:
            overall[f] = (sum(diffs) / len(diffs), math.sqrt(var) / len(diffs))
    return {"noise": noise, "per_seed": per_seed, "overall": overall, "fractions": fractions}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--row", default="ours", help="the ablation row to compare")
    ap.add_argument("--a", action="append", required=True, metavar="SEED:CSV[,CSV]")
    ap.add_argument("--b", action="append", required=True, metavar="SEED:CSV[,CSV]")
    ap.add_argument("--names", default="A,B", help="the two settings' names, comma-separated")
    args = ap.parse_args()
    na, nb = (args.names.split(",") + ["B"])[:2]
    res = compare(trainings(args.a, args.row, "a"), trainings(args.b, args.row, "b"))
    fr = res["fractions"]
    noise = res["noise"]
    print(f"`{args.row}` N-MPJPE (mm) at label fractions " + " / ".join(f"{f:g}" for f in fr))
    print("training noise (pooled sd, dof): " + " / ".join(
        f"{noise[f][0]:.1f} ({noise[f][1]})" if f in noise else "n/a" for f in fr))
    print(f"| seed | {na} (trainings) | {nb} (trainings) | {nb} - {na} (in se) |")
    print("|---|---|---|---|")
    for s, cells in res["per_seed"].items():
        c = [cells[f] for f in fr if f in cells]
        print(f"| {s} | " + " / ".join(f"{x[0]:.1f}" for x in c) + f" ({c[0][1]}) | "
              + " / ".join(f"{x[2]:.1f}" for x in c) + f" ({c[0][3]}) | "
              + " / ".join(f"{x[4]:+.1f} ({x[5]:+.1f})" for x in c) + " |")
    print(f"mean over {len(res['per_seed'])} seeds of {nb} - {na}: " + " / ".join(
        f"{res['overall'][f][0]:+.1f} ± {res['overall'][f][1]:.1f}" for f in fr
        if f in res["overall"]) + " mm (± one standard error)")


if __name__ == "__main__":
    main()
