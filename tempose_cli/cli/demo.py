"""``tempose demo``: the main job on built-in demo data, end to end, resumable."""

from __future__ import annotations

import time

import typer
from rich.progress import Progress
from rich.table import Table

from tempose_cli.cli.context import app, progress_bar, state
from tempose_cli.pipeline.ablation_names import FIT_CONTEXT, FIT_REGRESSOR, FIT_TRACK

FRACTIONS = (0.2, 0.05)  # label fractions the demo fits (every 5th and every 20th frame)


@app.command()
def demo(
    ctx: typer.Context,
    athletes: int = typer.Option(
        8, min=3, help="Generated athletes (diver-split needs 3: train, validation, test; "
        "with 4, two training athletes were too few for any method to beat the mean pose)."),
    dives: int = typer.Option(2, min=1, help="Dives per athlete."),
    size: int = typer.Option(
        256, help="Frame size (square) of the generated dives (the whole flight is in view, "
        "so at 128 px the diver is ~10 px tall and hard to find)."),
    steps: int = typer.Option(
        900, help="Self-supervised training steps (cpu profile; the first 600 are stage 1)."),
    seed: int = typer.Option(0, help="Seed of the generated dives and of training."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
) -> None:
    """The whole pipeline on generated dives: synth, ingest, train, extract, fit, evaluate,
    analyze, export.

    Generates dives, ingests them, trains `ours` (gravity pre-training, then DSL),
    extracts features, fits the pose regressor (the k nearest labelled frames) on
    diver-split at label fractions 0.2 and 0.05,
    analyses one test dive (CSV, TRC, JSON, overlay MP4, plots) and exports the other
    test dives without video. Everything goes into the workspace (--home); running it
    again reuses what the catalogue says is done.

    Example: tempose demo --steps 900
    """
    from tempose_cli.learn.device import resolve_device
    from tempose_cli.learn.fitdata import FitOptions
    from tempose_cli.learn.splits import every_from
    from tempose_cli.pipeline.analyze import AnalyzeOptions, analyze
    from tempose_cli.pipeline.chain import (
        ensure_dives,
        ensure_features,
        ensure_fit,
        ensure_train,
        fit_result,
    )
    from tempose_cli.pipeline.train import run_config
    from tempose_cli.synth.generate import SynthConfig

    st = state(ctx)
    ws = st.workspace
    sessions = st.sessions()
    dev = resolve_device(device)
    say = st.console.print if not st.json else (lambda *a, **k: None)
    t0 = time.perf_counter()

    def bar() -> Progress:
        return progress_bar(st.console, st.json, transient=True)

    cfg = SynthConfig(out_dir=ws.home / "demo-clips", athletes=athletes, clips=dives, fps=25.0,
                      size=(size, size), seed=seed)
    with bar() as b:
        task = b.add_task("1/6 dives", total=None, info="")
        data = ensure_dives(sessions, ws, cfg, lambda i, n, what: b.update(
            task, completed=i, total=n, description=f"1/6 {what}"))
    say(f"1/6 {data['files']} dives in {cfg.out_dir} ({data['generated']} generated, "
        f"{data['ingested']} ingested, {data['catalogued']} already catalogued)")

    rc = run_config("cpu", "ours", "dive", {"steps": steps, "seed": seed,
                                            "stage1_steps": min(600, max(1, 2 * steps // 3))})
    with bar() as b:
        task = b.add_task("2/6 training", total=steps, info="")
        run_id, reused = ensure_train(
            sessions, ws, rc, device, lambda i, n, stage, terms: b.update(
                task, completed=i, description=f"2/6 training (stage {stage})",
                info=f"recon={terms.get('recon', 0):.4f}"))
    say(f"2/6 {'reusing' if reused else 'trained'} run {run_id} ({steps} steps)")
    with bar() as b:
        b.add_task("3/6 extracting features", total=None, info="")
        n = ensure_features(sessions, ws, run_id, dev)
    say(f"3/6 features of run {run_id}: {n} clips extracted")

    results = []
    for fraction in FRACTIONS:
        opts = FitOptions(split="diver", every=every_from(fraction=fraction), seed=seed,
                          regressor=FIT_REGRESSOR, context=FIT_CONTEXT, track=FIT_TRACK)
        with bar() as b:
            task = b.add_task(f"4/6 fit, fraction {fraction:g}", total=opts.steps, info="")

            def tick(i: int, n: int, info: str, b: Progress = b, task: int = task) -> None:
                b.update(task, completed=i, total=n, info=info)

            fit_id, reused = ensure_fit(sessions, ws, run_id, opts, dev, tick)
        with sessions.begin() as s:
            results.append({"fraction": fraction, **fit_result(s, fit_id)})
        say(f"4/6 {'reusing' if reused else 'fitted'} fit {fit_id} (fraction {fraction:g})")

    # The analysed dive uses the fit that did best on the validation athlete (never the
    # test metrics: that would be selecting on the test set).
    best = min(results, key=lambda r: r["val_mpjpe"] if r["val_mpjpe"] is not None else 1e9)
    test_ids = list(best["test"])
    with bar() as b:
        b.add_task(f"5/6 analysing dive {test_ids[0]}", total=None, info="")
        shown = analyze(sessions, ws, test_ids[0], AnalyzeOptions(
            fit_id=best["fit"], command="tempose demo"), dev)
    say(f"5/6 analysed dive {test_ids[0]}: {shown['folder']}")
    exported = []
    with bar() as b:
        task = b.add_task("6/6 exporting test dives", total=len(test_ids) - 1, info="")
        for cid in test_ids[1:]:
            exported.append(analyze(sessions, ws, cid, AnalyzeOptions(
                fit_id=best["fit"], video=False, command="tempose demo"), dev)["folder"])
            b.advance(task)
    say(f"6/6 exported {len(exported)} more test dives (no video) to {ws.exports_dir}")

    summary = {"home": str(ws.home), "run": run_id, "fits": results,
               "analysis": shown, "exports": exported,
               "seconds": round(time.perf_counter() - t0, 1)}
    if st.json:
        st.emit(summary)
        return
    table = Table(title="Diver-split test error (mm), athletes never seen by the regressor")
    for col in ("fit", "label fraction", "labelled train frames", "test frames", "MPJPE",
                "N-MPJPE", "P-MPJPE"):
        table.add_column(col, justify="right")
    for r in results:
        table.add_row(str(r["fit"]), f"{r['fraction']:g}", str(r["train_frames"]),
                      str(r["test_frames"]), f"{r['mpjpe']:.1f}", f"{r['n_mpjpe']:.1f}",
                      f"{r['p_mpjpe']:.1f}")
    st.console.print(table)
    if any(r["mean_pose"] for r in results):
        say("note: where no regressor step beat the mean pose on the validation athlete, "
            "the fit kept the mean pose (see benchmarks/RESULTS.md)", style="yellow")
    files = shown["files"]
    for key in ("csv", "trc", "json", "overlay", "angles_png", "cg_png", "rotation_png"):
        if key in files:
            st.console.print(f"  {key:>12}: {files[key]}", soft_wrap=True)
    st.console.print(f"done in {summary['seconds']} s. Compare runs with: "
                     f"tempose --home {ws.home} runs compare", soft_wrap=True)
