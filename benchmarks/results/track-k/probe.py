"""The knn track's candidates per frame (``models.regressor.TRACK_K``) held at each K
given, the track weight still chosen on validation as ``tempose fit`` does; prints the
test N-MPJPE (mm) per run and fraction. A one-off probe (RESULTS.md, "Candidates per
frame of the knn track"); nothing is written to the catalogue.

Run (from the repository root):
    .venv/bin/python benchmarks/results/track-k/probe.py HOME SEED RUNS 5,10,20,40,80 >> out.txt
    python3 benchmarks/results/track-k/summ.py out.txt
"""

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/

from ablation_fits import ablation_fits  # noqa: E402

import models.regressor as regressor  # noqa: E402

home, seed, runs, ks = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
for run, every, fit in ablation_fits(home, seed, [int(r) for r in runs.split(",")]):
    cells = []
    for k in (int(v) for v in ks.split(",")):
        regressor.TRACK_K = k
        t0 = time.time()
        res = fit()
        cells.append(f"K{k}: {res.summary['n_mpjpe']:.1f} "
                     f"(lam {res.net.track_lam:g}, {time.time() - t0:.0f}s)")
    print(f"{home} seed {seed} run {run} 1/{every}: " + ", ".join(cells), flush=True)
