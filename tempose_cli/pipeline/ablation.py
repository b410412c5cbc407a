"""``tempose ablation``: the paper's Table V / Fig. 8 on the catalogued labelled clips.

Every requested variant is trained with the cpu profile (or reused: the catalogue
keeps finished runs of an identical configuration), its features are extracted and
the same regressor (by default knn on 2 frames either side; ``--regressor mlp --context
0``: the paper's) is fitted on the same split at each label fraction. The baselines:

- ``mean``: the mean pose of the training frames of that split and fraction, predicted
  for every test frame (computed here, no training): the floor every row must beat;
- ``random``: a frozen, randomly initialised encoder with the same regressor;
- ``scratch``: that encoder trained end to end on the same labelled frames only.

``random`` and ``scratch`` crop with a trained detector (``tempose_cli/finetune.py``),
borrowed from the ``ours`` run, or the first requested variant with one. Rows come
out as dicts (``ROW_KEYS``) and go to ``ablation.csv``, ``ablation.md`` and
``ablation.png`` (N-MPJPE against the label fraction, log x axis).
"""

from __future__ import annotations

import csv
import io
import math
import platform
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from models.metrics import METRICS
from models.variants import get_variant
from store.files import write_atomic
from tempose_cli.core.errors import TemposeError
from tempose_cli.learn.splits import SPLITS, every_from
from tempose_cli.pipeline.ablation_names import (
    BASELINES,
    FIT_CONTEXT,
    FIT_REGRESSOR,
    FIT_TRACK,
    METRIC_NAMES,
    REGRESSOR_NAMES,
    REGRESSORS,
    TABLE_V,
)

if TYPE_CHECKING:
    import torch
    from sqlalchemy.orm import Session, sessionmaker

    from models.config import RunConfig
    from tempose_cli.core.workspace import Workspace
    from tempose_cli.learn.fitdata import FitOptions

ROW_KEYS = ("row", "kind", "fraction", "every", "train_frames", "test_frames", "mpjpe",
            "n_mpjpe", "p_mpjpe", "fit", "run", "mean_pose_kept", "detector_from", "regressor",
            "context", "track", "repeat")
# Repeat r of a variant trains with seed + REPEAT_SEED_STRIDE * r (the split and the fits
# keep the seed), so repeat 0 is the run a plain ablation trains and reuses.
REPEAT_SEED_STRIDE = 1000
MM = 1000.0  # labels are metres, metrics millimetres (as tempose_cli/evaluate.py)

Say = Callable[[str], None]
# (job, e.g. "3/12 ours: fit at fraction 0.2", steps done, steps in all or None, info)
Progress = Callable[[str, int, "int | None", str], None]


def parse_names(text: str, known: Sequence[str], what: str) -> list[str]:
    """``a,b,c`` -> names in the given order (duplicates dropped); unknown ones refused."""
    names = list(dict.fromkeys(n.strip() for n in text.split(",") if n.strip()))
    bad = [n for n in names if n not in known]
    if bad:
        raise TemposeError(f"unknown {what} {bad[0]!r} (known: {', '.join(known)})")
    return names


def parse_fractions(text: str) -> list[float]:
    """``1,0.2,0.05`` -> fractions in (0, 1], each as the K of every K-th frame keeps it."""
    out: list[float] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            continue
        try:
            f = float(part)
        except ValueError:
            raise TemposeError(f"--fractions: {part!r} is not a number") from None
        if not 0 < f <= 1:
            raise TemposeError(f"--fractions: {part} is outside (0, 1]")
        out.append(f)
    if not out:
        raise TemposeError("--fractions: give at least one label fraction in (0, 1]")
    return out


def detector_variant(variants: Sequence[str]) -> str | None:
    """Whose detector the random / scratch baselines crop with: ``ours``, else the first
    requested variant that has a detector (None: no such variant)."""
    if "ours" in variants:
        return "ours"
    return next((v for v in variants if get_variant(v).stn), None)


