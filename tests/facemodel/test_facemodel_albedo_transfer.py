"""Albedo carried from one model onto another through the landmarks."""

import numpy as np
import torch

from photoface.facemodel.albedo_transfer import transfer_albedo
from photoface.facemodel.model import MorphableModel


def _reshaped(m: MorphableModel, mean: np.ndarray, faces=None, mirror=None) -> MorphableModel:
    """``m``'s topology on new vertex positions, with a flat albedo and no albedo modes."""
    v = len(mean)
    return MorphableModel(mean, np.zeros((0, v, 3)), np.zeros((0, v, 3)), np.full((v, 3), 0.5),
                          np.zeros((0, v, 3)), m.faces if faces is None else faces, m.landmarks68,
                          m.mirror if mirror is None else mirror, name="target")


def test_transfer_onto_an_affinely_distorted_copy_gives_the_source_albedo(demo_model):
    m = demo_model
    mean = m.mean.double().numpy() * [1.1, 0.93, 1.05] + [3.0, -7.0, 12.0]  # wider, shorter, moved
    tex, basis, w = transfer_albedo(m, _reshaped(m, mean))
    assert basis.shape == tuple(m.tex_basis.shape) and tex.dtype == np.float32
    assert w.min() > 0.999
    assert np.abs(tex - m.tex_mean.numpy()).max() < 2e-3
    assert np.abs(basis - m.tex_basis.numpy()).max() < 2e-3


def test_transfer_fades_out_where_the_source_has_no_surface(demo_model):
    m = demo_model
    v = m.num_vertices
    mean = m.mean.double().numpy()
    back = mean * [1, 1, -1] - [0, 0, 250.0]  # the back of a head, far behind the face
    head = np.concatenate([mean, back])
    faces = torch.cat([m.faces, m.faces.flip(1) + v])
    target = _reshaped(m, head, faces, torch.cat([m.mirror, m.mirror + v]))
    tex, basis, w = transfer_albedo(m, target)
    assert w[:v].min() > 0.999 and w[v:].max() == 0.0
    assert np.allclose(tex[v:], 0.5) and np.abs(basis[:, v:]).max() == 0.0
    # the face keeps its painted features: lips redder than cheeks
    lips, cheeks = m.regions["lips"].numpy(), m.regions["cheeks"].numpy()
    assert (tex[lips, 0] - tex[lips, 1]).mean() > (tex[cheeks, 0] - tex[cheeks, 1]).mean()
