"""Score any method's meshes (DECA, MICA, EMOCA, Deep3DFaceRecon, photoface, ...) on MICC, NoW or
synthetic ground truth: ``photoface evaluate meshes PRED_DIR --truth ... --protocol ...``.

Landmarks of the predictions (needed for the initial alignment), in this order:

1. a file next to the mesh, ``NAME.npy`` or ``NAME.txt``: 7 NoW landmarks or 68 iBUG ones;
2. a stated topology, ``--topology``: ``MODEL.npz`` (a photoface face model: its 68 landmark
   vertices), ``flame:EMBEDDING`` (FLAME's topology, as DECA and MICA write it: the 68 barycentric
   points of ``landmark_embedding.npy`` or ``flame_static_embedding.pkl``, on the mesh's own
   triangles, which must be FLAME's in FLAME's order) or ``indices:FILE`` (68 vertex indices, e.g.
   Deep3DFaceRecon's BFM ``keypoints``, 0-based).

Protocols and the layout of PRED_DIR for each:

- ``now``: ``--truth`` is the NoW root; PRED_DIR has the challenge layout
  (``<subject>/<challenge>/<image>.obj``); the NoW protocol (``now``) with the 7 landmarks
  from the file or from 68 (``now_files.LANDMARKS7_FROM_68``).
- ``micc``: ``--truth`` is a MICC root (``subject_XX/Model/...``, ``micc.find_subjects``);
  PRED_DIR holds the subjects' meshes (``meshes_of``, below; every mesh scored, the subject's
  number is their mean). The MICC protocol (``protocol.evaluate_mesh``: 95 mm crop around the
  scan's nose tip, nose-tip start from landmark 30 when known, ICP with scale; the symmetric error).
- ``synthetic``: ``--truth`` is a ``photoface synth`` dataset; PRED_DIR holds the meshes of its
  test identities (``meshes_of``); the scan is the identity's true neutral mesh
  (``scans/<id>.npy`` on the dataset's face model, whose 68 landmarks start the alignment).

The meshes of a subject (MICC, synthetic), each ``.obj`` or ``.ply`` (a stem written in both
counts once, the ``.obj``): ``<subject>.obj``; and in a folder ``<subject>/``, either DECA's
layout for one image named like the subject, ``<subject>/<subject>.obj`` (then only that mesh:
the folder's others are DECA's by-products), or every mesh ``<subject>/*.obj`` plus DECA's layout
per image, ``<subject>/<image>/<image>.obj`` (DECA's ``demo_reconstruct.py`` run on the subject's
images with ``--saveObj True``). DECA's ``<image>_detail.obj`` (its dense displacement mesh,
another topology) is never scored, and its ``_kpt3d.txt`` is not read as landmarks: DECA writes
those after its orthographic camera (image frame), not in the mesh's frame; give
``--topology flame:landmark_embedding.npy`` instead.

Numbers: per mesh, per subject (mean of its meshes) and mean ± std over subjects (MICC, synthetic);
NoW's median / mean / std as in ``now``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from photoface.errors import InputFileError, PhotofaceError
from photoface.evaluate.now import evaluate_now
from photoface.evaluate.now_files import LANDMARKS7_FROM_68, read_mesh
from photoface.evaluate.protocol import evaluate_mesh

PROTOCOLS = ("now", "micc", "synthetic")
MESH_SUFFIXES = (".obj", ".ply")
DETAIL_SUFFIX = "_detail"  # DECA's dense displacement mesh, ``NAME_detail.obj``: another topology


class Topology:
    """68 landmarks of a mesh in a known topology (module docstring), or of a landmark file."""

    def __init__(self, spec: str | None):
        self.spec = spec
        self.vertices = self.faces_idx = self.bary = None
        if spec is None:
            return
        if spec.startswith("flame:"):
            from photoface.facemodel.flame_files import read_landmark_embedding

            self.faces_idx, self.bary = read_landmark_embedding(spec[len("flame:"):])
        elif spec.startswith("indices:"):
            from photoface.facemodel.importing import read_index_file

            self.vertices = read_index_file(spec[len("indices:"):], 68)
        else:
            from photoface.facemodel.io import load_model

            self.vertices = load_model(spec).landmarks68.numpy().astype(np.int64)

    def landmarks68(self, verts: np.ndarray, faces: np.ndarray, source) -> np.ndarray | None:
        """(68, 3) landmarks of a mesh, or None without a topology."""
        if self.vertices is not None:
            if self.vertices.max() >= len(verts):
                raise InputFileError(source, f"has {len(verts)} vertices; topology {self.spec} needs "
                                             f"vertex {self.vertices.max()}")
            return verts[self.vertices]
        if self.faces_idx is not None:
            if self.faces_idx.max() >= len(faces):
                raise InputFileError(source, f"has {len(faces)} triangles; the FLAME embedding needs "
                                             f"triangle {self.faces_idx.max()}: not FLAME's topology")
            return np.einsum("lkd,lk->ld", verts[faces[self.faces_idx]], self.bary)
        return None


def mesh_landmarks(mesh_path: Path, verts, faces, topology: Topology) -> np.ndarray | None:
    """Landmarks (7 or 68, 3) of a prediction: its own file first, else its topology's."""
    for suffix in (".npy", ".txt"):
        p = mesh_path.with_suffix(suffix)
        if p.is_file():
            a = np.load(p, allow_pickle=False) if suffix == ".npy" else np.loadtxt(p, ndmin=2)
            a = np.asarray(a, dtype=np.float64).reshape(-1, 3)
            if a.shape[0] not in (7, 68):
                raise InputFileError(p, f"expected 7 or 68 landmarks, found {a.shape[0]}")
            return a
    return topology.landmarks68(verts, faces, mesh_path)


