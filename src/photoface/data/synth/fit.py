"""300W-LP-style labels for synthetic photos: the best linear-model fit of the true shape.

300W-LP's labels come from fitting a 3DMM to each photo; they are the closest thing the linear
model can express, never the person's real shape. We give labeled synthetic photos the same kind
of label: the identity and expression coefficients and the pose of the linear model that best
matches the TRUE posed shape (which includes the identity's nonlinear detail). The true shape
itself is never a label.

Objective, with the camera pose of the photo ``(R, f, t)`` and an unknown similarity
``x -> s·Q·x + τ`` in model space (mm) that absorbs any rigid part of the mismatch::

    min_{c, s, Q, τ}  ‖ s·Q·(mean + A c) + τ − S_true ‖²  +  λ ‖c‖²,    c = [alpha_id, alpha_exp]

solved by alternation (the Procrustes step is Umeyama's closed form, the coefficient step is
regularised least squares with a pre-factored normal matrix, λ = ``REGULARISATION`` mm², the
prior of standard-normal coefficients against about 1 mm of residual per coordinate). The
fitted pose is the photo's pose composed with the similarity::

    R_fit = R · Q,   f_fit = f · s,   t_fit = t + f · Pr · R · τ

Expression coefficients with bounds (``MorphableModel.exp_bounds``: blendshape weights in
[0, 1], FLAME's jaw opening >= 0) are clipped to them and the other coefficients (the identity
and any unbounded expression) re-solved with them fixed; a model without bounded coefficients
skips that step. Shapes: V vertices, K identity and L
expression coefficients; the normal matrix is factorised in float64 (torch), and the per-shape
products run in float64 through ``photoface.data.synth.exact``, whose bits do not depend on the
BLAS kernel (a float32 matrix product's did, which broke synth's same-bytes promise).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from photoface.data.synth import exact
from photoface.mesh.similarity import umeyama
from photoface.render.camera import euler_from_rotation, rotation_matrix

REGULARISATION = 1.0
"""λ in mm²: weight of ‖c‖² against the squared residual summed over all 3V coordinates."""


@dataclass
class LinearFit:
    """Result of ``LinearFitter.fit``.

    Attributes:
        alpha_id: (K,) float32. alpha_exp: (L,) float32.
        scale, rotation (3, 3), translation (3,): the similarity s, Q, τ (model space, mm).
        shape: (V, 3) float32 mm, the fitted linear shape ``mean + A c`` (canonical pose).
    """

    alpha_id: np.ndarray
    alpha_exp: np.ndarray
    scale: float
    rotation: np.ndarray
    translation: np.ndarray
    shape: np.ndarray


class LinearFitter:
    """Fits a face model's linear shape space to given shapes; build once per model.

    The per-shape products are elementwise numpy operations and pairwise sums
    (``photoface.data.synth.exact``): the same bits on every CPU kernel, and no BLAS threads that
    would oversubscribe the machine from every worker process.

    Args:
        model: a ``photoface.facemodel.MorphableModel``.
        regularisation: λ in mm².
        iterations: alternations between the coefficient and the similarity step.
    """

    def __init__(self, model, regularisation: float = REGULARISATION, iterations: int = 1):
        self.n_id, self.n_exp = model.n_id, model.n_exp
        self.bounds = model.exp_bounds.detach().cpu().double().numpy()
        self.bounded = np.flatnonzero(np.isfinite(self.bounds).any(axis=1))  # expression indices
        free = np.setdiff1d(np.arange(self.n_id + self.n_exp), self.n_id + self.bounded)
        self.mean = model.mean.detach().cpu().double().reshape(-1).numpy()
        a_id = model.id_basis.detach().cpu().double().reshape(self.n_id, -1)
        a_exp = model.exp_basis.detach().cpu().double().reshape(self.n_exp, -1)
        basis = torch.cat([a_id, a_exp])  # (K + L, 3V)
        # factorised once in float64 by torch (LAPACK); the per-shape products below are exact.py's
        self.solve = np.ascontiguousarray(self._prefactor(basis, regularisation).numpy())
        self.free = free
        self.solve_free = (np.ascontiguousarray(self._prefactor(basis[torch.as_tensor(free)], regularisation).numpy())
                           if self.bounded.size else None)
        self.basis = np.ascontiguousarray(basis.numpy())
        self.iterations = iterations

    @staticmethod
    def _prefactor(a: torch.Tensor, lam: float) -> torch.Tensor:
        """(k, 3V) matrix G with c = G r minimising ‖Aᵀc − r‖² + λ‖c‖²."""
        if a.shape[0] == 0:
            return torch.zeros_like(a)
        h = a @ a.T + lam * torch.eye(a.shape[0], dtype=a.dtype)
        return torch.linalg.solve(h, a)

    def _coefficients(self, target: np.ndarray) -> np.ndarray:
        """(K + L,) float64 coefficients of a (V, 3) target shape (mm)."""
        r = np.asarray(target, np.float64).reshape(-1) - self.mean
        c = exact.rows_dot(self.solve, r)
        if self.bounded.size:
            rows = self.n_id + self.bounded
            fixed = np.clip(c[rows], self.bounds[self.bounded, 0], self.bounds[self.bounded, 1])
            c = np.empty_like(c)
            c[rows] = fixed
            c[self.free] = exact.rows_dot(self.solve_free, r - exact.combine(fixed, self.basis[rows]))
        return c

    def _linear(self, c: np.ndarray) -> np.ndarray:
        return exact.combine(c, self.basis, self.mean).reshape(-1, 3)

    def fit(self, true_shape: np.ndarray) -> LinearFit:
        """Best linear fit of one (V, 3) true shape in mm (canonical pose)."""
        target = np.asarray(true_shape, np.float64)
        c = self._coefficients(target)
        lin = self._linear(c)
        s, q, tau = _similarity(lin, target)
        for _ in range(self.iterations):
            rigid_left = max(abs(s - 1.0), np.abs(q - np.eye(3)).max(), 0.01 * np.abs(tau).max())
            if rigid_left < 1e-5:
                break  # already at the fixed point: no rigid part to absorb
            c = self._coefficients(((target - tau) @ q) / s)
            lin = self._linear(c)
            s, q, tau = _similarity(lin, target)
        return LinearFit(
            alpha_id=c[: self.n_id].astype(np.float32), alpha_exp=c[self.n_id:].astype(np.float32),
            scale=s, rotation=q, translation=tau, shape=lin.astype(np.float32),
        )


def _similarity(src: np.ndarray, dst: np.ndarray) -> tuple[float, np.ndarray, np.ndarray]:
    t = umeyama(src, dst)
    return t.scale, t.rotation, t.translation


def fitted_pose(pose: np.ndarray, fit: LinearFit) -> np.ndarray:
    """Compose a photo's physical pose (6,) with the fit's similarity; returns the label pose
    (pitch, yaw, roll degrees, f px/mm, tx, ty px)."""
    pose = np.asarray(pose, np.float64)
    rot = rotation_matrix(torch.deg2rad(torch.from_numpy(pose[None, :3])))[0].numpy()
    r_fit = rot @ fit.rotation
    angles = torch.rad2deg(euler_from_rotation(torch.from_numpy(r_fit)[None]))[0].numpy()
    shift = pose[3] * (rot @ fit.translation)
    return np.array([angles[0], angles[1], angles[2], pose[3] * fit.scale,
                     pose[4] + shift[0], pose[5] - shift[1]], np.float64)
