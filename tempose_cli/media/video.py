"""Video I/O through ffmpeg: probe, hash, decode to RGB frames, encode frames to MP4.

The ffmpeg binary comes from ``imageio-ffmpeg`` (a registry package that ships it), so
no system-wide ffmpeg is needed; ``IMAGEIO_FFMPEG_EXE`` points elsewhere if wanted.
Probing uses ffmpeg itself (stream copy to null: exact packet count, no decoding),
because the bundled binary has no ffprobe beside it.
"""

from __future__ import annotations

import hashlib
import re
import subprocess
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import ffmpeg
import numpy as np

from tempose_cli.core.errors import InputError
from tempose_cli.core.ffmpeg import ffmpeg_exe
from tempose_cli.core.parsing import parse_size

VIDEO_EXTENSIONS = (".mp4", ".mov", ".avi", ".mkv", ".m4v")


@dataclass(frozen=True)
class VideoInfo:
    width: int
    height: int
    fps: float
    frame_count: int
    duration_s: float
    codec: str


def hash_file(path: Path, chunk: int = 1 << 20) -> str:
    """SHA-256 of the file's bytes: the clip's identity, wherever the file moves."""
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            while block := f.read(chunk):
                h.update(block)
    except OSError as e:
        raise InputError(path, f"cannot read file: {e.strerror or e}") from None
    return h.hexdigest()


_STREAM = re.compile(r"Stream #\d+:\d+.*?: Video: (\w+)(.*)")
_SIZE = re.compile(r"[ ,](\d{1,5})x(\d{1,5})[, \[]")
_FPS = re.compile(r"([\d.]+) (?:fps|tbr)")
_DURATION = re.compile(r"Duration: (\d+):(\d+):([\d.]+)")
_ROTATION = re.compile(r"rotation of (-?[\d.]+) degrees")


def _last_error_line(stderr: str) -> str:
    lines = [ln.strip() for ln in stderr.splitlines() if ln.strip()]
    useful = [ln for ln in lines if not ln.startswith(("frame=", "video:", "[out#", "Press"))]
    return (useful or lines or ["ffmpeg failed with no message"])[-1]


def probe(path: Path) -> VideoInfo:
    """Size, fps, exact frame count and duration of the first video stream."""
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "no such file" if not path.exists() else "not a regular file")
    if path.stat().st_size == 0:
        raise InputError(path, "empty file (0 bytes)")
    # framecrc writes a line per packet (one per frame): the count needs no "frame=" in
    # ffmpeg's progress line, which ffmpeg 7.0 leaves out for a stream copy.
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-i", str(path),
           "-map", "0:v:0", "-c", "copy", "-f", "framecrc", "-"]
    proc = subprocess.run(cmd, capture_output=True, text=True, errors="replace")
    err = proc.stderr
    stream = _STREAM.search(err)
    if proc.returncode != 0 or stream is None:
        if "Invalid data found" in err or "moov atom not found" in err:
            raise InputError(path, f"not a readable video ({_last_error_line(err)})")
        if stream is None and proc.returncode == 0:
            raise InputError(path, "no video stream")
        raise InputError(path, f"not a readable video ({_last_error_line(err)})")
    if "partial file" in err or "corrupt input packet" in err:
        raise InputError(path, f"truncated or corrupt video ({_last_error_line(err)})")
    codec, rest = stream.group(1), stream.group(2)
    size, fps = _SIZE.search(rest), _FPS.search(rest)
    if size is None or fps is None:
        raise InputError(path, f"cannot read size/fps from the video stream: {rest.strip()}")
    width, height = int(size.group(1)), int(size.group(2))
    rot = _ROTATION.search(err)
    if rot and round(abs(float(rot.group(1)))) % 180 == 90:  # decoders auto-rotate
        width, height = height, width
    frame_count = sum(1 for ln in proc.stdout.splitlines() if ln and not ln.startswith("#"))
    if frame_count == 0:
        raise InputError(path, "video stream has no frames")
    fps_v = float(fps.group(1))
    dur = _DURATION.search(err)
    duration = (int(dur.group(1)) * 3600 + int(dur.group(2)) * 60 + float(dur.group(3))
                if dur else frame_count / fps_v)
    return VideoInfo(width, height, fps_v, frame_count, duration, codec)


def work_size(info: VideoInfo, spec: str | None) -> tuple[int, int]:
    """Work resolution (W, H) from ``"WxH"`` or a long-side ``"N"`` (never upscales)."""
    if spec is None:
        spec = "512"
    spec = spec.strip().lower()
    if "x" in spec:
        try:
            return parse_size(spec)
        except ValueError:
            raise ValueError(f"work size {spec!r}: expected WxH or a number") from None
    try:
        long_side = int(spec)
    except ValueError:
        raise ValueError(f"work size {spec!r}: expected WxH or a number") from None
    scale = min(1.0, long_side / max(info.width, info.height))
    # Even sizes keep every later resize and H.264 export exact.
    w = max(2, int(round(info.width * scale / 2)) * 2)
    h = max(2, int(round(info.height * scale / 2)) * 2)
    return w, h


def decode_frames(
    path: Path, size: tuple[int, int], on_frame: Callable[[int], None] | None = None
) -> Iterator[np.ndarray]:
    """Yield every frame of the first video stream as (H, W, 3) uint8 RGB at ``size``.

    Raises InputError (after the frames it could decode) when ffmpeg reports a decoding
    error, so a truncated or corrupt file is never cached as if it were whole.
    """
    w, h = size
    stream = (
        ffmpeg.input(str(path))
        .video.filter("scale", w, h, flags="area")
        .output("pipe:", format="rawvideo", pix_fmt="rgb24", fps_mode="passthrough")
        .global_args("-hide_banner", "-nostdin", "-v", "error")
    )
    proc = subprocess.Popen(
        stream.compile(cmd=ffmpeg_exe()), stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    errors: list[bytes] = []
    drain = threading.Thread(target=lambda: errors.append(proc.stderr.read()), daemon=True)
    drain.start()
    nbytes = w * h * 3
    n = 0
    try:
        while True:
            buf = proc.stdout.read(nbytes)
            if not buf:
                break
            if len(buf) < nbytes:
                errors.append(b"incomplete last frame")
                break
            yield np.frombuffer(buf, np.uint8).reshape(h, w, 3)
            n += 1
            if on_frame:
                on_frame(n)
    finally:
        proc.stdout.close()
        rc = proc.wait()
        drain.join()
    err = b"".join(errors).decode(errors="replace").strip()
    if rc != 0 or err:
        raise InputError(
            path, f"corrupt or truncated video after {n} frames ({_last_error_line(err)})")


def read_all_frames(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """All frames as one (T, H, W, 3) array (tests and small clips)."""
    info = probe(path)
    return np.stack(list(decode_frames(path, size or (info.width, info.height))))
