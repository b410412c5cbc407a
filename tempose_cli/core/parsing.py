"""The small grammars of command options: clip-id lists and image sizes."""

from __future__ import annotations

import re


def parse_ids(spec: str) -> list[int]:
    """``"1,2"`` or ``"1-10,14"`` -> [1, ..., 10, 14] (order kept, duplicates dropped);
    ValueError naming the bad part otherwise."""
    ids: list[int] = []
    for part in (spec or "").split(","):
        part = part.strip()
        m = re.fullmatch(r"(\d+)(?:\s*-\s*(\d+))?", part)
        if not m:
            raise ValueError(f"{part!r} in {spec!r} is not an id or a range (e.g. 1-10,14)")
        lo, hi = int(m.group(1)), int(m.group(2) or m.group(1))
        if hi < lo:
            raise ValueError(f"range {part!r} in {spec!r} runs backwards")
        ids += [i for i in range(lo, hi + 1) if i not in ids]
    return ids


def parse_size(spec: str) -> tuple[int, int]:
    """``"WxH"`` -> (W, H); ValueError otherwise."""
    try:
        w, h = (int(v) for v in spec.strip().lower().split("x"))
    except ValueError:
        raise ValueError(f"{spec!r}: expected WxH, e.g. 256x256") from None
    return w, h
