"""Importer for the Basel Face Model 2009 and the expression bases used with it.

Sources (we cannot ship them; users download them under their own licences):

- ``01_MorphableModel.mat`` (BFM 2009, MATLAB v5): ``shapeMU`` (3N, 1), ``shapePC`` (3N, 199),
  ``shapeEV`` (199, 1), ``texMU``, ``texPC``, ``texEV`` (same layout), ``tl`` (F, 3) 1-based
  triangles, optionally ``segbin`` (N, 4): nose, eyes, mouth, rest (kept as regions; the other
  region names, and all of them without ``segbin``, come from the landmarks: ``landmark_regions``).
  N = 53,490. Coordinates are
  in micrometres (Deep3DFaceRecon divides by 1e5 to get decimetres), so mm = value / 1000. The
  ``*EV`` are standard deviations, so ``PC · EV`` is a basis with standard-normal coefficients.
  Colours are 0..255 and become [0, 1]. Files without albedo (no ``texMU``/``texPC``/``texEV``,
  or ``texPC`` with 0 columns) give the flat default skin ``importing.DEFAULT_SKIN`` (or ``texMU``)
  and no albedo modes.
- ``Exp_Pca.bin`` (Guo et al., used by 3DDFA and Deep3DFaceRecon): int32 L (= 79), float32
  mean (3·53215), float32 components (L, 3·53215), vertex-major xyz, same units as BFM. The
  mean is not used (as in Deep3DFaceRecon). Its standard deviations come from ``std_exp.txt``
  (looked for next to the .bin). It lives on the 53,215-vertex BFM that 3DDFA trims from the
  53,490: the trim list ``trimIndex`` (1-based) is read from ``BFM_exp_idx.mat`` or 3DDFA's
  ``model_info.mat``, looked for next to the .bin.
- ``BFM_model_front.mat`` (Deep3DFaceRecon): ``meanshape`` (1, 3·35709) decimetres, ``idBase``
  (3·35709, 80), ``exBase`` (…, 64), ``meantex``, ``texBase`` (already multiplied by their
  standard deviations), ``tri`` (1-based), ``keypoints`` (68, 1-based). Imported alone it is a
  complete model; given as the expression source of a BFM 2009 import, its vertices are matched
  to BFM 2009 vertices by position and the result keeps those 35,709 vertices (the expression
  basis exists only there), with BFM 2009's full identity and texture bases.

The paper's crop (ARCHITECTURE.md): neck and ears removed, 37,202 of 53,215 vertices. We
reproduce the size with a rule around the nose tip (landmark 30): keep the
``round(V · 37202 / 53215)`` vertices with the smallest ``x² + (y − y_tip + 10)² + (1.6 Δz)²``
(mm, Δz = depth behind the nose tip). Weighting depth by 1.6 removes what lies far behind the
face first (ears, then neck), while the forehead and chin, which are far but at the front, stay.
The landmarks always stay. ``crop=False`` keeps every vertex.

Landmarks (68, iBUG order) come from, in this order: the ``landmarks`` argument (a file of 68
0-based indices of the BFM 2009 vertices), ``keypoints`` in the trim file (3DDFA model_info.mat:
68 1-based vertex indices of the trimmed model, or 204 0-based indices into its flattened
coordinates), or ``keypoints`` of BFM_model_front.mat. Without any of them the import fails with
a message that says so: we do not ship a table of BFM vertex indices that we cannot verify.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy.io import loadmat
from scipy.io.matlab import MatReadError
from scipy.spatial import cKDTree

from photoface.errors import InputFileError
from photoface.facemodel.importing import DEFAULT_SKIN, finish_model, read_index_file, used_vertices_crop
from photoface.facemodel.model import MorphableModel

PAPER_CROP = (37_202, 53_215)
UM_PER_MM = 1000.0
MM_PER_DM = 100.0
LICENSE = "Basel Face Model 2009: non-commercial research licence of the University of Basel"


def _load_mat(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    try:
        return loadmat(path)
    except (ValueError, OSError, NotImplementedError, MatReadError, TypeError) as exc:
        raise InputFileError(path, f"not a readable MATLAB .mat file ({exc})") from None


def _get(mat: dict, key: str, path, ndim: int | None = None) -> np.ndarray:
    if key not in mat:
        raise InputFileError(path, f"variable '{key}' missing")
    a = np.asarray(mat[key])
    if ndim is not None and a.ndim != ndim:
        raise InputFileError(path, f"variable '{key}': expected {ndim} dimensions, got shape {a.shape}")
    if a.dtype.kind in "fc" and not np.isfinite(a).all():
        raise InputFileError(path, f"variable '{key}' contains NaN or infinite values")
    return a


def _basis(pc: np.ndarray, ev: np.ndarray, scale: float, n_vert: int, key: str, path) -> np.ndarray:
    """(3N, K) components × (K,) stds -> (K, N, 3) basis in output units."""
    ev = np.asarray(ev, dtype=np.float64).reshape(-1)
    if pc.shape != (3 * n_vert, ev.size):
        raise InputFileError(path, f"variable '{key}': expected shape ({3 * n_vert}, {ev.size}), got {pc.shape}")
    return (pc.astype(np.float64) * ev[None] / scale).T.reshape(ev.size, n_vert, 3)


def read_exp_pca_bin(path, n_vertices: int = 53215) -> np.ndarray:
    """Components of Exp_Pca.bin as (L, n_vertices, 3), in the file's units (BFM micrometres)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such file")
    raw = path.read_bytes()
    if len(raw) < 4:
        raise InputFileError(path, "file too short for an Exp_Pca.bin header")
    count = int(np.frombuffer(raw[:4], dtype="<i4")[0])
    expected = 4 + 4 * 3 * n_vertices * (1 + count)
    if count <= 0 or len(raw) != expected:
        raise InputFileError(
            path, f"size {len(raw)} bytes does not match {count} components of {n_vertices} vertices ({expected} bytes)"
        )
    pcs = np.frombuffer(raw, dtype="<f4", offset=4 + 4 * 3 * n_vertices).reshape(count, n_vertices, 3)
    if not np.isfinite(pcs).all():
        raise InputFileError(path, "components contain NaN or infinite values")
    return pcs.astype(np.float64)


