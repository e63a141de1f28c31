"""300W-LP adapter: the labeled part of training (paper: BFM shapes fitted to 300W photos, in
synthesised large poses).

Input layout (as distributed by the 3DDFA authors)::

    300W_LP/AFW/AFW_134212_1_0.jpg + AFW_134212_1_0.mat, ...   also HELEN/, IBUG/, LFPW/
    300W_LP/AFW_Flip/...                                        mirrored copies: EXCLUDED
    300W_LP/landmarks/...                                       separate landmark files: ignored

Each ``.mat`` (read with ``scipy.io.loadmat``) holds, per 450×450 image:

* ``pt2d`` (2, 68): the 68 landmarks, MATLAB pixel coordinates (1-based: pixel k has its centre
  at k), so ours = pt2d − 0.5;
* ``Pose_Para`` (1, 7): pitch, yaw, roll (radians), tx, ty, tz, s — the 3DDFA camera:
  ``p = s · R3 · v + t`` on BFM vertices v (µm), image y = H + 1 − p_y (MATLAB), with
  ``R3 = Rx(−pitch) · Ry(−yaw) · Rz(−roll)`` in right-handed terms (3DDFA's matrices are the
  transposes of the usual ones);
* ``Shape_Para`` (199, 1): BFM-2009 identity coefficients on the unit-norm principal components
  (µm), so their spread per component is BFM's ``shapeEV``;
* ``Exp_Para`` (29, 1): coefficients of 3DDFA's 29-component Face-Warehouse expression basis;
* also ``Color_Para``, ``Illum_Para``, ``Tex_Para``, ``roi`` (not used).

Labels written (``labeled`` rows, paper eqs. 7–8), against the BFM model file written by
``photoface.facemodel.bfm.import_bfm`` and given with ``--model`` (name and hash go to meta.json),
plus the ``01_MorphableModel.mat`` it came from (``--bfm``; only ``shapeEV`` is read):

* ``alpha_id = Shape_Para / shapeEV``, exactly: the importer builds ``id_basis = shapePC ·
  shapeEV / 1000`` (standard-normal coefficients, mm), and Shape_Para are coefficients of the
  unit-norm ``shapePC`` in µm. Cropping vertices does not change coefficients. When the model
  keeps fewer components (Deep3DFaceRecon's front model keeps 80), the leading ones are used.
* ``alpha_exp``: 300W-LP's expressions live in 3DDFA's 29-component basis, which is neither of
  the bases the importer reads (Guo et al.'s 79-component ``Exp_Pca.bin``, Deep3DFaceRecon's 64),
  so Exp_Para cannot be converted. Instead the model's expression coefficients are fitted,
  with the identity, rotation and scale above held fixed, to the inner landmarks (17–67) by
  regularised linear least squares (prior weight ``EXP_PRIOR``; coefficients kept inside the
  model's ``exp_bounds``: blendshape weights in [0, 1], FLAME's jaw opening >= 0). The raw 29
  Exp_Para are kept in the row's ``extra["exp_para_300wlp"]``.
* ``pose``: our camera (``photoface.render.camera``). Both cameras are scaled orthographic with the
  same axes (BFM: x to the subject's left, y up, z out of the face; the importer does not mirror
  it), so ``R = R3`` and our Euler angles are read from it; ``f = 1000 · s`` px/mm (µm → mm).
  3DDFA's translation refers to BFM's origin, ours to the canonical origin, which the importer
  moved; rather than depend on that offset, (tx, ty) is solved together with alpha_exp, so the
  labeled shape's inner landmarks project onto pt2d (the jaw contour of profile views follows
  the silhouette, not fixed vertices, so it is left out). The pose is then moved into the crop
  with the crop transform.

Identity: every 300W-LP image is a re-rendering of one face of a 300W photo at another yaw, named
``<photo>_<k>``; the identity is the name without the trailing ``_<k>``, so the views of one face
form one identity (used by the pairwise loss). All rows are "train".
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photoface.data.format import DatasetMeta, PreparedDataset
from photoface.data.prepare.photo_list import PhotoTask
from photoface.data.prepare.pipeline import PrepareOptions, run_prepare
from photoface.errors import InputFileError, PhotofaceError

SUBSETS = ("AFW", "HELEN", "IBUG", "LFPW")
INNER = slice(17, 68)
UM_PER_MM = 1000.0
EXP_PRIOR = 0.01
"""Weight of the expression prior: one standard deviation of a coefficient costs as much as a
landmark residual of 1 % of the face box (≈ 2 px on a 450² 300W-LP photo)."""


@dataclass
class W300LPRecord:
    """One .mat: landmarks (68, 2) px in OUR convention; pose_para (7,); shape_para (199,);
    exp_para (29,)."""

    landmarks: np.ndarray
    pose_para: np.ndarray
    shape_para: np.ndarray
    exp_para: np.ndarray


@dataclass
class LabelUnits:
    """id_sigma (199,): BFM 2009's ``shapeEV``, the standard deviation of each Shape_Para
    component (µm) — the scale ``photoface.facemodel.bfm`` multiplies each component by."""

    id_sigma: np.ndarray


def is_flipped(path: Path) -> bool:
    return any(part.lower().endswith("_flip") or part.lower() == "flip" for part in path.parts[:-1]) \
        or "_flip" in path.stem.lower()


def is_300wlp(root: str | Path) -> bool:
    root = Path(root)
    if not root.is_dir():
        return False
    if any((root / s).is_dir() for s in SUBSETS):
        return True
    return any(p.with_suffix(".mat").is_file() for p in root.glob("*.jpg"))


def find_pairs(root: str | Path) -> list[tuple[Path, Path]]:
    """(image, .mat) pairs under ``root``, flipped copies and the landmarks/ folder excluded."""
    root = Path(root)
    pairs = []
    for img in sorted(root.rglob("*.jpg")):
        rel = img.relative_to(root)
        if is_flipped(rel) or (rel.parts and rel.parts[0].lower() == "landmarks"):
            continue
        mat = img.with_suffix(".mat")
        if mat.is_file():
            pairs.append((img, mat))
    return pairs


def identity_of(stem: str) -> str:
    """``AFW_134212_1_0`` → ``AFW_134212_1``: the views of one face share an identity."""
    return re.sub(r"_\d+$", "", stem)


def _field(mat: dict, key: str, size: int, path: Path) -> np.ndarray:
    if key not in mat:
        raise InputFileError(path, f"missing variable '{key}'")
    arr = np.asarray(mat[key], dtype=np.float64)
    if arr.size != size:
        raise InputFileError(path, f"'{key}' has shape {arr.shape}, expected {size} numbers")
    if not np.all(np.isfinite(arr)):
        raise InputFileError(path, f"'{key}' contains NaN or infinity")
    return arr


def read_record(path: str | Path) -> W300LPRecord:
    """Read and validate one 300W-LP .mat file."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    path = Path(path)
    try:
        mat = loadmat(path)
    except (OSError, ValueError, TypeError, NotImplementedError, MatReadError) as exc:
        raise InputFileError(path, f"not a readable MATLAB file ({exc})") from None
    pt2d = _field(mat, "pt2d", 136, path)
    pt2d = pt2d.reshape(2, 68).T if pt2d.shape[0] == 2 else pt2d.reshape(68, 2)
    return W300LPRecord(
        landmarks=pt2d - 0.5,
        pose_para=_field(mat, "Pose_Para", 7, path).ravel(),
        shape_para=_field(mat, "Shape_Para", 199, path).ravel(),
        exp_para=_field(mat, "Exp_Para", 29, path).ravel(),
    )


