"""Steps of the main job that skip themselves when the catalogue says they are done.

Shared by ``tempose demo`` and ``benchmarks/ablation.py``: generate dives, ingest them,
train a variant, extract its features, fit a regressor. Each ``ensure_*`` returns what
exists when an identical configuration already finished, so reruns are cheap.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from models.config import RunConfig
from store.schema import Evaluation, Export, Run
from tempose_cli.core.workspace import Workspace
from tempose_cli.learn.fitdata import FitOptions
from tempose_cli.synth.generate import SynthConfig

Tick = Callable[[int, int, str], None]  # (done, total, info)


def ensure_dives(sessions: sessionmaker[Session], ws: Workspace, cfg: SynthConfig,
                 tick: Tick | None = None, withhold_labels: Path | None = None) -> dict:
    """Generate the dives of ``cfg`` unless their files exist, then ingest them; with
    ``withhold_labels`` their label files are moved there first (catalogued unlabelled)."""
    from tempose_cli.pipeline.ingest import IngestOptions, discover, ingest_file
    from tempose_cli.synth.generate import default_jobs, generate, plan

    out = Path(cfg.out_dir)
    stems = [stem for stem, _, _ in plan(cfg)]
    generated = 0
    # A clip's sidecar is written last (after its labels, which may have been moved away).
    if not all((out / f"{s}.json").exists() for s in stems):
        done = [0]

        def on_clip(_: object) -> None:
            done[0] += 1
            if tick:
                tick(done[0], len(stems), "generating")

        generate(cfg, on_clip=on_clip, jobs=default_jobs())
        generated = len(stems)
    if withhold_labels is not None:
        withhold_labels.mkdir(parents=True, exist_ok=True)
        for stem in stems:
            lab = out / f"{stem}.pose.csv"
            if lab.exists():
                lab.replace(withhold_labels / lab.name)
    files, _ = discover([out])
    counts = {"ingested": 0, "catalogued": 0}
    for i, f in enumerate(files):
        counts[ingest_file(sessions, ws, f, IngestOptions()).status] += 1
        if tick:
            tick(i + 1, len(files), "ingesting")
    return {"generated": generated, "files": len(files), **counts}


def _config_of(run: Run) -> dict | None:
    try:
        return RunConfig.from_dict(run.config).to_dict()
    except (TypeError, ValueError, KeyError):  # a record of a config this code cannot read
        return None


def done_train_run(session: Session, cfg: RunConfig) -> Run | None:
    """The latest finished training run with exactly this configuration."""
    runs = session.scalars(select(Run).where(Run.kind == "train", Run.status == "done")
                           .order_by(Run.id)).all()
    # Read back through RunConfig, so an option added since (at its default) still matches.
    want = cfg.to_dict()
    same = [r for r in runs if r.config and _config_of(r) == want]
    return same[-1] if same else None


def ensure_train(sessions: sessionmaker[Session], ws: Workspace, cfg: RunConfig,
                 device: str = "auto",
                 progress: Callable[[int, int, int, dict], None] | None = None) -> tuple[int, bool]:
    """(run id, reused?) of a finished run of ``cfg``; trains one when none exists."""
    from tempose_cli.pipeline.train import train_command

    with sessions.begin() as s:
        run = done_train_run(s, cfg)
        if run is not None:
            return run.id, True
    run_id = train_command(sessions, ws, cfg=cfg, resume=None, steps=None, device_name=device,
                           clip_ids=None, perceptual_weights=None, log=lambda m: None,
                           progress=progress)
    return run_id, False


def ensure_features(sessions: sessionmaker[Session], ws: Workspace, run_id: int,
                    device: torch.device) -> int:
    """Extract the run's features for clips that have none yet; returns how many clips."""
    from store.catalogue import list_clips
    from tempose_cli.pipeline.extract import extract

    with sessions.begin() as s:
        have = set(s.scalars(select(Export.clip_id).where(Export.run_id == run_id,
                                                          Export.kind == "features")))
        missing = [c.id for c in list_clips(s) if c.id not in have]
    if missing:
        extract(sessions, ws, run_id, missing, device)
    return len(missing)


def done_fit(session: Session, run_id: int, opts: FitOptions) -> Run | None:
    """The latest finished fit of training run ``run_id`` with exactly these options."""
    fits = session.scalars(select(Run).where(Run.kind == "fit", Run.parent_id == run_id,
                                             Run.status == "done").order_by(Run.id)).all()
    # Read back through FitOptions, so an option added since (at its default) still matches.
    same = [f for f in fits if "options" in (f.config or {})
            and FitOptions.from_dict(f.config["options"]) == opts]
    return same[-1] if same else None


def ensure_fit(sessions: sessionmaker[Session], ws: Workspace, run_id: int, opts: FitOptions,
               device: torch.device, progress: Tick | None = None) -> tuple[int, bool]:
    """(fit id, reused?) of a finished fit with these options; fits one when none exists."""
    from tempose_cli.pipeline.fit import run_fit

    with sessions.begin() as s:
        fit = done_fit(s, run_id, opts)
        if fit is not None:
            return fit.id, True
    return run_fit(sessions, ws, run_id, opts, device, progress), False


def fit_result(session: Session, fit_id: int) -> dict:
    """A finished fit's test metrics (mm) and what its record says about training."""
    ev = session.scalars(select(Evaluation).where(Evaluation.run_id == fit_id)).one()
    cfg = session.get(Run, fit_id).config
    return {"fit": fit_id, "mpjpe": ev.mpjpe, "n_mpjpe": ev.n_mpjpe, "p_mpjpe": ev.p_mpjpe,
            "test_frames": ev.n_frames, "train_frames": cfg["labelled_frames"]["train"],
            "test": cfg["split"]["test"], "val_mpjpe": cfg.get("best_val_mpjpe_mm"),
            # best step 0: no regressor step beat the training mean pose on validation.
            "mean_pose": cfg.get("best_step") == 0}
