"""The ffmpeg binary (from ``imageio-ffmpeg``; ``IMAGEIO_FFMPEG_EXE`` points elsewhere)
and encoding RGB frames to H.264 MP4: what video I/O (``media/video.py``) and the
generated benchmark (``synth/``) both need."""

from __future__ import annotations

from collections.abc import Iterator
from functools import cache
from pathlib import Path

import numpy as np


@cache
def ffmpeg_exe() -> str:
    import imageio_ffmpeg

    return imageio_ffmpeg.get_ffmpeg_exe()


def encode_mp4(path: Path, frames: Iterator[np.ndarray] | np.ndarray, fps: float,
               size: tuple[int, int], crf: int = 18, preset: str = "veryfast") -> None:
    """Encode RGB frames to H.264 MP4 (yuv420p, faststart: plays in browsers);
    ``preset``: libx264's speed / size trade-off."""
    w, h = size
    import ffmpeg

    proc = (
        ffmpeg.input("pipe:", format="rawvideo", pix_fmt="rgb24", s=f"{w}x{h}", framerate=fps)
        .output(str(path), vcodec="libx264", pix_fmt="yuv420p", crf=crf,
                movflags="+faststart", preset=preset)
        .global_args("-hide_banner", "-nostdin", "-v", "error", "-y")
        .run_async(cmd=ffmpeg_exe(), pipe_stdin=True, pipe_stderr=True)
    )
    try:
        for frame in frames:
            proc.stdin.write(np.ascontiguousarray(frame, dtype=np.uint8).tobytes())
    finally:
        proc.stdin.close()
        err = proc.stderr.read()
        rc = proc.wait()
    if rc != 0:
        msg = err.decode(errors="replace").strip()
        raise RuntimeError(f"ffmpeg could not encode {path}: {msg}")
