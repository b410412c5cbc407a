"""``tempose analyze``: one dive through a fitted model into the coaches' file formats.

Per frame: the fit's pelvis-centred 3D joints (``evaluate.predict``), the training
run's detector box and decoded mask, their mask-based centre and the 2D joints placed
from them (``projection``); optionally smoothed; then the analysis of the clip's sport (dives:
``dive_analysis``; ski runs: ``ski_analysis``, with the ski plots) and the exports of
DESIGN.md "Exports": pose CSV (the label schema, re-importable), detector CSV, TRC,
MOT, JSON, three PNG plots, the overlay MP4 and ``logs.txt``.

Everything is written into a temporary folder beside the target and renamed to
``<out>/<clip>_fit<F>[_smooth-...]/`` when complete; an older folder of that name is
replaced only then, and the files are recorded as Export rows in one transaction.
Any failure removes the temporary folder and leaves the catalogue as it was.
"""

from __future__ import annotations

import os
import platform
import re
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

import tempose_cli
from models.model import TemporalPoseModel
from models.skeleton import pelvis_centred
from store.catalogue import get_clip
from store.files import write_atomic
from store.schema import Clip, Export, Run
from tempose_cli.core.errors import NotFoundError, TemposeError
from tempose_cli.core.geometry import box_corners_px, norm_to_px
from tempose_cli.core.labels import PoseTrack
from tempose_cli.core.parsing import parse_ids  # noqa: F401 - analyze --dives
from tempose_cli.core.records import require_clip
from tempose_cli.core.workspace import Workspace
from tempose_cli.learn.dataset import features_path
from tempose_cli.learn.detector import Latents, clip_latents, detector_track
from tempose_cli.learn.features import load_model
from tempose_cli.learn.fitdata import ClipSource, clip_sources, load_features
from tempose_cli.media import exports, overlay, plots, ski_plots
from tempose_cli.pipeline.evaluate import FitModel, load_fit
from tempose_cli.pose import biomech, smoothing
from tempose_cli.pose.dive_analysis import analyze_dive
from tempose_cli.pose.placement import frame_scales, place_skeleton
from tempose_cli.pose.ski_analysis import analyze_ski

SMOOTH_ORDER = 4
KINDS = {"csv": "csv", "detector_csv": "csv", "trc": "trc", "mot": "mot", "json": "json",
         "overlay": "mp4", "angles_png": "png", "cg_png": "png", "rotation_png": "png",
         "turns_png": "png", "log": "log"}


@dataclass(frozen=True)
class AnalyzeOptions:
    fit_id: int | None = None  # None: the default fit for the clip (``choose_fit``)
    out: Path | None = None  # None: the workspace's exports/
    video: bool = True
    smooth_hz: float | None = None
    command: str = "tempose analyze"  # for logs.txt


@dataclass(frozen=True)
class Target:
    """What the analysis needs of the catalogue, read inside one session."""

    clip_id: int
    label: str  # <stem>-clip<id>: the clip part of the folder and file names
    athlete: str | None
    dive_code: str | None
    fps: float  # capture rate: times, flight, g
    video_fps: float  # container rate: the overlay plays like the source
    size: tuple[int, int]  # source video (W, H): pixel coordinates of the exports
    frame_count: int
    K: np.ndarray | None
    R: np.ndarray | None
    fit_id: int
    run_id: int  # the fit's training run (detector, decoder, features)
    run_dir: Path
    features: Path
    sport: str = "dive"  # which analysis: "dive" or "ski"
    R_per_frame: np.ndarray | None = None  # (T, 3, 3) a panning camera's rotations


def clip_label(clip: Clip) -> str:
    # The id keeps two clips of the same file name (two synth sets) apart.
    stem = re.sub(r"[^A-Za-z0-9._-]+", "_", Path(clip.path).stem) or "clip"
    return f"{stem}-clip{clip.id}"


def no_fit_message(s: Session) -> str:
    train = s.scalars(select(Run).where(Run.kind == "train").order_by(Run.id.desc())).all()
    if not train:
        return ("no fitted model yet, and no trained one: run tempose train, then tempose "
                "extract --run R and tempose fit --run R --split diver --fraction 0.1")
    run = next((r for r in train if r.status == "done"), train[0])
    extracted = s.scalar(select(Export.id).where(Export.run_id == run.id,
                                                 Export.kind == "features").limit(1))
    first = "" if extracted else f"tempose extract --run {run.id}, then "
    return (f"no fitted model yet; run: {first}tempose fit --run {run.id} --split diver "
            "--fraction 0.1")


