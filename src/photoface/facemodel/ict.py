"""Importer for ICT-FaceKit's ``FaceXModel`` folder (MIT licence).

Layout (ICT-FaceKit README and Scripts/face_model_io.py):

- ``generic_neutral_mesh.obj``: the template, 26,719 vertices in centimetres, mostly quads; the
  face area comes first: the full face area is vertices 0..9408, the narrow face area 0..6705.
- ``identity000.obj``, ``identity001.obj``, …: the same mesh deformed by one identity PCA mode at
  one standard deviation (ICT samples identity weights from N(0, 1)); mode = OBJ − neutral.
- one OBJ per expression, named after the ARKit blendshapes with ``_L``/``_R`` (``jawOpen``,
  ``eyeBlink_L``, …), at full weight; ``vertex_indices.json`` lists them under ``expressions``.
- ``vertex_indices.json`` may list the 68 Multi-PIE landmarks as ``idx_to_landmark_verts``;
  older releases document them only in the README, which gives the table ``README_LANDMARKS``.

The import keeps the narrow face area (or the full one), converts cm to mm, splits quads into
two triangles (0, 1, 2) + (0, 2, 3), keeps expressions as blendshapes (weights in [0, 1]) and,
since ICT's light model has no albedo, gives every vertex the flat default skin colour
``importing.DEFAULT_SKIN`` with no albedo modes. ICT names no regions; the import derives the
procedural model's (eyes, nose, mouth, cheeks, ...) from the 68 landmarks
(``landmark_regions``).

OBJ files are parsed here rather than with trimesh because the correspondence between the
files is their vertex order, and trimesh may re-index vertices (for instance when texture
coordinates differ per corner); we only need the ``v`` and ``f`` records, in file order.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from photoface.errors import InputFileError
from photoface.facemodel.importing import DEFAULT_SKIN, finish_model, read_index_file, used_vertices_crop
from photoface.facemodel.model import MorphableModel

CM_TO_MM = 10.0
FACE_AREAS = {"narrow": 6706, "full": 9409}
README_LANDMARKS = np.array([
    1225, 1888, 1052, 367, 1719, 1722, 2199, 1447, 966, 3661, 4390, 3927, 3924, 2608, 3272, 4088,
    3443, 268, 493, 1914, 2044, 1401, 3615, 4240, 4114, 2734, 2509, 978, 4527, 4942, 4857, 1140,
    2075, 1147, 4269, 3360, 1507, 1542, 1537, 1528, 1518, 1511, 3742, 3751, 3756, 3721, 3725, 3732,
    5708, 5695, 2081, 0, 4275, 6200, 6213, 6346, 6461, 5518, 5957, 5841, 5702, 5711, 5533, 6216,
    6207, 6470, 5517, 5966,
])
LICENSE = "ICT-FaceKit: MIT licence, USC Institute for Creative Technologies"


def read_obj(path, with_faces: bool = False):
    """Vertices (V, 3) and, if asked, triangles (F, 3) 0-based (polygons fanned) of an OBJ."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such OBJ file")
    verts, tris = [], []
    try:
        with path.open("r", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("v "):
                    verts.append(line.split()[1:4])
                elif with_faces and line.startswith("f "):
                    idx = [int(tok.split("/")[0]) for tok in line.split()[1:]]
                    idx = [i - 1 if i > 0 else len(verts) + i for i in idx]
                    for k in range(1, len(idx) - 1):
                        tris.append((idx[0], idx[k], idx[k + 1]))
        v = np.asarray(verts, dtype=np.float64)
    except ValueError as exc:
        raise InputFileError(path, f"malformed OBJ record ({exc})") from None
    if v.ndim != 2 or v.shape[1] != 3 or len(v) == 0:
        raise InputFileError(path, "no vertices")
    if not np.isfinite(v).all():
        raise InputFileError(path, "vertices contain NaN or infinite values")
    if not with_faces:
        return v
    f = np.asarray(tris, dtype=np.int64).reshape(-1, 3)
    if len(f) == 0 or f.min() < 0 or f.max() >= len(v):
        raise InputFileError(path, "faces missing or referring to vertices that do not exist")
    return v, f


def import_ict(folder, area: str = "narrow", landmarks=None, face_vertices: int | None = None) -> MorphableModel:
    """Import an ICT-FaceKit FaceXModel folder as a MorphableModel.

    Args:
        folder: the ``FaceXModel`` directory.
        area: "narrow" (vertices 0..6705) or "full" (0..9408) face area.
        landmarks: optional file of 68 0-based vertex indices (overrides the folder's).
        face_vertices: explicit size of the kept face area (vertices 0..n-1), overriding ``area``.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise InputFileError(folder, "not a directory")
    neutral, faces = read_obj(folder / "generic_neutral_mesh.obj", with_faces=True)
    n = len(neutral)
    config_path = folder / "vertex_indices.json"
    config = {}
    if config_path.is_file():
        try:
            config = json.loads(config_path.read_text())
        except json.JSONDecodeError as exc:
            raise InputFileError(config_path, f"not valid JSON ({exc})") from None

    ids = []
    while (folder / f"identity{len(ids):03d}.obj").is_file():
        ids.append(_mode(folder / f"identity{len(ids):03d}.obj", neutral))
    if not ids:
        raise InputFileError(folder, "no identity000.obj: not an ICT-FaceKit FaceXModel folder")
    names = config.get("expressions")
    if names is None:
        names = sorted(p.stem for p in folder.glob("*.obj") if p.stem != "generic_neutral_mesh" and not p.stem.startswith("identity"))
    exps = [_mode(folder / f"{name}.obj", neutral) for name in names]

    if landmarks is not None:
        lm = read_index_file(landmarks, 68)
    elif "idx_to_landmark_verts" in config:
        lm = np.asarray(config["idx_to_landmark_verts"], dtype=np.int64)
        if lm.shape != (68,):
            raise InputFileError(config_path, f"'idx_to_landmark_verts': expected 68 indices, got {lm.size}")
    else:
        lm = README_LANDMARKS
    if lm.min() < 0 or lm.max() >= n:
        raise InputFileError(landmarks or config_path, f"landmark indices must lie in [0, {n})")

    if face_vertices is None:
        if area not in FACE_AREAS:
            raise InputFileError(folder, f"unknown face area {area!r}; choose one of {sorted(FACE_AREAS)}")
        face_vertices = FACE_AREAS[area]
    keep = np.union1d(np.arange(min(face_vertices, n)), lm)
    new_of_old, f = used_vertices_crop(neutral, faces, keep)
    mean = neutral[keep] * CM_TO_MM
    id_basis = np.stack(ids)[:, keep] * CM_TO_MM
    exp_basis = (np.stack(exps)[:, keep] if exps else np.zeros((0, len(keep), 3))) * CM_TO_MM
    tex_mean = np.tile(DEFAULT_SKIN, (len(keep), 1))
    return finish_model(
        mean, f, new_of_old[lm], id_basis, exp_basis, tex_mean, np.zeros((0, len(keep), 3)), folder, {},
        name=f"ict-facekit-{area if face_vertices == FACE_AREAS.get(area) else 'face'}",
        source=f"ICT-FaceKit FaceXModel ({folder.name}): {len(ids)} identity modes, {len(exps)} expressions; flat albedo",
        license=LICENSE, exp_kind="blendshape", exp_names=list(names),
    )


def _mode(path: Path, neutral: np.ndarray) -> np.ndarray:
    v = read_obj(path)
    if v.shape != neutral.shape:
        raise InputFileError(path, f"has {len(v)} vertices, generic_neutral_mesh.obj has {len(neutral)}")
    return v - neutral
