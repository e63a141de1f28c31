"""The fixed map between the linear face model's coefficients and the network's codes.

Stage 0 (:mod:`photoface.train.pretrain`) trains the decoders on it, and the shape decoder's
optional linear path (``ShapeDecoder(linear_basis=...)``) starts at it. With ``id_dim`` = D,
``exp_dim`` = E and the model's K identity, L expression and M texture coefficients::

    c_id[:min(K, D)]            = alpha_id
    c_id[K : K + min(M, D - K)] = beta[:D - K]          (the leading texture coefficients)
    c_exp[:min(L, E)]           = alpha_exp

Code entries beyond the map are 0. The face model enters through its arrays and methods
(``shape``, ``albedo``, ``id_basis``, ``exp_basis``, ``num_vertices``), e.g. a
``photoface.facemodel.MorphableModel``; coefficients through ``alpha_id`` (B, K), ``alpha_exp``
(B, L) and ``beta`` (B, M) attributes, e.g. ``MorphableModel.sample``'s.
"""

from __future__ import annotations

import torch


def linear_codes(coeffs, id_dim: int, exp_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Coefficients (alpha_id (B, K), alpha_exp (B, L), beta (B, M)) → (c_id (B, D), c_exp (B, E))
    by the fixed map of the module docstring."""
    a_id, a_exp, beta = coeffs.alpha_id, coeffs.alpha_exp, coeffs.beta
    b = a_id.shape[0]
    c_id = a_id.new_zeros(b, id_dim)
    c_exp = a_exp.new_zeros(b, exp_dim)
    k = min(a_id.shape[1], id_dim)
    c_id[:, :k] = a_id[:, :k]
    m = min(beta.shape[1], id_dim - k)
    if m > 0:
        c_id[:, k:k + m] = beta[:, :m]
    e = min(a_exp.shape[1], exp_dim)
    c_exp[:, :e] = a_exp[:, :e]
    return c_id, c_exp


def linear_targets(face_model, coeffs, id_dim: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The linear model's shapes (B, V, 3) mm and albedos (B, V, 3) in [0, 1] for the part of
    ``coeffs`` that :func:`linear_codes` keeps."""
    k = min(coeffs.alpha_id.shape[1], id_dim)
    m = max(0, min(coeffs.beta.shape[1], id_dim - k))
    shape = face_model.shape(coeffs.alpha_id[:, :k], coeffs.alpha_exp)
    albedo = face_model.albedo(coeffs.beta[:, :m]) if m > 0 else face_model.albedo().expand(len(shape), -1, -1)
    return shape, albedo


def linear_basis(face_model, id_dim: int, exp_dim: int) -> torch.Tensor:
    """(id_dim + exp_dim, V, 3) mm per code unit: the linear model's shape basis placed by the code
    map of :func:`linear_codes` (texture entries of c_id and unmapped entries are 0), so that
    ``mean + Σ_j c_j basis_j`` is the linear model's shape of the coefficients the codes hold."""
    v = face_model.num_vertices
    out = torch.zeros(id_dim + exp_dim, v, 3, dtype=torch.float32)
    id_b = face_model.id_basis.detach().float().cpu().reshape(-1, v, 3)
    exp_b = face_model.exp_basis.detach().float().cpu().reshape(-1, v, 3)
    k, e = min(len(id_b), id_dim), min(len(exp_b), exp_dim)
    out[:k] = id_b[:k]
    out[id_dim:id_dim + e] = exp_b[:e]
    return out
