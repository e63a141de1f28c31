"""Every training loss of the method (Gao et al. 2020, eqs. 4-11), each a pure function.

No module state: centers, neighbour operators, mirror maps and critics are arguments. Every function
returns a scalar tensor that is a mean (never a sum over the batch), so a loss weight does not depend
on the batch size, the image size or the mesh resolution.

Units and conventions (shared with the rest of photoface):

* shapes (B, V, 3) in millimetres, model space (x to the subject's left, y up, z out of the face);
* images (B, 3, H, W) float in [0, 1]; masks (B, 1, H, W) in [0, 1] (1 = pixel compared);
* 2D landmarks (B, 68, 2) in image pixels (x right, y down), iBUG order, 0-based indices;
* a "neighbour-mean operator" is a sparse (V, V) tensor N whose row i holds 1/deg(i) at the
  neighbours of vertex i, so (N @ S)_i is the mean of the neighbours of vertex i.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F

# ----------------------------------------------------------------------------------- recognition


def identity_cross_entropy(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Softmax cross-entropy over the training identities (eq. 4, first term).

    Args:
        logits: (B, N) scores of the identity classifier on c_id.
        labels: (B,) long identity indices in [0, N).
    """
    return F.cross_entropy(logits, labels)


def center_loss(codes: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor) -> torch.Tensor:
    """Mean squared distance of each identity code to its identity's center (eq. 4, Wen et al. 2016).

    Args:
        codes: (B, D) identity codes c_id.
        labels: (B,) long identity indices.
        centers: (N, D) current centers; treated as constants (they move by ``center_update``).

    Returns:
        scalar, mean over the batch of ||c_b - center_{y_b}||².
    """
    diff = codes - centers.detach()[labels]
    return diff.pow(2).sum(dim=1).mean()


@torch.no_grad()
def center_update(
    codes: torch.Tensor, labels: torch.Tensor, centers: torch.Tensor, alpha: float = 0.5
) -> torch.Tensor:
    """New centers after one batch, the update rule of Wen et al. (2016), eq. (4) of their paper.

    For each identity j, Δc_j = Σ_{i: y_i=j} (c_j - x_i) / (1 + #{i: y_i=j}) and c_j ← c_j - α Δc_j.
    Identities absent from the batch keep their center.

    Args:
        codes: (B, D) identity codes (detached inside).
        labels: (B,) long identity indices.
        centers: (N, D).
        alpha: center learning rate in [0, 1].

    Returns:
        (N, D) new centers (a new tensor; ``centers`` is not modified).
    """
    codes = codes.detach().to(centers.dtype)
    n = centers.shape[0]
    counts = torch.zeros(n, dtype=centers.dtype, device=centers.device)
    counts.index_add_(0, labels, torch.ones_like(labels, dtype=centers.dtype))
    sums = torch.zeros_like(centers).index_add_(0, labels, codes)
    delta = (counts[:, None] * centers - sums) / (1.0 + counts[:, None])
    return centers - alpha * delta


# ----------------------------------------------------------------------------------- photometric


def _combined_mask(mask: torch.Tensor, face_mask: torch.Tensor | None) -> torch.Tensor:
    return mask if face_mask is None else mask * face_mask


