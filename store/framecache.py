"""Frame cache: every decoded frame of a clip as one uint8 ``.npy`` opened by memmap.

Frames are appended to a temporary file while ffmpeg decodes; the ``.npy`` header is
rewritten with the true frame count at the end (numpy pads the header so the shape
can grow in place) and the file is renamed into place, so a killed ingest never
leaves a cache that looks complete.
"""

from __future__ import annotations

import os
from pathlib import Path
from types import TracebackType

import numpy as np
from numpy.lib import format as npy_format

from store.files import tmp_name


class FrameCacheWriter:
    """Append (H, W, 3) uint8 frames; ``commit()`` makes ``path`` appear atomically."""

    def __init__(self, path: Path, height: int, width: int):
        self.path = Path(path)
        self.shape = (height, width, 3)
        self.count = 0
        self.tmp = tmp_name(self.path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._f = open(self.tmp, "wb")
        self._write_header()

    def _header(self) -> dict:
        return {"descr": "|u1", "fortran_order": False, "shape": (self.count, *self.shape)}

    def _write_header(self) -> None:
        self._f.seek(0)
        npy_format.write_array_header_1_0(self._f, self._header())
        self._offset = self._f.tell()

    def append(self, frame: np.ndarray) -> None:
        if frame.shape != self.shape or frame.dtype != np.uint8:
            raise ValueError(f"frame {frame.shape} {frame.dtype}, cache holds {self.shape} uint8")
        self._f.seek(self._offset + self.count * frame.nbytes)
        self._f.write(np.ascontiguousarray(frame).tobytes())
        self.count += 1

    def commit(self) -> Path:
        offset = self._offset
        self._write_header()
        if self._offset != offset:  # cannot happen with numpy's growth padding; be sure
            raise RuntimeError("npy header changed size; frame cache not written")
        self._f.flush()
        os.fsync(self._f.fileno())
        self._f.close()
        os.replace(self.tmp, self.path)
        return self.path

    def abort(self) -> None:
        if not self._f.closed:
            self._f.close()
        self.tmp.unlink(missing_ok=True)

    def __enter__(self) -> FrameCacheWriter:
        return self

    def __exit__(self, exc_type: type | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if exc_type is not None or not self._f.closed:
            self.abort()


def open_frames(path: Path) -> np.ndarray:
    """The cached frames, (T, H, W, 3) uint8, memory-mapped read-only."""
    return np.load(path, mmap_mode="r")