def rotation_3ddfa(pitch: float, yaw: float, roll: float) -> np.ndarray:
    """3DDFA's rotation (angles in radians): Rx(−pitch)·Ry(−yaw)·Rz(−roll), right-handed terms."""
    cx, sx, cy, sy, cz, sz = np.cos(pitch), np.sin(pitch), np.cos(yaw), np.sin(yaw), np.cos(roll), np.sin(roll)
    rx = np.array([[1, 0, 0], [0, cx, sx], [0, -sx, cx]])
    ry = np.array([[cy, 0, -sy], [0, 1, 0], [sy, 0, cy]])
    rz = np.array([[cz, sz, 0], [-sz, cz, 0], [0, 0, 1]])
    return rx @ ry @ rz


def _fit_expression_and_shift(record: W300LPRecord, model, alpha_id: np.ndarray, angles: np.ndarray,
                              f: float) -> tuple[np.ndarray, np.ndarray]:
    """alpha_exp (L,) and (tx, ty) px: regularised linear least squares on the inner landmarks
    with identity, rotation and scale fixed (see the module docstring)."""
    import torch
    from scipy.optimize import lsq_linear

    from photoface.render.camera import rotation_matrix

    lm = model.landmarks68
    rot = rotation_matrix(torch.tensor(np.radians(angles))[None])[0].numpy()
    proj = f * np.array([[1.0, 0, 0], [0, -1.0, 0]]) @ rot  # (2, 3): f · Pr · R
    with torch.no_grad():
        neutral = model.shape(torch.as_tensor(alpha_id, dtype=torch.float32)[None])[0, lm].double().numpy()
    exp_lm = model.exp_basis[:, lm].double().numpy()  # (L, 68, 3)
    target = record.landmarks[INNER]
    n_exp = exp_lm.shape[0]
    # unknowns: alpha_exp (L), tx, ty; rows: x and y of each inner landmark, then the prior
    a = np.einsum("ij,lnj->nil", proj, exp_lm[:, INNER]).reshape(-1, n_exp)
    a = np.concatenate([a, np.tile(np.eye(2), (len(target), 1))], axis=1)
    b = (target - neutral[INNER] @ proj.T).reshape(-1)
    box = np.sqrt(np.prod(np.ptp(record.landmarks, axis=0)))
    prior = np.zeros((n_exp, n_exp + 2))
    prior[:, :n_exp] = np.eye(n_exp) * EXP_PRIOR * box
    a, b = np.concatenate([a, prior]), np.concatenate([b, np.zeros(n_exp)])
    bounds = model.exp_bounds.detach().cpu().double().numpy()
    if np.isfinite(bounds).any():  # blendshape weights in [0, 1], a jaw opening >= 0
        lo = np.r_[bounds[:, 0], -np.inf, -np.inf]
        hi = np.r_[bounds[:, 1], np.inf, np.inf]
        sol = lsq_linear(a, b, bounds=(lo, hi)).x
    else:
        sol = np.linalg.lstsq(a, b, rcond=None)[0]
    return sol[:n_exp], sol[n_exp:]


