"""Identity basis of the procedural face: semantic modes + smooth random components, then PCA.

Each generator is a displacement field (V, 3) in millimetres per unit of its parameter:

- semantic modes, each a smooth field written from the face's own layout (face width and
  height, face depth, nose length/width/projection/bridge/tip, alar width, nasion depth, tip width,
  jaw width, chin projection and height, brow ridge and height, eye spacing/size/depth, orbit depth,
  mouth width and position, lip thickness, protrusion and fullness, cheek fullness, cheekbones,
  forehead slope, temple width, jaw angle, and a few small asymmetries);
- smooth random components: sums of Gaussian bumps with random 3-D amplitudes, mostly
  left/right symmetric, with amplitudes decaying along the list so that the spectrum has a tail.

Every field is first stripped of its rigid translation of the canonical origin (pose absorbs
translation). The semantic standard deviations are then calibrated so that the spread of the
FACE_PROPORTIONS.md landmark measurements matches the reference (non-negative least squares on
variances, regularised towards the prior values below). Finally the stacked, scaled generators
G (3V × N) are decomposed by SVD: basis_k = S_k U_k, which makes coefficients standard normal,
modes orthogonal and ordered by variance.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import nnls

from photoface.facemodel.procedural import layout, proportions
from photoface.facemodel.procedural.pca import pca_modes, round_significand
from photoface.facemodel.procedural.shapes import gauss, pair, smoothstep


def semantic_fields(verts: np.ndarray, base_xy: np.ndarray, normal: np.ndarray, nose_h: np.ndarray):
    """{name: (field (V, 3) per unit, prior std)} of the semantic identity modes."""
    x, y = base_xy[:, 0], base_xy[:, 1]
    z = verts[:, 2]
    zero = np.zeros_like(x)
    sgn = np.tanh(x / 3.0)
    ex, ey = (layout.EYE_INNER[0] + layout.EYE_OUTER[0]) / 2, (layout.EYE_INNER[1] + layout.EYE_OUTER[1]) / 2
    eye_w = pair(gauss, x, y, ex, ey + 1.0, 13.0, 9.0)
    nose_box = np.exp(-0.5 * ((x / 16.0) ** 2 + ((y + 22.0) / 30.0) ** 4))
    mouth_w = gauss(x, y, 0.0, layout.STOMION_Y, 30.0, 13.0)
    lower = smoothstep(-20.0, -70.0, y)

    def f(dx=zero, dy=zero, dz=zero):
        return np.stack([dx + zero, dy + zero, dz + zero], axis=1)

    fields = {
        "face_size": (f(dx=x, dy=y - layout.NOSE_BASE_Y, dz=z + 45.0), 0.035),
        "face_width": (f(dx=x), 0.045),
        "face_height": (f(dy=y), 0.035),
        "lower_face_height": (f(dy=(y - layout.NOSE_BASE_Y) * smoothstep(layout.NOSE_BASE_Y + 8, layout.NOSE_BASE_Y - 8, y)), 0.06),
        "face_depth": (f(dz=z + 45.0), 0.06),
        "nose_length": (f(dy=-smoothstep(6.0, -38.0, y) * nose_box), 2.5),
        "nose_width": (f(dx=x * gauss(x, y, 0.0, layout.NOSE_TIP_Y, 16.0, 12.0)), 0.09),
        "ala_width": (f(dx=sgn * pair(gauss, x, y, 14.0, -39.5, 6.0, 5.0)), 1.5),
        "nasion_depth": (f(dz=gauss(x, y, 0.0, layout.NOSE_ROOT_Y, 9.0, 8.0)), 1.5),
        "tip_width": (f(dx=x * gauss(x, y, 0.0, layout.NOSE_TIP_Y, 8.0, 6.0)), 0.1),
        "nose_projection": (f(dz=nose_h / 23.0 * smoothstep(-50.0, -42.0, y)), 2.5),
        "nose_underside": (f(dz=nose_h / 23.0 * smoothstep(-40.0, -48.0, y)), 1.5),
        "nose_bridge": (f(dz=gauss(x, y, 0.0, -8.0, 6.0, 12.0)), 1.5),
        "nose_tip_droop": (f(dy=-gauss(x, y, 0.0, layout.NOSE_TIP_Y - 3.0, 9.0, 5.0)), 1.5),
        "jaw_width": (f(dx=x * lower), 0.05),
        "chin_projection": (f(dz=gauss(x, y, 0.0, -100.0, 20.0, 12.0)), 2.5),
        "chin_height": (f(dy=-smoothstep(-80.0, -104.0, y)), 2.0),
        "brow_ridge": (f(dz=pair(gauss, x, y, 28.0, 20.0, 18.0, 6.0) + gauss(x, y, 0.0, 15.0, 10.0, 7.0)), 1.3),
        "brow_height": (f(dy=pair(gauss, x, y, 36.0, 28.0, 20.0, 7.0)), 1.8),
        "eye_spacing": (f(dx=sgn * eye_w), 1.6),
        "eye_size": (f(dy=(y - ey) * eye_w), 0.12),
        "eye_depth": (f(dz=-eye_w), 1.5),
        "mouth_width": (f(dx=x * mouth_w), 0.07),
        "mouth_height": (f(dy=mouth_w), 1.5),
        "lip_thickness": (f(dy=(y - layout.STOMION_Y) * gauss(x, y, 0.0, layout.STOMION_Y, 20.0, 10.0)), 0.12),
        "lip_protrusion": (f(dz=gauss(x, y, 0.0, layout.STOMION_Y, 22.0, 11.0)), 1.5),
        "lip_fullness": (normal * gauss(x, y, 0.0, layout.STOMION_Y, 18.0, 5.0)[:, None], 1.0),
        "orbit_depth": (normal * pair(gauss, x, y, 31.0, 2.0, 12.0, 9.0)[:, None], 1.5),
        "cheek_fullness": (normal * pair(gauss, x, y, 44.0, -40.0, 16.0, 16.0)[:, None], 2.8),
        "cheekbones": (normal * pair(gauss, x, y, 50.0, -14.0, 14.0, 9.0)[:, None], 1.5),
        "forehead_slope": (f(dz=-np.maximum(y - 20.0, 0.0) / 70.0), 4.0),
        "temple_width": (f(dx=x * smoothstep(10.0, 60.0, y)), 0.04),
        "jaw_angle": (normal * pair(gauss, x, y, 55.0, -78.0, 14.0, 14.0)[:, None], 2.8),
        "midface_height": (f(dy=(y - layout.NOSE_ROOT_Y) * band(y, layout.NOSE_BASE_Y, layout.NOSE_ROOT_Y)), 0.04),
        "nose_deviation": (f(dx=nose_box), 0.8),
        "eye_height_asymmetry": (f(dy=sgn * eye_w), 0.7),
        "mouth_tilt": (f(dy=x / 25.0 * mouth_w), 0.7),
        "jaw_asymmetry": (f(dx=lower), 1.0),
    }
    return fields


def band(y, lo, hi):
    return smoothstep(lo - 10.0, lo, y) * smoothstep(hi + 10.0, hi, y)


def random_fields(base_xy: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    """(n, V, 3) smooth random displacement fields, amplitude decaying with the index."""
    x, y = base_xy[:, 0], base_xy[:, 1]
    out = np.zeros((n, x.size, 3))
    for i in range(n):
        amp = 0.9 * np.exp(-i / 40.0)
        symmetric = rng.random() < 0.8
        for _ in range(4):
            cx, cy = rng.uniform(-65.0, 65.0), rng.uniform(-115.0, 80.0)
            sx, sy = rng.uniform(10.0, 32.0), rng.uniform(10.0, 32.0)
            a = rng.normal(size=3) * amp
            g = gauss(x, y, cx, cy, sx, sy)
            out[i] += g[:, None] * a
            if symmetric:
                out[i] += gauss(x, y, -cx, cy, sx, sy)[:, None] * a * np.array([-1.0, 1.0, 1.0])
    return out


def origin_shift(field: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """(..., V, 3) fields -> (..., 3): how each moves the canonical origin."""
    f = field[..., lm, :]
    return np.stack(
        [f[..., :, 0].mean(-1), 0.5 * (f[..., 27, 1] + f[..., 8, 1]), 0.5 * (f[..., 0, 2] + f[..., 16, 2])],
        axis=-1,
    )


def measurement_jacobian(mean_lm: np.ndarray, fields_lm: np.ndarray, eps: float = 0.05) -> np.ndarray:
    """(N, 17): derivative of each reference measurement along each field (central difference)."""
    plus = proportions.measure(mean_lm[None] + eps * fields_lm)
    minus = proportions.measure(mean_lm[None] - eps * fields_lm)
    return (plus - minus) / (2.0 * eps)


def calibrate_stds(mean_lm, sem_lm, prior, rnd_lm, reg: float = 0.05) -> np.ndarray:
    """Semantic standard deviations whose measurement spread best matches the reference.

    Solves min Σ_j ((Σ_k J_jk² s_k + r_j − t_j) / t_j)² + reg Σ_k ((s_k − p_k²) / p_k²)² over
    s_k = σ_k² ≥ 0, where r_j is the variance contributed by the random fields.
    """
    target = proportions.reference_std() ** 2
    j2 = measurement_jacobian(mean_lm, sem_lm) ** 2  # (K, 17)
    r = (measurement_jacobian(mean_lm, rnd_lm) ** 2).sum(0)
    p2 = prior**2
    a = np.concatenate([j2.T / target[:, None], np.sqrt(reg) * np.diag(1.0 / p2)])
    b = np.concatenate([(target - r) / target, np.sqrt(reg) * np.ones_like(p2)])
    s, _ = nnls(a, b)
    # nnls runs on BLAS, whose kernels differ between CPUs in the last bit; rounding the result
    # to 30 significant bits makes such a difference vanish (unless it straddles a rounding
    # midpoint, about 2^-22 of the time per value).
    return round_significand(np.sqrt(s), 30)


def identity_basis(verts, base_xy, normal, nose_h, lm, n_modes: int, rng: np.random.Generator):
    """(n_modes, V, 3) identity basis (standard-normal coefficients) and its singular values."""
    sem = semantic_fields(verts, base_xy, normal, nose_h)
    sem_f = np.stack([v[0] for v in sem.values()])
    prior = np.array([v[1] for v in sem.values()])
    rnd = random_fields(base_xy, 170, rng)
    sem_f -= origin_shift(sem_f, lm)[:, None, :]
    rnd -= origin_shift(rnd, lm)[:, None, :]
    stds = calibrate_stds(verts[lm], sem_f[:, lm], prior, rnd[:, lm])
    g = np.concatenate([sem_f * stds[:, None, None], rnd]).reshape(-1, verts.shape[0] * 3)
    modes, s = pca_modes(g, n_modes)
    return modes.reshape(n_modes, -1, 3), s, dict(zip(sem.keys(), stds))
