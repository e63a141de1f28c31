"""photoface.fit: optimisation-based fitting of photo collections through the renderer.

One person's photos share one identity (and albedo); expression, pose and light are per photo.
``fit_person`` fits one person's ``PhotoBatch`` coarse to fine, ``fit_collection`` streams a whole
prepared dataset person by person, ``FitConfig`` holds every knob, ``LabelWriter`` turns fits
into a labeled prepared dataset. The unknowns sit behind the ``Parametrisation`` interface
(``LinearParametrisation`` for a linear face model, ``photoface.fit.network.NetworkParametrisation``
for a trained network's codes: test-time refinement).
"""

from photoface.fit.collection import fit_collection, load_person, make_batch
from photoface.fit.config import FitConfig, apply_overrides
from photoface.fit.labels import LABEL_SOURCE, LabelWriter
from photoface.fit.objective import PhotoBatch
from photoface.fit.parametrisation import (
    Decoded,
    LinearParametrisation,
    Parametrisation,
)
from photoface.fit.person import PersonFit, fit_person

__all__ = [
    "LABEL_SOURCE",
    "Decoded",
    "FitConfig",
    "LabelWriter",
    "LinearParametrisation",
    "Parametrisation",
    "PersonFit",
    "PhotoBatch",
    "apply_overrides",
    "fit_collection",
    "fit_person",
    "load_person",
    "make_batch",
]
