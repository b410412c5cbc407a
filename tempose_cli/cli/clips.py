"""``tempose clips list|show``"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from tempose_cli.cli.context import app, state

if TYPE_CHECKING:
    from store.schema import Clip

clips_app = typer.Typer(
    help="Browse the catalogued clips.\n\nExample: tempose clips list --sport dive",
    no_args_is_help=True,
)
app.add_typer(clips_app, name="clips")


def clip_record(c: Clip) -> dict:
    return {
        "id": c.id, "path": c.path, "content_hash": c.content_hash, "sport": c.sport,
        "athlete": c.athlete.name if c.athlete else None, "dive": c.dive_code,
        "height_m": c.height_m, "fps": c.fps, "video_fps": c.video_fps,
        "size": [c.width, c.height], "work_size": [c.work_width, c.work_height],
        "frame_count": c.frame_count, "duration_s": round(c.duration_s, 4),
        "camera": c.camera, "split": c.split_tags,
        "frames_path": c.frames_path, "background": c.background_method,
        "background_path": c.background_path,
        "labels": [{"kind": lb.kind, "frames_3d": lb.frames_3d, "frames_2d": lb.frames_2d,
                    "source": lb.source_path} for lb in c.labels],
        "created_at": c.created_at,
    }


@clips_app.command("list")
def list_cmd(
    ctx: typer.Context,
    sport: str = typer.Option(None, help="Only this sport (dive|ski)."),
    athlete: str = typer.Option(None, help="Only this athlete."),
    split: str = typer.Option(None, help="Only clips with this split tag."),
) -> None:
    """List catalogued clips.

    Example: tempose clips list --sport dive --athlete A01
    """
    from store.catalogue import list_clips

    st = state(ctx)
    with st.sessions().begin() as s:
        clips = [clip_record(c) for c in list_clips(s, sport=sport, athlete=athlete, split=split)]
    if st.json:
        st.emit(clips)
        return
    table = Table(title=f"{len(clips)} clip(s)")
    for col in ("id", "sport", "athlete", "dive", "height", "frames", "fps", "size", "split",
                "labels", "file"):
        table.add_column(col, overflow="fold")
    for c in clips:
        table.add_row(
            str(c["id"]), c["sport"] or "", c["athlete"] or "", c["dive"] or "",
            "" if c["height_m"] is None else f"{c['height_m']:g} m", str(c["frame_count"]),
            f"{c['fps']:g}", "x".join(map(str, c["size"])), ",".join(c["split"]),
            ",".join(lb["kind"] for lb in c["labels"]), Path(c["path"]).name,
        )
    st.console.print(table)


@clips_app.command("show")
def show_cmd(ctx: typer.Context, clip_id: int = typer.Argument(..., help="Clip id.")) -> None:
    """Everything the catalogue knows about one clip.

    Example: tempose clips show 3
    """
    from tempose_cli.core.records import require_clip

    st = state(ctx)
    with st.sessions().begin() as s:
        clip = require_clip(s, clip_id)
        rec = clip_record(clip)
    if st.json:
        st.emit(rec)
        return
    table = Table(show_header=False, title=f"clip {clip_id}")
    table.add_column("field", style="bold")
    table.add_column("value", overflow="fold")
    for k, v in rec.items():
        table.add_row(k, "" if v is None else str(v))
    st.console.print(table)
