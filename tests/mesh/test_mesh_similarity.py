import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from photoface.mesh.similarity import Similarity, umeyama


def _rot2(deg):
    a = np.deg2rad(deg)
    return np.array([[np.cos(a), -np.sin(a)], [np.sin(a), np.cos(a)]])


def test_umeyama_recovers_a_3d_similarity():
    rng = np.random.default_rng(1)
    src = rng.normal(size=(20, 3))
    true = Similarity(1.7, Rotation.from_euler("xyz", [10, -40, 25], degrees=True).as_matrix(),
                      np.array([3.0, -2.0, 5.0]))
    est = umeyama(src, true.apply(src))
    assert est.scale == pytest.approx(1.7)
    assert np.allclose(est.rotation, true.rotation) and np.allclose(est.translation, true.translation)
    assert np.allclose(est.inverse().apply(true.apply(src)), src)


def test_umeyama_recovers_a_2d_similarity_and_its_matrix():
    rng = np.random.default_rng(0)
    src = rng.uniform(0, 100, (5, 2))
    true = Similarity(0.37, _rot2(23.0), np.array([11.0, -4.0]))
    est = umeyama(src, true.apply(src))
    np.testing.assert_allclose(est.matrix(), np.concatenate([0.37 * _rot2(23.0), [[11.0], [-4.0]]], 1),
                               atol=1e-9)
    assert est.matrix().shape == (2, 3)


@pytest.mark.parametrize("dim", [2, 3])
def test_umeyama_never_reflects(dim):
    rng = np.random.default_rng(dim)
    src = rng.normal(size=(10, dim))
    dst = src.copy()
    dst[:, 0] *= -1  # a mirror image: the best proper rotation, not the reflection
    est = umeyama(src, dst)
    assert np.linalg.det(est.rotation) == pytest.approx(1.0)


def test_umeyama_weights_and_fixed_scale():
    rng = np.random.default_rng(2)
    src = rng.normal(size=(12, 3))
    true = Similarity(2.0, Rotation.from_euler("z", 30, degrees=True).as_matrix(), np.array([1.0, 0, 0]))
    dst = true.apply(src)
    dst[0] += 50.0  # an outlier that zero weight must ignore
    w = np.ones(12)
    w[0] = 0.0
    est = umeyama(src, dst, weights=w)
    assert est.scale == pytest.approx(2.0) and np.allclose(est.rotation, true.rotation)
    assert umeyama(src, dst, with_scale=False).scale == 1.0


def test_composition_and_inverse():
    a = Similarity(1.5, Rotation.from_euler("x", 20, degrees=True).as_matrix(), np.array([1.0, 2, 3]))
    b = Similarity(0.5, Rotation.from_euler("y", -35, degrees=True).as_matrix(), np.array([-4.0, 0, 1]))
    pts = np.random.default_rng(3).normal(size=(6, 3))
    assert np.allclose(a.then(b).apply(pts), b.apply(a.apply(pts)))
    assert np.allclose(a.then(a.inverse()).apply(pts), pts)


def test_aligned_distances_ignore_a_similarity_and_measure_the_shape():
    import numpy as np

    from photoface.mesh.similarity import aligned_distances

    rng = np.random.default_rng(0)
    true = rng.normal(size=(50, 3)) * 30.0
    c, s_ = np.cos(0.4), np.sin(0.4)
    moved = 1.3 * true @ np.array([[c, -s_, 0], [s_, c, 0], [0, 0, 1]]).T + [5.0, -2.0, 9.0]
    assert aligned_distances(moved, true).max() < 1e-9
    bumped = moved.copy()
    bumped[7] += [0.0, 0.0, 13.0]  # 13 mm in the moved frame: 10 mm in the true one, less the fit's share
    d = aligned_distances(bumped, true)
    assert d.argmax() == 7 and 8.0 < d[7] < 10.0 and np.median(d) < 0.5
