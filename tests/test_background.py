import cv2
import numpy as np
import pytest

from tempose_cli.media import background as bg


def textured_world(h: int = 240, w: int = 800, seed: int = 1) -> np.ndarray:
    """A wide scene with corners and blobs for feature matching."""
    rng = np.random.default_rng(seed)
    img = cv2.resize((rng.random((h // 6, w // 6, 3)) * 255).astype(np.uint8), (w, h),
                     interpolation=cv2.INTER_NEAREST)
    for _ in range(60):
        c = tuple(int(v) for v in rng.integers(0, 255, 3))
        cv2.circle(img, (int(rng.integers(0, w)), int(rng.integers(0, h))),
                   int(rng.integers(3, 12)), c, -1)
    return img


def panning_clip(n: int = 30, fh: int = 144, fw: int = 192, step: int = 12):
    """Frames of a camera panning across ``textured_world`` with a moving athlete."""
    world = textured_world()
    frames, truth = [], []
    for t in range(n):
        x0, y0 = 10 + step * t, 20 + (t % 3)
        view = world[y0:y0 + fh, x0:x0 + fw].copy()
        truth.append(view.copy())
        cy, cx = 40 + t % 10, 80 + (t % 7)
        view[cy:cy + 40, cx:cx + 24] = (250, 30, 30)  # the athlete, roughly fixed in view
        frames.append(view)
    return np.stack(frames), np.stack(truth)


def test_median_equals_numpy_median() -> None:
    rng = np.random.default_rng(0)
    frames = (rng.random((9, 10, 12, 3)) * 255).astype(np.uint8)
    np.testing.assert_array_equal(bg.median_background(frames, rows=3),
                                  np.median(frames, axis=0).astype(np.float32))


def test_median_samples_evenly_with_ends() -> None:
    idx = bg.sample_indices(1000, 7)
    assert idx[0] == 0 and idx[-1] == 999 and len(idx) == 7


def test_dive_halves() -> None:
    frames = np.zeros((5, 10, 4, 3), np.uint8)
    frames[0] = 10
    frames[-1] = 200
    out = bg.dive_halves_background(frames)
    assert (out[:5] == 200).all() and (out[5:] == 10).all()


def test_panorama_recovers_the_moving_background() -> None:
    frames, truth = panning_clip()
    pano = bg.build_panorama(frames)
    assert pano.failed_pairs == 0
    per_frame = np.stack(list(bg.panorama_backgrounds(pano, len(frames), (192, 144))))
    inner = (slice(None), slice(4, -4), slice(4, -4))  # borders are extrapolated
    err = np.abs(per_frame.astype(float) - truth)[inner].mean()
    # The athlete is removed and the panning background reproduced to a few grey levels,
    # where a static median cannot follow the camera at all.
    static = bg.median_background(frames)
    err_static = np.abs(static[None].astype(float) - truth)[inner].mean()
    assert err < 3.0, err
    assert err_static > 5 * err
    assert pano.canvas.shape[1] > 192 + 12 * 25  # the canvas spans the pan


def test_panorama_refuses_unregistrable_frames() -> None:
    rng = np.random.default_rng(0)
    frames = (rng.random((6, 32, 32, 3)) * 255).astype(np.uint8)
    # noise cannot be matched: every pair falls back to the previous motion (identity)
    pano = bg.build_panorama(frames)
    assert pano.failed_pairs == 5
    assert pano.canvas.shape[:2] == (32, 32)


@pytest.mark.parametrize("sport, method", [("dive", "median"), ("ski", "panorama"),
                                           (None, "median")])
def test_default_by_sport(sport, method) -> None:
    assert bg.default_method(sport) == method


def test_masked_median_matches_numpy() -> None:
    rng = np.random.default_rng(3)
    values = rng.integers(0, 255, (7, 5, 6, 3)).astype(np.uint8)
    valid = rng.random((7, 5, 6)) > 0.4
    valid[:, 0, 0] = False
    out = bg.masked_median(values, valid)
    for y in range(5):
        for x in range(6):
            sel = values[valid[:, y, x], y, x]
            want = np.median(sel, axis=0) if len(sel) else np.zeros(3)
            np.testing.assert_allclose(out[y, x], want)