@dataclass(frozen=True)
class Request:
    """A checked ablation request (nothing trained yet)."""

    variants: tuple[str, ...]
    baselines: tuple[str, ...]
    everies: tuple[int, ...]  # K of each label fraction (1 / K is the fraction used)
    split: str
    steps: int | None
    seed: int
    sport: str
    fit_steps: int
    hidden: int | None
    regressor: str = "mlp"
    context: int = 0
    track: bool = False  # knn: each clip as a track (FitOptions.track)
    train_set: tuple[tuple[str, object], ...] = ()  # TrainConfig overrides of every variant
    repeats: int = 1  # trainings of each variant, seeds seed + REPEAT_SEED_STRIDE * r
    model_set: tuple[tuple[str, object], ...] = ()  # ModelConfig overrides of every variant

    @property
    def detector_from(self) -> str | None:
        return detector_variant(self.variants)


def make_request(variants: Sequence[str], baselines: Sequence[str], fractions: Sequence[float],
                 split: str, steps: int | None, seed: int, sport: str = "dive",
                 fit_steps: int = 2000, hidden: int | None = None,
                 regressor: str = FIT_REGRESSOR, context: int = FIT_CONTEXT,
                 track: bool = FIT_TRACK, train_set: Sequence[str] = (),
                 repeats: int = 1, model_set: Sequence[str] = ()) -> Request:
    """Validate everything that can be checked before any work (one-line errors)."""
    bad = [v for v in variants if v not in TABLE_V]
    if bad:
        raise TemposeError(f"unknown variant {bad[0]!r} (known: {', '.join(TABLE_V)})")
    bad = [b for b in baselines if b not in BASELINES]
    if bad:
        raise TemposeError(f"unknown baseline {bad[0]!r} (known: {', '.join(BASELINES)})")
    if split not in SPLITS:
        raise TemposeError(f"unknown split {split!r} ({'|'.join(SPLITS)})")
    if regressor not in REGRESSORS:
        raise TemposeError(f"unknown regressor {regressor!r} ({'|'.join(REGRESSORS)})")
    if context < 0:
        raise TemposeError(f"--context must be >= 0, got {context}")
    if not variants and not baselines:
        raise TemposeError("nothing to compare: give --variants or --baselines")
    everies = []
    for f in fractions:
        try:
            k = every_from(fraction=f)
        except ValueError as e:
            raise TemposeError(str(e).replace("--fraction", "fraction")) from None
        if k not in everies:
            everies.append(k)
    if not everies:
        raise TemposeError("give at least one label fraction in (0, 1]")
    if steps is not None and steps < 1:
        raise TemposeError(f"--steps must be >= 1, got {steps}")
    if fit_steps < 0:
        raise TemposeError(f"--fit-steps must be >= 0, got {fit_steps}")
    if repeats < 1:
        raise TemposeError(f"--repeats must be >= 1, got {repeats}")
    req = Request(tuple(variants), tuple(baselines), tuple(everies), split, steps, seed, sport,
                  fit_steps, hidden, regressor, context, track and regressor == "knn",
                  parse_train_set(train_set), repeats, parse_model_set(model_set))
    if {"random", "scratch"} & set(baselines) and req.detector_from is None:
        raise TemposeError("the random and scratch baselines crop with a trained detector: "
                           "add a variant with one to --variants (e.g. ours)")
    return req


# What the ablation itself sets per row; --set may not change them.
_OWNED = ("variant", "sport", "steps", "seed")


def parse_train_set(items: Sequence[str]) -> tuple[tuple[str, object], ...]:
    """``KEY=VALUE`` TrainConfig overrides (research: a candidate measured against the
    defaults in another home or output folder); the value takes the type of the field's
    default. One-line errors for unknown keys, the ablation's own keys, bad values."""
    from models.config import TrainConfig

    return _parse_overrides(TrainConfig, items, "--set", "w_contrastive=0.3")


def parse_model_set(items: Sequence[str]) -> tuple[tuple[str, object], ...]:
    """``KEY=VALUE`` ModelConfig overrides of the cpu profile's networks, as --set."""
    from models.config import ModelConfig

    return _parse_overrides(ModelConfig, items, "--model", "ti_pool=avg")


