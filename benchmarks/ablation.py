"""The paper's Table V on one generated benchmark: every variant, same budget, same fits.

Run:  .venv/bin/python benchmarks/ablation.py --home HOME [--budget 1.0]
      [--fractions 1,0.2,0.05] [--variants ours,dsl,...] [--out benchmarks/results]

Generates a fixed-seed dive set (4 athletes x 3 dives, 256 px) into HOME, trains each
variant (`dsl`, `dsl-stn`, `dsl-stn-dec`, `ae-stn-dec`, `css-stn-dec-split`, `ours`,
`ours-no-gravity`) with the cpu profile and ``round(budget * 600)`` steps (dives: the
first two thirds are gravity pre-training where the variant has it), extracts
features, fits the same MLP on diver-split at each label fraction, and adds the
random-encoder baseline (the regressor on features of an untrained encoder behind
`ours`' detector). Prints N-MPJPE / MPJPE / P-MPJPE (mm) with each row's ratio to
`ours`, and writes ablation.md and ablation.csv to --out. Everything is recorded in
HOME's catalogue, so a rerun reuses what is done (``tempose runs compare`` shows it too).
"""

from __future__ import annotations

import argparse
import csv
import platform
import sys
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.device import resolve_device  # noqa: E402
from tempose_cli.learn.fitdata import FitOptions  # noqa: E402
from tempose_cli.learn.splits import every_from  # noqa: E402
from tempose_cli.pipeline.chain import (  # noqa: E402
    ensure_dives,
    ensure_features,
    ensure_fit,
    ensure_train,
    fit_result,
)
from tempose_cli.pipeline.train import run_config  # noqa: E402
from tempose_cli.synth.generate import SynthConfig  # noqa: E402

TABLE_V = ("dsl", "dsl-stn", "dsl-stn-dec", "ae-stn-dec", "css-stn-dec-split", "ours",
           "ours-no-gravity")
METRICS = ("n_mpjpe", "mpjpe", "p_mpjpe")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--budget", type=float, default=1.0, help="x 600 training steps per variant")
    ap.add_argument("--fractions", default="1,0.2,0.05")
    ap.add_argument("--split", default="diver", choices=("diver", "dive"))
    ap.add_argument("--variants", default=",".join(TABLE_V))
    ap.add_argument("--athletes", type=int, default=4)
    ap.add_argument("--dives", type=int, default=3)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", default="auto")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()
    ws = Workspace.from_options(args.home)
    ws.ensure()
    sessions = session_factory(open_catalogue(ws.url))
    device = resolve_device(args.device)
    t_start = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:7.0f} s] {msg}", flush=True)

    synth = SynthConfig(out_dir=ws.home / "ablation-clips", athletes=args.athletes,
                        clips=args.dives, fps=25.0, size=(args.size, args.size), seed=args.seed)
    say(f"dives: {ensure_dives(sessions, ws, synth)}")
    steps = max(10, round(args.budget * 600))
    fractions = [float(f) for f in args.fractions.split(",")]
    variants = [v.strip() for v in args.variants.split(",") if v.strip()]
    rows: list[dict] = []
    runs: dict[str, int] = {}
    for variant in variants:
        cfg = run_config("cpu", variant, "dive", {"steps": steps, "seed": args.seed,
                                                  "stage1_steps": 2 * steps // 3})
        t0 = time.perf_counter()
        run_id, reused = ensure_train(sessions, ws, cfg, device=args.device)
        runs[variant] = run_id
        took = f"trained {steps} steps in {time.perf_counter() - t0:.0f} s"
        say(f"{variant}: run {run_id} {'reused' if reused else took}")
        ensure_features(sessions, ws, run_id, device)
        rows += fits(sessions, ws, variant, run_id, fractions, "frozen", args, device, say)
    if "ours" in runs:
        rows += fits(sessions, ws, "random encoder", runs["ours"], fractions, "random",
                     args, device, say)
    write_tables(rows, fractions, Path(args.out), args, steps, time.perf_counter() - t_start)


def fits(sessions, ws, label: str, run_id: int, fractions: list[float], mode: str, args,
         device: torch.device, say) -> list[dict]:  # noqa: ANN001
    out = []
    for fraction in fractions:
        opts = FitOptions(split=args.split, every=every_from(fraction=fraction), mode=mode,
                          seed=args.seed)
        fit_id, reused = ensure_fit(sessions, ws, run_id, opts, device)
        with sessions.begin() as s:
            row = {"variant": label, "fraction": opts.fraction, **fit_result(s, fit_id)}
        say(f"  {label} fraction {opts.fraction:.3g}: fit {fit_id}{' (reused)' if reused else ''}"
            f" N-MPJPE {row['n_mpjpe']:.1f} mm")
        out.append(row)
    return out


def write_tables(rows: list[dict], fractions: list[float], out: Path, args, steps: int,
                 seconds: float) -> None:  # noqa: ANN001
    out.mkdir(parents=True, exist_ok=True)
    ref = {(r["fraction"]): r for r in rows if r["variant"] == "ours"}
    with open(out / "ablation.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["variant", "fraction", "fit", "test_frames", "mean_pose_kept", *METRICS,
                    *(f"{m}_ratio_to_ours" for m in METRICS)])
        for r in rows:
            base = ref.get(r["fraction"])
            w.writerow([r["variant"], f"{r['fraction']:.4g}", r["fit"], r["test_frames"],
                        int(r["mean_pose"]),
                        *(f"{r[m]:.2f}" for m in METRICS),
                        *(f"{r[m] / base[m]:.3f}" if base else "" for m in METRICS)])
    labels = list(dict.fromkeys(r["variant"] for r in rows))
    fr = sorted({r["fraction"] for r in rows}, reverse=True)
    lines = [f"{args.split.capitalize()}-split, {steps} self-supervised steps per variant "
             "(cpu profile), "
             f"MLP regressor; {platform.processor() or platform.machine()}, "
             f"{torch.get_num_threads()} threads, {seconds / 60:.0f} min in all.", ""]
    for metric in METRICS:
        lines += [f"**{metric.upper().replace('_', '-')}** (mm; ratio to `ours`)", "",
                  "| variant | " + " | ".join(f"fraction {f:.3g}" for f in fr) + " |",
                  "|---|" + "---|" * len(fr)]
        for label in labels:
            cells = []
            for f in fr:
                r = next((x for x in rows if x["variant"] == label and x["fraction"] == f), None)
                base = ref.get(f)
                cells.append("" if r is None else f"{r[metric]:.1f}" +
                             ("*" if r["mean_pose"] else "") +
                             (f" ({r[metric] / base[metric]:.2f})" if base else ""))
            lines.append(f"| {label} | " + " | ".join(cells) + " |")
        lines.append("")
    lines.append("\\* model selection kept the untrained regressor: no step beat the training "
                 "mean pose on the validation athlete, so the row is the mean pose.")
    text = "\n".join(lines)
    (out / "ablation.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
