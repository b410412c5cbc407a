"""Which frames of a clip to read when a statistic needs only some of them."""

from __future__ import annotations

import numpy as np


def sample_indices(n: int, max_samples: int) -> np.ndarray:
    """Evenly spaced frame indices, first and last included."""
    if n <= max_samples:
        return np.arange(n)
    return np.unique(np.linspace(0, n - 1, max_samples).round().astype(np.int64))