def _find_next_to(path: Path, names: tuple[str, ...]) -> Path | None:
    for n in names:
        if (path.parent / n).is_file():
            return path.parent / n
    return None


def _front_model(path) -> dict:
    """Arrays of a Deep3DFaceRecon BFM_model_front.mat in mm / [0, 1] / 0-based indices."""
    mat = _load_mat(path)
    mean = _get(mat, "meanshape", path).reshape(-1, 3) * MM_PER_DM
    n = len(mean)
    out = {"mean": mean, "n": n}
    for key, scale, name in (("idBase", 1 / MM_PER_DM, "id"), ("exBase", 1 / MM_PER_DM, "exp"), ("texBase", 255.0, "tex")):
        b = _get(mat, key, path, ndim=2)
        if b.shape[0] != 3 * n:
            raise InputFileError(path, f"variable '{key}': expected {3 * n} rows, got {b.shape[0]}")
        out[name] = (b.astype(np.float64) / scale).T.reshape(-1, n, 3)
    out["tex_mean"] = _get(mat, "meantex", path).reshape(-1, 3) / 255.0
    out["faces"] = _get(mat, "tri", path, ndim=2).astype(np.int64) - 1
    if "keypoints" in mat:
        out["keypoints"] = np.asarray(mat["keypoints"]).reshape(-1).astype(np.int64) - 1
    if out["faces"].min() < 0 or out["faces"].max() >= n:
        raise InputFileError(path, f"variable 'tri': indices outside 1..{n}")
    return out