def _parse_overrides(kind: type, items: Sequence[str], flag: str,
                     example: str) -> tuple[tuple[str, object], ...]:
    """The typed, sorted overrides; the config built with them must be valid."""
    import ast
    from dataclasses import fields

    defaults = {f.name: getattr(kind(), f.name) for f in fields(kind)}
    out: dict[str, object] = {}
    for item in items:
        key, eq, text = item.partition("=")
        key = key.strip().replace("-", "_")
        if not eq or key not in defaults:
            raise TemposeError(f"{flag} {item!r}: expected KEY=VALUE with KEY a "
                               f"{kind.__name__} field (e.g. {example})")
        if key in _OWNED:
            raise TemposeError(f"{flag} {key}: the ablation sets it (use --steps / --seed, "
                               f"or the variant's name)")
        value_kind = type(defaults[key])
        try:
            value = ast.literal_eval(text) if value_kind is not str else text
            if value_kind is bool and not isinstance(value, bool):
                raise ValueError
            out[key] = value_kind(value)
        except (ValueError, SyntaxError, TypeError):
            raise TemposeError(f"{flag} {item!r}: {key} takes a {value_kind.__name__}") from None
    try:
        kind(**out)
    except ValueError as e:
        raise TemposeError(f"{flag}: {e}") from None
    return tuple(sorted(out.items()))


def train_config(variant: str, sport: str, steps: int | None, seed: int,
                 train_set: Sequence[tuple[str, object]] = (),
                 model_set: Sequence[tuple[str, object]] = ()) -> RunConfig:
    """The cpu profile's config of ``variant``; ``steps`` N keeps the profile's stage-1
    share (dives: round(N * default stage1_steps / default steps) gravity steps) unless
    ``train_set`` names stage1_steps;
    ``train_set``: TrainConfig overrides (``parse_train_set``); ``model_set``:
    ModelConfig overrides (``parse_model_set``)."""
    from models.config import TrainConfig
    from tempose_cli.pipeline.train import run_config

    over: dict = {**dict(train_set), "seed": seed}
    if steps is not None:
        base = TrainConfig.for_sport(sport)
        over.setdefault("stage1_steps", round(steps * base.stage1_steps / base.steps))
        over["steps"] = steps
    cfg = run_config("cpu", variant, sport, over)
    if model_set:
        cfg = replace(cfg, model=replace(cfg.model, **dict(model_set)))
    return cfg


def fit_options(req: Request, every: int, mode: str) -> FitOptions:
    """The fit of one row and fraction. ``scratch`` trains its encoder one frame at a time
    through the regressor, so it keeps the paper's MLP (knn has no gradient) on the frame
    alone (no --context)."""
    from tempose_cli.learn.fitdata import FitOptions

    scratch = mode == "scratch"
    regressor = "mlp" if scratch and req.regressor == "knn" else req.regressor
    return FitOptions(split=req.split, every=every, mode=mode, seed=req.seed, sport=req.sport,
                      steps=req.fit_steps, hidden=req.hidden, regressor=regressor,
                      context=0 if scratch else req.context,
                      track=req.track and regressor == "knn")


def mean_pose_row(sessions: sessionmaker[Session], ws: Workspace, opts: FitOptions) -> dict:
    """Metrics (mm) of predicting the training mean pose for every test frame: the split
    and labelled frames a fit with ``opts`` uses, the mean over its training frames."""
    from tempose_cli.learn.fitdata import clip_sources, labelled_clips, split_for
    from tempose_cli.pipeline.evaluate import side_frames

    with sessions.begin() as s:
        clips = labelled_clips(s, opts.sport)
        split = split_for(clips, opts)
        wanted = set(split.train + split.test)
        by_id = {src.clip_id: src for src in clip_sources(s, ws, [c for c in clips
                                                                  if c.id in wanted])}

    def rows(ids: list[int], every: int) -> np.ndarray:
        srcs = [by_id[i] for i in ids]
        frames = side_frames(srcs, opts, every)
        ys = [src.targets()[frames[src.clip_id]] for src in srcs]
        return np.concatenate(ys) if ys else np.zeros((0, 14, 3))

    train, test = rows(split.train, opts.every), rows(split.test, 1)
    if not len(train) or not len(test):
        side = "training" if not len(train) else "test"
        raise TemposeError(f"no labelled frames on the {side} side of the split")
    pred = np.broadcast_to(train.mean(0), test.shape)  # (N, 14, 3) metres
    metrics = {k: float(fn(pred * MM, test * MM)) for k, fn in METRICS.items()}
    return {"train_frames": int(len(train)), "test_frames": int(len(test)), **metrics}


