"""The landmark start: set the encoder's linear landmark-to-code map by ridge regression, before step 1.

A fresh run of the demo preset (``schedule.landmark_start`` with ``model.landmark_linear``) fits
:class:`photoface.nn.landmark_input.LandmarkLinear` in closed form, then trains everything as
usual, so the network starts where a landmark regressor is instead of at the mean face. It is the
supervised-descent idea (Xiong & De la Torre, CVPR 2013: linear regression from landmark features
to model parameters) used as a network's start, and the encoder's counterpart of stage 0
(:mod:`photoface.train.pretrain`): both learn from samples of the linear model before any photo.
The paper's encoder sees only the image; the ``paper`` preset has this off.

Data, two kinds, every landmark with Gaussian detector noise of ``noise`` × the image side:

* ``samples`` draws of the linear model (identity and expression from its prior,
  ``MorphableModel.sample``), posed at the poses of labeled training photos drawn at random, and
  their projected landmark vertices;
* the labeled training photos (at most ``max_photos``, a seeded subset), ``copies`` noisy copies
  of each photo's landmarks. Labeled rows carry the landmarks of their label (300W-LP's and our
  synthetic rows do); the photos the network meets carry a detector's, hence the noise.

Targets are codes: coefficients through the fixed code map of :mod:`photoface.nn.code_map`
(texture entries 0: landmarks carry no albedo) and the pose through
:func:`photoface.render.code_from_pose`. Measured on the demo collection (held-out photos, mean
vertex distance after a similarity alignment, identity-averaged; mean face 3.46 mm): 399 labeled
photos alone 2.69 mm, 40,000 samples 2.48 mm, which equals the per-photo landmark fit's 2.48 mm.

λ: ridge on standardised features, ``(ZᵀZ + λ n I) W = Zᵀ(Y - Ȳ)``, λ picked from ``lambdas`` by
``folds``-fold cross-validation over the labeled photos' people (a person's photos stay in one
fold; the samples are always in the fitted part), scored by the RMS vertex error of the held-out
photos' shape codes through the face model's basis, in millimetres. Pose shares the λ. Only
sums (counts, feature sums, XᵀX, XᵀY) are kept per part, so memory does not grow with
``samples``. Cost: about 10 s for the demo's 40,000 samples on 2 cores.

Determinism: the draws come from generators seeded by the run's seed, and the solve is float64
on one process, so every rank of a distributed run computes the same start (and
DistributedDataParallel broadcasts rank 0's weights anyway).
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np
import torch

from photoface.errors import PhotofaceError
from photoface.nn.code_map import linear_basis, linear_codes
from photoface.nn.landmark_input import regression_features
from photoface.render import code_from_pose, project

MIN_IDENTITIES = 2  # the cross-validation over identities needs two


@dataclass
class LandmarkStart:
    """What :func:`landmark_start` did: labeled photos and their people, linear-model samples, the
    λ chosen, and the cross-validated RMS vertex error (mm) of the held-out photos' shapes for
    every λ tried, next to the mean face's (all-zero codes) on the same photos."""

    photos: int
    identities: int
    samples: int
    lam: float
    cv_rms_mm: dict[float, float]
    mean_face_rms_mm: float

    def summary(self) -> str:
        return (f"landmark start: ridge regression on {self.samples} linear-model samples and {self.photos} "
                f"labeled photos of {self.identities} people, "
                f"λ {self.lam:g}, cross-validated shape RMS {self.cv_rms_mm[self.lam]:.2f} mm "
                f"(mean face {self.mean_face_rms_mm:.2f} mm)")


