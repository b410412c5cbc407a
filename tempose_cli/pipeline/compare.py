"""``tempose runs compare``: fits side by side, variants x label fractions, one table per
split (the layout of the paper's Tables I and V), from the catalogue's evaluations."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.metrics import METRICS
from store.schema import Evaluation, Run
from tempose_cli.pipeline.ablation_names import FIT_CONTEXT, FIT_REGRESSOR, FIT_TRACK

BASELINES = {"random": "baseline: random encoder", "scratch": "baseline: from scratch"}


def row_label(run: Run, ev: Evaluation) -> str:
    """Variant, plus what sets the fit apart from the command's defaults: "ours
    (fine-tuned, resmlp, +2D)", "ours (mlp, context 0)" (a fit of before knn)."""
    d = ev.details or {}
    mode = d.get("mode", run.config.get("mode", "frozen"))
    extras = ["fine-tuned"] if mode == "finetune" else []
    end_to_end = mode in ("finetune", "scratch")
    default_regressor, default_context = ("mlp", 0) if end_to_end else (FIT_REGRESSOR,
                                                                         FIT_CONTEXT)
    if d.get("regressor", "mlp") != default_regressor:
        extras.append(d.get("regressor", "mlp"))
    if d.get("context", 0) != default_context:
        extras.append(f"context {d.get('context', 0)}")
    if d.get("regressor") == "knn" and not end_to_end and d.get("track", False) != FIT_TRACK:
        extras.append("track" if d.get("track") else "frame by frame")
    if d.get("with_2d"):
        extras.append("+2D")
    label = BASELINES.get(mode, run.variant or "?")
    return f"{label} ({', '.join(extras)})" if extras else label


def fraction_label(fraction: float) -> str:
    return f"{100 * fraction:.3g}%"


def compare(session: Session, metric: str = "n_mpjpe", split: str | None = None) -> list[dict]:
    """[{split, metric, fractions (descending), rows: [{label, cells, fits}]}].

    ``cells`` maps ``fraction_label`` to the metric in mm; where several fits share a
    cell the latest one is shown (``fits`` names it).
    """
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r} ({'|'.join(METRICS)})")
    q = (select(Evaluation, Run).join(Run, Evaluation.run_id == Run.id)
         .where(Run.kind == "fit").order_by(Evaluation.id))
    if split:
        q = q.where(Evaluation.split == split)
    tables: dict[str, dict] = {}
    for ev, run in session.execute(q):
        if ev.fraction is None:
            continue
        t = tables.setdefault(ev.split, {"fractions": set(), "rows": {}})
        t["fractions"].add(ev.fraction)
        row = t["rows"].setdefault(row_label(run, ev), {"cells": {}, "fits": {}})
        key = fraction_label(ev.fraction)
        row["cells"][key] = getattr(ev, metric)
        row["fits"][key] = run.id
    out = []
    for name in sorted(tables):
        t = tables[name]
        fractions = sorted(t["fractions"], reverse=True)
        out.append({"split": name, "metric": metric,
                    "fractions": [fraction_label(f) for f in fractions],
                    "rows": [{"label": label, **row} for label, row in sorted(t["rows"].items())]})
    return out
