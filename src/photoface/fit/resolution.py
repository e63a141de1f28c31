"""The coarse level of the render stages: a person's photos and poses at a lower resolution.

The first Adam steps of a render stage move the face a long way and need no fine detail, so the
fitter runs them on renders of ``FitConfig.coarse_size`` px (``photoface.fit.person``), then the
rest at the photos' size from where the coarse steps stopped, with the same optimiser state. A
render step (forward + backward) of 5 photos of builtin:demo costs about half at 64² what it costs
at 128² (measured 2026-12-05, one thread: 31 ms against 59 ms; docs/benchmarks.md): the
rasteriser's per-pixel work and the photometric terms scale with the pixels, its per-triangle
set-up and the mesh do not.

Image and pixel coordinates follow ``photoface.render.camera``: a pixel's centre is at (j + 0.5,
i + 0.5), so averaging blocks of k × k pixels maps a point x px of the photo to x / k px of the
coarse image exactly, and the pose scales as f / k, tx / k, ty / k (angles unchanged). The
landmark term is scale-free (residuals and σ both shrink by k), the photometric term is a mean per
pixel, and the gradient-difference term, a squared difference of neighbouring pixels k times as
far apart, grows by about k²: ``objective_weights`` divides its weight by k² so the coarse
objective weighs its terms as the fine one does.
"""

from __future__ import annotations

import dataclasses

import torch

from photoface.fit.objective import PhotoBatch


def coarse_factor(image_size: int, coarse_size: int) -> int:
    """The integer block side k ≥ 1 of a coarse level of ``coarse_size`` px for photos of
    ``image_size`` px: 1 (no coarse level) when ``coarse_size`` is 0, not smaller than the photos, or
    does not divide their size."""
    if coarse_size <= 0 or coarse_size >= image_size or image_size % coarse_size:
        return 1
    return image_size // coarse_size


def coarse_batch(batch: PhotoBatch, k: int) -> PhotoBatch:
    """``batch`` averaged over k × k pixel blocks: images and masks (B, C, S/k, S/k) (a mask then
    weighs a coarse pixel by its share of face pixels), landmarks and σ in coarse pixels."""
    if k == 1:
        return batch
    pool = torch.nn.functional.avg_pool2d
    return dataclasses.replace(batch, images=pool(batch.images, k), masks=pool(batch.masks, k),
                               landmarks=batch.landmarks / k, sigma_px=batch.sigma_px / k)


def coarse_pose(pose: torch.Tensor, k: int) -> torch.Tensor:
    """(B, 6) physical pose of the photos -> the same view in the coarse image (module docstring)."""
    if k == 1:
        return pose
    return torch.cat([pose[:, :3], pose[:, 3:] / k], 1)


def objective_weights(cfg, k: int):
    """``cfg`` with ``w_gdl`` divided by k² (module docstring); ``cfg`` itself when k = 1."""
    return cfg if k == 1 else dataclasses.replace(cfg, w_gdl=cfg.w_gdl / k ** 2)
