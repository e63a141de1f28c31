"""Reading FLAME's own files without chumpy: the model pickle, landmark embeddings, region masks.

FLAME 2020 (``generic_model.pkl``, ``female_model.pkl``, ``male_model.pkl``) and FLAME 2023
(``flame2023.pkl``, ``flame2023_no_jaw.pkl``) are Python-2 pickles (protocol 2) of a dict whose
arrays are partly chumpy objects. A chumpy ``Ch`` has no ``__reduce__`` of its own, so protocol 2
stores it as ``copyreg.__newobj__(chumpy.ch.Ch)`` followed by a BUILD of its ``__getstate__``
dict, whose ``'x'`` entry is the plain numpy array (the other entries are chumpy's bookkeeping:
``_dirty_vars``, ``_itr``, ``_depends_on_deps``, ``_make_dense``, ``_make_sparse``).
``J_regressor`` is a ``scipy.sparse.csc.csc_matrix`` (a module path that scipy keeps only as a
deprecated alias). chumpy does not install on current numpy and Python, so we never import it:
``_Unpickler`` maps every ``chumpy.*`` class to ``_ChumpyStandIn``, which keeps the state dict,
and ``_plain`` turns it into the array in ``'x'``. A chumpy object without ``'x'`` (a lazy
expression such as ``chumpy.ch_ops.add``) cannot be evaluated without chumpy: it is an error that
names the key, not a guess.

The unpickler is restricted: it resolves only numpy's array and dtype reconstruction, scipy's
sparse matrices, a few builtins, and (for DECA's embedding, which holds torch tensors) torch's
tensor rebuild functions, which are mapped to a stand-in too and never run. Any other global
raises an error, so a FLAME file cannot run code.

Landmark embeddings (68 iBUG landmarks as triangle ids + barycentric coordinates on the FLAME
mesh; the 17 jaw-contour points first, then the 51 inner points):

- DECA's ``landmark_embedding.npy``: a 0-d object array holding a dict with
  ``static_lmk_faces_idx`` (51,), ``static_lmk_bary_coords`` (51, 3), ``dynamic_lmk_faces_idx``
  (79, 17) and ``dynamic_lmk_bary_coords`` (79, 17, 3) (torch tensors in DECA's file: one contour
  per head yaw), ``full_lmk_faces_idx`` (1, 68) and ``full_lmk_bary_coords`` (1, 68, 3). We read the
  ``full_*`` pair: the 68 landmarks of a frontal face.
- RingNet's ``flame_static_embedding.pkl`` (dict: ``lmk_face_idx`` (51,), ``lmk_b_coords``
  (51, 3)) with ``flame_dynamic_embedding.npy`` (0-d object array of a dict with the same keys,
  (79, 17) and (79, 17, 3)): the contour is the dynamic entry 0 (head yaw 0°).

``FLAME_masks.pkl``: a dict of region name → vertex indices (``face``, ``nose``, ``lips``,
``left_eyeball``, ...).
"""

from __future__ import annotations

import pickle
import warnings
import zipfile
from pathlib import Path

import numpy as np
import scipy.sparse

from photoface.errors import InputFileError

MODEL_KEYS = ("v_template", "shapedirs", "posedirs", "J_regressor", "weights", "kintree_table", "f")


class _ChumpyStandIn:
    """What a chumpy object unpickles to here: the class name and its ``__getstate__`` dict."""

    state: dict = {}

    def __init__(self, *args, **kwargs):
        self.state = {}

    @property
    def kind(self) -> str:
        return type(self).__name__

    def __setstate__(self, state):
        self.state = state if isinstance(state, dict) else {"state": state}


class _UnusedTensor:
    """DECA's embedding stores its dynamic contour as torch tensors; we never need them."""

    def __init__(self, *args, **kwargs):
        pass


def _unused_tensor(*args, **kwargs) -> _UnusedTensor:
    return _UnusedTensor()


_NUMPY = {
    ("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.multiarray", "scalar"), ("numpy._core.multiarray", "scalar"),
    ("numpy", "ndarray"), ("numpy", "dtype"),
}
_BUILTINS = {"set", "frozenset", "object", "list", "dict", "tuple", "bytearray", "complex"}


