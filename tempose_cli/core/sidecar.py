"""Clip sidecar ``<stem>.json``: sport, athlete, dive, height, fps, camera, split tags.

Unknown keys are kept (stored with the clip) so generators can record provenance;
known keys are type-checked, and a missing field is left null, never guessed.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from tempose_cli.core.errors import InputError

# How ingest estimates a clip's background (media/background.py implements them).
BACKGROUND_METHODS = ("median", "dive-halves", "panorama")

SPORTS = ("dive", "ski")


@dataclass(frozen=True)
class ClipMeta:
    sport: str | None = None
    athlete: str | None = None
    dive: str | None = None
    height_m: float | None = None
    fps: float | None = None
    camera: dict[str, Any] | None = None
    split: tuple[str, ...] = ()
    raw: dict[str, Any] = field(default_factory=dict)

    def filled_from(self, other: ClipMeta) -> ClipMeta:
        """Fields this one lacks, taken from ``other`` (the command line)."""
        return replace(
            self,
            sport=self.sport or other.sport,
            athlete=self.athlete or other.athlete,
            dive=self.dive or other.dive,
            height_m=self.height_m if self.height_m is not None else other.height_m,
            fps=self.fps if self.fps is not None else other.fps,
            split=self.split or other.split,
        )


def sidecar_path(video: Path) -> Path:
    return video.with_suffix(".json")


def labels_path(video: Path) -> Path:
    return video.with_name(video.stem + ".pose.csv")


def _matrix(path: Path, name: str, value: Any, rows: int, cols: int | None) -> list:
    shape = f"{rows}x{cols}" if cols else f"{rows}"
    ok = isinstance(value, list) and len(value) == rows
    if ok and cols:
        ok = all(isinstance(r, list) and len(r) == cols for r in value)
        flat = [v for r in value for v in r] if ok else []
    else:
        flat = value if ok else []
    if not ok or not all(isinstance(v, (int, float)) and math.isfinite(v) for v in flat):
        raise InputError(path, f"camera.{name} must be a {shape} list of numbers")
    return value


def parse_sidecar(path: Path, data: Any) -> ClipMeta:
    if not isinstance(data, dict):
        raise InputError(path, "sidecar must be a JSON object")

    def text(key: str) -> str | None:
        v = data.get(key)
        if v is None:
            return None
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return str(v)  # dive ids are often written as numbers
        if not isinstance(v, str) or not v.strip():
            raise InputError(path, f"'{key}' must be a non-empty string")
        return v.strip()

    def positive(key: str) -> float | None:
        v = data.get(key)
        if v is None:
            return None
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or v <= 0:
            raise InputError(path, f"'{key}' must be a positive number, got {v!r}")
        return float(v)

    sport = text("sport")
    if sport is not None and sport not in SPORTS:
        raise InputError(path, f"'sport' must be one of {', '.join(SPORTS)}, got {sport!r}")
    camera = data.get("camera")
    if camera is not None:
        if not isinstance(camera, dict) or "K" not in camera:
            raise InputError(path, "'camera' must be an object with at least 'K' (3x3)")
        _matrix(path, "K", camera["K"], 3, 3)
        if "R" in camera:
            _matrix(path, "R", camera["R"], 3, 3)
        if "t" in camera:
            _matrix(path, "t", camera["t"], 3, None)
    split = data.get("split", [])
    if isinstance(split, str):
        split = [split]
    if not isinstance(split, list) or not all(isinstance(s, str) and s for s in split):
        raise InputError(path, "'split' must be a list of tag strings")
    return ClipMeta(
        sport=sport,
        athlete=text("athlete"),
        dive=text("dive"),
        height_m=positive("height_m"),
        fps=positive("fps"),
        camera=camera,
        split=tuple(dict.fromkeys(split)),
        raw=data,
    )


def load_sidecar(video: Path) -> ClipMeta:
    """The sidecar beside ``video``, or empty metadata when there is none."""
    path = sidecar_path(video)
    if not path.exists():
        return ClipMeta()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        where = f"line {e.lineno} column {e.colno}"
        raise InputError(path, f"malformed JSON: {e.msg} at {where}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise InputError(path, f"cannot read sidecar: {e}") from None
    return parse_sidecar(path, data)
