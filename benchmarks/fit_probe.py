"""Which regressor at few labels? The fit stage alone, on a trained run's features.

Run:  .venv/bin/python benchmarks/fit_probe.py --home HOME --run R [--everies 1,5,20]
      [--seed S] [--random] [--flip] [--regressors ridge,krr,knn,mlp] [--sigmas 0,2]
      [--contexts 0,2] [--fit-encoders F,...] [--mlp-set KEY=VALUE ...]
      [--with-ti | --tv-only]

The split, labelled frames and test frames are exactly those of ``tempose fit`` (and of
``tempose ablation``) at each fraction 1/K. On the run's extracted features (and, with
--random, on those of the frozen random encoder the ``random`` baseline uses) it
reports test N-MPJPE in mm for: the training mean pose; ridge regression with its
penalty chosen on the validation clips (fitted on the training side only, as the MLP
is); RBF kernel ridge (bandwidth and penalty chosen on validation); the fit's k
nearest labelled frames (``--regressor knn``); the paper's MLP. Each on the raw
features, on features low-passed along each clip (Gaussian, sigma in frames) and with
the features of the frames d before and after each frame (--contexts: the fit's
--context). With --flip, also each with the mirrored frames: their features (the
frames flipped horizontally, through the same model) added to the training rows with
the mirrored pose ("+flip"), and the test prediction averaged with the mirrored
prediction of the flipped frame ("+tta"). --fit-encoders: also the features of the
encoders that fits trained end to end (``scratch``, ``--finetune``). Nothing is written
to the catalogue.
"""

from __future__ import annotations

import argparse
import ast
import sys
import time
import warnings
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from models.metrics import n_mpjpe  # noqa: E402
from models.regressor import RegressorConfig, fit_knn  # noqa: E402
from models.ridge import LAMBDAS, ridge_fit  # noqa: E402
from models.skeleton import mirror_pose  # noqa: E402
from models.track import gravity_track  # noqa: E402
from store.db import open_catalogue, session_factory  # noqa: E402
from tempose_cli.core.geometry import px_to_norm  # noqa: E402
from tempose_cli.core.workspace import Workspace  # noqa: E402
from tempose_cli.learn.dataset import FrameStore  # noqa: E402
from tempose_cli.learn.features import encode_clip, load_model  # noqa: E402
from tempose_cli.learn.finetune import fresh_pose_model  # noqa: E402
from tempose_cli.learn.fitdata import (  # noqa: E402
    FitOptions,
    clip_sources,
    labelled_clips,
    load_features,
    split_for,
    with_context,
)
from tempose_cli.pipeline.evaluate import MM, load_fit, side_frames  # noqa: E402
from tempose_cli.pipeline.extract import get_train_run  # noqa: E402
from tempose_cli.pipeline.fit import fit_arrays  # noqa: E402


def lowpass(f: np.ndarray, sigma: float) -> np.ndarray:
    """(T, D) features smoothed along time by a normalised Gaussian (edges renormalised)."""
    if sigma <= 0:
        return f
    r = int(np.ceil(3 * sigma))
    k = np.exp(-0.5 * (np.arange(-r, r + 1) / sigma) ** 2)  # (2r+1,)
    num = np.stack([np.convolve(col, k, mode="same") for col in f.T], 1)  # (T, D)
    den = np.convolve(np.ones(len(f)), k, mode="same")[:, None]  # (T, 1)
    return num / den


def normalise(f: np.ndarray, how: str) -> np.ndarray:
    """(T, D) one clip's features: ``none``; ``l2`` each frame to unit length (the
    geometry DSL shapes: it is a cosine loss); ``clip`` less the clip's mean feature (what
    stays constant over a clip: athlete, background)."""
    if how == "l2":
        return f / np.maximum(np.linalg.norm(f, axis=1, keepdims=True), 1e-9)
    if how == "clip":
        return f - f.mean(0, keepdims=True)
    return f


def rows(feats: dict, srcs: list, frames: dict, mirrored: bool = False
         ) -> tuple[np.ndarray, np.ndarray]:
    x = np.concatenate([feats[s.clip_id][frames[s.clip_id]] for s in srcs])
    y = np.concatenate([s.targets()[frames[s.clip_id]] for s in srcs])
    return x, (mirror_pose(y) if mirrored else y)


