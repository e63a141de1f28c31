"""Steps shared by the importers: orientation checks, mirror map, landmark files, finishing.

Every importer ends with ``finish_model``, which checks the axes against the landmarks (x to the
subject's left, y up, z out of the face; x is flipped together with the triangle winding if the
source uses the opposite handedness), makes triangles counter-clockwise from outside, computes
the mirror map and moves the mean to the canonical origin.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from photoface.errors import InputFileError
from photoface.facemodel.landmark_regions import landmark_regions
from photoface.facemodel.model import MorphableModel, canonical_origin
from photoface.mesh.normals import vertex_normals

DEFAULT_SKIN = np.array([0.62, 0.45, 0.37])
"""Flat albedo (linear RGB) given to models that come without one."""


def mirror_map(verts: np.ndarray, x_centre: float = 0.0) -> tuple[np.ndarray, float]:
    """Left/right partner of every vertex, as an involution, and the largest pairing distance.

    Each vertex is reflected in the plane x = x_centre and paired with the nearest vertex to its
    reflection. Nearest neighbours are not always mutual, so pairs are accepted greedily from the
    closest up; vertices left over are paired among the remaining ones by the same rule, and a
    final odd one out (on the midline) is its own partner.

    Returns:
        (V,) int64 involution and the maximum distance (mm) between a vertex's reflection and
        its partner, which measures how symmetric the source mesh is.
    """
    v = len(verts)
    refl = verts.copy()
    refl[:, 0] = 2.0 * x_centre - refl[:, 0]
    mirror = np.full(v, -1, dtype=np.int64)
    remaining = np.arange(v)
    for k in (1, 8, 32):
        if remaining.size == 0:
            break
        sub = cKDTree(verts[remaining])
        dist, j = sub.query(refl[remaining], k=min(k, remaining.size))
        dist = dist.reshape(remaining.size, -1)
        j = remaining[j.reshape(remaining.size, -1)]
        cand = [(dist[a, c], remaining[a], j[a, c]) for a in range(remaining.size) for c in range(dist.shape[1])]
        cand.sort(key=lambda t: t[0])
        for _, a, b in cand:
            if mirror[a] < 0 and mirror[b] < 0:
                mirror[a], mirror[b] = b, a
        remaining = np.nonzero(mirror < 0)[0]
    mirror[remaining] = remaining
    err = np.linalg.norm(refl - verts[mirror], axis=1).max()
    return mirror, float(err)


def read_index_file(path, expected: int | None = None) -> np.ndarray:
    """Vertex indices from a .txt/.csv (whitespace or comma separated), .npy or .json file."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such index file")
    try:
        if path.suffix == ".npy":
            idx = np.load(path, allow_pickle=False)
        elif path.suffix == ".json":
            import json

            idx = np.asarray(json.loads(path.read_text()))
        else:
            idx = np.asarray(path.read_text().replace(",", " ").split(), dtype=np.float64)
    except (ValueError, OSError) as exc:
        raise InputFileError(path, f"cannot read vertex indices ({exc})") from None
    idx = np.asarray(idx).reshape(-1)
    if idx.size and not np.all(np.equal(np.mod(idx, 1), 0)):
        raise InputFileError(path, "vertex indices must be integers")
    if expected is not None and idx.size != expected:
        raise InputFileError(path, f"expected {expected} vertex indices, found {idx.size}")
    return idx.astype(np.int64)


def orient(verts: np.ndarray, faces: np.ndarray, lm: np.ndarray, source) -> tuple[np.ndarray, np.ndarray]:
    """Bring a mesh into photoface axes using its landmarks; fix the triangle winding.

    Raises InputFileError if y or z point the wrong way (an unknown frame we do not guess).
    """
    verts, faces = verts.copy(), faces.copy()
    p = verts[lm]
    if p[45, 0] < p[36, 0]:  # x points to the subject's right: mirror it, keep triangles outward
        verts[:, 0] *= -1.0
        faces = faces[:, ::-1].copy()
        p = verts[lm]
    if not p[27, 1] > p[8, 1]:
        raise InputFileError(source, "the nose root is not above the chin: the y axis does not point up")
    if not p[30, 2] > 0.5 * (p[0, 2] + p[16, 2]):
        raise InputFileError(source, "the nose tip is not in front of the jaw: the z axis does not point out of the face")
    import torch

    n = vertex_normals(torch.as_tensor(verts, dtype=torch.float64), torch.as_tensor(faces, dtype=torch.long))
    if n[lm[30], 2] < 0:  # clockwise triangles
        faces = faces[:, ::-1].copy()
    return verts, faces


def finish_model(verts, faces, lm, id_basis, exp_basis, tex_mean, tex_basis, path, regions=None, **meta):
    """Orient, pair left/right, move to the canonical origin and build the MorphableModel.

    ``regions`` are the source's own (name -> vertex indices); every name of
    ``landmark_regions`` the source lacks is derived from the landmarks, so imported models carry
    the same region names as the procedural one. ``path`` names the source in error messages;
    ``meta`` goes to MorphableModel (name, source,
    license, exp_kind, exp_names, exp_bounds). Bases are mirrored in x together with the mean when ``orient``
    mirrors it.
    """
    flip = verts[lm][45, 0] < verts[lm][36, 0]
    verts, faces = orient(np.asarray(verts, np.float64), np.asarray(faces, np.int64), lm, path)
    sign = np.array([-1.0, 1.0, 1.0]) if flip else np.ones(3)
    id_basis = np.asarray(id_basis) * sign
    exp_basis = np.asarray(exp_basis) * sign
    x_mid = verts[lm][:, 0].mean()
    mirror, _ = mirror_map(verts, x_mid)
    verts = verts - canonical_origin(verts, lm)[None]
    own = {k: v for k, v in (regions or {}).items() if len(v)}  # an empty segbin column names nothing
    regions = {**landmark_regions(verts, lm, mirror), **own}
    return MorphableModel(
        verts, id_basis, exp_basis, tex_mean, tex_basis, faces, lm, mirror, regions, **meta
    )


def used_vertices_crop(verts: np.ndarray, faces: np.ndarray, keep: np.ndarray):
    """Re-index a vertex subset: (new positions of kept vertices, faces with all corners kept)."""
    new_of_old = np.full(len(verts), -1, dtype=np.int64)
    new_of_old[keep] = np.arange(len(keep))
    f = new_of_old[faces]
    return new_of_old, f[(f >= 0).all(axis=1)]
