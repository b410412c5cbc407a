"""What a fit reads: labelled clips, their split, targets, 2D inputs and features.

Targets are the ``dive14`` 3D labels, pelvis-centred, in metres (paper Sec. 3.4).
Features are the training run's ``features`` (what the regressor sees: z_tv for the
split variants, see ``TemporalPoseModel.features``) written by ``tempose extract``, or
those of an encoder held in the fit itself (baselines, fine-tuning).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy.orm import Session

from models.skeleton import DIVE14, pelvis, pelvis_centred
from store.catalogue import list_clips
from store.schema import Clip
from tempose_cli.core.errors import TemposeError
from tempose_cli.core.labels import PoseTrack
from tempose_cli.core.workspace import Workspace
from tempose_cli.learn.dataset import ClipFrames, features_path, load_clips
from tempose_cli.learn.splits import ClipInfo, Split, make_split

# frozen: features of the training run (tempose extract); finetune: the run's encoder
# trained end to end with the regressor (Fig. 9); random / scratch: supervised
# baselines from a randomly initialised encoder, frozen / trained end to end.
MODES = ("frozen", "finetune", "random", "scratch")
POSE_2D_DIM = 2 * len(DIVE14)


@dataclass(frozen=True)
class FitOptions:
    # regressor and context default to the paper's MLP on the frame alone, which is also
    # what a fit recorded before these options existed used; the commands default to
    # knn on 2 frames either side (pipeline.ablation_names.FIT_REGRESSOR, FIT_CONTEXT).
    split: str = "diver"
    every: int = 1  # keep every K-th labelled frame of each training-side clip
    regressor: str = "mlp"
    with_2d: bool = False
    context: int = 0  # features of the frames this far before and after too (0: none)
    # knn: each clip predicted as a track (models.regressor.KNNRegressor.predict_track),
    # its temporal weight chosen on the validation clips (models.regressor.TRACK_LAMS); False:
    # frame by frame, as every fit recorded before this option.
    track: bool = False
    steps: int = 2000
    seed: int = 0
    hidden: int | None = None  # None: the paper's width
    batch: int = 256  # feature rows per step
    image_batch: int = 32  # frames per step when the encoder trains end to end
    lr: float = 1e-3
    encoder_lr: float = 1e-4  # fine-tuning: the encoder's Adam rate (the paper's)
    mode: str = "frozen"
    feature: str = "features"  # key in the features file (the probe uses z_tv / z_ti)
    sport: str = "dive"
    test_share: float = 0.25
    val_share: float = 0.2

    @property
    def fraction(self) -> float:
        return 1.0 / self.every

    @property
    def needs_frames(self) -> bool:
        return self.mode != "frozen"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FitOptions:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


@dataclass
class ClipSource:
    """One labelled clip, its labels loaded, its frames opened when a mode needs them."""

    clip_id: int
    content_hash: str
    athlete: str | None
    dive: str | None
    tags: tuple[str, ...]
    frame_count: int
    video_size: tuple[int, int]
    track: PoseTrack | None
    frames: ClipFrames | None = None

    def labelled(self, with_2d: bool) -> np.ndarray:
        """Frames with every 3D joint labelled (and every 2D joint with ``with_2d``)."""
        if self.track is None:
            return np.zeros(0, dtype=np.int64)
        frames = self.track.labelled_frames("3d")
        if with_2d:
            frames = np.intersect1d(frames, self.track.labelled_frames("2d"))
        return frames

    def targets(self) -> np.ndarray:
        """(T, 14, 3) pelvis-centred 3D labels in metres, NaN where unlabelled."""
        if self.track is None or self.track.j3d is None:
            return np.full((self.frame_count, len(DIVE14), 3), np.nan)
        return pelvis_centred(self.track.j3d.astype(np.float64))

    def pose_2d(self) -> np.ndarray:
        """(T, 28) 2D pose input: pelvis-centred, divided by its RMS joint distance
        from the pelvis (camera distance says nothing about a pelvis-centred 3D pose)."""
        if self.track is None or self.track.j2d is None:
            raise TemposeError(f"clip {self.clip_id} has no 2D labels for --with-2d")
        j2d = self.track.j2d.astype(np.float64)  # (T, 14, 2) pixels
        centred = j2d - pelvis(j2d)[:, None]
        rms = np.sqrt((centred**2).sum(-1).mean(-1))  # (T,)
        rms = np.where(rms > 0, rms, np.nan)
        return (centred / rms[:, None, None]).reshape(len(j2d), POSE_2D_DIM)


def clip_sources(session: Session, ws: Workspace, clips: list[Clip],
                 open_frames: bool = False, labels: bool = True) -> list[ClipSource]:
    """Load the labels (and open the frame caches) of catalogued clips; ``labels=False``
    reads no label file (``track`` None: for prediction without ``--with-2d``)."""
    out = []
    frames = load_clips(ws, clips, labels=labels) if open_frames else [None] * len(clips)
    for c, f in zip(clips, frames, strict=True):
        track = None
        for lb in c.labels if labels else ():
            t = PoseTrack.load_npz(ws.abs(lb.array_path))
            if t.j3d is not None or track is None:
                track = t
        out.append(ClipSource(c.id, c.content_hash, c.athlete.name if c.athlete else None,
                              c.dive_code, tuple(c.split_tags), c.frame_count,
                              (c.width, c.height), track, f))
    return out


def labelled_clips(session: Session, sport: str) -> list[Clip]:
    clips = [c for c in list_clips(session, sport=sport) if any(lb.frames_3d for lb in c.labels)]
    if not clips:
        raise TemposeError(f"no {sport} clips with 3D labels in the catalogue "
                           "(ingest clips with <stem>.pose.csv beside them)")
    return clips


def clip_info(c: Clip) -> ClipInfo:
    return ClipInfo(c.id, c.athlete.name if c.athlete else None, c.dive_code,
                    tuple(c.split_tags))


def split_for(clips: list[Clip], opts: FitOptions) -> Split:
    """The fit's split from catalogue metadata (ValueError -> a one-line TemposeError)."""
    try:
        return make_split([clip_info(c) for c in clips], opts.split, seed=opts.seed,
                          test_share=opts.test_share, val_share=opts.val_share)
    except ValueError as e:
        raise TemposeError(str(e)) from None


