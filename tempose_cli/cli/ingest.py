"""``tempose ingest PATH...``"""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table

from tempose_cli.cli.context import app, progress_bar, state
from tempose_cli.core.errors import InputError
from tempose_cli.core.sidecar import BACKGROUND_METHODS as METHODS
from tempose_cli.core.sidecar import SPORTS, ClipMeta

STYLE = {"ingested": "green", "catalogued": "cyan", "failed": "red"}


@app.command()
def ingest(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="Video files or folders (searched recursively)."),
    sport: str = typer.Option(None, help=f"Sport where the sidecar has none: {'|'.join(SPORTS)}."),
    athlete: str = typer.Option(None, help="Athlete id where the sidecar has none."),
    dive: str = typer.Option(None, help="Dive id/code where the sidecar has none."),
    height: float = typer.Option(
        None, help="Platform height in metres where the sidecar has none."),
    fps: float = typer.Option(
        None, help="Capture fps where the sidecar has none (high-speed footage)."),
    split: list[str] = typer.Option(None, help="Split tag(s) where the sidecar has none."),
    background: str = typer.Option(
        None, help=f"Background method: {'|'.join(METHODS)}. Default: median for dive, "
        "panorama for ski."),
    work_size: str = typer.Option(
        "512", help="Frame cache resolution: long side in pixels (never upscaled) or WxH."),
) -> None:
    """Catalogue recordings: probe, hash, cache every frame, estimate the background.

    Reads <stem>.json (sidecar) and <stem>.pose.csv (labels) beside each video.
    Re-ingesting a file already catalogued is a no-op; bad files are reported and skipped.

    Example: tempose ingest clips/ --sport dive --height 10
    """
    st = state(ctx)
    if sport is not None and sport not in SPORTS:
        raise typer.BadParameter(f"must be one of {', '.join(SPORTS)}", param_hint="--sport")
    if background is not None and background not in METHODS:
        raise typer.BadParameter(f"must be one of {', '.join(METHODS)}", param_hint="--background")
    from tempose_cli.pipeline.ingest import (
        IngestOptions,
        IngestResult,
        cleanup,
        discover,
        ingest_file,
    )

    opts = IngestOptions(
        defaults=ClipMeta(sport=sport, athlete=athlete, dive=dive, height_m=height, fps=fps,
                          split=tuple(split or ())),
        background=background, work_size=work_size,
    )
    sessions = st.sessions()
    cleanup(st.workspace)
    files, results = discover(paths)
    with progress_bar(st.console, st.json, transient=True) as bar:
        overall = bar.add_task(f"ingesting {len(files)} file(s)", total=len(files), info="")
        for f in files:
            task = bar.add_task(f"  {f.name}", total=None, info="")

            def report(stage: str, done: int, total: int, task=task, name=f.name) -> None:
                bar.update(task, description=f"  {name} [{stage}]", completed=done, total=total)

            try:
                results.append(ingest_file(sessions, st.workspace, f, opts, report))
            except InputError as e:
                results.append(IngestResult(str(f), "failed", message=str(e)))
            except OSError as e:
                results.append(IngestResult(str(f), "failed", message=f"{f}: {e}"))
            bar.remove_task(task)
            bar.advance(overall)
    counts = {k: sum(r.status == k for r in results) for k in STYLE}
    if st.json:
        st.emit({"summary": counts, "files": [r.__dict__ for r in results]})
    else:
        table = Table(title="ingest", show_lines=False)
        for col in ("file", "status", "clip", "detail"):
            table.add_column(col, overflow="fold")
        for r in results:
            table.add_row(Path(r.path).name, f"[{STYLE[r.status]}]{r.status}",
                          "" if r.clip_id is None else str(r.clip_id), r.message)
        st.console.print(table)
        st.console.print(", ".join(f"{n} {k}" for k, n in counts.items()))
    if counts["failed"]:
        raise typer.Exit(1)