class _Unpickler(pickle.Unpickler):
    """Resolves only the globals a FLAME file needs (module docstring)."""

    def find_class(self, module: str, name: str):
        if module.split(".")[0] == "chumpy":
            return type(name, (_ChumpyStandIn,), {})
        if (module, name) in _NUMPY:
            return super().find_class(module.replace("numpy.core.", "numpy._core."), name)
        if module.startswith("scipy.sparse") and name.endswith(("_matrix", "_array")):
            return getattr(scipy.sparse, name)
        if module in ("builtins", "__builtin__", "copy_reg", "copyreg") and (
            name in _BUILTINS or name in ("_reconstructor", "__newobj__")
        ):
            return super().find_class(module, name)
        if (module, name) in (("_codecs", "encode"), ("collections", "OrderedDict")):
            return super().find_class(module, name)
        if module.startswith("torch"):
            return _unused_tensor if name[:1].islower() else _UnusedTensor
        raise pickle.UnpicklingError(f"refusing to load the global {module}.{name}")

    def persistent_load(self, pid):
        return _UnusedTensor()


def _unpickle(fh, path):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            return _Unpickler(fh, encoding="latin1").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError, IndexError,
            KeyError, ImportError) as exc:
        raise InputFileError(path, f"not a readable FLAME pickle ({exc})") from None


def load_pickle(path):
    """Unpickle a FLAME-related ``.pkl`` with the restricted unpickler."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    with path.open("rb") as fh:
        return _unpickle(fh, path)


def load_npy_object(path):
    """The object inside a pickled 0-d ``.npy`` (a dict, for the embeddings)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    with path.open("rb") as fh:
        try:
            version = np.lib.format.read_magic(fh)
            header = (np.lib.format.read_array_header_1_0 if version == (1, 0)
                      else np.lib.format.read_array_header_2_0)(fh)
        except (ValueError, OSError, zipfile.BadZipFile) as exc:
            raise InputFileError(path, f"not a .npy file ({exc})") from None
        if header[2] != np.dtype(object):
            raise InputFileError(path, f"expected a pickled dict inside the .npy, found dtype {header[2]}")
        obj = _unpickle(fh, path)
    if isinstance(obj, np.ndarray) and obj.dtype == object and obj.size == 1:
        obj = obj.reshape(-1)[0]
    return obj


def _plain(value, key: str, path):
    """A numpy array (or sparse matrix) from whatever a FLAME pickle stores under ``key``."""
    if isinstance(value, _ChumpyStandIn):
        if "x" not in value.state:
            raise InputFileError(path, f"key '{key}' is a chumpy {value.kind} expression, not a stored "
                                       "array; convert the file with chumpy (ch.r) first")
        value = value.state["x"]
    if scipy.sparse.issparse(value):
        return value
    if isinstance(value, _UnusedTensor):
        raise InputFileError(path, f"key '{key}' holds a torch tensor, which photoface does not read")
    try:
        return np.asarray(value)
    except (TypeError, ValueError) as exc:
        raise InputFileError(path, f"key '{key}' is not an array ({exc})") from None


def read_flame_model(path) -> dict[str, np.ndarray]:
    """The arrays of a FLAME model pickle, as numpy (``J_regressor`` dense, float64).

    Returns ``v_template`` (V, 3) metres, ``shapedirs`` (V, 3, S), ``posedirs`` (V, 3, P),
    ``J_regressor`` (J, V), ``weights`` (V, J), ``kintree_table`` (2, J), ``f`` (F, 3).
    """
    raw = load_pickle(path)
    if not isinstance(raw, dict):
        raise InputFileError(path, f"expected a pickled dict, found {type(raw).__name__}")
    out = {}
    for key in MODEL_KEYS:
        if key not in raw:
            raise InputFileError(path, f"key '{key}' missing: not a FLAME model file")
        a = _plain(raw[key], key, path)
        out[key] = np.asarray(a.toarray() if scipy.sparse.issparse(a) else a)
    v = out["v_template"].shape[0] if out["v_template"].ndim == 2 else -1
    j = out["kintree_table"].shape[-1] if out["kintree_table"].ndim == 2 else -1
    expect = {"v_template": (v, 3), "shapedirs": (v, 3, None), "posedirs": (v, 3, None),
              "J_regressor": (j, v), "weights": (v, j), "kintree_table": (2, j), "f": (None, 3)}
    for key, shape in expect.items():
        a = out[key]
        if v < 3 or j < 1 or a.ndim != len(shape) or any(s is not None and s != d for s, d in zip(shape, a.shape)):
            want = tuple("*" if s is None else s for s in shape)
            raise InputFileError(path, f"key '{key}': expected shape {want}, found {a.shape}")
        if a.dtype.kind not in "fiu" or (a.dtype.kind == "f" and not np.isfinite(a).all()):
            raise InputFileError(path, f"key '{key}': expected finite numbers, found dtype {a.dtype}")
    f = out["f"].astype(np.int64)
    if f.min() < 0 or f.max() >= v:
        raise InputFileError(path, f"key 'f': vertex indices must lie in [0, {v})")
    out["f"] = f
    out["kintree_table"] = out["kintree_table"].astype(np.int64)
    for key in ("v_template", "shapedirs", "posedirs", "J_regressor", "weights"):
        out[key] = out[key].astype(np.float64)
    return out


