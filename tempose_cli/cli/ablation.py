"""``tempose ablation``: every variant and baseline at each label fraction (Table V, Fig. 8)."""

from __future__ import annotations

import shlex
import time
from pathlib import Path

import typer
from rich.table import Table

from tempose_cli.cli.context import app, progress_bar, state
from tempose_cli.pipeline.ablation_names import (
    BASELINES,
    FIT_CONTEXT,
    FIT_REGRESSOR,
    FIT_TRACK,
    FRACTIONS,
    METRIC_NAMES,
    REGRESSORS,
    TABLE_V,
)


@app.command()
def ablation(
    ctx: typer.Context,
    variants: str = typer.Option(",".join(TABLE_V), help="Comma-separated variants to train "
                                 "and fit (cpu profile)."),
    baselines: str = typer.Option(",".join(BASELINES), help="Comma-separated baselines: mean "
                                  "(training mean pose), random (frozen random encoder), "
                                  "scratch (that encoder trained end to end); '' for none."),
    fractions: str = typer.Option(",".join(f"{f:g}" for f in FRACTIONS),
                                  help="Label fractions in (0, 1]: each keeps every "
                                  "round(1/F)-th labelled training frame."),
    split: str = typer.Option("diver", help="diver (test athletes unseen) | dive (test dives "
                              "unseen)."),
    out: Path = typer.Option(Path("ablation"), help="Folder of ablation.csv, ablation.md and "
                             "ablation.png."),
    steps: int = typer.Option(None, help="Self-supervised steps per variant (default: the "
                              "profile's; dives keep its stage-1 share)."),
    seed: int = typer.Option(0, help="Seed of training, the split and the fits."),
    repeats: int = typer.Option(1, help="Train each variant N times (seeds SEED + 1000 r, "
                                "the split and fits kept): cells become mean ± sd, to tell "
                                "a difference between variants from training noise."),
    sport: str = typer.Option("dive", help="Use the catalogued clips of this sport."),
    fit_steps: int = typer.Option(2000, help="Adam steps of each regressor fit."),
    hidden: int = typer.Option(None, help="Regressor hidden width (default: the paper's)."),
    regressor: str = typer.Option(FIT_REGRESSOR, help=f"{' | '.join(REGRESSORS)}: every "
                                  "fit's regressor (knn: k nearest labelled frames; scratch "
                                  "keeps the MLP, which it trains through)."),
    context: int = typer.Option(FIT_CONTEXT, help="Fits also see the features of the "
                                "frames D before and after each frame (not scratch, which "
                                "encodes one frame at a time)."),
    track: bool = typer.Option(FIT_TRACK, "--track/--no-track", help="knn: read each clip "
                               "as a track of labelled frames, the pose change between "
                               "frames weighed in (its weight chosen on validation)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    set_: list[str] = typer.Option(None, "--set", metavar="KEY=VALUE",
                                   help="A TrainConfig override for every variant trained, "
                                   "e.g. --set ti_swap=far (repeatable; a candidate to "
                                   "compare with the defaults)."),
    model: list[str] = typer.Option(None, "--model", metavar="KEY=VALUE",
                                    help="A ModelConfig override of the cpu profile's "
                                    "networks for every variant trained, e.g. --model "
                                    "ti_pool=avg (repeatable)."),
) -> None:
    """The paper's Table V / Fig. 8 on the catalogued labelled clips: train each variant
    (reusing finished runs), extract, fit the regressor at each label fraction, evaluate,
    and compare with the mean-pose, random-encoder and from-scratch baselines.

    Writes OUT/ablation.csv, OUT/ablation.md and OUT/ablation.png (N-MPJPE against the
    label fraction). The random and scratch baselines crop with the detector of the ours
    run (else of the first listed variant with a detector). A rerun reuses every run and
    fit the catalogue holds.

    Example: tempose ablation --variants ours,dsl --fractions 1,0.2,0.05 --out ablation
    """
    from tempose_cli.learn.device import resolve_device
    from tempose_cli.pipeline.ablation import (
        Meta,
        check_data,
        make_request,
        parse_fractions,
        parse_names,
        run_ablation,
        with_ratios,
        write_outputs,
    )

    st = state(ctx)
    req = make_request(parse_names(variants, TABLE_V, "variant"),
                       parse_names(baselines, BASELINES, "baseline"),
                       parse_fractions(fractions), split, steps, seed, sport, fit_steps, hidden,
                       regressor, context, track, set_ or (), repeats, model or ())
    sessions = st.sessions()
    check_data(sessions, req)  # no labelled clips: stop before training anything
    say = (lambda m: None) if st.json else (lambda m: st.console.print(m, highlight=False))
    t0 = time.perf_counter()
    with progress_bar(st.console, st.json) as bar:
        task = bar.add_task("ablation", total=None, info="")

        def tick(job: str, i: int, n: int | None, info: str) -> None:
            bar.update(task, description=job, completed=i, total=n, info=info)

        rows = run_ablation(sessions, st.workspace, variants=req.variants,
                            baselines=req.baselines, fractions=[1 / k for k in req.everies],
                            split=req.split, steps=req.steps, seed=req.seed, device=device,
                            say=say, sport=req.sport, fit_steps=req.fit_steps,
                            hidden=req.hidden, regressor=req.regressor,
                            context=req.context, track=req.track, progress=tick,
                            train_set=[f"{k}={v}" for k, v in req.train_set],
                            repeats=req.repeats,
                            model_set=[f"{k}={v}" for k, v in req.model_set])
    seconds = time.perf_counter() - t0
    meta = Meta(command=_command(ctx), seconds=seconds, split=req.split, steps=req.steps,
                device=str(resolve_device(device)), sport=req.sport, regressor=req.regressor,
                context=req.context, track=req.track)
    files = write_outputs(rows, out, meta)
    if st.json:
        st.emit(with_ratios(rows))
        return
    _table(st.console, rows)
    for key, path in files.items():
        st.console.print(f"  {key:>3}: {path}", soft_wrap=True, highlight=False)
    st.console.print(f"done in {seconds / 60:.1f} min", highlight=False)


