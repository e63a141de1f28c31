"""The registration floor's fit: a linear model's identity space registered to a surface."""

import numpy as np
import pytest

from photoface.evaluate.protocol import evaluate_face_pair
from photoface.evaluate.registration import barycentric, register_identity
from photoface.mesh.similarity import Similarity
from support.runs import tiny_face_model
from support.transformed_models import similar_model


def _arrays(model):
    return (model.mean.double().numpy(), model.id_basis.double().numpy(), model.faces.numpy(),
            model.landmarks68.numpy())


def test_barycentric_weights_rebuild_the_points():
    rng = np.random.default_rng(0)
    tris = rng.normal(size=(50, 3, 3))
    w = rng.dirichlet(np.ones(3), size=50)
    points = np.einsum("nc,ncd->nd", w, tris)
    assert np.allclose(barycentric(points, tris), w, atol=1e-9)


@pytest.mark.slow
def test_a_face_of_the_span_is_found_wherever_it_lies():
    model = tiny_face_model()
    mean, basis, faces, lm = _arrays(model)
    c = np.random.default_rng(1).normal(size=len(basis))
    moved = similar_model(model, 1.08, [0.05, -0.1, 0.03], [4.0, -3.0, 7.0])
    target = moved.mean.double().numpy() + np.tensordot(c, moved.id_basis.double().numpy(), axes=1)
    reg = register_identity(mean, basis, faces, lm, target, faces, target[lm])
    # surface to surface: the tiny model's bases also slide vertices along the surface, which no
    # registration to a surface can see, so the vertices themselves need not come back
    start = evaluate_face_pair(mean, faces, lm, target, faces, lm, max_iterations=20).symmetric_mm
    end = evaluate_face_pair(reg.verts, faces, lm, target, faces, lm, max_iterations=20).symmetric_mm
    assert start > 1.5 and end < 0.1 * start
    assert abs(reg.transform.scale - 1.08) < 0.01
    assert reg.scores[0] > 1.5 and min(reg.scores) == pytest.approx(end, abs=0.02)  # the best iterate is kept


def test_a_strong_ridge_keeps_the_coefficients_small():
    model = tiny_face_model()
    mean, basis, faces, lm = _arrays(model)
    target = mean + np.tensordot(np.full(len(basis), 2.0), basis, axes=1)
    quick = dict(iterations=2, icp_iterations=8, icp_points=300)
    weak = register_identity(mean, basis, faces, lm, target, faces, target[lm], ridge=1e-4, **quick)
    strong = register_identity(mean, basis, faces, lm, target, faces, target[lm], ridge=1e2, **quick)
    assert weak.max_abs_coefficient > 1.5
    assert strong.max_abs_coefficient < 0.2 * weak.max_abs_coefficient
    assert isinstance(strong.transform, Similarity) and len(strong.energies) == 2 and len(strong.scores) == 3