def photometric_loss(
    rendered: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    face_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Masked squared colour error, normalised by the mask area (eq. 5, first term).

    M = mask ⊙ face_mask (rendered coverage ∧ face-visibility). Per image:
    Σ_p M_p ||Î_p - I_p||² / Σ_p M_p (the squared norm sums the 3 channels); then the batch mean.
    Images with an empty mask contribute 0.

    Args:
        rendered: (B, C, H, W) Î.
        target: (B, C, H, W) I.
        mask: (B, 1, H, W) coverage of the rendered face.
        face_mask: (B, 1, H, W) optional face-visibility mask of the photo.
    """
    m = _combined_mask(mask, face_mask)
    err = (rendered - target).pow(2).sum(dim=1, keepdim=True) * m
    area = m.flatten(1).sum(dim=1).clamp_min(1.0)
    return (err.flatten(1).sum(dim=1) / area).mean()


def image_gradients(img: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward finite differences: gx (B, C, H, W-1) = I[..., 1:] - I[..., :-1], gy (B, C, H-1, W)."""
    return img[..., :, 1:] - img[..., :, :-1], img[..., 1:, :] - img[..., :-1, :]


def gradient_difference_loss(
    rendered: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    face_mask: torch.Tensor | None = None,
) -> torch.Tensor:
    """Masked image gradient-difference loss (eq. 5, second term; Mathieu et al. 2016).

    Σ ||∇x Î - ∇x I||² + ||∇y Î - ∇y I||² over the finite differences whose two pixels both lie in
    M, divided by Σ M per image (the same normaliser as ``photometric_loss``); then the batch mean.
    A difference that touches a pixel outside M is ignored, so such pixels cannot change the loss.

    Args: as ``photometric_loss``.
    """
    m = _combined_mask(mask, face_mask)
    rx, ry = image_gradients(rendered)
    tx, ty = image_gradients(target)
    mx = m[..., :, 1:] * m[..., :, :-1]
    my = m[..., 1:, :] * m[..., :-1, :]
    ex = ((rx - tx).pow(2).sum(dim=1, keepdim=True) * mx).flatten(1).sum(dim=1)
    ey = ((ry - ty).pow(2).sum(dim=1, keepdim=True) * my).flatten(1).sum(dim=1)
    area = m.flatten(1).sum(dim=1).clamp_min(1.0)
    return ((ex + ey) / area).mean()


# -------------------------------------------------------------------------------------- landmark

# 0-based iBUG-68 pairs whose distances the landmark GDL compares: eyelid openings first (the
# paper's reason for the term), then lip openings and widths, eye widths, brows, nose and jaw.
EYELID_PAIRS: tuple[tuple[int, int], ...] = ((37, 41), (38, 40), (43, 47), (44, 46))
LIP_PAIRS: tuple[tuple[int, int], ...] = (
    (61, 67), (62, 66), (63, 65),  # inner lips, upper to lower
    (49, 59), (50, 58), (51, 57), (52, 56), (53, 55),  # outer lips, upper to lower
    (48, 54), (60, 64),  # mouth widths, outer and inner
)
OTHER_PAIRS: tuple[tuple[int, int], ...] = (
    (36, 39), (42, 45),  # eye widths
    (17, 21), (22, 26), (19, 37), (24, 44),  # brow lengths, brow-to-eyelid heights
    (27, 30), (31, 35),  # nose length and width
    (0, 16), (2, 14), (4, 12), (6, 10), (8, 27),  # jaw widths, face height
)
DEFAULT_LANDMARK_PAIRS: tuple[tuple[int, int], ...] = EYELID_PAIRS + LIP_PAIRS + OTHER_PAIRS


def landmark_weights(
    jaw: float = 1.0, brows: float = 1.0, nose: float = 1.0, eyes: float = 1.0, mouth: float = 1.0
) -> torch.Tensor:
    """(68,) per-landmark weights by iBUG region (0-16 jaw, 17-26 brows, 27-35 nose, 36-47 eyes,
    48-67 mouth). Heavier eyes and mouth (e.g. 2 and 2) is a common choice."""
    w = torch.empty(68)
    w[0:17], w[17:27], w[27:36], w[36:48], w[48:68] = jaw, brows, nose, eyes, mouth
    return w


def landmark_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    image_size: float,
    weights: torch.Tensor | None = None,
    visible: torch.Tensor | None = None,
) -> torch.Tensor:
    """Weighted squared landmark error on landmarks divided by the image size (eq. 6, first term).

    Per image: Σ_k w_k v_k ||(ŝ_k - U_k) / size||² / Σ_k w_k v_k; then the batch mean.

    Args:
        pred: (B, K, 2) projected model landmarks ŝ2D[:, L], pixels.
        target: (B, K, 2) detected or annotated landmarks U, pixels.
        image_size: side of the square image in pixels.
        weights: (K,) or (B, K) per-landmark weights (see ``landmark_weights``); default all 1.
        visible: (B, K) bool or float; invisible landmarks are ignored.
    """
    w = torch.ones(pred.shape[:2], dtype=pred.dtype, device=pred.device)
    if weights is not None:
        w = w * weights.to(pred)
    if visible is not None:
        w = w * visible.to(pred)
    err = ((pred - target) / image_size).pow(2).sum(dim=-1)
    return ((err * w).sum(dim=1) / w.sum(dim=1).clamp_min(1e-8)).mean()


def landmark_energy(
    pred: torch.Tensor, target: torch.Tensor, sigma_px: torch.Tensor, weights: torch.Tensor | None = None
) -> torch.Tensor:
    """Landmark term of a maximum-a-posteriori fit: Σ_k w_k ‖ŝ_k − U_k‖² / σ², batch mean.

    Unlike ``landmark_loss`` it is not normalised by Σ w: it is the negative log-likelihood of
    Gaussian landmark noise of std σ (per coordinate, up to the factor 2), so it can be weighed
    against coefficient priors such as ‖α‖² of standard-normal coefficients.

    Args:
        pred, target: (B, K, 2) pixels.
        sigma_px: (B,) landmark noise std per photo, pixels.
        weights: (B, K) or (K,) non-negative (e.g. visibility); default all 1.
    """
    err = (pred - target.to(pred)).pow(2).sum(dim=-1)
    if weights is not None:
        err = err * weights.to(pred)
    return (err.sum(dim=1) / sigma_px.to(pred).pow(2)).mean()


