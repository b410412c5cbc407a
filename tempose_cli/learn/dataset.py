"""Training data straight from the frame cache: no video decoding inside the loop."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch

from models.sampler import FrameBatch
from store.framecache import open_frames
from store.schema import Clip
from tempose_cli.core.errors import TemposeError
from tempose_cli.core.geometry import px_to_norm
from tempose_cli.core.labels import PoseTrack
from tempose_cli.core.sampling import sample_indices
from tempose_cli.core.workspace import Workspace


@dataclass
class ClipFrames:
    clip_id: int
    content_hash: str
    athlete: str | None
    frames: np.ndarray  # (T, H, W, 3) uint8 memmap
    background: np.ndarray  # (H, W, 3) float32, or (T, H, W, 3) uint8 memmap (panning camera)
    j2d: np.ndarray | None  # (T, J, 2) pixels at the original video size, NaN = unlabelled
    video_size: tuple[int, int]  # (W, H) of the source video

    def __len__(self) -> int:
        return len(self.frames)


def load_clips(ws: Workspace, clips: Sequence[Clip], labels: bool = True) -> list[ClipFrames]:
    """Open the caches of catalogued clips (attributes read inside the caller's session);
    ``labels=False`` leaves ``j2d`` None (no label file read)."""
    out = []
    for c in clips:
        frames_path = ws.abs(c.frames_path)
        if not frames_path.exists():
            raise TemposeError(f"clip {c.id}: frame cache {frames_path} is missing; "
                               f"re-run: tempose ingest {c.path}")
        bg = np.load(ws.abs(c.background_path), mmap_mode="r")
        j2d = None
        for lb in c.labels if labels else ():
            track = PoseTrack.load_npz(ws.abs(lb.array_path))
            if track.j2d is not None:
                j2d = track.j2d
        out.append(ClipFrames(c.id, c.content_hash, c.athlete.name if c.athlete else None,
                              open_frames(frames_path), bg, j2d, (c.width, c.height)))
    return out


NOISE_SAMPLES = 64  # frames per clip for its background noise map (FrameStore.noise)


def _resize(img: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    if img.shape[1] == size[0] and img.shape[0] == size[1]:
        return np.asarray(img)
    return cv2.resize(np.asarray(img), size, interpolation=cv2.INTER_AREA)


class FrameStore:
    """Turns sampled (clip, frame) indices into tensors for one training step."""

    def __init__(self, clips: list[ClipFrames]):
        if not clips:
            raise TemposeError("no clips to train on (ingest some first: tempose ingest PATH)")
        self.clips = clips
        h, w = clips[0].frames.shape[1:3]
        self.size = (w, h)  # every clip is brought to the first clip's work size
        self._static_bg: dict[int, np.ndarray] = {}
        self._noise: dict[int, np.ndarray] = {}

    @property
    def lengths(self) -> list[int]:
        return [len(c) for c in self.clips]

    def _background(self, ci: int, t: int) -> np.ndarray:
        clip = self.clips[ci]
        if clip.background.ndim == 3:  # static: resize once
            if ci not in self._static_bg:
                self._static_bg[ci] = _resize(clip.background, self.size).astype(np.float32)
            return self._static_bg[ci]
        return _resize(clip.background[t], self.size).astype(np.float32)

    def frames(self, clip_idx: Sequence[int], frame_idx: Sequence[int]) -> torch.Tensor:
        imgs = np.stack([_resize(self.clips[c].frames[t], self.size)
                         for c, t in zip(clip_idx, frame_idx, strict=True)])  # (N, H, W, 3)
        return torch.from_numpy(imgs).permute(0, 3, 1, 2).float().div_(255)

    def backgrounds(self, clip_idx: Sequence[int], frame_idx: Sequence[int]) -> torch.Tensor:
        bgs = np.stack([self._background(c, t) for c, t in zip(clip_idx, frame_idx, strict=True)])
        return torch.from_numpy(bgs.astype(np.float32)).permute(0, 3, 1, 2).div_(255)

    def inputs(self, clip_idx: Sequence[int], frame_idx: Sequence[int],
               device: torch.device | None = None
               ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """What the model encodes with: the frames (N, 3, H, W), their backgrounds (N, 3, H,
        W) and the background noise (N, 1, H, W), on ``device``."""
        return (self.frames(clip_idx, frame_idx).to(device),
                self.backgrounds(clip_idx, frame_idx).to(device),
                self.noise(clip_idx, frame_idx).to(device))

    def noise(self, clip_idx: Sequence[int], frame_idx: Sequence[int]) -> torch.Tensor:
        """(N, 1, H, W) each clip's per-pixel background noise, in [0, 1]: the median over
        up to NOISE_SAMPLES of its frames of the largest channel difference from the
        background (ModelConfig.fg_noise_k). The athlete covers a pixel in few frames, so
        the median is what the background itself does there (rippling water, not a diver)."""
        maps = []
        for c in clip_idx:
            if c not in self._noise:
                n = len(self.clips[c])
                idx = sample_indices(n, NOISE_SAMPLES)
                diff = np.stack([np.abs(_resize(self.clips[c].frames[t], self.size)
                                        .astype(np.float32) - self._background(c, t)).max(-1)
                                 for t in idx])  # (S, H, W)
                self._noise[c] = np.median(diff, 0).astype(np.float32) / 255
            maps.append(self._noise[c])
        del frame_idx  # one map per clip (the panorama's per-frame backgrounds included)
        return torch.from_numpy(np.stack(maps))[:, None]

    def joints_2d(self, clip_idx: Sequence[int], frame_idx: Sequence[int]) -> torch.Tensor | None:
        """2D labels in normalised frame coordinates ([-1, 1], pixel centres), or None."""
        if all(self.clips[c].j2d is None for c in set(clip_idx)):
            return None
        rows = []
        for c, t in zip(clip_idx, frame_idx, strict=True):
            clip = self.clips[c]
            if clip.j2d is None:
                rows.append(np.full((14, 2), np.nan))
                continue
            w, h = clip.video_size
            rows.append(px_to_norm(clip.j2d[t], (w, h)))
        return torch.from_numpy(np.stack(rows)).float()

    def batch(self, fb: FrameBatch, device: torch.device, with_2d: bool = False,
              extra: tuple[np.ndarray, np.ndarray] | None = None):
        from models.model import Batch

        j2d = self.joints_2d(fb.clip, fb.frame) if with_2d else None
        extra_frames = extra_bg = extra_noise = None
        if extra is not None and len(extra[0]):
            extra_frames, extra_bg, extra_noise = self.inputs(*extra, device)
        frames, background, noise = self.inputs(fb.clip, fb.frame, device)
        return Batch(
            frames=frames, background=background,
            delta=torch.from_numpy(fb.delta).to(device),
            clip=torch.from_numpy(fb.clip).to(device),
            frame=torch.from_numpy(fb.frame).to(device),
            groups=fb.groups, group_size=fb.group_size, mode=fb.mode,
            j2d=None if j2d is None else j2d.to(device),
            extra_frames=extra_frames, extra_background=extra_bg,
            bg_noise=noise, extra_bg_noise=extra_noise,
        )


def features_path(run_dir: Path, content_hash: str) -> Path:
    return run_dir / "features" / f"{content_hash[:16]}.npz"
