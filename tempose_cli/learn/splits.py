"""Train / validation / test splits from clip metadata, and label fractions (paper Sec. 4.1).

Pure functions of the catalogue's metadata; the result is stored with every fit so the
split can be audited.

- **diver-split**: the athletes of the test set never appear in the regressor's
  training or validation data. Clips without an athlete cannot be placed and are
  left out (listed in ``excluded``), never guessed.
- **dive-split**: test dives are never seen; athletes may repeat. A clip is one dive
  (one recording of one attempt), so clips are split; two clips of the same dive code
  are different dives.

The validation set (early stopping / model selection) comes from the training side
only: for the diver-split by athlete when at least two training athletes exist, else
by clip. Explicit ``train`` / ``val`` / ``test`` tags on clips win when any clip has
one; untagged clips are then left out, and a diver-split whose tags put one athlete
on both sides is refused.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

SPLITS = ("diver", "dive")
SIDES = ("train", "val", "test")


@dataclass(frozen=True)
class ClipInfo:
    clip_id: int
    athlete: str | None
    dive: str | None = None  # dive code (informational: each clip is its own dive)
    tags: tuple[str, ...] = ()


@dataclass
class Split:
    kind: str  # diver | dive
    train: list[int]
    val: list[int]
    test: list[int]
    seed: int
    source: str = "seeded"  # seeded | tags
    val_by: str = "athlete"  # athlete | clip | none
    excluded: list[int] = field(default_factory=list)
    athletes: dict[str, list[str]] = field(default_factory=dict)  # side -> athletes

    def to_dict(self) -> dict:
        return {"kind": self.kind, "train": self.train, "val": self.val, "test": self.test,
                "seed": self.seed, "source": self.source, "val_by": self.val_by,
                "excluded": self.excluded, "athletes": self.athletes}

    @classmethod
    def from_dict(cls, d: dict) -> Split:
        return cls(**d)


def _take(n: int, share: float, at_least: bool = False) -> int:
    """How many of n go to the held-out side: round(share * n), or with ``at_least``
    ceil(share * n) (the test side never holds less than its share: 3 of 10 athletes
    for 0.25, not 2); at least 1, leaving at least 1."""
    k = math.ceil(share * n - 1e-9) if at_least else round(share * n)
    return min(n - 1, max(1, k))


def _shuffled(items: Sequence, rng: np.random.Generator) -> list:
    items = sorted(items, key=str)  # catalogue order never matters, only the seed
    return [items[i] for i in rng.permutation(len(items))]


def _athletes_of(clips: Sequence[ClipInfo], ids: Sequence[int]) -> list[str]:
    wanted = set(ids)
    return sorted({c.athlete for c in clips if c.clip_id in wanted and c.athlete})


def _val_from_train(clips: list[ClipInfo], train: list[int], kind: str, val_share: float,
                    rng: np.random.Generator) -> tuple[list[int], list[int], str]:
    by_id = {c.clip_id: c for c in clips}
    athletes = sorted({by_id[i].athlete for i in train if by_id[i].athlete})
    if kind == "diver" and len(athletes) >= 2:
        val_athletes = set(_shuffled(athletes, rng)[:_take(len(athletes), val_share)])
        val = [i for i in train if by_id[i].athlete in val_athletes]
        return [i for i in train if i not in set(val)], val, "athlete"
    if len(train) >= 2:
        val = set(_shuffled(train, rng)[:_take(len(train), val_share)])
        return [i for i in train if i not in val], sorted(val), "clip"
    return list(train), [], "none"


def make_split(clips: Sequence[ClipInfo], kind: str, *, seed: int = 0, test_share: float = 0.25,
               val_share: float = 0.2) -> Split:
    """Deterministic split of ``clips`` for a seed (see the module docstring)."""
    if kind not in SPLITS:
        raise ValueError(f"unknown split {kind!r} ({'|'.join(SPLITS)})")
    clips = sorted(clips, key=lambda c: c.clip_id)
    rng = np.random.default_rng(seed)
    excluded: list[int] = []
    if kind == "diver":
        excluded = [c.clip_id for c in clips if not c.athlete]
        clips = [c for c in clips if c.athlete]
    tagged = [c for c in clips if set(c.tags) & set(SIDES)]
    if tagged:
        split = _from_tags(clips, tagged, kind, val_share, rng, seed)
        split.excluded = sorted(excluded + split.excluded)
        return split
    if kind == "diver":
        athletes = sorted({c.athlete for c in clips if c.athlete})
        if len(athletes) < 2:
            raise ValueError(f"a diver-split needs clips of at least 2 athletes, found "
                             f"{len(athletes)}")
        test_athletes = set(_shuffled(athletes, rng)[:_take(len(athletes), test_share, True)])
        test = [c.clip_id for c in clips if c.athlete in test_athletes]
    else:
        if len(clips) < 2:
            raise ValueError(f"a dive-split needs at least 2 clips, found {len(clips)}")
        n_test = _take(len(clips), test_share, True)
        test = sorted(_shuffled([c.clip_id for c in clips], rng)[:n_test])
    rest = [c.clip_id for c in clips if c.clip_id not in set(test)]
    train, val, val_by = _val_from_train(clips, rest, kind, val_share, rng)
    return _finish(Split(kind, train, val, test, seed, "seeded", val_by, excluded), clips)


def _from_tags(clips: list[ClipInfo], tagged: list[ClipInfo], kind: str, val_share: float,
               rng: np.random.Generator, seed: int) -> Split:
    sides: dict[str, list[int]] = {s: [] for s in SIDES}
    for c in tagged:
        found = [s for s in SIDES if s in c.tags]
        if len(found) > 1:
            raise ValueError(f"clip {c.clip_id} is tagged {' and '.join(found)}")
        sides[found[0]].append(c.clip_id)
    if not sides["test"] or not (sides["train"] or sides["val"]):
        raise ValueError("split tags need at least one test and one train clip")
    val_by = "tags"
    if not sides["val"]:
        sides["train"], sides["val"], val_by = _val_from_train(clips, sides["train"], kind,
                                                               val_share, rng)
    excluded = sorted(c.clip_id for c in clips if c not in tagged)
    split = Split(kind, sorted(sides["train"]), sorted(sides["val"]), sorted(sides["test"]),
                  seed, "tags", val_by, excluded)
    if kind == "diver":
        both = set(_athletes_of(clips, split.test)) & set(
            _athletes_of(clips, split.train + split.val))
        if both:
            raise ValueError(f"split tags put athlete {sorted(both)[0]} in test and in "
                             "train/val: not a diver-split (use --split dive)")
    return _finish(split, clips)


def _finish(split: Split, clips: list[ClipInfo]) -> Split:
    if not split.train:
        raise ValueError("the split leaves no training clip")
    split.athletes = {s: _athletes_of(clips, getattr(split, s)) for s in SIDES}
    return split


def every_from(fraction: float | None = None, every: int | None = None) -> int:
    """``--fraction F`` or ``--every K`` -> K (K = round(1 / F)); neither means K = 1."""
    if fraction is not None and every is not None:
        raise ValueError("give --fraction or --every, not both")
    if every is not None:
        if every < 1:
            raise ValueError(f"--every must be >= 1, got {every}")
        return int(every)
    if fraction is not None:
        if not 0 < fraction <= 1:
            raise ValueError(f"--fraction must be in (0, 1], got {fraction}")
        return max(1, round(1 / fraction))
    return 1


def keep_every(labelled_frames: np.ndarray, every: int) -> np.ndarray:
    """Every K-th labelled frame *by frame index* within one clip: ceil(n / K) frames.

    The labelled frames are sorted by index first, so the result never depends on
    file or hash order; the first labelled frame is always kept.
    """
    if every < 1:
        raise ValueError(f"every must be >= 1, got {every}")
    frames = np.sort(np.asarray(labelled_frames, dtype=np.int64))
    kept = frames[::every]
    assert len(kept) == math.ceil(len(frames) / every)
    return kept
