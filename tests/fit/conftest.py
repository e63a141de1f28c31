"""Shared builders for the fit tests: a tiny face model and photos of one known person."""

import numpy as np
import pytest
import torch

from photoface.render.camera import focal_at_code_zero
from photoface.render.renderer import Renderer
from support.runs import tiny_face_model

SIZE = 64
YAWS = (-30.0, -10.0, 15.0, 35.0)


def render_person(model, alpha_id, yaws=YAWS, size=SIZE, seed=0):
    """Photos of one person (alpha_id (1, K)) at the given yaws: dict with images (B, 3, S, S),
    masks (B, 1, S, S), landmarks (B, 68, 2) exact px, pose (B, 6), alpha_exp (B, L)."""
    g = torch.Generator().manual_seed(seed)
    b = len(yaws)
    if model.exp_kind == "blendshape":
        alpha_exp = 0.5 * torch.rand(b, model.n_exp, generator=g)
    else:
        alpha_exp = 0.5 * torch.randn(b, model.n_exp, generator=g)
    pose = torch.zeros(b, 6)
    pose[:, 0] = torch.tensor([5.0, -4.0, 3.0, -6.0][:b] * (b // 4 + 1))[:b]
    pose[:, 1] = torch.tensor(yaws)
    pose[:, 3] = focal_at_code_zero(size) * 1.1
    pose[:, 4:] = size / 2 + torch.randn(b, 2, generator=g)
    verts = model.shape(alpha_id.expand(b, -1), alpha_exp)
    albedo = model.albedo(None if model.n_tex == 0 else 0.5 * torch.randn(1, model.n_tex, generator=g))
    out = Renderer(model.faces, size).render(verts, albedo.expand(b, -1, -1), pose, landmarks=model.landmarks68,
                                             background=0.3)
    return {"images": out.image.clamp(0, 1), "masks": out.mask, "landmarks": out.landmarks2d.double().numpy(),
            "pose": pose, "alpha_exp": alpha_exp, "verts": verts}


@pytest.fixture(scope="module")
def tiny_model():
    return tiny_face_model(seed=1)


@pytest.fixture(scope="module")
def known_person(tiny_model):
    alpha_id = torch.tensor([[2.0, -1.5, 1.0, 1.5, -1.0, 0.5, -2.0, 1.0]])[:, : tiny_model.n_id]
    return alpha_id, render_person(tiny_model, alpha_id)


def rms(a, b):
    return float(np.sqrt(((np.asarray(a) - np.asarray(b)) ** 2).sum(-1).mean()))
