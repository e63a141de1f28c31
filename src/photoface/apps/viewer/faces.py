"""What the apps hand the viewer: the photo around the face, per-vertex errors, codes as numbers."""

from __future__ import annotations

import numpy as np
from PIL import Image

from photoface.mesh.similarity import aligned_distances

WINDOW_MARGIN = 1.3
"""The photo window's side over the crop's side: the face with some context around it."""


def face_window(face, overlay: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The photo and the render over it, cut to a square around the face.

    Args:
        face: a :class:`photoface.apps.inputs.FaceInput`.
        overlay: (H, W, 3) uint8 from :func:`photoface.apps.figures.photo_overlay`: the loaded photo,
            maybe scaled down, with the render over it.

    Returns:
        (photo, overlay), each (h, h, 3) uint8 at the overlay's resolution; outside the photo is black.
    """
    photo = Image.fromarray(face.photo)
    over = Image.fromarray(overlay)
    if photo.size != over.size:
        photo = photo.resize(over.size, Image.Resampling.LANCZOS)
    t = face.loaded_to_crop()
    if t is None:
        return np.asarray(photo), np.asarray(over)
    side = face.crop.shape[-1]
    # the crop's corners back in loaded-photo px, then in overlay px
    inv = np.linalg.inv(np.vstack([t, [0.0, 0.0, 1.0]]))[:2]
    corners = np.array([[0, 0, 1], [side, 0, 1], [0, side, 1], [side, side, 1]], np.float64) @ inv.T
    corners *= over.width / face.photo.shape[1]
    centre = corners.mean(axis=0)
    half = 0.5 * WINDOW_MARGIN * np.linalg.norm(corners[1] - corners[0])
    box = tuple(int(round(v)) for v in (centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half))
    return np.asarray(photo.crop(box)), np.asarray(over.crop(box))


def vertex_error(verts: np.ndarray, true_verts: np.ndarray) -> np.ndarray | None:
    """(V,) mm: each vertex's distance to the true mesh's same vertex after the least-squares
    similarity alignment of ``verts`` (V, 3) mm onto ``true_verts`` (V, 3) mm; None when the two
    have different vertex counts (another topology)."""
    if np.shape(verts) != np.shape(true_verts):
        return None
    return aligned_distances(verts, true_verts)


def codes_view(record: dict) -> dict:
    """The viewer's codes of a photo from its JSON record (``reconstruct`` or ``fit``): the physical
    pose, the expression code and the residuals as numbers."""
    out: dict = {}
    if record.get("pose"):
        out["pose"] = dict(record["pose"])
    expression = (record.get("codes") or {}).get("expression")
    if expression is not None:
        out["expression"] = list(expression)
    numbers = {k: v for k, v in (record.get("residuals") or {}).items() if isinstance(v, (int, float)) or v is None}
    if record.get("failure"):
        numbers["failure"] = record["failure"]
    if numbers:
        out["numbers"] = numbers
    return out
