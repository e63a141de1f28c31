"""FLAME's files in their on-disk formats, written from the tests' tiny face model.

``write_flame_files`` turns ``tiny_face_model`` into a FLAME-like head: the tiny face in front,
a flat sheet as the back of the head, five joints (global, neck, jaw, eyes) with the chin and
lower lip skinned to the jaw, 300 + 100 smooth ``shapedirs`` components, pose correctives, in
metres. The files are byte-for-byte what Python 2 wrote for the real ones, as far as a reader can
tell: protocol 2, chumpy ``Ch`` objects as ``copyreg.__newobj__(chumpy.ch.Ch)`` + a BUILD of
their ``__getstate__`` dict (``x`` holds the array), numpy arrays through
``numpy.core.multiarray._reconstruct`` with latin-1 strings as data, and ``J_regressor`` a
``scipy.sparse.csc.csc_matrix``. Embeddings: DECA's ``landmark_embedding.npy`` (its dynamic
contour as torch tensors, as in DECA's file) and RingNet's ``flame_static_embedding.pkl`` +
``flame_dynamic_embedding.npy``; ``FLAME_masks.pkl``.
"""

from __future__ import annotations

import copyreg
import io
import pickle
from pathlib import Path

import numpy as np
import scipy.sparse
import torch

from support.runs import tiny_face_model

OFFSET_MM = np.array([0.0, -30.0, -20.0])  # FLAME's origin is not at the nose
BACK_Z_MM = -100.0
JAW_TOP_MM = -30.0  # the front vertices below this follow the jaw (fully from 20 mm lower)
EYE_RADIUS_MM = 6.0
RENAMES = {
    b"csupport.flame_files\nCh\n": b"cchumpy.ch\nCh\n",
    b"csupport.flame_files\nadd\n": b"cchumpy.ch_ops\nadd\n",
    b"cnumpy._core.multiarray\n_reconstruct\n": b"cnumpy.core.multiarray\n_reconstruct\n",
    b"cscipy.sparse._csc\ncsc_matrix\n": b"cscipy.sparse.csc\ncsc_matrix\n",
}


class Ch:
    """Pickles exactly as a chumpy ``Ch`` holding ``x`` (renamed to chumpy.ch.Ch by ``py2_pickle``)."""

    def __init__(self, x):
        self.__dict__.update(x=np.asarray(x), _dirty_vars=set(), _itr=None, _depends_on_deps={},
                             _make_dense=False, _make_sparse=False)

    def __reduce_ex__(self, protocol):
        return copyreg.__newobj__, (type(self),), dict(self.__dict__)


class add:  # noqa: N801  (chumpy's own class name)
    """Pickles as a lazy chumpy expression ``chumpy.ch_ops.add(a, b)``: its state holds the operands,
    no ``x`` (some hand-converted FLAME files store such expressions instead of arrays)."""

    def __init__(self, a, b):
        self.__dict__.update(a=Ch(a), b=Ch(b), _dirty_vars=set(), _itr=None, _depends_on_deps={})

    def __reduce_ex__(self, protocol):
        return copyreg.__newobj__, (type(self),), dict(self.__dict__)


class _Py2Pickler(pickle.Pickler):
    """numpy arrays as Python 2 pickled them: their data as a (latin-1) string."""

    def reducer_override(self, obj):
        if type(obj) is np.ndarray and obj.dtype != object:
            fn, args, state = obj.__reduce__()
            version, shape, dtype, fortran, raw = state
            return fn, (args[0], args[1], "b"), (version, shape, dtype, fortran, raw.decode("latin1"))
        return NotImplemented


def py2_pickle(obj) -> bytes:
    buf = io.BytesIO()
    _Py2Pickler(buf, protocol=2).dump(obj)
    data = buf.getvalue()
    for old, new in RENAMES.items():
        data = data.replace(old, new)
    return data


