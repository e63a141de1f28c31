"""Face and vertex normals of triangle meshes, batched, differentiable.

Conventions: triangles are counter-clockwise seen from outside, so the right-handed cross
product (v1 - v0) × (v2 - v0) points outward. Vertex normals are area-weighted sums of the
incident face normals, normalised to unit length.
"""

from __future__ import annotations

import torch


def face_normals(verts: torch.Tensor, faces: torch.Tensor, normalize: bool = True) -> torch.Tensor:
    """Normals of each triangle.

    Args:
        verts: (B, V, 3) or (V, 3) positions.
        faces: (F, 3) int64 vertex indices, counter-clockwise from outside.
        normalize: if False, the result has length 2 × triangle area.

    Returns:
        (B, F, 3) or (F, 3), matching ``verts``.
    """
    v0 = verts[..., faces[:, 0], :]
    v1 = verts[..., faces[:, 1], :]
    v2 = verts[..., faces[:, 2], :]
    n = torch.cross(v1 - v0, v2 - v0, dim=-1)
    if normalize:
        n = torch.nn.functional.normalize(n, dim=-1, eps=1e-12)
    return n


def vertex_normals(verts: torch.Tensor, faces: torch.Tensor) -> torch.Tensor:
    """Area-weighted unit vertex normals.

    Args:
        verts: (B, V, 3) or (V, 3) positions.
        faces: (F, 3) int64 vertex indices, counter-clockwise from outside.

    Returns:
        (B, V, 3) or (V, 3) unit normals (zero vectors stay zero for isolated vertices).
    """
    squeeze = verts.dim() == 2
    if squeeze:
        verts = verts.unsqueeze(0)
    faces = faces.long()
    # Vertex-major accumulation, one index_add per triangle corner: avoids materialising a
    # (B, 3F, 3) copy of the face normals.
    fn = face_normals(verts, faces, normalize=False).transpose(0, 1)  # (F, B, 3), area-weighted
    out = verts.new_zeros(verts.shape[1], verts.shape[0], 3)
    for corner in range(3):
        out = out.index_add(0, faces[:, corner], fn)
    out = torch.nn.functional.normalize(out, dim=-1, eps=1e-12).transpose(0, 1)
    return out[0] if squeeze else out
