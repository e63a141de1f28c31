"""The objective's label targets honour the face model's expression bounds: blendshape weights in [0, 1], a one-sided jaw >= 0."""

from types import SimpleNamespace

import numpy as np
import torch

from photoface.facemodel.model import MorphableModel
from photoface.run.config import LossConfig
from photoface.train.objective import StepInputs, generator_losses
from support.runs import jaw_like, tiny_face_model


def _blendshape_model() -> MorphableModel:
    m = tiny_face_model()
    return MorphableModel(m.mean, m.id_basis, m.exp_basis.abs(), m.tex_mean, np.zeros((0, m.num_vertices, 3)),
                          m.faces, m.landmarks68, m.mirror, exp_kind="blendshape")


def _label_terms(models, alpha_id, wild, sane):
    """The shape and pairwise-shape terms of a labeled pair with labels ``wild`` (2, L), for a network
    that decoded exactly the shapes of ``sane``; one dict of terms per model in ``models``."""
    b = 2
    x = StepInputs(
        images=torch.zeros(b, 3, 8, 8), masks=torch.ones(b, 1, 8, 8), landmarks=torch.zeros(b, 68, 2),
        visible=torch.ones(b, 68, dtype=torch.bool), labeled=torch.ones(b, dtype=torch.bool), alpha_id=alpha_id,
        alpha_exp=wild, identity=torch.zeros(b, dtype=torch.long), flip=torch.zeros(b, dtype=torch.bool),
        pair_a=torch.tensor([0]), pair_b=torch.tensor([1]),
    )
    m = models[0]
    # only the fields these two terms read
    gen_out = SimpleNamespace(net=SimpleNamespace(shape=m.shape(alpha_id, sane), render=None),
                              pair_shape=m.shape(alpha_id[:1], sane[1:]))
    cfg = LossConfig(recognition=0.0, center=0.0, photometric=0.0, landmark=0.0, shape=1.0, pairwise_shape=1.0,
                     smooth=0.0, albedo_symmetry=0.0, adversarial=0.0)
    return [generator_losses(cfg, x, gen_out, model, None, None, None, 8) for model in models]


def test_shape_and_pairwise_targets_clamp_blendshape_labels():
    m = _blendshape_model()
    g = torch.Generator().manual_seed(0)
    alpha_id = torch.randn(2, m.n_id, generator=g)
    wild = torch.tensor([[1.6, -0.5, 0.3, 0.0], [0.2, 2.0, -1.0, 0.7]])  # labels that overshoot
    sane = wild.clamp(0.0, 1.0)
    pca = MorphableModel(m.mean, m.id_basis, m.exp_basis, m.tex_mean, m.tex_basis, m.faces, m.landmarks68, m.mirror)
    # the network got the meaningful shapes exactly
    terms, as_pca = _label_terms([m, pca], alpha_id, wild, sane)
    assert terms["shape"].item() < 1e-4 and terms["pairwise_shape"].item() < 1e-4
    # PCA labels are taken as they are
    assert as_pca["shape"].item() > 0.1 and as_pca["pairwise_shape"].item() > 0.1


def test_shape_and_pairwise_targets_clamp_a_one_sided_pca_label():
    m = jaw_like(tiny_face_model(), 1)  # expression 1 is a jaw opening: [0, inf)
    g = torch.Generator().manual_seed(1)
    alpha_id = torch.randn(2, m.n_id, generator=g)
    wild = torch.tensor([[1.6, -0.5, -0.3, 0.0], [-0.2, -2.0, -1.0, 0.7]])  # jaw labels closed past neutral
    sane = wild.clone()
    sane[:, 1] = 0.0
    terms, unbounded = _label_terms([m, tiny_face_model()], alpha_id, wild, sane)
    assert terms["shape"].item() < 1e-4 and terms["pairwise_shape"].item() < 1e-4
    assert unbounded["shape"].item() > 0.1 and unbounded["pairwise_shape"].item() > 0.1