def _embedding_arrays(faces_idx, bary, n: int, path, what: str) -> tuple[np.ndarray, np.ndarray]:
    f = np.asarray(faces_idx).reshape(-1)
    b = np.asarray(bary, dtype=np.float64).reshape(-1, 3)
    if f.shape != (n,) or b.shape != (n, 3):
        raise InputFileError(path, f"{what}: expected {n} triangle ids and ({n}, 3) barycentric "
                                   f"coordinates, found {f.shape} and {b.shape}")
    if not np.isfinite(b).all() or np.abs(b.sum(axis=1) - 1).max() > 1e-3:
        raise InputFileError(path, f"{what}: barycentric coordinates must be finite and sum to 1")
    return f.astype(np.int64), b


def read_landmark_embedding(path, dynamic=None) -> tuple[np.ndarray, np.ndarray]:
    """68 landmarks of the frontal face as (68,) triangle ids and (68, 3) barycentric coordinates.

    Args:
        path: DECA's ``landmark_embedding.npy``, or RingNet's ``flame_static_embedding.pkl``.
        dynamic: with the static ``.pkl``, its ``flame_dynamic_embedding.npy`` (default: looked
            for next to it).
    """
    path = Path(path)
    obj = load_pickle(path) if path.suffix == ".pkl" else load_npy_object(path)
    if not isinstance(obj, dict):
        raise InputFileError(path, f"expected a dict of landmark arrays, found {type(obj).__name__}")
    if "full_lmk_faces_idx" in obj:
        if "full_lmk_bary_coords" not in obj:
            raise InputFileError(path, "key 'full_lmk_bary_coords' missing")
        return _embedding_arrays(obj["full_lmk_faces_idx"], obj["full_lmk_bary_coords"], 68, path,
                                 "full_lmk_faces_idx / full_lmk_bary_coords")
    if "lmk_face_idx" not in obj or "lmk_b_coords" not in obj:
        raise InputFileError(path, "neither DECA's 'full_lmk_faces_idx' nor RingNet's 'lmk_face_idx' / "
                                   "'lmk_b_coords': not a FLAME landmark embedding")
    inner_f, inner_b = _embedding_arrays(obj["lmk_face_idx"], obj["lmk_b_coords"], 51, path,
                                         "lmk_face_idx / lmk_b_coords")
    dyn_path = Path(dynamic) if dynamic is not None else path.with_name("flame_dynamic_embedding.npy")
    if not dyn_path.is_file():
        raise InputFileError(dyn_path, "the static embedding has 51 landmarks; the 17 of the jaw contour "
                                       "come from flame_dynamic_embedding.npy, which is missing")
    dyn = load_npy_object(dyn_path)
    if not isinstance(dyn, dict) or "lmk_face_idx" not in dyn or "lmk_b_coords" not in dyn:
        raise InputFileError(dyn_path, "expected a dict with 'lmk_face_idx' and 'lmk_b_coords'")
    dyn_f, dyn_b = np.asarray(dyn["lmk_face_idx"]), np.asarray(dyn["lmk_b_coords"])
    if dyn_f.ndim != 2 or dyn_b.ndim != 3:
        raise InputFileError(dyn_path, f"expected (yaws, 17) ids and (yaws, 17, 3) coordinates, found "
                                       f"{dyn_f.shape} and {dyn_b.shape}")
    contour_f, contour_b = _embedding_arrays(dyn_f[0], dyn_b[0], 17, dyn_path, "contour at yaw 0")
    return np.concatenate([contour_f, inner_f]), np.concatenate([contour_b, inner_b])


def read_masks(path) -> dict[str, np.ndarray]:
    """``FLAME_masks.pkl``: region name -> (n,) int64 vertex indices."""
    obj = load_pickle(path)
    if not isinstance(obj, dict) or "face" not in obj:
        raise InputFileError(path, "expected a dict of vertex-index arrays with a 'face' entry")
    out = {}
    for name, idx in obj.items():
        a = np.asarray(_plain(idx, str(name), path)).reshape(-1)
        if a.size and (a.dtype.kind not in "iu" or a.min() < 0):
            raise InputFileError(path, f"mask '{name}': expected non-negative vertex indices")
        out[str(name)] = a.astype(np.int64)
    return out
