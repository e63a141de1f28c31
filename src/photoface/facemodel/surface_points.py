"""Points given by barycentric coordinates on a mesh, made into vertices of that mesh.

FLAME's landmarks (and those of most models fitted to 2D landmarks) are points inside triangles:
a triangle id and three barycentric coordinates. photoface's face-model format names its 68
landmarks by vertex index. Rather than snapping each point to the nearest vertex (which moves an
interior point by up to its triangle's size), each point becomes a new vertex: its triangle is
split in three at the point, and every per-vertex array of the model (mean, bases) gets the new
vertex as the same barycentric combination of the triangle's corners. Since every basis is
linear, the new vertex stays exactly on the landmark for every coefficient, and the surface is
unchanged (the three triangles cover the old one).

A point at a corner (a coordinate ≥ 1 − 1e-6) reuses that vertex. A point on an edge (a
coordinate ≤ 1e-6) leaves one of the three triangles flat; that one is dropped, and the triangle
across the edge keeps a T-junction, which changes no surface point.
"""

from __future__ import annotations

import numpy as np

EPS = 1e-6


def _bary(p: np.ndarray, tri: np.ndarray) -> np.ndarray:
    """Barycentric coordinates of point (3,) in triangle (3, 3) (least squares in its plane)."""
    a, b, c = tri
    m = np.stack([b - a, c - a], axis=1)
    uv = np.linalg.lstsq(m, p - a, rcond=None)[0]
    return np.array([1 - uv.sum(), uv[0], uv[1]])


def insert_points(verts: np.ndarray, faces: np.ndarray, face_idx: np.ndarray, bary: np.ndarray):
    """Make each barycentric point a vertex.

    Args:
        verts: (V, 3); faces: (F, 3); face_idx: (N,) triangle ids; bary: (N, 3) coordinates.

    Returns:
        (corners (V', 3) int64, weights (V', 3) float64, faces (F', 3), point_vertex (N,)):
        vertex i of the new mesh is Σ_k weights[i, k] · old[corners[i, k]] for any per-vertex
        array ``old`` (the first V rows are the old vertices themselves); ``point_vertex`` the
        vertex of each point. Use ``lift`` to apply it.
    """
    verts = np.asarray(verts, dtype=np.float64)
    original = np.asarray(faces, dtype=np.int64)
    faces = [tuple(int(x) for x in f) for f in original]
    origin = list(range(len(faces)))  # the original triangle each current triangle lies in
    n_old = len(verts)
    corners = [(i, i, i) for i in range(n_old)]
    weights = [(1.0, 0.0, 0.0)] * n_old
    positions = list(verts)
    point_vertex = np.empty(len(face_idx), dtype=np.int64)
    for k, (f, b) in enumerate(zip(np.asarray(face_idx, dtype=np.int64), np.asarray(bary, dtype=np.float64))):
        orig = original[f]
        if b.max() >= 1 - EPS:
            point_vertex[k] = orig[int(np.argmax(b))]
            continue
        p = b @ verts[orig]
        # the current triangle (a piece of triangle f) that holds p
        pieces = [i for i, o in enumerate(origin) if o == f]
        coords = [_bary(p, np.asarray([positions[v] for v in faces[i]])) for i in pieces]
        best = int(np.argmax([c.min() for c in coords]))
        i, c = pieces[best], coords[best]
        tri = faces[i]
        if c.max() >= 1 - EPS:
            point_vertex[k] = tri[int(np.argmax(c))]
            continue
        new = len(positions)
        positions.append(p)
        corners.append(tuple(int(x) for x in orig))
        weights.append(tuple(float(x) for x in b))
        point_vertex[k] = new
        a0, a1, a2 = tri
        split = [((a0, a1, new), c[2]), ((a1, a2, new), c[0]), ((a2, a0, new), c[1])]
        kept = [t for t, w in split if w > EPS]
        faces[i] = kept[0]
        for t in kept[1:]:
            faces.append(t)
            origin.append(f)
    return (np.asarray(corners, dtype=np.int64), np.asarray(weights, dtype=np.float64),
            np.asarray(faces, dtype=np.int64), point_vertex)


def lift(array: np.ndarray, corners: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Per-vertex array (..., V, D) of the old mesh -> (..., V', D) of the new one."""
    a = np.asarray(array)
    return np.einsum("...vkd,vk->...vd", a[..., corners, :], weights)
