"""The knn track with a cost on the trunk turning more than DEG degrees between two
consecutive frames (a flip), on top of its pose-change cost; prints the test N-MPJPE /
P-MPJPE (mm) per fraction (every 1 / 5 / 20) for each W@DEG (W0: the fit as it is).
A one-off probe (RESULTS.md, "Seed 27 ... orientation"); nothing is written.

Run (from the repository root):
    .venv/bin/python benchmarks/results/orientation/turn_probe.py HOME SEED RUNS 0@90,3@60,10@60
    python3 benchmarks/results/orientation/turn_summ.py out.txt
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/

import numpy as np  # noqa: E402
import torch  # noqa: E402
from ablation_fits import ablation_fits  # noqa: E402
from torch import Tensor  # noqa: E402

import models.regressor as regressor  # noqa: E402
from models.skeleton import JOINT_INDEX  # noqa: E402

NECK = JOINT_INDEX["neck"]
TURN = {"w": 0.0, "deg": 90.0}


@torch.no_grad()
def predict_track(self: regressor.KNNRegressor, x: Tensor, lam: float | None = None) -> Tensor:
    """``KNNRegressor.predict_track`` plus TURN["w"] per flip between consecutive frames."""
    lam = self.cfg.track_lam if lam is None else lam
    if lam <= 0 or len(x) < 2:
        return self(x)
    h = (x - self.x_mean) / self.x_std  # (T, D)
    dist, idx = torch.cdist(h, self.bank_x).topk(min(regressor.TRACK_K, len(self.bank_x)),
                                                 dim=1, largest=False)  # (T, K)
    scale = dist[:, 0].median()
    emit = dist / (scale if scale > 0 else dist.median()).clamp_min(1e-9)  # (T, K)
    poses = self.bank_y[idx].view(len(x), idx.shape[1], self.cfg.joints, 3)  # (T, K, J, 3)
    trunk = torch.nn.functional.normalize(poses[:, :, NECK], dim=-1)  # (T, K, 3), pelvis at 0
    cos_max = float(np.cos(np.radians(TURN["deg"])))
    cost = emit[0]
    back = torch.zeros(idx.shape, dtype=torch.long)
    for t in range(1, len(x)):
        change = (poses[t - 1][:, None] - poses[t][None]).norm(dim=-1).mean(-1)  # (K, K)
        flip = (trunk[t - 1] @ trunk[t].T < cos_max).to(change.dtype) * TURN["w"]  # (K, K)
        cost, back[t] = (cost[:, None] + lam * change / regressor.TRACK_POSE_UNIT + flip).min(0)
        cost = cost + emit[t]
    path = torch.zeros(len(x), dtype=torch.long)
    path[-1] = cost.argmin()
    for t in range(len(x) - 1, 0, -1):
        path[t - 1] = back[t, path[t]]
    return poses[torch.arange(len(x)), path]  # (T, J, 3)


regressor.KNNRegressor.predict_track = predict_track
home, seed, runs = sys.argv[1], int(sys.argv[2]), sys.argv[3]
settings = [tuple(float(u) for u in v.split("@")) for v in sys.argv[4].split(",")]
for run, every, fit in ablation_fits(home, seed, [int(r) for r in runs.split(",")]):
    cells = []
    for w, deg in settings:
        TURN["w"], TURN["deg"] = w, deg
        res = fit()
        cells.append(f"w{w:g}@{deg:g}: {res.summary['n_mpjpe']:.1f}/"
                     f"{res.summary['p_mpjpe']:.1f} (lam {res.net.track_lam:g})")
    print(f"{home} seed {seed} run {run} 1/{every}: " + ", ".join(cells), flush=True)
