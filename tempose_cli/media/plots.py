"""PNG line plots drawn with OpenCV (the design card has no matplotlib).

``line_plot`` is the one plotting routine (``stats.plot_curve`` uses it too): axes
with "nice" ticks (1, 2, 5 x 10^k steps), labels, a legend and optional shaded spans.
OpenCV's Hershey fonts are ASCII only, so labels say "deg", not the degree sign.
The dive plots (joint angles, CG height with its parabola, somersault rotation) draw
from a ``dive_analysis.DiveAnalysis``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from tempose_cli.media.visualise import save_png

FONT = cv2.FONT_HERSHEY_SIMPLEX
PALETTE = [(31, 119, 180), (255, 127, 14), (44, 160, 44), (214, 39, 40), (148, 103, 189),
           (140, 86, 75), (227, 119, 194), (127, 127, 127)]  # RGB, colour-blind-safe order
INK, GRID, SHADE = (30, 30, 30), (225, 225, 225), (235, 242, 250)


@dataclass
class Series:
    x: np.ndarray
    y: np.ndarray
    label: str = ""
    colour: tuple[int, int, int] | None = None
    dashed: bool = False
    markers: bool = False


def nice_ticks(lo: float, hi: float, target: int = 6, step: float | None = None
               ) -> np.ndarray:
    """Ticks at multiples of 1, 2 or 5 x 10^k (or of ``step``) covering [lo, hi]."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        return np.array([0.0, 1.0])
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    if step is None:
        raw = (hi - lo) / max(target, 1)
        mag = 10 ** math.floor(math.log10(raw))
        step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return np.arange(math.floor(lo / step), math.ceil(hi / step) + 1) * step


def _label(v: float, step: float) -> str:
    digits = max(0, -int(math.floor(math.log10(step)))) if step < 1 else 0
    return f"{v:.{digits}f}"


