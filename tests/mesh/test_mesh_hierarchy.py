import math

import numpy as np
import pytest
import scipy.sparse as sp
import trimesh

from photoface.errors import PhotofaceError
from photoface.mesh import hierarchy as hmod
from photoface.mesh.graph import chebyshev_laplacian
from photoface.mesh.hierarchy import MeshHierarchy, cache_path, load_or_build

FACTORS = (4, 4, 2)


@pytest.fixture(scope="module")
def sphere():
    ico = trimesh.creation.icosphere(3, radius=80.0)
    return np.asarray(ico.vertices), np.asarray(ico.faces)


@pytest.fixture(scope="module")
def hier(sphere):
    return MeshHierarchy.build(*sphere, FACTORS)


def test_sizes_follow_the_factors(hier, sphere):
    sizes = hier.sizes
    assert sizes[0] == len(sphere[0])
    for n_fine, n_coarse, f in zip(sizes, sizes[1:], FACTORS):
        assert n_coarse == math.ceil(n_fine / f)
    assert [m.shape for m in hier.down] == [(c, f) for f, c in zip(sizes, sizes[1:])]
    assert [m.shape for m in hier.up] == [(f, c) for f, c in zip(sizes, sizes[1:])]


def test_down_selects_existing_vertices(hier):
    for i, d in enumerate(hier.down):
        assert (d.data == 1).all() and (np.diff(d.indptr) == 1).all()
        assert len(np.unique(d.indices)) == d.shape[0]  # distinct fine vertices
        assert np.array_equal(d @ hier.levels[i].vertices, hier.levels[i + 1].vertices)
    lv0 = hier.levels[0]
    for lv in hier.levels:
        assert np.array_equal(lv.vertices, lv0.vertices[lv.template_index])


def test_up_rows_are_convex_and_down_up_is_identity(hier):
    for i, (d, u) in enumerate(zip(hier.down, hier.up)):
        assert (u.data >= 0).all()
        assert np.allclose(np.asarray(u.sum(1)).ravel(), 1.0)
        assert (np.diff(u.indptr) <= 3).all()
        du = (d @ u).toarray()
        assert np.allclose(du, np.eye(d.shape[0]))
        coarse = hier.levels[i + 1].vertices
        assert np.allclose(d @ (u @ coarse), coarse)


def test_up_sampling_lands_on_the_coarse_surface(hier):
    # Up-sampled coarse positions stay close to the fine sphere (radius 80 mm).
    approx = hier.up[0] @ hier.levels[1].vertices
    radial = np.linalg.norm(approx, axis=1)
    assert np.abs(radial - 80.0).max() < 6.0
    assert np.linalg.norm(approx - hier.levels[0].vertices, axis=1).mean() < 2.0


def test_levels_carry_their_chebyshev_laplacian_and_outward_faces(hier):
    for lv in hier.levels:
        expected = chebyshev_laplacian(lv.faces, lv.n_vertices)
        assert abs(lv.laplacian - expected).max() == 0
        p = lv.vertices
        n = np.cross(p[lv.faces[:, 1]] - p[lv.faces[:, 0]], p[lv.faces[:, 2]] - p[lv.faces[:, 0]])
        assert ((n * p[lv.faces].mean(1)).sum(1) > 0).all()


def _same(a: MeshHierarchy, b: MeshHierarchy) -> bool:
    ok = a.factors == b.factors and a.sizes == b.sizes
    for la, lb in zip(a.levels, b.levels):
        ok &= np.array_equal(la.vertices, lb.vertices) and np.array_equal(la.faces, lb.faces)
        ok &= abs(la.laplacian - lb.laplacian).max() == 0
    for ma, mb in zip(a.down + a.up, b.down + b.up):
        ok &= ma.shape == mb.shape and (ma != mb).nnz == 0
    return bool(ok)


def test_cache_hit_returns_identical_matrices(tmp_path, monkeypatch, sphere, hier):
    v, f = sphere
    first = load_or_build(v, f, FACTORS, cache_dir=tmp_path)
    assert cache_path(v, f, FACTORS, tmp_path).is_file()
    assert not list(tmp_path.glob("*.tmp"))

    def no_build(*args, **kwargs):
        raise AssertionError("cache miss")

    monkeypatch.setattr(hmod.MeshHierarchy, "build", no_build)
    second = load_or_build(v, f, FACTORS, cache_dir=tmp_path)
    assert _same(first, second) and _same(first, hier)
    assert all(isinstance(m, sp.csr_matrix) for m in second.down + second.up)


def test_cache_key_depends_on_template_and_factors(sphere):
    v, f = sphere
    base = cache_path(v, f, FACTORS, "/c")
    assert cache_path(v, f, (4, 4, 4), "/c") != base
    moved = v.copy()
    moved[0, 0] += 1e-6
    assert cache_path(moved, f, FACTORS, "/c") != base
    assert cache_path(v, f[:, [0, 2, 1]], FACTORS, "/c") != base
    assert cache_path(v.copy(), f.copy(), FACTORS, "/c") == base


def test_env_var_sets_cache_dir(tmp_path, monkeypatch, sphere):
    monkeypatch.setenv("PHOTOFACE_CACHE", str(tmp_path))
    assert cache_path(*sphere, FACTORS).parent == tmp_path


def test_corrupt_cache_file_is_rebuilt(tmp_path, sphere):
    v, f = sphere
    path = cache_path(v, f, (4,), tmp_path)
    path.write_bytes(b"not an npz")
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        h = load_or_build(v, f, (4,), cache_dir=tmp_path)
    assert h.sizes == [len(v), math.ceil(len(v) / 4)]
    assert MeshHierarchy.load(path).sizes == h.sizes
    with pytest.raises(PhotofaceError, match="not a readable"):
        MeshHierarchy.load(tmp_path / "missing.npz")


def test_bad_inputs_raise(sphere):
    v, f = sphere
    with pytest.raises(PhotofaceError, match="factors"):
        MeshHierarchy.build(v, f, (4, 0.5))
    with pytest.raises(PhotofaceError, match="vertices"):
        MeshHierarchy.build(v[:, :2], f)
    with pytest.raises(PhotofaceError, match="do not exist"):
        MeshHierarchy.build(v[:10], f)
