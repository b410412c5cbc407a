"""Zero-lag Butterworth low-pass filtering of pose tracks, in numpy.

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
    k = 2.0 * fs
    wc = k * np.tan(np.pi * cutoff_hz / fs)  # pre-warped analogue cut-off
    sos = []
    for m in range(order // 2):  # conjugate pole pairs of the left half plane
        p = wc * np.exp(1j * np.pi * (2 * m + order + 1) / (2 * order))
        zp = (k + p) / (k - p)  # bilinear transform of the pole
        a = np.array([1.0, -2 * zp.real, abs(zp) ** 2])
        b = np.array([1.0, 2.0, 1.0])  # both zeros at z = -1 (s = infinity)
        b *= a.sum() / b.sum()  # unit gain at DC
        sos.append(np.concatenate([b, a]))
    return np.array(sos)


def _sosfilt(sos: np.ndarray, x: np.ndarray) -> np.ndarray:
    """Filter (T, C) along time, direct form II transposed, each section starting in
    its steady state for the constant input x[0] (lfilter_zi)."""
    y = np.array(x, float)
    for b0, b1, b2, _, a1, a2 in sos:
        g = (b0 + b1 + b2) / (1 + a1 + a2)  # section DC gain (1 here)
        z2 = (b2 - a2 * g) * y[0]
        z1 = (b1 - a1 * g) * y[0] + z2
        out = np.empty_like(y)
        for i in range(len(y)):
            xi = y[i]
            yi = b0 * xi + z1
            z1 = b1 * xi - a1 * yi + z2
            z2 = b2 * xi - a2 * yi
            out[i] = yi
        y = out
    return y


def filtfilt(sos: np.ndarray, x: np.ndarray, padlen: int | None = None) -> np.ndarray:
    """Zero-phase forward-backward filter of finite (T, ...) data along axis 0."""
    x = np.asarray(x, float)
    shape = x.shape
    x2 = x.reshape(len(x), -1)
    n = len(x2)
    if padlen is None:
        padlen = 3 * (2 * len(sos) + 1)
    padlen = min(padlen, n - 1)
    if padlen > 0:  # odd reflection: 2 x[0] - x[k], keeps value and slope at the ends
        head = 2 * x2[0] - x2[padlen:0:-1]
        tail = 2 * x2[-1] - x2[-2:-padlen - 2:-1]
        x2 = np.concatenate([head, x2, tail])
    y = _sosfilt(sos, x2)
    y = _sosfilt(sos, y[::-1])[::-1]
    if padlen > 0:
        y = y[padlen:-padlen]
    return y.reshape(shape)


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
