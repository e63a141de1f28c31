"""MediaPipe's points in the fit: the correspondence to a model's vertices, its cache, the points'
weights in a batch and the landmark stage on them."""

import numpy as np
import pytest
import torch

from photoface.errors import PhotofaceError
from photoface.fit.collection import make_batch
from photoface.fit.config import FitConfig
from photoface.fit.dense_points import build_correspondence, correspondence
from photoface.fit.person import fit_person
from photoface.fit.point_vertices import FitPoints, landmark_points, mediapipe_points, with_mediapipe_points
from photoface.render.camera import project
from support.mediapipe_marks import needs_model

from .conftest import render_person


@pytest.fixture(scope="module")
def demo_model():
    from photoface.facemodel.spec import load_face_model

    return load_face_model("builtin:demo")


@needs_model
def test_correspondence_puts_mediapipes_points_on_the_matching_model_vertices(demo_model):
    from photoface.data.prepare.ibug68 import MEDIAPIPE_TO_IBUG68

    corr = build_correspondence(demo_model)
    mean = demo_model.mean.numpy()
    lm = demo_model.landmarks68.numpy()
    assert (corr.vertices[:468] >= 0).all() and (corr.vertices[468:] == -1).all()
    assert not corr.reliable[468:].any() and corr.reliable.sum() > 300
    assert corr.silhouette.sum() == 36  # the canonical mesh's face oval
    # points that are iBUG landmarks on their own land near the model's landmark vertex
    # (the nose tip, eye corners, mouth corners)
    for k in (30, 36, 39, 42, 45, 48, 54):
        (mp,) = MEDIAPIPE_TO_IBUG68[k]
        assert np.linalg.norm(mean[corr.vertices[mp]] - mean[lm[k]]) < 8.0, k


@needs_model
def test_correspondence_is_cached_by_model_and_rebuilt_when_unreadable(demo_model, tmp_path):
    first = correspondence(demo_model, cache_dir=tmp_path)
    (path,) = tmp_path.glob("mediapipe_points-*.npz")
    again = correspondence(demo_model, cache_dir=tmp_path)
    np.testing.assert_array_equal(first.vertices, again.vertices)
    np.testing.assert_array_equal(first.reliable, again.reliable)
    path.write_bytes(b"not an npz")
    with pytest.warns(RuntimeWarning, match="rebuilding"):
        rebuilt = correspondence(demo_model, cache_dir=tmp_path)
    np.testing.assert_array_equal(first.vertices, rebuilt.vertices)


def test_mediapipe_points_share_the_weight_of_the_68_and_photos_without_them_weigh_nothing():
    fit_points = FitPoints(torch.arange(68 + 4), np.array([5, 9, 100, 200]))
    lm, w = np.ones((2, 68, 2)), np.ones((2, 68))
    pts = np.arange(478 * 2, dtype=float).reshape(478, 2)
    both, weights = with_mediapipe_points(lm, w, [pts, None], fit_points, dense_weight=0.5)
    assert both.shape == (2, 72, 2) and weights.shape == (2, 72)
    np.testing.assert_array_equal(both[0, 68:], pts[[5, 9, 100, 200]])
    np.testing.assert_allclose(weights[0, 68:].sum(), 0.5 * 68)
    assert (weights[1, 68:] == 0).all() and (weights[:, :68] == 1).all()


@needs_model
def test_mediapipe_points_add_the_face_oval_to_the_contour(demo_model):
    dense = mediapipe_points(demo_model, contour=True)
    plain = landmark_points(demo_model, contour=True)
    assert len(dense) == 68 + len(dense.mediapipe_ids) and len(plain) == 68
    torch.testing.assert_close(dense.vertices[:68], plain.vertices)
    oval = dense.slots[17:]
    assert len(oval) > 20 and (oval >= 68).all()
    assert dense.lines.shape[0] == 17 + len(oval)


@pytest.mark.slow
@needs_model
def test_landmark_stage_on_mediapipe_points_recovers_a_known_person(demo_model):
    """Exact projections of the 68 landmarks and of the corresponded vertices: the fit with the
    extra points finds the pose, and its 68 landmarks match."""
    g = torch.Generator().manual_seed(0)
    alpha_id = 0.8 * torch.randn(1, demo_model.n_id, generator=g)
    photos = render_person(demo_model, alpha_id, yaws=(-25.0, 20.0), size=96)
    points = mediapipe_points(demo_model, contour=False)
    corr_vertices = points.vertices[68:]
    pts = []
    for b in range(2):
        full = np.zeros((478, 2))
        full[points.mediapipe_ids] = project(photos["verts"][b:b + 1, corr_vertices], photos["pose"][b:b + 1])[0, :, :2]
        pts.append(full)
    cfg = FitConfig(light_iterations=0, photo_iterations=0, contour="off")
    batch = make_batch(photos["images"], photos["masks"], photos["landmarks"], None, cfg, points=pts,
                       fit_points=points)
    assert batch.landmarks.shape == (2, len(points), 2)
    res = fit_person(demo_model, batch, cfg, points=points)
    yaw = res.params.codes()["pose"][:, 1]
    np.testing.assert_allclose(yaw, photos["pose"][:, 1].numpy(), atol=2.0)
    assert res.landmarks2d.shape == (2, 68, 2) and res.nme.max() < 0.01


@needs_model
def test_datasets_with_mediapipe_rows_fit_the_points_unless_turned_off(demo_model):
    from photoface.fit.collection import fit_points_for

    assert len(fit_points_for(demo_model, FitConfig(), None, has_points=True)) > 68
    assert len(fit_points_for(demo_model, FitConfig(dense_points="off"), None, has_points=True)) == 68
    assert len(fit_points_for(demo_model, FitConfig(), None, has_points=False)) == 68
    with pytest.raises(PhotofaceError, match="dense_points must be auto or off"):
        FitConfig(dense_points="on")