def _head(model, eyeballs: bool = False):
    """(V, 3) mm vertices, (F, 3) faces, the front's vertex count and the eyeballs' vertex ranges:
    the tiny face, a flat back sheet (reversed) and, with ``eyeballs``, two closed octahedra of
    radius EYE_RADIUS_MM behind the eye landmarks (left = the subject's, +x), as FLAME has."""
    front = model.mean.double().numpy()
    back = front.copy()
    back[:, 2] = BACK_Z_MM
    faces = model.faces.numpy()
    n = len(front)
    verts, tris, eyes = [front, back], [faces, faces[:, ::-1] + n], {}
    if eyeballs:
        lm = model.landmarks68.numpy()
        octa = np.array([[1, 0, 0], [-1, 0, 0], [0, 1, 0], [0, -1, 0], [0, 0, 1], [0, 0, -1]], float)
        octa_f = np.array([[0, 2, 4], [2, 1, 4], [1, 3, 4], [3, 0, 4], [2, 0, 5], [1, 2, 5], [3, 1, 5], [0, 3, 5]])
        start = 2 * n
        for name, ring in (("right_eyeball", lm[36:42]), ("left_eyeball", lm[42:48])):
            centre = front[ring].mean(0) - np.array([0.0, 0.0, 12.0])
            verts.append(centre + EYE_RADIUS_MM * octa)
            tris.append(octa_f + start)
            eyes[name] = np.arange(start, start + 6)
            start += 6
    return np.concatenate(verts), np.concatenate(tris), n, eyes


def _smooth_fields(xy: np.ndarray, k: int, amp: np.ndarray, rng) -> np.ndarray:
    """(V, 3, k) smooth displacement fields over the x-y positions, column c scaled by amp[c] mm."""
    freq = rng.uniform(0.5, 2.5, size=(k, 2, 3))
    phase = rng.uniform(0, 6, size=(k, 3))
    direction = rng.normal(size=(k, 3)) * np.array([0.4, 0.4, 1.0])
    out = np.zeros((len(xy), 3, k))
    for c in range(k):
        f = sum(np.cos(freq[c, 0, i] * xy[:, 0] / 40 + phase[c, i]) * np.cos(freq[c, 1, i] * xy[:, 1] / 50)
                for i in range(3))
        out[:, :, c] = amp[c] * f[:, None] * direction[c][None]
    return out


def flame_arrays(seed: int = 0, jaw: bool = True, eyeballs: bool = False) -> dict:
    """The arrays of a FLAME-like head (module docstring), metres, plus its landmark triangles
    and (``eyeballs``) the eyeball vertex indices under ``eyeball_vertices``."""
    model = tiny_face_model(seed)
    verts, faces, n_front, eyes = _head(model, eyeballs)
    rng = np.random.default_rng(seed)
    k = np.arange(400)
    amp = np.where(k < 300, 2.0, 1.0) / (1 + (k % 300) / 8)
    shapedirs = _smooth_fields(verts[:, :2], 400, amp, rng)
    posedirs = _smooth_fields(verts[:, :2], 36, np.full(36, 0.5), rng)
    y = verts[:, 1]
    w_jaw = np.where(np.arange(len(verts)) < n_front, np.clip((JAW_TOP_MM - y) / 20.0, 0, 1), 0.0)
    weights = np.zeros((len(verts), 5))
    weights[:, 2] = w_jaw if jaw else 0.0
    weights[:, 1] = 1 - weights[:, 2]
    lm = model.landmarks68.numpy()

    def vertex_at(x, yy, back=False):
        p = np.array([x, yy])
        rows = np.arange(n_front, 2 * n_front) if back else np.arange(n_front)
        return rows[np.argmin(((verts[rows, :2] - p) ** 2).sum(1))]

    reg = np.zeros((5, len(verts)))
    reg[0, [vertex_at(0, -100), vertex_at(0, -100, back=True)]] = 0.5
    reg[1, [vertex_at(0, -60), vertex_at(0, -60, back=True)]] = 0.5
    reg[2, [vertex_at(0, -5), vertex_at(0, -5, back=True)]] = 0.5
    reg[3, lm[36:42]] = 1 / 6
    reg[4, lm[42:48]] = 1 / 6
    # each landmark inside a triangle at its vertex, a few exactly on it (as some real ones are)
    face_idx, bary = np.zeros(68, np.int64), np.zeros((68, 3))
    for i, v in enumerate(lm):
        f = int(np.flatnonzero((faces == v).any(axis=1))[0])
        corner = int(np.flatnonzero(faces[f] == v)[0])
        b = np.full(3, 0.2)
        b[corner] = 1.0 if i % 17 == 0 else 0.6
        b /= b.sum()
        face_idx[i], bary[i] = f, b
    return {
        "v_template": (verts + OFFSET_MM) / 1000.0, "f": faces.astype(np.uint32),
        "shapedirs": shapedirs / 1000.0, "posedirs": posedirs / 1000.0,
        "J_regressor": scipy.sparse.csc_matrix(reg), "weights": weights,
        "kintree_table": np.array([[4294967295, 0, 1, 1, 1], [0, 1, 2, 3, 4]], dtype=np.int64),
        "lmk_faces_idx": face_idx, "lmk_bary_coords": bary, "n_front": n_front, "eyeball_vertices": eyes,
    }


