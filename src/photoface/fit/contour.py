"""Jaw-line (contour) landmarks, and MediaPipe's face-oval points, that follow the silhouette of a
turned face.

A 2D landmark detector puts the 17 jaw landmarks on the visible outline of the face. For a
frontal face that outline runs through fixed model vertices; once the head turns, the outline on
the far side is the cheek's silhouette, further in. Fixed landmark vertices then pull the fit
towards a wrong yaw and a too-narrow face. As 3DDFA and Deep3DFaceRecon-style fitters do, each jaw
landmark gets a precomputed *line* of candidate vertices, at the landmark's height, from the
landmark vertex in towards the face's midline; per photo the candidate that lies furthest out in
the image (the silhouette along that line) takes the landmark's place.

Shapes: lines are a (17, P) long tensor of vertex indices padded by repeating each line's last
vertex (so a padded entry never wins by itself); camera-space vertices (B, V, 3) mm.
"""

from __future__ import annotations

import numpy as np
import torch

JAW = 17
"""iBUG-68 indices 0..16 are the jaw line; 8 is the chin, on the midline."""
CHIN = 8


INNER_REGIONS = ("mouth_interior", "eyes")
"""Regions behind the skin's outer surface: never a silhouette, a face oval or a skin point."""


def outer_skin(face_model) -> np.ndarray:
    """(V,) bool: the vertices not in the model's ``INNER_REGIONS`` (where it has them)."""
    keep = np.ones(face_model.num_vertices, bool)
    for name in INNER_REGIONS:
        idx = face_model.regions.get(name)
        if idx is not None:
            keep[idx.cpu().numpy()] = False
    return keep


def jaw_sides(dtype=torch.float64) -> torch.Tensor:
    """(17,) the side each jaw landmark's silhouette lies on: −1 (the subject's right, iBUG 0–7),
    0 (the chin), +1 (left, 9–16); a landmark slides to the extreme x of its line on that side."""
    return torch.sign(torch.arange(JAW, dtype=dtype) - CHIN)


def contour_lines(face_model, points: int = 16, band_mm: float = 4.0) -> torch.Tensor:
    """Candidate vertex lines of the 17 jaw landmarks, from the face model's mean shape.

    For jaw landmark k at (x_k, y_k) the candidates are front-facing vertices with |y − y_k| <
    ``band_mm`` on the landmark's side of the midline, between the midline and x_k; the line keeps
    at most ``points`` of them, one per equal-width slice of x (the one nearest the landmark's
    height), ordered from the landmark outwards-in. The chin's line is the chin vertex alone.

    Returns:
        (17, P) long vertex indices (P = the longest line), first entry the landmark vertex.
    """
    lm = face_model.landmarks68.cpu().numpy()
    return silhouette_lines(face_model, lm[:JAW], points, band_mm, single=(CHIN,))


def silhouette_lines(face_model, vertex_ids, points: int = 16, band_mm: float = 4.0,
                     single: tuple[int, ...] = ()) -> torch.Tensor:
    """Candidate vertex lines, as ``contour_lines`` builds them, for any outline vertices
    ``vertex_ids`` (C,): e.g. MediaPipe's face-oval points (``fit.dense_points``). Vertices on the
    midline (x = 0) and the positions listed in ``single`` keep a line of one vertex.

    Returns:
        (C, P) long vertex indices, first entry the given vertex.
    """
    mean = face_model.mean.detach().cpu().double().numpy()
    normals = face_model.vertex_normals(face_model.mean.detach().cpu()[None])[0].double().numpy()
    excluded = ~outer_skin(face_model)
    lines = []
    for k, v0 in enumerate(np.asarray(vertex_ids, np.int64)):
        v0 = int(v0)
        x0, y0 = mean[v0, 0], mean[v0, 1]
        side = np.sign(x0)
        if k in single or side == 0:
            lines.append([v0])
            continue
        sx = side * mean[:, 0]
        cand = np.flatnonzero((np.abs(mean[:, 1] - y0) < band_mm) & (sx >= 0.0) & (sx < side * x0)
                              & (normals[:, 2] > -0.1) & ~excluded)
        line = [v0]
        if len(cand):
            edges = np.linspace(0.0, side * x0, points + 1)
            slot = np.clip(np.searchsorted(edges, sx[cand], side="right") - 1, 0, points - 1)
            for s in range(points - 1, -1, -1):  # outermost slice first
                members = cand[slot == s]
                if len(members):
                    best = members[np.argmin(np.abs(mean[members, 1] - y0))]
                    if best != v0:
                        line.append(int(best))
        lines.append(line)
    width = max(len(line) for line in lines)
    padded = [line + [line[-1]] * (width - len(line)) for line in lines]
    return torch.tensor(padded, dtype=torch.long)


def landmark_vertices(landmarks68: torch.Tensor, lines: torch.Tensor | None, cam_verts: torch.Tensor,
                      yaw_deg: torch.Tensor, min_yaw_deg: float, slots: torch.Tensor | None = None,
                      sides: torch.Tensor | None = None) -> torch.Tensor:
    """Per photo, the vertices that play the 2-D points: outline points moved to the silhouette.

    Args:
        landmarks68: (N,) long, the fixed vertices of the N points (the model's 68 landmark
            vertices, or those followed by MediaPipe's points: ``fit.point_vertices``).
        lines: (C, P) long from ``contour_lines`` / ``silhouette_lines``, or None (fixed vertices).
        cam_verts: (B, V, 3) camera-space vertices in mm (x image-right), no gradient needed.
        yaw_deg: (B,) yaw of each photo in degrees.
        min_yaw_deg: photos with |yaw| below it keep the fixed vertices.
        slots: (C,) long, the point each line belongs to (default the jaw, 0..16).
        sides: (C,) −1 / 0 / +1, the image direction that is outward for each line (default:
            image left for iBUG 0-7, the subject's right, image right for 9-16).

    Returns:
        (B, N) long vertex indices.
    """
    b = cam_verts.shape[0]
    out = landmarks68.to(cam_verts.device).expand(b, -1).clone()
    if lines is None:
        return out
    lines = lines.to(cam_verts.device)
    x = cam_verts[..., 0].detach()  # (B, V)
    cand_x = x[:, lines]  # (B, C, P)
    if slots is None:
        slots, sides = torch.arange(JAW), jaw_sides(x.dtype)
    slots = slots.to(x.device)
    side = sides.to(device=x.device, dtype=x.dtype).reshape(1, -1, 1)
    pick = (side * cand_x).argmax(dim=2)  # (B, C); one-vertex lines have one entry
    chosen = torch.gather(lines.expand(b, -1, -1), 2, pick[..., None])[..., 0]
    turned = (yaw_deg.abs() >= min_yaw_deg).to(cam_verts.device)
    out[:, slots] = torch.where(turned[:, None], chosen, out[:, slots])
    return out
