import numpy as np
import pytest
import trimesh

from photoface.errors import PhotofaceError
from photoface.mesh.decimate import decimate_keep_vertices
from photoface.mesh.sampling import closest_point_barycentric, nearest_triangle


def grid(n, bump=True):
    """An open n×n height-field grid (mm), triangles counter-clockwise seen from +z."""
    x, y = np.meshgrid(np.linspace(-50, 50, n), np.linspace(-50, 50, n))
    z = 20 * np.exp(-(x**2 + y**2) / 800) if bump else 0 * x
    v = np.stack([x.ravel(), y.ravel(), z.ravel()], 1)
    idx = np.arange(n * n).reshape(n, n)
    a, b, c, d = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel(), idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    return v, np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])


def edge_use_counts(faces):
    e = np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), axis=1)
    return np.unique(e, axis=0, return_counts=True)[1]


def test_decimation_keeps_a_subset_in_place_and_reaches_the_target():
    v, f = grid(21)
    kept, cf = decimate_keep_vertices(v, f, 110)
    assert len(kept) == 110 and len(np.unique(kept)) == 110
    assert (np.diff(kept) > 0).all()
    assert cf.min() >= 0 and cf.max() < 110
    assert len(np.unique(cf)) == 110  # every survivor is still on the surface
    assert edge_use_counts(cf).max() <= 2  # manifold


def test_decimation_keeps_orientation_and_boundary_corners():
    v, f = grid(21, bump=False)
    kept, cf = decimate_keep_vertices(v, f, 60)
    p = v[kept]
    n = np.cross(p[cf[:, 1]] - p[cf[:, 0]], p[cf[:, 2]] - p[cf[:, 0]])
    assert (n[:, 2] > 0).all()  # no fold-overs, counter-clockwise from +z as the input
    corners = [0, 20, 21 * 20, 21 * 21 - 1]
    assert set(corners) <= set(kept.tolist())  # boundary quadrics protect the outline
    # The decimated square still covers the whole square: area is preserved.
    assert np.isclose(0.5 * np.abs(n[:, 2]).sum(), 100 * 100)


def test_decimation_of_closed_sphere_stays_closed():
    ico = trimesh.creation.icosphere(3)
    kept, cf = decimate_keep_vertices(ico.vertices, ico.faces, 160)
    assert len(kept) == 160
    counts = edge_use_counts(cf)
    assert (counts == 2).all()  # watertight
    assert len(cf) == 2 * 160 - 4  # Euler: genus 0


def test_decimation_rejects_bad_target():
    v, f = grid(5)
    with pytest.raises(PhotofaceError):
        decimate_keep_vertices(v, f, 0)
    with pytest.raises(PhotofaceError):
        decimate_keep_vertices(v, f, 26)


def test_closest_point_barycentric_matches_trimesh():
    rng = np.random.default_rng(0)
    t = rng.normal(size=(2000, 3, 3))
    p = 2 * rng.normal(size=(2000, 3))
    w = closest_point_barycentric(p, t[:, 0], t[:, 1], t[:, 2])
    assert (w >= 0).all() and np.allclose(w.sum(1), 1)
    q = (w[:, :, None] * t).sum(1)
    assert np.allclose(q, trimesh.triangles.closest_point(t, p), atol=1e-9)


def test_nearest_triangle_is_exact_even_with_few_candidates():
    rng = np.random.default_rng(1)
    ico = trimesh.creation.icosphere(2)
    v = ico.vertices * (1 + 0.4 * rng.random((len(ico.vertices), 1)))
    pts = 1.5 * rng.normal(size=(400, 3))
    face, w = nearest_triangle(pts, v, ico.faces, k=2)
    tri = v[ico.faces]
    brute = np.stack(
        [((pts - trimesh.triangles.closest_point(np.repeat(tri[j : j + 1], len(pts), 0), pts)) ** 2).sum(1)
         for j in range(len(tri))],
        axis=1,
    ).min(1)
    q = (w[:, :, None] * tri[face]).sum(1)
    assert np.allclose(((pts - q) ** 2).sum(1), brute, atol=1e-12)
