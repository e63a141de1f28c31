"""COMA down- and up-sampling matrices between a fine mesh and its decimated coarse mesh.

* Down-sampling ``D`` (n_coarse, n_fine) is a selection matrix: the coarse vertices are a
  subset of the fine ones (see :mod:`photoface.mesh.decimate`), so each row holds a single 1.
* Up-sampling ``U`` (n_fine, n_coarse): as in COMA, each fine vertex is projected onto the
  nearest point of the coarse surface and keeps the barycentric weights of that point in its
  coarse triangle (three non-negative weights that sum to 1). A fine vertex that survived into
  the coarse mesh maps to itself with weight 1, so ``D @ U`` is exactly the identity on the
  coarse level.

The nearest-triangle search is our own (scipy's KD-tree on triangle centroids plus a
vectorised closest-point-on-triangle) rather than trimesh's proximity query, which needs the
optional ``rtree`` package. It is exact; :func:`nearest_triangle` gives the bound it relies on.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.spatial import cKDTree


def closest_point_barycentric(
    p: np.ndarray, a: np.ndarray, b: np.ndarray, c: np.ndarray
) -> np.ndarray:
    """Barycentric weights of the point of triangle (a, b, c) closest to p.

    Vectorised version of the region test in Ericson, "Real-Time Collision Detection", §5.1.5.

    Args:
        p, a, b, c: (N, 3) points and triangle corners.

    Returns:
        (N, 3) non-negative weights summing to 1; the closest point is ``w0 a + w1 b + w2 c``.
    """
    ab, ac = b - a, c - a
    ap, bp, cp = p - a, p - b, p - c
    d1, d2 = (ab * ap).sum(1), (ac * ap).sum(1)
    d3, d4 = (ab * bp).sum(1), (ac * bp).sum(1)
    d5, d6 = (ab * cp).sum(1), (ac * cp).sum(1)
    va = d3 * d6 - d5 * d4
    vb = d5 * d2 - d1 * d6
    vc = d1 * d4 - d3 * d2

    def ratio(num, den):
        return np.clip(num / np.where(np.abs(den) > 1e-300, den, 1e-300), 0.0, 1.0)

    w = np.zeros((len(p), 3))
    # Interior first; each later assignment is a region with higher priority in Ericson's order.
    denom = va + vb + vc
    safe = np.where(np.abs(denom) > 1e-300, denom, 1.0)
    v_in, w_in = vb / safe, vc / safe
    w[:] = np.stack([1.0 - v_in - w_in, v_in, w_in], axis=1)
    regions = [
        ((va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0), lambda: (ratio(d4 - d3, (d4 - d3) + (d5 - d6)), (1, 2))),
        ((vb <= 0) & (d2 >= 0) & (d6 <= 0), lambda: (ratio(d2, d2 - d6), (0, 2))),
        ((d6 >= 0) & (d5 <= d6), None),
        ((vc <= 0) & (d1 >= 0) & (d3 <= 0), lambda: (ratio(d1, d1 - d3), (0, 1))),
        ((d3 >= 0) & (d4 <= d3), None),
        ((d1 <= 0) & (d2 <= 0), None),
    ]
    vertex_of_region = {2: 2, 4: 1, 5: 0}
    for i, (mask, edge) in enumerate(regions):
        if not mask.any():
            continue
        row = np.zeros((int(mask.sum()), 3))
        if edge is None:
            row[:, vertex_of_region[i]] = 1.0
        else:
            t, (i0, i1) = edge()
            row[:, i0] = 1.0 - t[mask]
            row[:, i1] = t[mask]
        w[mask] = row
    # Degenerate (zero-area) triangles can leave tiny negative round-off in the interior branch.
    w = np.clip(w, 0.0, None)
    return w / w.sum(1, keepdims=True)


def _update_best(points, tri, pid, fid, best_d2, best_face, best_w) -> None:
    """Evaluate (point, triangle) pairs and keep, per point, the closest so far (in place)."""
    chunk = 500_000
    for s in range(0, len(pid), chunk):
        p_i, f_i = pid[s : s + chunk], fid[s : s + chunk]
        t = tri[f_i]
        p = points[p_i]
        w = closest_point_barycentric(p, t[:, 0], t[:, 1], t[:, 2])
        d2 = ((p - (w[:, :, None] * t).sum(1)) ** 2).sum(1)
        order = np.lexsort((d2, p_i))
        first = order[np.unique(p_i[order], return_index=True)[1]]  # closest pair per point
        better = first[d2[first] < best_d2[p_i[first]]]
        best_d2[p_i[better]] = d2[better]
        best_face[p_i[better]] = f_i[better]
        best_w[p_i[better]] = w[better]


def nearest_triangle(
    points: np.ndarray, vertices: np.ndarray, faces: np.ndarray, k: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """Exact nearest triangle of each point and the barycentric weights of its closest point.

    First the triangles of the ``k`` nearest centroids give each point an upper bound ``d`` on
    its distance to the surface. A triangle with circumscribing radius ``R`` around its centroid
    can only be closer if its centroid lies within ``d + R``; triangles are grouped by ``R``
    (powers of two) so that one big sliver does not widen the search for all the others, and each
    group is searched with a ball query of radius ``d + max R of the group``.

    Args:
        points: (N, 3) query points.
        vertices: (M, 3) mesh vertices (same unit).
        faces: (F, 3) triangles, F ≥ 1.
        k: centroids examined first per point.

    Returns:
        ``face_index`` (N,) int64 and ``weights`` (N, 3) float64.
    """
    tri = vertices[faces]  # (F, 3, 3)
    centroid = tri.mean(1)
    radius = np.linalg.norm(tri - centroid[:, None], axis=2).max(1)
    n = len(points)
    best_face = np.zeros(n, dtype=np.int64)
    best_w = np.zeros((n, 3))
    best_d2 = np.full(n, np.inf)

    k = min(k, len(faces))
    _, cand = cKDTree(centroid).query(points, k=k)
    cand = cand.reshape(n, k)
    _update_best(points, tri, np.repeat(np.arange(n), k), cand.ravel(), best_d2, best_face, best_w)

    r_max = max(radius.max(), 1e-300)
    group = np.minimum(np.floor(np.log2(r_max / np.maximum(radius, 1e-300))), 12).astype(int)
    for g in np.unique(group):
        members = np.flatnonzero(group == g)
        reach = np.sqrt(best_d2) + radius[members].max()
        hits = cKDTree(centroid[members]).query_ball_point(points, reach, return_sorted=False)
        counts = np.fromiter((len(h) for h in hits), dtype=np.int64, count=n)
        if counts.sum() == 0:
            continue
        fid = members[np.concatenate([np.asarray(h, dtype=np.int64) for h in hits if h])]
        _update_best(points, tri, np.repeat(np.arange(n), counts), fid, best_d2, best_face, best_w)
    return best_face, best_w


def selection_matrix(kept: np.ndarray, n_fine: int) -> sp.csr_matrix:
    """Down-sampling ``D`` (len(kept), n_fine): row i picks fine vertex ``kept[i]``."""
    m = len(kept)
    return sp.csr_matrix((np.ones(m), (np.arange(m), kept)), shape=(m, n_fine))


def upsampling_matrix(
    fine_vertices: np.ndarray, kept: np.ndarray, coarse_faces: np.ndarray
) -> sp.csr_matrix:
    """Up-sampling ``U`` (n_fine, n_coarse) by barycentric projection onto the coarse mesh.

    Args:
        fine_vertices: (n_fine, 3) positions of the fine mesh.
        kept: (n_coarse,) indices of the fine vertices that form the coarse mesh.
        coarse_faces: (F', 3) coarse triangles indexing ``kept``.

    Returns:
        CSR with non-negative rows summing to 1; rows of kept vertices are one-hot.
    """
    n_fine, n_coarse = len(fine_vertices), len(kept)
    coarse_v = fine_vertices[kept]
    is_kept = np.zeros(n_fine, dtype=bool)
    is_kept[kept] = True
    rows, cols, vals = [np.asarray(kept)], [np.arange(n_coarse)], [np.ones(n_coarse)]
    others = np.flatnonzero(~is_kept)
    if len(others):
        if len(coarse_faces) == 0:
            # No coarse surface to project onto: fall back to the nearest coarse vertex.
            _, near = cKDTree(coarse_v).query(fine_vertices[others])
            rows.append(others)
            cols.append(near)
            vals.append(np.ones(len(others)))
        else:
            face, w = nearest_triangle(fine_vertices[others], coarse_v, coarse_faces)
            rows.append(np.repeat(others, 3))
            cols.append(coarse_faces[face].ravel())
            vals.append(w.ravel())
    u = sp.csr_matrix(
        (np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n_fine, n_coarse)
    )
    u.eliminate_zeros()
    u.sort_indices()
    return u
