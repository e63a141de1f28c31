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

Labels written (``labeled`` rows, paper eqs. 7–8), against the imported BFM model file given with
``--model`` (its name and hash go to meta.json):

* ``alpha_id = Shape_Para / id_sigma`` and ``alpha_exp = Exp_Para / exp_sigma``: standard-normal
  units, matching an importer that scales each basis vector by its standard deviation (the
  project's convention for every face-model file). The sigmas come with the model
  (:func:`label_units`); when the model keeps fewer components, the leading ones are used.
* ``pose``: our camera (``photoface.render.camera``). Both cameras are scaled orthographic with the
  same axes (BFM: x to the subject's left, y up, z out of the face), so ``R = R3`` and our Euler
  angles are read from it; ``f = 1000 · s`` px/mm (µm → mm). 3DDFA's translation refers to BFM's
  origin, ours to the canonical origin, which the importer moved; rather than depend on that
  offset, (tx, ty) is solved in least squares so that the labeled shape's inner landmarks
  (17–67, the jaw contour of profile views follows the silhouette, not fixed vertices) project
  onto pt2d. The pose is then moved into the crop with the crop transform.

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
from photoface.data.photo_list import PhotoTask
from photoface.data.prepare import PrepareOptions, run_prepare
from photoface.errors import InputFileError, PhotofaceError

SUBSETS = ("AFW", "HELEN", "IBUG", "LFPW")
INNER = slice(17, 68)


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
    """Standard deviations of 300W-LP's coefficients: id_sigma (199,) = BFM shapeEV (µm),
    exp_sigma (29,) = the 3DDFA expression basis' sigma_exp."""

    id_sigma: np.ndarray
    exp_sigma: np.ndarray


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


def convert_labels(record: W300LPRecord, model, units: LabelUnits) -> dict[str, np.ndarray]:
    """alpha_id (K,), alpha_exp (L,), pose (6,) in ORIGINAL-image pixels (see module docstring)."""
    import torch

    from photoface.render.camera import euler_from_rotation, project

    k, n_exp = model.n_id, model.n_exp
    if k > len(units.id_sigma) or n_exp > len(units.exp_sigma):
        raise PhotofaceError(
            f"the model has {k} identity / {n_exp} expression components; 300W-LP labels have "
            f"{len(units.id_sigma)} / {len(units.exp_sigma)}")
    alpha_id = record.shape_para[:k] / units.id_sigma[:k]
    alpha_exp = record.exp_para[:n_exp] / units.exp_sigma[:n_exp]
    pitch, yaw, roll, _tx, _ty, _tz, s = record.pose_para
    rot = torch.as_tensor(rotation_3ddfa(pitch, yaw, roll))[None]
    angles = np.degrees(euler_from_rotation(rot)[0].numpy())
    f = 1000.0 * s
    with torch.no_grad():
        shape = model.shape(torch.as_tensor(alpha_id, dtype=torch.float32)[None],
                            torch.as_tensor(alpha_exp, dtype=torch.float32)[None])
        lm3d = shape[:, model.landmarks68].double()
        pose0 = torch.tensor([[*angles, f, 0.0, 0.0]], dtype=torch.float64)
        proj = project(lm3d, pose0)[0, :, :2].numpy()
    t = (record.landmarks[INNER] - proj[INNER]).mean(0)
    return {"alpha_id": alpha_id, "alpha_exp": alpha_exp, "pose": np.array([*angles, f, *t])}


def label_units(model_path: str | Path) -> LabelUnits:
    """The coefficient spreads that go with an imported BFM model file.

    Reads ``<model>.sigmas.npz`` (arrays ``id_sigma`` (199,) and ``exp_sigma`` (29,)) next to the
    model file."""
    model_path = Path(model_path)
    path = model_path.with_suffix(".sigmas.npz")
    if not path.is_file():
        raise InputFileError(path, "missing: 300W-LP labels need the BFM coefficient spreads")
    with np.load(path, allow_pickle=False) as z:
        return LabelUnits(id_sigma=np.asarray(z["id_sigma"], np.float64).ravel(),
                          exp_sigma=np.asarray(z["exp_sigma"], np.float64).ravel())


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
        tasks.append(PhotoTask(key=img.relative_to(root).as_posix(), path=img, identity=identity_of(img.stem),
                               landmarks=rec.landmarks, labels=labels))
    return tasks, problems


def prepare_300wlp(root: str | Path, out_dir: str | Path, options: PrepareOptions | None = None,
                   model: str | Path | None = None, progress: bool = True) -> PreparedDataset:
    """Prepare 300W-LP; with ``model`` (the imported BFM .npz) rows are labeled."""
    from photoface.facemodel import load_model, model_hash

    options = options or PrepareOptions()
    face_model = units = None
    meta = DatasetMeta(image_size=options.image_size, source="300w-lp", extra={"photos": str(Path(root).resolve())})
    if model is not None:
        face_model = load_model(model)
        units = label_units(model)
        meta.face_model, meta.face_model_hash = Path(model).name, model_hash(face_model)
    tasks, problems = w300lp_tasks(root, face_model, units)
    dataset = run_prepare(tasks, out_dir, options, meta, progress=progress)
    if problems:
        report = Path(out_dir) / "prepare_report.tsv"
        with open(report, "a", encoding="utf-8") as fh:
            fh.write("\n".join(problems) + "\n")
    return dataset
