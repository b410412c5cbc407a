"""Ridge regression: the quick linear probe from features to pose (numpy in, numpy out).

Used while training (is z_tv learning pose?) and by the research probes in benchmarks/.
Features are standardised on the fit set, targets centred; ``lam`` is chosen from a grid
on a validation set when one is given.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LAMBDAS = (0.1, 1.0, 10.0, 100.0, 1000.0, 10000.0)


@dataclass
class Ridge:
    w: np.ndarray  # (D, K)
    x_mean: np.ndarray  # (D,)
    x_std: np.ndarray  # (D,)
    y_mean: np.ndarray  # (K,)
    lam: float

    def predict(self, x: np.ndarray) -> np.ndarray:
        """(N, D) -> (N, K)."""
        x = np.asarray(x, np.float64)
        if x.ndim != 2 or x.shape[1] != self.w.shape[0]:
            raise ValueError(f"expected (N, {self.w.shape[0]}) features, got {x.shape}")
        return ((x - self.x_mean) / self.x_std) @ self.w + self.y_mean


def ridge_fit(x: np.ndarray, y: np.ndarray, lam: float) -> Ridge:
    """Minimise ||X_std W - (Y - mean)||^2 + lam ||W||^2; x (N, D), y (N, K)."""
    x = np.asarray(x, np.float64)
    y = np.asarray(y, np.float64)
    if x.ndim != 2 or y.ndim != 2 or len(x) != len(y) or len(x) == 0:
        raise ValueError(f"expected (N, D) features and (N, K) targets, got {x.shape}, {y.shape}")
    if not lam > 0:
        raise ValueError(f"lam must be > 0, got {lam}")
    mean, std = x.mean(0), x.std(0)
    std = np.where(std > 1e-8, std, 1.0)
    xs = (x - mean) / std  # (N, D)
    y_mean = y.mean(0)
    d = xs.shape[1]
    w = np.linalg.solve(xs.T @ xs + lam * np.eye(d), xs.T @ (y - y_mean))  # (D, K)
    return Ridge(w, mean, std, y_mean, float(lam))


def ridge_select(x: np.ndarray, y: np.ndarray, x_val: np.ndarray, y_val: np.ndarray,
                 error, lambdas: tuple[float, ...] = LAMBDAS) -> Ridge:  # noqa: ANN001
    """The ridge refitted on fit + validation with the ``lam`` whose fit-only model has
    the lowest ``error(pred_val, y_val)``."""
    scores = [error(ridge_fit(x, y, lam).predict(x_val), y_val) for lam in lambdas]
    best = lambdas[int(np.argmin(scores))]
    return ridge_fit(np.concatenate([x, x_val]), np.concatenate([y, y_val]), best)
