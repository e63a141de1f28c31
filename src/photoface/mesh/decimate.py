"""Quadric-error edge collapse that keeps the surviving vertices in place (COMA down-sampling).

COMA (Ranjan et al. 2018) down-samples a template by collapsing edges in order of their
quadric error (Garland & Heckbert 1997) with the merged vertex placed at one of the edge's two
end points. The surviving vertices are therefore a subset of the originals, unmoved, and the
down-sampling operator is a selection matrix. This module computes that subset and the coarse
triangles on it.

Why our own collapse instead of a library:

* ``fast_simplification`` (and most QEM codes) place the merged vertex at the quadric optimum,
  so the coarse vertices are new points. Snapping each of them back to an original vertex can
  map two coarse vertices onto the same original and leaves triangles that do not match the
  snapped set; repairing that is more work and less faithful than collapsing the way COMA does.
* COMA's public Python decimator (psbody-mesh) is not installable for our users and takes about
  8 minutes on the 37k-vertex template because it rescans the face list after each collapse.

This implementation keeps vertex→faces and vertex→neighbour sets, a binary heap of *directed*
collapses ("keep u, remove w", cost ``[u,1]ᵀ (Q_u + Q_w) [u,1]``) and per-vertex version stamps
so that stale heap entries are skipped in O(1). Costs only ever grow (quadrics are summed
positive semi-definite matrices), so every collapse is the cheapest valid one at its time.
The 37k-vertex template's five-level hierarchy takes a few seconds.

Beyond COMA's plain cost order we reject collapses that would break the surface, because the
up-sampling projects fine vertices onto the coarse triangles and needs a sane coarse surface:

* the link condition (the edge's end points share exactly the neighbours opposite the edge),
  which keeps the mesh manifold;
* pinching: an interior edge whose two end points both lie on the boundary;
* fold-over: a triangle around the removed vertex whose normal would turn by 90° or more.

Open boundaries (a face crop has one) are kept by Garland & Heckbert's boundary quadrics:
planes through each boundary edge, perpendicular to its triangle, with a large weight. Face
quadrics are area-weighted. When no valid collapse is left before the target is reached, the
checks are relaxed in that order (fold-over first), so the requested size is always met.
"""

from __future__ import annotations

import heapq

import numpy as np

from photoface.errors import PhotofaceError

BOUNDARY_WEIGHT = 1000.0  # boundary-plane weight relative to area-weighted face quadrics


def _face_quadrics(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """Per-vertex sum of area-weighted plane quadrics plus boundary-edge quadrics, (V, 4, 4)."""
    p0, p1, p2 = verts[faces[:, 0]], verts[faces[:, 1]], verts[faces[:, 2]]
    n = np.cross(p1 - p0, p2 - p0)
    twice_area = np.linalg.norm(n, axis=1)
    unit = n / np.maximum(twice_area, 1e-300)[:, None]
    plane = np.concatenate([unit, -(unit * p0).sum(1, keepdims=True)], axis=1)  # (F, 4)
    kf = 0.5 * twice_area[:, None, None] * plane[:, :, None] * plane[:, None, :]
    q = np.zeros((len(verts), 4, 4))
    for corner in range(3):
        np.add.at(q, faces[:, corner], kf)

    # Boundary edges are directed half-edges whose reverse does not occur.
    half = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], axis=0)
    owner = np.tile(np.arange(len(faces)), 3)
    key = half[:, 0] * len(verts) + half[:, 1]
    rkey = half[:, 1] * len(verts) + half[:, 0]
    boundary = ~np.isin(key, rkey)
    if boundary.any():
        a, b = verts[half[boundary, 0]], verts[half[boundary, 1]]
        e = b - a
        m = np.cross(e, unit[owner[boundary]])
        m /= np.maximum(np.linalg.norm(m, axis=1, keepdims=True), 1e-300)
        bplane = np.concatenate([m, -(m * a).sum(1, keepdims=True)], axis=1)
        w = BOUNDARY_WEIGHT * (e * e).sum(1)
        kb = w[:, None, None] * bplane[:, :, None] * bplane[:, None, :]
        np.add.at(q, half[boundary, 0], kb)
        np.add.at(q, half[boundary, 1], kb)
    return q


