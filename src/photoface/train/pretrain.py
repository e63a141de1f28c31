"""Stage 0: pretrain the GCN decoders on samples of the linear face model, before any photo.

The encoder of a fresh run regresses codes for a decoder whose code space means nothing yet, and
within a CPU budget the two never meet (docs/training.md). Stage 0 gives the decoders a code space
that already means faces: codes are the linear model's own coefficients placed in the code
vectors by a fixed map (:func:`photoface.nn.code_map.linear_codes`), and the decoders learn to reproduce the linear
model's shapes and albedos from them. No CNN, no renderer: one step is a decoder forward and
backward (about 0.1 s for the 5k-vertex demo mesh at batch 8 on one core).

Code map (``id_dim`` = D, ``exp_dim`` = E; K, L, M the model's identity, expression and texture
coefficient counts)::

    c_id[:min(K, D)]            = alpha_id              (N(0, 1) draws, as in MorphableModel.sample)
    c_id[K : K + min(M, D - K)] = beta[:D - K]          (the leading texture coefficients)
    c_exp[:min(L, E)]           = alpha_exp

The shape decoder is trained on ``f_shape([c_id, c_exp]) ≈ mean + A_id alpha_id + A_exp alpha_exp``
(L1, mm per vertex), the albedo decoder on ``f_albedo(c_id) ≈ clamp(tex_mean + A_tex beta)``
restricted to the texture coefficients that fit into c_id. Code entries beyond the map stay 0.

How this relates to the paper: its decoders learn the face space only from photos, kept plausible
by the adversarial loss (eq. 11) against linear-model samples. Stage 0 uses the same linear-model
samples, but as direct targets, before training on photos; the adversarial term still acts during
stages 1 and 2. The ``paper`` preset has ``schedule.stage0_steps = 0``.

Determinism: every draw comes from a generator seeded by ``seed``; stage 0 changes no global RNG
state, and runs only at the start of a fresh run (its result is in every later checkpoint).
"""

from __future__ import annotations

import torch

from photoface.nn.code_map import linear_codes, linear_targets


def pretrain_decoders(net, face_model, steps: int, batch: int = 8, lr: float = 1e-3, seed: int = 0,
                      albedo: bool = True, log=None) -> dict[str, float]:
    """Train ``net.shape_decoder`` (and ``net.albedo_decoder``) for ``steps`` Adam steps on
    linear-model samples (module docstring).

    Args:
        net: a :class:`photoface.nn.FaceNet`; only its decoders change.
        face_model: the run's ``MorphableModel`` (on the decoders' device).
        steps, batch, lr: Adam steps, samples per step, learning rate.
        seed: seed of the coefficient draws.
        albedo: also train the albedo decoder.
        log: optional callable(str) for progress lines.

    Returns:
        {"shape_mm": mean L1 (mm) of the last tenth of the steps, "albedo": the same for albedo,
         "steps": steps}.
    """
    if steps <= 0:
        return {"steps": 0}
    id_dim, exp_dim = net.shape_decoder.id_dim, net.shape_decoder.exp_dim
    params = list(net.shape_decoder.parameters()) + (list(net.albedo_decoder.parameters()) if albedo else [])
    opt = torch.optim.Adam(params, lr=lr)
    g = torch.Generator().manual_seed(int(seed) * 7_919 + 17)
    tail = max(1, steps // 10)
    shape_hist: list[float] = []
    albedo_hist: list[float] = []
    was_training = net.training
    net.train()
    for step in range(steps):
        coeffs = face_model.sample(batch, generator=g)
        c_id, c_exp = linear_codes(coeffs, id_dim, exp_dim)
        with torch.no_grad():
            t_shape, t_albedo = linear_targets(face_model, coeffs, id_dim)
        loss_shape = (net.decode_shape(c_id, c_exp) - t_shape).abs().sum(-1).mean()
        loss = loss_shape
        if albedo:
            loss_albedo = (net.decode_albedo(c_id) - t_albedo).abs().mean()
            loss = loss + 10.0 * loss_albedo  # albedo errors are ~0.05, shape errors ~1 mm
            albedo_hist.append(float(loss_albedo.detach()))
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        shape_hist.append(float(loss_shape.detach()))
        if log is not None and (step + 1) % max(1, steps // 5) == 0:
            log(f"stage 0 step {step + 1}/{steps}: shape L1 {shape_hist[-1]:.3f} mm")
    net.train(was_training)
    out = {"steps": steps, "shape_mm": sum(shape_hist[-tail:]) / tail}
    if albedo:
        out["albedo"] = sum(albedo_hist[-tail:]) / tail
    return out

