"""The MICC-style protocol: surface distances, alignment, crop, on a face-like height field."""

import numpy as np
import pytest
from scipy.spatial.transform import Rotation

from photoface.evaluate.alignment import icp
from photoface.evaluate.protocol import crop_mesh, estimate_nose_tip, evaluate_face_pair, evaluate_mesh
from photoface.evaluate.surface import TriangleMeshDistance, closest_points_on_triangles
from photoface.mesh.similarity import Similarity


def face_surface(nx=41, ny=51, width=160.0, height=200.0):
    """A face-sized height field (mm): an ellipsoidal cap with a nose ridge; z towards the viewer."""
    xs, ys = np.meshgrid(np.linspace(-width / 2, width / 2, nx), np.linspace(-height / 2, height / 2, ny))
    z = 60 * np.sqrt(np.clip(1 - (xs / 100) ** 2 - (ys / 125) ** 2, 0, None))
    z += 25 * np.exp(-(xs**2) / 80 - (ys + 5) ** 2 / 900) + 5 * np.exp(-((ys - 35) ** 2) / 200)
    verts = np.stack([xs, ys, z], axis=-1).reshape(-1, 3)
    idx = np.arange(nx * ny).reshape(ny, nx)
    a, b = idx[:-1, :-1].ravel(), idx[:-1, 1:].ravel()
    c, d = idx[1:, :-1].ravel(), idx[1:, 1:].ravel()
    faces = np.concatenate([np.stack([a, b, d], 1), np.stack([a, d, c], 1)])
    return verts, faces


def vertex_normals(verts, faces):
    fn = np.cross(verts[faces[:, 1]] - verts[faces[:, 0]], verts[faces[:, 2]] - verts[faces[:, 0]])
    vn = np.zeros_like(verts)
    for k in range(3):
        np.add.at(vn, faces[:, k], fn)
    return vn / np.linalg.norm(vn, axis=1, keepdims=True)


def test_closest_point_regions_by_hand():
    tri = np.array([[[0.0, 0, 0], [2, 0, 0], [0, 2, 0]]] * 5)
    pts = np.array([[0.5, 0.5, 3], [-1, -1, 0], [3, -1, 1], [1, -2, 0], [2, 2, 0]])
    expect = np.array([[0.5, 0.5, 0], [0, 0, 0], [2, 0, 0], [1, 0, 0], [1, 1, 0]])
    assert np.allclose(closest_points_on_triangles(pts, tri), expect)


def test_mesh_distance_is_to_surface_not_vertices_and_exact():
    verts, faces = face_surface(11, 13)  # coarse: 16 mm spacing
    rng = np.random.default_rng(0)
    pts = verts[rng.choice(len(verts), 300)] + rng.normal(size=(300, 3)) * 10
    d, q, t = TriangleMeshDistance(verts, faces).query(pts, k=2)
    tris = verts[faces]
    brute = np.min([np.linalg.norm(closest_points_on_triangles(pts, np.repeat(tris[i:i + 1], len(pts), 0))
                                   - pts, axis=1) for i in range(len(faces))], axis=0)
    assert np.allclose(d, brute, atol=1e-9)
    # a point just above the middle of a large triangle: 0.5 mm, while the nearest vertex is far
    centre = tris[10].mean(axis=0)
    n = np.cross(tris[10][1] - tris[10][0], tris[10][2] - tris[10][0])
    p = centre + 0.5 * n / np.linalg.norm(n)
    assert TriangleMeshDistance(verts, faces).query(p[None])[0][0] == pytest.approx(0.5, abs=1e-9)


def test_mesh_distance_exact_with_a_few_long_triangles():
    verts, faces = face_surface(21, 25)
    rng = np.random.default_rng(3)
    # long slivers, like the bridged holes and borders of real scans
    extra = rng.normal(size=(6, 3)) * 80
    verts = np.concatenate([verts, extra])
    n = len(verts)
    faces = np.concatenate([faces, [[n - 6, n - 5, n - 4], [n - 3, n - 2, n - 1], [0, n - 1, n - 6]]])
    pts = rng.normal(size=(400, 3)) * 70
    d = TriangleMeshDistance(verts, faces).query(pts)[0]
    tris = verts[faces]
    brute = np.min([np.linalg.norm(closest_points_on_triangles(pts, np.repeat(tris[i:i + 1], len(pts), 0))
                                   - pts, axis=1) for i in range(len(faces))], axis=0)
    assert np.allclose(d, brute, atol=1e-9)


def _transformed_copy():
    verts, faces = face_surface()
    true = Similarity(1.3, Rotation.from_euler("xyz", [20, -35, 10], degrees=True).as_matrix(),
                      np.array([40.0, -15.0, 300.0]))
    return verts, faces, true


def test_copy_rotated_scaled_translated_scores_zero():
    verts, faces, true = _transformed_copy()
    pred = true.apply(verts)  # the prediction lives in another frame
    lm = np.arange(0, len(verts), 97)
    res = evaluate_mesh(pred, faces, verts, faces, scan_landmarks=verts[lm], pred_landmarks=pred[lm])
    assert res.symmetric_mm < 1e-6
    assert res.scan_to_pred_mm < 1e-6 and res.pred_to_scan_mm < 1e-6
    assert res.transform.scale == pytest.approx(1 / 1.3)


