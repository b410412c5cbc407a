"""Textured 3D backgrounds, ray-cast per pixel: colour and distance along each ray.

Surfaces are analytic (bounded planes, boxes, vertical cylinders, spheres) with
procedural textures (value noise, tiles, stripes) in world coordinates, so the
background is geometrically consistent with the camera, and the per-pixel distance
lets the body be hidden where the scene is in front of it (water, platform, slope).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import cv2
import numpy as np

from tempose_cli.synth.camera import pixel_rays

Material = Callable[[np.ndarray, float], np.ndarray]  # (N, 3) hit points, time -> (N, 3) rgb
SUN = np.array([0.35, -0.55, 0.76]) / np.linalg.norm([0.35, -0.55, 0.76])


def sample(image: np.ndarray, x: np.ndarray, y: np.ndarray,
           border: int = cv2.BORDER_REFLECT) -> np.ndarray:
    """Bilinear lookup of ``image`` at float pixel coordinates of any count -> (N, C)."""
    x = np.asarray(x, np.float32).ravel()
    y = np.asarray(y, np.float32).ravel()
    n = len(x)
    cols = 4096  # cv2.remap wants maps below 32767 in each dimension
    rows = max(1, -(-n // cols))
    pad = rows * cols - n
    mx = np.pad(x, (0, pad)).reshape(rows, cols)
    my = np.pad(y, (0, pad)).reshape(rows, cols)
    out = cv2.remap(image, mx, my, cv2.INTER_LINEAR, borderMode=border)
    return out.reshape(rows * cols, -1)[:n]


class Noise:
    """Seeded multi-octave value noise over the plane (wraps every 256 cells)."""

    def __init__(self, seed: int):
        rng = np.random.default_rng(seed)
        self.grid = rng.random((256, 256)).astype(np.float32)

    def __call__(self, x: np.ndarray, y: np.ndarray, cell: float, octaves: int = 3) -> np.ndarray:
        out = np.zeros(np.shape(x), np.float32)
        amp, total = 1.0, 0.0
        for o in range(octaves):
            c = cell / 2**o
            mx = np.asarray(x, np.float32) / c
            my = np.asarray(y, np.float32) / c + 37 * o
            v = sample(self.grid, mx % 256, my % 256, cv2.BORDER_WRAP)
            out += amp * v.reshape(np.shape(x))
            total += amp
            amp *= 0.5
        return out / total


@dataclass(frozen=True)
class Ripple:
    """A moving brightness modulation: noise at ``cell`` metres drifting at ``flow`` m/s."""

    noise: Noise
    cell: float
    flow: tuple[float, float]
    amp: float

    def maps(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Noise-grid coordinates of the points, as 2-D maps cv2.remap accepts."""
        n, cols = len(points), 4096
        rows = max(1, -(-n // cols))
        pad = rows * cols - n
        mx = np.pad((points[:, 0] / self.cell) % 256, (0, pad)).astype(np.float32)
        my = np.pad((points[:, 1] / self.cell) % 256, (0, pad)).astype(np.float32)
        return mx.reshape(rows, cols), my.reshape(rows, cols)

    def factor(self, maps: tuple[np.ndarray, np.ndarray], n: int, t: float) -> np.ndarray:
        ox = (self.flow[0] * t / self.cell) % 256
        oy = (self.flow[1] * t / self.cell) % 256
        mx, my = maps[0] + np.float32(ox), maps[1] + np.float32(oy)
        # Wrapped into [0, 256] by an exact float32 subtraction, so cv2 samples the same
        # texels with the same weights but takes its fast in-image path, not the border one.
        np.subtract(mx, 256, out=mx, where=mx >= 256)
        np.subtract(my, 256, out=my, where=my >= 256)
        v = cv2.remap(self.noise.grid, mx, my, cv2.INTER_LINEAR,
                      borderMode=cv2.BORDER_WRAP).ravel()[:n]
        # 1 + amp (2 v - 1), step by step in float32 without temporaries.
        v *= 2.0
        v -= 1.0
        v *= self.amp
        v += 1.0
        return v


@dataclass
class Prim:
    """One surface: kind in {"plane", "box", "cylinder", "sphere"} with its parameters."""

    kind: str
    params: dict
    material: Material
    ripple: Ripple | None = None  # animates the surface's brightness over time


@dataclass
class Scene:
    prims: list[Prim] = field(default_factory=list)
    sky: Callable[[np.ndarray], np.ndarray] | None = None  # (N, 3) directions -> rgb

    def add(self, kind: str, material: Material, ripple: Ripple | None = None,
            **params) -> None:
        self.prims.append(Prim(kind, params, material, ripple))


def _hit(prim: Prim, o: np.ndarray, d: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Ray parameter s (N,) (inf = miss) and unit normals (N, 3) for rays o + s d."""
    n_rays = len(d)
    q = prim.params
    if prim.kind == "plane":
        n = np.asarray(q["normal"], np.float32)
        den = d @ n
        with np.errstate(divide="ignore", invalid="ignore"):
            s = np.float32((np.asarray(q["point"], float) - o) @ n) / den
        s[~(s > 0)] = np.inf
        if "bounds" in q:  # bounds on world coordinates: ((xmin, xmax), (ymin, ymax), ...)
            hit = np.isfinite(s)
            for axis, (lo, hi) in enumerate(q["bounds"]):
                c = o[axis] + s[hit] * d[hit, axis]
                inside = (c >= lo) & (c <= hi)
                idx = np.flatnonzero(hit)[~inside]
                s[idx] = np.inf
                hit[idx] = False
        return s, np.broadcast_to(n, (n_rays, 3))
    if prim.kind == "box":
        lo, hi = np.asarray(q["lo"], np.float32), np.asarray(q["hi"], np.float32)
        safe = np.where(np.abs(d) < 1e-12, np.float32(1e-12), d)
        inv = 1.0 / safe
        o32 = np.asarray(o, np.float32)
        t1, t2 = (lo - o32) * inv, (hi - o32) * inv
        tmin, tmax = np.minimum(t1, t2), np.maximum(t1, t2)
        near, far = tmin.max(1), tmax.min(1)
        s = np.where((near <= far) & (near > 0), near, np.inf).astype(np.float32)
        axis = tmin.argmax(1)
        n = np.zeros((n_rays, 3), np.float32)
        rows = np.arange(n_rays)
        n[rows, axis] = -np.sign(d[rows, axis])  # the face the ray entered through
        return s, n
    if prim.kind == "cylinder":  # vertical, axis through (x, y), z in [z0, z1]
        cx, cy, r = q["x"], q["y"], q["r"]
        ox, oy = o[0] - cx, o[1] - cy
        a = d[:, 0] ** 2 + d[:, 1] ** 2
        b = 2 * (ox * d[:, 0] + oy * d[:, 1])
        c = ox * ox + oy * oy - r * r
        disc = b * b - 4 * a * c
        with np.errstate(invalid="ignore", divide="ignore"):
            s = (-b - np.sqrt(disc)) / (2 * a)
        z = o[2] + s * d[:, 2]
        s = np.where((disc >= 0) & (s > 0) & (z >= q["z0"]) & (z <= q["z1"]), s, np.inf)
        p = o + np.where(np.isfinite(s), s, 0)[:, None] * d
        n = np.stack([p[:, 0] - cx, p[:, 1] - cy, np.zeros(n_rays)], 1) / r
        return s, n
    if prim.kind == "sphere":
        c0, r = np.asarray(q["centre"], float), q["r"]
        oc = o - c0
        b = d @ oc
        disc = b * b - (oc @ oc - r * r)
        with np.errstate(invalid="ignore"):
            s = -b - np.sqrt(disc)
        s = np.where((disc >= 0) & (s > 0), s, np.inf)
        p = o + np.where(np.isfinite(s), s, 0)[:, None] * d
        return s, (p - c0) / r
    raise ValueError(f"unknown primitive {prim.kind!r}")


@dataclass
class SceneImage:
    """A rendered background: colour, ray distance and the pixels that ripple over time."""

    rgb: np.ndarray  # (H, W, 3) float32 in [0, 1]
    range: np.ndarray  # (H, W) float32 metres, inf where only sky
    # Per rippling surface: flat indices of the pixels it fully covers and its maps.
    ripples: list[tuple[Ripple, np.ndarray, tuple[np.ndarray, np.ndarray]]]
    _gain: np.ndarray | None = field(default=None, repr=False)  # (H, W) scratch

    def frame(self, t: float, out: np.ndarray | None = None) -> np.ndarray:
        """The background at time t as float32 (H, W, 3), written into ``out`` if given.

        The rippling pixels are scaled through one per-pixel gain image (1 elsewhere):
        x * 1.0 is exact in float32, so this equals scaling only the indexed pixels.
        """
        if out is None:
            if not self.ripples:
                return self.rgb
            out = np.empty_like(self.rgb)
        if not self.ripples:
            np.copyto(out, self.rgb)
            return out
        if self._gain is None:
            self._gain = np.ones(self.rgb.shape[:2], np.float32)
        gain = self._gain.reshape(-1)
        for ripple, index, maps in self.ripples:
            gain[index] = ripple.factor(maps, len(index), t)
        np.multiply(self.rgb, cv2.merge([self._gain] * 3), out=out)
        return out


@dataclass(frozen=True)
class Grid:
    """Rays laid out as an image: lets a bounding sphere be culled to a pixel rectangle."""

    K: np.ndarray
    R: np.ndarray
    width: int  # in samples (pixels x ss)
    height: int
    ss: int


def _candidates(prim: Prim, o: np.ndarray, d: np.ndarray, grid: Grid | None) -> np.ndarray:
    """Indices of rays that can hit ``prim``: its bounding sphere's (conservative) pixel
    rectangle when the rays form an image, else a cone test; planes: every ray."""
    b = _bounding_sphere(prim)
    if b is None:
        return np.arange(len(d))
    c, r = b
    if grid is not None:
        x, y, z = grid.R @ (c - o)
        if z + r <= 0:
            return np.zeros(0, np.int64)
        if z - r > 1e-3:
            K, ss = grid.K, grid.ss
            us = [K[0, 0] * a / b + K[0, 2] for a in (x - r, x + r) for b in (z - r, z + r)]
            vs = [K[1, 1] * a / b + K[1, 2] for a in (y - r, y + r) for b in (z - r, z + r)]
            j0 = max(int(np.floor((min(us) + 0.5) * ss - 0.5)) - 1, 0)
            j1 = min(int(np.ceil((max(us) + 0.5) * ss - 0.5)) + 1, grid.width - 1)
            i0 = max(int(np.floor((min(vs) + 0.5) * ss - 0.5)) - 1, 0)
            i1 = min(int(np.ceil((max(vs) + 0.5) * ss - 0.5)) + 1, grid.height - 1)
            if j0 > j1 or i0 > i1:
                return np.zeros(0, np.int64)
            rows = np.arange(i0, i1 + 1)[:, None] * grid.width
            return (rows + np.arange(j0, j1 + 1)[None, :]).ravel()
    v = c - o
    dist = np.linalg.norm(v)
    if dist <= r:
        return np.arange(len(d))
    cos_max = np.sqrt(1 - (r / dist) ** 2)
    return np.flatnonzero(d @ (v / dist) >= cos_max)


def _bounding_sphere(prim: Prim) -> tuple[np.ndarray, float] | None:
    q = prim.params
    if prim.kind == "sphere":
        return np.asarray(q["centre"], float), float(q["r"])
    if prim.kind == "cylinder":
        h = 0.5 * (q["z1"] - q["z0"])
        return np.array([q["x"], q["y"], q["z0"] + h]), float(np.hypot(h, q["r"]))
    if prim.kind == "box":
        lo, hi = np.asarray(q["lo"], float), np.asarray(q["hi"], float)
        return 0.5 * (lo + hi), float(0.5 * np.linalg.norm(hi - lo))
    return None


def _shade(scene: Scene, o: np.ndarray, d: np.ndarray, t: float,
           grid: Grid | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Colour (N, 3), distance (N,), primitive index (N,, -1 = sky) and hit points."""
    n_rays = len(d)
    best = np.full(n_rays, np.inf, np.float32)
    which = np.full(n_rays, -1)
    normal = np.zeros((n_rays, 3), np.float32)
    for i, prim in enumerate(scene.prims):
        sub = _candidates(prim, o, d, grid)
        s, n = _hit(prim, o, d[sub])
        closer = s < best[sub]
        idx = sub[closer]
        best[idx] = s[closer]
        which[idx] = i
        normal[idx] = n[closer]
    points = o + np.where(np.isfinite(best), best, 0)[:, None] * d
    rgb = np.zeros((n_rays, 3), np.float32)
    sky = which < 0
    if sky.any():
        rgb[sky] = scene.sky(d[sky]) if scene.sky else 0.6
    # Group rays by surface once (a mask per surface costs O(rays x surfaces)).
    order = np.argsort(which, kind="stable")
    bounds = np.searchsorted(which[order], np.arange(len(scene.prims) + 1))
    for i, prim in enumerate(scene.prims):
        sel = order[bounds[i]:bounds[i + 1]]
        if len(sel):
            lam = 0.6 + 0.4 * np.clip(np.abs(normal[sel] @ SUN), 0, 1)[:, None]
            rgb[sel] = prim.material(points[sel], t) * lam
    return rgb, best, which, points


def render_scene(scene: Scene, K: np.ndarray, R: np.ndarray, centre: np.ndarray,
                 width: int, height: int, ss: int = 1) -> SceneImage:
    """Ray-cast the scene with ``ss`` x ``ss`` samples per pixel (anti-aliased textures)."""
    d = pixel_rays(K, R, width, height, ss).reshape(-1, 3).astype(np.float32)
    o = np.asarray(centre, float)
    grid = Grid(np.asarray(K, float), np.asarray(R, float), width * ss, height * ss, ss)
    rgb, dist, which, points = _shade(scene, o, d, 0.0, grid)
    rgb = rgb.reshape(height * ss, width * ss, 3)
    img = cv2.resize(rgb, (width, height), interpolation=cv2.INTER_AREA)
    # The nearest sample per pixel: the conservative distance for occluding the body.
    rng = dist.reshape(height, ss, width, ss).min(axis=(1, 3)).astype(np.float32)
    ripples = []
    w = which.reshape(height, ss, width, ss).transpose(0, 2, 1, 3).reshape(height, width, -1)
    pure = (w == w[..., :1]).all(-1)  # pixels whose samples all hit one surface
    rays = None
    for i, prim in enumerate(scene.prims):
        if prim.ripple is None:
            continue
        index = np.flatnonzero(pure & (w[..., 0] == i))
        if rays is None:
            rays = pixel_rays(K, R, width, height, 1).reshape(-1, 3)
        points = o + rng.ravel()[index, None] * rays[index]
        ripples.append((prim.ripple, index, prim.ripple.maps(points)))
    return SceneImage(img.astype(np.float32), rng, ripples)
