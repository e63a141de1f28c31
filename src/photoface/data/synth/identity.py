"""Synthetic identities: linear-model coefficients, appearance, and a nonlinear detail field.

An identity is what stays the same across a person's photos: identity coefficients ``alpha_id``
(K,) ~ N(0, 1), albedo coefficients ``beta`` (M,) ~ N(0, 1), skin and hair colour, hair style,
whether they wear glasses, and a **detail deformation** (V, 3) in millimetres that the linear
model cannot express. The detail is what makes "going beyond the linear 3DMM" measurable: a
method that only reproduces the linear model cannot recover it, and the 300W-LP-style labels
(``photoface.data.synth.fit``) do not contain it.

Detail field (per identity, on the neutral linear shape ``P`` with unit normals ``N``)::

    d(v) = Σ_k a_k · sin(w_k · P_v + φ_k)           16 random plane waves, wavelengths 25–70 mm,
                                                     made 60 % left/right symmetric, RMS 0.5–1 mm
         + Σ_j b_j · exp(-|P_v - c_j|² / 2 s_j²)     4–9 localised bumps and dents (cheekbones,
                                                     a nose hump, a chin dimple): radius s 4–12 mm,
                                                     height ±0.8–2.5 mm, half of them mirrored
    detail_v = d(v) · N_v                            displacement along the surface normal

then the component inside span(identity basis, expression basis, rigid motions and scale of the
mean shape) is removed by orthogonal projection in R^{3V}. So the detail is by construction what
neither a linear-model fit nor a pose change can reproduce, and the best linear fit of a true
shape is its linear part (up to the fit's regularisation). Normal displacement is a nonlinear
function of the shape (the normals depend on ``alpha_id``); bump placement and the sine fields are
nonlinear in their random parameters.

Albedo: ``albedo = tex_mean + Σ_m beta_m tex_basis_m`` (clamped to [0, 1]) with the face model's
own mean and modes. A model without albedo modes (ICT-FaceKit, some BFM files: one flat colour)
would give every identity the same flat skin, so its identities take the procedural model's
painted skin instead: the built-in demo model's albedo mean and colour modes (skin tone,
undertone, redness, lips, brows, iris, ...), carried onto the model's vertices through the 68
landmarks by ``photoface.facemodel.albedo_transfer`` (``AlbedoSpace``). ``beta`` then holds the
coefficients of those modes; each identity file says which (``albedo_source``), and carries the
albedo itself in that case, since the face model cannot rebuild it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from photoface.data.synth import exact
from photoface.data.synth.head import HeadLook
from photoface.facemodel import builtin_model
from photoface.facemodel.albedo_transfer import quantised, transfer_albedo

HAIR_COLOURS = {  # linear RGB
    "black": (0.02, 0.016, 0.013),
    "dark brown": (0.055, 0.033, 0.02),
    "brown": (0.14, 0.075, 0.037),
    "blonde": (0.45, 0.32, 0.16),
    "red": (0.3, 0.085, 0.03),
    "grey": (0.33, 0.32, 0.31),
}
_HAIR_WEIGHTS = (0.3, 0.3, 0.17, 0.1, 0.05, 0.08)
_STYLES, _STYLE_WEIGHTS = ("short", "long", "bald"), (0.55, 0.37, 0.08)
GLASSES_PROB = 0.25
"""Share of identities who wear (clear) glasses in most of their photos."""
MODEL_ALBEDO = "face model"
PROCEDURAL_ALBEDO = "procedural skin (builtin:demo albedo modes carried onto this model by its landmarks)"


class AlbedoSpace:
    """The mean albedo and modes identities are drawn from (module docstring, "Albedo").

    Attributes: source (``MODEL_ALBEDO`` or ``PROCEDURAL_ALBEDO``), n_modes (M).
    """

    def __init__(self, model):
        self.model = model
        if model.n_tex > 0:
            self.source, self.mean, self.basis = MODEL_ALBEDO, None, None
            self.n_modes = model.n_tex
            return
        mean, basis, _ = transfer_albedo(builtin_model("demo"), model)
        self.source, self.n_modes = PROCEDURAL_ALBEDO, len(basis)
        self.mean, self.basis = mean.astype(np.float64), basis.astype(np.float64)

    def albedo(self, beta: np.ndarray) -> np.ndarray:
        """(M,) coefficients -> (V, 3) float32 linear RGB in [0, 1]."""
        if self.basis is None:
            with torch.no_grad():
                return self.model.albedo(torch.from_numpy(np.asarray(beta, np.float32))[None])[0].cpu().numpy()
        # mode by mode in float64, then onto the transfer's grid: elementwise operations round
        # the same way on every CPU kernel, where a matrix product's summation order may not
        v = len(self.mean)
        out = exact.combine(beta, self.basis.reshape(len(self.basis), -1), self.mean.reshape(-1)).reshape(v, 3)
        return quantised(np.clip(out, 0.0, 1.0))


@dataclass
class Identity:
    """One synthetic person.

    Attributes:
        name: identity string of the dataset rows, e.g. ``id00042``.
        index: position in the generation order (seeds derive from it).
        split: "train" or "test".
        alpha_id: (K,) float32 true identity coefficients.
        beta: (M,) float32 albedo coefficients of ``albedo_source``'s modes.
        detail: (V, 3) float32 mm, the nonlinear detail displacement.
        neutral: (V, 3) float32 mm, the TRUE neutral shape: mean + id_basis·alpha_id + detail.
        albedo: (V, 3) float32 linear RGB in [0, 1].
        look: head appearance (skin, hair, style, collar).
        wears_glasses: bool.
        albedo_source: ``MODEL_ALBEDO`` or ``PROCEDURAL_ALBEDO`` (see the module docstring).
    """

    name: str
    index: int
    split: str
    alpha_id: np.ndarray
    beta: np.ndarray
    detail: np.ndarray
    neutral: np.ndarray
    albedo: np.ndarray
    look: HeadLook
    wears_glasses: bool
    albedo_source: str = "face model"

    @property
    def detail_rms(self) -> float:
        """Root-mean-square length of the detail displacement, mm."""
        return float(np.sqrt((self.detail.astype(np.float64) ** 2).sum(1).mean()))


class DetailSpace:
    """Orthonormal basis of what the linear model and a similarity transform can express.

    ``remove(x)`` subtracts the orthogonal projection of (V, 3) displacements onto
    span(id_basis, exp_basis, 3 translations, 3 infinitesimal rotations, 1 scale about the
    canonical origin, all at the mean shape). Built once per face model (a QR of a
    (3V, K + L + 7) matrix).
    """

    def __init__(self, model):
        mean = model.mean.detach().cpu().double()
        v = mean.shape[0]
        cols = [model.id_basis.detach().cpu().double().reshape(-1, 3 * v),
                model.exp_basis.detach().cpu().double().reshape(-1, 3 * v)]
        rigid = []
        for axis in range(3):
            t = torch.zeros(v, 3, dtype=torch.float64)
            t[:, axis] = 1.0
            rigid.append(t)
            w = torch.zeros(3, dtype=torch.float64)
            w[axis] = 1.0
            rigid.append(torch.cross(w.expand(v, 3), mean, dim=-1))
        rigid.append(mean.clone())
        cols.append(torch.stack(rigid).reshape(-1, 3 * v))
        a = torch.cat(cols).T  # (3V, K + L + 7)
        q, r = torch.linalg.qr(a)
        keep = r.diagonal().abs() > 1e-9 * r.diagonal().abs().max()
        self.q_t = np.ascontiguousarray(q[:, keep].T.numpy())  # (k, 3V) orthonormal rows

    def remove(self, x: np.ndarray) -> np.ndarray:
        flat = np.asarray(x, np.float64).reshape(-1)
        coeffs = exact.rows_dot(self.q_t, flat)
        return (flat - exact.combine(coeffs, self.q_t)).reshape(-1, 3)


def detail_field(rng: np.random.Generator, points: np.ndarray, normals: np.ndarray,
                 mirror: np.ndarray) -> np.ndarray:
    """The raw detail displacement (before projection), see the module docstring.

    Args:
        points: (V, 3) neutral linear shape, mm. normals: (V, 3) unit normals.
        mirror: (V,) left/right partner of each vertex.

    Returns:
        (V, 3) float64 mm.
    """
    p = points.astype(np.float64)
    n_waves = 16
    dirs = rng.normal(size=(n_waves, 3))
    dirs /= np.linalg.norm(dirs, axis=1, keepdims=True)
    wavelength = rng.uniform(25.0, 70.0, n_waves)
    w = dirs * (2 * np.pi / wavelength)[:, None]
    waves = np.sin(p @ w.T + rng.uniform(0, 2 * np.pi, n_waves)) @ rng.normal(size=n_waves)
    waves = 0.6 * 0.5 * (waves + waves[mirror]) + 0.4 * waves
    waves *= rng.uniform(0.5, 1.0) / max(np.sqrt(np.mean(waves ** 2)), 1e-9)
    d = waves
    for _ in range(int(rng.integers(4, 10))):
        c = int(rng.integers(len(p)))
        s = rng.uniform(4.0, 12.0)
        b = rng.choice([-1.0, 1.0]) * rng.uniform(0.8, 2.5)
        centres = [c, int(mirror[c])] if rng.random() < 0.5 else [c]
        for cc in centres:
            d = d + b * np.exp(-((p - p[cc]) ** 2).sum(1) / (2 * s * s))
    return d[:, None] * normals.astype(np.float64)


def _skin_colour(albedo: np.ndarray, model) -> np.ndarray:
    """A representative skin colour: the median albedo of the cheeks, or of the whole face."""
    regions = model.regions
    idx = None
    for name in ("cheeks", "cheek", "face", "skin"):
        if name in regions and regions[name].numel() > 0:
            idx = regions[name].cpu().numpy()
            break
    vals = albedo if idx is None else albedo[idx]
    return np.median(vals, axis=0).astype(np.float32)


def sample_identity(rng: np.random.Generator, model, space: DetailSpace, index: int, name: str,
                    split: str, albedo_space: AlbedoSpace | None = None) -> Identity:
    """Draw one identity from the caller's generator (consumed in a fixed order).

    ``albedo_space`` defaults to ``AlbedoSpace(model)``; pass one to reuse it across identities.
    """
    albedo_space = albedo_space or AlbedoSpace(model)
    alpha_id = rng.standard_normal(model.n_id).astype(np.float32)
    beta = (rng.standard_normal(albedo_space.n_modes) * 0.9).astype(np.float32)
    albedo = albedo_space.albedo(beta)
    id_basis = model.id_basis.detach().cpu().numpy().reshape(model.n_id, -1)
    mean = model.mean.detach().cpu().numpy().reshape(-1)
    linear = torch.from_numpy(exact.combine(alpha_id, id_basis, mean).reshape(-1, 3).astype(np.float32))
    with torch.no_grad():
        normals = model.vertex_normals(linear).cpu().numpy()
    linear = linear.numpy()
    raw = detail_field(rng, linear, normals, model.mirror.cpu().numpy())
    detail = space.remove(raw).astype(np.float32)
    hair_name = list(HAIR_COLOURS)[int(rng.choice(len(HAIR_COLOURS), p=_HAIR_WEIGHTS))]
    hair = np.asarray(HAIR_COLOURS[hair_name], np.float32) * rng.uniform(0.8, 1.2)
    style = _STYLES[int(rng.choice(len(_STYLES), p=_STYLE_WEIGHTS))]
    collar = np.clip(rng.uniform(0.03, 0.8) * (1 + rng.uniform(-0.7, 0.7, 3)), 0, 1)
    look = HeadLook(skin=_skin_colour(albedo, model), hair=hair, style=style,
                    collar=collar.astype(np.float32), hairline=float(rng.uniform(95.0, 125.0)))
    return Identity(
        name=name, index=index, split=split, alpha_id=alpha_id, beta=beta, detail=detail,
        neutral=(linear + detail).astype(np.float32), albedo=albedo.astype(np.float32),
        look=look, wears_glasses=bool(rng.random() < GLASSES_PROB), albedo_source=albedo_space.source,
    )