def convert_labels(record: W300LPRecord, model, units: LabelUnits) -> dict[str, np.ndarray]:
    """alpha_id (K,), alpha_exp (L,), pose (6,) in ORIGINAL-image pixels (see module docstring)."""
    import torch

    from photoface.render.camera import euler_from_rotation

    k = model.n_id
    if k > len(units.id_sigma):
        raise PhotofaceError(f"the model has {k} identity components; 300W-LP labels have {len(units.id_sigma)}")
    alpha_id = record.shape_para[:k] / units.id_sigma[:k]
    pitch, yaw, roll, _tx, _ty, _tz, s = record.pose_para
    rot = torch.as_tensor(rotation_3ddfa(pitch, yaw, roll))[None]
    angles = np.degrees(euler_from_rotation(rot)[0].numpy())
    f = UM_PER_MM * s
    alpha_exp, t = _fit_expression_and_shift(record, model, alpha_id, angles, f)
    return {"alpha_id": alpha_id, "alpha_exp": alpha_exp, "pose": np.array([*angles, f, *t])}


def label_units(bfm_path: str | Path) -> LabelUnits:
    """Read ``shapeEV`` from BFM 2009's ``01_MorphableModel.mat`` (only that variable is loaded)."""
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError

    bfm_path = Path(bfm_path)
    try:
        mat = loadmat(bfm_path, variable_names=["shapeEV"])
    except (OSError, ValueError, TypeError, NotImplementedError, MatReadError) as exc:
        raise InputFileError(bfm_path, f"not a readable MATLAB file ({exc})") from None
    if "shapeEV" not in mat:
        raise InputFileError(bfm_path, "variable 'shapeEV' missing (need BFM 2009's 01_MorphableModel.mat)")
    sigma = np.asarray(mat["shapeEV"], np.float64).ravel()
    if sigma.size < 1 or not np.all(np.isfinite(sigma)) or np.any(sigma <= 0):
        raise InputFileError(bfm_path, "variable 'shapeEV' must hold positive standard deviations")
    return LabelUnits(id_sigma=sigma)


