"""FLAME's jaw joint as linear expression components, and the error of that linearisation.

FLAME opens the mouth by rotating its jaw joint (linear blend skinning, LBS, with pose-corrective
blendshapes). photoface's face-model format is linear (mean + identity + expression bases), so the
import linearises the jaw: it poses the template by LBS at sampled opening angles (rotation about
the model's x axis, 0–25°), stacks the displacements D(θ) (V·3 numbers each) and keeps their
leading principal directions, scaled so that the coefficients' RMS over the sampled angles is 1.

Why this is close to exact. With only the jaw rotating by R(θ) about joint c, LBS moves vertex i
by w_i (R(θ) − I)(v_i + P_i(θ) − c) + P_i(θ), with w_i its jaw weight and P(θ) the pose correctives,
which are linear in the entries of R(θ) − I. Rodrigues' formula R(θ) − I = sin θ K + (1 − cos θ) K²
(K the axis' cross-product matrix) makes everything but the small product (R − I)·P(θ) a linear
function of (sin θ, 1 − cos θ): two components span the jaw on the template. What a linear model
cannot follow is the dependence of the jaw motion on identity and expression (the joint c and the
vertices v_i move with the shape coefficients), ``linearisation_error`` measures it.

Measured (``benchmarks/bench_flame_jaw.py``, docs/evaluation.md "FLAME"): on the template the two
components reproduce LBS to 1e-3 of the displacement; over random shapes the error grows with the
angle and with the shape's distance from the template, about 4 % of the opening's displacement on
the jaw (on the tests' FLAME-like head: 0.30 mm mean at 5°, 1.5 mm mean and 5.3 mm max at 25°).
We chose it anyway: an articulated jaw in the model format would make every consumer of
``MorphableModel.shape`` (renderer, fitter, decoders, synth, the losses, the exact synth
products) pose a skeleton, and NoW and MICC score neutral faces, where the jaw is closed and the
linearisation exact.

Units: the arrays are in the FLAME file's metres; angles in radians.
"""

from __future__ import annotations

import numpy as np

JAW_JOINT = 2  # FLAME's joints: 0 global, 1 neck, 2 jaw, 3 left eye, 4 right eye
JAW_AXIS = np.array([1.0, 0.0, 0.0])  # positive rotation about +x opens the mouth
MAX_OPENING_DEG = 25.0


def rodrigues(omega: np.ndarray) -> np.ndarray:
    """(3,) axis-angle (radians) -> (3, 3) rotation."""
    theta = float(np.linalg.norm(omega))
    if theta < 1e-15:
        return np.eye(3)
    k = np.asarray(omega, float) / theta
    kx = np.array([[0, -k[2], k[1]], [k[2], 0, -k[0]], [-k[1], k[0], 0]])
    return np.eye(3) + np.sin(theta) * kx + (1 - np.cos(theta)) * kx @ kx


def pose_jaw(v_shaped: np.ndarray, flame: dict, angle: float, axis: np.ndarray = JAW_AXIS) -> np.ndarray:
    """LBS of a shaped FLAME mesh with only the jaw rotated by ``angle`` about ``axis``.

    Args:
        v_shaped: (V, 3) template + shape/expression blendshapes, metres.
        flame: the arrays of ``flame_files.read_flame_model``.
    Returns:
        (V, 3) posed vertices.
    """
    parents = flame["kintree_table"][0]
    n_joints = len(parents)
    joints = flame["J_regressor"] @ v_shaped  # (J, 3)
    rots = np.tile(np.eye(3), (n_joints, 1, 1))
    rots[JAW_JOINT] = rodrigues(np.asarray(axis, float) * angle)
    feature = (rots[1:] - np.eye(3)).reshape(-1)
    v_posed = v_shaped + flame["posedirs"] @ feature  # (V, 3, 9·(J−1)) @ (9·(J−1),)
    world = np.zeros((n_joints, 4, 4))
    for j in range(n_joints):
        local = np.eye(4)
        local[:3, :3] = rots[j]
        local[:3, 3] = joints[j] - (joints[parents[j]] if j > 0 else 0.0)
        world[j] = local if j == 0 else world[parents[j]] @ local
    rel = world.copy()
    rel[:, :3, 3] -= np.einsum("jab,jb->ja", world[:, :3, :3], joints)
    blended = np.einsum("vj,jab->vab", flame["weights"], rel)  # (V, 4, 4)
    return np.einsum("vab,vb->va", blended[:, :3, :3], v_posed) + blended[:, :3, 3]