def landmark_start(net, dataset, face_model, *, samples: int, noise: float, copies: int, lambdas, folds: int = 5,
                   max_photos: int = 4000, seed: int = 0, chunk: int = 4096) -> LandmarkStart:
    """Fit ``net.encoder.landmark_linear`` (module docstring).

    Args:
        net: a :class:`photoface.nn.FaceNet` built with ``landmark_linear``.
        dataset: the training :class:`photoface.data.torch_dataset.PhotoDataset` (rows are read,
            images are not).
        face_model: the run's ``MorphableModel``.
        samples: linear-model draws. noise: landmark noise, fraction of the image side.
        copies: noisy copies per labeled photo. lambdas: ridge λ values to try.
        folds: cross-validation folds over the labeled photos' people.
        max_photos: use at most this many labeled photos. seed: seed of every draw.
        chunk: rows per block when summing the samples' statistics.

    Raises:
        PhotofaceError: the network has no linear landmark map, or the labeled photos show fewer
            than two people (the message says how to label more or switch the start off).
    """
    module = net.encoder.landmark_linear
    if module is None:
        raise PhotofaceError("schedule.landmark_start needs model.landmark_linear=true")
    rows = [(dataset.row(i), dataset.row_identities[i]) for i in range(len(dataset)) if dataset.labeled[i]]
    people = len({name for _, name in rows})
    if people < MIN_IDENTITIES:
        raise PhotofaceError(
            f"schedule.landmark_start takes poses and held-out photos from labeled training photos, but the data "
            f"have {len(rows)} labeled photos of {people} people (photos of at least {MIN_IDENTITIES} people "
            "needed); label photos with `photoface fit` (its labels are written as a prepared dataset) or set "
            "schedule.landmark_start=false")
    if not lambdas:
        raise PhotofaceError("schedule.landmark_start_lambdas is empty")
    rng = np.random.default_rng(int(seed) * 7_727 + 5)
    if len(rows) > max_photos:
        rows = [rows[i] for i in np.sort(rng.choice(len(rows), max_photos, replace=False))]
    size = module.image_size
    id_dim, exp_dim, _ = module.dims
    copies = max(1, int(copies))
    lm, y, poses = _labeled(rows, size, id_dim, exp_dim, dataset.n_id, dataset.n_exp)
    lm = np.repeat(lm, copies, axis=0) + rng.normal(0.0, float(noise) * size, (len(lm) * copies, 68, 2))
    y = np.repeat(y, copies, axis=0)
    s_lm, s_y = _samples(face_model, int(samples), poses, size, id_dim, exp_dim, noise, rng, seed)
    _set_pose_terms(module, s_lm if len(s_lm) else lm)
    x = _features(module, lm)
    names = sorted({name for _, name in rows})
    fold_of_name = dict(zip(names, rng.permutation(len(names)) % max(2, min(int(folds), len(names)))))
    fold = np.repeat(np.array([fold_of_name[name] for _, name in rows]), copies)
    sample_stats = _Stats.zero(x.shape[1], y.shape[1])
    for i in range(0, len(s_lm), chunk):
        sample_stats = sample_stats + _Stats.of(_features(module, s_lm[i:i + chunk]), s_y[i:i + chunk])
    fold_stats = {f: _Stats.of(x[fold == f], y[fold == f]) for f in np.unique(fold)}
    everything = sample_stats + sum(fold_stats.values(), _Stats.zero(x.shape[1], y.shape[1]))
    mean, scale = everything.standardisation()
    basis = linear_basis(face_model, id_dim, exp_dim).double().reshape(id_dim + exp_dim, -1).numpy()
    gram = basis @ basis.T / face_model.num_vertices  # Δcᵀ G Δc = mean squared vertex error, mm²
    shape = slice(0, id_dim + exp_dim)
    cv = {}
    for lam in lambdas:
        sq = []
        for f, held in fold_stats.items():
            w, b = (everything - held).solve(mean, scale, float(lam))
            sq.append(_shape_sq(((x[fold == f] - mean) / scale) @ w + b - y[fold == f], gram, shape))
        cv[float(lam)] = float(np.sqrt(np.mean(np.concatenate(sq))))
    best = min(cv, key=cv.get)
    w, b = everything.solve(mean, scale, best)
    module.set_regression(*(torch.as_tensor(a, dtype=torch.float32) for a in (mean, scale, w.T, b)))
    return LandmarkStart(photos=len(rows), identities=len(names), samples=len(s_lm), lam=best, cv_rms_mm=cv,
                         mean_face_rms_mm=float(np.sqrt(np.mean(_shape_sq(-y, gram, shape)))))


@dataclass
class _Stats:
    """Sums over rows that a ridge fit with intercept needs: n, Σx (F,), Σy (T,), XᵀX (F, F), XᵀY (F, T)."""

    n: float
    sx: np.ndarray
    sy: np.ndarray
    xx: np.ndarray
    xy: np.ndarray

    @staticmethod
    def zero(f: int, t: int) -> "_Stats":
        return _Stats(0.0, np.zeros(f), np.zeros(t), np.zeros((f, f)), np.zeros((f, t)))

    @staticmethod
    def of(x: np.ndarray, y: np.ndarray) -> "_Stats":
        return _Stats(float(len(x)), x.sum(0), y.sum(0), x.T @ x, x.T @ y)

    def __add__(self, o: "_Stats") -> "_Stats":
        return _Stats(self.n + o.n, self.sx + o.sx, self.sy + o.sy, self.xx + o.xx, self.xy + o.xy)

    def __sub__(self, o: "_Stats") -> "_Stats":
        return _Stats(self.n - o.n, self.sx - o.sx, self.sy - o.sy, self.xx - o.xx, self.xy - o.xy)

    def standardisation(self) -> tuple[np.ndarray, np.ndarray]:
        """(F,) mean and standard deviation of the features (1e-6 added: constant features stay finite)."""
        m = self.sx / self.n
        var = np.diag(self.xx) / self.n - m * m
        return m, np.sqrt(np.clip(var, 0.0, None)) + 1e-6

    def solve(self, mean: np.ndarray, scale: np.ndarray, lam: float) -> tuple[np.ndarray, np.ndarray]:
        """Ridge on features standardised by (mean, scale): weights (F, T) and bias (T,) such that
        ``y ≈ ((x - mean) / scale) @ W + b``."""
        xm, ym = self.sx / self.n, self.sy / self.n
        cxx = (self.xx - self.n * np.outer(xm, xm)) / np.outer(scale, scale)
        cxy = (self.xy - self.n * np.outer(xm, ym)) / scale[:, None]
        w = np.linalg.solve(cxx + lam * self.n * np.eye(len(cxx)), cxy)
        return w, ym - ((xm - mean) / scale) @ w


