"""Splits disjoint as promised, and label fractions by frame index (tempose_cli/learn/splits.py)."""

import math

import numpy as np
import pytest

from tempose_cli.learn.splits import ClipInfo, Split, every_from, keep_every, make_split


def catalogue(athletes: int = 5, clips: int = 3) -> list[ClipInfo]:
    codes = ["107B", "201C", "305C"]
    return [ClipInfo(a * clips + k + 1, f"A{a:02d}", codes[k % 3])
            for a in range(athletes) for k in range(clips)]


def athletes(clips: list[ClipInfo], ids: list[int]) -> set[str]:
    return {c.athlete for c in clips if c.clip_id in ids}


@pytest.mark.parametrize("n_athletes", [2, 3, 5, 8])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_diver_split_never_shows_test_athletes(n_athletes, seed) -> None:
    clips = catalogue(n_athletes)
    s = make_split(clips, "diver", seed=seed)
    assert s.test and s.train
    assert not athletes(clips, s.test) & athletes(clips, s.train + s.val)
    assert sorted(s.train + s.val + s.test) == [c.clip_id for c in clips]
    if len(athletes(clips, s.train + s.val)) >= 2:
        assert s.val_by == "athlete"
        assert not athletes(clips, s.val) & athletes(clips, s.train)
    else:  # one training athlete: validation by clip, still from the training side
        assert s.val_by == "clip" and s.val and not set(s.val) & set(s.train)
    assert s.athletes["test"] == sorted(athletes(clips, s.test))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_dive_split_never_shows_test_dives(seed) -> None:
    clips = catalogue(3)
    s = make_split(clips, "dive", seed=seed)
    assert not set(s.test) & set(s.train + s.val)
    assert not set(s.val) & set(s.train)
    assert sorted(s.train + s.val + s.test) == [c.clip_id for c in clips]


def test_split_is_deterministic_and_independent_of_catalogue_order() -> None:
    clips = catalogue(6)
    a = make_split(clips, "diver", seed=4)
    b = make_split(list(reversed(clips)), "diver", seed=4)
    assert a.to_dict() == b.to_dict()
    assert Split.from_dict(a.to_dict()).to_dict() == a.to_dict()
    others = {tuple(make_split(clips, "diver", seed=s).test) for s in range(6)}
    assert len(others) > 1  # the seed matters


def test_clips_without_athlete_are_left_out_of_a_diver_split() -> None:
    clips = catalogue(3) + [ClipInfo(99, None, "107B")]
    s = make_split(clips, "diver")
    assert s.excluded == [99] and 99 not in s.train + s.val + s.test
    assert 99 in sum((getattr(make_split(clips, "dive"), k) for k in ("train", "val", "test")), [])


def test_explicit_tags_win() -> None:
    clips = [ClipInfo(1, "A", tags=("train",)), ClipInfo(2, "A", tags=("train",)),
             ClipInfo(3, "B", tags=("val",)), ClipInfo(4, "C", tags=("test",)),
             ClipInfo(5, "D")]
    s = make_split(clips, "diver", seed=3)
    assert (s.train, s.val, s.test, s.source, s.excluded) == ([1, 2], [3], [4], "tags", [5])


def test_tags_without_val_take_it_from_the_training_side() -> None:
    clips = [ClipInfo(i, a, tags=(t,)) for i, a, t in
             [(1, "A", "train"), (2, "B", "train"), (3, "B", "train"), (4, "C", "test")]]
    s = make_split(clips, "diver")
    assert s.test == [4] and s.val_by == "athlete" and s.val
    assert not athletes(clips, s.val) & athletes(clips, s.train)


def test_tags_that_break_a_diver_split_are_refused() -> None:
    clips = [ClipInfo(1, "A", tags=("train",)), ClipInfo(2, "A", tags=("test",))]
    with pytest.raises(ValueError, match="athlete A in test and in train"):
        make_split(clips, "diver")
    assert make_split(clips, "dive").test == [2]


def test_too_few_athletes_or_clips() -> None:
    with pytest.raises(ValueError, match="at least 2 athletes"):
        make_split(catalogue(1), "diver")
    with pytest.raises(ValueError, match="at least 2 clips"):
        make_split(catalogue(1, 1), "dive")
    with pytest.raises(ValueError, match="unknown split"):
        make_split(catalogue(), "random")


@pytest.mark.parametrize("n", [0, 1, 7, 20, 101])
@pytest.mark.parametrize("k", [1, 2, 3, 20])
def test_fraction_keeps_ceil_n_over_k_frames_by_frame_index(n, k) -> None:
    rng = np.random.default_rng(n + k)
    labelled = np.sort(rng.choice(500, size=n, replace=False))
    shuffled = rng.permutation(labelled)  # file / hash order must not matter
    kept = keep_every(shuffled, k)
    assert len(kept) == math.ceil(n / k)
    assert np.array_equal(kept, labelled[::k])


def test_every_from_fraction() -> None:
    assert every_from(0.05) == 20 and every_from(every=7) == 7 and every_from() == 1
    assert every_from(1.0) == 1 and every_from(0.3) == 3
    for bad in (dict(fraction=0.0), dict(fraction=1.5), dict(every=0),
                dict(fraction=0.5, every=2)):
        with pytest.raises(ValueError):
            every_from(**bad)


@pytest.mark.parametrize("n_athletes", [3, 4, 5, 9, 10, 12])
def test_diver_split_tests_on_at_least_a_quarter_of_the_athletes(n_athletes) -> None:
    clips = catalogue(n_athletes, clips=1)
    for seed in range(3):
        s = make_split(clips, "diver", seed=seed)
        assert len(s.athletes["test"]) == math.ceil(n_athletes / 4)  # 12 -> 3, 10 -> 3
