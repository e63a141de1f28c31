"""Reading and writing face-model files (``.npz``), and the model hash.

The format is ARCHITECTURE.md "Face model file": ``mean`` (V,3) float32 mm; ``id_basis`` (K,V,3),
``exp_basis`` (L,V,3), ``tex_mean`` (V,3) in [0,1], ``tex_basis`` (M,V,3) float32; ``faces`` (F,3)
int32, counter-clockwise seen from outside; ``landmarks68`` (68,) and ``mirror`` (V,) int32 vertex
indices; ``region_<name>`` int32 vertex-index arrays; ``name``, ``source``, ``license`` and
``exp_kind`` ("pca" | "blendshape") as 0-d unicode arrays. Two optional keys extend the format:
``exp_names`` (L,) unicode, a label per expression (e.g. ARKit blendshape names); files without
it load with generated labels. ``exp_bounds`` (L, 2) float32, the [lower, upper] range of each
expression coefficient (±inf: unbounded; 0 must lie inside), written only when the model states
its own (FLAME's jaw opening); files without it get the bounds of their ``exp_kind``, as before
the key existed, and their hash does not change. Files are read with
``allow_pickle=False``, so a model file cannot run code.

Validation covers every key: presence, dtype kind, shape and agreement of V between arrays,
finiteness, index ranges, the mirror map being an involution, and strings. Triangle winding cannot
be checked without knowing the surface's outside, so it is not. Each problem raises one
InputFileError that names the file and the offending key.
"""

from __future__ import annotations

import hashlib
import zipfile
from pathlib import Path

import numpy as np

from photoface.atomic import write_atomic
from photoface.errors import InputFileError
from photoface.facemodel.model import EXP_KINDS, MorphableModel, validate_exp_bounds

FLOAT_KEYS = ("mean", "id_basis", "exp_basis", "tex_mean", "tex_basis")
INDEX_KEYS = ("faces", "landmarks68", "mirror")
STRING_KEYS = ("name", "source", "license", "exp_kind")


def model_arrays(model: MorphableModel) -> dict[str, np.ndarray]:
    """The model as the arrays of the file format (float32 / int32 / 0-d unicode)."""
    out: dict[str, np.ndarray] = {}
    for k in FLOAT_KEYS:
        out[k] = getattr(model, k).detach().cpu().numpy().astype(np.float32)
    for k in INDEX_KEYS:
        out[k] = getattr(model, k).detach().cpu().numpy().astype(np.int32)
    for name, idx in model.regions.items():
        out[f"region_{name}"] = idx.detach().cpu().numpy().astype(np.int32)
    for k in STRING_KEYS:
        out[k] = np.array(str(getattr(model, k)))
    out["exp_names"] = np.array(list(model.exp_names), dtype=np.str_).reshape(-1)
    if model.own_exp_bounds is not None:
        out["exp_bounds"] = model.own_exp_bounds.detach().cpu().numpy().astype(np.float32)
    return out


def save_model(model: MorphableModel, path) -> Path:
    """Write ``model`` to ``path`` (.npz), atomically: a reader never sees a half-written file."""
    arrays = model_arrays(model)
    return write_atomic(path, lambda fh: np.savez(fh, **arrays))


def load_model(path) -> MorphableModel:
    """Read and validate a face-model file; raises InputFileError naming the key at fault."""
    arrays = read_model_arrays(path)
    regions = {k[len("region_"):]: v for k, v in arrays.items() if k.startswith("region_")}
    return MorphableModel(
        arrays["mean"], arrays["id_basis"], arrays["exp_basis"], arrays["tex_mean"],
        arrays["tex_basis"], arrays["faces"], arrays["landmarks68"], arrays["mirror"], regions,
        name=str(arrays["name"]), source=str(arrays["source"]), license=str(arrays["license"]),
        exp_kind=str(arrays["exp_kind"]),
        exp_names=[str(n) for n in arrays["exp_names"]] if "exp_names" in arrays else None,
        exp_bounds=arrays.get("exp_bounds"),
    )


