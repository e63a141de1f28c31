"""Landmark normalised mean error (NME), generic and in the AFLW2000-3D / 3DDFA convention.

NME of one image = mean over its landmarks of the 2D Euclidean distance between predicted and
ground-truth landmarks, divided by a normalising length of the ground truth. Returned as a
fraction (multiply by 100 for the percentages that papers print). Landmarks (N, K, 2) in pixels.

AFLW2000-3D (3DDFA convention, Zhu et al. 2016): the normaliser is sqrt(w·h) of the bounding box
of the 68 ground-truth landmarks; images are grouped by |yaw| into [0, 30], (30, 60], (60, 90+]
degrees (a bin's upper edge belongs to it, as in the 3DDFA benchmark code), and the headline
number is the mean of the three bin means, so the many near-frontal images do not dominate.
"""

from __future__ import annotations

import numpy as np

YAW_BIN_EDGES = (30.0, 60.0)
YAW_BIN_NAMES = ("0-30", "30-60", "60-90")


def _as_points(x, name) -> np.ndarray:
    a = np.asarray(x, dtype=np.float64)
    if a.ndim == 2:
        a = a[None]
    if a.ndim != 3 or a.shape[-1] != 2:
        raise ValueError(f"{name} must be (N, K, 2) pixels, got shape {a.shape}")
    return a


def bbox_size(gt) -> np.ndarray:
    """sqrt(w·h) of each ground-truth landmark bounding box: (N, K, 2) → (N,) pixels."""
    gt = _as_points(gt, "gt")
    wh = gt.max(axis=1) - gt.min(axis=1)
    return np.sqrt(wh[:, 0] * wh[:, 1])


def interocular_distance(gt) -> np.ndarray:
    """Outer-eye-corner distance (iBUG 36 to 45, the 300-W normaliser): (N, 68, 2) → (N,)."""
    gt = _as_points(gt, "gt")
    return np.linalg.norm(gt[:, 36] - gt[:, 45], axis=1)


def landmark_nme(pred, gt, norm=None, visible=None) -> np.ndarray:
    """Per-image NME.

    Args:
        pred, gt: (N, K, 2) or (K, 2) pixels.
        norm: (N,) normalising lengths in pixels; default ``bbox_size(gt)``.
        visible: (N, K) optional mask; only visible landmarks are averaged.

    Returns:
        (N,) fractions.
    """
    pred, gt = _as_points(pred, "pred"), _as_points(gt, "gt")
    if pred.shape != gt.shape:
        raise ValueError(f"pred {pred.shape} and gt {gt.shape} differ")
    norm = bbox_size(gt) if norm is None else np.broadcast_to(np.asarray(norm, np.float64), len(gt))
    dist = np.linalg.norm(pred - gt, axis=2)
    if visible is None:
        mean = dist.mean(axis=1)
    else:
        v = np.asarray(visible, dtype=np.float64).reshape(dist.shape)
        mean = (dist * v).sum(axis=1) / np.maximum(v.sum(axis=1), 1)
    return mean / norm


def yaw_bin(yaw_deg) -> np.ndarray:
    """Bin index 0, 1, 2 of |yaw| in degrees: [0, 30], (30, 60], (60, ∞)."""
    a = np.abs(np.asarray(yaw_deg, dtype=np.float64))
    return np.where(a <= YAW_BIN_EDGES[0], 0, np.where(a <= YAW_BIN_EDGES[1], 1, 2))


def aflw2000_nme(pred, gt, yaw_deg) -> dict:
    """NME per yaw bin and their mean, the AFLW2000-3D protocol.

    Args:
        pred, gt: (N, 68, 2) pixels.
        yaw_deg: (N,) ground-truth yaw, degrees (sign ignored).

    Returns:
        {"bins": {"0-30": nme, "30-60": ..., "60-90": ...}, "counts": {...},
         "mean_of_bins": ..., "overall": mean over all images} — fractions; a bin without images
        is NaN and is left out of the mean of bins.
    """
    per_image = landmark_nme(pred, gt)
    bins = yaw_bin(yaw_deg)
    out_bins, counts = {}, {}
    for i, name in enumerate(YAW_BIN_NAMES):
        sel = per_image[bins == i]
        counts[name] = int(len(sel))
        out_bins[name] = float(sel.mean()) if len(sel) else float("nan")
    present = [v for v in out_bins.values() if np.isfinite(v)]
    return {
        "bins": out_bins,
        "counts": counts,
        "mean_of_bins": float(np.mean(present)) if present else float("nan"),
        "overall": float(per_image.mean()) if len(per_image) else float("nan"),
    }
