"""Graph operators of a triangle mesh: adjacency, Laplacians, neighbour means.

All operators are scipy CSR matrices of shape (V, V) in float64 (callers convert to torch and
to float32 where they need it). The graph is the mesh's edge graph: vertices i and j are
neighbours when some triangle has both as corners. Vertices that no triangle uses are isolated:
their adjacency rows are empty and every operator below leaves them at zero (documented per
function), so an unused vertex never divides by zero.

Laplacians:

* combinatorial ``L = D - A`` with ``D`` the degree matrix;
* normalised ``L = I - D^-1/2 A D^-1/2``. Its eigenvalues lie in [0, 2] for every graph, so
  the bound λmax ≤ 2 holds without computing it;
* the rescaled Laplacian of Chebyshev filters, ``L̂ = 2 L / λmax - I``. COMA (Ranjan et al.
  2018) uses the normalised Laplacian with λmax fixed at 2 instead of the true largest
  eigenvalue, so ``L̂ = L - I = -D^-1/2 A D^-1/2``, whose spectrum lies in [-1, 1] where the
  Chebyshev polynomials are bounded. We do the same: no eigen-solver, and the operator is
  symmetric, which the Chebyshev convolution's backward pass relies on.
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from photoface.errors import PhotofaceError


def _check_faces(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    faces = np.asarray(faces)
    if faces.ndim != 2 or faces.shape[1] != 3:
        raise PhotofaceError(f"faces must have shape (F, 3), got {faces.shape}")
    faces = faces.astype(np.int64, copy=False)
    if faces.size and (faces.min() < 0 or faces.max() >= n_vertices):
        raise PhotofaceError(
            f"faces index vertices outside [0, {n_vertices}): min {faces.min()}, max {faces.max()}"
        )
    return faces


def edges(faces: np.ndarray, n_vertices: int) -> np.ndarray:
    """Unique undirected edges of a triangle mesh.

    Args:
        faces: (F, 3) vertex indices.
        n_vertices: V, the number of vertices (indices must be below it).

    Returns:
        (E, 2) int64, each edge once with ``e[:, 0] < e[:, 1]``, sorted lexicographically.
    """
    faces = _check_faces(faces, n_vertices)
    e = np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]], axis=0)
    e = np.sort(e, axis=1)
    e = e[e[:, 0] != e[:, 1]]
    return np.unique(e, axis=0)


def adjacency_matrix(faces: np.ndarray, n_vertices: int) -> sp.csr_matrix:
    """Symmetric 0/1 adjacency of the mesh's edge graph.

    Args:
        faces: (F, 3) vertex indices.
        n_vertices: V.

    Returns:
        (V, V) CSR, float64, ``A[i, j] = 1`` when i and j share an edge, zero diagonal.
    """
    e = edges(faces, n_vertices)
    rows = np.concatenate([e[:, 0], e[:, 1]])
    cols = np.concatenate([e[:, 1], e[:, 0]])
    data = np.ones(len(rows), dtype=np.float64)
    a = sp.csr_matrix((data, (rows, cols)), shape=(n_vertices, n_vertices))
    a.sort_indices()
    return a


def _inverse_sqrt_degree(a: sp.csr_matrix) -> np.ndarray:
    deg = np.asarray(a.sum(axis=1)).ravel()
    out = np.zeros_like(deg)
    nz = deg > 0
    out[nz] = 1.0 / np.sqrt(deg[nz])
    return out


def laplacian(faces: np.ndarray, n_vertices: int, normalized: bool = True) -> sp.csr_matrix:
    """Graph Laplacian of the mesh's edge graph.

    Args:
        faces: (F, 3) vertex indices.
        n_vertices: V.
        normalized: True for ``I - D^-1/2 A D^-1/2`` (eigenvalues in [0, 2]); False for
            ``D - A``. An isolated vertex has a 1 (normalised) or 0 (combinatorial) on the
            diagonal and nothing else.

    Returns:
        (V, V) symmetric CSR, float64.
    """
    a = adjacency_matrix(faces, n_vertices)
    if normalized:
        d = sp.diags(_inverse_sqrt_degree(a))
        lap = sp.identity(n_vertices, format="csr") - d @ a @ d
    else:
        deg = np.asarray(a.sum(axis=1)).ravel()
        lap = sp.diags(deg) - a
    lap = sp.csr_matrix(lap)
    lap.sort_indices()
    return lap


def chebyshev_laplacian(faces: np.ndarray, n_vertices: int, lambda_max: float = 2.0) -> sp.csr_matrix:
    """COMA's rescaled normalised Laplacian ``L̂ = 2 L / λmax - I`` for Chebyshev filters.

    Args:
        faces: (F, 3) vertex indices.
        n_vertices: V.
        lambda_max: the bound on the normalised Laplacian's spectrum; 2 as in COMA (always
            valid for the normalised Laplacian). A smaller value is only correct if it is at
            least the true largest eigenvalue.

    Returns:
        (V, V) symmetric CSR, float64, spectrum in [-1, 1]. With λmax = 2 this is
        ``-D^-1/2 A D^-1/2``: zero diagonal, isolated vertices give empty rows.
    """
    if not lambda_max > 0:
        raise PhotofaceError(f"lambda_max must be positive, got {lambda_max}")
    lap = laplacian(faces, n_vertices, normalized=True)
    out = sp.csr_matrix((2.0 / lambda_max) * lap - sp.identity(n_vertices, format="csr"))
    out.eliminate_zeros()
    out.sort_indices()
    return out


def neighbour_mean_matrix(faces: np.ndarray, n_vertices: int) -> sp.csr_matrix:
    """Uniform "mean of the neighbours" operator ``M = D^-1 A``.

    ``(M @ X)[i]`` is the average of ``X[j]`` over the edge neighbours j of vertex i; the
    smoothness loss compares ``X - M X`` of a prediction with that of the template.

    Args:
        faces: (F, 3) vertex indices.
        n_vertices: V.

    Returns:
        (V, V) CSR, float64; each row of a connected vertex sums to 1, an isolated vertex's
        row is empty (its mean is taken as 0).
    """
    a = adjacency_matrix(faces, n_vertices)
    deg = np.asarray(a.sum(axis=1)).ravel()
    inv = np.zeros_like(deg)
    inv[deg > 0] = 1.0 / deg[deg > 0]
    m = sp.csr_matrix(sp.diags(inv) @ a)
    m.sort_indices()
    return m
