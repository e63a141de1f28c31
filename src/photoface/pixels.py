"""Float pixels in [0, 1] ↔ 8-bit: the one conversion every picture, dataset image and vertex colour uses.

Values are linear, without gamma, as everywhere in photoface: 0 ↦ 0 and 1 ↦ 255, rounded to the
nearest level (ties to even), out-of-range values clipped. Float32 input is scaled in float32, so
a float32 image gives the same bytes whichever module converts it. Ground floor: imports only
numpy and torch, open to every package.
"""

from __future__ import annotations

import numpy as np
import torch


def to_uint8(image: torch.Tensor | np.ndarray) -> np.ndarray:
    """Float values in [0, 1] → uint8 levels 0..255.

    A tensor is taken channels-first, (C, H, W) or (N, C, H, W) with C = 3 or 1 (one channel is
    repeated to three), and comes back channels-last, (H, W, 3) / (N, H, W, 3), PIL's layout. An
    array keeps its shape (channels-last already, or vertex colours (V, 3)).
    """
    if isinstance(image, torch.Tensor):
        image = image.detach().cpu()
        if image.dim() in (3, 4) and image.shape[-3] in (1, 3):
            image = image.expand(*image.shape[:-3], 3, *image.shape[-2:]).movedim(-3, -1)
        image = image.numpy()
    values = np.asarray(image)
    if not np.issubdtype(values.dtype, np.floating):
        values = values.astype(np.float64)
    return np.rint(np.clip(values, 0.0, 1.0) * values.dtype.type(255.0)).astype(np.uint8)


def from_uint8(image: np.ndarray) -> torch.Tensor:
    """(H, W, 3) uint8 RGB → (3, H, W) float32 tensor in [0, 1] (a copy)."""
    return torch.from_numpy(np.array(image, dtype=np.uint8, copy=True)).permute(2, 0, 1).float().div_(255.0)
