"""``tempose stats``: statistics over catalogued labels."""

from __future__ import annotations

from pathlib import Path

import typer

from tempose_cli.cli.context import app, state
from tempose_cli.core.errors import TemposeError

stats_app = typer.Typer(
    help="Statistics over catalogued labels.\n\n"
    "Example: tempose stats pose-distance --out fig6.png",
    no_args_is_help=True,
)
app.add_typer(stats_app, name="stats")


@stats_app.command("pose-distance")
def pose_distance(
    ctx: typer.Context,
    sport: str = typer.Option(None, "--sport", help="Only clips of this sport (dive or ski)."),
    max_delta: int = typer.Option(60, "--max-delta", min=1, max=10000, help="Largest frame gap."),
    out: Path = typer.Option(None, "--out", help="Write the plot to this PNG."),
) -> None:
    """Mean pelvis-centred MPJPE between frames Δ apart, as a function of Δ (paper Fig. 6).

    Example: tempose stats pose-distance --sport dive --max-delta 60 --out pose_distance.png
    """
    from rich.table import Table

    from store.catalogue import label_paths
    from tempose_cli.core.labels import PoseTrack
    from tempose_cli.pipeline.stats import plot_curve, pose_distance_curve

    st = state(ctx)
    with st.sessions()() as session:
        paths = label_paths(session, sport)
    tracks = []
    for p in paths:
        track = PoseTrack.load_npz(st.workspace.abs(p))
        if track.j3d is not None:
            tracks.append(track.j3d)
    if not tracks:
        raise TemposeError("no 3D labels in the catalogue" + (f" for sport {sport!r}" if sport
                           else "") + " (ingest clips with .pose.csv labels first)")
    deltas, mean_mm, counts = pose_distance_curve(tracks, max_delta)
    if out is not None:
        plot_curve(out, deltas, mean_mm, f"pose distance vs frame gap ({len(tracks)} clips)")
    if st.json:
        st.emit({"clips": len(tracks), "delta": deltas.tolist(),
                 "mean_mm": [None if v != v else round(float(v), 3) for v in mean_mm],
                 "pairs": counts.tolist(), "plot": str(out) if out else None})
        return
    table = Table(title=f"pose distance over {len(tracks)} clips")
    for col in ("Δ (frames)", "mean MPJPE (mm)", "pairs"):
        table.add_column(col, justify="right")
    for d, m, c in zip(deltas, mean_mm, counts, strict=True):
        table.add_row(str(d), "-" if m != m else f"{m:.1f}", str(c))
    st.console.print(table)
    if out is not None:
        st.console.print(f"plot: {out}")