def encode_all(model, srcs: list, device: torch.device, flip: bool) -> dict:  # noqa: ANN001
    model.eval()
    return {s.clip_id: encode_clip(model, FrameStore([s.frames]), 0, device, flip=flip)[
        "features"] for s in srcs}


def joints_boxes(j2d: np.ndarray, size: tuple[int, int], margin: float) -> np.ndarray:
    """(T, 14, 2) true 2D joints in pixels -> (T, 4) square boxes (s_x, s_y, u, v): centred
    on the joints' bounding box, side ``margin`` x its longer side (what a perfect detector
    of the athlete's extent would give); NaN where a frame has no 2D label."""
    with warnings.catch_warnings():  # an unlabelled frame's all-NaN row stays NaN
        warnings.simplefilter("ignore", RuntimeWarning)
        lo, hi = np.nanmin(j2d, 1), np.nanmax(j2d, 1)  # (T, 2)
    side = margin * (hi - lo).max(1)  # (T,) pixels
    w, h = size
    centre = px_to_norm(0.5 * (lo + hi), size)  # (T, 2)
    return np.stack([side / w, side / h, centre[:, 0], centre[:, 1]], 1)


@torch.no_grad()
def encode_oracle(model, srcs: list, device: torch.device, margin: float) -> dict:  # noqa: ANN001
    """Each clip's features through ``model`` from crops at the true joints' box
    (``joints_boxes``), the model's own box where a frame has no 2D label."""
    model.eval()
    out = {}
    for src in srcs:
        oracle = joints_boxes(src.track.j2d.astype(np.float64), src.video_size, margin)

        def at_joints(box: np.ndarray, o: np.ndarray = oracle) -> np.ndarray:
            return np.where(np.isfinite(o), o, box)  # (T, 4)
        out[src.clip_id] = encode_clip(model, FrameStore([src.frames]), 0, device,
                                       track=at_joints)["features"]
    return out


def nm(pred: np.ndarray, true: np.ndarray) -> float:
    return float(n_mpjpe(pred.reshape(true.shape) * MM, true * MM))


def ridge_val(x, y, xv, yv):  # noqa: ANN001, ANN201
    """Ridge fitted on the training side, the penalty chosen on validation."""
    flat = y.reshape(len(y), -1)
    fits = [ridge_fit(x, flat, lam) for lam in LAMBDAS]
    scores = [nm(f.predict(xv), yv) for f in fits]
    return fits[int(np.argmin(scores))].predict


def _standardise(x, *others):  # noqa: ANN001, ANN202
    mean, std = x.mean(0), x.std(0)
    std = np.where(std > 1e-8, std, 1.0)
    return [(v - mean) / std for v in (x, *others)]


