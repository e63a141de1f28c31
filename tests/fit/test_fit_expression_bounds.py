"""The fitters keep expression coefficients inside the model's ``exp_bounds``: a one-sided
coefficient (FLAME's jaw opening, [0, inf)) never goes negative, whatever the landmarks say."""

from __future__ import annotations

import numpy as np
import torch

from photoface.fit.joint_landmarks import fit_joint_landmarks
from photoface.fit.landmark_fit import fit_landmarks
from photoface.fit.parametrisation import LinearParametrisation
from photoface.fit.point_vertices import landmark_points
from photoface.render.camera import project
from support.runs import jaw_like, tiny_face_model

JAW = 1  # the expression made one-sided


def _closed_past_neutral(model, n=4):
    """(n, 68, 2) px landmarks of faces whose jaw coefficient is -2, and their (n, 6) poses."""
    g = torch.Generator().manual_seed(0)
    a = 0.5 * torch.randn(1, model.n_id, generator=g, dtype=torch.float64).expand(n, -1)
    e = 0.3 * torch.randn(n, model.n_exp, generator=g, dtype=torch.float64)
    e[:, JAW] = -2.0
    pose = torch.zeros(n, 6, dtype=torch.float64)
    pose[:, 1] = torch.linspace(-30, 30, n, dtype=torch.float64)
    pose[:, 3] = 0.9
    pose[:, 4:] = 64.0
    verts = model.mean.double() + torch.einsum("nk,kvc->nvc", a, model.id_basis.double()) \
        + torch.einsum("nl,lvc->nvc", e, model.exp_basis.double())
    return project(verts[:, model.landmarks68], pose)[..., :2].numpy(), pose.numpy()


def test_landmark_fits_keep_a_one_sided_coefficient_non_negative():
    model = tiny_face_model(seed=1)
    jaw = jaw_like(model, JAW)
    lm, pose = _closed_past_neutral(model)
    free = fit_landmarks(model, lm, id_prior=1e-6, exp_prior=1e-6)
    assert (free.alpha_exp[:, JAW] < -1.0).all()  # without bounds the fit closes the jaw
    fit = fit_landmarks(jaw, lm, id_prior=1e-6, exp_prior=1e-6)
    assert (fit.alpha_exp[:, JAW] >= 0).all()
    joint = fit_joint_landmarks(jaw, lm, np.ones((len(lm), 68)), np.zeros(model.n_id), free.alpha_exp, pose,
                                sigma=0.02, id_prior=1e-6, exp_prior=1e-6, iterations=10,
                                points=landmark_points(jaw, contour=False),
                                contour_min_yaw=90.0)
    assert (joint.alpha_exp[:, JAW] >= 0).all()
    unbounded = fit_joint_landmarks(model, lm, np.ones((len(lm), 68)), np.zeros(model.n_id), free.alpha_exp, pose,
                                    sigma=0.02, id_prior=1e-6, exp_prior=1e-6, iterations=10,
                                    points=landmark_points(model, contour=False),
                                    contour_min_yaw=90.0)
    assert (unbounded.alpha_exp[:, JAW] < -1.0).all()


def test_render_fit_projection_honours_the_bounds():
    model = tiny_face_model(seed=1)
    lr = dict(id=0.1, exp=0.1, pose=0.1, light=0.1, albedo=0.1)
    start = np.full((2, model.n_exp), -1.5)
    pose = np.array([[0.0, 0.0, 0.0, 0.9, 32.0, 32.0]] * 2)
    p = LinearParametrisation(jaw_like(model, JAW), 64, np.zeros(model.n_id), start, pose, lr)
    p.project_()
    assert p.alpha_exp[:, JAW].tolist() == [0.0, 0.0]
    assert (p.alpha_exp[:, [0, 2, 3]] == -1.5).all()  # unbounded coefficients untouched
    q = LinearParametrisation(model, 64, np.zeros(model.n_id), start, pose, lr)
    q.project_()
    assert (q.alpha_exp == -1.5).all()


def test_the_per_photo_landmark_solve_honours_the_bounds():
    from photoface.fit.collection import make_batch
    from photoface.fit.config import FitConfig
    from photoface.fit.single import landmark_coefficients

    model = tiny_face_model(seed=1)
    jaw = jaw_like(model, JAW)
    lm, pose = _closed_past_neutral(model)
    cfg = FitConfig(id_prior=1e-6, exp_prior=1e-6)
    batch = make_batch(torch.zeros(len(lm), 3, 8, 8), torch.ones(len(lm), 1, 8, 8), lm, None, cfg)
    vertices = jaw.landmarks68[None].expand(len(lm), -1)
    _, free = landmark_coefficients(model, torch.as_tensor(pose), vertices, batch, cfg)
    assert (free[:, JAW] < -1.0).all()  # the landmarks ask for a jaw closed past neutral
    _, bounded = landmark_coefficients(jaw, torch.as_tensor(pose), vertices, batch, cfg)
    assert (bounded[:, JAW] >= 0).all()
