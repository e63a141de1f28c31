"""The training objective: a batch's inputs, its augmentation, and every loss term with its weight.

This module only assembles: each loss itself is a pure function of :mod:`photoface.losses`.

Batch layout (from :class:`photoface.data.sampler.HybridBatchSampler`): the first ``P·K`` rows are
identity groups, the last ``2Q`` rows labeled pairs ``A0, B0, A1, B1, ...``. Both photos of a pair
share one flip (see :mod:`photoface.data.augment`).

Terms (config ``loss.*``; a weight of 0 switches a term off and it is neither computed nor logged):

=================  ============================================================================
recognition        cross-entropy of the identity classifier on c_id, every row (eq. 4)
center             center loss of c_id against per-identity centers, every row; it enters the
                   total as ``recognition · center · L_center`` (λ_center of eq. 4)
photometric        eq. 5 on M = rendered coverage ∧ dataset face mask, plus
                   ``photometric_gdl`` × the image gradient-difference term
landmark           eq. 6 on the dataset's visible landmarks, plus ``landmark_gdl`` × the pairwise
                   landmark-distance term
shape              eq. 7, labeled rows, target = model.shape(alpha_id, alpha_exp) (mirrored for
                   flipped rows; expressions clamped to the model's ``exp_bounds``)
pairwise_shape     eq. 8, pairs: f_shape([c_id,A, c_exp,B]) against mean + A_id α_id,A + A_exp α_exp,B
                   (expressions clamped to the model's ``exp_bounds``)
smooth             eq. 9 against the template (the model's mean), or ``smooth_kind=laplacian``
albedo_symmetry    eq. 10 through the face model's left/right vertex map
adversarial        eq. 11, generator side: −D(decoded shape)
=================  ============================================================================

Logged values are the unweighted terms; ``total`` is the weighted sum that is minimised.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from photoface import losses
from photoface.data.augment import apply_augmentation, draw_augmentation, mirror_shape
from photoface.facemodel.model import clamp_to_bounds
from photoface.run.config import DataConfig, LossConfig


@dataclass
class StepInputs:
    """One augmented batch on the training device.

    images (B, 3, S, S); masks (B, 1, S, S); landmarks (B, 68, 2) px; visible (B, 68) bool;
    labeled (B,) bool; alpha_id (B, K); alpha_exp (B, L); identity (B,) long; flip (B,) bool;
    pair_a, pair_b (Q,) long row indices of the pairs.
    """

    images: torch.Tensor
    masks: torch.Tensor
    landmarks: torch.Tensor
    visible: torch.Tensor
    labeled: torch.Tensor
    alpha_id: torch.Tensor
    alpha_exp: torch.Tensor
    identity: torch.Tensor
    flip: torch.Tensor
    pair_a: torch.Tensor
    pair_b: torch.Tensor


def prepare_inputs(
    batch: dict[str, torch.Tensor],
    grouped_size: int,
    pair_count: int,
    data_cfg: DataConfig,
    generator: torch.Generator,
    device: torch.device,
) -> StepInputs:
    """Augment a collated batch (on the CPU, with ``generator``) and move it to ``device``."""
    b = batch["image"].shape[0]
    pair_rows = torch.arange(2 * pair_count) + grouped_size
    groups = torch.arange(b)
    groups[pair_rows] = grouped_size + torch.arange(2 * pair_count) // 2  # a pair flips together
    aug = draw_augmentation(b, generator, data_cfg.flip_probability, tuple(data_cfg.scale_range), groups)
    images, masks, landmarks, visible, _ = apply_augmentation(
        aug, batch["image"], batch["mask"], batch["landmarks"], batch["visible"]
    )
    to = dict(device=device, non_blocking=True)
    return StepInputs(
        images=images.to(**to),
        masks=masks.to(**to),
        landmarks=landmarks.to(**to),
        visible=visible.to(**to),
        labeled=batch["labeled"].to(**to),
        alpha_id=batch["alpha_id"].to(**to),
        alpha_exp=batch["alpha_exp"].to(**to),
        identity=batch["identity"].to(**to),
        flip=aug.flip.to(**to),
        pair_a=pair_rows[0::2].to(device),
        pair_b=pair_rows[1::2].to(device),
    )


def _mirror_where(verts: torch.Tensor, flip: torch.Tensor, mirror: torch.Tensor) -> torch.Tensor:
    """Mirror the meshes of flipped rows: a flipped photo shows the mirrored face."""
    if not bool(flip.any()):
        return verts
    return torch.where(flip[:, None, None], mirror_shape(verts, mirror), verts)


def generator_losses(
    cfg: LossConfig,
    x: StepInputs,
    gen_out,
    face_model,
    nbr_mean: torch.Tensor,
    centers: torch.Tensor,
    critic: torch.nn.Module | None,
    image_size: int,
) -> dict[str, torch.Tensor]:
    """Every active loss term, unweighted.

    Args:
        cfg: loss weights and parameters.
        x: the batch.
        gen_out: the :class:`~photoface.train.build.GeneratorOutput` of the batch, rendered
            (``gen_out.net.render`` set): shape (B, V, 3) mm, the stage's albedo, id code (B, D),
            logits (B, N), pair_shape (Q, V, 3) mm, albedo_vertices (stage 2).
        face_model: the ``MorphableModel`` (targets, template, mirror map).
        nbr_mean: sparse (V, V) neighbour-mean operator of the template.
        centers: (N, D) identity centers.
        critic: the discriminator (its parameters frozen by the caller), or None.
        image_size: S in pixels.
    """
    out: dict[str, torch.Tensor] = {}
    net_out, render = gen_out.net, gen_out.net.render
    shape = net_out.shape
    if cfg.recognition > 0:
        out["recognition"] = losses.identity_cross_entropy(gen_out.logits, x.identity)
        if cfg.center > 0:
            out["center"] = losses.center_loss(net_out.id_code, x.identity, centers)
    if cfg.photometric > 0:
        term = losses.photometric_loss(render.image, x.images, render.mask, x.masks)
        if cfg.photometric_gdl > 0:
            term = term + cfg.photometric_gdl * losses.gradient_difference_loss(render.image, x.images, render.mask, x.masks)
        out["photometric"] = term
    if cfg.landmark > 0:
        pred = render.landmarks2d
        term = losses.landmark_loss(pred, x.landmarks, image_size, visible=x.visible)
        if cfg.landmark_gdl > 0:
            term = term + cfg.landmark_gdl * losses.landmark_gdl_loss(pred, x.landmarks, image_size, visible=x.visible)
        out["landmark"] = term
    mirror = face_model.mirror
    # labels' expressions mean something only inside the model's bounds (blendshapes in [0, 1], a jaw >= 0)
    bounds = face_model.exp_bounds
    if cfg.shape > 0 and bool(x.labeled.any()):
        rows = x.labeled.nonzero().squeeze(1)
        exp = x.alpha_exp[rows]
        target = face_model.shape(x.alpha_id[rows], clamp_to_bounds(exp, bounds[:exp.shape[1]]))
        out["shape"] = losses.shape_loss(shape[rows], _mirror_where(target, x.flip[rows], mirror))
    if cfg.pairwise_shape > 0 and len(x.pair_a) > 0:
        target = losses.swap_target_shape(face_model.mean, face_model.id_basis, face_model.exp_basis,
                                          x.alpha_id[x.pair_a], x.alpha_exp[x.pair_b], exp_bounds=bounds)
        out["pairwise_shape"] = losses.pairwise_shape_loss(gen_out.pair_shape, _mirror_where(target, x.flip[x.pair_a], mirror))
    if cfg.smooth > 0:
        if cfg.smooth_kind == "laplacian":
            out["smooth"] = losses.laplacian_smooth_loss(shape, nbr_mean)
        else:
            out["smooth"] = losses.smooth_loss(shape, face_model.mean, nbr_mean)
    if cfg.albedo_symmetry > 0:
        if net_out.albedo is not None:
            out["albedo_symmetry"] = losses.albedo_symmetry_loss(net_out.albedo, mirror)
        else:
            out["albedo_symmetry"] = losses.albedo_symmetry_loss(gen_out.albedo_vertices, mirror)
    if cfg.adversarial > 0 and critic is not None:
        out["adversarial"] = losses.wgan_generator_loss(critic(shape))
    return out


def term_weights(cfg: LossConfig) -> dict[str, float]:
    """The weight of every term in the total (center inside recognition, see module docstring)."""
    return {
        "recognition": cfg.recognition,
        "center": cfg.recognition * cfg.center,
        "photometric": cfg.photometric,
        "landmark": cfg.landmark,
        "shape": cfg.shape,
        "pairwise_shape": cfg.pairwise_shape,
        "smooth": cfg.smooth,
        "albedo_symmetry": cfg.albedo_symmetry,
        "adversarial": cfg.adversarial,
    }


def weighted_total(cfg: LossConfig, terms: dict[str, torch.Tensor]) -> torch.Tensor:
    """The minimised objective: Σ weight · term."""
    weights = term_weights(cfg)
    total = None
    for name, value in terms.items():
        part = weights[name] * value
        total = part if total is None else total + part
    if total is None:
        raise ValueError("every loss weight is 0: nothing to train")
    return total


def critic_loss(cfg: LossConfig, critic: torch.nn.Module, face_model, fake: torch.Tensor,
                generator: torch.Generator) -> torch.Tensor:
    """WGAN-div critic loss: real shapes sampled from the linear model (``MorphableModel.sample``:
    expressions inside its ``exp_bounds``, e.g. no jaw closed past neutral), fake = decoded shapes
    (detached)."""
    coeffs = face_model.sample(fake.shape[0], generator=generator)
    real = face_model.shape(coeffs.alpha_id, coeffs.alpha_exp).to(fake.dtype)
    return losses.wgan_div_critic_loss(critic, real, fake.detach(), cfg.wgan_div_k, cfg.wgan_div_p, generator=generator)