def _sqdist(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(N, D), (M, D) -> (N, M) squared Euclidean distances."""
    return np.maximum((a * a).sum(1)[:, None] + (b * b).sum(1)[None] - 2 * a @ b.T, 0)


def krr_val(x, y, xv, yv):  # noqa: ANN001, ANN201
    """RBF kernel ridge on standardised features; bandwidth (times the median squared
    distance) and penalty chosen on validation."""
    xs, xvs = _standardise(x, xv)
    flat = y.reshape(len(y), -1)
    y_mean = flat.mean(0)
    d_tr, d_v = _sqdist(xs, xs), _sqdist(xvs, xs)  # (N, N), (V, N)
    med = float(np.median(d_tr[np.triu_indices(len(xs), 1)]))
    best = (np.inf, None)
    for bw in (0.25, 0.5, 1.0, 2.0, 4.0):
        k, kv = np.exp(-d_tr / (bw * med)), np.exp(-d_v / (bw * med))
        for lam in (1e-3, 1e-2, 1e-1, 1.0):
            alpha = np.linalg.solve(k + lam * np.eye(len(k)), flat - y_mean)  # (N, K)
            score = nm(kv @ alpha + y_mean, yv)
            if score < best[0]:
                best = (score, (bw, alpha))
    bw, alpha = best[1]

    def predict(z: np.ndarray) -> np.ndarray:
        zs = _standardise(x, z)[1]
        return np.exp(-_sqdist(zs, xs) / (bw * med)) @ alpha + y_mean
    return predict


def knn_val(x, y, xv, yv):  # noqa: ANN001, ANN201
    """The fit's knn (models.regressor.fit_knn: k chosen on the validation MPJPE)."""
    t = [torch.from_numpy(v).float() for v in (x, y, xv, yv)]
    reg, _ = fit_knn(RegressorConfig(kind="knn", in_dim=x.shape[1]), *t)

    def predict(z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return reg(torch.from_numpy(z).float()).double().numpy()
    predict.reg = reg  # for --viterbi
    return predict


def viterbi_track(reg, z: np.ndarray, lam: float) -> np.ndarray:  # noqa: ANN001
    """(T, D) one clip's features -> (T, J*3): the fit's own ``predict_track`` at a fixed
    weight (``tempose fit --track`` chooses it on validation; 0 is frame by frame)."""
    return reg.predict_track(torch.from_numpy(z).float(), lam).double().numpy().reshape(
        len(z), -1)


def mlp_fit(a, device, over, x, y, xv, yv):  # noqa: ANN001, ANN201
    """The fit's MLP (RegressorConfig defaults, --mlp-set overrides), selected on val."""
    cfg = RegressorConfig(**({"in_dim": x.shape[1], "steps": a.fit_steps, "seed": a.seed}
                             | over))
    gen = torch.Generator().manual_seed(a.seed)
    reg, _, _ = fit_arrays(cfg, *(torch.from_numpy(v).float() for v in (x, y, xv, yv)),
                           device, gen)

    def predict(z: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return reg(torch.from_numpy(z).float()).double().numpy()
    return predict


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--home", required=True)
    ap.add_argument("--run", type=int, required=True, help="the training run's id")
    ap.add_argument("--everies", default="1,5,20")
    ap.add_argument("--seed", type=int, default=0, help="the split's and fits' seed")
    ap.add_argument("--random", action="store_true", help="also the frozen random encoder")
    ap.add_argument("--regressors", default="ridge,mlp", help="ridge, krr, knn, mlp")
    ap.add_argument("--mlp-set", nargs="*", default=[], help="RegressorConfig KEY=VALUE")
    ap.add_argument("--flip", action="store_true", help="also mirrored-frame augmentation")
    ap.add_argument("--sigmas", default="0,1,2,4", help="feature low-pass widths (frames)")
    ap.add_argument("--fit-encoders", default="",
                    help="fit ids (e.g. scratch fits) whose trained encoder's features to "
                         "probe too (compare at the fit's own fraction: it saw its labels)")
    ap.add_argument("--contexts", default="0",
                    help="frame offsets d: features of t-d, t, t+d concatenated (0: t only)")
    ap.add_argument("--refine", default="",
                    help="also the run's features encoded with its box refined K mean-shift "
                         "steps onto the foreground (0: the learned detector alone), e.g. 0")
    ap.add_argument("--refine-margins", default="",
                    help="also the run's features with its one refinement step's box "
                         "margin (ModelConfig.box_refine_margin) set to M, e.g. 1.0")
    ap.add_argument("--oracle-box", default="",
                    help="also the run's features from crops at the true 2D joints' box, "
                         "square, side M x their longer extent, e.g. 1.2 (is the detector "
                         "or the encoder to blame?)")
    ap.add_argument("--gravity-track", default="", metavar="FIT_TOL,REPLACE_TOL[;...]",
                    help="also the run's features from crops at its box track held to the "
                         "flight parabola (models.track.gravity_track), e.g. 0.03,0.06;0.03,0")
    ap.add_argument("--fps", type=float, default=25.0, help="the clips' rate (--gravity-track)")
    ap.add_argument("--with-ti", action="store_true",
                    help="also [z_tv, z_ti] of each frame (a split run's whole latent)")
    ap.add_argument("--tv-only", action="store_true",
                    help="also z_tv alone (of a run without the split: its first head only, "
                         "as many dimensions as a split run's feature)")
    ap.add_argument("--norms", default="none",
                    help="per-clip feature normalisation before the rest: none, l2, clip")
    ap.add_argument("--fit-steps", type=int, default=2000)
    ap.add_argument("--pred-sigmas", default="",
                    help="also the predicted track of each test clip low-passed along time "
                         "(Gaussian, sigma in frames) before scoring, e.g. 1,2")
    ap.add_argument("--viterbi", default="",
                    help="knn only: also each test clip's track as the sequence of one of "
                         "each frame's 10 nearest labelled poses that is cheapest in feature "
                         "distance + LAM x the pose change between frames, e.g. 0.3,1,3")
    a = ap.parse_args()
    over = {k: ast.literal_eval(v) for k, v in (i.split("=", 1) for i in a.mlp_set)}
    ws = Workspace.from_options(a.home)
    sessions = session_factory(open_catalogue(ws.url))
    device = torch.device("cpu")
    base = FitOptions(seed=a.seed)
    with sessions.begin() as s:
        run = get_train_run(s, a.run)
        run_dir = ws.abs(run.directory)
        clips = labelled_clips(s, "dive")
        split = split_for(clips, base)
        used = set(split.train + split.val + split.test)
        fit_ids = [int(v) for v in a.fit_encoders.split(",") if v]
        refines = [int(v) for v in a.refine.split(",") if v]
        oracles = [float(v) for v in a.oracle_box.split(",") if v]
        margins = [float(v) for v in a.refine_margins.split(",") if v]
        gravities = [tuple(float(x) for x in g.split(",")) for g in a.gravity_track.split(";")
                     if g]
        need = (a.random or a.flip or bool(fit_ids) or bool(refines) or bool(oracles)
                or bool(margins) or bool(gravities))
        srcs = clip_sources(s, ws, [c for c in clips if c.id in used], open_frames=need)
        models = {}
        if need:
            trained, cfg = load_model(ws, run, device)
            models["ours"] = trained
            if a.random:
                models["random"] = fresh_pose_model(cfg, trained, a.seed).to(device)
        encoders = {f"fit{f}": load_fit(s, ws, f, device)[0].pose_model for f in fit_ids}
    by_id = {src.clip_id: src for src in srcs}
    side = {k: [by_id[c] for c in getattr(split, k)] for k in ("train", "val", "test")}
    sets = {"ours": {s.clip_id: load_features(a.run, run_dir, s.content_hash, s.clip_id)
                     for s in srcs}}
    trained = models.get("ours")

    def encode_with(**changes) -> dict:  # noqa: ANN003 - ModelConfig fields
        """The run's features with its ModelConfig changed for this encoding only."""
        stored = trained.cfg
        trained.cfg = replace(stored, **changes)
        try:
            return encode_all(trained, srcs, device, False)
        finally:
            trained.cfg = stored

    for k in refines:  # the same run's features, its box refined k mean-shift steps
        sets[f"refine{k}"] = encode_with(box_refine_steps=k)
    for m in margins:  # the same run's features, its refined box at another margin
        sets[f"margin{m:g}"] = encode_with(
            box_refine_steps=max(1, trained.cfg.box_refine_steps), box_refine_margin=m)
    for m in oracles:  # the same encoder, crops from the true joints
        sets[f"oracle{m:g}"] = encode_oracle(trained, srcs, device, m)
    for fit_tol, replace_tol in gravities:  # the same encoder, the box held to gravity
        def hold(box: np.ndarray, f: float = fit_tol, r: float = replace_tol) -> np.ndarray:
            return gravity_track(box, a.fps, f, r)[0]
        sets[f"gravity{fit_tol:g},{replace_tol:g}"] = {
            src.clip_id: encode_clip(trained, FrameStore([src.frames]), 0, device,
                                     track=hold)["features"] for src in srcs}
    if a.with_ti:  # the whole latent of a split run (its z_ti from the frame itself)
        sets["tv+ti"] = {s.clip_id: np.concatenate(
            [load_features(a.run, run_dir, s.content_hash, s.clip_id, key)
             for key in ("z_tv", "z_ti")], 1) for s in srcs}
    if a.tv_only:
        sets["tv"] = {s.clip_id: load_features(a.run, run_dir, s.content_hash, s.clip_id, "z_tv")
                      for s in srcs}
    if "random" in models:
        sets["random"] = encode_all(models["random"], srcs, device, False)
    for name, enc in encoders.items():
        if enc is None:
            sys.exit(f"error: {name} has no encoder of its own (a frozen fit)")
        sets[name] = encode_all(enc, srcs, device, False)
    flips = {k: encode_all(m, srcs, device, True) for k, m in models.items()} if a.flip else {}
    sigmas = [float(v) for v in a.sigmas.split(",")]
    print(f"split: {len(split.train)} / {len(split.val)} / {len(split.test)} clips")
    for every in [int(k) for k in a.everies.split(",")]:
        fr = {"train": side_frames(side["train"], base, every),
              "val": side_frames(side["val"], base, every),
              "test": side_frames(side["test"], base, 1)}
        _, y = rows(sets["ours"], side["train"], fr["train"])
        _, yt = rows(sets["ours"], side["test"], fr["test"])
        mean = nm(np.broadcast_to(y.mean(0), yt.shape).copy(), yt)
        print(f"\nfraction 1/{every}: {len(y)} training frames; mean pose {mean:.1f}")
        for name, feats in sets.items():
            for sigma, ctx, how in [(s, c, n) for s in sigmas
                                    for c in map(int, a.contexts.split(","))
                                    for n in a.norms.split(",")]:
                sm = {k: with_context(lowpass(normalise(v, how), sigma), ctx)
                      for k, v in feats.items()}
                x, y = rows(sm, side["train"], fr["train"])
                xv, yv = rows(sm, side["val"], fr["val"])
                xt, yt = rows(sm, side["test"], fr["test"])
                flip = None
                if name in flips:
                    fm = {k: with_context(lowpass(normalise(v, how), sigma), ctx)
                          for k, v in flips[name].items()}
                    xf, yf = rows(fm, side["train"], fr["train"], mirrored=True)
                    xvf, yvf = rows(fm, side["val"], fr["val"], mirrored=True)
                    xtf, _ = rows(fm, side["test"], fr["test"])
                    flip = (np.concatenate([x, xf]), np.concatenate([y, yf]),
                            np.concatenate([xv, xvf]), np.concatenate([yv, yvf]), xtf)
                for kind in a.regressors.split(","):
                    t0 = time.perf_counter()
                    fit = {"ridge": ridge_val, "krr": krr_val, "knn": knn_val}.get(
                        kind) or partial(mlp_fit, a, device, over)
                    predict = fit(x, y, xv, yv)
                    plain = nm(predict(xt), yt)
                    line = (f"  {name:6s} sigma {sigma:3.1f} ctx {ctx} {how:4s} {kind:5s} "
                            f"{plain:6.1f}")
                    for ps in [float(v) for v in a.pred_sigmas.split(",") if v]:
                        track = np.concatenate([  # every frame of the clip, then its test frames
                            lowpass(predict(sm[c.clip_id]).reshape(len(sm[c.clip_id]), -1),
                                    ps)[fr["test"][c.clip_id]] for c in side["test"]])
                        line += f"  track sigma {ps:g} {nm(track, yt):6.1f}"
                    for lam in [float(v) for v in a.viterbi.split(",") if v and kind == "knn"]:
                        track = np.concatenate([
                            viterbi_track(predict.reg, sm[c.clip_id], lam)[fr["test"][c.clip_id]]
                            for c in side["test"]])
                        line += f"  viterbi {lam:g} {nm(track, yt):6.1f}"
                    if flip is not None:
                        pred = fit(*flip[:4])
                        pa = pred(xt).reshape(yt.shape)
                        tta = 0.5 * (pa + mirror_pose(pred(flip[4]).reshape(yt.shape)))
                        line += f"  +flip {nm(pa, yt):6.1f}  +tta {nm(tta, yt):6.1f}"
                    print(line + f"  ({time.perf_counter() - t0:.0f} s)", flush=True)

if __name__ == "__main__":
    main()
