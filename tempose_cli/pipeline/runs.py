"""What the commands show about runs: one record per run, a fit with its evaluation."""

from __future__ import annotations

import os
import socket
import time
from collections.abc import Callable
from datetime import datetime

from sqlalchemy.orm import Session, sessionmaker

from store.catalogue import evaluation_of, list_runs
from store.files import process_alive
from store.schema import Run, utcnow
from tempose_cli.core.errors import NotFoundError
from tempose_cli.core.workspace import Workspace


def run_rows(session: Session, kind: str | None = None) -> list[dict]:
    """``tempose runs list``: every run (of ``kind``) as a row."""
    return [{"id": r.id, "kind": r.kind, "variant": r.variant, "profile": r.profile,
             "status": effective_status(r), "step": r.step, "directory": r.directory,
             "perceptual": r.perceptual_weights, "created_at": r.created_at}
            for r in list_runs(session, kind)]


def train_record(session: Session, ws: Workspace, run_id: int) -> dict:
    """A training run as ``tempose train`` reports it."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFoundError(f"no run {run_id} (see: tempose runs list)")
    return {"run": run.id, "status": effective_status(run), "step": run.step,
            "directory": str(ws.abs(run.directory)),
            "checkpoint": run.checkpoint_path, "perceptual": run.perceptual_weights}


def fit_record(session: Session, ws: Workspace, fit_id: int) -> dict:
    """A fit with its test metrics as ``tempose fit`` / ``evaluate`` report it."""
    run = session.get(Run, fit_id)
    ev = evaluation_of(session, fit_id)
    return {"fit": fit_id, "train_run": run.parent_id, "variant": run.variant,
            "directory": str(ws.abs(run.directory)),
            "split": ev.split, "fraction": ev.fraction, "every": run.config["every"],
            "mode": run.config["mode"], "labelled_frames": run.config["labelled_frames"],
            "mpjpe": ev.mpjpe, "n_mpjpe": ev.n_mpjpe, "p_mpjpe": ev.p_mpjpe,
            "n_frames": ev.n_frames, "per_joint": ev.details["per_joint"],
            "per_clip": ev.details["per_clip"],
            "best_step": run.config.get("best_step"),
            "best_val_mpjpe_mm": run.config.get("best_val_mpjpe_mm")}


# A running run's process writes a heartbeat at most this often; with none for STALE_S
# (another host, or a pid reused) the run is taken as interrupted.
HEARTBEAT_S = 5.0
STALE_S = 600.0



def effective_status(run: Run, now: datetime | None = None) -> str:
    """``run.status``, except "interrupted" for a running run whose process is gone: its
    pid is dead on this host, or its heartbeat is older than STALE_S."""
    if run.status != "running" or run.pid is None:
        return run.status
    if run.host == socket.gethostname() and not process_alive(run.pid):
        return "interrupted"
    beat = run.heartbeat_at or run.created_at
    if beat is not None and ((now or utcnow()) - beat).total_seconds() > STALE_S:
        return "interrupted"
    return run.status


def claim(session: Session, run: Run) -> None:
    """Record this process as the one training ``run``."""
    run.pid, run.host, run.heartbeat_at = os.getpid(), socket.gethostname(), utcnow()


def with_heartbeat(sessions: sessionmaker[Session], run_id: int,
                   progress: Callable[..., None] | None) -> Callable[..., None]:
    """``progress`` that also writes the run's heartbeat (at most every HEARTBEAT_S)."""
    last = time.monotonic()

    def beat(*args: object) -> None:
        nonlocal last
        if time.monotonic() - last >= HEARTBEAT_S:
            last = time.monotonic()
            with sessions.begin() as s:
                run = s.get(Run, run_id)
                run.heartbeat_at, run.step = utcnow(), int(args[0]) if args else run.step
        if progress is not None:
            progress(*args)

    return beat