def choose_fit(s: Session, ws: Workspace, clip: Clip, fit_id: int | None) -> Run:
    """The given fit, else the latest done fit whose training run has features of this
    clip (no encoding pass needed), else the latest fit."""
    if fit_id is not None:
        run = s.get(Run, fit_id)
        if run is None or run.kind != "fit":
            raise NotFoundError(f"no fit {fit_id} (see: tempose runs list --kind fit)")
        return run
    fits = s.scalars(select(Run).where(Run.kind == "fit").order_by(Run.id.desc())).all()
    if not fits:
        raise TemposeError(no_fit_message(s))
    for f in fits:
        parent = s.get(Run, f.parent_id) if f.parent_id is not None else None
        if f.status == "done" and parent is not None and \
                features_path(ws.abs(parent.directory), clip.content_hash).exists():
            return f
    return fits[0]


def _matrix(camera: dict | None, key: str) -> np.ndarray | None:
    value = (camera or {}).get(key)
    return None if value is None else np.asarray(value, float)


def resolve(s: Session, ws: Workspace, clip_id: int, fit_id: int | None) -> Target:
    clip = require_clip(s, clip_id)
    for what, stored in (("frame cache", clip.frames_path),
                         ("background", clip.background_path)):
        if not ws.abs(stored).exists():
            raise TemposeError(f"clip {clip_id}: {what} {ws.abs(stored)} is missing; "
                               f"re-run: tempose ingest {clip.path}")
    fit = choose_fit(s, ws, clip, fit_id)
    parent = s.get(Run, fit.parent_id) if fit.parent_id is not None else None
    if parent is None:
        raise TemposeError(f"fit {fit.id}: its training run {fit.parent_id} is gone")
    run_dir = ws.abs(parent.directory)
    return Target(clip.id, clip_label(clip), clip.athlete.name if clip.athlete else None,
                  clip.dive_code, clip.fps, clip.video_fps, (clip.width, clip.height),
                  clip.frame_count, _matrix(clip.camera, "K"), _matrix(clip.camera, "R"),
                  fit.id, parent.id, run_dir, features_path(run_dir, clip.content_hash),
                  clip.sport or "dive", _matrix(clip.camera, "R_per_frame"))


def _versions() -> str:
    import cv2

    return (f"tempose {tempose_cli.__version__}, python {platform.python_version()}, "
            f"numpy {np.__version__}, torch {torch.__version__}, opencv {cv2.__version__}")


def write_detector_csv(path: Path, time_s: np.ndarray, boxes_px: np.ndarray,
                       centre_px: np.ndarray, from_mask: np.ndarray) -> Path:
    """frame,time_s, box corners and the mask-based centre (pixels of the source video;
    ``centre_from_mask`` 0: the box centre stood in)."""
    lines = ["frame,time_s,box_x0,box_y0,box_x1,box_y1,centre_u,centre_v,centre_from_mask"]
    for i in range(len(time_s)):
        vals = [*boxes_px[i], *centre_px[i]]
        lines.append(f"{i},{time_s[i]:.6f}," + ",".join(f"{v:.4f}" for v in vals) +
                     f",{int(from_mask[i])}")
    text = "\n".join(lines) + "\n"
    return write_atomic(path, lambda f: f.write(text.encode("utf-8")))


def _make_tmp(root: Path, name: str) -> Path:
    tmp = root / f".{name}.tmp-{os.getpid()}-{time.time_ns()}"
    try:
        tmp.mkdir(parents=True)
    except OSError as e:
        raise TemposeError(f"{root}: cannot write the export folder there "
                           f"({e.strerror or e})") from None
    return tmp


def analyze(sessions: sessionmaker[Session], ws: Workspace, clip_id: int,
            opts: AnalyzeOptions, device: torch.device,
            progress: Callable[[str], None] = lambda step: None) -> dict:
    """Analyse one clip and export it (module docstring); returns what was written."""
    with sessions.begin() as s:  # every look-up in one session
        tg = resolve(s, ws, clip_id, opts.fit_id)
        fit, _ = load_fit(s, ws, tg.fit_id, device)
        model, _ = load_model(ws, s.get(Run, tg.run_id), device)
        # Labels only where the regressor reads 2D input; the frames are opened once.
        src = clip_sources(s, ws, [get_clip(s, clip_id)], open_frames=True,
                           labels=fit.opts.with_2d)[0]
    hz = opts.smooth_hz
    if hz is not None and not 0 < hz < tg.fps / 2:
        raise TemposeError(f"--smooth {hz:g} Hz: the cut-off must be between 0 and "
                           f"{tg.fps / 2:g} Hz, half clip {clip_id}'s {tg.fps:g} fps")
    root = Path(opts.out) if opts.out is not None else ws.exports_dir
    name = f"{tg.label}_fit{tg.fit_id}{smoothing.smoothing_tag(hz)}"
    final = root / name
    tmp = _make_tmp(root, name)
    try:
        res = _write_all(tg, fit, model, src, opts, device, tmp, name, progress)
        _publish(sessions, ws, tg, tmp, final, res["files"], hz)
    except OSError as e:
        raise TemposeError(f"{root}: cannot write the export ({e.strerror or e})") from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    res["folder"] = str(final)
    res["files"] = {k: str(final / v) for k, v in res["files"].items()}
    return res


