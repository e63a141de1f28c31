"""Border vertices and the distance to the border along the surface."""

import numpy as np

from photoface.mesh.border import border_distance, border_vertices, longest_border_loop
from support.flat_grid import grid


def test_border_is_the_outer_ring_of_a_grid():
    verts, faces = grid(5, 40.0)
    ring = set(range(5)) | set(range(20, 25)) | {5, 10, 15, 9, 14, 19}
    assert set(border_vertices(faces, len(verts)).tolist()) == ring


def test_the_longest_border_loop_walks_the_outer_ring_in_order():
    verts, faces = grid(5, 40.0)
    loop = longest_border_loop(faces)
    ring = set(range(5)) | set(range(20, 25)) | {5, 10, 15, 9, 14, 19}
    assert len(loop) == 16 and set(loop.tolist()) == ring
    steps = np.abs(np.diff(verts[np.r_[loop, loop[:1]]], axis=0)).sum(1)
    assert np.allclose(steps, 10.0)  # neighbours along the ring, back to the start


def test_distance_is_zero_on_the_border_and_grows_inward_in_mm():
    verts, faces = grid(9, 80.0)  # 10 mm spacing
    d = border_distance(verts, faces).reshape(9, 9)
    assert (d[0] == 0).all() and (d[:, -1] == 0).all()
    assert np.isclose(d[1, 4], 10.0) and np.isclose(d[4, 4], 40.0), "the centre is 4 edges of 10 mm in"


def test_closed_mesh_has_no_border():
    tetra = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1]], float)
    faces = np.array([[0, 2, 1], [0, 1, 3], [0, 3, 2], [1, 2, 3]])
    assert len(border_vertices(faces, 4)) == 0 and np.isinf(border_distance(tetra, faces)).all()
