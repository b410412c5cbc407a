"""``tempose demo``: the main job on built-in demo data, end to end, resumable."""

from __future__ import annotations

import time

import typer
from rich.progress import Progress
from sqlalchemy import select

from store.schema import Run
from tempose_cli.app import app, state
from tempose_cli.commands import progress_bar


@app.command()
def demo(
    ctx: typer.Context,
    athletes: int = typer.Option(3, min=2, help="Generated athletes."),
    dives: int = typer.Option(3, min=1, help="Dives per athlete."),
    size: int = typer.Option(
        256, help="Frame size (square) of the generated dives (the whole flight is in view, "
        "so at 128 px the diver is ~10 px tall and hard to find)."),
    steps: int = typer.Option(
        900, help="Self-supervised training steps (cpu profile; the first 600 are stage 1)."),
    seed: int = typer.Option(0, help="Seed of the generated dives and of training."),
) -> None:
    """Generate dives, ingest them, train the self-supervised model and extract features.

    Everything goes into the workspace (--home); running it again reuses what is done.

    Example: tempose demo --steps 900
    """
    from tempose_cli.extract import extract
    from tempose_cli.ingest import IngestOptions, discover, ingest_file
    from tempose_cli.synth.generate import SynthConfig, default_jobs, generate, plan
    from tempose_cli.train import resolve_device, run_config, train_command

    st = state(ctx)
    ws = st.workspace
    sessions = st.sessions()
    say = st.console.print if not st.json else (lambda *a, **k: None)
    t0 = time.perf_counter()

    def bar() -> Progress:
        return progress_bar(st.console, st.json, transient=True)

    clips_dir = ws.home / "demo-clips"
    cfg = SynthConfig(out_dir=clips_dir, athletes=athletes, clips=dives, fps=25.0,
                      size=(size, size), seed=seed)
    stems = [stem for stem, _, _ in plan(cfg)]
    if all((clips_dir / f"{s}.pose.csv").exists() for s in stems):
        say(f"1/4 dives already generated in {clips_dir}")
    else:
        with bar() as b:
            task = b.add_task("1/4 generating dives", total=len(stems), info="")
            generate(cfg, on_clip=lambda r: b.advance(task), jobs=default_jobs())
        say(f"1/4 generated {len(stems)} dives in {clips_dir}")

    files, _ = discover([clips_dir])
    counts = {"ingested": 0, "catalogued": 0}
    with bar() as b:
        task = b.add_task("2/4 ingesting", total=len(files), info="")
        for f in files:
            counts[ingest_file(sessions, ws, f, IngestOptions()).status] += 1
            b.advance(task)
    say(f"2/4 catalogue: {counts['ingested']} clips ingested, {counts['catalogued']} already there")

    rc = run_config("cpu", "ours", "dive", {"steps": steps, "seed": seed,
                                            "stage1_steps": min(600, max(1, 2 * steps // 3))})
    with sessions.begin() as s:
        done = [r for r in s.scalars(select(Run).where(Run.kind == "train", Run.status == "done"))
                if r.config == rc.to_dict()]
        run_id = done[-1].id if done else None
    if run_id is not None:
        say(f"3/4 reusing training run {run_id}")
    else:
        with bar() as b:
            task = b.add_task("3/4 training", total=steps, info="")
            run_id = train_command(
                sessions, ws, cfg=rc, resume=None, steps=None, device_name="auto",
                clip_ids=None, perceptual_weights=None, log=lambda m: None,
                progress=lambda i, n, stage, terms: b.update(
                    task, completed=i, description=f"3/4 training (stage {stage})",
                    info=f"recon={terms.get('recon', 0):.4f}"))
        say(f"3/4 trained run {run_id} ({steps} steps)")
    written = extract(sessions, ws, run_id, None, resolve_device("auto"))
    with sessions.begin() as s:
        run_dir = ws.abs(s.get(Run, run_id).directory)
    say(f"4/4 features of {len(written)} clips in {run_dir / 'features'}")
    summary = {"home": str(ws.home), "clips": len(files), "run": run_id,
               "run_dir": str(run_dir), "images": str(run_dir / "images"),
               "seconds": round(time.perf_counter() - t0, 1)}
    if st.json:
        st.emit(summary)
    else:
        say(f"done in {summary['seconds']} s. Look at the training images in "
            f"{summary['images']}; list the catalogue with: tempose --home {ws.home} clips list")
