"""The linear morphable face model held in memory: ``MorphableModel``.

Conventions (contract with every other package; ARCHITECTURE.md "Face model file"):

- Model space is in millimetres; x points to the subject's left, y up, z out of the face
  (towards a frontal camera). Triangles are counter-clockwise seen from outside.
- Canonical origin: x = mean x of the 68 landmarks, y = midpoint of the y of landmark 27 (nose
  root) and landmark 8 (chin), z = mean z of landmarks 0 and 16 (jaw at ear level). Builders and
  importers apply it to the mean shape with ``canonical_origin``; the rotation centre then sits
  behind the face.
- ``shape = mean + Σ_k alpha_id[k] id_basis[k] + Σ_l alpha_exp[l] exp_basis[l]``. The identity
  basis is scaled so that its coefficients are standard normal. The expression basis is either a
  PCA basis with standard-normal coefficients (``exp_kind == "pca"``) or a set of blendshapes
  whose weights live in [0, 1] (``exp_kind == "blendshape"``; 1 = the full expression).
- ``exp_bounds`` (L, 2): the [lower, upper] range of each expression coefficient, ±inf where
  unbounded, always with 0 (neutral) inside. By default it follows ``exp_kind``: (−inf, inf) for
  PCA, [0, 1] for blendshapes; a model may state its own (FLAME's jaw opening is [0, inf): a
  negative value would close the jaw through the upper teeth). Everything that draws expressions
  honours it by ``fold_into_bounds`` (a one-sided coefficient, one bound at 0, takes |value| on
  its allowed side, so N(0, 1) becomes half-normal; then clipped), everything that fits or
  regularises them by ``clamp_to_bounds`` (projection).
- ``albedo = tex_mean + Σ_m beta[m] tex_basis[m]``, linear RGB in [0, 1], beta standard normal.
  A model may have no albedo modes (M = 0, e.g. ICT-FaceKit and some BFM files): its albedo is
  ``tex_mean`` whatever ``beta`` (then (B, 0)), and ``sample`` draws an empty beta.
- ``mirror[v]`` is the left/right partner of vertex ``v`` (an involution; midline vertices map to
  themselves). ``landmarks68`` are vertex indices in iBUG-68 order (0-based).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch

from photoface.errors import PhotofaceError
from photoface.mesh.normals import vertex_normals as _vertex_normals

EXP_KINDS = ("pca", "blendshape")

# iBUG-68 left/right partner of each landmark (0-based): jaw, brows, nose, eyes, outer and
# inner lips. Midline points (8, 27–30, 33, 51, 57, 62, 66) are their own partners.
IBUG_MIRROR = np.array(
    list(range(16, -1, -1))
    + list(range(26, 16, -1))
    + [27, 28, 29, 30]
    + [35, 34, 33, 32, 31]
    + [45, 44, 43, 42, 47, 46, 39, 38, 37, 36, 41, 40]
    + [54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55]
    + [64, 63, 62, 61, 60, 67, 66, 65],
    dtype=np.int64,
)


class Coefficients(NamedTuple):
    """Coefficients of a batch of faces: alpha_id (B, K), alpha_exp (B, L), beta (B, M)."""

    alpha_id: torch.Tensor
    alpha_exp: torch.Tensor
    beta: torch.Tensor


def default_exp_bounds(exp_kind: str, n_exp: int) -> np.ndarray:
    """(L, 2) float32 bounds implied by ``exp_kind``: (−inf, inf) for PCA, [0, 1] for blendshapes."""
    lo, hi = (0.0, 1.0) if exp_kind == "blendshape" else (-np.inf, np.inf)
    return np.tile(np.array([lo, hi], np.float32), (n_exp, 1))


def one_sided(bounds) -> np.ndarray:
    """(L,) bool: the coefficients with a bound at 0 (only one sign allowed), from (L, 2) bounds."""
    b = np.asarray(bounds.detach().cpu() if torch.is_tensor(bounds) else bounds, np.float64).reshape(-1, 2)
    return (b[:, 0] >= 0) | (b[:, 1] <= 0)


def clamp_to_bounds(values, bounds):
    """Project coefficients (..., L) onto (L, 2) bounds (numpy or torch, same type and dtype out)."""
    if torch.is_tensor(values):
        b = torch.as_tensor(bounds, dtype=values.dtype, device=values.device)
        return torch.minimum(torch.maximum(values, b[:, 0]), b[:, 1])
    b = np.asarray(bounds)
    return np.clip(values, b[:, 0], b[:, 1]).astype(np.asarray(values).dtype, copy=False)


def fold_into_bounds(values, bounds):
    """Map drawn coefficients (..., L) into (L, 2) bounds: a one-sided coefficient (lower bound
    >= 0, or upper <= 0) takes |value| with the allowed sign, so a symmetric draw becomes its
    one-sided (half-normal, for N(0, σ²)) version; then every coefficient is clipped. Unbounded
    coefficients pass unchanged (numpy or torch)."""
    if torch.is_tensor(values):
        b = torch.as_tensor(bounds, dtype=values.dtype, device=values.device)
        lo, hi = b[:, 0], b[:, 1]
        folded = torch.where(lo >= 0, values.abs(), torch.where(hi <= 0, -values.abs(), values))
    else:
        b = np.asarray(bounds)
        lo, hi = b[:, 0], b[:, 1]
        folded = np.where(lo >= 0, np.abs(values), np.where(hi <= 0, -np.abs(values), values))
    return clamp_to_bounds(folded, bounds)


def validate_exp_bounds(bounds, n_exp: int) -> str | None:
    """The problem with (L, 2) expression bounds, or None: shape, NaN, and 0 inside [lower, upper]."""
    b = np.asarray(bounds)
    if b.dtype.kind != "f" or b.shape != (n_exp, 2):
        return f"expected ({n_exp}, 2) floating-point [lower, upper] bounds, got dtype {b.dtype} shape {b.shape}"
    if np.isnan(b).any():
        return "contains NaN (use -inf / inf for no bound)"
    if not ((b[:, 0] <= 0) & (b[:, 1] >= 0)).all():
        bad = int(np.flatnonzero(~((b[:, 0] <= 0) & (b[:, 1] >= 0)))[0])
        return f"coefficient {bad}: [{b[bad, 0]}, {b[bad, 1]}] must contain 0 (the neutral expression)"
    return None


def canonical_origin(mean: np.ndarray, landmarks68: np.ndarray) -> np.ndarray:
    """The canonical origin of a shape (see module docstring), a (3,) point in its coordinates."""
    lm = mean[landmarks68]
    return np.array(
        [lm[:, 0].mean(), 0.5 * (lm[27, 1] + lm[8, 1]), 0.5 * (lm[0, 2] + lm[16, 2])],
        dtype=np.float64,
    )


class MorphableModel(torch.nn.Module):
    """A linear face model; all arrays are buffers, so ``.to(device)`` moves them together.

    Attributes (buffers): mean (V, 3) mm, id_basis (K, V, 3) mm per unit coefficient,
    exp_basis (L, V, 3) mm, tex_mean (V, 3), tex_basis (M, V, 3), faces (F, 3) long,
    landmarks68 (68,) long, mirror (V,) long, and one ``region_<name>`` (n,) long per region.
    Plain attributes: name, source, license, exp_kind, exp_names (one label per expression;
    ``exp00``, ``exp01``, ... when the source has none). ``exp_bounds`` (L, 2) (module docstring):
    the model's own when given (a non-persistent buffer, so it moves with ``.to`` but checkpoints
    do not change), else the default of ``exp_kind``.
    """

    def __init__(
        self,
        mean,
        id_basis,
        exp_basis,
        tex_mean,
        tex_basis,
        faces,
        landmarks68,
        mirror,
        regions: dict | None = None,
        name: str = "",
        source: str = "",
        license: str = "",
        exp_kind: str = "pca",
        exp_names: list[str] | None = None,
        exp_bounds=None,
    ):
        super().__init__()
        if exp_kind not in EXP_KINDS:
            raise PhotofaceError(f"exp_kind must be one of {EXP_KINDS}, got {exp_kind!r}")
        f32 = dict(dtype=torch.float32)
        self.register_buffer("mean", torch.as_tensor(np.asarray(mean), **f32).clone())
        v = self.mean.shape[0]
        self.register_buffer("id_basis", _basis(id_basis, v))
        self.register_buffer("exp_basis", _basis(exp_basis, v))
        self.register_buffer("tex_mean", torch.as_tensor(np.asarray(tex_mean), **f32).clone())
        self.register_buffer("tex_basis", _basis(tex_basis, v))
        self.register_buffer("faces", _long(faces))
        self.register_buffer("landmarks68", _long(landmarks68))
        self.register_buffer("mirror", _long(mirror))
        self._region_names: list[str] = []
        for key, idx in (regions or {}).items():
            self._region_names.append(str(key))
            self.register_buffer(f"region_{key}", _long(idx))
        self.name, self.source, self.license, self.exp_kind = name, source, license, exp_kind
        names = [str(n) for n in exp_names] if exp_names is not None else []
        if names and len(names) != self.exp_basis.shape[0]:
            raise PhotofaceError(f"{len(names)} expression names for {self.exp_basis.shape[0]} expressions")
        self.exp_names: list[str] = names or [f"exp{i:02d}" for i in range(self.exp_basis.shape[0])]
        own = None
        if exp_bounds is not None:
            b = np.asarray(exp_bounds.detach().cpu() if torch.is_tensor(exp_bounds) else exp_bounds, np.float32)
            problem = validate_exp_bounds(b, self.exp_basis.shape[0])
            if problem:
                raise PhotofaceError(f"exp_bounds: {problem}")
            own = torch.as_tensor(b).clone()
        self.register_buffer("own_exp_bounds", own, persistent=False)

    # ----------------------------------------------------------------- sizes
    @property
    def num_vertices(self) -> int:
        return int(self.mean.shape[0])

    @property
    def num_faces(self) -> int:
        return int(self.faces.shape[0])

    @property
    def n_id(self) -> int:
        return int(self.id_basis.shape[0])

    @property
    def n_exp(self) -> int:
        return int(self.exp_basis.shape[0])

    @property
    def n_tex(self) -> int:
        return int(self.tex_basis.shape[0])

    @property
    def exp_bounds(self) -> torch.Tensor:
        """(L, 2) float32 [lower, upper] of each expression coefficient (module docstring)."""
        if self.own_exp_bounds is not None:
            return self.own_exp_bounds
        return torch.as_tensor(default_exp_bounds(self.exp_kind, self.n_exp), device=self.mean.device)

    @property
    def regions(self) -> dict[str, torch.Tensor]:
        """Named vertex-index sets, e.g. ``eyes``, ``nose``, ``mouth`` (name -> (n,) long)."""
        return {k: getattr(self, f"region_{k}") for k in self._region_names}

    # ----------------------------------------------------------------- faces
    def shape(self, alpha_id: torch.Tensor | None = None, alpha_exp: torch.Tensor | None = None):
        """Vertex positions of a batch of faces.

        Args:
            alpha_id: (B, K') identity coefficients, K' <= K (missing trailing ones are 0).
            alpha_exp: (B, L') expression coefficients / blendshape weights, L' <= L.

        Returns:
            (B, V, 3) millimetres, in the model's canonical frame. With both None, (1, V, 3).
        """
        b = _batch(alpha_id, alpha_exp)
        out = self.mean.reshape(1, -1).expand(b, -1)
        if alpha_id is not None:
            out = out + _combine(alpha_id, self.id_basis, "alpha_id")
        if alpha_exp is not None:
            out = out + _combine(alpha_exp, self.exp_basis, "alpha_exp")
        return out.reshape(b, -1, 3)

    def albedo(self, beta: torch.Tensor | None = None, clamp: bool = True) -> torch.Tensor:
        """Per-vertex albedo, linear RGB.

        Args:
            beta: (B, M') texture coefficients, M' <= M (None: the mean albedo, B = 1).
            clamp: clamp to [0, 1]; False returns the linear model's value unchanged.

        Returns:
            (B, V, 3).
        """
        b = 1 if beta is None else beta.shape[0]
        out = self.tex_mean.reshape(1, -1).expand(b, -1)
        if beta is not None:
            out = out + _combine(beta, self.tex_basis, "beta")
        out = out.reshape(b, -1, 3)
        return out.clamp(0.0, 1.0) if clamp else out

    def landmarks(self, verts: torch.Tensor) -> torch.Tensor:
        """(B, V, 3) -> (B, 68, 3): the landmark vertices of a batch of shapes."""
        return verts[..., self.landmarks68, :]

    def vertex_normals(self, verts: torch.Tensor) -> torch.Tensor:
        """Unit outward vertex normals of (B, V, 3) or (V, 3) shapes (same shape out)."""
        return _vertex_normals(verts, self.faces)

    def sample(
        self,
        n: int,
        generator: torch.Generator | None = None,
        id_std: float = 1.0,
        exp_std: float = 1.0,
        tex_std: float = 1.0,
        exp_active: float = 0.3,
    ) -> Coefficients:
        """Random coefficients for ``n`` faces, drawn on the model's device.

        Identity and texture coefficients are ``N(0, std²)``. A PCA expression basis draws
        ``N(0, exp_std²)``. Blendshape weights are sparse: each blendshape is active with
        probability ``exp_active`` and then takes ``exp_std · U(0, 1)``, clipped to [0, 1];
        ``exp_std = 0`` gives neutral faces either way. Either is then folded into ``exp_bounds``
        (``fold_into_bounds``: a one-sided PCA coefficient such as FLAME's jaw opening is
        half-normal). The generator must live on the CPU;
        the draws are moved to the model's device, so results do not depend on the device.
        """
        g = generator
        dev = self.mean.device

        def normal(k: int, std: float) -> torch.Tensor:
            return (torch.randn(n, k, generator=g) * std).to(dev)

        alpha_id = normal(self.n_id, id_std)
        beta = normal(self.n_tex, tex_std)
        if self.exp_kind == "pca":
            alpha_exp = normal(self.n_exp, exp_std)
        else:
            on = torch.rand(n, self.n_exp, generator=g) < exp_active
            w = torch.rand(n, self.n_exp, generator=g) * exp_std
            alpha_exp = (w * on).clamp(0.0, 1.0).to(dev)
        return Coefficients(alpha_id, fold_into_bounds(alpha_exp, self.exp_bounds), beta)

    # ----------------------------------------------------------------- editing
    def crop(self, vertex_indices) -> MorphableModel:
        """A new model on a subset of the vertices (kept in the given order).

        Triangles that lose a vertex are dropped; faces, landmarks, mirror map and regions are
        re-indexed. Raises PhotofaceError if a landmark vertex is cropped away, or if the subset
        is not closed under the mirror map (a kept vertex whose partner is dropped): the mirror
        map must stay exact, so a caller either passes a mirror-closed set (see
        ``mirror_closure``) or recomputes the map afterwards.
        """
        keep = torch.as_tensor(np.asarray(vertex_indices), dtype=torch.long).cpu()
        v = self.num_vertices
        if keep.numel() == 0 or keep.min() < 0 or keep.max() >= v:
            raise PhotofaceError(f"crop: vertex indices must lie in [0, {v})")
        if torch.unique(keep).numel() != keep.numel():
            raise PhotofaceError("crop: vertex indices contain duplicates")
        new_of_old = torch.full((v,), -1, dtype=torch.long)
        new_of_old[keep] = torch.arange(keep.numel())
        cpu = {k: b.detach().cpu() for k, b in self.named_buffers()}
        lm = new_of_old[cpu["landmarks68"]]
        if (lm < 0).any():
            lost = torch.nonzero(lm < 0).flatten().tolist()
            raise PhotofaceError(f"crop: the subset drops landmark(s) {lost}")
        mirror = new_of_old[cpu["mirror"][keep]]
        if (mirror < 0).any():
            raise PhotofaceError(
                f"crop: {(mirror < 0).sum().item()} kept vertices lose their mirror partner; "
                "pass a mirror-closed subset (facemodel.model.mirror_closure)"
            )
        f = new_of_old[cpu["faces"]]
        f = f[(f >= 0).all(dim=1)]
        regions = {}
        for name, idx in self.regions.items():
            r = new_of_old[idx.cpu()]
            regions[name] = r[r >= 0]
        return MorphableModel(
            cpu["mean"][keep], cpu["id_basis"][:, keep], cpu["exp_basis"][:, keep],
            cpu["tex_mean"][keep], cpu["tex_basis"][:, keep], f, lm, mirror, regions,
            name=self.name, source=self.source, license=self.license, exp_kind=self.exp_kind,
            exp_names=self.exp_names, exp_bounds=self.own_exp_bounds,
        ).to(self.mean.device)

    def mirror_closure(self, vertex_indices) -> np.ndarray:
        """Sorted union of ``vertex_indices`` and their mirror partners."""
        idx = np.asarray(vertex_indices, dtype=np.int64)
        m = self.mirror.cpu().numpy()
        return np.unique(np.concatenate([idx, m[idx]]))

    # ----------------------------------------------------------------- files
    def save(self, path) -> None:
        """Write the model as a ``.npz`` face-model file (atomic)."""
        from photoface.facemodel.io import save_model

        save_model(self, path)

    @classmethod
    def load(cls, path) -> MorphableModel:
        """Read and validate a ``.npz`` face-model file (raises InputFileError)."""
        from photoface.facemodel.io import load_model

        return load_model(path)

    def extra_repr(self) -> str:
        bounds = ", own bounds" if self.own_exp_bounds is not None else ""
        return (
            f"name={self.name!r}, V={self.num_vertices}, F={self.num_faces}, K={self.n_id}, "
            f"L={self.n_exp} ({self.exp_kind}{bounds}), M={self.n_tex}, regions={self._region_names}"
        )


def _basis(b, v: int) -> torch.Tensor:
    t = torch.as_tensor(np.asarray(b), dtype=torch.float32).clone()
    if t.numel() == 0:
        return t.reshape(0, v, 3)
    return t


def _long(x) -> torch.Tensor:
    return torch.as_tensor(np.asarray(x), dtype=torch.long).clone()


def _batch(*coeffs) -> int:
    sizes = {c.shape[0] for c in coeffs if c is not None}
    if len(sizes) > 1:
        raise PhotofaceError(f"coefficient batches differ in size: {sorted(sizes)}")
    return sizes.pop() if sizes else 1


def _combine(coeff: torch.Tensor, basis: torch.Tensor, what: str) -> torch.Tensor:
    """(B, k) coefficients × the first k modes of a (K, V, 3) basis -> (B, V*3)."""
    if coeff.dim() != 2:
        raise PhotofaceError(f"{what} must be (B, k), got shape {tuple(coeff.shape)}")
    k = coeff.shape[1]
    if k > basis.shape[0]:
        raise PhotofaceError(f"{what} has {k} coefficients, the model only {basis.shape[0]}")
    if k == 0:  # a model without such modes (e.g. no albedo basis): nothing to add
        return basis.new_zeros(coeff.shape[0], basis.shape[1] * basis.shape[2])
    return coeff.to(basis.dtype) @ basis[:k].reshape(k, -1)
