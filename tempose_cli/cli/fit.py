"""``tempose fit``, ``tempose evaluate``, ``tempose probe``, ``tempose runs compare``."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from tempose_cli.cli.context import State, app, progress_bar, runs_app, state
from tempose_cli.pipeline.ablation_names import FIT_CONTEXT, FIT_REGRESSOR, FIT_TRACK

if TYPE_CHECKING:
    from tempose_cli.learn.fitdata import FitOptions

# models.metrics.METRICS by name, in its order (not imported here: it pulls in numpy).
METRIC_NAMES = {"mpjpe": "MPJPE", "n_mpjpe": "N-MPJPE", "p_mpjpe": "P-MPJPE"}
METRICS = tuple(METRIC_NAMES)


def _options(split: str, fraction: float | None, every: int | None, regressor: str | None,
             with_2d: bool, steps: int, seed: int, hidden: int | None, lr: float, batch: int,
             sport: str, mode: str = "frozen", context: int | None = 0,
             track: bool | None = False) -> FitOptions:
    """The fit's options; ``regressor`` / ``context`` / ``track`` None: knn on 2 frames
    either side, each clip as a track, for frozen features; the MLP on the frame alone
    for an encoder trained end to end."""
    from tempose_cli.learn.fitdata import FitOptions
    from tempose_cli.learn.splits import SPLITS, every_from

    end_to_end = mode in ("finetune", "scratch")
    if regressor is None:
        regressor = "mlp" if end_to_end else FIT_REGRESSOR
    if context is None:
        context = 0 if end_to_end else FIT_CONTEXT
    if track is None:
        track = FIT_TRACK and regressor == "knn"
    if track and regressor != "knn":
        raise typer.BadParameter(f"--track needs --regressor knn, not {regressor}")

    if split not in SPLITS:
        raise typer.BadParameter(f"--split must be one of {', '.join(SPLITS)}, got {split!r}")
    if regressor not in ("mlp", "resmlp", "knn"):
        raise typer.BadParameter(f"--regressor must be mlp, resmlp or knn, got {regressor!r}")
    try:
        k = every_from(fraction, every)
    except ValueError as e:
        raise typer.BadParameter(str(e)) from None
    if context < 0:
        raise typer.BadParameter(f"--context must be >= 0, got {context}")
    return FitOptions(split=split, every=k, regressor=regressor, with_2d=with_2d, steps=steps,
                      seed=seed, hidden=hidden, lr=lr, batch=batch, sport=sport, mode=mode,
                      context=context, track=track)


def _metrics_line(r: dict) -> str:
    return "  ".join(f"{METRIC_NAMES[k]} {r[k]:.1f} mm" for k in METRICS)


@app.command()
def fit(
    ctx: typer.Context,
    run: int = typer.Option(..., help="Training run whose features to regress from."),
    split: str = typer.Option("diver", help="diver (test athletes unseen) | dive (test dives "
                              "unseen)."),
    fraction: float = typer.Option(None, help="Label fraction F: keep every round(1/F)-th "
                                   "labelled frame of each training clip."),
    every: int = typer.Option(None, help="Keep every K-th labelled frame (instead of "
                              "--fraction)."),
    regressor: str = typer.Option(None, help="knn (k nearest labelled frames, k chosen on "
                                  "validation; the default on frozen features) | mlp (the "
                                  "paper's 2 x 2048; the default with --finetune, scratch) | "
                                  "resmlp (3 residual blocks)."),
    with_2d: bool = typer.Option(False, "--with-2d", help="Concatenate the labelled 2D pose."),
    context: int = typer.Option(None, help="Also the features of the frames D before and "
                                f"after each frame (0: the frame alone; default {FIT_CONTEXT} "
                                "on frozen features, 0 with --finetune, scratch)."),
    track: bool = typer.Option(None, "--track/--no-track", help="knn: read each clip as a "
                               "track of labelled frames, weighing the pose change between "
                               "frames (its weight chosen on validation among 0.03, 0.1 "
                               "and 0.3); default on with knn."),
    finetune: bool = typer.Option(False, "--finetune", help="Train the encoder end to end "
                                  "with the regressor, from the run's weights (Fig. 9)."),
    baseline: str = typer.Option(None, help="Supervised baseline instead: random (frozen "
                                 "random encoder) | scratch (random encoder trained end to "
                                 "end)."),
    steps: int = typer.Option(2000, help="Adam steps (early stopping on validation)."),
    seed: int = typer.Option(0, help="Seed of the split, the initialisation and batches."),
    hidden: int = typer.Option(None, help="Hidden width (default: the paper's 2048 / 1024)."),
    lr: float = typer.Option(1e-3, help="Adam learning rate of the regressor."),
    batch: int = typer.Option(256, help="Labelled frames per step."),
    sport: str = typer.Option("dive", help="Fit on the labelled clips of this sport."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
) -> None:
    """Fit a 3D pose regressor on a training run's features for a split and label fraction.

    Records a fit run (checkpoint, split membership, labelled frame counts) and its
    test metrics in mm. Needs the run's features: tempose extract --run R.

    Example: tempose fit --run 1 --split diver --fraction 0.1
    """
    from tempose_cli.learn.device import resolve_device
    from tempose_cli.pipeline.fit import run_fit

    st = state(ctx)
    if finetune and baseline:
        raise typer.BadParameter("--finetune and --baseline exclude each other")
    if baseline not in (None, "random", "scratch"):
        raise typer.BadParameter(f"--baseline must be random or scratch, got {baseline!r}")
    mode = "finetune" if finetune else (baseline or "frozen")
    opts = _options(split, fraction, every, regressor, with_2d, steps, seed, hidden, lr, batch,
                    sport, mode, context, track)
    with progress_bar(st.console, st.json) as bar:
        # knn has no steps: an indeterminate bar rather than one stuck at 0/steps.
        task = bar.add_task(f"fitting {opts.regressor} ({mode}, {split}-split, every "
                            f"{opts.every})", total=None if opts.regressor == "knn" else steps,
                            info="")
        fit_id = run_fit(st.sessions(), st.workspace, run, opts, resolve_device(device),
                         lambda i, n, info: bar.update(task, completed=i, total=n, info=info),
                         log=lambda m: None if st.json else st.console.print(m))
    _show_evaluation(st, fit_id)


def _show_evaluation(st: State, fit_id: int, summary: dict | None = None) -> None:
    from tempose_cli.pipeline.runs import fit_record

    with st.sessions().begin() as s:
        rec = fit_record(s, st.workspace, fit_id)
    best_val = rec.pop("best_val_mpjpe_mm")
    if summary is not None:
        rec["export"] = summary.get("export")
    if st.json:
        st.emit(rec)
        return
    n = rec["labelled_frames"]
    st.console.print(f"fit {fit_id} ({rec['mode']}, {rec['split']}-split, every {rec['every']}: "
                     f"{n['train']} labelled training frames) on {rec['n_frames']} test frames: "
                     f"{_metrics_line(rec)}")
    if rec["best_step"] == 0 and best_val is not None:
        # The regressor starts at the training mean pose; step 0 kept = no step did better
        # on the validation clips: the features did not generalise to them.
        st.console.print("warning: no training step beat the mean pose on the validation "
                         "clips; this fit predicts the training mean pose", style="yellow")
    table = Table(title=f"fit {fit_id}: per joint (mm)")
    table.add_column("joint")
    for k in METRICS:
        table.add_column(METRIC_NAMES[k], justify="right")
    from models.skeleton import DIVE14

    for j in DIVE14:
        table.add_row(j, *(f"{rec['per_joint'][j][k]:.1f}" for k in METRICS))
    st.console.print(table)
    if rec.get("export"):
        st.console.print(f"predictions: {rec['export']}")


@app.command()
def evaluate(
    ctx: typer.Context,
    fit_id: int = typer.Argument(..., help="Fit run id (tempose runs list --kind fit)."),
    export_predictions: Path = typer.Option(
        None, help="CSV of predicted and true joints (m, pelvis-centred) per test frame."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
) -> None:
    """Re-evaluate a fit on its test clips: MPJPE, N-MPJPE, P-MPJPE (mm), per joint.

    Example: tempose evaluate 7 --export-predictions fit7.csv
    """
    from tempose_cli.learn.device import resolve_device
    from tempose_cli.pipeline.evaluate import evaluate_fit

    st = state(ctx)
    summary = evaluate_fit(st.sessions(), st.workspace, fit_id, resolve_device(device),
                           export_predictions.absolute() if export_predictions else None)
    _show_evaluation(st, fit_id, summary)


@app.command()
def probe(
    ctx: typer.Context,
    run: int = typer.Option(..., help="Training run (its features: tempose extract)."),
    split: str = typer.Option("diver", help="Split of the two regressors (diver | dive)."),
    fraction: float = typer.Option(None, help="Label fraction of the regressors."),
    every: int = typer.Option(None, help="Keep every K-th labelled frame."),
    regressor: str = typer.Option("mlp", help="mlp | resmlp | knn."),
    steps: int = typer.Option(1000, help="Adam steps per regressor."),
    seed: int = typer.Option(0, help="Seed of KMeans, the split and the regressors."),
    hidden: int = typer.Option(None, help="Hidden width (default: the paper's)."),
    max_frames: int = typer.Option(4000, help="Frames clustered (a seeded subsample)."),
    sport: str = typer.Option("dive", help="Clips of this sport."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
) -> None:
    """Disentanglement probes: KMeans on z_tv and z_ti against athlete identity, the
    share of each latent's variance within clips (z_ti should be near 0), and a pose
    regressor on z_ti against one on z_tv (paper section 4.4.3).

    Example: tempose probe --run 1
    """
    from tempose_cli.learn.device import resolve_device
    from tempose_cli.pipeline.probe import run_probe

    st = state(ctx)
    opts = _options(split, fraction, every, regressor, False, steps, seed, hidden, 1e-3, 256,
                    sport)
    with progress_bar(st.console, st.json) as bar:
        task = bar.add_task("probing", total=None, info="")
        res = run_probe(st.sessions(), st.workspace, run, opts, resolve_device(device),
                        max_frames, lambda d, i, n, info: bar.update(
                            task, description=d, completed=i, total=n, info=info))
    if st.json:
        st.emit(res)
        return
    table = Table(title=f"run {run}: disentanglement probes")
    for col in ("latent", "KMeans athlete accuracy", "chance", "variance within clips",
                "MPJPE", "N-MPJPE", "P-MPJPE"):
        table.add_column(col, justify="right" if col != "latent" else "left")
    for p in ("z_tv", "z_ti"):
        k, r = res["kmeans"][p], res["regression"][p]
        table.add_row(p, f"{k['accuracy']:.3f}", f"{k['chance']:.3f}",
                      f"{k['within_clip']:.0%}", *(f"{r[m]:.1f} mm" for m in METRICS))
    st.console.print(table)


@runs_app.command("compare")
def runs_compare(
    ctx: typer.Context,
    metric: str = typer.Option("n_mpjpe", help="mpjpe | n_mpjpe | p_mpjpe."),
    split: str = typer.Option(None, help="Only this split (diver | dive)."),
) -> None:
    """Fits side by side: variants x label fractions, one table per split (Tables I, V).

    Example: tempose runs compare --metric n_mpjpe
    """
    from tempose_cli.pipeline.compare import compare

    st = state(ctx)
    if metric not in METRICS:
        raise typer.BadParameter(f"--metric must be one of {', '.join(METRICS)}")
    with st.sessions().begin() as s:
        tables = compare(s, metric, split)
    if st.json:
        st.emit(tables)
        return
    if not tables:
        st.console.print("no evaluated fits yet (make one: tempose fit --run R ...)")
    for t in tables:
        table = Table(title=f"{t['split']}-split: {METRIC_NAMES[metric]} (mm) by label fraction")
        table.add_column("variant")
        for f in t["fractions"]:
            table.add_column(f, justify="right")
        for row in t["rows"]:
            table.add_row(row["label"], *(
                f"{row['cells'][f]:.1f}" if row["cells"].get(f) is not None else "–"
                for f in t["fractions"]))
        st.console.print(table)