def _text(img: np.ndarray, s: str, org: tuple[int, int], scale: float = 0.45,
          colour=INK, anchor: str = "left", thick: int = 1) -> None:  # noqa: ANN001
    (w, h), _ = cv2.getTextSize(s, FONT, scale, thick)
    x, y = org
    x = x - w if anchor == "right" else x - w // 2 if anchor == "centre" else x
    cv2.putText(img, s, (int(x), int(y + h // 2)), FONT, scale, colour, thick, cv2.LINE_AA)


def _vertical_text(img: np.ndarray, s: str, centre: tuple[int, int], scale: float = 0.5) -> None:
    (w, h), base = cv2.getTextSize(s, FONT, scale, 1)
    tile = np.full((h + base + 4, w + 4, 3), 255, np.uint8)
    cv2.putText(tile, s, (2, h + 2), FONT, scale, INK, 1, cv2.LINE_AA)
    tile = cv2.rotate(tile, cv2.ROTATE_90_COUNTERCLOCKWISE)
    y0 = max(0, centre[1] - tile.shape[0] // 2)
    x0 = max(0, centre[0] - tile.shape[1] // 2)
    region = img[y0:y0 + tile.shape[0], x0:x0 + tile.shape[1]]
    region[...] = np.minimum(region, tile[:region.shape[0], :region.shape[1]])


def _polyline(img: np.ndarray, pts: np.ndarray, colour, dashed: bool) -> None:  # noqa: ANN001
    """Draw finite runs of pts (NaN breaks the line); dashed = every other segment."""
    ok = np.isfinite(pts).all(1)
    for i in range(len(pts) - 1):
        if ok[i] and ok[i + 1] and not (dashed and i % 2):
            p, q = pts[i].round().astype(int), pts[i + 1].round().astype(int)
            cv2.line(img, tuple(p), tuple(q), colour, 2, cv2.LINE_AA)


def line_plot(series: list[Series], title: str = "", xlabel: str = "", ylabel: str = "",
              size: tuple[int, int] = (900, 500), spans: list[tuple[float, float, str]] = (),
              ystep: float | None = None,
              xticks: list[tuple[float, str]] | None = None) -> np.ndarray:
    """(H, W, 3) uint8 RGB image of the series; ``spans`` shade x-ranges (label shown),
    ``ystep`` forces the y tick spacing (e.g. 180 degrees for rotations), ``xticks``
    gives the x ticks as (position, label), ascending (e.g. a log axis: log10 x)."""
    w, h = size
    img = np.full((h, w, 3), 255, np.uint8)
    left, right, top, bottom = 80, 20, 40 if title else 20, 55
    xs = np.concatenate([np.asarray(s.x, float) for s in series] or [np.zeros(1)])
    ys = np.concatenate([np.asarray(s.y, float) for s in series] or [np.zeros(1)])
    fin = np.isfinite(xs) & np.isfinite(ys)
    xt = nice_ticks(*((xs[fin].min(), xs[fin].max()) if fin.any() else (0, 1)))
    xnames = [_label(v, xt[1] - xt[0]) for v in xt]
    if xticks and len(xticks) >= 2:
        xt, xnames = np.array([v for v, _ in xticks], float), [n for _, n in xticks]
    yt = nice_ticks(*((ys[fin].min(), ys[fin].max()) if fin.any() else (0, 1)), step=ystep)
    x0, x1, y0, y1 = xt[0], xt[-1], yt[0], yt[-1]
    pw, ph = w - left - right, h - top - bottom

    def to_px(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.stack([left + (np.asarray(x, float) - x0) / (x1 - x0) * pw,
                         top + (y1 - np.asarray(y, float)) / (y1 - y0) * ph], -1)

    for a, b, label in spans:
        pa, pb = to_px([a, b], [y1, y0])
        cv2.rectangle(img, tuple(pa.astype(int)), tuple(pb.astype(int)), SHADE, -1)
        if label:
            _text(img, label, (int(pa[0] + 4), top + 10), 0.4, (90, 110, 140))
    for v, name in zip(xt, xnames, strict=True):
        px = int(round(to_px([v], [y0])[0, 0]))
        cv2.line(img, (px, top), (px, top + ph), GRID, 1)
        _text(img, name, (px, top + ph + 14), 0.42, anchor="centre")
    for v in yt:
        py = int(round(to_px([x0], [v])[0, 1]))
        cv2.line(img, (left, py), (left + pw, py), GRID, 1)
        _text(img, _label(v, yt[1] - yt[0]), (left - 6, py), 0.42, anchor="right")
    cv2.rectangle(img, (left, top), (left + pw, top + ph), INK, 1)
    for i, s in enumerate(series):
        colour = s.colour or PALETTE[i % len(PALETTE)]
        pts = to_px(s.x, s.y)
        _polyline(img, pts, colour, s.dashed)
        if s.markers:
            for p in pts[np.isfinite(pts).all(1)]:
                cv2.circle(img, tuple(p.round().astype(int)), 3, colour, -1, cv2.LINE_AA)
    labelled = [(s, s.colour or PALETTE[i % len(PALETTE)]) for i, s in enumerate(series)
                if s.label]
    for k, (s, colour) in enumerate(labelled):  # legend, top right inside the axes
        y = top + 14 + 18 * k
        xl = left + pw - 170
        for a, b in ((0, 9), (15, 24)) if s.dashed else ((0, 24),):
            cv2.line(img, (xl + a, y), (xl + b, y), colour, 2, cv2.LINE_AA)
        _text(img, s.label, (xl + 30, y), 0.42)
    if title:
        _text(img, title, (w // 2, 18), 0.55, anchor="centre")
    if xlabel:
        _text(img, xlabel, (left + pw // 2, h - 16), 0.5, anchor="centre")
    if ylabel:
        _vertical_text(img, ylabel, (22, top + ph // 2))
    return img


def _flight_span(a) -> list[tuple[float, float, str]]:  # noqa: ANN001
    if a.flight is None:
        return []
    return [(float(a.t[a.flight.start]), float(a.t[a.flight.end]), "flight")]


def _time_label(a) -> str:  # noqa: ANN001
    return "time (s)" if a.fps else "frame"


def plot_joint_angles(path: Path, a) -> Path:  # noqa: ANN001 - a DiveAnalysis
    """Hip, knee, elbow, shoulder flexion (left solid, right dashed) over time."""
    series = []
    for i, joint in enumerate(("hip", "knee", "elbow", "shoulder")):
        for side, dashed in (("l", False), ("r", True)):
            y = a.angles.get(f"{joint}_flexion_{side}")
            if y is not None:
                series.append(Series(a.t, y, f"{joint} {side.upper()}" if not dashed else "",
                                     PALETTE[i], dashed))
    img = line_plot(series, "joint flexion (0 = extended; left solid, right dashed)",
                    _time_label(a), "angle (deg)", spans=_flight_span(a))
    return save_png(Path(path), img)


def plot_cg_height(path: Path, a) -> Path:  # noqa: ANN001
    """CG height above take-off with the fitted flight parabola."""
    series = [Series(a.t, a.height, "CG", PALETTE[0], markers=True)]
    if a.flight is not None:
        tt = np.linspace(a.t[a.flight.start], a.t[a.flight.end], 100)
        g = a.summary.get("g_fit_mps2")
        mpp = a.summary.get("metres_per_pixel")
        fit = (f"parabola, g = {g:.2f} m/s^2" if g else
               f"parabola, {mpp:.4f} m/px" if mpp else "parabola")
        series.append(Series(tt, a.flight(tt), fit, PALETTE[3], dashed=True))
    unit = a.height_unit or "?"
    return save_png(Path(path), line_plot(series, "centre of gravity height", _time_label(a),
                                          f"height above take-off ({unit})",
                                          spans=_flight_span(a)))


def plot_rotation(path: Path, a) -> Path:  # noqa: ANN001
    """Whole-body (somersault) rotation over time, y ticks every half or whole turn."""
    y = a.somersault_deg if a.somersault_deg is not None else np.full(len(a.t), np.nan)
    series = [Series(a.t, y, "trunk angle from upright", PALETTE[2])]
    n = a.summary.get("somersaults")
    title = "somersault rotation" + (f": {n:.2f} somersaults" if n is not None else "")
    span = float(np.nanmax(np.abs(y))) if np.isfinite(y).any() else 0.0
    return save_png(Path(path), line_plot(series, title, _time_label(a), "rotation (deg)",
                                          spans=_flight_span(a),
                                          ystep=90.0 if span <= 720 else 180.0))
