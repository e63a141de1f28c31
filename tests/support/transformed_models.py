"""Face models derived from another by known changes, for the face-space benchmarks' known answers:
a similarity applied to the whole model, and an offset of a set of vertices of its mean face."""

from __future__ import annotations

import numpy as np

from photoface.evaluate.alignment import rotation_from_vector
from photoface.facemodel.model import MorphableModel


def derived_model(model: MorphableModel, mean: np.ndarray, id_basis: np.ndarray, name: str) -> MorphableModel:
    """``model`` with another mean (V, 3) and identity basis (K, V, 3), everything else kept."""
    b = {k: v.detach().cpu().numpy() for k, v in model.named_buffers()}
    return MorphableModel(mean, id_basis, b["exp_basis"], b["tex_mean"], b["tex_basis"], b["faces"],
                          b["landmarks68"], b["mirror"], {k: v.numpy() for k, v in model.regions.items()},
                          name=name, source="tests", exp_kind=model.exp_kind)


def similar_model(model: MorphableModel, scale: float, rotation_vector, translation) -> MorphableModel:
    """The whole model moved by x ↦ s·R·x + t (mean and basis alike): the same faces, elsewhere."""
    rot = rotation_from_vector(np.asarray(rotation_vector, np.float64))
    mean = scale * model.mean.double().numpy() @ rot.T + np.asarray(translation, np.float64)
    basis = scale * model.id_basis.double().numpy() @ rot.T
    return derived_model(model, mean, basis, f"{model.name}-moved")


def offset_model(model: MorphableModel, vertices, offset_mm) -> MorphableModel:
    """The model with ``vertices`` of its mean face moved by ``offset_mm`` (3,), the basis kept."""
    mean = model.mean.double().numpy().copy()
    mean[np.asarray(vertices, np.int64)] += np.asarray(offset_mm, np.float64)
    return derived_model(model, mean, model.id_basis.double().numpy(), f"{model.name}-offset")
