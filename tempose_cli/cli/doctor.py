"""``tempose doctor``: check that the installation works on this machine."""

from __future__ import annotations

import platform
import subprocess

import typer

import tempose_cli
from tempose_cli.cli.context import app, state


@app.command()
def doctor(ctx: typer.Context) -> None:
    """Check the installation: ffmpeg, torch (and CUDA), OpenCV, pybullet, the catalogue.

    Example: tempose doctor
    """
    st = state(ctx)
    checks: dict[str, str] = {"tempose": tempose_cli.__version__,
                              "python": platform.python_version()}
    ok = True

    def check(name: str, fn) -> None:  # noqa: ANN001
        nonlocal ok
        try:
            checks[name] = fn()
        except Exception as e:  # noqa: BLE001 - every failure is reported, none raised
            checks[name] = f"MISSING: {e}"
            ok = False

    def ffmpeg_version() -> str:
        from tempose_cli.core.ffmpeg import ffmpeg_exe

        out = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True, check=True)
        return out.stdout.split(" Copyright", 1)[0] + f" ({ffmpeg_exe()})"

    def torch_version() -> str:
        import torch

        cuda = f"CUDA {torch.version.cuda}, {torch.cuda.device_count()} GPU(s)" \
            if torch.cuda.is_available() else "CPU only"
        return f"{torch.__version__} ({cuda})"

    def pybullet_version() -> str:
        import pybullet_data

        return f"pybullet_data at {pybullet_data.getDataPath()}"

    def catalogue() -> str:
        from store.db import backend_description, head_revision, safe_url

        engine = st.sessions().kw["bind"]
        return (f"{safe_url(st.workspace.url)} ({backend_description(engine)}, "
                f"schema {head_revision()})")

    check("ffmpeg", ffmpeg_version)
    check("torch", torch_version)
    check("opencv", lambda: __import__("cv2").__version__)
    check("pybullet (extra synth)", pybullet_version)
    check("catalogue", catalogue)
    if st.json:
        st.emit({"ok": ok, **checks})
    else:
        for k, v in checks.items():
            st.console.print(f"{k:>24}: {'[red]' if v.startswith('MISSING') else ''}{v}")
    if not ok:
        raise typer.Exit(1)
