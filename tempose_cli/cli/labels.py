"""``tempose labels from-trc|from-openpose``: labels for real recordings."""

from __future__ import annotations

from pathlib import Path

import typer

from tempose_cli.cli.context import app, state

labels_app = typer.Typer(
    help="Import labels from a multi-camera session (Pose2Sim / OpenSim TRC + calibration) "
    "or 2D keypoints (OpenPose JSON) into <stem>.pose.csv beside the video.\n\n"
    "Example: tempose labels from-trc session.trc --calibration Calib.toml --camera cam01 "
    "--video cam01.mp4",
    no_args_is_help=True,
)
app.add_typer(labels_app, name="labels")

OFFSET_HELP = ("K: TRC rows go to video frame round(Time x rate) + K, JSON file i to frame "
               "i + K. Needed when their count differs from the video's (frames without "
               "data stay empty).")
MAP_HELP = "Marker map: 'joint = marker' lines ('neck = LShoulder + RShoulder') over the defaults."


def _report(ctx: typer.Context, result) -> None:
    st = state(ctx)
    if st.json:
        st.emit(result.as_dict())
        return
    for note in result.notes:
        st.console.print(f"  {note}", markup=False)
    extra = f", {result.partial} partly" if result.partial else ""
    st.console.print(f"wrote {result.labels} ({result.labelled} of {result.frames} frames "
                     f"labelled{extra})" + (f" and the camera in {result.sidecar}"
                                            if result.sidecar else ""), markup=False)


@labels_app.command("from-trc")
def from_trc(
    ctx: typer.Context,
    trc: Path = typer.Argument(..., help="3D markers (.trc), Pose2Sim / OpenSim convention."),
    calibration: Path = typer.Option(..., "--calibration",
                                     help="Pose2Sim calibration .toml of the session."),
    camera: str = typer.Option(..., "--camera", help="The camera that filmed VIDEO."),
    video: Path = typer.Option(..., "--video", help="That camera's video."),
    frame_offset: int = typer.Option(None, "--frame-offset", help=OFFSET_HELP),
    map_file: Path = typer.Option(None, "--map", help=MAP_HELP),
) -> None:
    """3D labels in the camera's coordinates (metres) and their 2D projection (the
    camera's K and lens distortion) into <stem>.pose.csv; the camera (K, distortion, R,
    t) into the sidecar <stem>.json, other keys kept.

    Example: tempose labels from-trc s.trc --calibration Calib.toml --camera cam01 --video cam01.mp4
    """
    from tempose_cli.media.importers.clip import import_trc

    _report(ctx, import_trc(trc, calibration, camera, video, frame_offset, map_file))


@labels_app.command("from-openpose")
def from_openpose(
    ctx: typer.Context,
    folder: Path = typer.Argument(..., help="Folder with one OpenPose JSON per frame."),
    video: Path = typer.Option(..., "--video", help="The video the keypoints belong to."),
    layout: str = typer.Option("auto", "--layout",
                               help="auto|body25|body25b|coco17|halpe26 (auto: by count)."),
    min_confidence: float = typer.Option(0.1, "--min-confidence", min=0.0, max=1.0,
                                         help="Keypoints below this stay unlabelled."),
    frame_offset: int = typer.Option(None, "--frame-offset", help=OFFSET_HELP),
    map_file: Path = typer.Option(None, "--map", help=MAP_HELP),
) -> None:
    """2D labels (_u, _v, _conf) into <stem>.pose.csv, merged with the 3D already there.

    With several people in a frame, the one nearest the previous frame's person is kept
    (and said so).

    Example: tempose labels from-openpose pose/cam01_json --video videos/cam01.mp4 --layout body25b
    """
    from tempose_cli.media.importers.clip import import_openpose

    _report(ctx, import_openpose(folder, video, layout, min_confidence, frame_offset, map_file))