def read_model_arrays(path) -> dict[str, np.ndarray]:
    """The validated arrays of a face-model file (see module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such face-model file")
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as exc:
        raise InputFileError(path, f"not a readable .npz face-model file ({exc})") from None
    validate_arrays(arrays, path)
    return arrays


def validate_arrays(arrays: dict[str, np.ndarray], path) -> None:
    """Raise InputFileError(path, ...) naming the first key that breaks the format."""

    def bad(key: str, problem: str):
        raise InputFileError(path, f"key '{key}': {problem}")

    for key in FLOAT_KEYS + INDEX_KEYS + STRING_KEYS:
        if key not in arrays:
            bad(key, "missing")
    for key in FLOAT_KEYS:
        a = arrays[key]
        if a.dtype.kind != "f":
            bad(key, f"expected floating-point values, got dtype {a.dtype}")
        if not np.isfinite(a).all():
            bad(key, "contains NaN or infinite values")
    mean = arrays["mean"]
    if mean.ndim != 2 or mean.shape[1] != 3 or mean.shape[0] < 3:
        bad("mean", f"expected shape (V, 3) with V >= 3, got {mean.shape}")
    v = mean.shape[0]
    for key in ("id_basis", "exp_basis", "tex_basis"):
        a = arrays[key]
        if a.ndim != 3 or a.shape[1:] != (v, 3):
            bad(key, f"expected shape (K, {v}, 3), got {a.shape}")
    if arrays["tex_mean"].shape != (v, 3):
        bad("tex_mean", f"expected shape ({v}, 3), got {arrays['tex_mean'].shape}")
    tm = arrays["tex_mean"]
    if tm.min() < -1e-3 or tm.max() > 1 + 1e-3:
        bad("tex_mean", f"values must lie in [0, 1], found [{tm.min():.3g}, {tm.max():.3g}]")

    for key, shape in (("faces", (None, 3)), ("landmarks68", (68,)), ("mirror", (v,))):
        a = arrays[key]
        if a.dtype.kind not in "iu":
            bad(key, f"expected integer indices, got dtype {a.dtype}")
        if a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
            want = tuple("F" if s is None else s for s in shape)
            bad(key, f"expected shape {want}, got {a.shape}")
        if a.size and (a.min() < 0 or a.max() >= v):
            bad(key, f"indices must lie in [0, {v}), found [{a.min()}, {a.max()}]")
    if arrays["faces"].shape[0] == 0:
        bad("faces", "no triangles")
    if len(np.unique(arrays["landmarks68"])) != 68:
        bad("landmarks68", "the 68 landmark vertices are not distinct")
    mirror = arrays["mirror"].astype(np.int64)
    if not np.array_equal(mirror[mirror], np.arange(v)):
        bad("mirror", "not an involution (mirror[mirror[v]] != v for some vertex)")

    for key, a in arrays.items():
        if key.startswith("region_"):
            if a.dtype.kind not in "iu" or a.ndim != 1:
                bad(key, f"expected a 1-D integer array, got dtype {a.dtype} shape {a.shape}")
            if a.size and (a.min() < 0 or a.max() >= v):
                bad(key, f"indices must lie in [0, {v})")
        elif key == "exp_names":
            if a.dtype.kind != "U" or a.shape != (arrays["exp_basis"].shape[0],):
                bad(key, f"expected {arrays['exp_basis'].shape[0]} strings, got dtype {a.dtype} shape {a.shape}")
        elif key == "exp_bounds":
            problem = validate_exp_bounds(a, arrays["exp_basis"].shape[0])
            if problem:
                bad(key, problem)
        elif key not in FLOAT_KEYS + INDEX_KEYS + STRING_KEYS:
            bad(key, "unknown key (expected the keys of the face-model format)")
    for key in STRING_KEYS:
        a = arrays[key]
        if a.dtype.kind != "U" or a.ndim != 0:
            bad(key, f"expected a string, got dtype {a.dtype} shape {a.shape}")
    if str(arrays["exp_kind"]) not in EXP_KINDS:
        bad("exp_kind", f"must be one of {EXP_KINDS}, got {str(arrays['exp_kind'])!r}")


def model_hash(model: MorphableModel) -> str:
    """SHA-256 (hex) of everything that defines the model's geometry and appearance.

    Hashes the arrays in the file format's dtypes, sorted by key, with their shapes and the
    exp_kind; the free-text ``name``/``source``/``license`` are left out, so renaming a model does
    not invalidate checkpoints or datasets made with it.
    """
    arrays = model_arrays(model)
    h = hashlib.sha256()
    for key in sorted(arrays):
        if key in ("name", "source", "license"):
            continue
        a = np.ascontiguousarray(arrays[key])
        h.update(key.encode())
        h.update(str(a.shape).encode())
        h.update(a.dtype.str.encode())
        h.update(a.tobytes() if a.dtype.kind != "U" else str(a).encode())
    return h.hexdigest()