def _predict(fit: FitModel, model: TemporalPoseModel, src: ClipSource, tg: Target,
             device: torch.device) -> tuple[np.ndarray, Latents]:
    """(T, 14, 3) the fit's joints and the training run's latents, in one pass: the
    features file is read once, and a fit with its own encoder encodes each frame once."""
    if fit.pose_model is None and not tg.features.exists():
        load_features(tg.run_id, tg.run_dir, src.content_hash, tg.clip_id)  # its message
    lat = clip_latents(model, src.frames, device, tg.features, own=fit.pose_model)
    if fit.pose_model is not None:
        feats = lat.fit_features
    elif fit.opts.feature in lat.arrays and lat.source != "encoded":
        feats = lat.arrays[fit.opts.feature]
    else:  # an older file without the latents: as evaluate.predict reads it
        feats = load_features(tg.run_id, tg.run_dir, src.content_hash, tg.clip_id,
                              fit.opts.feature)
    fit.prime(src, feats)
    return fit.predict(src), lat


def _write_all(tg: Target, fit: FitModel, model: TemporalPoseModel, src: ClipSource,
               opts: AnalyzeOptions, device: torch.device, tmp: Path, name: str,
               progress: Callable[[str], None]) -> dict:
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()

    def lap(step: str) -> None:
        nonlocal t0
        seconds[step] = round(time.perf_counter() - t0, 3)
        t0 = time.perf_counter()
        progress(step)

    # The regressor's pelvis is only near the origin: put it exactly there, as promised.
    j3d, lat = _predict(fit, model, src, tg, device)
    j3d = pelvis_centred(j3d)  # (T, 14, 3)
    lap("predict")
    frames = src.frames
    det = detector_track(model, frames, device, latents=lat)
    work = (frames.frames.shape[2], frames.frames.shape[1])
    centre_px = norm_to_px(det.centre, tg.size)
    j2d, placement = place_skeleton(j3d, centre_px, det.box_side_px(tg.size), tg.K,
                                    fill=1 - model.cfg.window_margin)
    lap("detector")

    T = len(j3d)
    frame = np.arange(T)
    track = PoseTrack(frame=frame, time_s=frame / tg.fps, j3d=j3d, j2d=j2d)
    hz = opts.smooth_hz
    if hz is not None:
        track = smoothing.smooth_track(track, tg.fps, hz, order=SMOOTH_ORDER, correct=True)
    ski = tg.sport == "ski"
    if ski:  # the panning camera's rotation per frame: each frame's own up and world
        a = analyze_ski(track, tg.fps, K=tg.K, camera_coords=False,
                        R=tg.R_per_frame if tg.R_per_frame is not None else tg.R,
                        px_per_m=frame_scales(track.j3d, det.box_side_px(tg.size),
                                              1 - model.cfg.window_margin))
    else:
        a = analyze_dive(track, tg.fps, K=tg.K, R=tg.R, code=tg.dive_code,
                         camera_coords=False)
    lap("analysis")

    names = exports.export_names(name) | {"detector_csv": f"{name}_detector.csv"}
    if ski:
        del names["rotation_png"]
        names["turns_png"] = f"{name}_turns.png"
    if not opts.video:
        del names["overlay"]
    exports.write_csv(tmp / names["csv"], track)
    boxes_px = box_corners_px(det.box, tg.size)  # pixel centres at integers, as the joints
    write_detector_csv(tmp / names["detector_csv"], track.time_s, boxes_px, centre_px,
                       det.from_mask)
    up = biomech.gravity_up(tg.R) if tg.R is not None else None
    angles = dict(a.angles)
    if getattr(a, "somersault_deg", None) is not None:
        angles["somersault"] = a.somersault_deg
    try:
        trc_gaps = exports.write_trc(tmp / names["trc"], track, tg.fps, up=up)
        mot_gaps = exports.write_mot(tmp / names["mot"], track.time_s, angles)
    except ValueError as e:  # nothing left to fill gaps from: no usable frame at all
        raise TemposeError(f"clip {tg.clip_id}: cannot write the TRC / MOT: {e}") from None
    if ski:
        ski_plots.plot_ski_angles(tmp / names["angles_png"], a)
        ski_plots.plot_ski_cg(tmp / names["cg_png"], a)
        ski_plots.plot_ski_turns(tmp / names["turns_png"], a)
    else:
        plots.plot_joint_angles(tmp / names["angles_png"], a)
        plots.plot_cg_height(tmp / names["cg_png"], a)
        plots.plot_rotation(tmp / names["rotation_png"], a)
    lap("exports")
    if opts.video:
        try:
            overlay.write_overlay(tmp / names["overlay"], iter(frames.frames), tg.video_fps,
                                  tg.frame_count, j2d=track.j2d, boxes=boxes_px,
                                  masks=det.mask_patches(work), cg_uv=a.cg_uv, time_s=track.time_s,
                                  scale=(work[0] / tg.size[0], work[1] / tg.size[1]))
        except (ValueError, RuntimeError) as e:  # frame cache and catalogue disagree, ffmpeg
            raise TemposeError(f"clip {tg.clip_id}: overlay: {e}") from None
        lap("overlay")

    placement |= {"centre_from_mask_frames": int(det.from_mask.sum()),
                  "centre_from_box_frames": int((~det.from_mask).sum()),
                  "latents": det.source}
    gaps = {"trc": trc_gaps.as_dict(), "mot": mot_gaps.as_dict()}
    record = exports.export_record(
        clip=tg.label, fps=tg.fps, n_frames=T, athlete=tg.athlete, run=tg.run_id,
        fit=tg.fit_id, up_source=a.summary["up"],
        smoothing=smoothing.smoothing_record(tg.fps, hz, SMOOTH_ORDER), summary=a.summary,
        files=names, gaps=gaps,
        extra={"sport": tg.sport, "clip_id": tg.clip_id,
               **({"run_code": tg.dive_code} if ski else {"dive_code": tg.dive_code}),
               "video_fps": tg.video_fps,
               "video_size": list(tg.size), "overlay_size": list(work),
               "pose_3d": "predicted by the fit; pelvis (mid-hip) at the origin, camera "
                          "axes, metres",
               "pose_2d": placement,
               "detector": {"box": "detector_csv: corners in source pixels",
                            "centre": "mask-weighted centroid of the decoded mask, "
                                      "else the box centre (centre_from_mask = 0)"}})
    log = [f"command: {opts.command}", f"versions: {_versions()}", f"device: {device}",
           f"clip {tg.clip_id} ({tg.label}), {T} frames at {tg.fps:g} fps; fit {tg.fit_id} "
           f"of training run {tg.run_id}; latents: {det.source}",
           f"2D joints: {placement['projection']}, {placement['px_per_m']:.1f} px/m "
           f"(estimate); centre from the mask in {placement['centre_from_mask_frames']} of "
           f"{T} frames",
           "smoothing: " + (f"butterworth {SMOOTH_ORDER}th order, {hz:g} Hz, zero-lag"
                            if hz is not None else "none")]
    log += [f"trc: {line}" for line in trc_gaps.lines()] or ["trc: no gaps"]
    log += [f"mot: {line}" for line in mot_gaps.lines()] or ["mot: no gaps"]
    log += [f"seconds {k}: {v}" for k, v in seconds.items()]
    (tmp / names["log"]).write_text("\n".join(log) + "\n", encoding="utf-8")
    exports.write_json(tmp / names["json"], record)
    lap("json")
    return {"clip": tg.clip_id, "sport": tg.sport, "label": tg.label, "athlete": tg.athlete,
            "fit": tg.fit_id,
            "run": tg.run_id, "frames": T, "summary": exports.to_jsonable(a.summary),
            "files": names, "seconds": seconds, "gaps": gaps}


