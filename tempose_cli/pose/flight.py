"""The flight phase of a dive: a parabola through the CG height, and what gravity implies.

Between take-off and entry the only force on the diver is gravity (air drag is
negligible at these speeds), so the CG height is h(t) = c + b t + a t^2 with
2a = -g: a parabola. ``detect_flight`` finds that phase in a height track,
``fit_parabola`` fits it, and the fitted curvature gives either g (when the height is
in metres along gravity) or the image scale (when it is in pixels).

Image scale from gravity. Under (weak) perspective an athlete at depth Z moving in a
plane parallel to the image plane, seen by a level camera, projects as
v(t) = v0 - (f / Z) h(t), so the image height track -v has curvature
a_px = (f / Z) a = -(f / Z) g / 2, i.e. pixels per metre f / Z = 2 |a_px| / g and
**metres per pixel = g / (2 |a_px|)**. A camera pitched by an angle theta sees only
g cos(theta) along the image's vertical and so overestimates metres per pixel by
1 / cos(theta) (1.5% at 10 degrees); depth changes during the dive add perspective
error on the order of (depth change / Z).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from tempose_cli.core.geometry import G


@dataclass(frozen=True)
class Parabola:
    """h(t) = c + b t + a t^2 over frames [start, end] (inclusive), t in the fit's unit."""

    a: float
    b: float
    c: float
    start: int
    end: int
    rms: float
    max_abs: float

    def __call__(self, t: np.ndarray) -> np.ndarray:
        t = np.asarray(t, float)
        return self.c + self.b * t + self.a * t * t

    @property
    def acceleration(self) -> float:
        return 2.0 * self.a

    @property
    def apex(self) -> tuple[float, float]:
        """(t, h) of the vertex (the highest point when a < 0)."""
        t = -self.b / (2 * self.a) if self.a != 0 else float("nan")
        return t, float(self(t))


def fit_parabola(t: np.ndarray, h: np.ndarray, start: int = 0, end: int | None = None
                 ) -> Parabola:
    """Least-squares parabola through the finite samples of h[start:end + 1]."""
    t, h = np.asarray(t, float), np.asarray(h, float)
    end = len(h) - 1 if end is None else end
    sl = slice(start, end + 1)
    ok = np.isfinite(h[sl]) & np.isfinite(t[sl])
    tt, hh = t[sl][ok], h[sl][ok]
    if len(tt) < 3:
        raise ValueError("a parabola needs at least 3 samples")
    t0 = tt.mean()  # centred time keeps the normal equations well conditioned
    A = np.stack([np.ones_like(tt), tt - t0, (tt - t0) ** 2], 1)
    (c0, b0, a), *_ = np.linalg.lstsq(A, hh, rcond=None)
    resid = hh - A @ np.array([c0, b0, a])
    # Back to h = c + b t + a t^2 in the caller's time.
    return Parabola(float(a), float(b0 - 2 * a * t0), float(c0 - b0 * t0 + a * t0 * t0),
                    start, end, float(np.sqrt(np.mean(resid ** 2))), float(np.abs(resid).max()))


def noise_level(h: np.ndarray) -> float:
    """Robust estimate of the white-noise std of h.

    Third differences cancel any parabola exactly, and of white noise they have
    variance 20 sigma^2 (1 + 9 + 9 + 1); the median absolute value (x 1.4826 for a
    Gaussian) ignores the few frames at take-off and entry where h is not a parabola.
    """
    d3 = np.diff(np.asarray(h, float), 3)
    d3 = d3[np.isfinite(d3)]
    if len(d3) == 0:
        return 0.0
    return float(1.4826 * np.median(np.abs(d3)) / np.sqrt(20.0))


def flight_tolerance(h: np.ndarray, body_size: float | None = None, k: float = 4.0,
                     body_frac: float = 0.15) -> float:
    """The residual scale ``tol`` of ``detect_flight``: k x the noise level of h, but at
    least ``body_frac`` x ``body_size`` (e.g. the trunk length, in h's unit).

    Why a body-size floor: a CG computed with a segment table that does not match the
    athlete is off by a few centimetres in a body-fixed direction, and that offset
    turns with every somersault, so even noise-free joints give a CG that wobbles
    about the free-fall parabola by ~10% of the trunk length (5 cm on the synthetic
    benchmark's humanoid, whose link masses are not Dempster's).
    """
    tol = k * noise_level(h)
    if body_size is not None and np.isfinite(body_size):
        tol = max(tol, body_frac * float(body_size))
    return tol