def jaw_has_weights(flame: dict) -> bool:
    """Whether any vertex follows the jaw joint (FLAME 2023's ``no_jaw`` file may have none)."""
    w = flame["weights"]
    return w.shape[1] > JAW_JOINT and float(np.abs(w[:, JAW_JOINT]).max()) > 1e-6


def sample_angles(n: int = 26) -> np.ndarray:
    """(n,) opening angles, radians, evenly over 0..MAX_OPENING_DEG."""
    return np.deg2rad(np.linspace(0.0, MAX_OPENING_DEG, n))


def jaw_basis(flame: dict, n_components: int = 2, angles: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Principal directions of the jaw's LBS displacements on the template.

    Returns:
        basis (n_components, V, 3) metres per unit coefficient, and the (n_angles, n_components)
        coefficients that reproduce the sampled angles on the template (RMS 1 over the angles;
        signed so that the widest opening has positive coefficients).
    """
    angles = sample_angles() if angles is None else np.asarray(angles, float)
    v0 = flame["v_template"]
    d = np.stack([(pose_jaw(v0, flame, a) - v0).reshape(-1) for a in angles])  # (n, V*3)
    _, s, vt = np.linalg.svd(d, full_matrices=False)
    scale = s[:n_components] / np.sqrt(len(angles))
    # SVD signs are arbitrary: make the widest opening's coefficients positive
    sign = np.where(d[-1] @ vt[:n_components].T < 0, -1.0, 1.0)
    vt = vt[:n_components] * sign[:, None]
    basis = (scale[:, None] * vt).reshape(n_components, -1, 3)
    coeffs = d @ vt.T / scale
    return basis, coeffs


def jaw_bounds(coeffs: np.ndarray) -> np.ndarray:
    """(C, 2) float32 bounds of the jaw components from their (n_angles, C) coefficients over the
    sampled openings (``jaw_basis``): a component whose coefficient never goes negative while the
    jaw opens from 0 to MAX_OPENING_DEG (the first: it grows with the angle) is one-sided, [0, inf),
    since a negative value would close the jaw through the upper teeth; one that changes sign
    along the opening (the second: the curvature left once the first is removed) stays unbounded.
    No upper bound: a mouth may open wider than the sampled range."""
    tol = 1e-6 * max(float(np.abs(coeffs).max()), 1.0)
    lower = np.where((coeffs >= -tol).all(axis=0), 0.0, -np.inf)
    return np.stack([lower, np.full_like(lower, np.inf)], axis=1).astype(np.float32)


def linearisation_error(flame: dict, basis: np.ndarray, shapedirs: np.ndarray, vertices: np.ndarray | None = None,
                        n_shapes: int = 8, angles: np.ndarray | None = None, seed: int = 0) -> dict:
    """Distance between LBS jaw opening and its best linear approximation, over shapes and angles.

    For ``n_shapes`` random shapes (standard-normal coefficients on ``shapedirs``, (V, 3, S)) and
    every angle, the exact displacement pose_jaw(v) − v is compared with its least-squares fit by
    ``basis`` (what a fitter can reach), per vertex, over ``vertices`` (default all).

    Returns:
        {"angles_deg", "mean_mm" (per angle, mean over shapes and vertices), "max_mm" (per angle,
        max), "opening_mm" (per angle, mean displacement size, for scale)}; millimetres.
    """
    angles = sample_angles() if angles is None else np.asarray(angles, float)
    rng = np.random.default_rng(seed)
    idx = np.arange(flame["v_template"].shape[0]) if vertices is None else np.asarray(vertices)
    b = basis.reshape(len(basis), -1).T  # (V*3, C)
    mean, worst, size = np.zeros(len(angles)), np.zeros(len(angles)), np.zeros(len(angles))
    for _ in range(n_shapes):
        coef = rng.standard_normal(shapedirs.shape[-1])
        v = flame["v_template"] + shapedirs @ coef
        for k, a in enumerate(angles):
            d = (pose_jaw(v, flame, a) - v).reshape(-1)
            fit = b @ np.linalg.lstsq(b, d, rcond=None)[0]
            err = np.linalg.norm((d - fit).reshape(-1, 3)[idx], axis=1) * 1000.0
            mean[k] += err.mean() / n_shapes
            worst[k] = max(worst[k], float(err.max()))
            size[k] += np.linalg.norm(d.reshape(-1, 3)[idx], axis=1).mean() * 1000.0 / n_shapes
    return {"angles_deg": np.rad2deg(angles).tolist(), "mean_mm": mean.tolist(), "max_mm": worst.tolist(),
            "opening_mm": size.tolist()}
