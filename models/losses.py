"""Loss terms of the self-supervised model (Honari et al., TPAMI, section 3; DESIGN.md).

Pure functions of tensors: no module state, no device moves (they run wherever the inputs
live). Every function checks its input shapes and raises ``ValueError`` with the offending
shape, because a silently broadcast loss trains without complaint and learns nothing.
Shape tags: B batch, N pairs, M negatives, D feature width, J joints.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = [
    "box_prior_loss",
    "css_infonce",
    "dsl_loss",
    "dsl_target",
    "gravity_loss",
    "order_loss",
    "farthest_within_groups",
    "permute_within_groups",
    "scale_smoothness_loss",
    "ti_far_dissimilarity",
    "triplet_loss",
    "weak_2d_loss",
]

_EPS = 1e-8  # keeps cosine / normalisation finite for all-zero vectors


# ----------------------------------------------------------------------------- checks


def _check_rows(name: str, t: Tensor, ndim: int = 2, width: int | None = None) -> None:
    if not isinstance(t, Tensor):
        raise ValueError(f"{name} must be a torch.Tensor, got {type(t).__name__}")
    if t.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dims, got shape {tuple(t.shape)}")
    if width is not None and t.shape[-1] != width:
        raise ValueError(f"{name} must have last dim {width}, got shape {tuple(t.shape)}")


def _check_same(names: str, *ts: Tensor) -> None:
    shapes = [tuple(t.shape) for t in ts]
    if any(s != shapes[0] for s in shapes):
        raise ValueError(f"{names} must have the same shape, got {shapes}")


def _check_neg_min(neg_min: float) -> None:
    if not neg_min > 0:
        raise ValueError(f"neg_min must be > 0 frames, got {neg_min}")


def _cos(a: Tensor, b: Tensor) -> Tensor:
    """Row-wise cosine similarity (N, D), (N, D) -> (N,)."""
    return F.cosine_similarity(a, b, dim=-1, eps=_EPS)


# ----------------------------------------------------------------------------- DSL / CSS


def dsl_target(delta: Tensor, neg_min: float, power: float = 1.0) -> Tensor:
    """Target cosine similarity of two frames ``delta`` frames apart (DSL, section 3.2).

    Property: 1 at Δ = 0, down to 0 at Δ = ``neg_min``, 0 beyond; monotonically
    non-increasing in |Δ|. Interpretation: the paper says the similarity "falls
    piecewise-linearly" with Δ; we use the single linear piece ``clamp(1 - |Δ|/neg_min, 0, 1)``
    (|Δ| so the caller may pass signed offsets), raised to ``power`` (1: the paper's
    line; 2 follows the measured pose distance, TrainConfig.dsl_power).
    """
    _check_neg_min(neg_min)
    if not power > 0:
        raise ValueError(f"power must be > 0, got {power}")
    if not isinstance(delta, Tensor):
        raise ValueError(f"delta must be a torch.Tensor, got {type(delta).__name__}")
    d = delta.abs() if delta.is_floating_point() else delta.abs().to(torch.get_default_dtype())
    return (1.0 - d / float(neg_min)).clamp(0.0, 1.0) ** power  # same shape as delta


def dsl_loss(z_ref: Tensor, z_other: Tensor, delta: Tensor, neg_min: float,
             power: float = 1.0) -> Tensor:
    """Distance-based similarity loss on z_tv pairs (DESIGN.md "DSL", paper section 3.2).

    Property: with c = cos(z_ref, z_other), pairs closer than ``neg_min`` frames are pulled
    to c = ``dsl_target(Δ)`` by ``(c - target)^2``; pairs at Δ >= ``neg_min`` only get
    ``relu(c)^2``, i.e. they are pushed to c <= 0 and left alone once there (no pull
    towards -1, which would make "far" a special pose rather than "unrelated").
    Interpretation: squared penalties on both branches so the two meet smoothly at
    Δ = neg_min (target 0); mean over all pairs (the caller concatenates near,
    intermediate and far pairs, so each pair counts once).
    """
    _check_neg_min(neg_min)
    _check_rows("z_ref", z_ref)
    _check_rows("z_other", z_other)
    _check_same("z_ref and z_other", z_ref, z_other)
    if not isinstance(delta, Tensor) or delta.shape != (z_ref.shape[0],):
        shape = tuple(delta.shape) if isinstance(delta, Tensor) else type(delta).__name__
        raise ValueError(f"delta must have shape ({z_ref.shape[0]},), got {shape}")
    c = _cos(z_ref, z_other)  # (N,)
    delta = delta.to(device=c.device, dtype=c.dtype)
    far = delta.abs() >= neg_min  # (N,)
    near_term = (c - dsl_target(delta, neg_min, power)) ** 2  # (N,)
    far_term = F.relu(c) ** 2  # (N,)
    return torch.where(far, far_term, near_term).mean()


def css_infonce(z_ref: Tensor, z_pos: Tensor, z_neg: Tensor, temperature: float = 0.1) -> Tensor:
    """InfoNCE of the CSS baseline (one near positive, shared far negatives).

    Property: for each ref row i the logits are ``[cos(ref_i, pos_i), cos(ref_i, neg_j)
    for all j] / temperature``; the loss is the cross-entropy of picking the positive,
    averaged over i. It is lower the more the positive stands out from the negatives.
    Interpretation: every row of ``z_neg`` is a negative for every ref (no per-ref
    negative sets); the positive is not repeated among the negatives.
    """
    if not temperature > 0:
        raise ValueError(f"temperature must be > 0, got {temperature}")
    _check_rows("z_ref", z_ref)
    _check_rows("z_pos", z_pos)
    _check_rows("z_neg", z_neg)
    _check_same("z_ref and z_pos", z_ref, z_pos)
    if z_neg.shape[1] != z_ref.shape[1] or z_neg.shape[0] < 1:
        raise ValueError(f"z_neg must be (M>=1, {z_ref.shape[1]}), got shape {tuple(z_neg.shape)}")
    ref = F.normalize(z_ref, dim=1, eps=_EPS)  # (N, D)
    pos = F.normalize(z_pos, dim=1, eps=_EPS)  # (N, D)
    neg = F.normalize(z_neg, dim=1, eps=_EPS)  # (M, D)
    logits = torch.cat([(ref * pos).sum(1, keepdim=True), ref @ neg.T], dim=1)  # (N, 1+M)
    labels = torch.zeros(ref.shape[0], dtype=torch.long, device=ref.device)  # (N,)
    return F.cross_entropy(logits / temperature, labels)


def triplet_loss(z_ref: Tensor, z_pos: Tensor, z_neg: Tensor, margin: float = 0.2) -> Tensor:
    """TCN-style triplet loss (the "triplet" baseline).

    Property: on L2-normalised vectors, ``mean relu(|ref-pos|^2 - |ref-neg|^2 + margin)``;
    zero once every negative is at least ``margin`` (squared distance) further than its
    positive. Interpretation: one negative per ref row (row-aligned), squared Euclidean
    distances as in TCN (Sermanet et al.).
    """
    for name, t in (("z_ref", z_ref), ("z_pos", z_pos), ("z_neg", z_neg)):
        _check_rows(name, t)
    _check_same("z_ref, z_pos and z_neg", z_ref, z_pos, z_neg)
    ref = F.normalize(z_ref, dim=1, eps=_EPS)  # (N, D)
    pos = F.normalize(z_pos, dim=1, eps=_EPS)  # (N, D)
    neg = F.normalize(z_neg, dim=1, eps=_EPS)  # (N, D)
    d_pos = ((ref - pos) ** 2).sum(1)  # (N,)
    d_neg = ((ref - neg) ** 2).sum(1)  # (N,)
    return F.relu(d_pos - d_neg + margin).mean()


def ti_far_dissimilarity(z_ti_a: Tensor, z_ti_b: Tensor) -> Tensor:
    """Push time-invariant parts of "far" pairs apart (DESIGN.md "Disentanglement").

    Property: ``mean relu(cos(a, b))^2``: positive while the pair's z_ti are positively
    correlated, zero once cos <= 0. Interpretation: the same one-sided penalty as the far
    branch of :func:`dsl_loss`; which pairs are "far" (e.g. other clips / athletes) is the
    caller's decision.
    """
    _check_rows("z_ti_a", z_ti_a)
    _check_rows("z_ti_b", z_ti_b)
    _check_same("z_ti_a and z_ti_b", z_ti_a, z_ti_b)
    return (F.relu(_cos(z_ti_a, z_ti_b)) ** 2).mean()  # (N,) -> ()


def ti_same_similarity(z_ti: Tensor) -> Tensor:
    """Pull the time-invariant parts of frames of one clip together.

    Property: ``mean (1 - cos(a, b))`` over every pair of rows within a group, for
    (G, S, D) z_ti (G clips, S frames each). Interpretation: the swap of Eq. 1 only asks
    that another frame's z_ti decodes as well as the frame's own; this asks for the
    same z_ti outright, so what varies within a clip (pose) has no room in it.
    """
    if z_ti.ndim != 3 or z_ti.shape[1] < 2:
        raise ValueError(f"z_ti must be (G, S >= 2, D), got {tuple(z_ti.shape)}")
    z = F.normalize(z_ti, dim=-1)  # (G, S, D)
    cos = z @ z.transpose(1, 2)  # (G, S, S)
    S = z.shape[1]
    off = ~torch.eye(S, dtype=torch.bool, device=z.device)
    return (1 - cos[:, off]).mean()


# ----------------------------------------------------------------------------- gravity / box


def gravity_loss(v: Tensor) -> Tensor:
    """Constant-acceleration prior on vertical box centres (DESIGN.md "Gravity (dives)").

    ``v`` is (B, 4): box-centre heights at t, t+k, t+2k, t+3k. Under gravity alone the
    height is quadratic in time, so the two second differences are equal:
    ``mean(((v3 - 2 v2 + v1) - (v2 - 2 v1 + v0))^2)``. Exactly zero on any sampled
    parabola (including lines and constants), positive otherwise. Interpretation: the
    acceleration itself is not fixed (unknown g in pixels per frame^2 and slow-motion
    factor), only its constancy; this equals the squared third difference.
    """
    _check_rows("v", v, ndim=2, width=4)
    acc_late = v[:, 3] - 2 * v[:, 2] + v[:, 1]  # (B,)
    acc_early = v[:, 2] - 2 * v[:, 1] + v[:, 0]  # (B,)
    return ((acc_late - acc_early) ** 2).mean()


def order_loss(v_early: Tensor, v_late: Tensor, margin: float = 0.0) -> Tensor:
    """Divers fall: penalise upward box motion between frames far enough apart.

    Image v grows downwards, so for pairs the caller guarantees are at least the
    threshold of frames apart, ``mean relu(v_early - v_late + margin)``: zero for downward
    motion or none (with margin 0), linear in the upward displacement otherwise.
    Interpretation: a hinge (not squared), since the paper states only the ordering;
    ``v_*`` may be (B,) or (B, 1).
    """
    for name, t in (("v_early", v_early), ("v_late", v_late)):
        if not isinstance(t, Tensor) or not (t.ndim == 1 or (t.ndim == 2 and t.shape[1] == 1)):
            shape = tuple(t.shape) if isinstance(t, Tensor) else type(t).__name__
            raise ValueError(f"{name} must be (B,) or (B, 1), got {shape}")
    _check_same("v_early and v_late", v_early, v_late)
    return F.relu(v_early - v_late + margin).mean()


def scale_smoothness_loss(s_a: Tensor, s_b: Tensor) -> Tensor:
    """Keep the box scales (s_x, s_y) from jumping between neighbouring frames.

    Property: ``mean((s_a - s_b)^2)``, zero iff the scales agree. Interpretation: the mean
    runs over the batch and both scale components (not a per-row sum).
    """
    _check_rows("s_a", s_a, width=2)
    _check_rows("s_b", s_b, width=2)
    _check_same("s_a and s_b", s_a, s_b)
    return ((s_a - s_b) ** 2).mean()


def box_prior_loss(
    scale: Tensor,
    target: float = 0.5,
    sigma: float = 0.1,
    centre: Tensor | None = None,
    centre_sigma: float | None = None,
) -> Tensor:
    """Gaussian prior on the mini-batch *mean* box (DESIGN.md "Box prior").

    Property: ``sum(((scale.mean(0) - target)^2) / (2 sigma^2))`` (negative log-density up
    to constants); a batch whose mean is on target costs nothing however its boxes
    spread, and each sample's gradient is 1/B of the mean's. Never per sample, so a
    distant athlete may still get a small box. Optionally the same on the batch-mean
    centre (B, 2) towards 0 (the frame middle in affine_grid coordinates).
    Interpretation: ``centre_sigma=None`` with a centre given reuses ``sigma``.
    """
    if not sigma > 0:
        raise ValueError(f"sigma must be > 0, got {sigma}")
    _check_rows("scale", scale, width=2)
    if scale.shape[0] < 1:
        raise ValueError("scale must hold at least one box, got an empty batch")
    loss = (((scale.mean(0) - target) ** 2) / (2 * sigma**2)).sum()  # (2,) -> ()
    if centre is not None:
        _check_rows("centre", centre, width=2)
        _check_same("scale and centre", scale, centre)
        cs = sigma if centre_sigma is None else centre_sigma
        if not cs > 0:
            raise ValueError(f"centre_sigma must be > 0, got {cs}")
        loss = loss + ((centre.mean(0) ** 2) / (2 * cs**2)).sum()  # (2,) -> ()
    return loss


# ----------------------------------------------------------------------------- helpers


def permute_within_groups(
    n_groups: int, group_size: int, generator: torch.Generator | None = None
) -> Tensor:
    """A derangement inside each group of rows (DESIGN.md "Disentanglement").

    Rows are laid out group-major (rows ``g*G .. g*G+G-1`` are the frames of clip g).
    Returns ``perm`` (n_groups*G,) with ``x[perm]`` swapping every row for a *different*
    row of the *same* group, so z_ti comes from another frame of the same clip and never
    from another clip. Interpretation: a random non-zero cyclic shift per group (a
    derangement, though not uniformly drawn among all derangements); the index lives on
    the CPU, like the generator (move it with ``.to(device)``).
    """
    if int(n_groups) != n_groups or n_groups < 1:
        raise ValueError(f"n_groups must be a positive integer, got {n_groups}")
    if int(group_size) != group_size or group_size < 2:
        raise ValueError(
            f"group_size must be an integer >= 2 (a frame cannot swap with itself), "
            f"got {group_size}"
        )
    n_groups, group_size = int(n_groups), int(group_size)
    shift = torch.randint(1, group_size, (n_groups, 1), generator=generator)  # (n_groups, 1)
    pos = torch.arange(group_size).expand(n_groups, group_size)  # (n_groups, G)
    base = (torch.arange(n_groups) * group_size)[:, None]  # (n_groups, 1)
    return (base + (pos + shift) % group_size).reshape(-1)  # (n_groups*G,)


def farthest_within_groups(frame: Tensor) -> Tensor:
    """For each row, the row of its group whose frame is farthest in time from its own.

    ``frame`` (n_groups, G) frame indices within each group's clip. Returns ``perm``
    (n_groups*G,) for ``x[perm]``, group-major as :func:`permute_within_groups`. A group's
    frames span at least ``neg_min`` (stage 2) or ``3k`` (stage 1), so every row's source
    is at least half that span away: a z_ti swapped from it cannot carry the row's pose
    the way a neighbouring frame's can. Ties go to the earlier row.
    """
    if frame.ndim != 2 or frame.shape[1] < 2:
        raise ValueError(f"frame must be (n_groups, G >= 2), got {tuple(frame.shape)}")
    f = frame.detach().to("cpu", torch.float64)  # (n_groups, G)
    dist = (f[:, :, None] - f[:, None, :]).abs()  # (n_groups, G, G)
    dist.diagonal(dim1=1, dim2=2).fill_(-1.0)  # never the row itself
    src = dist.argmax(-1)  # (n_groups, G), first maximum on ties
    base = (torch.arange(frame.shape[0]) * frame.shape[1])[:, None]  # (n_groups, 1)
    return (base + src).reshape(-1)  # (n_groups*G,)


def mean_of_others_within_groups(x: Tensor, n_groups: int) -> Tensor:
    """(n_groups*G, D) rows, group-major -> each row replaced by the mean of the *other*
    rows of its group. Used as the decoder's z_ti, it comes from other frames of the same
    clip (as the swap does) but averages away what the frames do not share: a single
    neighbour's z_ti can carry the neighbour's pose, the mean of frames spread over the
    group's span can carry it only blurred.
    """
    if x.ndim != 2 or n_groups < 1 or x.shape[0] % n_groups:
        raise ValueError(f"x must be (n_groups*G, D) with n_groups {n_groups}, "
                         f"got {tuple(x.shape)}")
    z = x.view(n_groups, -1, x.shape[-1])  # (n_groups, G, D)
    if z.shape[1] < 2:
        raise ValueError("groups need >= 2 rows (a row cannot be its own other)")
    others = (z.sum(1, keepdim=True) - z) / (z.shape[1] - 1)  # (n_groups, G, D)
    return others.reshape(x.shape)


def weak_2d_loss(pred: Tensor, target: Tensor) -> Tensor:
    """MSE of regressed 2D pose on labelled joints only (DESIGN.md "Weak 2D labels").

    ``pred`` / ``target`` (B, J, 2), target NaN where unlabelled. Property: NaN entries
    contribute neither loss nor gradient; with nothing labelled the loss is an exact 0
    that still carries a (zero) gradient, so the caller may always add it. Interpretation:
    a joint counts as labelled only if both coordinates are finite (a half-NaN joint is
    treated as unlabelled); the mean runs over the labelled coordinates.
    """
    _check_rows("pred", pred, ndim=3, width=2)
    _check_rows("target", target, ndim=3, width=2)
    _check_same("pred and target", pred, target)
    labelled = torch.isfinite(target).all(-1, keepdim=True).expand_as(target)  # (B, J, 2)
    safe_target = torch.where(labelled, target, torch.zeros_like(target))  # (B, J, 2)
    # Mask the difference, not the loss, so no NaN reaches autograd.
    sq = torch.where(labelled, pred - safe_target, torch.zeros_like(pred)) ** 2  # (B, J, 2)
    count = labelled.sum()
    return sq.sum() / count.clamp(min=1).to(sq.dtype)
