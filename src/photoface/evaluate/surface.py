"""Exact point-to-surface distances to a triangle mesh, vectorised with numpy and a KD-tree.

Units: whatever the inputs use (millimetres throughout photoface's evaluation).

Why our own instead of a library: ``trimesh.proximity.closest_point`` needs ``rtree`` (not a
photoface dependency, not installed) and its per-point Python-side candidate handling is slow;
a distance to the closest *vertex* (a plain KD-tree query) overestimates the distance to a coarse
mesh by up to half an edge length, which is the same order as the errors we measure.

Method: a KD-tree over triangle centroids proposes the k nearest triangles of each query point;
the exact closest point on each candidate (Ericson, "Real-Time Collision Detection", 5.1.5, the
Voronoi-region test, vectorised) gives an upper bound d of the distance. Every triangle with a
closer point has its centroid within d + R of the query (R = the largest centroid-to-corner
distance of any triangle), so the result is certified exact once the k-th candidate centroid lies
beyond d + R; uncertified points are retried with more candidates and, as a last resort, with a
radius query. The answer is therefore exact, not an approximation that depends on k.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

_CHUNK = 20000  # query points per vectorised batch: bounds the (points × candidates) arrays


def closest_points_on_triangles(points: np.ndarray, tris: np.ndarray) -> np.ndarray:
    """Closest point on each triangle to each point, pairwise.

    Args:
        points: (N, 3).
        tris: (N, 3, 3) triangle corners a, b, c (degenerate triangles are allowed).

    Returns:
        (N, 3) closest points.
    """
    p = np.asarray(points, dtype=np.float64)
    a, b, c = tris[:, 0], tris[:, 1], tris[:, 2]
    ab, ac, ap = b - a, c - a, p - a

    def dot(u, v):
        return np.einsum("ij,ij->i", u, v)

    d1, d2 = dot(ab, ap), dot(ac, ap)
    bp = p - b
    d3, d4 = dot(ab, bp), dot(ac, bp)
    cp = p - c
    d5, d6 = dot(ab, cp), dot(ac, cp)
    vc = d1 * d4 - d3 * d2
    vb = d5 * d2 - d1 * d6
    va = d3 * d6 - d5 * d4

    with np.errstate(divide="ignore", invalid="ignore"):
        denom = va + vb + vc
        v_in = np.where(denom != 0, vb / denom, 0.0)
        w_in = np.where(denom != 0, vc / denom, 0.0)
        out = a + ab * v_in[:, None] + ac * w_in[:, None]  # face interior
        # The Voronoi regions below are assigned from the last to the first test, so that the
        # earlier (higher-priority) test wins where several hold, exactly as in the scalar routine.
        e_bc = (va <= 0) & (d4 - d3 >= 0) & (d5 - d6 >= 0)
        t = (d4 - d3) / ((d4 - d3) + (d5 - d6))
        out = np.where(e_bc[:, None], b + np.nan_to_num(t)[:, None] * (c - b), out)
        e_ac = (vb <= 0) & (d2 >= 0) & (d6 <= 0)
        t = d2 / (d2 - d6)
        out = np.where(e_ac[:, None], a + np.nan_to_num(t)[:, None] * ac, out)
        in_c = (d6 >= 0) & (d5 <= d6)
        out = np.where(in_c[:, None], c, out)
        e_ab = (vc <= 0) & (d1 >= 0) & (d3 <= 0)
        t = d1 / (d1 - d3)
        out = np.where(e_ab[:, None], a + np.nan_to_num(t)[:, None] * ab, out)
        in_b = (d3 >= 0) & (d4 <= d3)
        out = np.where(in_b[:, None], b, out)
        in_a = (d1 <= 0) & (d2 <= 0)
        out = np.where(in_a[:, None], a, out)
    return out


class TriangleMeshDistance:
    """Exact closest points on a fixed triangle mesh for many query points.

    Args:
        verts: (V, 3).
        faces: (F, 3) int vertex indices.
    """

    def __init__(self, verts: np.ndarray, faces: np.ndarray):
        self.verts = np.ascontiguousarray(verts, dtype=np.float64)
        self.faces = np.ascontiguousarray(faces, dtype=np.int64)
        if self.faces.ndim != 2 or self.faces.shape[1] != 3 or len(self.faces) == 0:
            raise ValueError("faces must be a non-empty (F, 3) array")
        self.tris = self.verts[self.faces]  # (F, 3, 3)
        centroids = self.tris.mean(axis=1)
        self.radius = float(np.linalg.norm(self.tris - centroids[:, None], axis=2).max())
        self.tree = cKDTree(centroids)

    def _evaluate(self, points: np.ndarray, cand: np.ndarray):
        """Best of candidate triangles ``cand`` (N, k) for each point: (dist, closest, tri)."""
        n, k = cand.shape
        q = closest_points_on_triangles(np.repeat(points, k, axis=0), self.tris[cand.reshape(-1)])
        d = np.linalg.norm(q - np.repeat(points, k, axis=0), axis=1).reshape(n, k)
        j = d.argmin(axis=1)
        rows = np.arange(n)
        return d[rows, j], q.reshape(n, k, 3)[rows, j], cand[rows, j]

    def _ball(self, points: np.ndarray, radii: np.ndarray):
        lists = self.tree.query_ball_point(points, radii)
        counts = np.array([len(x) for x in lists])
        flat = np.concatenate([np.asarray(x, dtype=np.int64) for x in lists])
        owner = np.repeat(np.arange(len(points)), counts)
        q = closest_points_on_triangles(points[owner], self.tris[flat])
        d = np.linalg.norm(q - points[owner], axis=1)
        order = np.lexsort((d, owner))  # by owner, then distance: the first of each owner wins
        first = order[np.r_[0, np.cumsum(counts)[:-1]]]
        return d[first], q[first], flat[first]

    def query(
        self, points: np.ndarray, k: int = 8, certify: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Distances, closest points and triangle ids.

        Args:
            points: (N, 3) query points.
            k: initial number of candidate triangles per point.
            certify: if True the result is exact (see the module docstring). If False only the
                k nearest-centroid candidates are tried: the returned points still lie on the
                surface, so distances are upper bounds; with k = 8 on meshes of fairly uniform
                triangles they matched the exact ones in our measurements, at about 1/7 the time
                for points 2 mm off the surface. Meant for ICP correspondences.

        Returns:
            dist (N,), closest (N, 3), tri (N,) int64.
        """
        points = np.asarray(points, dtype=np.float64).reshape(-1, 3)
        n = len(points)
        dist, closest, tri = np.empty(n), np.empty((n, 3)), np.empty(n, dtype=np.int64)
        for s in range(0, n, _CHUNK):
            sl = slice(s, min(n, s + _CHUNK))
            if certify:
                dist[sl], closest[sl], tri[sl] = self._query_chunk(points[sl], k)
            else:
                kk = min(k, len(self.faces))
                cand = self.tree.query(points[sl], k=kk)[1].reshape(-1, kk)
                dist[sl], closest[sl], tri[sl] = self._evaluate(points[sl], cand)
        return dist, closest, tri

    def _query_chunk(self, points, k):
        n_tri = len(self.faces)
        todo = np.arange(len(points))
        dist, closest, tri = np.empty(len(points)), np.empty((len(points), 3)), np.empty(len(points), np.int64)
        bound = np.full(len(points), np.inf)
        while len(todo):
            kk = min(k, n_tri)
            cdist, cand = self.tree.query(points[todo], k=kk)
            cdist, cand = cdist.reshape(len(todo), kk), cand.reshape(len(todo), kk)
            d, q, t = self._evaluate(points[todo], cand)
            better = d < bound[todo]
            upd = todo[better]
            dist[upd], closest[upd], tri[upd], bound[upd] = d[better], q[better], t[better], d[better]
            done = (kk == n_tri) | (cdist[:, -1] > bound[todo] + self.radius)
            todo = todo[~done]
            if len(todo) and k >= 256:
                d, q, t = self._ball(points[todo], bound[todo] + self.radius + 1e-9)
                dist[todo], closest[todo], tri[todo] = d, q, t
                break
            k *= 4
        return dist, closest, tri


def point_to_surface(
    points: np.ndarray, verts: np.ndarray, faces: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """Distance of each point to the surface (verts, faces): (N,) distances and (N, 3) closest points.

    With ``faces`` None (a bare point cloud) the distance to the nearest vertex is used.
    """
    if faces is None or len(faces) == 0:
        d, i = cKDTree(np.asarray(verts, dtype=np.float64)).query(np.asarray(points, dtype=np.float64))
        return d, np.asarray(verts, dtype=np.float64)[i]
    d, q, _ = TriangleMeshDistance(verts, faces).query(points)
    return d, q
