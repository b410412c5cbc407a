"""The one-way reading of the somersault angle through the flight (pose/rotation.py)."""

import numpy as np
import pytest

from tempose_cli.pose import rotation as rot


def _dive(turn_deg: float, n: int = 40) -> np.ndarray:
    """An unwrapped somersault track: slow at take-off and entry, fast in the tuck."""
    s = np.linspace(0.0, 1.0, n)
    return 20.0 + turn_deg * (s - np.sin(2 * np.pi * s) / (2 * np.pi))  # (T,) monotone


@pytest.mark.parametrize("turn", [180.0, -180.0, 540.0, -540.0, -900.0])
def test_clean_track_is_returned_as_measured(turn):
    truth = _dive(turn)
    tr = rot.one_way_unwrap_deg(rot.wrap_deg(truth), float(truth[0]), 25.0)
    np.testing.assert_allclose(tr.theta, truth, atol=1e-9)
    assert tr.inlier.all() and tr.sense == np.sign(turn)


@pytest.mark.parametrize("turn", [180.0, -540.0, 540.0])
def test_outlier_frames_do_not_change_the_count(turn):
    rng = np.random.default_rng(3)
    truth = _dive(turn)
    phi = rot.wrap_deg(truth + rng.normal(0, 5, len(truth)))
    bad = rng.choice(np.arange(3, len(truth) - 3), 8, replace=False)
    phi[bad] = rng.uniform(-180, 180, len(bad))  # frames from another phase of the dive
    phi[5] = np.nan
    tr = rot.one_way_unwrap_deg(phi, float(truth[0]), 25.0)
    assert abs(tr.theta[-1] - truth[-1]) < 20.0
    assert tr.sense == np.sign(turn)
    assert np.abs(tr.theta - truth).max() < 90.0  # every frame on the right branch
    far = np.abs(rot.wrap_deg(phi - truth)) > 100.0
    assert not tr.inlier[far].any() and not tr.inlier[5]


def test_plain_unwrapping_is_what_it_fixes():
    """One frame nearly half a turn off in the fast part: np.unwrap takes both jumps the
    short way and ends a full turn out; the one-way track does not."""
    truth = _dive(-540.0)
    phi = rot.wrap_deg(truth)
    phi[20] = rot.wrap_deg(truth[20] + 170.0)
    plain = np.unwrap(phi, period=360.0)
    tr = rot.one_way_unwrap_deg(phi, float(truth[0]), 25.0)
    assert abs(plain[-1] - truth[-1]) > 300.0
    assert abs(tr.theta[-1] - truth[-1]) < 1e-6
    assert list(np.flatnonzero(~tr.inlier)) == [20]


def test_in_flight_only_and_the_frames_after_continue():
    truth = np.concatenate([np.full(10, 30.0), _dive(-540.0, 30) + 10.0,
                            np.linspace(-510, -600, 8)])
    a = np.unwrap(rot.wrap_deg(truth), period=360.0)
    a[25] += 180.0  # an outlier in the flight
    out, replaced = rot.one_way_in_flight(a, 10, 39, 25.0)
    np.testing.assert_allclose(out[:10], a[:10])
    assert abs(out[39] - truth[39]) < 1e-6 and abs(out[-1] - truth[-1]) < 1e-6
    assert replaced[25] and replaced.sum() == 1


def test_bad_input():
    with pytest.raises(ValueError, match="non-empty"):
        rot.one_way_unwrap_deg(np.zeros((2, 2)), 0.0, 25.0)
    with pytest.raises(ValueError, match="finite"):
        rot.one_way_unwrap_deg(np.zeros(4), float("nan"), 25.0)
    out, rep = rot.one_way_in_flight(np.full(6, np.nan), 1, 4, 25.0)
    assert np.isnan(out).all() and not rep.any()