def check_data(sessions: sessionmaker[Session], req: Request) -> None:
    """Labelled clips of the sport exist and the split can be made (before any training)."""
    from tempose_cli.learn.fitdata import labelled_clips, split_for

    with sessions.begin() as s:
        split_for(labelled_clips(s, req.sport), fit_options(req, 1, "frozen"))


def run_ablation(sessions: sessionmaker[Session], ws: Workspace, *, variants: Sequence[str],
                 baselines: Sequence[str], fractions: Sequence[float], split: str = "diver",
                 steps: int | None = None, seed: int = 0,
                 device: str | torch.device = "auto", say: Say = lambda m: None,
                 sport: str = "dive", fit_steps: int = 2000, hidden: int | None = None,
                 regressor: str = FIT_REGRESSOR, context: int = FIT_CONTEXT,
                 track: bool = FIT_TRACK, progress: Progress | None = None,
                 train_set: Sequence[str] = (), repeats: int = 1,
                 model_set: Sequence[str] = ()) -> list[dict]:
    """Train (or reuse), extract, fit and evaluate every row; returns one dict per row,
    label fraction and repeat (``repeats`` trainings of each variant, to tell its
    training noise from a difference between variants), variants first, then baselines,
    in the order asked. The baselines that crop with a detector take repeat 0's."""
    from tempose_cli.learn.device import resolve_device
    from tempose_cli.pipeline.chain import ensure_features, ensure_fit, ensure_train, fit_result

    req = make_request(variants, baselines, fractions, split, steps, seed, sport, fit_steps,
                       hidden, regressor, context, track, train_set, repeats, model_set)
    check_data(sessions, req)
    dev = device if not isinstance(device, str) else resolve_device(device)
    device_name = str(dev) if not isinstance(device, str) else device
    n_fr = len(req.everies)
    total = len(req.variants) * req.repeats * (1 + n_fr) + len(req.baselines) * n_fr
    done = [0]
    tick = progress or (lambda job, i, n, info: None)

    def job(text: str) -> str:
        done[0] += 1
        return f"{done[0]}/{total} {text}"

    rows: list[dict] = []
    runs: dict[str, int] = {}

    def fits(name: str, kind: str, run_id: int, mode: str, detector: str | None,
             repeat: int = 0) -> None:
        tag = f" (repeat {repeat})" if repeat else ""
        for every in req.everies:
            opts = fit_options(req, every, mode)
            label = job(f"{name}{tag}: fit at fraction {opts.fraction:.3g}")
            tick(label, 0, opts.steps, "")
            fit_id, reused = ensure_fit(sessions, ws, run_id, opts, dev,
                                        lambda i, n, info, label=label: tick(label, i, n, info))
            with sessions.begin() as s:
                res = fit_result(s, fit_id)
            rows.append(_row(name, kind, opts, res, fit_id, run_id, res["mean_pose"], detector,
                             repeat))
            say(f"{name}{tag} fraction {opts.fraction:.3g}: fit {fit_id}"
                f"{' (reused)' if reused else ''} N-MPJPE {res['n_mpjpe']:.1f} mm"
                f"{' (kept the mean pose)' if res['mean_pose'] else ''}")

    for variant in req.variants:
        for repeat in range(req.repeats):
            tag = f" (repeat {repeat})" if repeat else ""
            cfg = train_config(variant, req.sport, req.steps,
                               req.seed + REPEAT_SEED_STRIDE * repeat, req.train_set,
                               req.model_set)
            label = job(f"{variant}{tag}: training")
            tick(label, 0, cfg.train.steps, "")
            t0 = time.perf_counter()
            run_id, reused = ensure_train(
                sessions, ws, cfg, device_name,
                lambda i, n, stage, terms, label=label: tick(
                    label, i, n, f"stage {stage} recon={terms.get('recon', 0):.4f}"))
            runs.setdefault(variant, run_id)
            say(f"{variant}{tag}: run {run_id} " + (
                "reused" if reused else
                f"trained {cfg.train.steps} steps in {time.perf_counter() - t0:.0f} s"))
            tick(label, cfg.train.steps, cfg.train.steps, "extracting features")
            ensure_features(sessions, ws, run_id, dev)
            fits(variant, "variant", run_id, "frozen", None, repeat)

    detector = req.detector_from
    for baseline in req.baselines:
        if baseline == "mean":
            for every in req.everies:
                opts = fit_options(req, every, "frozen")
                tick(job(f"mean: training mean pose at fraction {opts.fraction:.3g}"), 0, None,
                     "")
                res = mean_pose_row(sessions, ws, opts)
                rows.append(_row("mean", "baseline", opts, res, None, None, None, None))
                say(f"mean fraction {opts.fraction:.3g}: N-MPJPE {res['n_mpjpe']:.1f} mm")
            continue
        assert detector is not None
        say(f"{baseline}: crops with the detector of {detector} (run {runs[detector]})")
        fits(baseline, "baseline", runs[detector], baseline, detector)
    return rows


