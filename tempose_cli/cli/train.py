"""``tempose train``, ``tempose extract``, ``tempose transfer``, ``tempose runs list``."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from models.variants import VARIANTS
from tempose_cli.cli.context import app, clip_ids_option, progress_bar, runs_app, state
from tempose_cli.core.errors import TemposeError


@app.command()
def train(
    ctx: typer.Context,
    variant: str = typer.Option("ours", help=f"One of: {', '.join(VARIANTS)}."),
    profile: str = typer.Option("cpu", help="cpu (minutes on a laptop) | paper (GPU sizes)."),
    sport: str = typer.Option("dive", help="Train on the catalogued clips of this sport."),
    steps: int = typer.Option(None, help="Total steps (default: the profile's)."),
    stage1_steps: int = typer.Option(None, help="Dives: steps of gravity pre-training."),
    clips: str = typer.Option(None, help="Only these clip ids, e.g. 1,2 or 1-10,14."),
    resume: int = typer.Option(None, help="Continue this run from its checkpoint."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
    seed: int = typer.Option(None, help="Random seed (default 0)."),
    lr: float = typer.Option(None, help="Adam rate of encoder and decoder (default 3e-4)."),
    probe_every: int = typer.Option(
        None, help="Ridge probe z_tv -> 3D pose on held-out athletes every N steps, into "
        "losses.csv and the progress bar, when the clips hold labels of >= 3 athletes "
        "(default 250; 0: off)."),
    ema_decay: float = typer.Option(
        None, help="Keep an exponential moving average of the weights with this decay "
        "and save it as the run's model (default 0.995; 0: off, the last step's weights)."),
    weak_2d: bool = typer.Option(False, "--weak-2d", help="Also regress 2D labels from z_tv."),
    perceptual_weights: Path = typer.Option(
        None, help="Local ResNet-18 state_dict for the perceptual loss (none is downloaded; "
        "without it a fixed seeded random ResNet-18 is used and recorded)."),
) -> None:
    """Self-supervised training: detector, split encoder and decoder (two stages for dives).

    Writes runs/<id>/checkpoint.pt, losses.csv and images/step*.png (input with box,
    crop, z_tv input, decoded crop, mask, re-synthesised frame). Scale out with
    torchrun --nproc-per-node K -m tempose_cli train ...

    Example: tempose train --variant ours --profile cpu --steps 1500
    """
    from tempose_cli.pipeline.runs import train_record
    from tempose_cli.pipeline.train import run_config, train_command

    st = state(ctx)
    if perceptual_weights is not None and not perceptual_weights.is_file():
        raise TemposeError(f"{perceptual_weights}: no such weights file")
    cfg = None
    if resume is None:
        try:
            cfg = run_config(profile, variant, sport, {
                "steps": steps, "stage1_steps": stage1_steps, "seed": seed, "lr": lr,
                "weak_2d": weak_2d or None, "probe_every": probe_every,
                "ema_decay": ema_decay})
        except ValueError as e:
            raise typer.BadParameter(str(e)) from None
    with progress_bar(st.console, st.json) as bar:
        task = bar.add_task("training", total=None, info="")

        def progress(step: int, total: int, stage: int, terms: dict) -> None:
            info = " ".join(f"{k}={v:.3g}" for k, v in terms.items())
            bar.update(task, completed=step, total=total, description=f"stage {stage}", info=info)

        run_id = train_command(
            st.sessions(), st.workspace, cfg=cfg, resume=resume, steps=steps,
            device_name=device, clip_ids=clip_ids_option(clips),
            perceptual_weights=str(perceptual_weights) if perceptual_weights else None,
            progress=progress, log=lambda m: st.console.print(m) if not st.json else None)
    with st.sessions().begin() as s:
        rec = train_record(s, st.workspace, run_id)
    if st.json:
        st.emit(rec)
    else:
        st.console.print(f"run {rec['run']} {rec['status']} at step {rec['step']}: "
                         f"{rec['directory']}")


@app.command()
def extract(
    ctx: typer.Context,
    run: int = typer.Option(..., help="Training run id."),
    clips: str = typer.Option(None, help="Only these clip ids, e.g. 1,2 or 1-10,14; default all."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
) -> None:
    """Write z_tv, z_ti and the box track of every frame of every catalogued clip.

    Example: tempose extract --run 1
    """
    from tempose_cli.learn.device import resolve_device
    from tempose_cli.pipeline.extract import extract as run_extract

    st = state(ctx)
    with progress_bar(st.console, st.json) as bar:
        task = bar.add_task("extracting", total=None, info="")
        written = run_extract(st.sessions(), st.workspace, run, clip_ids_option(clips),
                              resolve_device(device),
                              lambda i, n, p: bar.update(task, completed=i, total=n, info=p))
    if st.json:
        st.emit([{"clip": c, "path": p} for c, p in written])
    else:
        st.console.print(f"features of {len(written)} clip(s) written for run {run}")


@app.command()
def transfer(
    ctx: typer.Context,
    a: str = typer.Argument(..., help="Frame A as CLIP:FRAME."),
    b: str = typer.Argument(..., help="Frame B as CLIP:FRAME."),
    run: int = typer.Option(..., help="Training run id."),
    out: Path = typer.Option(None, help="PNG to write (default runs/<id>/transfer-A-B.png)."),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
) -> None:
    """Decode z_tv of frame A with z_ti of frame B and the reverse (the paper's Fig. 5).

    Rows A and B; columns: crop, decoded with its own z_ti, decoded with the other's.

    Example: tempose transfer --run 1 3:10 7:25
    """
    from tempose_cli.learn.device import resolve_device
    from tempose_cli.pipeline.extract import get_train_run
    from tempose_cli.pipeline.extract import transfer as run_transfer

    st = state(ctx)
    if out is None:
        with st.sessions().begin() as s:
            out = st.workspace.abs(get_train_run(s, run).directory) / \
                f"transfer-{a.replace(':', '_')}-{b.replace(':', '_')}.png"
    path = run_transfer(st.sessions(), st.workspace, run, a, b, out, resolve_device(device))
    if st.json:
        st.emit({"path": str(path)})
    else:
        st.console.print(f"wrote {path}")


@runs_app.command("list")
def runs_list(ctx: typer.Context, kind: str = typer.Option(None, help="train | fit")) -> None:
    """List runs with their variant, status, step and folder.

    Example: tempose runs list --kind train
    """
    from tempose_cli.pipeline.runs import run_rows

    st = state(ctx)
    with st.sessions().begin() as s:
        rows = run_rows(s, kind)
    if st.json:
        st.emit(rows)
        return
    table = Table(title=f"{len(rows)} run(s)")
    for col in ("id", "kind", "variant", "profile", "status", "step", "directory"):
        table.add_column(col)
    for r in rows:
        table.add_row(*(str(r[c] or "") for c in ("id", "kind", "variant", "profile", "status",
                                                  "step", "directory")))
    st.console.print(table)
