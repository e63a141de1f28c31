"""Similarity transforms of point sets and their least-squares fit (Umeyama 1991), in any dimension.

A similarity is stored as (s, R, t) and maps x ↦ s·R·x + t, for points as rows: ``s * x @ R.T + t``;
R is a proper rotation (det +1, never a reflection). The same closed form serves 3-D meshes (mm)
and 2-D landmarks (px): the units are those of the points.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Similarity:
    """x ↦ s·R·x + t; R (d, d), t (d,). The default is the 3-D identity."""

    scale: float = 1.0
    rotation: np.ndarray = field(default_factory=lambda: np.eye(3))
    translation: np.ndarray = field(default_factory=lambda: np.zeros(3))

    def apply(self, points: np.ndarray) -> np.ndarray:
        """(N, d) → (N, d)."""
        return self.scale * np.asarray(points, dtype=np.float64) @ self.rotation.T + self.translation

    def inverse(self) -> "Similarity":
        return Similarity(1.0 / self.scale, self.rotation.T, -self.rotation.T @ self.translation / self.scale)

    def then(self, other: "Similarity") -> "Similarity":
        """The composition: first ``self``, then ``other``."""
        return Similarity(
            other.scale * self.scale,
            other.rotation @ self.rotation,
            other.scale * other.rotation @ self.translation + other.translation,
        )

    def matrix(self) -> np.ndarray:
        """The (d, d + 1) affine matrix [s·R | t]."""
        return np.concatenate([self.scale * self.rotation, self.translation[:, None]], axis=1)

    def to_dict(self) -> dict:
        return {"scale": float(self.scale), "rotation": self.rotation.tolist(),
                "translation": self.translation.tolist()}


def umeyama(src: np.ndarray, dst: np.ndarray, with_scale: bool = True,
            weights: np.ndarray | None = None) -> Similarity:
    """Least-squares similarity (Umeyama 1991) with dst ≈ s·R·src + t; R a proper rotation.

    Args:
        src, dst: (N, d) corresponding points; for a unique answer they span all d dimensions
            (in 3-D: at least 3 points, not collinear).
        with_scale: estimate s (else s = 1). Points that all coincide give s = 1.
        weights: (N,) optional non-negative weights.
    """
    src = np.asarray(src, dtype=np.float64)
    dst = np.asarray(dst, dtype=np.float64)
    w = np.ones(len(src)) if weights is None else np.asarray(weights, dtype=np.float64)
    w = w / w.sum()
    mu_s, mu_d = w @ src, w @ dst
    xs, xd = src - mu_s, dst - mu_d
    cov = (xd * w[:, None]).T @ xs
    u, sig, vt = np.linalg.svd(cov)
    d = np.ones(src.shape[1])
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1.0
    rot = u @ np.diag(d) @ vt
    var_s = float(w @ (xs**2).sum(axis=1))
    s = float((sig * d).sum() / var_s) if with_scale and var_s > 0 else 1.0
    return Similarity(s, rot, mu_d - s * rot @ mu_s)


def aligned_distances(pred: np.ndarray, true: np.ndarray) -> np.ndarray:
    """(V,) distance of each vertex of ``pred`` (V, 3) to the same vertex of ``true`` (V, 3), in
    their unit, after the least-squares similarity that maps ``pred`` onto ``true`` (scale,
    rotation and position are not the shape's)."""
    pred, true = np.asarray(pred, np.float64), np.asarray(true, np.float64)
    return np.linalg.norm(umeyama(pred, true).apply(pred) - true, axis=1)
