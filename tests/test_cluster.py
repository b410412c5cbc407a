"""KMeans, Hungarian-matched accuracy and the within-group variance share (models/cluster.py)."""

from itertools import permutations

import numpy as np
import pytest

from models.cluster import (
    best_assignment,
    hungarian,
    kmeans,
    matched_accuracy,
    within_group_share,
)


def blobs(k: int, n: int = 30, d: int = 8, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(k, d)) * 20
    truth = np.repeat(np.arange(k), n)
    return centres[truth] + rng.normal(size=(k * n, d)), truth


@pytest.mark.parametrize("k", [2, 4, 10])
def test_kmeans_with_matching_recovers_separated_clusters_under_permuted_labels(k) -> None:
    x, truth = blobs(k)
    perm = np.random.default_rng(1).permutation(k)
    names = np.array([f"athlete-{p}" for p in perm])[truth]  # permuted, and not integers
    labels, centres, inertia = kmeans(x, k, restarts=5, seed=0)
    assert centres.shape == (k, x.shape[1]) and inertia > 0
    assert matched_accuracy(labels, names) == 1.0


def test_kmeans_is_deterministic_for_a_seed() -> None:
    x, _ = blobs(3)
    a, _, ia = kmeans(x, 3, seed=7)
    b, _, ib = kmeans(x, 3, seed=7)
    assert np.array_equal(a, b) and ia == ib


def test_matched_accuracy_of_chance_and_partial_agreement() -> None:
    truth = np.array([0, 0, 1, 1])
    assert matched_accuracy(np.array([1, 1, 0, 0]), truth) == 1.0
    assert matched_accuracy(np.array([0, 1, 0, 1]), truth) == 0.5
    assert matched_accuracy(np.array([0, 0, 0, 0]), truth) == 0.5  # fewer clusters


@pytest.mark.parametrize("n", [3, 6, 9])
def test_hungarian_matches_brute_force(n) -> None:
    rng = np.random.default_rng(n)
    for _ in range(5):
        cost = rng.integers(0, 20, size=(n, n)).astype(float)
        cols = hungarian(cost)
        assert sorted(cols) == list(range(n))
        got = cost[np.arange(n), cols].sum()
        if n <= 8:
            best = min(cost[np.arange(n), list(p)].sum() for p in permutations(range(n)))
            assert got == best
        # The exact maximiser of the negated matrix gives the same total.
        assert cost[np.arange(n), best_assignment(-cost)].sum() == got


def test_bad_inputs_raise() -> None:
    with pytest.raises(ValueError):
        kmeans(np.zeros((3, 2)), 5)
    with pytest.raises(ValueError):
        hungarian(np.zeros((2, 3)))
    with pytest.raises(ValueError):
        matched_accuracy(np.zeros(3), np.zeros(4))


def test_within_group_share_runs_from_constant_groups_to_equal_means() -> None:
    x, truth = blobs(3, n=20)
    constant = np.repeat(x[::20], 20, axis=0)  # each group one point repeated
    assert within_group_share(constant, truth) == pytest.approx(0.0)
    centred = x - np.stack([x[truth == g].mean(0) for g in range(3)])[truth]
    assert within_group_share(centred, truth) == pytest.approx(1.0)
    # Well separated blobs: nearly all the variance is between the groups.
    assert within_group_share(x, truth) < 0.05
    # The share of the sum of squares, by hand, on a tiny case.
    pts = np.array([[0.0], [2.0], [10.0], [14.0]])
    assert within_group_share(pts, np.array(["a", "a", "b", "b"])) == pytest.approx(
        (1 + 1 + 4 + 4) / ((6.5 ** 2) + (4.5 ** 2) + (3.5 ** 2) + (7.5 ** 2)))


def test_within_group_share_checks_shapes() -> None:
    with pytest.raises(ValueError, match=r"\(N, D\) points and \(N,\) groups"):
        within_group_share(np.zeros(5), np.zeros(5))
    with pytest.raises(ValueError, match="groups"):
        within_group_share(np.zeros((5, 2)), np.zeros(4))
    assert np.isnan(within_group_share(np.ones((4, 2)), np.array([0, 0, 1, 1])))
