"""photoface.facemodel: linear morphable face models.

``MorphableModel`` (the in-memory model), ``load_model``/``save_model`` (the .npz format of
ARCHITECTURE.md), ``builtin_model``/``build_procedural_model`` (the embedded procedural face),
``model_hash``, ``load_face_model`` (the one parser of ``builtin:demo`` / ``builtin:paper`` / file
specs, see ``spec``), and the importers in ``bfm`` and ``ict``.
"""

from photoface.facemodel.io import load_model, model_hash, save_model
from photoface.facemodel.model import IBUG_MIRROR, Coefficients, MorphableModel, canonical_origin
from photoface.facemodel.procedural import build_procedural_model, builtin_model
from photoface.facemodel.spec import face_model_name, hash_mismatch_advice, load_face_model

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
    "load_face_model",
    "face_model_name",
    "hash_mismatch_advice",
]
