"""The procedural face's nostrils: deep vestibules, a clean mesh, and hidden from the front."""

import numpy as np
import pytest

from photoface.facemodel.procedural import layout, surface
from photoface.facemodel.procedural.mesh import build_grid


def _mean(resolution):
    rows, cols, pocket = layout.RESOLUTIONS[resolution]
    place = layout.place_grid(rows, cols)
    grid = build_grid(rows, cols, place.slit_row, place.slit_half, pocket)
    return grid, surface.build_mean(grid, place)


def _segments_hit_triangles(p0, p1, tris):
    """(S,) bool: does segment p0→p1 (S, 3) cross any triangle (T, 3, 3) strictly inside both."""
    a, e1, e2 = tris[:, 0], tris[:, 1] - tris[:, 0], tris[:, 2] - tris[:, 0]
    d = p1 - p0
    hit = np.zeros(len(p0), bool)
    for i in range(len(p0)):
        p = np.cross(d[i], e2)
        det = np.einsum("td,td->t", e1, p)
        ok = np.abs(det) > 1e-12
        inv = np.where(ok, 1.0 / np.where(ok, det, 1.0), 0.0)
        s = p0[i] - a
        u = np.einsum("td,td->t", s, p) * inv
        q = np.cross(s, e1)
        v = (q @ d[i]) * inv
        t = np.einsum("td,td->t", e2, q) * inv
        eps = 1e-6
        hit[i] = np.any(ok & (u > eps) & (v > eps) & (u + v < 1 - eps) & (t > eps) & (t < 1 - eps))
    return hit


@pytest.fixture(scope="module")
def demo_mean():
    return _mean("demo")


def _cavity(mean):
    dy, dz = surface.nostril_offset(mean.base_xy[:, 0], mean.base_xy[:, 1])
    return np.hypot(dy, dz) > 1.0


def test_vestibules_rise_inside_the_nose(demo_mean):
    grid, mean = demo_mean
    cav = mean.verts[_cavity(mean)]
    tip = mean.verts[np.argmax(np.where(np.abs(mean.verts[:, 0]) < 1, mean.verts[:, 2], -np.inf))]
    # The vestibule's roof is well above the naris (at the subnasale's height) and its back wall
    # well behind the tip: a cavity, not a dent.
    assert cav[:, 1].max() > layout.NOSE_BASE_Y + 8.0
    assert cav[:, 2].min() < tip[2] - 25.0
    assert np.all(np.abs(cav[:, 0]) > 1.0)  # two nostrils, the columella between them


def test_nostrils_are_hidden_from_the_front(demo_mean):
    grid, mean = demo_mean
    v, f = mean.verts, grid.faces
    cav = np.flatnonzero(_cavity(mean))
    near = (np.abs(v[f][..., 0]).max(1) < 25) & (np.abs(v[f][..., 1] - layout.NOSE_TIP_Y).max(1) < 25)
    tris = v[f[near]]
    # Every point of the vestibule more than 2 mm above the naris's front rim is covered by the
    # nose's own skin when seen from straight ahead: from the front only the opening shows, as
    # shade under the tip.
    cx, cy, _, half = surface.NARIS
    rim = np.argmin(np.hypot(mean.base_xy[:, 0] - cx, mean.base_xy[:, 1] - (cy + half)))
    deep = cav[v[cav, 1] > v[rim, 1] + 2.0]
    assert len(deep) > 0
    start = v[deep] + np.array([0.0, 0.0, 0.05])
    assert _segments_hit_triangles(start, start + np.array([0.0, 0.0, 100.0]), tris).all()


@pytest.mark.parametrize("resolution", ["demo", pytest.param("paper", marks=pytest.mark.slow)])
def test_nose_mesh_does_not_cut_through_itself(resolution):
    grid, mean = _mean(resolution)
    v, f = mean.verts, grid.faces
    box = (np.abs(v[f][..., 0]).max(1) < 20) & (v[f][..., 1].max(1) < layout.NOSE_TIP_Y + 30) & (
        v[f][..., 1].min(1) > layout.NOSE_BASE_Y - 15)
    faces = f[box]
    edges = np.unique(np.sort(np.concatenate([faces[:, [0, 1]], faces[:, [1, 2]], faces[:, [2, 0]]]), 1), axis=0)
    # An edge that crosses a triangle (not one of its own) would be a fold or a flipped triangle.
    tris = v[faces]
    for e in edges:
        others = ~np.isin(faces, e).any(1)
        assert not _segments_hit_triangles(v[e[None, 0]], v[e[None, 1]], tris[others]).any(), f"edge {e} cuts the mesh"
