"""Background estimation per clip: the image the decoder composites onto (Eq. 1).

- ``median``: per-pixel median over sampled frames (static camera).
- ``dive-halves``: bottom half of the first frame + top half of the last (a diver
  who starts at the top of the frame and ends at the bottom).
- ``panorama``: moving camera. ORB matches + RANSAC homographies between consecutive
  frames, every frame registered into the middle frame's plane, per-pixel median over
  the registered panorama, and a background per frame warped back from it.

Static methods give (H, W, 3) float32; panorama gives (T, H, W, 3) uint8.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from tempose_cli.core.sampling import sample_indices
from tempose_cli.core.sidecar import BACKGROUND_METHODS

METHODS = BACKGROUND_METHODS
DEFAULT_BY_SPORT = {"dive": "median", "ski": "panorama"}

Progress = Callable[[int, int], None] | None


def default_method(sport: str | None) -> str:
    return DEFAULT_BY_SPORT.get(sport or "", "median")


def median_background(frames: np.ndarray, max_samples: int = 100, rows: int = 64) -> np.ndarray:
    """Per-pixel median of ``frames`` (T, H, W, 3) over up to ``max_samples`` frames.

    Computed in bands of ``rows`` image rows so memory stays bounded for long clips.
    """
    idx = sample_indices(len(frames), max_samples)
    _, h, w, c = frames.shape
    out = np.empty((h, w, c), np.float32)
    for r0 in range(0, h, rows):
        band = np.asarray(frames[idx, r0:r0 + rows])  # (S, rows, W, 3)
        out[r0:r0 + rows] = np.median(band, axis=0)
    return out


def dive_halves_background(frames: np.ndarray) -> np.ndarray:
    """Top half from the last frame, bottom half from the first (diver goes top→bottom)."""
    h = frames.shape[1]
    bg = np.asarray(frames[-1], np.float32).copy()
    bg[h // 2:] = frames[0][h // 2:]
    return bg


@dataclass
class Panorama:
    canvas: np.ndarray  # (Hc, Wc, 3) uint8, the registered median panorama
    to_canvas: np.ndarray  # (T, 3, 3) homographies frame -> canvas
    failed_pairs: int  # consecutive pairs where matching failed (motion carried over)


def _pair_homography(matcher, fa, fb, a: np.ndarray, b: np.ndarray) -> np.ndarray | None:
    """Homography mapping points of grey frame ``b`` onto grey frame ``a``.

    ``fa``/``fb``: (keypoints, descriptors) of the two frames.
    """
    (ka, da), (kb, db) = fa, fb
    if da is None or db is None or len(ka) < 8 or len(kb) < 8:
        return None
    pairs = matcher.knnMatch(db, da, k=2)
    good = [m for m, *rest in pairs if rest and m.distance < 0.8 * rest[0].distance]
    if len(good) < 12:
        return None
    src = np.float32([kb[m.queryIdx].pt for m in good])
    dst = np.float32([ka[m.trainIdx].pt for m in good])
    H, inliers = cv2.findHomography(src, dst, cv2.RANSAC, 2.0)
    if H is None or inliers is None or int(inliers.sum()) < 10:
        return None
    return _refine_ecc(a, b, H)


ECC_CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-5)


def _refine_ecc(a: np.ndarray, b: np.ndarray, H: np.ndarray) -> np.ndarray:
    """Sub-pixel refinement of ``H`` (b -> a) by ECC on intensities, athlete masked out.

    Keypoints sit on pyramid pixels, so chained ORB homographies drift by pixels over
    a clip; ECC aligns whole images. The athlete moves against the background and
    would bias ECC, so a second pass ignores pixels that the first pass left
    unexplained (large residual).
    """
    af, bf = a.astype(np.float32), b.astype(np.float32)
    mask = None
    for _ in range(2):
        try:
            # ECC's warp maps template (a) coordinates to input (b) coordinates.
            _, W = cv2.findTransformECC(af, bf, np.linalg.inv(H).astype(np.float32),
                                        cv2.MOTION_HOMOGRAPHY, ECC_CRITERIA, mask, 5)
        except cv2.error:  # did not converge: keep the estimate we have
            return H
        H = np.linalg.inv(W.astype(np.float64))
        H /= H[2, 2]
        warped = cv2.warpPerspective(bf, H, (a.shape[1], a.shape[0]),
                                     flags=cv2.INTER_LINEAR, borderValue=np.nan)
        resid = np.abs(cv2.GaussianBlur(np.nan_to_num(warped - af), (5, 5), 0))
        outlier = (resid > max(12.0, 4.0 * float(np.median(resid)))).astype(np.uint8)
        mask = (cv2.dilate(outlier, np.ones((7, 7), np.uint8)) == 0).astype(np.uint8)
    return H


def masked_median(values: np.ndarray, valid: np.ndarray) -> np.ndarray:
    """Per-pixel median over axis 0 of (S, H, W, C) ``values`` where ``valid`` (S, H, W).

    Same as np.median over the valid samples (mean of the two middle ones for an even
    count); 0 where no sample is valid. Sorting with NaN last avoids nanmedian's
    slow masked-array path.
    """
    v = values.astype(np.float32)
    v[~valid] = np.nan
    v.sort(axis=0)  # NaN sorts last
    k = valid.sum(0)[None, ..., None].repeat(v.shape[-1], axis=-1)  # (1, H, W, C)
    lo = np.take_along_axis(v, np.maximum((k - 1) // 2, 0), axis=0)[0]
    hi = np.take_along_axis(v, np.maximum(k // 2 - (k == 0), 0), axis=0)[0]
    return np.where(k[0] > 0, 0.5 * (lo + hi), 0.0)


def register_frames(frames: np.ndarray, progress: Progress = None,
                    max_side: int = 320) -> tuple[np.ndarray, int]:
    """Homographies (T, 3, 3) mapping each frame into the middle frame's plane.

    Registration runs on grey frames scaled to at most ``max_side`` pixels (ECC is
    sub-pixel there, and it is several times faster); the result is scaled back.
    """
    n, h, w = frames.shape[:3]
    scale = min(1.0, max_side / max(h, w))
    small = (max(16, round(w * scale)), max(16, round(h * scale)))
    S = np.diag([small[0] / w, small[1] / h, 1.0])
    orb = cv2.ORB_create(nfeatures=800, fastThreshold=10, edgeThreshold=15, patchSize=15)
    matcher = cv2.BFMatcher(cv2.NORM_HAMMING)
    grey = [cv2.resize(cv2.cvtColor(np.asarray(f), cv2.COLOR_RGB2GRAY), small,
                       interpolation=cv2.INTER_AREA) for f in frames]
    feats = [orb.detectAndCompute(g, None) for g in grey]
    step = np.tile(np.eye(3), (n, 1, 1))  # step[t]: frame t -> frame t-1
    failed = 0
    for t in range(1, n):
        H = _pair_homography(matcher, feats[t - 1], feats[t], grey[t - 1], grey[t])
        if H is None:
            failed += 1
            H = step[t - 1]  # constant camera motion is the best guess over one frame
        step[t] = H
        if progress:
            progress(t, n)
    ref = n // 2
    to_ref = np.tile(np.eye(3), (n, 1, 1))
    for t in range(ref + 1, n):
        to_ref[t] = to_ref[t - 1] @ step[t]
    for t in range(ref - 1, -1, -1):
        to_ref[t] = to_ref[t + 1] @ np.linalg.inv(step[t + 1])
    to_ref = np.linalg.inv(S) @ to_ref @ S  # back to full-resolution pixels
    return to_ref / to_ref[:, 2:3, 2:3], failed


def build_panorama(frames: np.ndarray, max_samples: int = 60, max_extent: float = 6.0,
                   progress: Progress = None) -> Panorama:
    n, h, w, _ = frames.shape
    to_ref, failed = register_frames(frames, progress)
    corners = np.array([[0, 0, 1], [w, 0, 1], [0, h, 1], [w, h, 1]], np.float64).T
    pts = to_ref @ corners  # (T, 3, 4)
    pts = pts[:, :2] / pts[:, 2:3]
    x0, y0 = np.floor(pts[:, 0].min()), np.floor(pts[:, 1].min())
    x1, y1 = np.ceil(pts[:, 0].max()), np.ceil(pts[:, 1].max())
    if (x1 - x0) > max_extent * w or (y1 - y0) > max_extent * h:
        raise ValueError(
            f"panorama would span {x1 - x0:.0f}x{y1 - y0:.0f} px (frames are {w}x{h}): "
            "registration failed; try --background median"
        )
    shift = np.array([[1, 0, -x0], [0, 1, -y0], [0, 0, 1]], np.float64)
    to_canvas = shift @ to_ref
    size = (int(x1 - x0), int(y1 - y0))
    idx = sample_indices(n, max_samples)
    warped = np.zeros((len(idx), size[1], size[0], 3), np.uint8)
    valid = np.zeros((len(idx), size[1], size[0]), bool)
    ones = np.full((h, w), 255, np.uint8)
    for k, t in enumerate(idx):
        warped[k] = cv2.warpPerspective(np.asarray(frames[t]), to_canvas[t], size,
                                        flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT)
        # Erode the footprint by a pixel: border pixels are blends with the fill colour.
        m = cv2.warpPerspective(ones, to_canvas[t], size, flags=cv2.INTER_NEAREST)
        valid[k] = cv2.erode(m, np.ones((3, 3), np.uint8)) > 0
    canvas = np.zeros((size[1], size[0], 3), np.uint8)
    covered = valid.any(0)
    for r0 in range(0, size[1], 64):
        med = masked_median(warped[:, r0:r0 + 64], valid[:, r0:r0 + 64])
        canvas[r0:r0 + 64] = med.round().astype(np.uint8)
    if not covered.all():  # never seen by a sampled frame: fill from the neighbourhood
        canvas = cv2.inpaint(canvas, (~covered).astype(np.uint8), 3, cv2.INPAINT_TELEA)
    return Panorama(canvas=canvas, to_canvas=to_canvas, failed_pairs=failed)


def panorama_backgrounds(pano: Panorama, n: int, size: tuple[int, int]) -> Iterator[np.ndarray]:
    """Yield the per-frame backgrounds (H, W, 3) uint8 warped back from the panorama."""
    w, h = size
    for t in range(n):
        yield cv2.warpPerspective(pano.canvas, np.linalg.inv(pano.to_canvas[t]), (w, h),
                                  flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