def write_flame_files(folder, seed: int = 0, name: str = "generic_model.pkl", jaw: bool = True,
                      plain_shapedirs: bool = False, embedding: str = "deca", masks: bool = True,
                      eyeballs: bool = False) -> dict:
    """Write a FLAME pickle, an embedding (``deca`` or ``ringnet``) and FLAME_masks.pkl to ``folder``
    (``eyeballs``: the head has eyeballs, and the masks their ``left_eyeball`` / ``right_eyeball``
    regions, outside ``face`` as in FLAME's file).

    Returns the arrays (``flame_arrays``) and the written paths under ``model``, ``landmarks``,
    ``masks``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    a = flame_arrays(seed, jaw, eyeballs)
    j = a["J_regressor"] @ a["v_template"]
    model = {
        "f": a["f"], "J_regressor": a["J_regressor"], "kintree_table": a["kintree_table"],
        "v_template": Ch(a["v_template"]), "weights": Ch(a["weights"]), "posedirs": Ch(a["posedirs"]),
        "shapedirs": a["shapedirs"] if plain_shapedirs else Ch(a["shapedirs"]), "J": Ch(j),
        "bs_style": "lbs", "bs_type": "lrotmin",
    }
    paths = {"model": folder / name}
    paths["model"].write_bytes(py2_pickle(model))
    f, b = a["lmk_faces_idx"], a["lmk_bary_coords"]
    yaws = 79
    if embedding == "deca":
        emb = {
            "static_lmk_faces_idx": f[17:], "static_lmk_bary_coords": b[17:],
            "dynamic_lmk_faces_idx": torch.as_tensor(np.tile(f[:17], (yaws, 1))),
            "dynamic_lmk_bary_coords": torch.as_tensor(np.tile(b[:17], (yaws, 1, 1))),
            "full_lmk_faces_idx": f[None], "full_lmk_bary_coords": b[None],
        }
        paths["landmarks"] = folder / "landmark_embedding.npy"
        np.save(paths["landmarks"], np.array(emb, dtype=object), allow_pickle=True)
    else:
        paths["landmarks"] = folder / "flame_static_embedding.pkl"
        paths["landmarks"].write_bytes(py2_pickle({"lmk_face_idx": f[17:].astype(np.uint32), "lmk_b_coords": b[17:]}))
        # the contour at other yaws is shifted, so that reading the wrong entry would show
        dyn_f = np.tile(f[:17], (yaws, 1))
        dyn_f[1:] = (dyn_f[1:] + 1) % len(a["f"])
        dyn = {"lmk_face_idx": dyn_f, "lmk_b_coords": np.tile(b[:17], (yaws, 1, 1))}
        np.save(folder / "flame_dynamic_embedding.npy", np.array(dyn, dtype=object), allow_pickle=True)
    if masks:
        n = a["n_front"]
        front_y = a["v_template"][:n, 1] * 1000 - OFFSET_MM[1]
        named = {
            "face": np.flatnonzero(front_y > -95).astype(np.int64),
            "nose": np.flatnonzero(np.abs(a["v_template"][:n, 0] * 1000) < 8).astype(np.int64),
            "scalp": np.arange(n, 2 * n, dtype=np.int64),
            **{k: v.astype(np.int64) for k, v in a["eyeball_vertices"].items()},
        }
        paths["masks"] = folder / "FLAME_masks.pkl"
        paths["masks"].write_bytes(py2_pickle(named))
    return {**a, **paths}
