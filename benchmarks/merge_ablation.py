"""One Table V from several `tempose ablation` outputs (runs resumed across sessions).

Run:  .venv/bin/python benchmarks/merge_ablation.py --out DIR A/ablation.csv B/ablation.csv ...

Reads each ``ablation.csv``; where two files hold the same row, label fraction and
repeat, the later file wins. Writes DIR/ablation.csv, .md and .png with the same writer as
``tempose ablation`` (rows in Table V order, then the baselines), and the Markdown
lists the files it was merged from.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tempose_cli.pipeline.ablation import Meta, read_csv, write_outputs  # noqa: E402
from tempose_cli.pipeline.ablation_names import BASELINES, TABLE_V  # noqa: E402


def merge(files: list[Path]) -> list[dict]:
    cells: dict[tuple[str, float], dict] = {}
    for path in files:
        for row in read_csv(path):
            cells[(row["row"], row["fraction"], row["repeat"])] = row
    order = {name: i for i, name in enumerate((*TABLE_V, *BASELINES))}
    return sorted(cells.values(), key=lambda r: (order.get(r["row"], len(order)), r["row"],
                                                 -r["fraction"], r["repeat"]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", required=True)
    ap.add_argument("files", nargs="+", type=Path)
    args = ap.parse_args()
    missing = [str(p) for p in args.files if not p.is_file()]
    if missing:
        sys.exit(f"error: no such file: {missing[0]}")
    rows = merge(args.files)
    # The fit settings the rows were made with (the Markdown's regressor line).
    fitted = next((r for r in rows if r["kind"] == "variant" and r["regressor"]), None)
    fit = ({"regressor": fitted["regressor"], "context": fitted["context"] or 0,
            "track": bool(fitted["track"])} if fitted else {})
    meta = Meta(command=" ".join(["benchmarks/merge_ablation.py", "--out", args.out,
                                  *map(str, args.files)]), seconds=0.0, **fit)
    files = write_outputs(rows, Path(args.out), meta)
    print(files["md"].read_text())


if __name__ == "__main__":
    main()
