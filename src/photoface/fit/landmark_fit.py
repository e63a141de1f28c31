"""Per-photo landmark fitting of a linear face model: ``fit_landmarks`` (the ``landmark_fit`` baseline).

The fit (:func:`fit_landmarks`) is a maximum-a-posteriori estimate: it minimises ::

    Σ_k w_k ‖Π(pose, mean_k + A_id,k α_id + A_exp,k α_exp) − u_k‖² / σ²
        + λ_id ‖α_id‖² + λ_exp ‖α_exp‖²

with Π the camera of ``photoface.render.camera`` (weak perspective, angles in degrees, f px/mm,
t px), u_k the landmarks in pixels and σ = ``sigma`` · sqrt(w·h) of the landmark box (the landmark
noise, 2 % of the face size by default). Coefficients are standard normal for a PCA model, hence
the unit priors. Expression coefficients with bounds (``MorphableModel.exp_bounds``: blendshape
weights in [0, 1], FLAME's jaw opening >= 0) are kept inside them by projection after each step,
and the prior pulls them towards 0 (neutral, always inside).
Landmarks are fixed model vertices (``landmarks68``): jaw-line landmarks that follow the
silhouette in a turned face are only approximately modelled, as in most landmark-fitting baselines.

Solver: Levenberg-Marquardt with Marquardt's diagonal scaling, batched over photos, with the
analytic Jacobian of the 2N + K + L residuals (N = 68 landmarks, or more points:
``fit.point_vertices``; the projection is linear in the coefficients, rotation derivatives by
central differences of R), started from a 2D similarity fit of the mean
face (scale, roll, translation) at three yaws (−40°, 0°, +40°), and from a detector's pose and
expression where there is one (``fit.detector_start``). After 10 iterations only the start
with the lowest cost continues, which keeps turned faces out of the mirrored local minimum at a
fraction of the cost of finishing all three.
Why our own: scipy's ``least_squares`` solves one photo at a time in Python (hundreds of photos
per benchmark), and the problem is small and smooth enough for plain LM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from photoface.data.prepare.align import similarity_transform
from photoface.render.camera import project, rotation_matrix


@dataclass
class LandmarkFitResult:
    """Per photo: alpha_id (N, K), alpha_exp (N, L), pose (N, 6) physical (degrees, px/mm, px),
    landmarks2d (N, 68, 2) px of the fitted face, rms_px (N,) landmark RMS residual in pixels."""

    alpha_id: np.ndarray
    alpha_exp: np.ndarray
    pose: np.ndarray
    landmarks2d: np.ndarray
    rms_px: np.ndarray


def _initial_pose(mean_lm: np.ndarray, lm: np.ndarray, yaw_deg: float) -> np.ndarray:
    """(6,) pose from a 2D similarity of the frontal mean-face landmarks (x, −y) mm onto ``lm`` px."""
    a = similarity_transform(np.stack([mean_lm[:, 0], -mean_lm[:, 1]], axis=1), lm)
    f = float(np.sqrt(abs(np.linalg.det(a[:, :2]))))
    # a maps (X, −Y) by s·R(φ); the camera's positive roll is counter-clockwise on screen = R(−φ)
    roll = -np.degrees(np.arctan2(a[1, 0], a[0, 0]))
    return np.array([0.0, yaw_deg, roll, f, a[0, 2], a[1, 2]])


def _pose_given_angles(points: np.ndarray, lm: np.ndarray, angles: np.ndarray) -> np.ndarray:
    """(6,) pose with the given (3,) angles (degrees) and the least-squares f and shift that
    project ``points`` (N, 3) mm onto ``lm`` (N, 2) px (linear in them once R is fixed)."""
    rot = rotation_matrix(torch.deg2rad(torch.as_tensor(angles, dtype=torch.float64))[None])[0].numpy()
    cam = points @ rot.T
    flat = np.stack([cam[:, 0], -cam[:, 1]], axis=1)
    fc, tc = flat - flat.mean(0), lm - lm.mean(0)
    f = max(float((fc * tc).sum() / max((fc * fc).sum(), 1e-12)), 1e-6)
    return np.r_[angles, f, lm.mean(0) - f * flat.mean(0)]


def fit_landmarks(
    face_model,
    landmarks,
    weights=None,
    sigma: float = 0.02,
    id_prior: float = 1.0,
    exp_prior: float = 1.0,
    iterations: int = 30,
    yaw_starts: tuple[float, ...] = (-40.0, 0.0, 40.0),
    n_id: int | None = None,
    n_exp: int | None = None,
    vertex_ids=None,
    detector_start=None,
) -> LandmarkFitResult:
    """Fit the linear face model and a weak-perspective pose to 68 landmarks (module docstring).

    Args:
        face_model: a :class:`~photoface.facemodel.MorphableModel`.
        landmarks: (N, 68, 2) pixels (project convention).
        weights: (68,) or (N, 68) non-negative landmark weights (e.g. visibility); default 1.
        sigma: landmark noise as a fraction of sqrt(w·h) of each photo's landmark box.
        id_prior, exp_prior: λ of the coefficient priors (0 = none).
        iterations: Levenberg-Marquardt iterations: the first 10 from every start, the rest from
            the best start of each photo.
        yaw_starts: initial yaws in degrees.
        n_id, n_exp: fit only the first coefficients (default all).
        vertex_ids: (N,) model vertices of N points when ``landmarks`` is (N_photos, N, 2) with
            more than the 68 landmarks (the first 68 must be them: ``fit.point_vertices``).
        detector_start: a further start per photo from a detector (``fit.detector_start``):
            (angles (N, 3) degrees, expressions (N, L)); its scale and shift are the least-squares
            ones for the mean face at those angles. It competes with the yaw starts on cost.

    Returns:
        :class:`LandmarkFitResult`.
    """
    threads = torch.get_num_threads()
    # one thread: these are many tiny tensor ops; on a busy machine, waiting for a second thread
    # cost 30x the work in our measurements (as in photoface.data.synth)
    torch.set_num_threads(1)
    try:
        return _fit(face_model, landmarks, weights, sigma, id_prior, exp_prior, iterations, yaw_starts, n_id, n_exp,
                    vertex_ids, detector_start)
    finally:
        torch.set_num_threads(threads)


def _fit(face_model, landmarks, weights, sigma, id_prior, exp_prior, iterations, yaw_starts, n_id, n_exp,
         vertex_ids=None, detector_start=None):
    lm_idx = face_model.landmarks68.cpu().long() if vertex_ids is None else torch.as_tensor(vertex_ids).long()
    p_n = len(lm_idx)  # points per photo
    u = torch.as_tensor(np.asarray(landmarks, np.float64)).reshape(-1, p_n, 2)
    n = len(u)
    k = face_model.n_id if n_id is None else min(int(n_id), face_model.n_id)
    e = face_model.n_exp if n_exp is None else min(int(n_exp), face_model.n_exp)
    mean = face_model.mean.detach().cpu().double()[lm_idx]  # (N, 3)
    a_id = face_model.id_basis.detach().cpu().double()[:k, lm_idx]  # (K, N, 3)
    a_exp = face_model.exp_basis.detach().cpu().double()[:e, lm_idx]  # (L, N, 3)
    exp_bounds = torch.as_tensor(np.asarray(face_model.exp_bounds.cpu())[:e], dtype=torch.float64)
    w = torch.ones(n, p_n, dtype=torch.float64) if weights is None else \
        torch.as_tensor(np.broadcast_to(np.asarray(weights, np.float64), (n, p_n)).copy())
    box = (u[:, :68].amax(1) - u[:, :68].amin(1)).clamp_min(1e-6)
    sig = sigma * torch.sqrt(box[:, 0] * box[:, 1])  # (n,) px, from the 68 landmarks' box
    sw = torch.sqrt(w) / sig[:, None]  # (n, N)
    sq_id, sq_exp = float(np.sqrt(id_prior)), float(np.sqrt(exp_prior))

    def unpack(p):
        coef_id, coef_exp, pose = p[:, :k], p[:, k:k + e], p[:, k + e:]
        pts = mean + torch.einsum("nk,kvc->nvc", coef_id, a_id) + torch.einsum("nl,lvc->nvc", coef_exp, a_exp)
        phys = torch.cat([pose[:, :3], torch.exp(pose[:, 3:4]), pose[:, 4:]], 1)
        return coef_id, coef_exp, pts, phys

    def residual(p, target, lw):
        """(B, 2N + K + L) weighted residuals."""
        coef_id, coef_exp, pts, phys = unpack(p)
        xy = project(pts, phys)[..., :2]
        return torch.cat([((xy - target) * lw[..., None]).reshape(len(p), -1), sq_id * coef_id,
                          sq_exp * coef_exp], 1)

    prior_jac = torch.zeros(k + e, k + e + 6, dtype=torch.float64)
    prior_jac[:k, :k] = sq_id * torch.eye(k, dtype=torch.float64)
    prior_jac[k:, k:k + e] = sq_exp * torch.eye(e, dtype=torch.float64)
    prior_jtj = prior_jac.T @ prior_jac
    flip = torch.tensor([[1.0, 0.0, 0.0], [0.0, -1.0, 0.0]], dtype=torch.float64)  # Pr: drop z, y down

    def jacobian(p, lw):
        """(B, 2N, P) analytic Jacobian of the landmark rows of ``residual`` (the prior rows are
        ``prior_jac``): the projection is linear in the coefficients, f enters as exp(log f), the
        angles through dR/dθ (central differences of R)."""
        b = len(p)
        _, _, pts, phys = unpack(p)
        ang = torch.deg2rad(phys[:, :3])
        rot = rotation_matrix(ang)  # (B, 3, 3)
        f = phys[:, 3, None, None]
        m = f * flip @ rot  # (B, 2, 3)
        j_id = torch.einsum("bij,kvj->bvik", m, a_id)  # (B, N, 2, K)
        j_exp = torch.einsum("bij,lvj->bvil", m, a_exp)
        h = 1e-6
        j_ang = []
        for c in range(3):
            d = torch.zeros(3, dtype=torch.float64)
            d[c] = h
            d_rot = (rotation_matrix(ang + d) - rotation_matrix(ang - d)) / (2 * h)  # per radian
            j_ang.append(torch.einsum("bij,bvj->bvi", f * flip @ d_rot, pts) * (np.pi / 180.0))
        j_f = torch.einsum("bij,bvj->bvi", m, pts)[..., None]  # d/d log f
        j_t = torch.eye(2, dtype=torch.float64).expand(b, p_n, 2, 2)
        j_lm = torch.cat([j_id, j_exp, torch.stack(j_ang, -1), j_f, j_t], -1) * lw[..., None, None]
        return j_lm.reshape(b, 2 * p_n, -1)

    starts = []
    for yaw in yaw_starts:
        p0 = torch.zeros(n, k + e + 6, dtype=torch.float64)
        for i in range(n):
            pose = _initial_pose(mean.numpy(), u[i].numpy(), yaw)
            p0[i, k + e:] = torch.as_tensor(np.r_[pose[:3], np.log(pose[3]), pose[4:]])
        starts.append(p0)
    if detector_start is not None:
        angles, expressions = (torch.as_tensor(np.asarray(a, np.float64)) for a in detector_start)
        p0 = starts[0].clone()
        p0[:, k:k + e] = expressions[:, :e]
        shaped = (mean + torch.einsum("nl,lvc->nvc", p0[:, k:k + e], a_exp)).numpy()
        for i in range(n):
            pose = _pose_given_angles(shaped[i], u[i].numpy(), angles[i].numpy())
            p0[i, k + e:] = torch.as_tensor(np.r_[pose[:3], np.log(pose[3]), pose[4:]])
        starts.append(p0)
    p = torch.cat(starts)
    target, lw = u.repeat(len(starts), 1, 1), sw.repeat(len(starts), 1)
    lo = torch.full_like(p, -torch.inf)
    hi = torch.full_like(p, torch.inf)
    lo[:, k:k + e], hi[:, k:k + e] = exp_bounds[:, 0], exp_bounds[:, 1]

    def solve(p, target, lw, steps):
        """``steps`` Levenberg-Marquardt iterations; returns (p, cost)."""
        r = residual(p, target, lw)
        cost = (r**2).sum(1)
        mu = torch.full((len(p),), 1e-3, dtype=torch.float64)
        for _ in range(steps):
            j = jacobian(p, lw)  # (B, 2N, P); the prior rows are the constant diagonal added below
            jtj = j.transpose(1, 2) @ j + prior_jtj
            g = (j.transpose(1, 2) @ r[:, :2 * p_n, None])[..., 0] + r[:, 2 * p_n:] @ prior_jac
            diag = torch.diagonal(jtj, dim1=1, dim2=2)
            diag += mu[:, None] * diag.clamp_min(1e-9)  # Marquardt: damping scaled by the diagonal
            chol, info = torch.linalg.cholesky_ex(jtj)
            step = -torch.cholesky_solve(g[..., None], chol)[..., 0]
            step = torch.where((info == 0)[:, None], step, torch.zeros_like(step))
            cand = torch.minimum(torch.maximum(p + step, lo[: len(p)]), hi[: len(p)])
            r_new = residual(cand, target, lw)
            c_new = (r_new**2).sum(1)
            better = c_new < cost
            p = torch.where(better[:, None], cand, p)
            r = torch.where(better[:, None], r_new, r)
            cost = torch.where(better, c_new, cost)
            mu = torch.where(better, (mu * 0.3).clamp_min(1e-9), (mu * 10.0).clamp_max(1e9))
        return p, cost

    # every start a few iterations, then only the best start of each photo to the end
    first = min(iterations, 10)
    p, cost = solve(p, target, lw, first)
    best = cost.reshape(len(starts), n).argmin(0)
    p = p.reshape(len(starts), n, -1)[best, torch.arange(n)]
    p, _ = solve(p, u, sw, iterations - first)

    coef_id, coef_exp, pts, phys = unpack(p)
    xy = project(pts, phys)[..., :2]
    w68, d68 = w[:, :68], ((xy - u) ** 2).sum(-1)[:, :68]
    rms = torch.sqrt((d68 * w68).sum(1) / w68.sum(1).clamp_min(1e-9))
    full_id = torch.zeros(n, face_model.n_id, dtype=torch.float64)
    full_exp = torch.zeros(n, face_model.n_exp, dtype=torch.float64)
    full_id[:, :k], full_exp[:, :e] = coef_id, coef_exp
    return LandmarkFitResult(full_id.numpy(), full_exp.numpy(), phys.numpy(), xy.numpy(), rms.numpy())
