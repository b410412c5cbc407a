"""Each W@DEG of turn_probe.py's output against W0 (the fit as it is): the mean change of
test N-MPJPE (mm) per fraction over the runs, its sd and se, and how many runs moved
each way. `dsl` (s26a run 9, no detector) is left out.

Run: python3 benchmarks/results/orientation/turn_summ.py turn.txt
"""

import re
import statistics as st
import sys

changes: dict[tuple[str, str], list[float]] = {}
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) seed (\d+) run (\d+) 1/(\d+): (.*)", line)
    if not m or "w0@90" not in line:
        continue
    home, _, run, every, rest = m.groups()
    if home.endswith("s26a") and run == "9":
        continue
    cells = {k: float(n) for k, n, _ in re.findall(r"(w[\d.]+@[\d.]+): ([\d.]+)/([\d.]+)", rest)}
    for k, v in cells.items():
        if k != "w0@90":
            changes.setdefault((k, every), []).append(v - cells["w0@90"])
for (k, every), x in sorted(changes.items()):
    sd = st.stdev(x)
    print(f"{k} 1/{every}: n {len(x)} mean {st.mean(x):+.1f} sd {sd:.1f} "
          f"se {sd / len(x) ** 0.5:.1f} lower {sum(v < 0 for v in x)} "
          f"higher {sum(v > 0 for v in x)}")
