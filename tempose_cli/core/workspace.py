"""The workspace (``--home``): catalogue, frame cache, backgrounds, runs, exports."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = "tempose-home"


@dataclass(frozen=True)
class Workspace:
    home: Path
    db_url: str | None = None  # None: SQLite file inside the home

    @classmethod
    def from_options(cls, home: str | Path | None, db_url: str | None = None) -> Workspace:
        home = Path(home or os.environ.get("TEMPOSE_HOME") or DEFAULT_HOME).expanduser()
        return cls(home=home.resolve(), db_url=db_url)

    @property
    def url(self) -> str:
        return self.db_url or f"sqlite:///{self.home / 'catalogue.sqlite'}"

    @property
    def frames_dir(self) -> Path:
        return self.home / "frames"

    @property
    def backgrounds_dir(self) -> Path:
        return self.home / "backgrounds"

    @property
    def labels_dir(self) -> Path:
        return self.home / "labels"

    @property
    def runs_dir(self) -> Path:
        return self.home / "runs"

    @property
    def exports_dir(self) -> Path:
        return self.home / "exports"

    def ensure(self) -> None:
        for d in (self.home, self.frames_dir, self.backgrounds_dir, self.labels_dir,
                  self.runs_dir, self.exports_dir):
            d.mkdir(parents=True, exist_ok=True)

    def rel(self, path: Path) -> str:
        """Paths inside the home are stored relative to it, so a home can be moved."""
        try:
            return str(Path(path).resolve().relative_to(self.home))
        except ValueError:
            return str(Path(path).resolve())

    def abs(self, stored: str) -> Path:
        p = Path(stored)
        return p if p.is_absolute() else self.home / p
