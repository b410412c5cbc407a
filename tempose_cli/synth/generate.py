"""Orchestration: athletes x clips -> <stem>.mp4, <stem>.pose.csv, <stem>.json (+ masks).

Every clip draws from its own generator seeded by (seed, athlete, clip, sport), so the
output is byte-identical for a seed and one clip does not depend on the others.
"""

from __future__ import annotations

import io
import json
import multiprocessing
import os
import time
import zipfile
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from models.skeleton import DIVE14
from store.files import write_atomic
from tempose_cli.core.errors import TemposeError
from tempose_cli.core.ffmpeg import encode_mp4
from tempose_cli.core.geometry import G
from tempose_cli.core.labels import PoseTrack, write_pose_csv
from tempose_cli.synth import camera as cam
from tempose_cli.synth import session, worlds
from tempose_cli.synth.athletes import Athlete, make_athletes
from tempose_cli.synth.bystander import BYSTANDER_SEED, Bystander, make_bystander
from tempose_cli.synth.dive import CODES, HEIGHTS, DiveCode, flight_time, make_dive
from tempose_cli.synth.humanoid import Humanoid, pybullet
from tempose_cli.synth.render import Background, BodyRenderer, Sensor, composite
from tempose_cli.synth.ski import follow_camera, make_run

SPORTS = ("dive", "ski")
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp")
PIXEL_CONVENTION = "pixel centres at integer (u, v) = (column, row); image spans [-0.5, W-0.5]"


@dataclass(frozen=True)
class SynthConfig:
    out_dir: Path
    sport: str = "dive"
    athletes: int = 3
    clips: int = 4  # dives (or runs) per athlete
    fps: float = 25.0
    size: tuple[int, int] = (256, 256)
    seed: int = 0
    heights: tuple[float, ...] = HEIGHTS
    run_s: float = 3.0  # ski run duration
    masks: bool = False
    backgrounds: Path | None = None  # folder of user images (pool wall / sky)
    cameras: int = 1  # dives: calibrated cameras (synth/session.py)
    bystander: bool = False  # dives: a second person moving on the platform (synth/bystander.py)
    # Render athletes first_athlete .. athletes - 1 only: the same people and clips as in
    # a set of all of them (each clip's seed holds its athlete index), so a set can grow.
    first_athlete: int = 0
    # Dives: the athletes' wardrobe (synth/athletes.py): "swimsuit" or "bodysuit".
    appearance: str = "swimsuit"


@dataclass(frozen=True)
class ClipResult:
    stem: str
    frames: int
    seconds: float