def window_fits(t: np.ndarray, h: np.ndarray, starts: np.ndarray, ends: np.ndarray,
                accel: float | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(n, rss, a) of the least-squares parabola of every window [starts[i], ends[i]],
    from prefix sums of t^k and h t^k (O(1) per window); NaN samples are skipped.
    With ``accel`` the curvature is fixed (a = accel / 2) and only c, b are fitted."""
    t, h = np.asarray(t, float), np.asarray(h, float)
    ok = np.isfinite(h) & np.isfinite(t)
    t0, ts = t[ok].mean(), max(float(np.ptp(t[ok])), 1e-12)
    x = np.where(ok, (t - t0) / ts, 0.0)  # centred and scaled: well-conditioned sums
    y = h if accel is None else h - 0.5 * accel * t * t
    y = np.where(ok, y - np.mean(y[ok]), 0.0)
    k = 3 if accel is None else 2
    w = ok.astype(float)
    cols = [w * x ** p for p in range(2 * k - 1)] + [y * x ** p for p in range(k)] + [y * y]
    cs = np.concatenate([np.zeros((1, len(cols))), np.cumsum(np.stack(cols, 1), 0)])
    S = cs[np.asarray(ends) + 1] - cs[np.asarray(starts)]
    n = S[:, 0]
    M = np.stack([S[:, i:i + k] for i in range(k)], 1)  # X'X (Hankel in the moments)
    v = S[:, 2 * k - 1:3 * k - 1]  # X'y
    beta = np.full((len(n), k), np.nan)
    good = n >= k + 1
    if good.any():
        beta[good] = np.linalg.solve(M[good] + 1e-12 * np.eye(k), v[good][..., None])[..., 0]
    rss = np.maximum(S[:, -1] - np.einsum("wi,wi->w", beta, v), 0.0)
    a = beta[:, 2] / ts ** 2 if accel is None else np.full(len(n), 0.5 * accel)
    return n, rss, a


def detect_flight(t: np.ndarray, h: np.ndarray, tol: float | None = None,
                  accel: float | None = None, min_frames: int = 5) -> Parabola | None:
    """The flight phase of a CG height track h (up positive, any unit), or None.

    The rule: the flight is one run of frames [s, e] that contains the highest CG
    point (the diver leaves the platform or board rising, so the apex is in the air),
    over which one downward-opening parabola fits (its curvature moves h by more than
    tol over the run: a straight line is not a flight), chosen to maximise

        score(s, e) = n - RSS(s, e) / tol^2,

    n the frames in the run and RSS the parabola's residual sum of squares: a frame
    is worth including while its squared residual is below tol^2 on average. Take-off
    (the legs push the CG upwards) and entry (the water brakes it) leave the free-fall
    curve quadratically in time, so they end the run, while a smooth error of the pose
    or segment model inside the flight cannot cut it short the way a maximum-residual
    rule would, because the run is contiguous. With ``accel`` (-g for a height in
    metres and t in seconds) the curvature is fixed, so the fit cannot bend to absorb
    a platform frame. Frames next to take-off within ~tol of the curve cannot be told
    from flight: the ends are good to about a frame at 25 fps, 2-3 frames at 50 fps.
    Every window is scored exactly (prefix sums). ``tol`` defaults to
    ``flight_tolerance(h)``. NaN frames inside the run are kept; its ends are finite.
    The returned parabola is the free least-squares fit over the run, so that its
    curvature measures g (or the image scale) rather than assuming it.
    """
    t, h = np.asarray(t, float), np.asarray(h, float)
    ok = np.isfinite(h) & np.isfinite(t)
    if ok.sum() < min_frames:
        return None
    tol = flight_tolerance(h) if tol is None else float(tol)
    tol = max(tol, 1e-9 * max(1.0, float(np.nanmax(np.abs(h[ok])))))
    apex = int(np.nanargmax(np.where(ok, h, np.nan)))
    fin = np.flatnonzero(ok)
    starts, ends = fin[fin <= apex], fin[fin >= apex]
    best = (-np.inf, 0, 0)
    chunk = max(1, 200_000 // len(ends))  # bounded memory for long high-speed clips
    for c in range(0, len(starts), chunk):
        ss, ee = np.meshgrid(starts[c:c + chunk], ends, indexing="ij")
        ss, ee = ss.ravel(), ee.ravel()
        n, rss, a = window_fits(t, h, ss, ee, accel)
        # A parabola must bend: over the run, its curvature moves h by more than tol
        # (a straight line or a tent is not a flight).
        bends = -a * (0.5 * (t[ee] - t[ss])) ** 2 > tol
        score = np.where((n >= min_frames) & bends, n - rss / tol ** 2, -np.inf)
        i = int(np.argmax(score))
        if score[i] > best[0]:
            best = (float(score[i]), int(ss[i]), int(ee[i]))
    if not np.isfinite(best[0]):
        return None
    fit = fit_parabola(t, h, best[1], best[2])
    return fit if -fit.a * (0.5 * (t[fit.end] - t[fit.start])) ** 2 > tol else None


def metres_per_pixel(a_px: float, g: float = G) -> float:
    """Image scale from the curvature a_px (px / s^2, of the upward image height) of the
    CG's flight parabola: metres per pixel = g / (2 |a_px|) (module docstring)."""
    if not np.isfinite(a_px) or a_px == 0:
        return float("nan")
    return g / (2.0 * abs(a_px))
