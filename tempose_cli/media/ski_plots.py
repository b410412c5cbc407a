"""PNG plots of a ski run (``ski_analysis.SkiAnalysis``), drawn with ``plots.line_plot``:
leg and trunk angles, CG height above the lower ankle with the jumps, and the lateral
CG track with its turn apexes. Jumps are shaded in each."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from tempose_cli.media.plots import PALETTE, Series, line_plot
from tempose_cli.media.visualise import save_png


def _jump_spans(a) -> list[tuple[float, float, str]]:  # noqa: ANN001 - a SkiAnalysis
    return [(float(a.t[p.start]), float(a.t[p.end]), "jump") for p in a.jumps]


def _time_label(a) -> str:  # noqa: ANN001
    return "time (s)" if a.fps else "frame"


def plot_ski_angles(path: Path, a) -> Path:  # noqa: ANN001
    """Knee and hip flexion per leg (left solid, right dashed), upper-body inclination
    and the shank-to-upper-body angle (angulation proxy) over the run."""
    series = []
    for i, name in enumerate(("knee_flexion", "hip_flexion", "shank_upper_body")):
        for side, dashed in (("l", False), ("r", True)):
            y = a.angles.get(f"{name}_{side}")
            if y is not None:
                label = "" if dashed else name.replace("_", " ").replace("upper body",
                                                                         "trunk")
                series.append(Series(a.t, y, label, PALETTE[i], dashed))
    if "upper_body_inclination" in a.angles:
        series.append(Series(a.t, a.angles["upper_body_inclination"], "trunk from vertical",
                             PALETTE[3]))
    img = line_plot(series, "ski: angles (0 = extended / upright; left solid, right dashed)",
                    _time_label(a), "angle (deg)", spans=_jump_spans(a))
    return save_png(Path(path), img)


def plot_ski_cg(path: Path, a) -> Path:  # noqa: ANN001
    """CG height above the lower ankle; the jumps' height track and fitted parabolas."""
    n = len(a.t)
    series = [Series(a.t, a.cg_height if a.cg_height is not None else np.full(n, np.nan),
                     "CG above lower ankle", PALETTE[0], markers=True)]
    if a.jump_height is not None and a.jumps:
        series.append(Series(a.t, a.jump_height, "CG height, slope removed", PALETTE[2]))
        for k, p in enumerate(a.jumps):
            tt = np.linspace(a.t[p.start], a.t[p.end], 50)
            series.append(Series(tt, p(tt), "free-fall fit" if k == 0 else "", PALETTE[3],
                                 dashed=True))
    return save_png(Path(path), line_plot(series, "ski: centre of gravity", _time_label(a),
                                          "height (m)", spans=_jump_spans(a)))


def plot_ski_turns(path: Path, a) -> Path:  # noqa: ANN001
    """Lateral CG position across the direction of travel, turn apexes marked."""
    n = len(a.t)
    y = a.lateral if a.lateral is not None else np.full(n, np.nan)
    series = [Series(a.t, y, "lateral CG (+ = left)", PALETTE[0])]
    for direction, colour in (("left", PALETTE[1]), ("right", PALETTE[4])):
        idx = [i for i, d in zip(a.turn_frames, a.turn_directions, strict=True)
               if d == direction]
        if idx:  # NaN between the apexes: markers only, no line joining them
            x = np.ravel(np.stack([a.t[idx], np.full(len(idx), np.nan)], 1))
            yy = np.ravel(np.stack([y[idx], np.full(len(idx), np.nan)], 1))
            series.append(Series(x, yy, f"{direction} turn", colour, markers=True))
    turns = a.summary.get("turns") or {}
    title = "ski: turns" + (f": {turns['count']} ({turns['left']} left, {turns['right']} "
                            "right)" if turns else " (no CG trajectory)")
    return save_png(Path(path), line_plot(series, title, _time_label(a),
                                          "lateral position (m)", spans=_jump_spans(a)))