def _row(name: str, kind: str, opts: FitOptions, res: dict, fit_id: int | None,
         run_id: int | None, kept: bool | None, detector: str | None,
         repeat: int = 0) -> dict:
    return {"row": name, "kind": kind, "fraction": opts.fraction, "every": opts.every,
            "train_frames": res["train_frames"], "test_frames": res["test_frames"],
            "mpjpe": res["mpjpe"], "n_mpjpe": res["n_mpjpe"], "p_mpjpe": res["p_mpjpe"],
            "fit": fit_id, "run": run_id, "mean_pose_kept": kept, "detector_from": detector,
            "regressor": opts.regressor if fit_id is not None else None,
            "context": opts.context if fit_id is not None else None,
            "track": opts.track if fit_id is not None else None, "repeat": repeat}


# ---------------------------------------------------------------------------- outputs

def summarise(rows: list[dict]) -> list[dict]:
    """One row per row name and fraction: the metrics' mean over its repeats, with
    ``<metric>_sd`` (sample standard deviation; None for one repeat), ``repeats`` (how
    many) and ``mean_pose_kept`` if any repeat kept it. Order as first seen."""
    groups: dict[tuple[str, float], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["row"], r["fraction"]), []).append(r)
    out = []
    for group in groups.values():
        first = group[0]
        agg = {**first, "repeats": len(group),
               "mean_pose_kept": any(r["mean_pose_kept"] for r in group)
               if first["mean_pose_kept"] is not None else None}
        for m in METRICS:
            v = np.array([r[m] for r in group], float)
            agg[m] = float(v.mean())
            agg[f"{m}_sd"] = float(v.std(ddof=1)) if len(v) > 1 else None
        out.append(agg)
    return out


def pooled_noise(rows: list[dict], metric: str = "n_mpjpe") -> dict[float, tuple[float, int]]:
    """Training noise per fraction: the pooled sample standard deviation of ``metric``
    over the repeats of every variant trained more than once, and its degrees of
    freedom (sum of n - 1). Pooled because two or three repeats give one variant's
    spread too loosely; it assumes the variants are about as noisy as each other."""
    groups: dict[tuple[str, float], list[float]] = {}
    for r in rows:
        if r["kind"] == "variant":
            groups.setdefault((r["row"], r["fraction"]), []).append(r[metric])
    ss: dict[float, float] = {}
    df: dict[float, int] = {}
    for (_, f), v in groups.items():
        if len(v) > 1:
            ss[f] = ss.get(f, 0.0) + float(((np.array(v) - np.mean(v)) ** 2).sum())
            df[f] = df.get(f, 0) + len(v) - 1
    return {f: (math.sqrt(ss[f] / df[f]), df[f]) for f in ss}