def _normal(a, b, c) -> tuple[float, float, float]:
    """Unnormalised normal (b - a) × (c - a) of a triangle given as three (x, y, z) sequences."""
    ux, uy, uz = b[0] - a[0], b[1] - a[1], b[2] - a[2]
    vx, vy, vz = c[0] - a[0], c[1] - a[1], c[2] - a[2]
    return (uy * vz - uz * vy, uz * vx - ux * vz, ux * vy - uy * vx)


class _Collapser:
    """Mutable state of one decimation run; see the module docstring."""

    def __init__(self, verts: np.ndarray, faces: np.ndarray):
        self.x = verts
        self.xl = verts.tolist()
        self.h = np.concatenate([verts, np.ones((len(verts), 1))], axis=1)  # homogeneous
        self.q = _face_quadrics(verts, faces)
        self.faces = faces.tolist()
        self.vf: list[set[int]] = [set() for _ in range(len(verts))]
        self.nbrs: list[set[int]] = [set() for _ in range(len(verts))]
        for f, (a, b, c) in enumerate(self.faces):
            self.vf[a].add(f)
            self.vf[b].add(f)
            self.vf[c].add(f)
            self.nbrs[a].update((b, c))
            self.nbrs[b].update((a, c))
            self.nbrs[c].update((a, b))
        self.alive = np.ones(len(verts), dtype=bool)
        self.face_alive = np.ones(len(faces), dtype=bool)
        self.version = [0] * len(verts)
        self.n_alive = len(verts)

    def _directed_costs(self, keep: np.ndarray, remove: np.ndarray) -> np.ndarray:
        hk = self.h[keep]
        qs = self.q[keep] + self.q[remove]
        return np.einsum("ki,kij,kj->k", hk, qs, hk)

    def all_entries(self) -> list[tuple]:
        pairs = [(u, w) for u in range(len(self.nbrs)) if self.alive[u] for w in self.nbrs[u]]
        if not pairs:
            return []
        uw = np.asarray(pairs, dtype=np.int64)
        costs = self._directed_costs(uw[:, 0], uw[:, 1]).tolist()
        v = self.version
        return [(c, u, w, v[u], v[w]) for c, (u, w) in zip(costs, pairs)]

    def entries_around(self, u: int) -> list[tuple]:
        ns = np.fromiter(self.nbrs[u], dtype=np.int64, count=len(self.nbrs[u]))
        if len(ns) == 0:
            return []
        us = np.full_like(ns, u)
        keep_u = self._directed_costs(us, ns).tolist()
        keep_n = self._directed_costs(ns, us).tolist()
        v = self.version
        vu = v[u]
        out = [(c, u, int(n), vu, v[n]) for c, n in zip(keep_u, ns.tolist())]
        out += [(c, int(n), u, v[n], vu) for c, n in zip(keep_n, ns.tolist())]
        return out

    def is_boundary(self, v: int) -> bool:
        # A manifold interior vertex has as many incident triangles as neighbours.
        return len(self.nbrs[v]) != len(self.vf[v])

    def valid(self, u: int, w: int, strictness: int) -> bool:
        if strictness >= 1:
            shared_faces = len(self.vf[u] & self.vf[w])
            if len(self.nbrs[u] & self.nbrs[w]) != shared_faces:
                return False
            if shared_faces == 2 and self.is_boundary(u) and self.is_boundary(w):
                return False
        if strictness >= 2:
            # Plain-float arithmetic: a vertex has ~6 triangles, too few for numpy to pay off.
            xl, xu = self.xl, self.xl[u]
            for f in self.vf[w]:
                face = self.faces[f]
                if u in face:
                    continue
                p = [xl[i] for i in face]
                n_old = _normal(*p)
                p[face.index(w)] = xu
                n_new = _normal(*p)
                if n_old[0] * n_new[0] + n_old[1] * n_new[1] + n_old[2] * n_new[2] <= 0.0:
                    return False
        return True

    def collapse(self, u: int, w: int) -> None:
        for f in list(self.vf[w]):
            face = self.faces[f]
            if u in face:
                self.face_alive[f] = False
                for x in face:
                    self.vf[x].discard(f)
            else:
                face[face.index(w)] = u
                self.vf[u].add(f)
        self.vf[w].clear()
        for n in self.nbrs[w]:
            self.nbrs[n].discard(w)
            if n != u:
                self.nbrs[n].add(u)
                self.nbrs[u].add(n)
        self.nbrs[w].clear()
        self.q[u] += self.q[w]
        self.alive[w] = False
        self.version[u] += 1
        self.n_alive -= 1

    def run(self, n_target: int) -> None:
        strictness = 2
        while self.n_alive > n_target:
            heap = self.all_entries()
            heapq.heapify(heap)
            collapsed = 0
            while heap and self.n_alive > n_target:
                _, u, w, vu, vw = heapq.heappop(heap)
                if not (self.alive[u] and self.alive[w]):
                    continue
                if self.version[u] != vu or self.version[w] != vw or w not in self.nbrs[u]:
                    continue
                if not self.valid(u, w, strictness):
                    continue  # rejected entries come back in the next pass with fresh checks
                self.collapse(u, w)
                collapsed += 1
                for entry in self.entries_around(u):
                    heapq.heappush(heap, entry)
            if collapsed == 0:
                if strictness == 0:
                    raise PhotofaceError(
                        f"cannot decimate to {n_target} vertices: only {self.n_alive} left and "
                        "no edge remains to collapse (isolated vertices?)"
                    )
                strictness -= 1

    def result(self) -> tuple[np.ndarray, np.ndarray]:
        kept = np.flatnonzero(self.alive)
        remap = np.full(len(self.alive), -1, dtype=np.int64)
        remap[kept] = np.arange(len(kept))
        faces = np.asarray([self.faces[f] for f in np.flatnonzero(self.face_alive)], dtype=np.int64)
        faces = remap[faces.reshape(-1, 3)]
        faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 2] != faces[:, 0])]
        # Relaxed passes can leave two triangles on the same three vertices; keep the first.
        _, first = np.unique(np.sort(faces, axis=1), axis=0, return_index=True)
        return kept, faces[np.sort(first)]


def decimate_keep_vertices(
    vertices: np.ndarray, faces: np.ndarray, n_target: int
) -> tuple[np.ndarray, np.ndarray]:
    """Collapse edges until ``n_target`` vertices are left, keeping survivors in place.

    Args:
        vertices: (V, 3) positions (any length unit; costs are squared distances in it).
        faces: (F, 3) vertex indices, counter-clockwise from outside; orientation is kept.
        n_target: number of vertices to keep, 1 ≤ n_target ≤ V.

    Returns:
        ``kept`` (n_target,) int64 sorted indices of the surviving original vertices, and
        ``coarse_faces`` (F', 3) int64 triangles indexing into ``kept`` (so the coarse vertex
        positions are ``vertices[kept]``).
    """
    vertices = np.asarray(vertices, dtype=np.float64)
    faces = np.asarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise PhotofaceError(f"vertices must have shape (V, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise PhotofaceError(f"faces must have shape (F, 3), got {faces.shape}")
    if not 1 <= n_target <= len(vertices):
        raise PhotofaceError(f"n_target must be in [1, {len(vertices)}], got {n_target}")
    state = _Collapser(vertices, faces)
    state.run(n_target)
    return state.result()
