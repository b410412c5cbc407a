"""``tempose ingest``: catalogue videos with their frame cache, background and labels.

Per file: validate sidecar and labels, hash, probe, decode every frame once into the
frame cache, estimate the background, then record the clip in one transaction.
Files are written under temporary names and renamed before the transaction commits,
so a killed ingest leaves only complete clips in the catalogue; a rerun finishes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from store.catalogue import clip_by_hash, get_or_create_athlete
from store.files import remove_stale_tmp, save_array_atomic
from store.framecache import FrameCacheWriter, open_frames
from store.schema import Clip, ClipTag, LabelSet
from tempose_cli.core.errors import InputError
from tempose_cli.core.labels import PoseTrack, read_pose_csv
from tempose_cli.core.sidecar import ClipMeta, labels_path, load_sidecar
from tempose_cli.core.workspace import Workspace
from tempose_cli.media import background as bg
from tempose_cli.media.video import VIDEO_EXTENSIONS, decode_frames, hash_file, probe, work_size

# (stage, done, total): stage in "decode", "background"
Progress = Callable[[str, int, int], None]


@dataclass(frozen=True)
class IngestOptions:
    defaults: ClipMeta = ClipMeta()  # command-line values, used where the sidecar is silent
    background: str | None = None  # None: by sport
    work_size: str | None = None  # "WxH" or long side; None: 512
    median_samples: int = 100


@dataclass
class IngestResult:
    path: str
    status: str  # "ingested" | "catalogued" | "failed"
    clip_id: int | None = None
    message: str = ""
    frames: int = 0


def discover(paths: Iterable[str | Path]) -> tuple[list[Path], list[IngestResult]]:
    """Video files under ``paths`` (folders recursively, sorted), and paths that fail."""
    found: list[Path] = []
    failed: list[IngestResult] = []
    for raw in paths:
        p = Path(raw)
        if p.is_dir():
            found += sorted(f for f in p.rglob("*")
                            if f.suffix.lower() in VIDEO_EXTENSIONS and not f.name.startswith("."))
        elif p.exists() or p.is_symlink():
            if p.suffix.lower() not in VIDEO_EXTENSIONS:
                failed.append(IngestResult(str(p), "failed", message=(
                    f"{p}: unsupported file type {p.suffix or '(none)'} "
                    f"(expected {', '.join(VIDEO_EXTENSIONS)})")))
            else:
                found.append(p)
        else:
            failed.append(IngestResult(str(p), "failed", message=f"{p}: no such file or folder"))
    unique = list(dict.fromkeys(f.absolute() for f in found))
    return unique, failed


def cache_key(content_hash: str) -> str:
    return content_hash[:16]


def ingest_file(sessions: sessionmaker[Session], ws: Workspace, path: Path,
                opts: IngestOptions, progress: Progress | None = None) -> IngestResult:
    """Ingest one file; raises InputError (nothing written to the catalogue) on bad input."""
    path = Path(path)
    meta = load_sidecar(path).filled_from(opts.defaults)
    info = probe(path)
    digest = hash_file(path)

    with sessions.begin() as s:
        existing = clip_by_hash(s, digest)
        if existing is not None and ws.abs(existing.frames_path).exists():
            moved = existing.path != str(path.resolve())
            if moved:
                old, existing.path = existing.path, str(path.resolve())
            note = f" (moved from {old})" if moved else ""
            return IngestResult(str(path), "catalogued", existing.id,
                                f"already catalogued as clip {existing.id}{note}",
                                existing.frame_count)

    lpath = labels_path(path)
    if lpath.exists():  # fail fast, before decoding; checked again on the decoded count
        read_pose_csv(lpath, n_frames=info.frame_count)

    try:
        size = work_size(info, opts.work_size)
    except ValueError as e:
        raise InputError(path, str(e)) from None
    method = opts.background or bg.default_method(meta.sport)
    if method not in bg.METHODS:
        raise InputError(path, f"unknown background method {method!r}")

    key = cache_key(digest)
    frames_file = ws.frames_dir / f"{key}_{size[0]}x{size[1]}.npy"
    bg_file = ws.backgrounds_dir / f"{key}_{method}.npy"
    with FrameCacheWriter(frames_file, size[1], size[0]) as writer:
        report = (lambda n: progress("decode", n, info.frame_count)) if progress else None
        for frame in decode_frames(path, size, report):
            writer.append(frame)
        n_frames = writer.count
        writer.commit()

    track = read_pose_csv(lpath, n_frames=n_frames) if lpath.exists() else None
    frames = open_frames(frames_file)
    bg_meta = _estimate_background(frames, method, bg_file, opts, progress)
    label_file = ws.labels_dir / f"{key}.npz"
    if track is not None:
        track.save_npz(label_file)

    try:
        with sessions.begin() as s:
            existing = clip_by_hash(s, digest)
            if existing is not None:  # a cache was missing and is rebuilt, or a race
                existing.frames_path = ws.rel(frames_file)
                return IngestResult(str(path), "catalogued", existing.id,
                                    f"already catalogued as clip {existing.id} (cache rebuilt)",
                                    n_frames)
            clip = _new_clip(s, ws, path, digest, meta, info, size, n_frames,
                             frames_file, method, bg_file, bg_meta)
            if track is not None:
                s.add(LabelSet(
                    clip=clip, kind=track.kind, source_path=str(lpath.resolve()),
                    array_path=ws.rel(label_file),
                    frames_3d=len(track.labelled_frames("3d")),
                    frames_2d=len(track.labelled_frames("2d")),
                ))
            s.flush()
            return IngestResult(str(path), "ingested", clip.id, _summary(clip, track), n_frames)
    except IntegrityError:  # another process catalogued the same content meanwhile
        with sessions.begin() as s:
            existing = clip_by_hash(s, digest)
            if existing is None:  # the violation was not the content hash's
                raise
            clip_id = existing.id
        return IngestResult(str(path), "catalogued", clip_id,
                            f"already catalogued as clip {clip_id}", n_frames)


def _estimate_background(frames: np.ndarray, method: str, out: Path, opts: IngestOptions,
                         progress: Progress | None) -> dict:
    n, h, w, _ = frames.shape
    if method == "median":
        save_array_atomic(out, bg.median_background(frames, opts.median_samples))
        return {}
    if method == "dive-halves":
        save_array_atomic(out, bg.dive_halves_background(frames))
        return {}
    report = (lambda t, total: progress("background", t, total)) if progress else None
    try:
        pano = bg.build_panorama(frames, progress=report)
    except ValueError as e:
        raise InputError(out.name, str(e)) from None

    with FrameCacheWriter(out, h, w) as writer:
        for frame in bg.panorama_backgrounds(pano, n, (w, h)):
            writer.append(frame)
        writer.commit()
    save_array_atomic(out.with_name(out.stem + "-canvas.npy"), pano.canvas)
    return {"panorama_size": list(pano.canvas.shape[1::-1]), "failed_pairs": pano.failed_pairs}


def _new_clip(s: Session, ws: Workspace, path: Path, digest: str, meta: ClipMeta, info,  # noqa: ANN001
              size: tuple[int, int], n_frames: int, frames_file: Path, method: str,
              bg_file: Path, bg_meta: dict) -> Clip:
    athlete = get_or_create_athlete(s, meta.athlete) if meta.athlete else None
    fps = meta.fps or info.fps
    sidecar = dict(meta.raw)
    if bg_meta:
        sidecar["_background"] = bg_meta
    clip = Clip(
        path=str(path.resolve()), content_hash=digest, sport=meta.sport, athlete=athlete,
        dive_code=meta.dive, height_m=meta.height_m, fps=fps, video_fps=info.fps,
        width=info.width, height=info.height, frame_count=n_frames,
        duration_s=n_frames / info.fps, camera=meta.camera, sidecar=sidecar or None,
        work_width=size[0], work_height=size[1], frames_path=ws.rel(frames_file),
        background_method=method, background_path=ws.rel(bg_file),
        tags=[ClipTag(tag=t) for t in meta.split],
    )
    s.add(clip)
    return clip


def _summary(clip: Clip, track: PoseTrack | None) -> str:
    parts = [f"{clip.frame_count} frames", f"{clip.work_width}x{clip.work_height}",
             clip.background_method]
    if track is not None:
        parts.append(f"labels {track.kind}")
    return ", ".join(parts)


def cleanup(ws: Workspace) -> int:
    """Remove temporary files of ingests that were killed."""
    return sum(remove_stale_tmp(d) for d in (ws.frames_dir, ws.backgrounds_dir, ws.labels_dir))
