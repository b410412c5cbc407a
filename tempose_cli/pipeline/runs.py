"""What the commands show about runs: one record per run, a fit with its evaluation."""

from __future__ import annotations

from sqlalchemy.orm import Session

from store.catalogue import evaluation_of, list_runs
from store.schema import Run
from tempose_cli.core.errors import NotFoundError
from tempose_cli.core.workspace import Workspace


def run_rows(session: Session, kind: str | None = None) -> list[dict]:
    """``tempose runs list``: every run (of ``kind``) as a row."""
    return [{"id": r.id, "kind": r.kind, "variant": r.variant, "profile": r.profile,
             "status": r.status, "step": r.step, "directory": r.directory,
             "perceptual": r.perceptual_weights, "created_at": r.created_at}
            for r in list_runs(session, kind)]


def train_record(session: Session, ws: Workspace, run_id: int) -> dict:
    """A training run as ``tempose train`` reports it."""
    run = session.get(Run, run_id)
    if run is None:
        raise NotFoundError(f"no run {run_id} (see: tempose runs list)")
    return {"run": run.id, "status": run.status, "step": run.step,
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
