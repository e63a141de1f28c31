import numpy as np
import pytest
import trimesh

from photoface.errors import PhotofaceError
from photoface.mesh.graph import (
    adjacency_matrix,
    chebyshev_laplacian,
    edges,
    laplacian,
    neighbour_mean_matrix,
)

# Two triangles sharing edge (1, 2), plus vertex 4 that no triangle uses.
SQUARE = np.array([[0, 1, 2], [2, 1, 3]])


def test_edges_and_adjacency_of_two_triangles():
    assert edges(SQUARE, 5).tolist() == [[0, 1], [0, 2], [1, 2], [1, 3], [2, 3]]
    a = adjacency_matrix(SQUARE, 5).toarray()
    assert (a == a.T).all() and np.diag(a).sum() == 0
    assert a.sum(1).tolist() == [2, 3, 3, 2, 0]


def test_normalised_laplacian_spectrum_lies_in_0_2():
    ico = trimesh.creation.icosphere(2)
    lap = laplacian(ico.faces, len(ico.vertices)).toarray()
    ev = np.linalg.eigvalsh(lap)
    assert ev.min() > -1e-9 and ev.max() <= 2.0 + 1e-9
    combinatorial = laplacian(ico.faces, len(ico.vertices), normalized=False).toarray()
    assert np.allclose(combinatorial.sum(1), 0)


def test_chebyshev_laplacian_is_minus_normalised_adjacency():
    a = adjacency_matrix(SQUARE, 5).toarray()
    deg = a.sum(1)
    inv = np.where(deg > 0, 1 / np.sqrt(np.maximum(deg, 1)), 0)
    expected = -(inv[:, None] * a * inv[None, :])
    lhat = chebyshev_laplacian(SQUARE, 5).toarray()
    assert np.allclose(lhat, expected)
    assert np.allclose(lhat, lhat.T)
    assert np.abs(np.linalg.eigvalsh(lhat)).max() <= 1 + 1e-9


def test_chebyshev_laplacian_other_lambda_max_rescales():
    lap = laplacian(SQUARE, 4).toarray()
    lhat = chebyshev_laplacian(SQUARE, 4, lambda_max=1.5).toarray()
    assert np.allclose(lhat, 2 * lap / 1.5 - np.eye(4))
    with pytest.raises(PhotofaceError):
        chebyshev_laplacian(SQUARE, 4, lambda_max=0)


def test_neighbour_mean_matrix_averages_neighbours_and_skips_isolated():
    m = neighbour_mean_matrix(SQUARE, 5)
    x = np.array([[0.0], [3.0], [6.0], [9.0], [100.0]])
    assert np.allclose((m @ x).ravel(), [4.5, 5.0, 4.0, 4.5, 0.0])
    sums = np.asarray(m.sum(1)).ravel()
    assert np.allclose(sums, [1, 1, 1, 1, 0])


def test_faces_outside_vertex_range_raise():
    with pytest.raises(PhotofaceError, match="outside"):
        adjacency_matrix(SQUARE, 3)
    with pytest.raises(PhotofaceError, match="shape"):
        edges(np.zeros((2, 4), int), 5)