def gaps_to_ours(rows: list[dict], metric: str = "n_mpjpe"
                 ) -> dict[tuple[str, float], tuple[float, float]]:
    """(row, fraction) -> (mean of ``metric`` - ``ours``' mean, that gap over its
    standard error from ``pooled_noise``), for every variant other than ``ours`` at a
    fraction where the noise could be pooled."""
    noise = pooled_noise(rows, metric)
    means = {(r["row"], r["fraction"]): r for r in summarise(rows)}
    out = {}
    for (name, f), r in means.items():
        ours = means.get(("ours", f))
        if name == "ours" or r["kind"] != "variant" or ours is None or f not in noise:
            continue
        se = noise[f][0] * math.sqrt(1 / r["repeats"] + 1 / ours["repeats"])
        gap = r[metric] - ours[metric]
        out[(name, f)] = (gap, gap / se if se > 0 else math.copysign(math.inf, gap))
    return out


def with_ratios(rows: list[dict]) -> list[dict]:
    """Each row plus ``<metric>_vs_ours`` and ``<metric>_vs_mean`` at its fraction
    (None where that row is absent); against the mean over repeats where there are
    several."""
    means = summarise(rows)
    ref = {name: {r["fraction"]: r for r in means if r["row"] == name}
           for name in ("ours", "mean")}
    out = []
    for r in rows:
        extra = {}
        for name in ("ours", "mean"):
            base = ref[name].get(r["fraction"])
            for m in METRICS:
                extra[f"{m}_vs_{name}"] = (r[m] / base[m] if base and base[m] else None)
        out.append({**r, **extra})
    return out


def _fmt(v: object, spec: str = ".2f") -> str:
    if v is None:
        return ""
    if isinstance(v, bool):
        return str(int(v))
    if isinstance(v, float):
        return format(v, spec)
    return str(v)


def csv_text(rows: list[dict]) -> str:
    rows = with_ratios(rows)
    cols = [*ROW_KEYS, *(f"{m}_vs_{n}" for n in ("ours", "mean") for m in METRICS)]
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(cols)
    for r in rows:
        w.writerow([_fmt(r.get(c), ".4g" if c == "fraction" else
                         ".3f" if "_vs_" in c else ".2f") for c in cols])
    return buf.getvalue()


CSV_INTS = ("every", "train_frames", "test_frames", "fit", "run", "context", "repeat")
CSV_FLOATS = ("fraction", "mpjpe", "n_mpjpe", "p_mpjpe")


def parse_csv_row(raw: dict[str, str]) -> dict:
    """A row of ``csv_text`` back into the types ``run_ablation`` made it from (files
    from before ``--repeats`` read as repeat 0)."""
    row: dict = {}
    for k in ROW_KEYS:
        v = raw.get(k, "")
        if k in CSV_INTS:
            row[k] = int(v) if v else None
        elif k in CSV_FLOATS:
            row[k] = float(v)
        elif k in ("mean_pose_kept", "track"):
            row[k] = bool(int(v)) if v else None
        else:
            row[k] = v or None
    row["repeat"] = row["repeat"] or 0
    return row


def read_csv(path: Path) -> list[dict]:
    """The rows of an ``ablation.csv``."""
    with path.open(newline="") as f:
        return [parse_csv_row(raw) for raw in csv.DictReader(f)]


@dataclass
class Meta:
    """What the Markdown states besides the numbers."""

    command: str
    seconds: float
    split: str = "diver"
    steps: int | None = None
    device: str = "cpu"
    sport: str = "dive"
    regressor: str = "mlp"
    context: int = 0
    track: bool = False

    def machine(self) -> str:
        import torch

        cpu = platform.processor() or platform.machine()
        return (f"{platform.system()} {cpu}, torch threads: {torch.get_num_threads()}, "
                f"device: {self.device}")


