"""3D pose errors in the style of VideoPose3D's ``loss.py`` (paper Sec. 4.2), numpy in.

Inputs are (..., J, 3) joint positions, prediction and ground truth of the same shape;
errors come out in the input units (the callers pass millimetres). Each metric takes
``reduce``:

- ``"mean"``: one float over every frame and joint;
- ``"joint"``: (J,) mean per joint over frames (per-joint tables);
- ``"frame"``: (...,) mean per frame over joints (per-clip breakdowns: average these);
- ``"none"``: (..., J) the Euclidean error of every joint of every frame.

MPJPE: mean Euclidean joint error. N-MPJPE: the prediction is first scaled, per frame,
by the least-squares factor onto the ground truth (Rhodin et al.). P-MPJPE: per-frame
similarity Procrustes alignment (rotation without reflection, scale, translation).
"""

from __future__ import annotations

import numpy as np

REDUCTIONS = ("mean", "joint", "frame", "none")


def _check(pred: np.ndarray, gt: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[int, ...]]:
    """Validate shapes; returns (N, J, D) float64 views and the leading shape."""
    pred = np.asarray(pred, dtype=np.float64)
    gt = np.asarray(gt, dtype=np.float64)
    if pred.shape != gt.shape:
        raise ValueError(f"prediction {pred.shape} and ground truth {gt.shape} differ in shape")
    if pred.ndim < 2 or pred.shape[-1] not in (2, 3) or pred.shape[-2] < 1:
        raise ValueError(f"expected (..., J, 3) joints, got {pred.shape}")
    lead = pred.shape[:-2]
    return pred.reshape(-1, *pred.shape[-2:]), gt.reshape(-1, *gt.shape[-2:]), lead


def _reduce(err: np.ndarray, lead: tuple[int, ...], reduce: str) -> float | np.ndarray:
    """(N, J) errors -> the requested reduction."""
    if reduce == "mean":
        return float(err.mean()) if err.size else float("nan")
    if reduce == "joint":
        return err.mean(0)
    if reduce == "frame":
        return err.mean(1).reshape(lead)
    if reduce == "none":
        return err.reshape(*lead, err.shape[-1])
    raise ValueError(f"unknown reduce {reduce!r} (one of {', '.join(REDUCTIONS)})")


def joint_errors(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """(..., J, 3) -> (..., J) Euclidean distance of each joint."""
    p, g, lead = _check(pred, gt)
    return np.linalg.norm(p - g, axis=-1).reshape(*lead, p.shape[1])


def mpjpe(pred: np.ndarray, gt: np.ndarray, reduce: str = "mean") -> float | np.ndarray:
    """Mean per-joint position error (protocol #1)."""
    p, g, lead = _check(pred, gt)
    return _reduce(np.linalg.norm(p - g, axis=-1), lead, reduce)


def scale_to(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """``pred`` times the per-frame s minimising ||s * pred - gt||² (s = <p, g> / <p, p>)."""
    p, g, lead = _check(pred, gt)
    num = (p * g).sum((1, 2))  # (N,)
    den = (p * p).sum((1, 2))
    s = np.divide(num, den, out=np.ones_like(num), where=den > 0)
    return (s[:, None, None] * p).reshape(*lead, *p.shape[1:])


def n_mpjpe(pred: np.ndarray, gt: np.ndarray, reduce: str = "mean") -> float | np.ndarray:
    """MPJPE after scaling each predicted frame by the least-squares factor onto the truth."""
    return mpjpe(scale_to(pred, gt), gt, reduce)


def procrustes_align(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """Per-frame similarity transform (R with det +1, scale a, translation t) of ``pred``
    minimising ||a * pred @ R + t - gt||² (Umeyama; VideoPose3D's ``p_mpjpe``)."""
    p, g, lead = _check(pred, gt)
    mu_g = g.mean(1, keepdims=True)  # (N, 1, D)
    mu_p = p.mean(1, keepdims=True)
    g0, p0 = g - mu_g, p - mu_p
    norm_g = np.sqrt((g0**2).sum((1, 2), keepdims=True))  # (N, 1, 1)
    norm_p = np.sqrt((p0**2).sum((1, 2), keepdims=True))
    norm_g = np.where(norm_g > 0, norm_g, 1.0)
    norm_p = np.where(norm_p > 0, norm_p, 1.0)
    g0, p0 = g0 / norm_g, p0 / norm_p
    H = np.matmul(g0.transpose(0, 2, 1), p0)  # (N, D, D)
    U, s, Vt = np.linalg.svd(H)
    V = Vt.transpose(0, 2, 1)
    R = np.matmul(V, U.transpose(0, 2, 1))  # (N, D, D)
    # No reflections: flip the least singular direction where det(R) < 0.
    sign = np.sign(np.linalg.det(R))
    sign = np.where(sign == 0, 1.0, sign)
    V[:, :, -1] *= sign[:, None]
    s[:, -1] *= sign
    R = np.matmul(V, U.transpose(0, 2, 1))
    a = s.sum(1)[:, None, None] * norm_g / norm_p  # (N, 1, 1)
    t = mu_g - a * np.matmul(mu_p, R)
    aligned = a * np.matmul(p, R) + t
    return aligned.reshape(*lead, *p.shape[1:])


def p_mpjpe(pred: np.ndarray, gt: np.ndarray, reduce: str = "mean") -> float | np.ndarray:
    """MPJPE after per-frame similarity Procrustes alignment (protocol #2)."""
    _check(pred, gt)
    return mpjpe(procrustes_align(pred, gt), gt, reduce)


METRICS = {"mpjpe": mpjpe, "n_mpjpe": n_mpjpe, "p_mpjpe": p_mpjpe}


def all_metrics(pred: np.ndarray, gt: np.ndarray, reduce: str = "mean") -> dict:
    """The three metrics at once: {"mpjpe": ..., "n_mpjpe": ..., "p_mpjpe": ...}."""
    return {name: fn(pred, gt, reduce) for name, fn in METRICS.items()}
