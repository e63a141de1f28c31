"""The 2-D points a fit uses and the model vertices that play them.

Always the 68 iBUG landmarks (``face_model.landmarks68``, jaw on the silhouette,
``fit.contour``). With MediaPipe's points (prepared rows of format 1.1 carry ``points``) they are
followed by every *reliable* MediaPipe point of the model's correspondence (``fit.dense_points``);
its face-oval points get silhouette lines like the jaw. Photos without MediaPipe points (dlib's
fallback) give those points weight 0, so one person may mix both.

Weights: the 68 landmarks keep their weights (visibility); the M MediaPipe points share a total of
``dense_weight`` × 68, i.e. each weighs ``dense_weight`` · 68 / M. The detector's errors on
neighbouring points are not independent, so counting the 400-odd points as 400 independent
measurements would let them drown the photometric terms; with ``dense_weight = 1`` they weigh
together what the 68 landmarks weigh.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from photoface.fit.contour import JAW, contour_lines, jaw_sides, landmark_vertices, silhouette_lines

NUM_IBUG = 68


@dataclass
class FitPoints:
    """vertices (N,) long: the 68 landmark vertices, then one per MediaPipe point of
    ``mediapipe_ids`` (M,); lines (C, P) long contour lines or None, slots (C,) the points they
    belong to, sides (C,) their outward image direction (``contour.landmark_vertices``)."""

    vertices: torch.Tensor
    mediapipe_ids: np.ndarray
    lines: torch.Tensor | None = None
    slots: torch.Tensor | None = None
    sides: torch.Tensor | None = None

    def __len__(self) -> int:
        return int(self.vertices.shape[0])

    def pick(self, cam_verts: torch.Tensor, yaw_deg: torch.Tensor, min_yaw_deg: float) -> torch.Tensor:
        """(B, N) long: the vertices of the points per photo, outline points on the silhouette."""
        return landmark_vertices(self.vertices, self.lines, cam_verts, yaw_deg, min_yaw_deg, self.slots, self.sides)


def landmark_points(face_model, contour: bool) -> FitPoints:
    """The 68 landmarks alone (jaw lines when ``contour``): the fit as it was before MediaPipe."""
    lines = contour_lines(face_model) if contour else None
    return FitPoints(face_model.landmarks68.cpu().long(), np.zeros(0, np.int64), lines)


def _pad(lines: list[torch.Tensor]) -> torch.Tensor:
    width = max(line.shape[1] for line in lines)
    return torch.cat([torch.cat([line, line[:, -1:].expand(-1, width - line.shape[1])], 1) for line in lines])


def mediapipe_points(face_model, contour: bool) -> FitPoints:
    """The 68 landmarks followed by the model's reliable MediaPipe points (module docstring)."""
    from photoface.fit.dense_points import correspondence

    corr = correspondence(face_model)
    ids = np.flatnonzero(corr.reliable)
    vertices = torch.cat([face_model.landmarks68.cpu().long(), torch.as_tensor(corr.vertices[ids])])
    if not contour:
        return FitPoints(vertices, ids)
    oval = np.flatnonzero(corr.silhouette[ids])
    oval_vertices = corr.vertices[ids[oval]]
    x = face_model.mean.detach().cpu().double()[torch.as_tensor(oval_vertices), 0]
    sides = torch.cat([jaw_sides(torch.float64), torch.sign(x)])
    slots = torch.cat([torch.arange(JAW), torch.as_tensor(NUM_IBUG + oval)])
    lines = _pad([contour_lines(face_model), silhouette_lines(face_model, oval_vertices)])
    return FitPoints(vertices, ids, lines, slots, sides)


def with_mediapipe_points(landmarks: np.ndarray, weights: np.ndarray, points: list[np.ndarray | None],
                          fit_points: FitPoints, dense_weight: float) -> tuple[np.ndarray, np.ndarray]:
    """(B, N, 2) px and (B, N) weights: each photo's 68 landmarks and weights, then its MediaPipe
    points of ``fit_points`` (weight ``dense_weight`` · 68 / M each), or zeros with weight 0 when
    the photo has none.

    Args:
        landmarks: (B, 68, 2) px. weights: (B, 68). points: per photo (478, 2) px or None.
    """
    ids = fit_points.mediapipe_ids
    b = len(landmarks)
    extra = np.zeros((b, len(ids), 2))
    extra_w = np.zeros((b, len(ids)))
    each = dense_weight * NUM_IBUG / max(len(ids), 1)
    for i, pts in enumerate(points):
        if pts is not None:
            extra[i] = np.asarray(pts, np.float64)[ids]
            extra_w[i] = each
    return (np.concatenate([np.asarray(landmarks, np.float64), extra], 1),
            np.concatenate([np.asarray(weights, np.float64), extra_w], 1))
