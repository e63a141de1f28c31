"""Importer for FLAME 2020 / 2023 (Li et al. 2017; MPI-IS licence, downloaded by the user).

Sources: the model pickle (``generic_model.pkl``, ``female_model.pkl``, ``male_model.pkl``,
``flame2023.pkl``, ``flame2023_no_jaw.pkl``; read without chumpy, ``flame_files``), a landmark
embedding (DECA's ``landmark_embedding.npy`` or RingNet's ``flame_static_embedding.pkl`` +
``flame_dynamic_embedding.npy``) and optionally ``FLAME_masks.pkl``.

What the import does, and the choices it makes:

- **Bases.** ``shapedirs`` (V, 3, 400) holds 300 identity then 100 expression components
  (``SHAPE_COLUMNS``); FLAME's components carry their standard deviations, so coefficients are
  standard normal, as photoface's PCA bases expect. ``n_shape`` / ``n_exp`` keep the leading ones
  (DECA uses 100 and 50). Metres become millimetres.
- **The jaw** (``flame_jaw``): linearised by LBS at sampled openings (0–25°) into
  ``jaw_components`` extra PCA expression components named ``jaw_open_1``, ``jaw_open_2``, on top
  of FLAME's expression components. Files whose jaw joint moves no vertex (possible in
  ``flame2023_no_jaw.pkl``) get none; ``jaw="none"`` skips them. The model file states their
  bounds (``exp_bounds``, ``flame_jaw.jaw_bounds``): ``jaw_open_1`` is [0, inf), since a jaw
  does not close past neutral, so samplers draw it half-normal and fits keep it >= 0. Neck and eyeball rotations are
  not imported: photoface's camera pose turns the whole head.
- **Landmarks** (``surface_points``): each of the 68 barycentric landmark points becomes a vertex,
  so landmarks are exact, not snapped.
- **Face area.** ``area="face"``: with ``FLAME_masks.pkl`` its ``face`` region plus the eyeballs
  (``left_eyeball``, ``right_eyeball``: without them a rendered face has holes for eyes);
  without masks, the default crop below. ``area="head"`` keeps every vertex. The landmarks always
  stay.

Default crop, without masks (the rule of the BFM importer, ``bfm._paper_crop``, with a fixed
radius): keep the vertices with x² + (y − y_tip + 10)² + (1.6 Δz)² ≤ ``FACE_RADIUS_MM``², in mm
about the nose tip (landmark 30), Δz the depth behind it. The depth weight drops the ears and the
back of the head before the forehead and the chin, which lie far from the tip but at the front.

Regions: names of ``landmark_regions`` are derived from the landmarks; where ``FLAME_masks.pkl``
has a region of the same name (``nose``, ``forehead``, ``lips``), its vertices replace the derived ones.
No albedo modes: every vertex gets the flat default skin (``synth`` paints the procedural skin).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from photoface.errors import InputFileError
from photoface.facemodel.flame_files import read_flame_model, read_landmark_embedding, read_masks
from photoface.facemodel.flame_jaw import jaw_basis, jaw_bounds, jaw_has_weights
from photoface.facemodel.importing import DEFAULT_SKIN, finish_model, used_vertices_crop
from photoface.facemodel.model import MorphableModel
from photoface.facemodel.surface_points import insert_points, lift

M_TO_MM = 1000.0
SHAPE_COLUMNS = 300
FACE_RADIUS_MM = 95.0
AREAS = ("face", "head")
MASK_REGIONS = ("nose", "forehead", "lips")  # FLAME_masks.pkl names that mean what landmark_regions' do
LICENSE = "FLAME: non-commercial scientific research licence of the Max Planck Society (flame.is.tue.mpg.de)"


def default_face_crop(verts_mm: np.ndarray, nose_tip: np.ndarray, radius: float = FACE_RADIUS_MM) -> np.ndarray:
    """Vertex indices of the default face area (module docstring); verts and tip in mm, y up, z out."""
    d = verts_mm - nose_tip
    metric = d[:, 0] ** 2 + (d[:, 1] + 10.0) ** 2 + (1.6 * np.minimum(d[:, 2], 0.0)) ** 2
    return np.flatnonzero(metric <= radius ** 2)


def import_flame(
    path,
    landmarks,
    *,
    dynamic=None,
    masks=None,
    area: str = "face",
    n_shape: int | None = None,
    n_exp: int | None = None,
    jaw: str = "linear",
    jaw_components: int = 2,
    shape_columns: int = SHAPE_COLUMNS,
) -> MorphableModel:
    """Import a FLAME model pickle as a MorphableModel (module docstring).

    Args:
        path: the FLAME ``.pkl``.
        landmarks: ``landmark_embedding.npy`` (DECA) or ``flame_static_embedding.pkl`` (RingNet).
        dynamic: RingNet's ``flame_dynamic_embedding.npy`` (default: next to the static one).
        masks: ``FLAME_masks.pkl``, or None for the default crop.
        area: "face" or "head".
        n_shape, n_exp: leading identity / expression components kept (default all).
        jaw: "linear" (LBS-linearised jaw components) or "none".
        jaw_components: how many (2 span the opening, ``flame_jaw``).
        shape_columns: columns of ``shapedirs`` that are identity (300 in every FLAME release).
    """
    path = Path(path)
    if area not in AREAS:
        raise InputFileError(path, f"unknown area {area!r}; choose one of {AREAS}")
    if jaw not in ("linear", "none"):
        raise InputFileError(path, f"unknown jaw treatment {jaw!r}; choose 'linear' or 'none'")
    flame = read_flame_model(path)
    v_count, n_joints = flame["v_template"].shape[0], flame["weights"].shape[1]
    if flame["posedirs"].shape[-1] != 9 * (n_joints - 1):
        raise InputFileError(path, f"key 'posedirs': expected {9 * (n_joints - 1)} pose components for "
                                   f"{n_joints} joints, found {flame['posedirs'].shape[-1]}")
    total = flame["shapedirs"].shape[-1]
    if total <= shape_columns:
        raise InputFileError(path, f"key 'shapedirs': {total} components, expected {shape_columns} identity "
                                   "+ expression components (FLAME has 300 + 100)")
    n_shape = shape_columns if n_shape is None else n_shape
    n_exp = total - shape_columns if n_exp is None else n_exp
    if not (1 <= n_shape <= shape_columns and 0 <= n_exp <= total - shape_columns):
        raise InputFileError(path, f"asked for {n_shape} identity and {n_exp} expression components; the file "
                                   f"has {shape_columns} and {total - shape_columns}")

    face_idx, bary = read_landmark_embedding(landmarks, dynamic)
    if face_idx.min() < 0 or face_idx.max() >= len(flame["f"]):
        raise InputFileError(landmarks, f"landmark triangle ids must lie in [0, {len(flame['f'])})")

    id_basis = np.moveaxis(flame["shapedirs"][..., :n_shape], -1, 0)
    exp_basis = np.moveaxis(flame["shapedirs"][..., shape_columns:shape_columns + n_exp], -1, 0)
    exp_names = [f"exp{i:03d}" for i in range(n_exp)]
    n_jaw = 0
    exp_bounds = np.tile(np.array([-np.inf, np.inf], np.float32), (n_exp, 1))
    if jaw == "linear" and jaw_has_weights(flame) and jaw_components > 0:
        jb, coeffs = jaw_basis(flame, jaw_components)
        exp_basis = np.concatenate([exp_basis, jb])
        exp_names += [f"jaw_open_{k + 1}" for k in range(len(jb))]
        exp_bounds = np.concatenate([exp_bounds, jaw_bounds(coeffs)])
        n_jaw = len(jb)

    corners, weights, faces, lm = insert_points(flame["v_template"], flame["f"], face_idx, bary)
    mean = lift(flame["v_template"], corners, weights) * M_TO_MM
    id_basis = lift(id_basis, corners, weights) * M_TO_MM
    exp_basis = lift(exp_basis, corners, weights) * M_TO_MM
    if len(np.unique(lm)) != 68:
        raise InputFileError(landmarks, "two of the 68 landmarks fall on the same point of the mesh")

    if area == "head":
        keep = np.arange(len(mean))
        regions = {}
    elif masks is not None:
        named = read_masks(masks)
        for name, idx in named.items():
            if idx.size and idx.max() >= v_count:
                raise InputFileError(masks, f"mask '{name}' refers to vertex {idx.max()}; the model has {v_count}")
        keep = np.concatenate([named["face"]] + [named[k] for k in ("left_eyeball", "right_eyeball") if k in named])
        regions = {k: v for k, v in named.items() if k in MASK_REGIONS}
    else:
        keep = default_face_crop(mean, mean[lm[30]])
        regions = {}
    # the landmark vertices, and the corners of their triangles, always stay
    keep = np.union1d(np.union1d(keep, lm), corners[lm].reshape(-1))
    new_of_old, f = used_vertices_crop(mean, faces, keep)
    regions = {k: new_of_old[v][new_of_old[v] >= 0] for k, v in regions.items()}
    tex_mean = np.tile(DEFAULT_SKIN, (len(keep), 1))
    version = "FLAME 2023" if "2023" in path.name else "FLAME"
    return finish_model(
        mean[keep], f, new_of_old[lm], id_basis[:, keep], exp_basis[:, keep], tex_mean,
        np.zeros((0, len(keep), 3)), path, regions,
        name=f"flame-{area}",
        source=(f"{version} ({path.name}): {n_shape} identity, {n_exp} expression components"
                + (f" + {n_jaw} linearised jaw components" if n_jaw else "") + "; flat albedo"),
        license=LICENSE, exp_kind="pca", exp_names=exp_names,
        exp_bounds=exp_bounds if n_jaw else None,
    )
