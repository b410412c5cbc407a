"""The paper's Table V on the standard generated benchmark: `tempose ablation` on it.

Run:  .venv/bin/python benchmarks/ablation.py --home HOME [--seed 0] [--steps N]
      [--variants ours,dsl,...] [--baselines mean,random,scratch]
      [--fractions 1,0.2,0.05] [--split diver] [--fit-steps 2000]
      [--regressor knn|mlp] [--context 2] [--set KEY=VALUE ...] [--model KEY=VALUE ...]
      [--repeats N]
      [--bystander] [--appearance swimsuit|bodysuit] [--unlabelled-athletes N]
      [--out benchmarks/results]

Generates the standard set (12 athletes x 4 dives, 256 px, 25 fps, seed --seed) into
HOME/ablation-clips (with --bystander, a second person moving on each diver's
platform: tempose_cli/synth/bystander.py; with --appearance bodysuit, athletes in
suits over arms and legs, into HOME/ablation-clips-bodysuit) and ingests it, then runs what
``tempose --home HOME ablation`` runs (tempose_cli/pipeline/ablation.py): every
variant trained with the cpu profile (default steps, or --steps N keeping the
profile's stage-1 share) on all clips without labels,
features extracted, the same regressor fitted at each label fraction (by default knn
with context 2), and the mean-pose, random-encoder and from-scratch baselines. Writes
ablation.csv, ablation.md and ablation.png to --out. Everything is recorded in HOME's
catalogue, so a rerun reuses what is done; the ablation uses every labelled dive clip
HOME holds, so give it a home of its own. With --unlabelled-athletes N, N more
athletes' 4 dives each (athletes 13 .. 12 + N of the same seed, into
HOME/unlabelled-clips) are catalogued without their labels (moved to
HOME/unlabelled-labels before ingest): the self-supervised training sees them, the
fits, the split and the test clips are the standard set's.
"""

from __future__ import annotations

import argparse
import shlex
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.errors import TemposeError  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.device import resolve_device  # noqa: E402
from tempose_cli.pipeline.ablation import (  # noqa: E402
    BASELINES,
    TABLE_V,
    Meta,
    parse_fractions,
    parse_names,
    run_ablation,
    write_outputs,
)
from tempose_cli.pipeline.ablation_names import FIT_CONTEXT, FIT_REGRESSOR  # noqa: E402
from tempose_cli.pipeline.chain import ensure_dives  # noqa: E402
from tempose_cli.synth.athletes import APPEARANCES  # noqa: E402
from tempose_cli.synth.generate import SynthConfig  # noqa: E402

ATHLETES, DIVES, SIZE, FPS = 12, 4, 256, 25.0  # the standard benchmark (issue 11, item 2)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--seed", type=int, default=0, help="generated dives, training, split, fits")
    ap.add_argument("--steps", type=int, default=None,
                    help="self-supervised steps per variant (default: the cpu profile's)")
    ap.add_argument("--variants", default=",".join(TABLE_V))
    ap.add_argument("--baselines", default=",".join(BASELINES))
    ap.add_argument("--fractions", default="1,0.2,0.05")
    ap.add_argument("--split", default="diver", choices=("diver", "dive"))
    ap.add_argument("--fit-steps", type=int, default=2000, help="Adam steps of each fit")
    ap.add_argument("--regressor", default=FIT_REGRESSOR, help="knn | mlp | resmlp")
    ap.add_argument("--context", type=int, default=FIT_CONTEXT,
                    help="fits see the features of the frames D before and after too")
    ap.add_argument("--no-track", action="store_true",
                    help="knn frame by frame, not each clip as a track")
    ap.add_argument("--device", default="auto")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="TrainConfig override of every variant trained (repeatable)")
    ap.add_argument("--model", action="append", default=[], metavar="KEY=VALUE",
                    help="ModelConfig override of every variant trained (repeatable)")
    ap.add_argument("--repeats", type=int, default=1,
                    help="trainings of each variant (seeds seed + 1000 r): mean ± sd")
    ap.add_argument("--bystander", action="store_true",
                    help="the standard set with a second person moving on each platform")
    ap.add_argument("--appearance", default="swimsuit", choices=APPEARANCES,
                    help="the athletes' wardrobe (tempose synth --appearance)")
    ap.add_argument("--unlabelled-athletes", type=int, default=0, metavar="N",
                    help="N more athletes' dives in the training, without labels")
    ap.add_argument("--out", default="benchmarks/results")
    args = ap.parse_args()
    if args.unlabelled_athletes < 0:
        raise TemposeError(f"--unlabelled-athletes must be >= 0, got {args.unlabelled_athletes}")
    variants = parse_names(args.variants, TABLE_V, "variant")
    baselines = parse_names(args.baselines, BASELINES, "baseline")
    fractions = parse_fractions(args.fractions)
    ws = Workspace.from_options(args.home)
    ws.ensure()
    sessions = session_factory(open_catalogue(ws.url))
    t_start = time.perf_counter()

    def say(msg: str) -> None:
        print(f"[{time.perf_counter() - t_start:7.0f} s] {msg}", flush=True)

    folder = {a: "ablation-clips" + ("" if a == "swimsuit" else f"-{a}") for a in APPEARANCES}
    other = [f for a, f in folder.items() if a != args.appearance and (ws.home / f).exists()]
    if other:  # the ablation uses every labelled clip of the home: one wardrobe per home
        raise TemposeError(f"{ws.home}: holds {other[0]}/ already; give --appearance "
                           f"{args.appearance} a home of its own")
    synth = SynthConfig(out_dir=ws.home / folder[args.appearance], athletes=ATHLETES,
                        clips=DIVES, fps=FPS, size=(SIZE, SIZE), seed=args.seed,
                        bystander=args.bystander, appearance=args.appearance)
    say(f"dives: {ensure_dives(sessions, ws, synth)}")
    if args.unlabelled_athletes:
        more = replace(synth, out_dir=ws.home / "unlabelled-clips", first_athlete=ATHLETES,
                       athletes=ATHLETES + args.unlabelled_athletes)
        say("unlabelled dives: "
            f"{ensure_dives(sessions, ws, more, withhold_labels=ws.home / 'unlabelled-labels')}")
    rows = run_ablation(sessions, ws, variants=variants, baselines=baselines,
                        fractions=fractions, split=args.split, steps=args.steps,
                        seed=args.seed, device=args.device, say=say, fit_steps=args.fit_steps,
                        regressor=args.regressor, context=args.context,
                        track=not args.no_track, train_set=args.set, repeats=args.repeats,
                        model_set=args.model)
    meta = Meta(command=" ".join(shlex.quote(a) for a in ["benchmarks/ablation.py",
                                                          *sys.argv[1:]]),
                seconds=time.perf_counter() - t_start, split=args.split, steps=args.steps,
                device=str(resolve_device(args.device)), regressor=args.regressor,
                context=args.context, track=not args.no_track and args.regressor == "knn")
    files = write_outputs(rows, Path(args.out), meta)
    print(files["md"].read_text())
    say(f"wrote {', '.join(str(p) for p in files.values())}")


if __name__ == "__main__":
    try:
        main()
    except TemposeError as e:
        sys.exit(f"error: {e}")