def _publish(sessions: sessionmaker[Session], ws: Workspace, tg: Target, tmp: Path,
             final: Path, names: dict[str, str], hz: float | None) -> None:
    """Rename the complete folder into place and record its files (one transaction).

    An older folder of the same name is moved aside first and only deleted once the
    new one is in place and recorded; if recording fails it is put back.
    """
    old = final.with_name(f".{final.name}.old-{os.getpid()}-{time.time_ns()}")
    had_old = final.exists()
    if had_old:
        os.replace(final, old)
    try:
        os.replace(tmp, final)
        folder = ws.rel(final)
        params = {"folder": folder, "fit": tg.fit_id, "run": tg.run_id,
                  "smoothing": smoothing.smoothing_record(tg.fps, hz, SMOOTH_ORDER)}
        with sessions.begin() as s:
            s.execute(delete(Export).where(Export.path.startswith(folder + "/",
                                                                  autoescape=True)))
            for key, fname in names.items():
                s.add(Export(clip_id=tg.clip_id, run_id=tg.fit_id, kind=KINDS[key],
                             path=ws.rel(final / fname), params=params | {"file": key}))
    except BaseException:
        if final.exists() and not tmp.exists():
            shutil.rmtree(final, ignore_errors=True)
        if had_old:
            os.replace(old, final)
        raise
    if had_old:
        shutil.rmtree(old, ignore_errors=True)