def w300lp_tasks(root: str | Path, model=None, units: LabelUnits | None = None) -> tuple[list[PhotoTask], list[str]]:
    """Tasks (landmarks given; labels when a model is given) and problems (unreadable .mat files)."""
    root = Path(root)
    pairs = find_pairs(root)
    if not pairs:
        raise InputFileError(root, "no 300W-LP image/.mat pairs found (flipped copies are excluded)")
    tasks, problems = [], []
    for img, mat in pairs:
        try:
            rec = read_record(mat)
        except InputFileError as exc:
            problems.append(f"{img.relative_to(root).as_posix()}\tskipped: {exc.problem}")
            continue
        labels = convert_labels(rec, model, units) if model is not None else {}
        if labels:
            labels["exp_para_300wlp"] = rec.exp_para
        tasks.append(PhotoTask(key=img.relative_to(root).as_posix(), path=img, identity=identity_of(img.stem),
                               landmarks=rec.landmarks, labels=labels))
    return tasks, problems


def prepare_300wlp(root: str | Path, out_dir: str | Path, options: PrepareOptions | None = None,
                   model: str | Path | None = None, bfm: str | Path | None = None,
                   progress: bool = True) -> PreparedDataset:
    """Prepare 300W-LP. With ``model`` (the BFM .npz written by ``photoface model import-bfm``)
    and ``bfm`` (the ``01_MorphableModel.mat`` it was imported from, for ``shapeEV``) rows are
    labeled; without them they carry landmarks only."""
    from photoface.facemodel import load_model, model_hash
    from photoface.facemodel.spec import BUILTIN_PREFIX

    options = options or PrepareOptions()
    face_model = units = None
    meta = DatasetMeta(image_size=options.image_size, source="300w-lp", extra={"photos": str(Path(root).resolve())})
    if (model is None) != (bfm is None):
        raise PhotofaceError("300W-LP labels need both --model (the imported BFM .npz) and --bfm "
                             "(its 01_MorphableModel.mat); give both, or neither for unlabeled rows")
    if model is not None:
        if str(model).startswith(BUILTIN_PREFIX):
            raise PhotofaceError(f"300W-LP labels are Basel Face Model 2009 coefficients: --model must be the BFM "
                                 f".npz written by `photoface model import-bfm`, not the built-in {model}")
        face_model = load_model(model)
        units = label_units(bfm)
        meta.face_model, meta.face_model_hash = Path(model).name, model_hash(face_model)
    tasks, problems = w300lp_tasks(root, face_model, units)
    dataset = run_prepare(tasks, out_dir, options, meta, progress=progress)
    if problems:
        report = Path(out_dir) / "prepare_report.tsv"
        with open(report, "a", encoding="utf-8") as fh:
            fh.write("\n".join(problems) + "\n")
    return dataset
