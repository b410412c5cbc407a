"""The knn fit of trained runs with the detector's box track appended to each frame's
feature: the box centre's height in the frame and its vertical speed (over 2 frames
either side), each repeated R times (the fit standardises every column, so R sets
their weight among the feature's columns). Prints the test N-MPJPE / P-MPJPE (mm) per
fraction (every 1 / 5 / 20), the fit otherwise the ablation's (knn, 2 frames of
context, the track). A one-off fit-stage probe (RESULTS.md, "The box track's phase in
the knn fit"): does the dive's phase, which the gravity-trained box carries, stop the
fits turning the body head for feet? Nothing is written to the catalogue.

With ``z_ti`` as the last argument the run's z_ti (R copies) is appended instead of the
box track: would `ours`' fit gain from the second head's latent, as `ae-stn-dec`'s
feature holds both (RESULTS.md, "Seed 28 at the default")?

Run (from the repository root):
    .venv/bin/python benchmarks/results/box-phase/probe.py HOME SEED RUNS 0,4,16 [random] [z_ti]
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))  # benchmarks/

import numpy as np  # noqa: E402
from ablation_fits import ablation_fits  # noqa: E402

import tempose_cli.learn.fitdata as fitdata  # noqa: E402
import tempose_cli.pipeline.evaluate as evaluate  # noqa: E402
import tempose_cli.pipeline.fit as fit  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402

LOAD = fit.load_features
ENCODE = fit.encode_features
STATE: dict = {"r": 0, "run": None, "append": "box"}


def phase_columns(box: np.ndarray, r: int) -> np.ndarray:
    """(T, 4) box track -> (T, 2r): centre height and its speed, r times each."""
    cy = box[:, 3].astype(np.float64)
    t = np.arange(len(cy))
    last = len(cy) - 1
    vy = (cy[np.clip(t + 2, 0, last)] - cy[np.clip(t - 2, 0, last)]) / 4.0
    return np.repeat(np.stack([cy, vy], 1), r, axis=1)


def with_extra(f: np.ndarray, run_id, run_dir, content_hash, clip_id) -> np.ndarray:  # noqa: ANN001
    if STATE["r"] == 0:
        return f
    if STATE["append"] == "z_ti":
        extra = np.tile(LOAD(run_id, run_dir, content_hash, clip_id, "z_ti"), STATE["r"])
    else:
        extra = phase_columns(LOAD(run_id, run_dir, content_hash, clip_id, "box"), STATE["r"])
    return np.concatenate([f, extra], 1).astype(np.float32)


def read(run_id, run_dir, content_hash, clip_id, key="features"):  # noqa: ANN001, ANN201
    return with_extra(LOAD(run_id, run_dir, content_hash, clip_id, key), run_id, run_dir,
                    content_hash, clip_id)


def encode(model, src, device):  # noqa: ANN001, ANN201 - random: the run's box track too
    f = ENCODE(model, src, device)
    run_id, run_dir = STATE["run"]
    return with_extra(f, run_id, run_dir, src.content_hash, src.clip_id)


fit.load_features = evaluate.load_features = fitdata.load_features = read
fit.encode_features = evaluate.encode_features = encode
home, seed, runs, reps = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4].split(",")
if sys.argv[-1] == "z_ti":
    STATE["append"] = sys.argv.pop()
mode = sys.argv[5] if len(sys.argv) > 5 else "frozen"
changes = {} if mode == "frozen" else {"mode": mode}
ws = Workspace.from_options(home)
for run, every, fit_run in ablation_fits(home, seed, [int(r) for r in runs.split(",")],
                                         **changes):
    run_dir = sorted(ws.runs_dir.glob(f"{run:04d}-*"))[0]
    STATE["run"] = (run, run_dir)
    cells = []
    for r in reps:
        STATE["r"] = int(r)
        res = fit_run()
        e = res.summary
        cells.append(f"R {r}: {e['n_mpjpe']:.1f} / {e['p_mpjpe']:.1f}")
    print(f"{home} run {run} {mode} +{STATE['append']} every {every}: " + "; ".join(cells),
          flush=True)