def markdown(rows: list[dict], meta: Meta) -> str:
    repeated = max((r.get("repeat") or 0 for r in rows), default=0) > 0
    noise, gaps = pooled_noise(rows), gaps_to_ours(rows)
    rows = with_ratios(summarise(rows))
    names = list(dict.fromkeys(r["row"] for r in rows))
    fracs = sorted({r["fraction"] for r in rows}, reverse=True)
    cell = {(r["row"], r["fraction"]): r for r in rows}
    detector = next((r["detector_from"] for r in rows if r["detector_from"]), None)
    has_ours = any(r["row"] == "ours" for r in rows)
    steps = f"{meta.steps} steps" if meta.steps else "the profile's default steps"
    lines = [
        f"# Ablation ({meta.sport}, {meta.split}-split)", "",
        f"- command: `{meta.command}`",
        f"- machine: {meta.machine()}",
        f"- time: {meta.seconds / 60:.1f} min (reused runs and fits are not retrained)",
        f"- self-supervised training: cpu profile, {steps} per variant; regressor: "
        f"{REGRESSOR_NAMES[meta.regressor]}"
        + (f", on each frame's features and those {meta.context} frames before and after"
           if meta.context else "")
        + (", each clip read as a track (the pose change between frames weighed in)"
           if meta.track else "")
        + (" (`scratch`: the MLP on the frame alone, trained end to end)"
           if meta.regressor == "knn" or meta.context else ""),
    ]
    if detector:
        lines.append(f"- `random` and `scratch` crop with the detector of the `{detector}` run")
    if repeated:
        n = {r["row"]: r["repeats"] for r in rows if r["kind"] == "variant"}
        lines.append("- repeats: each variant trained with seeds seed + "
                     f"{REPEAT_SEED_STRIDE} r (the split and fits keep the seed); a cell "
                     "is the mean over the repeats ± their sample standard deviation ("
                     + ", ".join(f"{k}: {v}" for k, v in n.items()) + ")")
    lines.append("")
    for m in METRICS:
        ratio = " (ratio to `ours`)" if has_ours else ""
        lines += [f"## {METRIC_NAMES[m]} (mm){ratio}", "",
                  "| row | " + " | ".join(f"fraction {f:.3g}" for f in fracs) + " |",
                  "|---|" + "---:|" * len(fracs)]
        for name in names:
            cells = []
            for f in fracs:
                r = cell.get((name, f))
                if r is None:
                    cells.append("")
                    continue
                text = f"{r[m]:.1f}" + ("*" if r["mean_pose_kept"] else "")
                if r[f"{m}_sd"] is not None:
                    text += f" ± {r[f'{m}_sd']:.1f}"
                if r[f"{m}_vs_ours"] is not None:
                    text += f" ({r[f'{m}_vs_ours']:.2f})"
                cells.append(text)
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
        lines.append("")
    if gaps:
        lines += ["## N-MPJPE against `ours`, in units of the training noise", "",
                  "Each variant's mean less `ours`' mean (mm; negative: below `ours`), and "
                  "that gap over its standard error from the training noise pooled over "
                  "every repeated variant at the fraction (|gap / se| under 2: not told "
                  "apart from the noise).", "",
                  "| row | " + " | ".join(f"fraction {f:.3g}" for f in fracs) + " |",
                  "|---|" + "---:|" * len(fracs)]
        for name in names:
            if any((name, f) in gaps for f in fracs):
                lines.append(f"| {name} | " + " | ".join(
                    f"{gaps[name, f][0]:+.1f} ({gaps[name, f][1]:+.1f} se)"
                    if (name, f) in gaps else "" for f in fracs) + " |")
        lines += ["| training noise (pooled sd, df) | " + " | ".join(
            f"{noise[f][0]:.1f} ({noise[f][1]})" if f in noise else "" for f in fracs) + " |",
            ""]
    frames = {f: (cell.get(("mean", f)) or next(r for r in rows if r["fraction"] == f))
              for f in fracs}
    lines.append("Labelled frames (train / test): " + ", ".join(
        f"fraction {f:.3g}: {frames[f]['train_frames']} / {frames[f]['test_frames']}"
        for f in fracs) + ".")
    legend = "`mean`: the training frames' mean pose predicted for every test frame."
    if any(r.get("mean_pose_kept") for r in rows):  # the footnote only where a cell has its *
        legend += (" \\* the fit's model selection kept the untrained regressor (no step beat "
                   "the training mean pose on the validation clips), so the cell is the mean pose.")
    lines += ["", legend, ""]
    return "\n".join(lines)


