"""The knn fit (as the ablation's) of one trained run on each key of its features file:
``features`` (what the fit reads; for `ae-stn-dec` [z_tv, z_ti] of the same frame),
``z_tv`` (the head on the colour-jittered crop) and ``z_ti``; prints the test
N-MPJPE / P-MPJPE (mm) per fraction. A one-off probe; nothing is written.

Run (from the repository root):
    .venv/bin/python benchmarks/results/orientation/ae_heads.py HOME SEED RUN
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/

from ablation_fits import ablation_fits  # noqa: E402

home, seed, run = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
for key in ("features", "z_tv", "z_ti"):
    for _, every, fit in ablation_fits(home, seed, [run], feature=key):
        s = fit().summary
        print(f"{home} run {run} {key} 1/{every}: {s['n_mpjpe']:.1f}/{s['p_mpjpe']:.1f}")