def _round(obj, digits: int = 6):
    """Floats rounded (and -0.0 made 0.0) so the JSON text is stable."""
    if isinstance(obj, float | np.floating):
        v = round(float(obj), digits)
        return 0.0 if v == 0 else v
    if isinstance(obj, np.ndarray):
        return _round(obj.tolist(), digits)
    if isinstance(obj, dict):
        return {str(k): _round(v, digits) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [_round(v, digits) for v in obj]
    if isinstance(obj, np.integer):
        return int(obj)
    return obj


def write_json(path: Path, data: dict) -> None:
    text = json.dumps(_round(data), sort_keys=True, indent=1) + "\n"
    write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def write_masks(path: Path, masks: np.ndarray) -> None:
    """(T, H, W) bool as ``mask`` in an .npz with a fixed zip timestamp (stable bytes)."""
    buf = io.BytesIO()
    np.lib.format.write_array(buf, np.ascontiguousarray(masks, dtype=np.uint8))
    info = zipfile.ZipInfo("mask.npy", date_time=(1980, 1, 1, 0, 0, 0))
    info.compress_type = zipfile.ZIP_DEFLATED

    def write(f) -> None:
        with zipfile.ZipFile(f, "w") as z:
            z.writestr(info, buf.getvalue())

    write_atomic(path, write)


def user_images(folder: Path | None) -> list[Path]:
    if folder is None:
        return []
    return sorted(p for p in Path(folder).iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS)


def plan(cfg: SynthConfig) -> list[tuple[str, int, int]]:
    """(stem, athlete index, clip index) of every clip, athlete-major."""
    if not 0 <= cfg.first_athlete < cfg.athletes:
        raise ValueError(f"first_athlete {cfg.first_athlete}: 0 to athletes - 1 "
                         f"({cfg.athletes - 1})")
    tag = "d" if cfg.sport == "dive" else "r"
    return [(f"{cfg.sport}_a{a + 1:02d}_{tag}{k + 1:03d}", a, k)
            for a in range(cfg.first_athlete, cfg.athletes) for k in range(cfg.clips)]


def choose_dive(rng: np.random.Generator, heights: tuple[float, ...]) -> tuple[DiveCode, float]:
    """A platform height, then a dive feasible from it (slowest take-off, shortest body)."""
    height = float(heights[int(rng.integers(len(heights)))])
    t_min = flight_time(height + 0.85, 2.6)
    codes = [c for c in map(DiveCode.parse, CODES) if c.feasible(t_min)]
    return codes[int(rng.integers(len(codes)))], height


def _render_clip(stem: str, cfg: SynthConfig, body: Humanoid, joints_world: np.ndarray,
                 base_pos, base_rot, sph, rev, K, R_all, t_all, background: Background,
                 rng: np.random.Generator, bystander: Bystander | None = None
                 ) -> tuple[PoseTrack, np.ndarray]:
    """Render, encode and label; returns the labels and the visible-body masks (the
    athlete's; a bystander is drawn in the frames but in neither)."""
    n = len(joints_world)
    w, h = cfg.size
    renderer = BodyRenderer(body, K, cfg.size)
    sensor = Sensor.make(rng, cfg.size)
    noise_idx = rng.integers(len(sensor.bank), size=n)
    j3d = np.einsum("tij,tkj->tki", R_all, joints_world) + t_all[:, None]  # (T, 14, 3)
    j2d = cam.project(j3d, K)  # (T, 14, 2)
    vis = np.zeros((n, len(DIVE14)))
    masks = np.zeros((n, h, w), bool)

    def frames():
        scratch = np.empty((h, w, 3), np.float32)  # one float frame, reused in place
        for i in range(n):
            bg, scene_range = background.frame(i, i / cfg.fps, out=scratch)
            others = () if bystander is None else [(bystander.body, *(
                getattr(bystander.track, k)[i] for k in ("base_pos", "base_rot", "sph", "rev")))]
            rgb, mask, rng_body, other = renderer.render(
                R_all[i], t_all[i], base_pos[i], base_rot[i], sph[i], rev[i], others)
            img, drawn = composite(bg, scene_range, rgb, mask | other, rng_body, inplace=True)
            masks[i] = drawn & mask
            # A joint is visible when it is in the image and in front of the scene there
            # (and of a bystander's drawn pixels).
            u, v = np.rint(j2d[i, :, 0]).astype(int), np.rint(j2d[i, :, 1]).astype(int)
            inside = (u >= 0) & (u < w) & (v >= 0) & (v < h) & (j3d[i, :, 2] > 0)
            uc, vc = np.clip(u, 0, w - 1), np.clip(v, 0, h - 1)
            dist = np.linalg.norm(j3d[i], axis=1)
            hidden = (drawn & other)[vc, uc] & (rng_body[vc, uc] < dist)
            vis[i] = inside & (dist < scene_range[vc, uc]) & ~hidden
            yield sensor.apply(img, int(noise_idx[i]), inplace=True)

    tmp = cfg.out_dir / f".{stem}.tmp-{os.getpid()}.mp4"
    try:
        encode_mp4(tmp, frames(), cfg.fps, cfg.size)
        os.replace(tmp, cfg.out_dir / f"{stem}.mp4")
    finally:
        tmp.unlink(missing_ok=True)
    track = PoseTrack(frame=np.arange(n), time_s=np.arange(n) / cfg.fps, j3d=j3d, j2d=j2d, vis=vis)
    return track, masks


def _user_image(cfg: SynthConfig, rng: np.random.Generator) -> tuple[np.ndarray | None, str | None]:
    images = user_images(cfg.backgrounds)
    if not images:
        return None, None
    path = images[int(rng.integers(len(images)))]
    return worlds.load_user_image(path), path.name


def make_clip(cfg: SynthConfig, athlete: Athlete, a: int, k: int, stem: str) -> ClipResult:
    start = time.perf_counter()
    sport_id = SPORTS.index(cfg.sport)
    rng = np.random.default_rng(np.random.SeedSequence([cfg.seed, a, k, sport_id]))
    p = pybullet()
    client = p.connect(p.DIRECT)
    bystander = None
    try:
        body = Humanoid(client, athlete.scale, athlete.link_colours(cfg.sport))
        image, image_name = _user_image(cfg, rng)
        K = cam.intrinsics(*cfg.size, float(rng.uniform(40, 55)))
        if cfg.sport == "dive":
            code, height = choose_dive(rng, cfg.heights)
            d = make_dive(body, code, height, cfg.fps, rng)
            track, times, extra = d.body, d.times, d.params
            # Side-on, a little off square; the whole flight plus the water below in view.
            yaw = np.radians(rng.uniform(-12, 12))
            pts = np.concatenate([track.joints_world.reshape(-1, 3),
                                  [[-1.5, 0, height + 2.0],
                                   [track.cg_world[-1, 0] + 1.5, 0, -0.5]]])
            centre, R = cam.frame_points(pts, K, cfg.size, [np.sin(yaw), np.cos(yaw), -0.05])
            scene = worlds.pool(height, rng, image)
            background = Background(scene, K, centre, R, cfg.size)
            R_all = np.broadcast_to(R, (len(times), 3, 3))
            dive_field, height_field = code.code, height
            synth = {"takeoff_frame": d.takeoff_frame, "entry_frame": d.entry_frame,
                     "dive": extra, "mocap": d.segments}
            if cfg.bystander:  # its own generator: the clip is otherwise the same bytes' dive
                bystander = make_bystander(client, times, height, np.random.default_rng(
                    np.random.SeedSequence([cfg.seed, a, k, sport_id, BYSTANDER_SEED])))
                synth["bystander"] = bystander.record
        else:
            s = make_run(body, cfg.fps, cfg.run_s, rng)
            track, times = s.body, s.times
            centre, R_all = follow_camera(s, cfg.fps, rng)
            scene = worlds.slope(s.slope, s.path, rng, image)
            background = Background(scene, K, centre, R_all, cfg.size)
            R = R_all[0]
            dive_field, height_field = f"R{k + 1:03d}", None
            synth = {"run": s.params, "mocap": s.segments}
        t_all = -np.einsum("tij,j->ti", R_all, centre)
        views = [(K, centre, R, R_all, t_all, background, rng)]
        for c in range(1, cfg.cameras):  # dives only
            K_c, centre_c, R_c, rng_c = session.extra_camera(
                [cfg.seed, a, k, sport_id], c, pts, cfg.size, yaw)
            R_all_c = np.broadcast_to(R_c, R_all.shape)
            views.append((K_c, centre_c, R_c, R_all_c, -np.einsum("tij,j->ti", R_all_c, centre_c),
                          Background(scene, K_c, centre_c, R_c, cfg.size), rng_c))
        rendered = [_render_clip(session.view_stem(stem, c, cfg.cameras), cfg, body,
                                 track.joints_world, track.base_pos, track.base_rot, track.sph,
                                 track.rev, v[0], v[3], v[4], v[5], v[6], bystander)
                    for c, v in enumerate(views)]
    finally:
        p.disconnect(client)
    if cfg.cameras > 1:
        synth["session"] = session.write_session(
            cfg.out_dir, stem, [(v[1], v[2]) for v in views], [v[0] for v in views], cfg.size,
            track.joints_world, cfg.fps)
    synth |= {
        "generator": "tempose synth", "seed": cfg.seed, "clip_seed": [cfg.seed, a, k, sport_id],
        "athlete": athlete.record(), "body_scale": athlete.scale, "g_mps2": G,
        "cg_world": track.cg_world, "world": "z up, metres; water (dive) at z = 0",
        "pixel_convention": PIXEL_CONVENTION, "skeleton": "dive14",
        "visibility": "1 = joint inside the image and in front of the scene (water, "
                      "platform, slope); self-occlusion is not marked",
        "background_image": image_name, "masks": cfg.masks,
    }
    for c, ((K, centre, R, R_all, t_all, _, _), (labels, masks)) in enumerate(
            zip(views, rendered, strict=True)):
        view = session.view_stem(stem, c, cfg.cameras)
        write_pose_csv(cfg.out_dir / f"{view}.pose.csv", labels)
        if cfg.masks:
            write_masks(cfg.out_dir / f"{view}.mask.npz", masks)
        camera = {"K": K, "R": R, "t": -R @ centre, "centre": centre}
        if cfg.sport == "ski":
            camera |= {"R_per_frame": R_all, "t_per_frame": t_all}
        if cfg.cameras > 1:
            synth = synth | {"session": synth["session"] | {"camera": session.camera_name(c)}}
        sidecar = {"sport": cfg.sport, "athlete": athlete.id, "dive": dive_field,
                   "height_m": height_field, "fps": float(cfg.fps), "camera": camera,
                   "split": [], "synth": synth}
        write_json(cfg.out_dir / f"{view}.json", sidecar)
    return ClipResult(stem, len(times), time.perf_counter() - start)


def default_jobs() -> int:
    """CPUs this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def run_clip(cfg: SynthConfig, athlete: Athlete, a: int, k: int, stem: str) -> ClipResult:
    """One clip; a failure the user can act on becomes a one-line TemposeError."""
    try:
        return make_clip(cfg, athlete, a, k, stem)
    except TemposeError:
        raise
    except (ValueError, RuntimeError, OSError) as e:
        raise TemposeError(f"synth {stem}: {' '.join(str(e).split()) or type(e).__name__}"
                           ) from None


def _pool_context() -> multiprocessing.context.BaseContext:
    """Fresh interpreters (pybullet clients are per process): forkserver where there is one."""
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload([__name__])  # workers fork with the imports done
        return ctx
    return multiprocessing.get_context("spawn")


def generate(cfg: SynthConfig, on_clip: Callable[[ClipResult], None] | None = None,
             jobs: int = 1) -> list[ClipResult]:
    """Every clip of ``plan(cfg)``, in plan order; ``jobs`` > 1 renders clips in parallel
    worker processes (same bytes: a clip depends only on the seed and its index)."""
    if cfg.sport not in SPORTS:
        raise ValueError(f"unknown sport {cfg.sport!r} (dive or ski)")
    if not 1 <= cfg.cameras <= session.MAX_CAMERAS or (cfg.cameras > 1 and cfg.sport != "dive"):
        raise ValueError(f"cameras {cfg.cameras}: 1 to {session.MAX_CAMERAS}, more than 1 "
                         "for dives only")
    if cfg.bystander and cfg.sport != "dive":
        raise ValueError("a bystander on the platform is for dives only")
    if cfg.appearance != "swimsuit" and cfg.sport != "dive":
        raise ValueError(f"appearance {cfg.appearance!r} is for dives only")
    athletes = make_athletes(cfg.athletes, cfg.seed, cfg.appearance)  # checks the wardrobe
    cfg.out_dir.mkdir(parents=True, exist_ok=True)
    todo = plan(cfg)
    jobs = max(1, min(int(jobs), len(todo)))
    if jobs == 1:
        results = []
        for stem, a, k in todo:
            r = run_clip(cfg, athletes[a], a, k, stem)
            results.append(r)
            if on_clip:
                on_clip(r)
        return results
    slots: list[ClipResult | None] = [None] * len(todo)
    with ProcessPoolExecutor(jobs, mp_context=_pool_context()) as pool:
        futures = {pool.submit(run_clip, cfg, athletes[a], a, k, stem): i
                   for i, (stem, a, k) in enumerate(todo)}
        try:
            for done in as_completed(futures):
                r = done.result()
                slots[futures[done]] = r
                if on_clip:
                    on_clip(r)
        except BrokenProcessPool:
            pool.shutdown(wait=True, cancel_futures=True)
            raise TemposeError("synth: a worker process died (out of memory?); "
                               "try fewer --jobs") from None
        except TemposeError:
            # Let the clips in flight finish, then report the first failure in plan order,
            # so the message does not depend on which worker was faster.
            pool.shutdown(wait=True, cancel_futures=True)
            failed = sorted((i, f.exception()) for f, i in futures.items()
                            if f.done() and not f.cancelled() and f.exception() is not None)
            raise failed[0][1] from None
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            raise
    return [r for r in slots if r is not None]