BASELINE_COLOURS = {"mean": (30, 30, 30), "random": (127, 127, 127), "scratch": (188, 189, 34)}


def log_ticks(lo: float, hi: float) -> list[tuple[float, str]]:
    """(log10 x, label) ticks at 1, 2, 5 x 10^k enclosing [lo, hi], at least two."""
    cands = [m * 10.0**k for k in range(-7, 1) for m in (1, 2, 5)]  # ascending
    a = max((v for v in cands if v <= lo * 1.0001), default=cands[0])
    b = min((v for v in cands if v >= hi / 1.0001), default=cands[-1])
    if a >= b:  # one fraction: a tick below it too
        a = max((v for v in cands if v < b), default=cands[0])
    return [(math.log10(v), f"{v:g}") for v in cands if a <= v <= b]


def plot(rows: list[dict], meta: Meta) -> np.ndarray:
    """(H, W, 3) RGB: N-MPJPE against the label fraction (log x), one line per row."""
    from tempose_cli.media.plots import PALETTE, Series, line_plot

    rows = summarise(rows)
    series = []
    names = list(dict.fromkeys(r["row"] for r in rows))
    n_variant = 0
    for name in names:
        pts = sorted((r["fraction"], r["n_mpjpe"]) for r in rows if r["row"] == name)
        baseline = name in BASELINES
        colour = BASELINE_COLOURS[name] if baseline else PALETTE[n_variant % len(PALETTE)]
        n_variant += not baseline
        x, y = np.log10([p[0] for p in pts]), np.array([p[1] for p in pts], float)
        if baseline and len(x) > 1:
            # plots.py dashes every other segment: many short ones make a dashed line,
            # and the measured points get their markers from a series of points alone.
            xd = np.linspace(x[0], x[-1], 60 * len(x))
            series.append(Series(xd, np.interp(xd, x, y), name, colour, dashed=True))
            series.append(Series(_with_gaps(x), _with_gaps(y), "", colour, markers=True))
            continue
        series.append(Series(x, y, name, colour, markers=True))
    fr = [r["fraction"] for r in rows]
    return line_plot(series, f"N-MPJPE by label fraction ({meta.sport}, {meta.split}-split)",
                     "label fraction (log scale)", "N-MPJPE (mm)", size=(900, 540),
                     xticks=log_ticks(min(fr), max(fr)))


def _with_gaps(v: np.ndarray) -> np.ndarray:
    """[a, b, c] -> [a, nan, b, nan, c]: points that no line joins."""
    out = np.full(2 * len(v) - 1, np.nan)
    out[::2] = v
    return out


def write_outputs(rows: list[dict], out: Path, meta: Meta) -> dict[str, Path]:
    """``ablation.csv``, ``ablation.md``, ``ablation.png`` in ``out``, each atomically."""
    from tempose_cli.media.visualise import save_png

    if not rows:
        raise TemposeError("no rows to write")
    out = Path(out)
    md = markdown(rows, meta)
    image = plot(rows, meta)
    files = {"csv": out / "ablation.csv", "md": out / "ablation.md", "png": out / "ablation.png"}
    write_atomic(files["csv"], lambda f: f.write(csv_text(rows).encode()))
    write_atomic(files["md"], lambda f: f.write(md.encode()))
    save_png(files["png"], image)
    return files