def _mesh_named(folder: Path, stem: str) -> Path | None:
    """``folder/stem.obj``, else ``folder/stem.ply`` (a stem written in both formats counts once)."""
    return next((folder / f"{stem}{s}" for s in MESH_SUFFIXES if (folder / f"{stem}{s}").is_file()), None)


def _meshes_in(folder: Path) -> list[Path]:
    """One mesh per stem of ``folder`` (``.obj`` before ``.ply``), DECA's ``*_detail`` meshes left out."""
    best: dict[str, Path] = {}
    for p in sorted(folder.iterdir()):
        rank = MESH_SUFFIXES.index(p.suffix.lower()) if p.suffix.lower() in MESH_SUFFIXES else None
        if rank is None or not p.is_file() or p.stem.endswith(DETAIL_SUFFIX):
            continue
        if p.stem not in best or rank < MESH_SUFFIXES.index(best[p.stem].suffix.lower()):
            best[p.stem] = p
    return [best[k] for k in sorted(best)]


def meshes_of(pred_dir, name: str) -> list[Path]:
    """The meshes of subject ``name`` under PRED_DIR, in the layouts of the module docstring."""
    pred_dir = Path(pred_dir)
    files = [p] if (p := _mesh_named(pred_dir, name)) is not None else []
    folder = pred_dir / name
    if not folder.is_dir():
        return files
    own = _mesh_named(folder, name)
    if own is not None:  # DECA's layout for one image named like the subject: the rest are by-products
        return files + [own]
    files += _meshes_in(folder)
    for sub in sorted(d for d in folder.iterdir() if d.is_dir()):  # DECA run over the subject's images
        if (mesh := _mesh_named(sub, sub.name)) is not None:
            files.append(mesh)
    return files


def _summary(values) -> dict:
    v = np.asarray(values, dtype=np.float64)
    return {"mean": float(v.mean()) if v.size else float("nan"), "std": float(v.std()) if v.size else float("nan"),
            "n": int(v.size)}


