"""The clip an import writes into: its video's frame count, its labels and sidecar.

Everything is read and checked before anything is written; then ``<stem>.pose.csv``
and ``<stem>.json`` are each written to a temporary name and renamed, so a failed
import leaves the clip's files as they were.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from store.files import write_atomic
from tempose_cli.core.errors import InputError
from tempose_cli.core.labels import PoseTrack, read_pose_csv, write_pose_csv
from tempose_cli.core.sidecar import labels_path, load_sidecar, parse_sidecar, sidecar_path
from tempose_cli.media.importers.calibration import find_camera, read_calibration
from tempose_cli.media.importers.openpose import read_openpose, to_dive14
from tempose_cli.media.importers.trc import read_map, read_trc, resolve_map, trc_to_world
from tempose_cli.media.video import probe

SIZE_TOLERANCE = 0.02  # calibration vs video size: encoders crop to a macroblock multiple


@dataclass
class Clip:
    video: Path
    n_frames: int
    fps: float  # capture rate: the sidecar's fps, else the video's
    size: tuple[int, int]
    labels: Path
    existing: PoseTrack | None
    sidecar: dict

    @classmethod
    def open(cls, video: Path) -> Clip:
        video = Path(video)
        info = probe(video)
        meta = load_sidecar(video)
        labels = labels_path(video)
        existing = read_pose_csv(labels, n_frames=info.frame_count) if labels.exists() else None
        return cls(video, info.frame_count, meta.fps or info.fps, (info.width, info.height),
                   labels, existing, dict(meta.raw))

    def rows(self, source: Path, frames: np.ndarray, offset: int | None, what: str
             ) -> np.ndarray:
        """Video frame of each source row; the counts must match unless ``offset`` is
        given, and every row must land inside the video."""
        idx = np.asarray(frames, np.int64) + (offset or 0)
        span = f"{what} {int(idx.min())}-{int(idx.max())}" if len(idx) else what
        if offset is None and (len(idx) != self.n_frames or idx[0] != 0):
            raise InputError(source, f"{len(idx)} frames ({span}) but {self.video.name} has "
                             f"{self.n_frames}: pass --frame-offset K to shift them by K "
                             "frames (0: where they are; frames without data stay empty)")
        if idx.min() < 0 or idx.max() >= self.n_frames:
            raise InputError(source, f"with --frame-offset {offset or 0} the rows fall on "
                             f"video frames {int(idx.min())}-{int(idx.max())}, outside "
                             f"{self.video.name}'s 0-{self.n_frames - 1}")
        return idx

    def base(self) -> PoseTrack:
        if self.existing is not None:
            return self.existing
        n = self.n_frames
        return PoseTrack(frame=np.arange(n), time_s=np.arange(n) / self.fps)

    def save(self, track: PoseTrack, camera: dict | None = None) -> None:
        sidecar = self.sidecar | ({"camera": camera} if camera is not None else {})
        path = sidecar_path(self.video)
        parse_sidecar(path, sidecar)  # what ingest will check, before anything is written
        write_pose_csv(self.labels, track)
        if camera is not None:
            text = json.dumps(sidecar, indent=1, allow_nan=False) + "\n"
            write_atomic(path, lambda f: f.write(text.encode("utf-8")))


@dataclass
class ImportResult:
    labels: Path
    sidecar: Path | None
    frames: int
    labelled: int  # frames with every joint
    partial: int  # frames with some joints
    notes: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {k: str(v) if isinstance(v, Path) else v for k, v in self.__dict__.items()}


def _counts(arr: np.ndarray) -> tuple[int, int]:
    have = np.isfinite(arr).all(-1)  # (T, J)
    return int(have.all(1).sum()), int((have.any(1) & ~have.all(1)).sum())


def _scatter(n: int, idx: np.ndarray, values: np.ndarray) -> np.ndarray:
    out = np.full((n,) + values.shape[1:], np.nan)
    out[idx] = values
    return out


def import_trc(trc_path: Path, calibration: Path, camera: str, video: Path,
               frame_offset: int | None = None, map_path: Path | None = None) -> ImportResult:
    """TRC (world, Pose2Sim convention) -> the camera's 3D and distorted 2D labels."""
    cams = read_calibration(calibration)
    cam = find_camera(calibration, cams, camera)
    trc = read_trc(trc_path)
    overrides = read_map(map_path) if map_path else None
    mm = resolve_map(trc.markers, Path(trc_path), overrides, map_path=map_path)
    clip = Clip.open(video)
    notes = []
    if abs(trc.rate - clip.fps) > 0.01 * clip.fps:
        raise InputError(trc_path, f"DataRate {trc.rate:g} Hz but {clip.video.name} is "
                         f"{clip.fps:g} fps (set the capture fps in its sidecar if the video "
                         "is slowed down)")
    if cam.size != clip.size:
        rel = np.abs(np.subtract(cam.size, clip.size)) / np.asarray(clip.size)
        sizes = f"{cam.size[0]}x{cam.size[1]} for {cam.name}, {clip.size[0]}x{clip.size[1]}"
        if (rel > SIZE_TOLERANCE).any():
            raise InputError(calibration, f"calibrated size {sizes} for {clip.video.name}: "
                             "calibrate at the video's resolution")
        notes.append(f"calibrated size {sizes} for the video: K used as it is (the encoder "
                     "cropped the right/bottom edge)")
    idx = clip.rows(Path(trc_path), trc.frame_index(), frame_offset, "frames")
    world, _ = mm.apply(trc_to_world(trc.xyz))
    j3d = _scatter(clip.n_frames, idx, cam.to_camera(world))
    j2d = cam.project(j3d)
    behind = np.isfinite(j3d).all(-1) & ~np.isfinite(j2d).all(-1)
    if behind.any():
        notes.append(f"{int(behind.any(1).sum())} frame(s) have joints behind {cam.name}: "
                     "their 2D is left empty")
    track = replace(clip.base(), j3d=j3d, j2d=j2d, conf=None)
    clip.save(track, cam.sidecar(Path(calibration).name))
    full, part = _counts(j3d)
    return ImportResult(clip.labels, sidecar_path(clip.video), clip.n_frames, full, part, notes)


def import_openpose(folder: Path, video: Path, layout: str = "auto",
                    min_confidence: float = 0.1, frame_offset: int | None = None,
                    map_path: Path | None = None) -> ImportResult:
    """OpenPose JSON folder -> the clip's 2D labels (``_u, _v, _conf``), 3D kept."""
    folder = Path(folder)
    kp = read_openpose(folder, layout)
    overrides = read_map(map_path) if map_path else None
    uv, conf, _ = to_dive14(kp, folder, min_confidence, overrides, map_path)
    clip = Clip.open(video)
    idx = clip.rows(folder, np.arange(len(uv)), frame_offset, "files for frames")
    j2d = _scatter(clip.n_frames, idx, uv)
    track = replace(clip.base(), j2d=j2d, conf=_scatter(clip.n_frames, idx, conf))
    clip.save(track)
    full, part = _counts(j2d)
    notes = [f"layout {kp.layout}"] + kp.log
    return ImportResult(clip.labels, None, clip.n_frames, full, part, notes)
