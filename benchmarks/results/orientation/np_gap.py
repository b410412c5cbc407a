"""`ae-stn-dec` minus `ours`, N-MPJPE and P-MPJPE (mm), per seed and fraction, from the
ablation tables in benchmarks/results/ (the mean over each row's trainings). P-MPJPE
aligns the rotation that N-MPJPE keeps, so where the N gap is large and the P gap small,
`ours` loses on the body's global orientation, not on its shape.

Run: python3 benchmarks/results/orientation/np_gap.py
"""

import csv
import statistics as st
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]
SETS = {
    21: ["repeats3000-seed21"], 22: ["repeats3000-seed22"], 23: ["ae3000-seed23"],
    24: ["ae3000-seed24"], 26: ["tablev-seed26", "ours-repeats-seed26"],
    27: ["seed27"], 28: ["tablev-seed28"],
}

for seed, folders in SETS.items():
    rows = [r for d in folders for f in sorted((HERE / d).glob("ablation*.csv"))
            for r in csv.DictReader(f.open())]
    cells = []
    for frac in ("1", "0.2", "0.05"):
        got: dict[str, dict[str, tuple[float, float]]] = {}
        for r in rows:
            if r["fraction"] == frac and r["row"] in ("ours", "ae-stn-dec"):
                got.setdefault(r["row"], {})[r["run"]] = (float(r["n_mpjpe"]), float(r["p_mpjpe"]))
        mean = {k: [st.mean(x[i] for x in v.values()) for i in (0, 1)] for k, v in got.items()}
        gap = [mean["ae-stn-dec"][i] - mean["ours"][i] for i in (0, 1)]
        cells.append(f"{frac}: N {gap[0]:+.1f}, P {gap[1]:+.1f}")
    n = {k: len({r['run'] for r in rows if r['row'] == k}) for k in ("ours", "ae-stn-dec")}
    print(f"seed {seed} (ours {n['ours']}, ae-stn-dec {n['ae-stn-dec']} trainings): "
          + " | ".join(cells))