def load_features(run_id: int, run_dir: Path, content_hash: str, clip_id: int,
                  key: str = "features") -> np.ndarray:
    """(T, D) features of one clip written by ``tempose extract --run R``."""
    path = features_path(run_dir, content_hash)
    if not path.exists():
        raise TemposeError(f"run {run_id} has no features for clip {clip_id}; "
                           f"run: tempose extract --run {run_id}")
    with np.load(path) as z:
        if key not in z.files:
            raise TemposeError(f"{path}: no {key!r} array (re-run: tempose extract --run {run_id})")
        return z[key].astype(np.float32)


def with_context(features: np.ndarray, d: int) -> np.ndarray:
    """(T, D) -> (T, 3D): each frame's features, then those of the frames d before and d
    after it (clamped at the clip's ends); d 0: unchanged. Which way the body is moving
    tells apart frames that look alike (the way up from the way down)."""
    if d <= 0:
        return features
    t = np.arange(len(features))
    last = len(features) - 1
    return np.concatenate([features, features[np.clip(t - d, 0, last)],
                           features[np.clip(t + d, 0, last)]], 1)


def inputs(features: np.ndarray, source: ClipSource, with_2d: bool,
           context: int = 0) -> np.ndarray:
    """Regressor input (T, D [x 3] [+ 28]): features (with those ``context`` frames
    before and after), then the 2D pose with ``with_2d``."""
    if len(features) != source.frame_count:
        raise TemposeError(f"clip {source.clip_id}: {len(features)} feature rows for "
                           f"{source.frame_count} frames (re-run tempose extract)")
    features = with_context(features, context)
    if not with_2d:
        return features.astype(np.float32)
    return np.concatenate([features, source.pose_2d()], 1).astype(np.float32)

