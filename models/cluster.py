"""KMeans and Hungarian-matched cluster accuracy for the disentanglement probe (Sec. 4.4.3),
and the share of a latent's variance that lies within its clips.

Numpy only (no scipy / scikit-learn): k-means++ seeding, Lloyd iterations, several
restarts keeping the lowest inertia; the cluster-to-class assignment is exact
(brute force over permutations for k <= 8, the Hungarian algorithm above).
"""

from __future__ import annotations

from itertools import permutations

import numpy as np


def _kmeans_pp(x: np.ndarray, k: int, rng: np.random.Generator) -> np.ndarray:
    """k-means++ seeding (Arthur & Vassilvitskii): each next centre drawn with
    probability proportional to the squared distance to the nearest chosen one."""
    n = len(x)
    centres = [x[rng.integers(n)]]
    d2 = ((x - centres[0]) ** 2).sum(1)  # (N,)
    for _ in range(1, k):
        total = d2.sum()
        i = rng.integers(n) if total <= 0 else rng.choice(n, p=d2 / total)
        centres.append(x[i])
        d2 = np.minimum(d2, ((x - x[i]) ** 2).sum(1))
    return np.stack(centres)  # (k, D)


def _assign(x: np.ndarray, centres: np.ndarray) -> tuple[np.ndarray, float]:
    d2 = (x**2).sum(1)[:, None] - 2 * x @ centres.T + (centres**2).sum(1)[None]  # (N, k)
    labels = d2.argmin(1)
    return labels, float(np.maximum(d2[np.arange(len(x)), labels], 0).sum())


def kmeans(x: np.ndarray, k: int, *, restarts: int = 10, iters: int = 100, seed: int = 0,
           tol: float = 1e-8) -> tuple[np.ndarray, np.ndarray, float]:
    """Cluster (N, D) points into k groups -> (labels (N,), centres (k, D), inertia)."""
    x = np.asarray(x, dtype=np.float64)
    if x.ndim != 2:
        raise ValueError(f"expected (N, D) points, got {x.shape}")
    if not 1 <= k <= len(x):
        raise ValueError(f"k = {k} must be between 1 and the number of points ({len(x)})")
    rng = np.random.default_rng(seed)
    best: tuple[np.ndarray, np.ndarray, float] | None = None
    for _ in range(max(1, restarts)):
        centres = _kmeans_pp(x, k, rng)
        prev = np.inf
        for _ in range(iters):
            labels, inertia = _assign(x, centres)
            for j in range(k):
                members = x[labels == j]
                # An emptied cluster restarts at a random point.
                centres[j] = members.mean(0) if len(members) else x[rng.integers(len(x))]
            if prev - inertia <= tol * max(prev, 1.0):
                break
            prev = inertia
        labels, inertia = _assign(x, centres)
        if best is None or inertia < best[2]:
            best = (labels, centres.copy(), inertia)
    assert best is not None
    return best


def hungarian(cost: np.ndarray) -> np.ndarray:
    """Minimum-cost assignment of a square (n, n) matrix: ``col[i]`` for each row i.

    The O(n³) shortest augmenting path form of the Hungarian algorithm (Kuhn-Munkres
    with potentials), 1-indexed internally as in its textbook statement.
    """
    cost = np.asarray(cost, dtype=np.float64)
    n = cost.shape[0]
    if cost.shape != (n, n):
        raise ValueError(f"cost matrix must be square, got {cost.shape}")
    u, v = np.zeros(n + 1), np.zeros(n + 1)
    p = np.zeros(n + 1, dtype=np.int64)  # p[j]: row matched to column j (0 = none)
    way = np.zeros(n + 1, dtype=np.int64)
    for i in range(1, n + 1):
        p[0] = i
        j0 = 0
        minv = np.full(n + 1, np.inf)
        used = np.zeros(n + 1, dtype=bool)
        while True:
            used[j0] = True
            i0 = p[j0]
            delta, j1 = np.inf, 0
            for j in range(1, n + 1):
                if used[j]:
                    continue
                cur = cost[i0 - 1, j - 1] - u[i0] - v[j]
                if cur < minv[j]:
                    minv[j], way[j] = cur, j0
                if minv[j] < delta:
                    delta, j1 = minv[j], j
            for j in range(n + 1):
                if used[j]:
                    u[p[j]] += delta
                    v[j] -= delta
                else:
                    minv[j] -= delta
            j0 = j1
            if p[j0] == 0:
                break
        while j0:
            j1 = way[j0]
            p[j0] = p[j1]
            j0 = j1
    col = np.zeros(n, dtype=np.int64)
    for j in range(1, n + 1):
        col[p[j] - 1] = j - 1
    return col


def best_assignment(score: np.ndarray) -> np.ndarray:
    """Row -> column assignment maximising the summed score of a square matrix.

    Exhaustive over permutations for n <= 8 (at most 40320), Hungarian otherwise.
    """
    score = np.asarray(score, dtype=np.float64)
    n = score.shape[0]
    if score.shape != (n, n):
        raise ValueError(f"score matrix must be square, got {score.shape}")
    if n <= 8:
        rows = np.arange(n)
        best = max(permutations(range(n)), key=lambda perm: score[rows, list(perm)].sum())
        return np.array(best, dtype=np.int64)
    return hungarian(-score)


def matched_accuracy(clusters: np.ndarray, classes: np.ndarray) -> float:
    """Share of points whose cluster maps to their class under the best one-to-one map.

    ``classes`` may be any labels (athlete names); clusters and classes of different
    counts are padded to a square contingency table with empty rows or columns.
    """
    clusters = np.asarray(clusters)
    classes = np.asarray(classes)
    if clusters.shape != classes.shape or clusters.ndim != 1:
        raise ValueError(f"need two (N,) label arrays, got {clusters.shape}, {classes.shape}")
    if not len(clusters):
        return float("nan")
    _, ci = np.unique(clusters, return_inverse=True)
    _, ki = np.unique(classes, return_inverse=True)
    n = max(ci.max(), ki.max()) + 1
    table = np.zeros((n, n))  # (clusters, classes) co-occurrence counts
    np.add.at(table, (ci, ki), 1)
    match = best_assignment(table)
    return float(table[np.arange(n), match].sum() / len(clusters))


def within_group_share(x: np.ndarray, groups: np.ndarray) -> float:
    """Share of the total variance of (N, D) points that lies within their groups.

    ``sum_i |x_i - mean(group of i)|^2 / sum_i |x_i - mean|^2``: 0 when each group is one
    point repeated, 1 when every group has the same mean. With groups = clips it says
    how time-invariant a latent is: the paper's z_ti should be near 0 (Sec. 3.2).
    """
    x = np.asarray(x, dtype=np.float64)
    groups = np.asarray(groups)
    if x.ndim != 2 or groups.shape != (len(x),):
        raise ValueError(f"need (N, D) points and (N,) groups, got {x.shape}, {groups.shape}")
    total = float(((x - x.mean(0)) ** 2).sum())
    if total <= 0:
        return float("nan")
    _, gi = np.unique(groups, return_inverse=True)
    sums = np.zeros((gi.max() + 1, x.shape[1]))
    np.add.at(sums, gi, x)
    means = sums / np.bincount(gi)[:, None]  # (G, D)
    return float(((x - means[gi]) ** 2).sum() / total)
