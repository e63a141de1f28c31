"""Albedo of one face model carried onto another through their 68 landmarks.

A model without albedo modes (ICT-FaceKit, some BFM files) has one flat colour; whoever needs
albedo *variation* on it (the synthetic generator's identities) borrows the procedural model's
painted skin: its mean (skin, lips, brows, eyes, nostrils) and its PCA colour modes (skin tone,
undertone, redness, lip and brow colour, ...; ``facemodel/procedural/albedo.py``).

Transfer, from a source model S to a target model T:

1. warp S's mean shape onto T: a 3D thin-plate-spline (``scipy.interpolate.RBFInterpolator``,
   affine part included, light smoothing) fitted to the 68 landmark pairs, so eyes go to eyes
   and lips to lips whatever the two meshes' proportions;
2. for every vertex of T, the closest point on the warped S surface (exact nearest triangle,
   ``mesh.sampling.nearest_triangle``) and its barycentric weights;
3. T's mean albedo and modes there are S's, interpolated, with weight
   ``w = smoothstep(FAR, NEAR, distance)``: w = 1 within ``NEAR`` mm of the warped surface, 0
   beyond ``FAR`` mm (the back of a head, the neck, whatever S does not cover). Where w < 1 the
   mean falls back to T's own ``tex_mean`` and the modes fade out.

The modes stay standard-normal-coefficient modes of S (same count and order), so
``mean + Σ beta_m modes_m`` with ``beta ~ N(0, 1)`` varies like S's albedo does. Results are
computed in float64, the warped source on a 2^-12 mm grid (the thin-plate solve's last bits
depend on the BLAS kernel and must not change which triangle is nearest) and the results rounded
once onto a 2^-20 grid (``quantised``), so they have the same bits for any thread count and x86
BLAS kernel (tests/data/synth/test_synth_bits.py).
"""

from __future__ import annotations

import numpy as np
from scipy.interpolate import RBFInterpolator

from photoface.mesh.sampling import nearest_triangle

NEAR, FAR = 4.0, 12.0  # mm
SMOOTHING = 1.0  # thin-plate smoothing (mm²-ish): landmark placement differs between models
QUANTUM = 2.0 ** -20  # albedo units; ~1e-6, far below one step of an 8-bit image


def _smoothstep(edge0: float, edge1: float, x: np.ndarray) -> np.ndarray:
    t = np.clip((x - edge0) / (edge1 - edge0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def transfer_albedo(source, target) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Carry ``source``'s albedo mean and modes onto ``target``'s vertices (module docstring).

    Args:
        source, target: MorphableModel (target's ``tex_mean`` fills in where source has no surface).

    Returns:
        ``tex_mean`` (V, 3) float32 in [0, 1], ``tex_basis`` (M, V, 3) float32 with M = source.n_tex,
        and ``weight`` (V,) float32 in [0, 1] (how much of each target vertex is the source's).
    """
    s_mean = source.mean.detach().cpu().double().numpy()
    t_mean = target.mean.detach().cpu().double().numpy()
    s_lm = s_mean[source.landmarks68.cpu().numpy()]
    t_lm = t_mean[target.landmarks68.cpu().numpy()]
    warp = RBFInterpolator(s_lm, t_lm, kernel="thin_plate_spline", smoothing=SMOOTHING, degree=1)
    # onto a 2^-12 mm grid: the solve's last bits differ between BLAS kernels, and they must not
    # change which triangle is nearest
    warped = np.round(warp(s_mean) * 4096.0) / 4096.0
    faces = source.faces.cpu().numpy()
    face, bary = nearest_triangle(t_mean, warped, faces)
    corners = faces[face]  # (V, 3)
    closest = (warped[corners] * bary[..., None]).sum(1)
    w = _smoothstep(FAR, NEAR, np.linalg.norm(closest - t_mean, axis=1))

    def at_target(values: np.ndarray) -> np.ndarray:
        """(..., Vs, 3) per source vertex -> (..., V, 3) at the closest points."""
        return (values[..., corners, :] * bary[..., None]).sum(-2)

    own = target.tex_mean.detach().cpu().double().numpy()
    s_tex = source.tex_mean.detach().cpu().double().numpy()
    mean = w[:, None] * at_target(s_tex) + (1.0 - w[:, None]) * own
    basis = w[None, :, None] * at_target(source.tex_basis.detach().cpu().double().numpy())
    return quantised(np.clip(mean, 0.0, 1.0)), quantised(basis), quantised(w)


def quantised(x: np.ndarray) -> np.ndarray:
    """float64 -> float32 on a grid of ``QUANTUM``: the thin-plate solve (LAPACK) and the
    projection differ in their last bits between BLAS kernels and thread counts; rounding to a
    grid far coarser than that keeps those differences out of everything made from the result
    (synth's same-arguments-same-bytes promise)."""
    return (np.round(np.asarray(x, np.float64) / QUANTUM) * QUANTUM).astype(np.float32)
