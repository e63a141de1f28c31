"""Face-model source files in the on-disk layouts users download, written from a MorphableModel.

``write_ict_folder`` writes an ICT-FaceKit ``FaceXModel`` folder (centimetres, quads where the
mesh has them, one OBJ per identity mode and per ARKit-named expression, ``vertex_indices.json``,
no albedo); ``write_bfm_files`` writes BFM 2009's ``01_MorphableModel.mat`` (micrometres, unit
PCA columns + standard deviations, 1-based triangles) with Guo et al.'s ``Exp_Pca.bin``,
``std_exp.txt`` and the 3DDFA trim list ``BFM_exp_idx.mat`` next to it. Both are what the
importers read, so an import of them must give the source model back (up to orientation, crop
and the importers' own choices).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from scipy.io import savemat

ARKIT_NAMES = ("jawOpen", "eyeBlink_L", "eyeBlink_R", "mouthSmile_L", "mouthSmile_R", "browInnerUp",
               "mouthFunnel", "cheekPuff")


def unit_columns(basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(K, V, 3) -> (3V, K) unit columns and (K,) norms, the way PCA files store a basis."""
    flat = basis.reshape(basis.shape[0], -1).T.astype(np.float64)
    norms = np.linalg.norm(flat, axis=0)
    return flat / norms, norms


def write_obj(path, verts, faces=None, quads=None) -> None:
    """An OBJ with ``v`` records, one ``vt`` and ``f`` records (1-based, ``v/vt`` for triangles)."""
    lines = [f"v {x:.6f} {y:.6f} {z:.6f}" for x, y, z in verts]
    lines += ["vt 0.5 0.5"]
    if faces is not None:
        lines += [f"f {a + 1}/1 {b + 1}/1 {c + 1}/1" for a, b, c in faces]
    if quads is not None:
        lines += ["f " + " ".join(f"{i + 1}" for i in q) for q in quads]
    Path(path).write_text("\n".join(lines) + "\n")


def _quads(faces: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Merge triangle pairs (a, b, d), (b, e, d) into quads (a, b, e, d), as ICT's mesh has them;
    triangles that do not pair up stay triangles. Returns (quads (Q, 4), triangles (T, 3))."""
    quads, used = [], np.zeros(len(faces), bool)
    for i in range(len(faces) - 1):
        (a, b, d), (b2, e, d2) = faces[i], faces[i + 1]
        if not used[i] and b == b2 and d == d2:
            quads.append((a, b, e, d))
            used[i] = used[i + 1] = True
    return np.asarray(quads, np.int64).reshape(-1, 4), faces[~used]


def write_ict_folder(model, folder, offset_cm=(0.3, 16.0, 2.0)) -> Path:
    """Write ``model`` as an ICT-FaceKit FaceXModel folder (no albedo, expressions at weight 1)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    cm = model.mean.double().numpy() / 10.0 + np.asarray(offset_cm)
    quads, tris = _quads(model.faces.numpy())
    write_obj(folder / "generic_neutral_mesh.obj", cm, faces=tris, quads=quads)
    for k in range(model.n_id):
        write_obj(folder / f"identity{k:03d}.obj", cm + model.id_basis[k].double().numpy() / 10.0)
    names = [ARKIT_NAMES[k] if k < len(ARKIT_NAMES) else f"shape{k:02d}" for k in range(model.n_exp)]
    for k, name in enumerate(names):
        write_obj(folder / f"{name}.obj", cm + model.exp_basis[k].double().numpy() / 10.0)
    (folder / "vertex_indices.json").write_text(json.dumps(
        {"expressions": names, "idx_to_landmark_verts": model.landmarks68.tolist()}))
    return folder


def write_bfm_files(model, folder, trim_first: int = 25) -> Path:
    """Write ``model`` as BFM 2009 + Exp_Pca.bin (its expression basis as PCA), return the .mat.

    The trimmed model of the expression basis drops the first ``trim_first`` vertices (3DDFA's
    53,215 of 53,490); its 68 keypoints are 1-based indices of the trimmed model, as in
    ``BFM_exp_idx.mat``.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    mean = model.mean.double().numpy()
    n = len(mean)
    shape_pc, shape_ev = unit_columns(model.id_basis.double().numpy())
    tex = model.tex_basis.double().numpy()
    tex_pc, tex_ev = unit_columns(tex * 255.0) if len(tex) else (np.zeros((3 * n, 0)), np.zeros(0))
    bfm = folder / "01_MorphableModel.mat"
    savemat(bfm, {
        "shapeMU": ((mean + [5.0, -3.0, 80.0]) * 1000.0).reshape(-1, 1).astype(np.float32),
        "shapePC": shape_pc.astype(np.float32), "shapeEV": (shape_ev * 1000.0).reshape(-1, 1).astype(np.float32),
        "texMU": (model.tex_mean.double().numpy() * 255.0).reshape(-1, 1).astype(np.float32),
        "texPC": tex_pc.astype(np.float32), "texEV": tex_ev.reshape(-1, 1).astype(np.float32),
        "tl": (model.faces.numpy() + 1).astype(np.float64),
    })
    lm = model.landmarks68.numpy()
    trim = np.setdiff1d(np.arange(n), np.setdiff1d(np.arange(trim_first), lm))
    pc, std = unit_columns(model.exp_basis.double().numpy()[:, trim] * 1000.0)  # micrometres
    with open(folder / "Exp_Pca.bin", "wb") as fh:
        np.array([pc.shape[1]], dtype="<i4").tofile(fh)
        np.zeros(3 * len(trim), dtype="<f4").tofile(fh)
        pc.T.astype("<f4").tofile(fh)
    np.savetxt(folder / "std_exp.txt", std)
    kp = np.searchsorted(trim, lm) + 1
    savemat(folder / "BFM_exp_idx.mat", {"trimIndex": (trim + 1).reshape(-1, 1).astype(np.float64),
                                         "keypoints": kp.reshape(1, -1).astype(np.float64)})
    return bfm
