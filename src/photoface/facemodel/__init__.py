"""photoface.facemodel: linear morphable face models.

``MorphableModel`` (the in-memory model), ``load_model``/``save_model`` (the .npz format of
ARCHITECTURE.md), ``builtin_model``/``build_procedural_model`` (the embedded procedural face),
``model_hash``, and the importers in ``bfm`` and ``ict``.
"""

from photoface.facemodel.io import load_model, model_hash, save_model
from photoface.facemodel.model import IBUG_MIRROR, Coefficients, MorphableModel, canonical_origin
from photoface.facemodel.procedural import build_procedural_model, builtin_model

__all__ = [
    "MorphableModel",
    "Coefficients",
    "IBUG_MIRROR",
    "canonical_origin",
    "load_model",
    "save_model",
    "model_hash",
    "builtin_model",
    "build_procedural_model",
]
