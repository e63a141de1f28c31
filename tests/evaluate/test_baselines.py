"""Baselines: the landmark-fitted linear model and the mean face."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from photoface.evaluate.baselines import LandmarkFit, MeanFace, fit_landmarks
from photoface.render.camera import frontal_pose, project
from support.runs import tiny_face_model


@pytest.fixture(scope="module")
def model():
    return tiny_face_model()


def _faces(model, n, seed=0, exp_scale=1.0):
    g = torch.Generator().manual_seed(seed)
    a = torch.randn(n, model.n_id, generator=g, dtype=torch.float64)
    e = exp_scale * torch.randn(n, model.n_exp, generator=g, dtype=torch.float64)
    pose = torch.zeros(n, 6, dtype=torch.float64)
    pose[:, 0] = 8 * torch.randn(n, generator=g, dtype=torch.float64)
    pose[:, 1] = torch.linspace(-50, 50, n, dtype=torch.float64)
    pose[:, 2] = 6 * torch.randn(n, generator=g, dtype=torch.float64)
    pose[:, 3] = 0.9
    pose[:, 4:] = 64 + 3 * torch.randn(n, 2, generator=g, dtype=torch.float64)
    verts = model.mean.double() + torch.einsum("nk,kvc->nvc", a, model.id_basis.double()) \
        + torch.einsum("nl,lvc->nvc", e, model.exp_basis.double())
    lm = project(verts[:, model.landmarks68], pose)[..., :2]
    return a.numpy(), e.numpy(), pose.numpy(), verts.numpy(), lm.numpy()


def test_fit_recovers_known_coefficients_and_pose_from_noiseless_landmarks(model):
    a, e, pose, _, lm = _faces(model, 12)
    fit = fit_landmarks(model, lm, id_prior=1e-8, exp_prior=1e-8)
    assert np.abs(fit.alpha_id - a).max() < 1e-2
    assert np.abs(fit.alpha_exp - e).max() < 1e-2
    assert np.abs(fit.pose - pose).max() < 0.05  # degrees, px/mm, px
    assert fit.rms_px.max() < 1e-3
    assert np.allclose(fit.landmarks2d, lm, atol=1e-2)


def test_fit_with_prior_and_noise_is_close_and_shrinks_coefficients(model):
    a, e, pose, verts, lm = _faces(model, 12, seed=3)
    noisy = lm + np.random.default_rng(0).normal(0, 0.5, lm.shape)
    fit = fit_landmarks(model, noisy)
    shapes = LandmarkFit(model, 128).shapes(fit.alpha_id, fit.alpha_exp)
    err_fit = np.linalg.norm(shapes - verts, axis=-1).mean()
    err_mean = np.linalg.norm(model.mean.numpy()[None] - verts, axis=-1).mean()
    assert err_fit < 0.4 * err_mean
    assert np.abs(fit.pose[:, 1] - pose[:, 1]).max() < 5.0
    # the prior pulls coefficients towards 0 compared with a prior-free fit of the same landmarks
    free = fit_landmarks(model, noisy, id_prior=0.0, exp_prior=0.0)
    assert np.linalg.norm(fit.alpha_id) < np.linalg.norm(free.alpha_id)


def test_blendshape_weights_stay_in_unit_interval(model):
    model = tiny_face_model()
    model.exp_kind = "blendshape"
    _, _, _, _, lm = _faces(model, 6, seed=5, exp_scale=2.0)
    fit = fit_landmarks(model, lm)
    assert fit.alpha_exp.min() >= 0.0 and fit.alpha_exp.max() <= 1.0


def test_landmark_fit_method_output(model):
    _, _, _, _, lm = _faces(model, 4, seed=7)
    method = LandmarkFit(model, 128)
    out = method.predict(torch.zeros(4, 3, 128, 128), lm)
    assert out.shape.shape == (4, model.num_vertices, 3) and out.id_code.shape == (4, model.n_id)
    # neutral = identity coefficients with a zero expression
    assert np.allclose(out.neutral, method.shapes(out.id_code), atol=1e-5)
    assert np.allclose(method.decode_neutral(out.id_code[:1]), out.neutral[:1], atol=1e-5)
    with pytest.raises(ValueError, match="landmarks"):
        method.predict(torch.zeros(1, 3, 128, 128), None)


def test_mean_face_is_the_template_at_the_frontal_pose(model):
    out = MeanFace(model, 64).predict(torch.zeros(3, 3, 64, 64))
    assert out.shape.shape == (3, model.num_vertices, 3)
    assert np.array_equal(out.shape[2], model.mean.numpy()) and out.id_code is None
    expected = project(model.mean[None, model.landmarks68].double(), frontal_pose(1, 64).double())[0, :, :2]
    assert np.allclose(out.landmarks2d[1], expected.numpy())
    assert np.allclose(out.pose, frontal_pose(3, 64).numpy())


@pytest.mark.parametrize("contour, fixed, slides", [("auto", True, False), ("auto", False, True),
                                                     ("on", True, True), ("off", False, False)])
def test_collection_fit_reads_the_contour_setting_as_fit_does(model, monkeypatch, contour, fixed, slides):
    """``--set contour=on`` reaches the benchmark's fit also on synthetic (fixed-vertex) data."""
    import photoface.fit.person as person
    from photoface.evaluate.baselines import CollectionFit
    from photoface.fit.config import FitConfig

    seen = []

    def stop(face_model, batch, cfg, renderer=None, points=None, **kw):
        seen.append(points.lines is not None)
        raise RuntimeError("enough")

    monkeypatch.setattr(person, "fit_person", stop)
    method = CollectionFit(model, 32, FitConfig(contour=contour), fixed_landmarks=fixed)
    lm = project(model.landmarks(model.mean[None]), frontal_pose(1, 32))[..., :2].numpy()
    with pytest.raises(RuntimeError, match="enough"):
        method.predict(torch.zeros(1, 3, 32, 32), lm, identities=["a"])
    assert seen == [slides]