def _command(ctx: typer.Context) -> str:
    """The command line: the options given on it, rebuilt from the parsed parameters."""
    root = ctx.find_root()
    parts = ["tempose"]
    if root.params.get("home"):
        parts += ["--home", shlex.quote(str(root.params["home"]))]
    parts.append("ablation")
    for name, value in ctx.params.items():
        source = ctx.get_parameter_source(name)  # typer's own click: compare by name
        if getattr(source, "name", "") == "COMMANDLINE":
            parts += [f"--{name.replace('_', '-')}", shlex.quote(str(value))]
    return " ".join(parts)


def _table(console, rows: list[dict]) -> None:  # noqa: ANN001
    from tempose_cli.pipeline.ablation import with_ratios

    table = Table(title="Test error (mm); * the fit kept the mean pose")
    for col in ("row", "fraction", "train frames", "test frames", *METRIC_NAMES.values(),
                "N-MPJPE / ours", "N-MPJPE / mean", "fit", "run"):
        table.add_column(col, justify="left" if col == "row" else "right")
    for r in with_ratios(rows):
        name = r["row"] + (f" #{r['repeat']}" if r.get("repeat") else "")
        star = "*" if r["mean_pose_kept"] else ""
        ratios = [f"{v:.2f}" if v is not None else "–"
                  for v in (r["n_mpjpe_vs_ours"], r["n_mpjpe_vs_mean"])]
        table.add_row(name, f"{r['fraction']:.3g}", str(r["train_frames"]),
                      str(r["test_frames"]), *(f"{r[m]:.1f}{star}" for m in METRIC_NAMES),
                      *ratios, str(r["fit"] or "–"), str(r["run"] or "–"))
    console.print(table)