def import_bfm(
    bfm_path,
    expression=None,
    exp_std=None,
    trim_index=None,
    landmarks=None,
    crop: bool = True,
) -> MorphableModel:
    """Import BFM 2009 (optionally with an expression basis) as a MorphableModel.

    Args:
        bfm_path: ``01_MorphableModel.mat``, or a Deep3DFaceRecon ``BFM_model_front.mat``.
        expression: ``Exp_Pca.bin`` or ``BFM_model_front.mat`` (None: no expressions).
        exp_std: ``std_exp.txt`` for Exp_Pca.bin (default: next to the .bin).
        trim_index: .mat with ``trimIndex`` (default: BFM_exp_idx.mat / model_info.mat next to
            the .bin or the BFM file); needed when Exp_Pca.bin meets the 53,490-vertex BFM.
        landmarks: file of 68 0-based BFM 2009 vertex indices (see module docstring).
        crop: apply the paper's crop (ignored when the expression basis is the front model).
    """
    bfm_path = Path(bfm_path)
    mat = _load_mat(bfm_path)
    if "meanshape" in mat:
        return _import_front_alone(bfm_path)
    mean = _get(mat, "shapeMU", bfm_path).reshape(-1, 3).astype(np.float64) / UM_PER_MM
    n = len(mean)
    id_basis = _basis(_get(mat, "shapePC", bfm_path, 2), _get(mat, "shapeEV", bfm_path), UM_PER_MM, n, "shapePC", bfm_path)
    if "texMU" in mat:
        tex_mean = _get(mat, "texMU", bfm_path).reshape(-1, 3).astype(np.float64) / 255.0
        if tex_mean.shape != (n, 3):
            raise InputFileError(bfm_path, f"variable 'texMU': expected {3 * n} values, got {tex_mean.size}")
    else:  # a shape-only file: the flat default skin
        tex_mean = np.tile(DEFAULT_SKIN, (n, 1))
    if "texPC" in mat or "texEV" in mat:
        tex_basis = _basis(_get(mat, "texPC", bfm_path, 2), _get(mat, "texEV", bfm_path), 255.0, n, "texPC", bfm_path)
    else:
        tex_basis = np.zeros((0, n, 3))
    faces = _get(mat, "tl", bfm_path, 2).astype(np.int64) - 1
    if faces.shape[1] != 3 or faces.min() < 0 or faces.max() >= n:
        raise InputFileError(bfm_path, f"variable 'tl': expected (F, 3) 1-based indices in 1..{n}")
    regions = {}
    if "segbin" in mat and np.asarray(mat["segbin"]).shape == (n, 4):
        seg = np.asarray(mat["segbin"]).astype(bool)
        for k, name in enumerate(("nose", "eyes", "mouth", "rest")):
            regions[name] = np.nonzero(seg[:, k])[0]

    lm = read_index_file(landmarks, 68) if landmarks is not None else None
    if lm is not None and (lm.min() < 0 or lm.max() >= n):
        raise InputFileError(landmarks, f"landmark indices must lie in [0, {n})")
    keep = np.arange(n)
    exp_basis = np.zeros((0, n, 3))
    exp_names = None
    sources = [f"BFM 2009 ({bfm_path.name})"]

    exp_path = Path(expression) if expression is not None else None
    front = None
    if exp_path is not None and exp_path.suffix.lower() == ".mat":
        front = _front_model(exp_path)
        keep = _match_vertices(front["mean"], mean, exp_path)
        exp_basis = np.zeros((front["exp"].shape[0], n, 3))
        exp_basis[:, keep] = front["exp"]
        if lm is None and "keypoints" in front:
            lm = keep[front["keypoints"]]
        sources.append(f"expressions of Deep3DFaceRecon ({exp_path.name})")
    elif exp_path is not None:
        trim_path = Path(trim_index) if trim_index else _find_next_to(exp_path, ("BFM_exp_idx.mat", "model_info.mat"))
        trim, kp = _read_trim(trim_path, n) if trim_path is not None else (None, None)
        if trim is None:
            if n != 53215:
                raise InputFileError(
                    exp_path, f"the expression basis needs the trim list of the {n}-vertex BFM: pass "
                    "--trim-index BFM_exp_idx.mat (or 3DDFA's model_info.mat)"
                )
            trim = np.arange(n)
        pcs = read_exp_pca_bin(exp_path, len(trim))
        std_path = Path(exp_std) if exp_std else _find_next_to(exp_path, ("std_exp.txt",))
        if std_path is None:
            raise InputFileError(exp_path, "std_exp.txt (the expression standard deviations) not found next to it; pass --exp-std")
        try:
            std = np.loadtxt(std_path).reshape(-1)
        except (ValueError, OSError) as exc:
            raise InputFileError(std_path, f"cannot read standard deviations ({exc})") from None
        if std.size != pcs.shape[0]:
            raise InputFileError(std_path, f"expected {pcs.shape[0]} standard deviations, found {std.size}")
        exp_basis = np.zeros((pcs.shape[0], n, 3))
        exp_basis[:, trim] = pcs * std[:, None, None] / UM_PER_MM
        keep = np.sort(trim)
        if lm is None and kp is not None:
            lm = trim[kp]
        sources.append(f"expressions of Guo et al. ({exp_path.name})")

    if lm is None:
        raise InputFileError(
            bfm_path, "no 68-landmark indices: pass --landmarks FILE (68 0-based vertex indices), "
            "or an expression/trim file that carries 'keypoints'"
        )
    if front is not None:
        new_of_old = np.full(n, -1, dtype=np.int64)
        new_of_old[keep] = np.arange(len(keep))
        if (new_of_old[lm] < 0).any():
            raise InputFileError(landmarks or exp_path, "landmarks lie outside the front model's vertices")
        f = front["faces"]  # the front model's own triangles, in its vertex order
    else:
        if crop:
            keep = _paper_crop(mean, keep, lm)
        keep = np.union1d(keep, lm)
        new_of_old, f = used_vertices_crop(mean, faces, keep)
    regions = {k: new_of_old[v][new_of_old[v] >= 0] for k, v in regions.items()}
    return finish_model(
        mean[keep], f, new_of_old[lm], id_basis[:, keep], exp_basis[:, keep], np.clip(tex_mean[keep], 0, 1),
        tex_basis[:, keep], bfm_path, regions,
        name="bfm2009" + ("-front" if front is not None else "-crop" if crop else ""),
        source=" + ".join(sources), license=LICENSE, exp_kind="pca", exp_names=exp_names,
    )


