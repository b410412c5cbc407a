"""Pose regressors and their training loop (models/regressor.py)."""

import numpy as np
import pytest
import torch

from models.regressor import (
    MLPRegressor,
    RegressorConfig,
    ResMLPRegressor,
    build_regressor,
    pose_loss,
    train_loop,
)


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny networks: a second intra-op thread only adds contention on a busy 2-core box."""
    n = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(n)


def test_paper_sizes_by_default() -> None:
    mlp = build_regressor(RegressorConfig(kind="mlp", in_dim=64))
    linears = [m for m in mlp.modules() if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [
        (64, 2048), (2048, 2048), (2048, 42)]
    assert any(isinstance(m, torch.nn.Dropout) and m.p == 0.5 for m in mlp.modules())
    res = build_regressor(RegressorConfig(kind="resmlp", in_dim=64 + 28))
    linears = [m for m in res.modules() if isinstance(m, torch.nn.Linear)]
    assert linears[0].in_features == 92 and linears[-1].out_features == 42
    assert len(linears) == 1 + 3 * 2 + 1 and all(m.out_features == 1024 for m in linears[:-1])
    assert isinstance(mlp, MLPRegressor) and isinstance(res, ResMLPRegressor)


@pytest.mark.parametrize("kind", ["mlp", "resmlp"])
def test_untrained_regressor_predicts_the_training_mean_pose(kind) -> None:
    cfg = RegressorConfig(kind=kind, in_dim=5, hidden=16)
    reg = build_regressor(cfg).eval()
    x, y = torch.randn(40, 5), torch.randn(40, 14, 3)
    reg.fit_normalisation(x, y)
    out = reg(torch.randn(3, 5))  # (3, 14, 3)
    assert out.shape == (3, 14, 3)
    assert torch.allclose(out, y.mean(0).expand(3, -1, -1), atol=1e-6)


def test_unknown_kind_raises() -> None:
    with pytest.raises(ValueError, match="unknown regressor"):
        build_regressor(RegressorConfig(kind="cnn"))


def test_config_round_trips() -> None:
    cfg = RegressorConfig(kind="resmlp", in_dim=92, hidden=32, seed=3)
    assert RegressorConfig.from_dict({**cfg.to_dict(), "removed_field": 1}) == cfg
    assert cfg.width == 32 and RegressorConfig(kind="resmlp").width == 1024


@pytest.mark.parametrize("kind", ["mlp", "resmlp"])
def test_train_loop_learns_a_linear_map_and_keeps_the_best_step(kind) -> None:
    g = torch.Generator().manual_seed(0)
    W = torch.randn(6, 42, generator=g)
    x = torch.randn(512, 6, generator=g)
    y = (x @ W).view(-1, 14, 3) * 0.1
    cfg = RegressorConfig(kind=kind, in_dim=6, hidden=64, dropout=0.0, steps=300,
                          eval_every=25, patience=100, lr=3e-3)
    torch.manual_seed(0)
    reg = build_regressor(cfg)
    reg.fit_normalisation(x[:400], y[:400])
    opt = torch.optim.Adam(reg.parameters(), lr=cfg.lr)

    def step_loss(step: int) -> torch.Tensor:
        idx = torch.randint(400, (64,), generator=g)
        return pose_loss(reg(x[idx]), y[idx], reg.y_scale)

    @torch.no_grad()
    def validate() -> float:
        reg.eval()
        return float((reg(x[400:]) - y[400:]).norm(dim=-1).mean())

    start = validate()
    res = train_loop(reg, opt, cfg, step_loss, validate)
    assert res.best_val == pytest.approx(validate(), rel=1e-5)  # best weights restored
    assert res.best_val < 0.2 * start
    assert res.best_val == min(v for _, _, v in res.history)
    assert not reg.training


def test_train_loop_is_independent_of_the_global_generator_state() -> None:
    """Dropout draws come from the fit's seed, and the caller's generator is left as it
    was: the same fit after different histories of the process gives the same weights."""
    g = torch.Generator().manual_seed(1)
    x = torch.randn(128, 6, generator=g)
    y = torch.randn(128, 14, 3, generator=g) * 0.1
    cfg = RegressorConfig(kind="mlp", in_dim=6, hidden=32, dropout=0.5, steps=20, seed=4)

    def fit(history: int) -> torch.Tensor:
        torch.manual_seed(history)
        torch.rand(history + 1)
        before = torch.random.get_rng_state()
        torch.manual_seed(cfg.seed)
        reg = build_regressor(cfg)
        torch.random.set_rng_state(before)
        opt = torch.optim.Adam(reg.parameters(), lr=1e-2)
        train_loop(reg, opt, cfg, lambda step: pose_loss(reg(x), y, reg.y_scale), None)
        assert torch.equal(torch.random.get_rng_state(), before)  # caller's state kept
        return torch.cat([p.detach().flatten() for p in reg.parameters()])

    w1 = fit(0)
    assert torch.equal(fit(7), w1)
    cfg = RegressorConfig(kind="mlp", in_dim=6, hidden=32, dropout=0.5, steps=20, seed=5)
    assert not torch.equal(fit(0), w1)  # the seed matters (weights and dropout)


def test_knn_returns_the_nearest_labelled_pose_and_weights_between_neighbours() -> None:
    from models.regressor import KNNRegressor, fit_knn

    x = torch.tensor([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [5.0, 5.0]])  # (4, 2)
    y = torch.arange(4 * 42, dtype=torch.float32).view(4, 14, 3)
    reg, _ = fit_knn(RegressorConfig(kind="knn", in_dim=2, k=1), x, y, x[:0], y[:0])
    assert isinstance(reg, KNNRegressor) and reg.cfg.bank == 4 and reg.cfg.k == 1
    assert torch.equal(reg(x), y)  # k = 1 on a labelled frame: its own pose
    # Two neighbours at distances 1 and 3 (standardised units): weights 3/4 and 1/4.
    h = reg.bank_x[[0, 1]]  # (2, 2) standardised rows of frames 0 and 1
    step = h[1] - h[0]
    probe = reg.x_mean + reg.x_std * (h[0] + 0.25 * step)  # a quarter of the way to frame 1
    out = reg.predict_k(probe[None], 2)
    assert torch.allclose(out[0], 0.75 * y[0] + 0.25 * y[1], atol=1e-4)


def test_knn_chooses_k_on_validation_and_round_trips_through_its_config() -> None:
    from models.regressor import K_GRID, fit_knn

    gen = torch.Generator().manual_seed(0)
    w = torch.randn(3, 42, generator=gen)
    x, xv = torch.randn(200, 3, generator=gen), torch.randn(50, 3, generator=gen)
    y, yv = (x @ w).view(-1, 14, 3), (xv @ w).view(-1, 14, 3)
    noisy = y + 2.0 * torch.randn(y.shape, generator=gen)  # noise: averaging neighbours pays
    reg, val = fit_knn(RegressorConfig(kind="knn", in_dim=3), x, noisy, xv, yv)
    assert reg.cfg.k in K_GRID and reg.cfg.k > 1 and val == val
    again = build_regressor(RegressorConfig.from_dict(reg.cfg.to_dict()))
    again.load_state_dict(reg.state_dict())  # the config sizes the bank's buffers
    assert torch.equal(again(xv), reg(xv))


def _circle_bank(n: int = 60):  # noqa: ANN202
    """Labelled frames along a movement, features and poses both around a circle, and
    one impostor: a frame that looks like phase 15 but has the pose of phase 45."""
    a = torch.linspace(0, 2 * np.pi, n + 1)[:-1]  # (N,)
    x = torch.stack([torch.cos(a), torch.sin(a)], 1)  # (N, 2)
    y = torch.zeros(n, 14, 3)
    y[:, :, 0], y[:, :, 1] = torch.cos(a)[:, None], torch.sin(a)[:, None]  # metres
    x = torch.cat([x, x[15:16] + torch.tensor([[0.02, 0.0]])])  # (N + 1, 2)
    y = torch.cat([y, y[45:46]])
    return x, y


def _clip(x: torch.Tensor, a: int, b: int, bad: list[int]) -> torch.Tensor:
    gen = torch.Generator().manual_seed(0)
    clip = x[a:b] + 0.003 * torch.randn(b - a, 2, generator=gen)  # (T, 2)
    for t in bad:  # nearer the impostor than its own phase
        clip[t] = x[a + t] + torch.tensor([0.015, 0.0])
    return clip


def test_knn_track_outvotes_a_frame_from_another_phase() -> None:
    from models.regressor import fit_knn

    x, y = _circle_bank()
    reg, _ = fit_knn(RegressorConfig(kind="knn", in_dim=2, k=1), x, y, x[:0], y[:0])
    clip = _clip(x, 10, 20, [5])  # ten consecutive phases; frame 5 is phase 15
    assert torch.equal(reg.predict_track(clip, 0.0), reg(clip))  # weight 0: frame by frame
    assert torch.allclose(reg(clip)[5], y[45])  # per frame: the impostor's pose
    track = reg.predict_track(clip, 0.3)
    assert torch.allclose(track, y[10:20])  # along the clip: every frame its own phase
    with pytest.raises(ValueError, match="one clip"):
        reg.predict_track(clip[None])


def test_knn_track_weight_is_chosen_on_validation() -> None:
    from models.metrics import n_mpjpe
    from models.regressor import TRACK_DEFAULT, TRACK_LAMS, choose_track_lam, fit_knn

    x, y = _circle_bank()
    reg, _ = fit_knn(RegressorConfig(kind="knn", in_dim=2, k=1), x, y, x[:0], y[:0])
    clip = _clip(x, 10, 30, [5])
    scores = choose_track_lam(reg, [(clip, torch.arange(20), y[10:30])])
    assert set(scores) == set(TRACK_LAMS) and 0.0 not in scores  # always along the clip
    assert scores[reg.cfg.track_lam] == min(scores.values())
    frame_by_frame = 1000 * n_mpjpe(reg.predict_track(clip, 0.0).double().numpy(),
                                    y[10:30].double().numpy())
    assert min(scores.values()) < frame_by_frame  # the impostor frame is outvoted
    assert choose_track_lam(reg, []) == {} and reg.cfg.track_lam == TRACK_DEFAULT > 0
    # Nothing to outvote: every weight gives each frame its own phase.
    scores = choose_track_lam(reg, [(_clip(x, 30, 40, []), torch.arange(10), y[30:40])])
    assert max(scores.values()) < 1e-3
