"""``tempose analyze`` (one dive or ski run) and ``tempose export`` (a batch of them)."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.table import Table
from rich.text import Text

from tempose_cli.cli.context import State, app, progress_bar, state
from tempose_cli.core.errors import TemposeError

OUT_HELP = "Folder to export into (default: the workspace's exports/)."
SMOOTH_HELP = ("Zero-lag 4th-order Butterworth low-pass at this cut-off (Hz) before the "
               "analysis; off by default. Dives need a high cut-off (take-off and entry are "
               "impulsive).")


def _options(fit: int | None, out: Path | None, no_video: bool, smooth: float | None,
             command: str):  # noqa: ANN202 - AnalyzeOptions, imported lazily
    from tempose_cli.pipeline.analyze import AnalyzeOptions

    if smooth is not None and smooth <= 0:
        raise typer.BadParameter(f"--smooth must be a positive cut-off in Hz, got {smooth:g}")
    return AnalyzeOptions(fit_id=fit, out=out.absolute() if out else None, video=not no_video,
                          smooth_hz=smooth, command=command)


def _command(name: str, target: str, fit: int | None, out: Path | None, no_video: bool,
             smooth: float | None, device: str) -> str:
    parts = [f"tempose {name} {target}"]
    parts += [f"--fit {fit}"] if fit is not None else []
    parts += [f"--out {out}"] if out is not None else []
    parts += ["--no-video"] if no_video else []
    parts += [f"--smooth {smooth:g}"] if smooth is not None else []
    return " ".join(parts + [f"--device {device}"])


def _num(v: float | None, fmt: str, unit: str) -> str:
    return "–" if v is None else f"{v:{fmt}}{unit}"


def summary_rows(s: dict) -> list[tuple[str, str]]:
    """The coach's lines of a dive summary (``dive_analysis.dive_summary``)."""
    if s.get("cg_max_height_above_takeoff_m") is not None:
        cg = _num(s["cg_max_height_above_takeoff_m"], ".2f", " m")
    else:
        cg = _num(s.get("cg_max_height_above_takeoff_px"), ".0f", " px (no metric scale)")
    som = _num(s.get("somersaults"), ".2f", "")
    if s.get("rotation"):
        som += f" {s['rotation']} (nearest half: {s['somersaults_nearest_half']:g})"
    if s.get("somersaults_expected") is not None:
        som += f"; dive {s['dive_code']} announces {s['somersaults_expected']:g}"
    entry = _num(s.get("entry_body_angle_from_vertical_deg"), ".0f", " deg")
    if s.get("entry_head_first") is not None:
        entry += ", head first" if s["entry_head_first"] else ", feet first"
    flight = (_num(s.get("flight_time_s"), ".2f", " s") if s.get("flight_detected")
              else "no flight detected")
    return [("flight time", flight), ("highest CG above take-off", cg), ("somersaults", som),
            ("tightest hip flexion", _num(s.get("tightest_hip_flexion_deg"), ".0f", " deg")),
            ("tightest knee flexion", _num(s.get("tightest_knee_flexion_deg"), ".0f", " deg")),
            ("body angle from vertical at entry", entry)]


def _range(d: dict | None) -> str:
    if not d or d.get("min") is None:
        return "–"
    return f"{d['min']:.0f}-{d['max']:.0f} deg"


def ski_summary_rows(s: dict) -> list[tuple[str, str]]:
    """The coach's lines of a ski summary (``ski_analysis.ski_summary``)."""
    rows = []
    for joint in ("knee", "hip"):
        legs = s.get(f"{joint}_flexion_deg") or {}
        rows.append((f"{joint} flexion L / R (0 = straight)",
                     f"{_range(legs.get('l'))} / {_range(legs.get('r'))}"))
    incl = s.get("upper_body_inclination_deg") or {}
    rows.append(("upper body from vertical, mean", _num(incl.get("mean"), ".0f", " deg")))
    ang = s.get("shank_upper_body_angle_deg") or {}
    rows.append(("shank to upper body L / R, mean",
                 f"{_num((ang.get('l') or {}).get('mean'), '.0f', ' deg')} / "
                 f"{_num((ang.get('r') or {}).get('mean'), '.0f', ' deg')}"))
    cg = s.get("cg_height_above_lower_ankle_m") or {}
    rows.append(("CG above lower ankle, mean", _num(cg.get("mean"), ".2f", " m")))
    turns = s.get("turns")
    rows.append(("turns", "– (no CG trajectory)" if not turns else
                 f"{turns['count']} ({turns['left']} left, {turns['right']} right)" +
                 (f", every {turns['turn_period_s']:.2f} s" if turns["turn_period_s"]
                  else "")))
    jumps = s.get("jumps")
    rows.append(("jumps", "–" if not jumps else "none" if not jumps["count"] else
                 f"{jumps['count']}, longest airtime {jumps['longest_airtime_s']:.2f} s"))
    return rows


def rows_for(s: dict) -> list[tuple[str, str]]:
    return ski_summary_rows(s) if s.get("sport") == "ski" else summary_rows(s)


