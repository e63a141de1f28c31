"""Stage 1 of the fitter: all photos of one person fitted to their 2-D points with ONE identity.

MAP objective (float64), B photos, shared identity α (K), per photo b expression e_b (L) and pose::

    Σ_b Σ_k w_bk ‖Π(pose_b, mean_k' + A_id,k' α + A_exp,k' e_b) − u_bk‖² / σ_b²  +  λ_id ‖α‖²  +  λ_exp Σ_b ‖e_b‖²

over the N points of ``fit.point_vertices.FitPoints`` (the 68 landmarks, and MediaPipe's points
where the photos have them). k' is point k's vertex in photo b: fixed, except the outline points
(jaw, face oval) of turned faces, which are re-picked on the silhouette before every iteration
(``photoface.fit.contour``). σ_b = ``sigma`` · sqrt(w·h) of photo b's 68-landmark box.
With one photo this is exactly the per-photo fit of
``photoface.fit.landmark_fit`` plus the contour.

Solver: Levenberg-Marquardt (Marquardt's diagonal damping, one damping factor per person). The
normal equations have an arrow shape: the identity block couples every photo, each photo's
(L + 6) block only itself. The photo blocks are eliminated first (Schur complement, a batched
(L+6)² solve), leaving a K×K system, so the cost grows linearly with the number of photos and a
person with hundreds of photos needs no (K + B(L+6))² matrix. Expression coefficients are
projected onto the model's ``exp_bounds`` after each step (blendshape weights onto [0, 1],
FLAME's jaw opening onto [0, inf)). Pose parameters: pitch, yaw, roll (degrees), log f, tx, ty (px).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from photoface.fit.point_vertices import NUM_IBUG, FitPoints
from photoface.render.camera import project, rotation_matrix

_FLIP = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]], dtype=torch.float64)  # Pr: drop z, y down


@dataclass
class JointLandmarkFit:
    """alpha_id (K,), alpha_exp (B, L), pose (B, 6) physical, vertices (B, N) long (the point
    vertices used last), landmarks2d (B, N, 2) px, rms_px (B,) weighted RMS of the 68 landmarks, cost (float)."""

    alpha_id: np.ndarray
    alpha_exp: np.ndarray
    pose: np.ndarray
    vertices: np.ndarray
    landmarks2d: np.ndarray
    rms_px: np.ndarray
    cost: float


def landmark_sigma_px(landmarks: torch.Tensor, sigma: float) -> torch.Tensor:
    """(B,) σ in pixels: ``sigma`` · sqrt(w·h) of each photo's (B, 68, 2) landmark box (the first
    68 points when more are given)."""
    landmarks = landmarks[:, :NUM_IBUG]
    box = (landmarks.amax(1) - landmarks.amin(1)).clamp_min(1e-6)
    return sigma * torch.sqrt(box[:, 0] * box[:, 1])


def fit_joint_landmarks(face_model, landmarks, weights, alpha_id, alpha_exp, pose, *, sigma: float,
                        id_prior: float, exp_prior: float, iterations: int, points: FitPoints,
                        contour_min_yaw: float) -> JointLandmarkFit:
    """Refine a person's initial fit (module docstring).

    Args:
        face_model: ``MorphableModel``.
        landmarks: (B, N, 2) px. weights: (B, N) ≥ 0 (visibility × per-point weight).
        alpha_id: (K,) initial identity. alpha_exp: (B, L) initial expressions. pose: (B, 6) physical.
        points: the points' vertices and contour lines. Other arguments: module docstring.
    """
    f64 = torch.float64
    u = torch.as_tensor(np.asarray(landmarks), dtype=f64)
    b, n = u.shape[:2]
    w = torch.as_tensor(np.asarray(weights), dtype=f64)
    mean = face_model.mean.detach().cpu().to(f64)
    a_id = face_model.id_basis.detach().cpu().to(f64)
    a_exp = face_model.exp_basis.detach().cpu().to(f64)
    k, e = a_id.shape[0], a_exp.shape[0]
    base = points.vertices.cpu()
    exp_bounds = face_model.exp_bounds.detach().cpu().to(f64)
    lw = torch.sqrt(w) / landmark_sigma_px(u, sigma)[:, None]  # (B, N)
    sq_id, sq_exp = float(np.sqrt(id_prior)), float(np.sqrt(exp_prior))
    line_idx = None if points.lines is None else points.lines.cpu()

    g = torch.as_tensor(np.asarray(alpha_id), dtype=f64).reshape(k).clone()
    pose = torch.as_tensor(np.asarray(pose), dtype=f64)
    loc = torch.cat([torch.as_tensor(np.asarray(alpha_exp), dtype=f64).reshape(b, e), pose[:, :3],
                     torch.log(pose[:, 3:4]), pose[:, 4:]], 1)

    def physical(loc):
        return torch.cat([loc[:, e:e + 3], torch.exp(loc[:, e + 3:e + 4]), loc[:, e + 4:]], 1)

    gathered: dict = {}

    def rows_of(idx):
        """mean (B, n, 3), identity (K, B, n, 3) and expression (L, B, n, 3) rows of the vertices
        idx (B, n), gathered once per idx: with MediaPipe's ~500 points the gathers cost more
        than the rest of an iteration, and idx changes once per iteration."""
        if gathered.get("idx") is not idx:
            gathered.update(idx=idx, rows=(mean[idx], a_id[:, idx], a_exp[:, idx]))
        return gathered["rows"]

    def positions(g, loc, idx):
        """(B, n, 3) model-space positions of the vertices idx (B, n)."""
        m_rows, id_rows, exp_rows = rows_of(idx)
        return m_rows + torch.einsum("k,kbnc->bnc", g, id_rows) + torch.einsum("bl,lbnc->bnc", loc[:, :e], exp_rows)

    fixed = base.expand(b, -1)

    def select(g, loc):
        if line_idx is None:
            return fixed
        idx = line_idx.reshape(1, -1).expand(b, -1)
        phys = physical(loc)
        cam = positions(g, loc, idx) @ rotation_matrix(torch.deg2rad(phys[:, :3])).transpose(1, 2)
        full = torch.zeros(b, int(max(line_idx.max(), base.max())) + 1, 3, dtype=f64)
        full[torch.arange(b)[:, None], idx] = cam
        return points.pick(full, phys[:, 1], contour_min_yaw)

    def residual(g, loc, idx):
        """point residuals (B, 2N), prior residuals: identity (K,), expressions (B, L)."""
        xy = project(positions(g, loc, idx), physical(loc))[..., :2]
        return ((xy - u) * lw[..., None]).reshape(b, -1), sq_id * g, sq_exp * loc[:, :e]

    def cost_of(r):
        return float((r[0] ** 2).sum() + (r[1] ** 2).sum() + (r[2] ** 2).sum())

    def jacobian(g, loc, idx):
        """J_id (B, 2N, K), J_loc (B, 2N, L + 6) of the point residuals."""
        phys = physical(loc)
        pts = positions(g, loc, idx)
        ang = torch.deg2rad(phys[:, :3])
        f = phys[:, 3, None, None]
        m = f * _FLIP @ rotation_matrix(ang)  # (B, 2, 3)
        _, id_rows, exp_rows = rows_of(idx)
        j_id = torch.einsum("bij,kbvj->bvik", m, id_rows)
        j_exp = torch.einsum("bij,lbvj->bvil", m, exp_rows)
        h = 1e-6
        j_ang = []
        for c in range(3):
            d = torch.zeros(3, dtype=f64)
            d[c] = h
            d_rot = (rotation_matrix(ang + d) - rotation_matrix(ang - d)) / (2 * h)
            j_ang.append(torch.einsum("bij,bvj->bvi", f * _FLIP @ d_rot, pts) * (np.pi / 180.0))
        j_f = torch.einsum("bij,bvj->bvi", m, pts)[..., None]
        j_t = torch.eye(2, dtype=f64).expand(b, n, 2, 2)
        scale = lw[..., None, None]
        j_loc = torch.cat([j_exp, torch.stack(j_ang, -1), j_f, j_t], -1) * scale
        return (j_id * scale).reshape(b, 2 * n, k), j_loc.reshape(b, 2 * n, e + 6)

    lo = torch.full((e + 6,), -torch.inf, dtype=f64)
    hi = torch.full((e + 6,), torch.inf, dtype=f64)
    lo[:e], hi[:e] = exp_bounds[:, 0], exp_bounds[:, 1]
    eye_k = torch.eye(k, dtype=f64)
    prior_loc = torch.zeros(e + 6, dtype=f64)
    prior_loc[:e] = exp_prior
    mu = 1e-3
    idx = select(g, loc)
    r = residual(g, loc, idx)
    cost = cost_of(r)
    for _ in range(iterations):
        idx = select(g, loc)
        r = residual(g, loc, idx)
        cost = cost_of(r)
        j_id, j_loc = jacobian(g, loc, idx)
        h_gg = torch.einsum("bri,brj->ij", j_id, j_id) + id_prior * eye_k
        h_gl = torch.einsum("bri,brj->bij", j_id, j_loc)  # (B, K, L+6)
        h_ll = j_loc.transpose(1, 2) @ j_loc + torch.diag_embed(prior_loc).expand(b, -1, -1)
        grad_g = torch.einsum("bri,br->i", j_id, r[0]) + sq_id * r[1]
        grad_l = torch.einsum("bri,br->bi", j_loc, r[0])
        grad_l[:, :e] += sq_exp * r[2]
        for _attempt in range(8):
            dg = h_gg.diagonal() * (1.0 + mu) + 1e-9 * mu
            hg = h_gg - torch.diag(h_gg.diagonal()) + torch.diag(dg)
            dl = torch.diagonal(h_ll, dim1=1, dim2=2) * (1.0 + mu) + 1e-9 * mu
            hl = h_ll - torch.diag_embed(torch.diagonal(h_ll, dim1=1, dim2=2)) + torch.diag_embed(dl)
            hl_inv_glt = torch.linalg.solve(hl, h_gl.transpose(1, 2))  # (B, L+6, K)
            hl_inv_grad = torch.linalg.solve(hl, grad_l[..., None])[..., 0]  # (B, L+6)
            schur = hg - torch.einsum("bkl,blj->kj", h_gl, hl_inv_glt)
            rhs = -grad_g + torch.einsum("bkl,bl->k", h_gl, hl_inv_grad)
            step_g = torch.linalg.solve(schur, rhs)
            step_l = -hl_inv_grad - torch.einsum("blk,k->bl", hl_inv_glt, step_g)
            cand_g = g + step_g
            cand_l = torch.minimum(torch.maximum(loc + step_l, lo), hi)
            c_new = cost_of(residual(cand_g, cand_l, idx))
            if np.isfinite(c_new) and c_new < cost:
                g, loc, cost = cand_g, cand_l, c_new
                mu = max(mu * 0.3, 1e-9)
                break
            mu = min(mu * 10.0, 1e9)
        else:
            break  # no damping gives a descent step: converged for this precision
    idx = select(g, loc)
    phys = physical(loc)
    xy = project(positions(g, loc, idx), phys)[..., :2]
    w68, d68 = w[:, :NUM_IBUG], ((xy - u) ** 2).sum(-1)[:, :NUM_IBUG]
    rms = torch.sqrt((d68 * w68).sum(1) / w68.sum(1).clamp_min(1e-9))
    return JointLandmarkFit(g.numpy(), loc[:, :e].numpy(), phys.numpy(), idx.numpy(), xy.numpy(), rms.numpy(),
                            cost_of(residual(g, loc, idx)))
