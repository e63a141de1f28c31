"""The open border of a triangle mesh and each vertex's distance to it along the surface.

A border edge is an edge that exactly one triangle uses; a face mesh has one around its outside
(forehead, sides, under the chin) and one more per hole. The distance is measured along the
mesh's edge graph (Dijkstra from every border vertex at once, scipy's csgraph), in the units of
the vertices: an upper bound of the geodesic distance that stays close to it on a fine, regular
mesh.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import dijkstra

from photoface.mesh.graph import edges


def border_edges(faces: np.ndarray) -> np.ndarray:
    """(E, 2) the border edges (see the module docstring), each as (smaller, larger) vertex index."""
    faces = np.asarray(faces, dtype=np.int64)
    tri_edges = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    unique, counts = np.unique(tri_edges, axis=0, return_counts=True)
    return unique[counts == 1]


def border_vertices(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """(K,) sorted indices of the vertices on a border edge (see the module docstring)."""
    border = np.unique(border_edges(faces).ravel())
    return border[border < n_vertices]


def longest_border_loop(faces: np.ndarray) -> np.ndarray:
    """(K,) the vertices of the longest border loop, in order along it (a face mesh's outline)."""
    neighbours: dict[int, list[int]] = {}
    for a, b in border_edges(faces):
        neighbours.setdefault(int(a), []).append(int(b))
        neighbours.setdefault(int(b), []).append(int(a))
    seen: set[int] = set()
    best: list[int] = []
    for start in neighbours:
        if start in seen:
            continue
        loop, prev, cur = [start], None, start
        seen.add(start)
        while True:
            nxt = [v for v in neighbours[cur] if v != prev and v not in seen]
            if not nxt:
                break
            prev, cur = cur, nxt[0]
            seen.add(cur)
            loop.append(cur)
        best = loop if len(loop) > len(best) else best
    return np.asarray(best, np.int64)


def border_distance(verts: np.ndarray, faces: np.ndarray) -> np.ndarray:
    """(V,) float64 distance of every vertex to the nearest border vertex along the edge graph.

    Args:
        verts: (V, 3) positions (any unit; the result is in the same unit).
        faces: (F, 3) vertex indices.

    Returns:
        0 on the border, +inf for vertices with no path to it (a closed mesh: all +inf).
    """
    verts = np.asarray(verts, dtype=np.float64)
    n = len(verts)
    border = border_vertices(faces, n)
    if len(border) == 0:
        return np.full(n, np.inf)
    e = edges(faces, n)
    # scipy reads a stored 0 as "no edge": coincident vertices stay joined by a tiny length
    length = np.maximum(np.linalg.norm(verts[e[:, 0]] - verts[e[:, 1]], axis=1), 1e-9)
    graph = sp.coo_matrix((length, (e[:, 0], e[:, 1])), shape=(n, n)).tocsr()
    return dijkstra(graph, directed=False, indices=border, min_only=True)