def _features(module, lm: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        return module.features(torch.as_tensor(lm, dtype=torch.float32)).double().cpu().numpy()


def _set_pose_terms(module, lm: np.ndarray) -> None:
    """The pose proxies: PCA of the landmarks' 136 shape numbers, the leading POSE_TERMS directions
    scaled to unit spread."""
    with torch.no_grad():
        shape = regression_features(torch.as_tensor(lm, dtype=torch.float32), module.image_size)[:, :136].double()
    centre = shape.mean(0)
    _, sv, vt = torch.linalg.svd(shape - centre, full_matrices=False)
    k = module.POSE_TERMS
    spread = sv[:k] / np.sqrt(max(1, len(shape) - 1))
    module.set_pose_terms(centre.float(), (vt[:k] / spread.clamp_min(1e-9)[:, None]).float())


def _labeled(rows, size: int, id_dim: int, exp_dim: int, n_id: int, n_exp: int):
    """(N, 68, 2) landmarks px, (N, id_dim + exp_dim + 6) target codes, (N, 6) poses of the labeled rows."""
    lm = np.stack([np.asarray(r.landmarks, np.float64) for r, _ in rows])
    poses = np.stack([_padded(r.pose, 6) for r, _ in rows])
    coeffs = SimpleNamespace(
        alpha_id=torch.as_tensor(np.stack([_padded(r.alpha_id, n_id) for r, _ in rows])),
        alpha_exp=torch.as_tensor(np.stack([_padded(r.alpha_exp, n_exp) for r, _ in rows])),
        beta=torch.zeros(len(rows), 0, dtype=torch.float64),
    )
    return lm, _codes(coeffs, poses, size, id_dim, exp_dim), poses


def _samples(face_model, n: int, poses: np.ndarray, size: int, id_dim: int, exp_dim: int, noise: float,
             rng: np.random.Generator, seed: int):
    """n linear-model draws at labeled poses: noisy (n, 68, 2) landmarks px and (n, T) target codes.
    Only the 68 landmark vertices are formed (the paper model's 37k vertices × 40,000 draws would
    not fit in memory)."""
    if n <= 0:
        return np.zeros((0, 68, 2)), np.zeros((0, id_dim + exp_dim + 6))
    coeffs = face_model.sample(n, generator=torch.Generator().manual_seed(int(seed) * 7_919 + 29))
    lm_idx = face_model.landmarks68
    verts = face_model.mean[lm_idx].double()[None]
    verts = verts + torch.einsum("bk,kld->bld", coeffs.alpha_id.double(), face_model.id_basis[:, lm_idx].double())
    if face_model.n_exp:
        verts = verts + torch.einsum("bk,kld->bld", coeffs.alpha_exp.double(), face_model.exp_basis[:, lm_idx].double())
    pose = torch.as_tensor(poses[rng.integers(0, len(poses), n)])
    lm = project(verts, pose)[..., :2].numpy() + rng.normal(0.0, float(noise) * size, (n, 68, 2))
    coeffs = SimpleNamespace(alpha_id=coeffs.alpha_id.double(), alpha_exp=coeffs.alpha_exp.double(),
                             beta=torch.zeros(n, 0, dtype=torch.float64))
    return lm, _codes(coeffs, pose.numpy(), size, id_dim, exp_dim)


def _codes(coeffs, poses: np.ndarray, size: int, id_dim: int, exp_dim: int) -> np.ndarray:
    c_id, c_exp = linear_codes(coeffs, id_dim, exp_dim)
    pose = code_from_pose(torch.as_tensor(poses, dtype=torch.float64), size)
    return torch.cat([c_id.double(), c_exp.double(), pose], dim=1).numpy()


def _padded(values, n: int) -> np.ndarray:
    out = np.zeros(n)
    if values is not None:
        v = np.asarray(values, np.float64)
        out[:len(v)] = v
    return out


def _shape_sq(err: np.ndarray, gram: np.ndarray, shape: slice) -> np.ndarray:
    """Code errors (n, T) → (n,) mean squared vertex errors (mm²) of their shape part."""
    e = err[:, shape]
    return np.einsum("ni,ij,nj->n", e, gram, e)
