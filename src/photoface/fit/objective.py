"""The fitting objective of the render stages: one person's photos, through the renderer.

Terms (``photoface.losses``, each a mean over the B photos unless noted):

* ``landmark``: ``landmark_energy`` of the 68 projected landmark vertices (jaw landmarks on the
  silhouette, ``photoface.fit.contour``), weights = visibility, σ from the landmark box;
* ``photo`` and ``gdl``: ``photometric_loss`` and ``gradient_difference_loss`` on the pixels the
  render covers AND the photo's mask marks as face;
* ``symmetry``: ``albedo_symmetry_loss`` of the shared albedo with the model's mirror map;
* priors from the parametrisation; shared ones (identity, albedo, symmetry) divided by B
  (``photoface.fit.config``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from photoface import losses
from photoface.fit.parametrisation import Decoded
from photoface.render.camera import project


@dataclass
class PhotoBatch:
    """One person's photos: images (B, 3, S, S) in [0, 1], masks (B, 1, S, S) 1 = face pixel,
    landmarks (B, N, 2) px, weights (B, N) ≥ 0 (visibility), sigma_px (B,) landmark noise px.
    N = 68, or the 68 landmarks followed by MediaPipe's points (``fit.point_vertices``).
    detector_start: MediaPipe's (angles (B, 3) degrees, expressions (B, L)) as a further start of
    the landmark fit (``fit.detector_start``), or None."""

    images: torch.Tensor
    masks: torch.Tensor
    landmarks: torch.Tensor
    weights: torch.Tensor
    sigma_px: torch.Tensor
    detector_start: tuple | None = None

    @property
    def image_size(self) -> int:
        return int(self.images.shape[-1])

    def __len__(self) -> int:
        return int(self.images.shape[0])


def projected_landmarks(screen_verts: torch.Tensor, vertices: torch.Tensor) -> torch.Tensor:
    """(B, V, 3) screen vertices, (B, N) per-photo vertex indices -> (B, N, 2) px."""
    idx = vertices.to(screen_verts.device)[..., None].expand(-1, -1, 2)
    return torch.gather(screen_verts[..., :2], 1, idx)


def fit_terms(decoded: Decoded, batch: PhotoBatch, renderer, vertices: torch.Tensor, mirror: torch.Tensor,
              priors: dict[str, torch.Tensor], photometric: bool = True, geometry=None):
    """Unweighted terms of the objective (module docstring) and the render.

    Args:
        decoded: the parametrisation's faces. batch: the photos. renderer: ``photoface.render.Renderer``.
        vertices: (B, N) point vertices per photo. mirror: (V,) the model's mirror map.
        priors: the parametrisation's prior terms. photometric: False skips the render.
        geometry: ``renderer.geometry`` of ``decoded``'s shape and pose, computed once where they
            stay fixed (only albedo and light are shaded then); None renders from scratch.

    Returns:
        (terms: dict name -> scalar, render output or None, points2d (B, N, 2) px).
    """
    b = len(batch)
    out = None
    terms = {}
    if photometric:
        if geometry is None:
            geometry = renderer.geometry(decoded.shape, decoded.pose)
        out = renderer.shade(geometry, decoded.albedo, decoded.light)
        screen = out.screen_verts
        terms["photo"] = losses.photometric_loss(out.image, batch.images, out.mask, batch.masks)
        terms["gdl"] = losses.gradient_difference_loss(out.image, batch.images, out.mask, batch.masks)
    else:
        screen = project(decoded.shape, decoded.pose)
    lm2d = projected_landmarks(screen, vertices)
    terms["landmark"] = losses.landmark_energy(lm2d, batch.landmarks, batch.sigma_px, batch.weights)
    terms["symmetry"] = losses.albedo_symmetry_loss(decoded.albedo[:1], mirror) / b
    for name, value in priors.items():
        terms[name] = value / b if name in ("identity", "albedo") else value
    return terms, out, lm2d


def weighted_total(terms: dict[str, torch.Tensor], cfg) -> torch.Tensor:
    """Σ weight · term with the weights of ``FitConfig`` (w_landmark, w_photo, w_gdl, w_symmetry,
    w_id, w_exp, w_tex, w_light)."""
    weight = {"landmark": cfg.w_landmark, "photo": cfg.w_photo, "gdl": cfg.w_gdl, "symmetry": cfg.w_symmetry,
              "identity": cfg.w_id, "expression": cfg.w_exp, "albedo": cfg.w_tex, "light": cfg.w_light}
    return sum(weight[k] * v for k, v in terms.items())
