"""The two scenes: a diving pool with platform tower, and a ski slope with gates and trees.

Textures are procedural (value noise, tiles, stripes) in world coordinates, seeded per
clip, with water that ripples over time, so a static background model is not enough
to separate the athlete. A user image can replace the pool wall or the sky.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from tempose_cli.synth.scene import Noise, Ripple, Scene, sample
from tempose_cli.synth.ski import Slope


def _image_material(image: np.ndarray, u_range: tuple[float, float], v_range: tuple[float, float],
                    axes: tuple[int, int]):
    """Map an RGB image (float [0,1]) onto world coordinates ``axes`` over the given ranges."""
    h, w = image.shape[:2]

    def material(p: np.ndarray, t: float) -> np.ndarray:
        u = (p[:, axes[0]] - u_range[0]) / (u_range[1] - u_range[0]) * (w - 1)
        v = (v_range[1] - p[:, axes[1]]) / (v_range[1] - v_range[0]) * (h - 1)
        return sample(image, u, v)

    return material


def load_user_image(path: Path) -> np.ndarray:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f"{path}: not a readable image")
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB).astype(np.float32) / 255.0


def _sky(noise: Noise, tint: np.ndarray):
    def sky(d: np.ndarray) -> np.ndarray:
        el = np.clip(d[:, 2], -1, 1)
        az = np.arctan2(d[:, 1], d[:, 0])
        base = (1 - el[:, None]) * np.array([0.78, 0.86, 0.95]) + el[:, None] * tint
        cloud = noise(az * 20, el * 20, 3.0, 4)[:, None]
        return np.clip(base + 0.35 * np.clip(cloud - 0.45, 0, 1), 0, 1).astype(np.float32)
    return sky


def pool(height_m: float, rng: np.random.Generator, user_image: np.ndarray | None = None) -> Scene:
    """Water at z = 0 (x > -6), deck, the platform tower (x < 0), a tiled wall behind."""
    noise = Noise(int(rng.integers(2**31)))
    wall_y = float(rng.uniform(9, 15))
    wall_top = height_m + float(rng.uniform(5, 9))
    tile = float(rng.uniform(0.2, 0.4))
    tile_rgb = np.array([0.80, 0.86, 0.90]) + rng.uniform(-0.1, 0.08, 3)
    water_rgb = np.array([0.05, 0.38, 0.58]) + rng.uniform(-0.05, 0.05, 3)
    concrete = np.array([0.62, 0.60, 0.57]) + rng.uniform(-0.08, 0.08, 3)
    flow = rng.uniform(-0.4, 0.4, 2)

    def water(p: np.ndarray, t: float) -> np.ndarray:
        a = noise(p[:, 0], p[:, 1], 0.7, 3)
        b = noise(1.7 * p[:, 1], p[:, 0], 0.35, 2)
        shade = 0.65 + 0.45 * a + 0.35 * np.clip(b - 0.6, 0, 1) * 3
        return np.clip(water_rgb * shade[:, None], 0, 1).astype(np.float32)

    def wall(p: np.ndarray, t: float) -> np.ndarray:
        fx, fz = np.mod(p[:, 0] / tile, 1), np.mod(p[:, 2] / tile, 1)
        grout = (np.minimum(fx, 1 - fx) < 0.05) | (np.minimum(fz, 1 - fz) < 0.05)
        stain = noise(p[:, 0], p[:, 2], 2.0, 3)
        band = (np.abs(p[:, 2] - 1.2) < 0.25)[:, None] * np.array([-0.5, -0.3, 0.05])
        rgb = tile_rgb * (0.8 + 0.3 * stain)[:, None] + band
        return np.clip(np.where(grout[:, None], 0.55 * rgb, rgb), 0, 1).astype(np.float32)

    def rough(colour: np.ndarray, cell: float):
        def material(p: np.ndarray, t: float) -> np.ndarray:
            n = noise(p[:, 0] + p[:, 1], p[:, 2] + 0.5 * p[:, 1], cell, 3)
            return np.clip(colour * (0.75 + 0.5 * n)[:, None], 0, 1).astype(np.float32)
        return material

    scene = Scene(sky=_sky(noise, np.array([0.25, 0.45, 0.80])))
    ripple = Ripple(noise, float(rng.uniform(0.3, 0.6)), (float(flow[0]), float(flow[1]) + 0.5),
                    float(rng.uniform(0.15, 0.3)))
    scene.add("plane", water, ripple=ripple, point=(0.0, 0.0, 0.0), normal=np.array([0, 0, 1.0]),
              bounds=((-6.0, 80.0), (-80.0, wall_y), (-1.0, 1.0)))
    wall_mat = wall if user_image is None else _image_material(
        user_image, (-25.0, 45.0), (0.0, wall_top), (0, 2))
    scene.add("plane", wall_mat, point=(0.0, wall_y, 0.0), normal=np.array([0, -1.0, 0]),
              bounds=((-200.0, 200.0), (wall_y - 1, wall_y + 1), (-1.0, wall_top)))
    scene.add("box", rough(concrete * 0.9, 0.5), lo=(-60.0, -80.0, -1.0), hi=(-6.0, wall_y, 0.3))
    scene.add("box", rough(concrete, 0.8), lo=(-5.0, -1.5, -1.0), hi=(0.0, 1.5, height_m))
    # Other platforms of the tower, behind the diver's.
    for h in sorted({1.0, 3.0, 5.0, 7.5, 10.0} - {height_m}):
        off = float(rng.uniform(2.5, 4.0)) + (h / 10.0) * 2
        scene.add("box", rough(concrete * 0.95, 0.8), lo=(-5.0 - h / 3, off, -1.0),
                  hi=(-0.5 - h / 5, off + 2.0, h))
    return scene


def slope(s: Slope, path: np.ndarray, rng: np.random.Generator,
          user_image: np.ndarray | None = None) -> Scene:
    """Snow on the slope plane, gates beyond the skier's line, trees along the far edge."""
    noise = Noise(int(rng.integers(2**31)))
    snow_rgb = np.array([0.93, 0.95, 0.99]) + rng.uniform(-0.05, 0.02, 3)

    def snow(p: np.ndarray, t: float) -> np.ndarray:
        n = noise(p[:, 0], p[:, 1], 1.5, 4)
        track = np.abs(np.sin(p[:, 1] * 2.1 + 0.3 * p[:, 0])) > 0.985  # grooming ridges
        shade = 0.82 + 0.22 * n - 0.12 * track
        return np.clip(snow_rgb * shade[:, None], 0, 1).astype(np.float32)

    def flat(colour):
        def material(p: np.ndarray, t: float) -> np.ndarray:
            n = noise(p[:, 0] * 3, p[:, 2] * 3 + p[:, 1], 0.5, 2)
            return np.clip(np.asarray(colour) * (0.8 + 0.35 * n)[:, None], 0, 1).astype(np.float32)
        return material

    sky = _sky(noise, np.array([0.20, 0.42, 0.85]))
    if user_image is not None:
        img = user_image

        def sky(d: np.ndarray) -> np.ndarray:  # the image wrapped around the horizon
            az = (np.arctan2(d[:, 1], d[:, 0]) + np.pi) / (2 * np.pi) * (img.shape[1] - 1)
            el = (1 - np.clip(d[:, 2] * 2, 0, 1)) * (img.shape[0] - 1)
            return sample(img, az, el)

    scene = Scene(sky=sky)
    x0, x1 = float(path[:, 0].min()) - 40, float(path[:, 0].max()) + 60
    scene.add("plane", snow, point=(0.0, 0.0, 0.0), normal=s.normal,
              bounds=((x0 - 200, x1 + 200), (-300.0, 300.0), (-1e4, 1e4)))
    far = float(path[:, 1].max()) + 2.0
    red, blue = (0.85, 0.1, 0.1), (0.1, 0.2, 0.85)
    for k, gx in enumerate(np.arange(path[:, 0].min() - 10, path[:, 0].max() + 10, 6.0)):
        gy = far + float(rng.uniform(0.5, 2.0))
        for dy in (0.0, 1.2):
            z = float(s.height(gx))
            scene.add("cylinder", flat(red if k % 2 else blue), x=float(gx), y=gy + dy,
                      r=0.03, z0=z - 0.5, z1=z + 1.8)
    for tx in np.arange(x0, x1, float(rng.uniform(3.5, 6.0))):
        ty = far + float(rng.uniform(6, 14))
        tx = float(tx + rng.uniform(-1, 1))
        z = float(s.height(tx))
        h = float(rng.uniform(4, 8))
        green = np.array([0.08, 0.30, 0.12]) + rng.uniform(-0.04, 0.04, 3)
        scene.add("cylinder", flat((0.30, 0.20, 0.12)), x=tx, y=ty, r=0.15, z0=z - 0.5,
                  z1=z + 0.35 * h)
        for j, frac in enumerate((0.35, 0.6, 0.82)):
            r = h * (0.32 - 0.09 * j)
            scene.add("sphere", flat(green * (1 + 0.15 * j)), centre=(tx, ty, z + frac * h), r=r)
    return scene
