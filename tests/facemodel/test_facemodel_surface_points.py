"""Barycentric points made into vertices: same surface, exact points, corners and edges."""

from __future__ import annotations

import numpy as np

from photoface.facemodel.surface_points import insert_points, lift

VERTS = np.array([[0.0, 0, 0], [1, 0, 0], [0, 1, 0], [1, 1, 0.5]])
FACES = np.array([[0, 1, 2], [1, 3, 2]])


def _area(v, f):
    t = v[f]
    return 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1).sum()


def test_points_become_vertices_on_the_same_surface():
    bary = np.array([[0.2, 0.3, 0.5], [0.6, 0.2, 0.2], [1.0, 0.0, 0.0], [0.5, 0.5, 0.0]])
    face_idx = np.array([0, 0, 1, 1])  # two points in one triangle, one at a corner, one on an edge
    corners, weights, faces, pv = insert_points(VERTS, FACES, face_idx, bary)
    new = lift(VERTS, corners, weights)
    np.testing.assert_allclose(new[pv], np.einsum("lkd,lk->ld", VERTS[FACES[face_idx]], bary))
    assert pv[2] == 1  # the corner point reuses vertex 1
    assert len(new) == 4 + 3
    np.testing.assert_allclose(_area(new, faces), _area(VERTS, FACES))
    assert (_area_each(new, faces) > 1e-12).all()  # no flat triangle left
    # a basis follows its vertices: lift is linear in the per-vertex array
    basis = np.random.default_rng(0).normal(size=(2, 4, 3))
    np.testing.assert_allclose(lift(basis, corners, weights)[:, pv],
                               np.einsum("blkd,lk->bld", basis[:, FACES[face_idx]], bary))


def _area_each(v, f):
    t = v[f]
    return 0.5 * np.linalg.norm(np.cross(t[:, 1] - t[:, 0], t[:, 2] - t[:, 0]), axis=1)
