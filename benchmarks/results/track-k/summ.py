"""Mean test N-MPJPE per K over the runs of probe.py's output (seeds 21-22 against 23-25)."""

import collections
import re
import sys

rows = collections.defaultdict(list)
for line in open(sys.argv[1]):
    m = re.match(r"(\S+) seed (\d+) run (\d+) 1/(\d+): (.*)", line)
    if not m:
        continue
    cells = {int(k): float(v) for k, v in re.findall(r"K(\d+): ([\d.]+)", m[5])}
    group = "21-22" if m[2] in ("21", "22") else "23-25"
    rows[(group, int(m[4]))].append(cells)
    rows[("all", int(m[4]))].append(cells)
for (group, every), cs in sorted(rows.items()):
    ks = sorted(cs[0])
    mean = {k: sum(c[k] for c in cs) / len(cs) for k in ks}
    better = {k: sum(c[k] < c[10] - 1e-9 for c in cs) for k in ks}
    print(f"{group} 1/{every} ({len(cs)} runs): "
          + "  ".join(f"K{k} {mean[k]:.1f} ({better[k]} better)" for k in ks))