def _score_subjects(pred_dir: Path, truths: dict, topology: Topology, log) -> dict:
    """MICC / synthetic: ``truths`` maps subject -> (scan verts, faces, scan landmarks68 or None)."""
    records, per_subject, missing = [], {}, []
    for subject, (scan_v, scan_f, scan_lm) in truths.items():
        files = meshes_of(pred_dir, subject)
        if not files:
            missing.append(subject)
            continue
        scores = []
        for path in files:
            v, f = read_mesh(path)
            lm = mesh_landmarks(path, v, f, topology)
            kwargs = {}
            if lm is not None and lm.shape[0] == 68 and scan_lm is not None:
                kwargs = {"scan_landmarks": scan_lm, "pred_landmarks": lm}
            elif lm is not None and lm.shape[0] == 68:
                kwargs = {"pred_nose_tip": lm[30]}
            res = evaluate_mesh(v, f, scan_v, scan_f, scan_nose_tip=None if scan_lm is None else scan_lm[30], **kwargs)
            rec = {"subject": subject, "mesh": str(path), **{k: res.to_dict()[k] for k in
                                                              ("symmetric_mm", "scan_to_pred_mm", "pred_to_scan_mm")}}
            records.append(rec)
            scores.append(rec)
            if log is not None:
                log(f"{path}: {rec['symmetric_mm']:.3f} mm (symmetric)")
        per_subject[subject] = {k: float(np.mean([s[k] for s in scores]))
                                for k in ("symmetric_mm", "scan_to_pred_mm", "pred_to_scan_mm")}
    overall = {k: _summary([s[k] for s in per_subject.values()])
               for k in ("symmetric_mm", "scan_to_pred_mm", "pred_to_scan_mm")}
    return {"overall": overall, "subjects": per_subject, "meshes": records, "missing": missing}


def _micc_truths(root) -> dict:
    from photoface.evaluate.micc import find_subjects, load_scan

    return {s.name: (*load_scan(s.scan()), None) for s in find_subjects(root)}


def _synthetic_truths(root) -> dict:
    from photoface.data.format import load_dataset
    from photoface.facemodel import load_face_model

    ds = load_dataset(root, check_files=False)
    if ds.meta.face_model is None:
        raise PhotofaceError(f"{root}: meta.json names no face model")
    model = load_face_model(ds.meta.face_model)
    faces, lm = model.faces.numpy().astype(np.int64), model.landmarks68.numpy()
    out = {}
    for row in ds.filter(split="test"):
        if row.identity in out or "scan" not in row.extra:
            continue
        path = Path(root) / row.extra["scan"]
        try:
            scan = np.load(path, allow_pickle=False).astype(np.float64)
        except (OSError, ValueError) as exc:
            raise InputFileError(path, f"cannot read scan ({exc})") from None
        out[row.identity] = (scan, faces, scan[lm])
    if not out:
        raise PhotofaceError(f"{root}: no test identity with a scan (write the dataset with photoface synth)")
    return out


def evaluate_meshes(pred_dir, truth, protocol: str, topology: str | None = None, *, image_set: str = "val",
                    mode: str = "single-image", log=None) -> dict:
    """Score the meshes of ``pred_dir`` against ``truth`` with ``protocol`` (module docstring)."""
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, not {protocol!r}")
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise InputFileError(pred_dir, "the predictions folder does not exist")
    topo = Topology(topology)
    start = time.time()
    if protocol == "now":
        def landmarks7(mesh_path: Path, verts, faces):
            lm = mesh_landmarks(mesh_path, verts, faces, topo)
            return lm if lm is None or lm.shape[0] == 7 else lm[LANDMARKS7_FROM_68]

        res = evaluate_now(pred_dir, truth, image_set=image_set, mode=mode, landmarks7=landmarks7, log=log)
    else:
        truths = _micc_truths(truth) if protocol == "micc" else _synthetic_truths(truth)
        res = _score_subjects(pred_dir, truths, topo, log)
        res["meta"] = {"benchmark": f"meshes-{protocol}", "predictions": str(pred_dir.resolve()),
                       "truth": str(Path(truth).resolve()), "mode": mode, "n_subjects": len(truths),
                       "n_scored": len(res["subjects"]), "n_missing": len(res["missing"])}
    res["meta"].update(protocol=protocol, topology=topology, seconds=round(time.time() - start, 1))
    return res


def meshes_markdown(results: dict) -> str:
    """Markdown report of a MICC or synthetic ``evaluate meshes`` run."""
    meta = results["meta"]
    lines = [f"# {meta['protocol']} on `{meta['predictions']}` ({meta['mode']})", "",
             f"Truth `{meta['truth']}`: {meta['n_scored']} of {meta['n_subjects']} subjects scored.", "",
             "| error | mean (mm) | std (mm) | subjects |", "|---|---|---|---|"]
    for key, s in results["overall"].items():
        lines.append(f"| {key[:-3]} | {s['mean']:.3f} | {s['std']:.3f} | {s['n']} |")
    return "\n".join(lines) + "\n"
