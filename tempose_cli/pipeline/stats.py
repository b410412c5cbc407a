"""Pose statistics over labelled clips (the assumption behind the distance-based loss).

``pose_distance_curve``: for every frame gap Δ, the mean pelvis-centred MPJPE between
frames i and i + Δ of the same clip, over all clips and all i (the paper's Fig. 6).
Pose distance should grow with Δ and then level off.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import numpy as np

from models.skeleton import pelvis_centred


def pose_distance_curve(tracks: Iterable[np.ndarray], max_delta: int
                        ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(deltas (D,), mean distance in mm (D,), pair counts (D,)) for Δ = 0..max_delta.

    ``tracks``: per clip (T, 14, 3) joints in metres; frames with any unlabelled (NaN)
    joint are skipped pairwise. Δ with no pair get NaN.
    """
    if max_delta < 0:
        raise ValueError("max_delta must be >= 0")
    deltas = np.arange(max_delta + 1)
    total = np.zeros(max_delta + 1)
    counts = np.zeros(max_delta + 1, dtype=np.int64)
    for j3d in tracks:
        x = pelvis_centred(np.asarray(j3d, float))  # (T, 14, 3)
        ok = np.isfinite(x).all(axis=(1, 2))
        for d in range(min(max_delta, len(x) - 1) + 1):
            both = ok[: len(x) - d] & ok[d:]
            if not both.any():
                continue
            err = np.linalg.norm(x[d:][both] - x[: len(x) - d][both], axis=-1).mean(-1)
            total[d] += err.sum()
            counts[d] += int(both.sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_mm = np.where(counts > 0, 1000.0 * total / counts, np.nan)
    return deltas, mean_mm, counts


def plot_curve(path: Path, deltas: np.ndarray, mean_mm: np.ndarray, title: str) -> None:
    from tempose_cli.media.plots import Series, line_plot
    from tempose_cli.media.visualise import save_png

    img = line_plot([Series(deltas, mean_mm, markers=True)], title, "frame gap (delta)",
                    "mean pelvis-centred MPJPE (mm)", size=(700, 450))
    save_png(Path(path), img)
