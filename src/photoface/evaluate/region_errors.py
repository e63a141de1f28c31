"""Per-vertex and per-region errors on the TRUE face's vertices, signed and unsigned.

The protocol (``photoface.evaluate.protocol``) measures, for every vertex g of the cropped true
surface, its distance to the closest point q of the aligned prediction. Here that distance is put
back on the truth's own vertex numbering (NaN outside the 95 mm crop) and given a sign:

    signed(g) = |q − g| · sign((q − g) · n_g),   n_g the truth's outward vertex normal,

so a positive error means the prediction lies in front of (outside) the true surface there, a
negative one behind it. Because every method is measured on the same truth vertices, the errors
of different models (of any topology) average over many true faces vertex by vertex, and per
region with the truth model's named regions (``MorphableModel.regions``: nose, brows, cheeks, jaw,
lips, eyes, forehead, chin; ``photoface.facemodel.landmark_regions`` derives them from the 68
landmarks for models without their own). Units: millimetres.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch

from photoface.evaluate.micc import summarize_errors
from photoface.evaluate.protocol import ProtocolResult
from photoface.mesh.normals import vertex_normals

REGIONS = ("nose", "brows", "eyes", "forehead", "cheeks", "lips", "chin", "jaw")
"""The regions reported, in this order, where the truth model has them."""


def truth_normals(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V, 3) outward unit vertex normals of the truth mesh (V, 3) mm, faces (F, 3)."""
    return vertex_normals(torch.as_tensor(np.asarray(verts, np.float64)),
                          torch.as_tensor(np.asarray(faces, np.int64))).numpy()


def signed_truth_errors(result: ProtocolResult, normals: np.ndarray) -> np.ndarray:
    """(V,) signed truth→prediction distance of every truth vertex (module docstring); NaN outside the crop.

    Args:
        result: the protocol's result of a prediction against this truth.
        normals: (V, 3) the truth's vertex normals (``truth_normals``).
    """
    normals = np.asarray(normals, np.float64)
    if result.scan_kept is None or result.scan_closest is None:
        raise ValueError("the protocol result lacks the per-vertex bookkeeping (scan_kept, scan_closest)")
    out = np.full(len(normals), np.nan)
    kept = result.scan_kept
    side = np.einsum("nd,nd->n", result.scan_closest - result.scan_points, normals[kept])
    out[kept] = np.where(side < 0, -1.0, 1.0) * result.scan_errors
    return out


def region_errors(signed: np.ndarray, regions: Mapping[str, np.ndarray],
                  names: Sequence[str] = REGIONS) -> dict[str, dict]:
    """Per-region summaries over the rows (faces) of signed per-vertex errors.

    Args:
        signed: (N, V) signed errors of N faces on the truth's vertices (NaN: outside the crop).
        regions: name → vertex indices of the truth model.
        names: regions to report, in order; those the truth model lacks are skipped.

    Returns:
        {region: {"abs_mm": summary over faces of the region's mean |error|, "signed_mm": the same
        of the mean signed error, "vertices": the region's size}}; summaries are
        ``micc.summarize_errors`` (mean, std, sem, n).
    """
    signed = np.atleast_2d(np.asarray(signed, np.float64))
    out = {}
    for name in names:
        if name not in regions or len(regions[name]) == 0:
            continue
        part = signed[:, np.asarray(regions[name], np.int64)]
        abs_mean, signed_mean = _row_means(np.abs(part)), _row_means(part)
        out[name] = {"abs_mm": summarize_errors(abs_mean), "signed_mm": summarize_errors(signed_mean),
                     "vertices": int(len(regions[name]))}
    return out


def _row_means(values: np.ndarray) -> np.ndarray:
    """(N, n) → (N,) mean of each row's finite values; NaN for a row without any."""
    count = np.isfinite(values).sum(axis=1)
    return np.where(count > 0, np.nansum(values, axis=1) / np.maximum(count, 1), np.nan)


def mean_over_faces(signed: np.ndarray) -> np.ndarray:
    """(N, V) → (V,) mean signed error per truth vertex over the faces where it was measured (NaN if none)."""
    return _row_means(np.atleast_2d(np.asarray(signed, np.float64)).T)
