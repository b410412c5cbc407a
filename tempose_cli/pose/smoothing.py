"""Zero-lag Butterworth low-pass filtering of pose tracks (``scipy.signal``: ``butter``
and ``sosfiltfilt``, as Pose2Sim and Sports2D do).

Design: an analogue Butterworth prototype of the given order, its cut-off pre-warped
(Omega = 2 fs tan(pi fc / fs)) so that the digital filter's -3 dB point lands exactly
on fc after the bilinear transform s = 2 fs (z - 1) / (z + 1), built as second-order
sections (numerically safe at low fc / fs). Zero phase: the filter runs forwards and
then backwards (``filtfilt``), which squares the magnitude response. With
``correct=True`` (the default) the single-pass cut-off is raised by Winter's
correction factor C = (2^(1/2) - 1)^(-1/(2 n)) (Winter, *Biomechanics and Motor
Control of Human Movement*, 4th ed., sec. 3.4.4.4; Robertson & Dowling 2003,
J. Electromyogr. Kinesiol. 13:569) so that the two-pass response is -3 dB at
``cutoff_hz``; with ``correct=False`` it is -6 dB there, as in most software that
just calls a filtfilt.

Edges: the signal is extended at both ends by an odd reflection about its end value
(value and slope continue) and each section starts from its steady state for the
first sample, so a constant stays constant and a ramp has no start-up transient.

Missing values: every run of consecutive finite samples is filtered on its own; NaN
stays NaN (gaps are never bridged by filtering). Runs shorter than ``MIN_RUN`` samples
are left unfiltered. Fill gaps first (``exports.fill_gaps``) if the track should be
smooth across them.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from tempose_cli.core.labels import PoseTrack

MIN_RUN = 4


def butter_lowpass_sos(cutoff_hz: float, fs: float, order: int = 4) -> np.ndarray:
    """(order // 2, 6) second-order sections [b0 b1 b2 a0 a1 a2] (order must be even)."""
    if order < 2 or order % 2:
        raise ValueError(f"order must be a positive even number, got {order}")
    if not 0 < cutoff_hz < fs / 2:
        raise ValueError(f"cut-off {cutoff_hz} Hz must be between 0 and the Nyquist "
                         f"frequency {fs / 2:g} Hz (fps {fs:g})")
    from scipy.signal import butter

    sos = butter(order, cutoff_hz, btype="low", fs=fs, output="sos")
    # scipy puts the whole gain in the first section; give each unit gain at DC instead
    # (the product is unchanged) so every section starts in the same steady state.
    sos[:, :3] *= (sos[:, 3:].sum(1) / sos[:, :3].sum(1))[:, None]
    return sos


def filtfilt(sos: np.ndarray, x: np.ndarray, padlen: int | None = None) -> np.ndarray:
    """Zero-phase forward-backward filter of finite (T, ...) data along axis 0
    (``scipy.signal.sosfiltfilt``: odd extension, sections started in steady state)."""
    from scipy.signal import sosfiltfilt

    x = np.asarray(x, float)
    if padlen is None:
        padlen = 3 * (2 * len(sos) + 1)
    padlen = min(padlen, len(x) - 1)
    return sosfiltfilt(sos, x, axis=0, padtype="odd" if padlen > 0 else None,
                       padlen=max(padlen, 0))


def design_cutoff(cutoff_hz: float, fps: float, order: int, correct: bool = True) -> float:
    """Single-pass cut-off that makes the two-pass filter -3 dB at ``cutoff_hz``.

    Winter's factor is applied to the pre-warped frequency, so it is exact for the
    digital filter: tan(pi fd / fs) = tan(pi fc / fs) / C, C = (sqrt(2) - 1)^(1/(2n)).
    """
    if not correct or not 0 < cutoff_hz < fps / 2:
        return cutoff_hz  # out of range: the design raises the one error message
    c = (2 ** 0.5 - 1) ** (1 / (2 * order))
    return float(fps / np.pi * np.arctan(np.tan(np.pi * cutoff_hz / fps) / c))


def lowpass(x: np.ndarray, fps: float, cutoff_hz: float, order: int = 4,
            correct: bool = True) -> np.ndarray:
    """Zero-lag Butterworth low-pass of (T, ...) data along time (module docstring)."""
    x = np.asarray(x, float)
    fd = design_cutoff(cutoff_hz, fps, order, correct)
    sos = butter_lowpass_sos(fd, fps, order)
    # Three cut-off periods of padding: the start-up transient of a ramp has died out.
    padlen = max(3 * (2 * len(sos) + 1), int(round(3 * fps / cutoff_hz)))
    flat = x.reshape(len(x), -1)
    out = flat.copy()
    for c_ in range(flat.shape[1]):
        col = flat[:, c_]
        ok = np.isfinite(col)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], ok.astype(np.int8), [0]])))
        for start, stop in zip(edges[::2], edges[1::2], strict=True):
            if stop - start >= MIN_RUN:
                out[start:stop, c_] = filtfilt(sos, col[start:stop], padlen)
    return out.reshape(x.shape)


def smooth_track(track: PoseTrack, fps: float, cutoff_hz: float, order: int = 4,
                 correct: bool = True) -> PoseTrack:
    """A copy of ``track`` with its 3D and 2D joints low-pass filtered along time."""
    kw = {}
    for name in ("j3d", "j2d"):
        arr = getattr(track, name)
        if arr is not None:
            kw[name] = lowpass(arr, fps, cutoff_hz, order, correct)
    return replace(track, **kw)


def smoothing_tag(cutoff_hz: float | None) -> str:
    """File-name tag of the processing step, e.g. ``_smooth-butter6hz`` ('' if none)."""
    if cutoff_hz is None:
        return ""
    return f"_smooth-butter{cutoff_hz:g}hz".replace(".", "p")


def smoothing_record(fps: float, cutoff_hz: float | None, order: int = 4,
                     correct: bool = True) -> dict:
    """What the export's JSON says about the filtering (None-free, JSON-ready)."""
    if cutoff_hz is None:
        return {"applied": False}
    return {"applied": True, "filter": "butterworth low-pass, zero-lag (forward-backward)",
            "order": order, "passes": 2, "cutoff_hz": cutoff_hz, "fps": fps,
            "cutoff_corrected_for_two_passes": correct,
            "missing_values": "each finite run filtered separately; NaN kept"}
