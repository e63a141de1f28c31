"""Pose, expression and per-vertex shape errors for data with ground truth (the synthetic benchmark).

Units: angles in degrees, shapes (N, V, 3) in millimetres on the same topology (vertex i of the
prediction corresponds to vertex i of the truth). Pose angles follow ``photoface.render.camera``.
"""

from __future__ import annotations

import numpy as np

ANGLE_NAMES = ("pitch", "yaw", "roll")


def angle_difference(a_deg, b_deg) -> np.ndarray:
    """a - b wrapped to [-180, 180) degrees, elementwise."""
    d = np.asarray(a_deg, dtype=np.float64) - np.asarray(b_deg, dtype=np.float64)
    return (d + 180.0) % 360.0 - 180.0


def pose_errors(pred_deg, true_deg) -> dict[str, float]:
    """Mean absolute pitch, yaw and roll errors and their mean.

    Args:
        pred_deg, true_deg: (N, 3) pitch, yaw, roll in degrees (a (N, 6) physical pose also works:
            only the first three columns are used).

    Returns:
        {"pitch": deg, "yaw": deg, "roll": deg, "mean": deg}.
    """
    p = np.asarray(pred_deg, dtype=np.float64).reshape(-1, np.shape(pred_deg)[-1])[:, :3]
    t = np.asarray(true_deg, dtype=np.float64).reshape(-1, np.shape(true_deg)[-1])[:, :3]
    err = np.abs(angle_difference(p, t)).mean(axis=0)
    out = {name: float(e) for name, e in zip(ANGLE_NAMES, err)}
    out["mean"] = float(err.mean())
    return out


def vertex_errors(pred, true) -> np.ndarray:
    """Euclidean distance per vertex, (N, V, 3) × 2 → (N, V) mm."""
    return np.linalg.norm(np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64), axis=-1)


def expression_error(pred_shape, pred_neutral, true_shape, true_neutral) -> np.ndarray:
    """Per-sample error of the expression alone, independent of identity errors.

    The expression offset is the shape minus the same identity's neutral shape (decoded with a
    zero expression code for the prediction; the true neutral mesh for the truth). The error is
    the mean over vertices of ||offset_pred - offset_true||.

    Args:
        pred_shape, pred_neutral, true_shape, true_neutral: (N, V, 3) mm.

    Returns:
        (N,) mm.
    """
    pred_off = np.asarray(pred_shape, np.float64) - np.asarray(pred_neutral, np.float64)
    true_off = np.asarray(true_shape, np.float64) - np.asarray(true_neutral, np.float64)
    return vertex_errors(pred_off, true_off).mean(axis=-1)


def coefficient_error(pred, true) -> np.ndarray:
    """Per-sample RMS difference of coefficient vectors (N, K) when both use the same basis."""
    d = np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return np.sqrt((d**2).mean(axis=-1))
