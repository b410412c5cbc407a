"""``tempose synth``: generate the synthetic dive / ski benchmark."""

from __future__ import annotations

import os
import time
from pathlib import Path

import typer

from tempose_cli.cli.context import app, progress_bar, state
from tempose_cli.core.errors import TemposeError


def parse_size(text: str) -> tuple[int, int]:
    from tempose_cli.core.parsing import parse_size as parse_wxh

    try:
        w, h = parse_wxh(text)
    except ValueError:
        raise TemposeError(f"--size {text!r}: expected WxH, e.g. 256x256") from None
    if not (16 <= w <= 4096 and 16 <= h <= 4096) or w % 2 or h % 2:
        raise TemposeError(f"--size {text!r}: width and height must be even, 16 to 4096")
    return w, h


@app.command("synth")
def synth(
    ctx: typer.Context,
    out_dir: Path = typer.Argument(
        ..., help="Folder for <stem>.mp4, .json, .pose.csv (+ .mask.npz)."),
    sport: str = typer.Option("dive", "--sport", help="dive or ski."),
    athletes: int = typer.Option(3, "--athletes", min=1, max=99, help="Distinct athletes."),
    dives: int = typer.Option(4, "--dives", min=1, max=999, help="Dives (or runs) per athlete."),
    fps: float = typer.Option(25.0, "--fps", min=1.0, max=1000.0, help="Frame rate."),
    size: str = typer.Option("256x256", "--size", help="Frame size WxH."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same bytes."),
    masks: bool = typer.Option(False, "--masks", help="Also write foreground masks."),
    backgrounds: Path = typer.Option(
        None, "--backgrounds", help="Folder of images used as pool wall / sky."),
    heights: str = typer.Option(
        "1,3,5,7.5,10", "--heights", help="Platform heights to draw from, metres."),
    run_s: float = typer.Option(3.0, "--run-seconds", min=0.5, max=60.0,
                                help="Ski run length."),
    cameras: int = typer.Option(
        1, "--cameras", min=1, max=8,
        help="Dives seen by N calibrated cameras: <stem>_camKK.* per camera, plus the "
        "session's Pose2Sim calibration <stem>_calibration.toml and world joints <stem>.trc."),
    bystander: bool = typer.Option(
        False, "--bystander",
        help="Dives: a second person warming up on the platform behind the diver, moving "
        "but not falling (a distractor for the detector; unlabelled)."),
    appearance: str = typer.Option(
        "swimsuit", "--appearance",
        help="Dives: the athletes' wardrobe. swimsuit (mostly skin, the suit on the hips) or "
        "bodysuit (suits over arms, thighs and shins in up to three colours: athletes "
        "differ by more than a few pixels)."),
    jobs: int = typer.Option(
        None, "--jobs", "-j", min=1, max=256,
        help="Clips rendered in parallel worker processes (default: CPUs). Same bytes."),
) -> None:
    """Render dives (or ski runs) of mocap-driven athletes with exact 3D/2D labels.

    Example: tempose synth clips/ --sport dive --athletes 3 --dives 4 --fps 25 --size 256x256

    Example: tempose synth suits/ --athletes 12 --appearance bodysuit
    """

    from tempose_cli.synth.athletes import APPEARANCES
    from tempose_cli.synth.dive import HEIGHTS
    from tempose_cli.synth.generate import (
        SynthConfig,
        default_jobs,
        generate,
        plan,
        user_images,
    )

    st = state(ctx)
    if sport not in ("dive", "ski"):
        raise TemposeError(f"--sport {sport!r}: expected dive or ski")
    if cameras > 1 and sport != "dive":
        raise TemposeError(f"--cameras {cameras}: several cameras are for --sport dive only")
    if bystander and sport != "dive":
        raise TemposeError("--bystander: a bystander on the platform is for --sport dive only")
    if appearance not in APPEARANCES:
        raise TemposeError(f"--appearance {appearance!r}: expected {' or '.join(APPEARANCES)}")
    if appearance != "swimsuit" and sport != "dive":
        raise TemposeError(f"--appearance {appearance}: for --sport dive only")
    w, h = parse_size(size)
    try:
        hs = tuple(float(v) for v in heights.split(","))
    except ValueError:
        raise TemposeError(f"--heights {heights!r}: expected numbers like 3,10") from None
    if not hs or any(v not in HEIGHTS for v in hs):
        raise TemposeError(f"--heights {heights!r}: each must be one of 1, 3, 5, 7.5, 10")
    if backgrounds is not None:
        if not backgrounds.is_dir():
            raise TemposeError(f"{backgrounds}: --backgrounds must be a folder of images")
        if not user_images(backgrounds):
            raise TemposeError(f"{backgrounds}: no .png/.jpg images in the folder")
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise TemposeError(f"{out_dir}: cannot create the output folder ({e.strerror})") from None
    if not os.access(out_dir, os.W_OK):
        raise TemposeError(f"{out_dir}: output folder is not writable")
    cfg = SynthConfig(out_dir=out_dir, sport=sport, athletes=athletes, clips=dives, fps=fps,
                      size=(w, h), seed=seed, heights=hs, run_s=run_s, masks=masks,
                      backgrounds=backgrounds, cameras=cameras, bystander=bystander,
                      appearance=appearance)
    with progress_bar(st.console, st.json, transient=True) as progress:
        task = progress.add_task(f"synth {sport}", total=len(plan(cfg)), info="")
        start = time.perf_counter()
        results = generate(cfg, on_clip=lambda r: progress.advance(task),
                           jobs=jobs or default_jobs())
        seconds = time.perf_counter() - start  # wall clock: clips may run in parallel
    frames = sum(r.frames for r in results)
    summary = {"out_dir": str(out_dir), "sport": sport, "clips": [r.stem for r in results],
               "cameras": cameras,
               "frames": frames, "seconds": round(seconds, 3),
               "frames_per_s": round(frames / seconds, 1) if seconds else None}
    if st.json:
        st.emit(summary)
    else:
        st.console.print(f"wrote {len(results)} {sport} clips ({frames} frames) to {out_dir} "
                         f"in {seconds:.1f} s ({summary['frames_per_s']} frames/s)")