def _show(st: State, res: dict) -> None:
    kind = "ski summary" if res.get("sport") == "ski" else "dive summary"
    table = Table(title=f"clip {res['clip']} ({res['athlete'] or 'no athlete'}), fit "
                        f"{res['fit']}: {kind}")
    table.add_column("")
    table.add_column("value", justify="right")
    for k, v in rows_for(res["summary"]):
        table.add_row(k, v)
    st.console.print(table)
    st.console.print(f"folder: {res['folder']}")
    for key, path in res["files"].items():
        st.console.print(f"  {key}: {Path(path).name}", highlight=False)


@app.command()
def analyze(
    ctx: typer.Context,
    dive: int = typer.Option(..., "--dive", "--run", help="Clip id of the dive or ski run "
                             "(tempose clips list); --run is the same option, for ski."),
    fit: int = typer.Option(None, help="Fit run id (default: the latest fit whose training "
                            "run has this clip's features)."),
    out: Path = typer.Option(None, help=OUT_HELP),
    no_video: bool = typer.Option(False, "--no-video", help="Skip the overlay MP4."),
    smooth: float = typer.Option(None, help=SMOOTH_HELP),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
) -> None:
    """Analyse one dive or ski run with a fitted model: 3D pose track (CSV, TRC), joint
    angles (MOT), JSON with the summary of the clip's sport, overlay MP4 and plots, in
    exports/<clip>_fit<F>/. Dives get the dive summary (flight, somersaults, entry); ski
    runs the ski summary (knee / hip flexion, upper body, CG, turns, jumps).

    The 2D joints are an estimate: the predicted pelvis-centred pose placed at the
    detector's mask-based centre and scaled to its box (see the JSON's pose_2d).

    Example: tempose analyze --dive 42 --smooth 12   (a ski run: tempose analyze --run 7)
    """
    from tempose_cli.learn.device import resolve_device
    from tempose_cli.pipeline.analyze import analyze as run

    st = state(ctx)
    opts = _options(fit, out, no_video, smooth,
                    _command("analyze", f"--dive {dive}", fit, out, no_video, smooth, device))
    with progress_bar(st.console, st.json, transient=True) as bar:
        task = bar.add_task(f"clip {dive}", total=None, info="")
        res = run(st.sessions(), st.workspace, dive, opts, resolve_device(device),
                  lambda step: bar.update(task, info=f"{step} done"))
    if st.json:
        st.emit(res)
        return
    _show(st, res)


@app.command()
def export(
    ctx: typer.Context,
    dives: str = typer.Option(..., "--dives", "--runs", help="Clip ids and ranges, e.g. "
                              "1-10,14 (dives or ski runs; --runs is the same option)."),
    fit: int = typer.Option(None, help="Fit run id for every dive (default: per dive, as "
                            "tempose analyze chooses)."),
    out: Path = typer.Option(None, help=OUT_HELP),
    no_video: bool = typer.Option(False, "--no-video", help="Skip the overlay MP4s."),
    smooth: float = typer.Option(None, help=SMOOTH_HELP),
    device: str = typer.Option("auto", help="auto | cpu | cuda."),
) -> None:
    """Run tempose analyze for a batch of dives or ski runs; a failing dive is reported and skipped
    (exit status 1 if any failed).

    Example: tempose export --dives 1-10,14 --no-video
    """
    from tempose_cli.core.parsing import parse_ids
    from tempose_cli.learn.device import resolve_device
    from tempose_cli.pipeline.analyze import analyze as run

    st = state(ctx)
    try:
        ids = parse_ids(dives)
    except ValueError as e:
        raise typer.BadParameter(str(e), param_hint="--dives") from None
    dev = resolve_device(device)
    opts = _options(fit, out, no_video, smooth, _command(
        "export", f"--dives {dives}", fit, out, no_video, smooth, device))
    done: list[dict] = []
    failed: list[dict] = []
    with progress_bar(st.console, st.json) as bar:
        task = bar.add_task("exporting", total=len(ids), info="")
        for i in ids:
            bar.update(task, info=f"clip {i}")
            try:
                done.append(run(st.sessions(), st.workspace, i, opts, dev))
            except TemposeError as e:  # the next dive may be fine: report, go on
                failed.append({"dive": i, "error": str(e)})
            bar.advance(task)
    if st.json:
        st.emit({"done": done, "failed": failed})
    else:
        table = Table(title=f"{len(done)} of {len(ids)} dive(s) exported")
        for col in ("clip", "fit", "flight / turns", "somersaults / jumps", "folder or error"):
            table.add_column(col, overflow="fold")
        for r in done:
            rows = dict(rows_for(r["summary"]))
            if r["summary"].get("sport") == "ski":
                cells = (rows["turns"], rows["jumps"])
            else:
                cells = (rows["flight time"], _num(r["summary"].get("somersaults"), ".2f", ""))
            table.add_row(str(r["clip"]), str(r["fit"]), *cells, r["folder"])
        for f in failed:
            table.add_row(str(f["dive"]), "", "", "", Text(f"failed: {f['error']}", "red"))
        st.console.print(table)
    if failed:
        raise typer.Exit(1)