def _pair_distances(points: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    d = points[:, pairs[:, 0]] - points[:, pairs[:, 1]]
    # sqrt(x + eps): the gradient stays finite when a predicted eye closes completely.
    return (d.pow(2).sum(dim=-1) + 1e-12).sqrt()


def landmark_gdl_loss(
    pred: torch.Tensor,
    target: torch.Tensor,
    image_size: float,
    pairs: Sequence[tuple[int, int]] | torch.Tensor = DEFAULT_LANDMARK_PAIRS,
    visible: torch.Tensor | None = None,
) -> torch.Tensor:
    """Landmark gradient-difference loss: squared differences of pairwise distances (eq. 6).

    Mean over the pairs (i, j) and the batch of ((||ŝ_i - ŝ_j|| - ||U_i - U_j||) / size)².
    Invariant to translating both sets; sensitive to eye and mouth openings that a per-landmark
    error barely sees. A pair counts only when both of its landmarks are visible.

    Args:
        pred, target: (B, 68, 2) pixels.
        image_size: image side, pixels.
        pairs: (P, 2) landmark index pairs; default ``DEFAULT_LANDMARK_PAIRS``.
        visible: (B, 68) optional visibility.
    """
    pairs_t = torch.as_tensor(pairs, dtype=torch.long, device=pred.device)
    diff = (_pair_distances(pred, pairs_t) - _pair_distances(target.to(pred), pairs_t)) / image_size
    w = torch.ones_like(diff)
    if visible is not None:
        v = visible.to(pred)
        w = v[:, pairs_t[:, 0]] * v[:, pairs_t[:, 1]]
    return (diff.pow(2) * w).sum() / w.sum().clamp_min(1e-8)


# ----------------------------------------------------------------------------------------- shape


def shape_loss(
    pred: torch.Tensor, target: torch.Tensor, correspondence: torch.Tensor | None = None
) -> torch.Tensor:
    """Per-vertex L1 shape error in mm (eq. 7): mean over vertices and batch of ||Ŝ_i - S_T(i)||₁.

    Args:
        pred: (B, V, 3) decoded shape Ŝ, mm.
        target: (B, V', 3) 3DMM shape S_3DMM, mm.
        correspondence: (V,) long T, the target vertex of each predicted vertex; None if V = V'.
    """
    if correspondence is not None:
        target = target[:, correspondence]
    return (pred - target).abs().sum(dim=-1).mean()


def swap_target_shape(
    mean: torch.Tensor,
    id_basis: torch.Tensor,
    exp_basis: torch.Tensor,
    alpha_id_a: torch.Tensor,
    alpha_exp_b: torch.Tensor,
    exp_bounds: torch.Tensor | None = None,
) -> torch.Tensor:
    """S_A,B = mean + A_id α_id,A + A_exp α_exp,B: identity of A with the expression of B (eq. 8).

    Args:
        mean: (V, 3) mm; id_basis: (K, V, 3); exp_basis: (L, V, 3).
        alpha_id_a: (B, K) identity coefficients of photo A; alpha_exp_b: (B, L) expression of B.
        exp_bounds: (L', 2) [lower, upper] of each expression coefficient, L' >= L
            (``MorphableModel.exp_bounds``: blendshape weights in [0, 1], FLAME's jaw opening
            >= 0, ±inf where unbounded): values outside mean nothing, so α_exp,B is clamped to
            them (labels fitted or converted elsewhere may overshoot). None: no bounds.

    Returns:
        (B, V, 3) mm.
    """
    if exp_bounds is not None:
        b = exp_bounds[: alpha_exp_b.shape[1]].to(alpha_exp_b)
        alpha_exp_b = torch.minimum(torch.maximum(alpha_exp_b, b[:, 0]), b[:, 1])
    return (
        mean
        + torch.einsum("bk,kvc->bvc", alpha_id_a, id_basis)
        + torch.einsum("bl,lvc->bvc", alpha_exp_b, exp_basis)
    )


def pairwise_shape_loss(
    swapped: torch.Tensor, target: torch.Tensor, correspondence: torch.Tensor | None = None
) -> torch.Tensor:
    """Eq. (8): L1 between f_shape([c_id,A, c_exp,B]) and S_A,B (see ``swap_target_shape``).

    Args:
        swapped: (B, V, 3) shapes decoded from the swapped codes, mm.
        target: (B, V', 3) S_A,B, mm; correspondence as in ``shape_loss``.
    """
    return shape_loss(swapped, target, correspondence)


# ---------------------------------------------------------------------------------------- smooth


def _neighbour_offsets(shape: torch.Tensor, nbr_mean: torch.Tensor) -> torch.Tensor:
    """S - N S for (B, V, 3) or (V, 3) ``shape`` with one sparse product for the whole batch."""
    if shape.dim() == 2:
        return shape - torch.sparse.mm(nbr_mean, shape)
    b, v, c = shape.shape
    flat = shape.permute(1, 0, 2).reshape(v, b * c)  # vertex-major: one product for the batch
    mean = torch.sparse.mm(nbr_mean, flat).reshape(v, b, c).permute(1, 0, 2)
    return shape - mean


def smooth_loss(pred: torch.Tensor, template: torch.Tensor, nbr_mean: torch.Tensor) -> torch.Tensor:
    """Ours (eq. 9): ||(Ŝ_i - mean_nbr(Ŝ)_i) - (T_i - mean_nbr(T)_i)||₁, mean over i and batch.

    The paper writes a sum over vertices; we divide by V so the weight is resolution-independent.
    Zero for the template and any translation of it (rows of N sum to 1), unlike the conventional
    Laplacian term, which also penalises the template's own curvature.

    Args:
        pred: (B, V, 3) Ŝ, mm.
        template: (V, 3) T, mm (the model's mean shape).
        nbr_mean: sparse (V, V) neighbour-mean operator.
    """
    target = _neighbour_offsets(template.to(pred), nbr_mean.to(pred))
    return (_neighbour_offsets(pred, nbr_mean.to(pred)) - target).abs().sum(dim=-1).mean()


def laplacian_smooth_loss(pred: torch.Tensor, nbr_mean: torch.Tensor) -> torch.Tensor:
    """Conventional Laplacian smoothing, for the ablation: ||Ŝ_i - mean_nbr(Ŝ)_i||₁, mean over i, batch.

    Same norm and normalisation as ``smooth_loss``, so the ablation isolates the template term.
    """
    return _neighbour_offsets(pred, nbr_mean.to(pred)).abs().sum(dim=-1).mean()


# ------------------------------------------------------------------------------- albedo symmetry


def albedo_symmetry_loss(albedo: torch.Tensor, mirror: torch.Tensor) -> torch.Tensor:
    """Eq. (10), per vertex: mean over vertices and batch of ||A_i - A_mirror(i)||₁.

    Args:
        albedo: (B, V, 3) per-vertex albedo in [0, 1].
        mirror: (V,) long, left/right partner of each vertex (the face model's ``mirror``).
    """
    return (albedo - albedo[:, mirror]).abs().sum(dim=-1).mean()


# ----------------------------------------------------------------------------------- adversarial


def random_interpolates(
    real: torch.Tensor, fake: torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """x̂ = t·real + (1-t)·fake, t ~ U[0, 1] per sample. (B, ...) like ``real``; fake is detached."""
    t = torch.rand((real.shape[0],) + (1,) * (real.dim() - 1), generator=generator,
                   dtype=real.dtype, device="cpu").to(real.device)
    return t * real.detach() + (1 - t) * fake.detach()


def wgan_div_gradient_term(
    critic: Callable[[torch.Tensor], torch.Tensor], points: torch.Tensor, k: float = 2.0, p: float = 6.0
) -> torch.Tensor:
    """k · E[||∇_x D(x)||^p] at ``points`` (B, ...), differentiable w.r.t. the critic's parameters
    (autograd.grad with create_graph=True). The norm is over all non-batch dimensions."""
    x = points.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x).sum(), x, create_graph=True)
    sq = grad.flatten(1).pow(2).sum(dim=1)
    return k * sq.pow(p / 2.0).mean()


def wgan_div_critic_loss(
    critic: Callable[[torch.Tensor], torch.Tensor],
    real: torch.Tensor,
    fake: torch.Tensor,
    k: float = 2.0,
    p: float = 6.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """WGAN-div critic loss (Wu et al. 2018; eq. 11): E[D(fake)] - E[D(real)] + k·E[||∇D(x̂)||^p].

    x̂ are random interpolates of real and fake; k = 2, p = 6 are Wu et al.'s defaults. ``fake`` is
    detached: this loss trains the critic only.

    Args:
        critic: maps (B, V, 3) shapes (or any (B, ...)) to (B,) or (B, 1) scores.
        real: (B, V, 3) shapes sampled from the linear model, mm.
        fake: (B, V, 3) decoded shapes, mm.
    """
    fake = fake.detach()
    term = wgan_div_gradient_term(critic, random_interpolates(real, fake, generator), k, p)
    return critic(fake).mean() - critic(real).mean() + term


def wgan_generator_loss(fake_scores: torch.Tensor) -> torch.Tensor:
    """Generator side of eq. (11): -E[D(fake)]. ``fake_scores`` (B,) or (B, 1) = critic(decoded)."""
    return -fake_scores.mean()
