"""Zero-lag Butterworth low-pass: passband, stopband, phase, edges, NaN runs."""

from __future__ import annotations

import numpy as np
import pytest

from tempose_cli.core.labels import PoseTrack
from tempose_cli.pose.smoothing import (
    butter_lowpass_sos,
    design_cutoff,
    lowpass,
    smooth_track,
    smoothing_record,
    smoothing_tag,
)

FS = 100.0
T = np.arange(400) / FS
MID = slice(100, 300)  # away from the ends


def _gain_and_phase(y: np.ndarray, x: np.ndarray, f: float) -> tuple[float, float]:
    """Complex amplitude ratio of y to x at frequency f over the middle samples."""
    e = np.exp(-2j * np.pi * f * T[MID])
    r = np.sum(y[MID] * e) / np.sum(x[MID] * e)
    return abs(r), float(np.degrees(np.angle(r)))


def test_passband_sine_is_kept_without_lag():
    x = np.sin(2 * np.pi * 2.0 * T + 0.3)
    y = lowpass(x, FS, 6.0)
    gain, phase = _gain_and_phase(y, x, 2.0)
    assert abs(gain - 1) < 0.01 and abs(phase) < 0.1
    assert np.abs(y[MID] - x[MID]).max() < 0.01
    assert np.argmax(y[:50]) == np.argmax(x[:50])  # the peak does not move


def test_cutoff_is_minus_3_db_and_stopband_is_attenuated():
    x = np.sin(2 * np.pi * 6.0 * T)
    assert _gain_and_phase(lowpass(x, FS, 6.0), x, 6.0)[0] == pytest.approx(2 ** -0.5, rel=1e-3)
    # Without Winter's correction the two passes give |H|^2 = 1/2 at the cut-off.
    assert _gain_and_phase(lowpass(x, FS, 6.0, correct=False), x, 6.0)[0] == \
        pytest.approx(0.5, rel=1e-3)
    high = np.sin(2 * np.pi * 30.0 * T)
    assert np.abs(lowpass(high, FS, 6.0)[MID]).max() < 1e-3
    assert design_cutoff(6.0, FS, 4) > 6.0


def test_constant_and_ramp_are_unchanged_up_to_the_ends():
    np.testing.assert_allclose(lowpass(np.full(50, 3.3), FS, 6.0), 3.3, atol=1e-12)
    ramp = 0.5 * np.arange(100.0)
    np.testing.assert_allclose(lowpass(ramp, FS, 6.0), ramp, atol=1e-3)


def test_sections_have_unit_dc_gain_and_stable_poles():
    sos = butter_lowpass_sos(6.0, FS, 4)
    assert sos.shape == (2, 6)
    np.testing.assert_allclose(sos[:, :3].sum(1) / sos[:, 3:].sum(1), 1.0)
    for a in sos[:, 3:]:
        assert np.all(np.abs(np.roots(a)) < 1)
    with pytest.raises(ValueError, match="Nyquist"):
        butter_lowpass_sos(60.0, FS)
    with pytest.raises(ValueError, match="even"):
        butter_lowpass_sos(6.0, FS, 3)


def test_nan_runs_are_filtered_separately():
    x = np.sin(2 * np.pi * 1.0 * T)
    x[150:160] = np.nan
    x[296:300] = np.nan
    x[300:302] = 1.0
    x[302] = np.nan
    y = lowpass(x, FS, 6.0)
    assert np.isnan(y[150:160]).all() and np.isnan(y[296:300]).all() and np.isnan(y[302])
    assert np.isfinite(y[:150]).all() and np.isfinite(y[160:296]).all()
    np.testing.assert_array_equal(y[300:302], 1.0)  # too short a run: left as it is
    assert np.abs(y[:140] - x[:140]).max() < 0.01


def test_smooth_track_and_records():
    n = 60
    rng = np.random.default_rng(0)
    j3d = np.cumsum(rng.normal(size=(n, 14, 3)), 0) * 0.01
    track = PoseTrack(frame=np.arange(n), time_s=np.arange(n) / 50, j3d=j3d,
                      j2d=j3d[..., :2] * 100)
    out = smooth_track(track, 50.0, 6.0)
    assert out.j3d.shape == j3d.shape and out.j2d.shape == track.j2d.shape
    assert np.abs(np.diff(out.j3d, 2, axis=0)).mean() < np.abs(np.diff(j3d, 2, axis=0)).mean()
    assert track.j3d is j3d  # the input is not modified
    assert smoothing_tag(6) == "_smooth-butter6hz" and smoothing_tag(None) == ""
    assert smoothing_tag(7.5) == "_smooth-butter7p5hz"
    rec = smoothing_record(50.0, 6.0)
    assert rec["applied"] and rec["order"] == 4 and rec["cutoff_hz"] == 6.0
    assert smoothing_record(50.0, None) == {"applied": False}