def _read_trim(path: Path, n_bfm: int):
    """trimIndex (0-based indices into the BFM) and optional keypoints (0-based, trimmed model)."""
    mat = _load_mat(path)
    if "trimIndex" not in mat:
        raise InputFileError(path, "variable 'trimIndex' missing")
    trim = np.asarray(mat["trimIndex"]).reshape(-1).astype(np.int64) - 1
    if trim.min() < 0 or trim.max() >= n_bfm:
        raise InputFileError(path, f"variable 'trimIndex': indices outside 1..{n_bfm}")
    kp = None
    if "keypoints" in mat:
        k = np.asarray(mat["keypoints"]).reshape(-1).astype(np.int64)
        kp = (k[::3] // 3) if k.size == 204 else (k - 1 if k.size == 68 else None)
        if kp is None or kp.min() < 0 or kp.max() >= trim.size:
            raise InputFileError(path, "variable 'keypoints': expected 68 vertex indices of the trimmed model")
    return trim, kp


def _match_vertices(front_mean: np.ndarray, bfm_mean: np.ndarray, path) -> np.ndarray:
    """Index of the BFM vertex at each front-model vertex (they share coordinates)."""
    dist, idx = cKDTree(bfm_mean).query(front_mean)
    if dist.max() > 0.05:  # mm; float32 round-off is far below this
        raise InputFileError(path, f"its vertices do not coincide with the BFM's (largest gap {dist.max():.2f} mm)")
    return idx.astype(np.int64)


def _paper_crop(mean: np.ndarray, candidates: np.ndarray, lm: np.ndarray) -> np.ndarray:
    """The paper-size crop around the nose tip (module docstring), sorted vertex indices."""
    n_keep = int(round(len(candidates) * PAPER_CROP[0] / PAPER_CROP[1]))
    tip = mean[lm[30]]
    p = mean[candidates] - tip
    x_mid = mean[lm, 0].mean() - tip[0]
    d = (p[:, 0] - x_mid) ** 2 + (p[:, 1] + 10.0) ** 2 + (1.6 * p[:, 2]) ** 2
    return np.sort(candidates[np.argsort(d, kind="stable")[:n_keep]])


def _import_front_alone(path: Path) -> MorphableModel:
    fm = _front_model(path)
    if "keypoints" not in fm:
        raise InputFileError(path, "variable 'keypoints' missing (68 landmark vertices)")
    return finish_model(
        fm["mean"], fm["faces"], fm["keypoints"], fm["id"], fm["exp"], np.clip(fm["tex_mean"], 0, 1), fm["tex"],
        path, {}, name="bfm2009-deep3dfacerecon-front", source=f"Deep3DFaceRecon BFM front model ({path.name})",
        license=LICENSE, exp_kind="pca",
    )