def _perturbed():
    verts, faces = face_surface()
    pert = Similarity(1.05, Rotation.from_euler("xyz", [4, -5, 3], degrees=True).as_matrix(),
                      np.array([3.0, -2.0, 4.0]))
    crop_v, _, _ = crop_mesh(verts, faces, estimate_nose_tip(verts), 95.0)
    return verts, faces, pert.apply(verts), crop_v


def test_icp_point_to_plane_recovers_a_perturbed_pose():
    verts, faces, pred, crop_v = _perturbed()
    res = icp(pred, faces, crop_v, method="plane")
    assert res.converged and res.rms_mm < 1e-6
    assert np.abs(res.transform.apply(pred) - verts).max() < 1e-4


def test_icp_point_to_point_decreases_monotonically():
    verts, faces, pred, crop_v = _perturbed()
    rms = [icp(pred, faces, crop_v, method="point", max_iterations=n).rms_mm for n in (1, 10, 60)]
    assert rms[0] > rms[1] > rms[2] and rms[2] < 0.7 * rms[0]


def test_copy_pushed_one_mm_along_normals_scores_one_mm():
    verts, faces = face_surface()
    pushed = verts + vertex_normals(verts, faces)
    nose = estimate_nose_tip(verts)
    res = evaluate_mesh(pushed, faces, verts, faces, scan_nose_tip=nose, align="none")
    assert res.scan_to_pred_mm == pytest.approx(1.0, abs=0.03)
    assert res.pred_to_scan_mm == pytest.approx(1.0, abs=0.03)
    assert res.symmetric_mm == pytest.approx(1.0, abs=0.03)
    # the full protocol (ICP with scale) can only reduce it; see the module docstring
    full = evaluate_mesh(pushed, faces, verts, faces, scan_nose_tip=nose, pred_nose_tip=nose)
    assert full.symmetric_mm <= res.symmetric_mm + 1e-6


def test_crop_radius_is_respected():
    verts, faces = face_surface()
    center = np.array([10.0, 20.0, 50.0])
    cv, cf, kept = crop_mesh(verts, faces, center, 60.0)
    dist = np.linalg.norm(verts - center, axis=1)
    assert np.array_equal(np.sort(kept), np.flatnonzero(dist <= 60.0))
    assert np.linalg.norm(cv - center, axis=1).max() <= 60.0
    assert cf.min() >= 0 and cf.max() < len(cv) and len(cf) > 0
    nose = estimate_nose_tip(verts)
    res = evaluate_mesh(verts, faces, verts, faces, scan_nose_tip=nose, crop_radius=50.0, align="none")
    assert np.linalg.norm(res.scan_points - nose, axis=1).max() <= 50.0
    assert len(res.scan_points) == (np.linalg.norm(verts - nose, axis=1) <= 50.0).sum()
    outside = np.linalg.norm(verts - nose, axis=1) > 50.0
    assert np.isnan(res.pred_errors[outside]).all() and np.isfinite(res.pred_errors[~outside]).all()


def test_nose_tip_estimate_and_extra_prediction_surface_counts_only_symmetrically():
    verts, faces = face_surface()
    nose = estimate_nose_tip(verts)
    assert abs(nose[0]) < 1e-9 and -15 < nose[1] < 5  # the nose ridge, not the forehead
    # a prediction with a spurious 8 mm bulge: scan→pred sees less of it than pred→scan
    bulged = verts.copy()
    bulge = np.linalg.norm(verts[:, :2] - [40, 40], axis=1) < 15
    bulged[bulge, 2] += 8
    res = evaluate_mesh(bulged, faces, verts, faces, scan_nose_tip=nose, align="none")
    assert res.pred_to_scan_mm > res.scan_to_pred_mm > 0


def test_a_moved_copy_of_another_topology_scores_near_zero():
    """evaluate_face_pair: the same surface sampled twice, moved, with 68 landmark vertices each."""
    truth, truth_faces = face_surface(41, 51)
    coarse, coarse_faces = face_surface(27, 33)
    rng = np.random.default_rng(0)
    spots = np.c_[rng.uniform(-60, 60, (68, 2)), np.zeros(68)]
    spots[30] = [0.0, -5.0, 0.0]  # the nose tip on the ridge, the crop centre

    def nearest(verts):
        return np.array([np.argmin(np.linalg.norm(verts[:, :2] - p[:2], axis=1)) for p in spots])

    move = Similarity(0.8, Rotation.from_euler("xyz", [10, -20, 5], degrees=True).as_matrix(), np.array([5.0, 1, -30]))
    for rigid_first in (True, False):
        res = evaluate_face_pair(move.apply(coarse), coarse_faces, nearest(coarse), truth, truth_faces, nearest(truth),
                                 rigid_first=rigid_first)
        # what is left is the coarse grid's chords across the curved surface
        assert res.symmetric_mm < 0.15
        assert res.transform.scale == pytest.approx(1 / 0.8, rel=0.01)
        assert len(res.scan_kept) == len(res.scan_points) == len(res.scan_closest)
    unaligned = evaluate_face_pair(move.apply(coarse), coarse_faces, nearest(coarse), truth, truth_faces,
                                   nearest(truth), align="none")
    assert unaligned.symmetric_mm > 10.0
