"""Which frames make a mini-batch: temporal sampling for DSL and for the gravity prior.

A batch is ``groups`` groups of ``group_size`` frames, laid out group-major; the frames
of a group come from one clip, so the z_ti swap and the gravity quadruples stay inside
a clip. Sampling uses its own numpy Generator, whose state is checkpointed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from models.config import TrainConfig


@dataclass
class FrameBatch:
    clip: np.ndarray  # (N,) index into the sampler's clip list, N = groups * group_size
    frame: np.ndarray  # (N,)
    delta: np.ndarray  # (N,) |frame - frame of the group's first row|
    groups: int
    group_size: int
    mode: str  # "contrastive": (ref, near, intermediate, far); "gravity": t, t+k, t+2k, t+3k


class TemporalSampler:
    def __init__(self, lengths: list[int], cfg: TrainConfig, seed: int):
        if cfg.group_size != 4:
            raise ValueError("group_size must be 4: (ref, near, intermediate, far)")
        if not 0 < cfg.pos_max < cfg.neg_min - 1:
            raise ValueError(f"need 0 < pos_max < neg_min - 1, got {cfg.pos_max}, {cfg.neg_min}")
        self.lengths = np.asarray(lengths)
        self.cfg = cfg
        self.rng = np.random.default_rng(seed)
        self.contrastive_clips = np.flatnonzero(self.lengths > cfg.neg_min)
        self.gravity_clips = np.flatnonzero(self.lengths > 3)
        if len(self.contrastive_clips) == 0:
            raise ValueError(f"no clip is longer than neg_min = {cfg.neg_min} frames")

    def state(self) -> dict:
        return self.rng.bit_generator.state

    def set_state(self, state: dict) -> None:
        self.rng.bit_generator.state = state

    def _pick_clips(self, candidates: np.ndarray) -> np.ndarray:
        # Longer clips hold more distinct poses: sample clips in proportion to length.
        p = self.lengths[candidates] / self.lengths[candidates].sum()
        return self.rng.choice(candidates, size=self.cfg.groups, p=p)

    def _partner(self, t: int, n: int, lo: int, hi: int) -> int:
        """A frame at distance in [lo, hi] from t inside [0, n), either direction."""
        options = [t + s * d for d in range(lo, hi + 1) for s in (1, -1) if 0 <= t + s * d < n]
        return options[self.rng.integers(len(options))]

    def contrastive(self) -> FrameBatch:
        c = self.cfg
        clips, frames = [], []
        for clip in self._pick_clips(self.contrastive_clips):
            n = int(self.lengths[clip])
            t = int(self.rng.integers(n))
            while t - c.neg_min < 0 and t + c.neg_min >= n:  # t needs a far partner
                t = int(self.rng.integers(n))
            near = self._partner(t, n, 1, c.pos_max)
            mid = self._partner(t, n, c.pos_max + 1, c.neg_min - 1)
            far = self._partner(t, n, c.neg_min, n - 1)
            clips += [clip] * 4
            frames += [t, near, mid, far]
        return self._batch(clips, frames, "contrastive")

    def equidistant(self) -> FrameBatch:
        clips, frames = [], []
        for clip in self._pick_clips(self.gravity_clips):
            n = int(self.lengths[clip])
            k = int(self.rng.integers(1, min(self.cfg.gravity_k_max, (n - 1) // 3) + 1))
            t = int(self.rng.integers(n - 3 * k))
            clips += [clip] * 4
            frames += [t, t + k, t + 2 * k, t + 3 * k]
        return self._batch(clips, frames, "gravity")

    def random_frames(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """``n`` (clip, frame) pairs, clips in proportion to length, frames uniform."""
        p = self.lengths / self.lengths.sum()
        clips = self.rng.choice(len(self.lengths), size=n, p=p)
        frames = (self.rng.random(n) * self.lengths[clips]).astype(np.int64)
        return clips, frames

    def _batch(self, clips: list[int], frames: list[int], mode: str) -> FrameBatch:
        clip, frame = np.asarray(clips), np.asarray(frames)
        ref = frame.reshape(-1, 4)[:, :1].repeat(4, 1).reshape(-1)
        return FrameBatch(clip, frame, np.abs(frame - ref), self.cfg.groups, 4, mode)
