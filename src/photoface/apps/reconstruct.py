"""``photoface reconstruct``: photos → 3D face meshes, codes, overlays and panels.

Per photo NAME (the file stem, made unique) the output folder gets:

* ``NAME.obj``, ``NAME.ply`` and ``NAME.glb``: the decoded shape, (V, 3) millimetres in the face model's
  canonical frame and pose (x to the subject's left, y up, z out of the face), the face model's
  triangles and vertex order, per-vertex albedo as 8-bit vertex colours (stage 1: the GCN albedo;
  stage 2: read from the CNN albedo map at the visible vertices, see
  ``photoface.nn.FaceNet.vertex_albedo``; the .glb in metres, see ``photoface.facemodel.export``);
* ``NAME.json``: the four codes (identity, expression, raw pose code, light), the physical pose
  (degrees, px/mm and px in the crop), the crop transform (original-photo px → crop px), the
  68 predicted landmarks in crop and photo pixels, and the ``detector`` that found the face
  ("mediapipe", or dlib's "hog" / "cnn" where MediaPipe found none; null for ``--aligned``);
* ``NAME_overlay.png``: the render over the original photo (over the crop for ``--aligned``);
* ``NAME_panel.png``: input | render | albedo | shading | mesh from three views
  (``photoface.apps.figures``);
* once per folder, ``view.html``: every photo with its mesh, turnable, and its codes, in one
  offline page (``photoface.apps.viewer``); with ``truths`` (true meshes, e.g. of synthetic
  photos) it also shows each mesh's per-vertex error.

With ``refine`` each photo's prediction is refined by the fitting objective
(``photoface.apps.refine``; every photo its own person unless ``same_person``): the files above
then hold the refined face, and ``NAME.json`` gains ``refined: true`` and ``residuals`` (landmark
RMS px and NME against the targets, photometric MSE, failure, objective per stage).

Every face of a photo is reconstructed: a photo with several faces gives ``NAME_face0``,
``NAME_face1``, ... (largest face first) instead of ``NAME``. The checkpoint is loaded (and
checked) before anything is written. Photos that cannot be used and folders without photos are
reported (``log``) and skipped; the rest are processed in batches.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from photoface.apps import figures
from photoface.apps.inputs import (
    FaceInput,
    Skipped,
    batches,
    collect_images,
    load_faces,
    log_notes,
    stacked_landmarks,
)
from photoface.apps.preview import model_occlusion
from photoface.apps.viewer import VIEW_FILE, ViewBuilder, ViewFace, ViewMesh, codes_view, face_window, vertex_error
from photoface.data.prepare.align import apply_transform, invert_transform
from photoface.facemodel.export import FORMATS, write_mesh
from photoface.jsonfile import write_json


def _stderr(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


def pose_dict(pose: torch.Tensor) -> dict[str, float]:
    """(6,) physical pose → named JSON fields."""
    p = [float(v) for v in pose]
    return {"pitch_deg": p[0], "yaw_deg": p[1], "roll_deg": p[2], "scale_px_per_mm": p[3],
            "tx_px": p[4], "ty_px": p[5]}


def _rounded(t: torch.Tensor | np.ndarray, digits: int = 6) -> list:
    arr = t.detach().cpu().double().numpy() if isinstance(t, torch.Tensor) else np.asarray(t, np.float64)
    return np.round(arr, digits).tolist()


def codes_record(trained, face: FaceInput, out, i: int) -> dict:
    """The JSON record of photo ``i`` of a batch (see the module docstring)."""
    lm = out.landmarks2d[i].detach().cpu().double().numpy()
    photo_lm = None
    if face.crop_transform is not None:
        photo_lm = _rounded(apply_transform(invert_transform(face.crop_transform), lm), 3)
    return {
        "photo": str(face.path),
        "detector": face.detector,
        "checkpoint": str(trained.checkpoint),
        "step": trained.step,
        "stage": trained.stage,
        "image_size": trained.image_size,
        "codes": {
            "identity": _rounded(out.id_code[i]),
            "expression": _rounded(out.exp_code[i]),
            "pose": _rounded(out.pose_code[i]),
            "light": _rounded(out.light[i]),
        },
        "pose": pose_dict(out.pose[i]),
        "crop_transform": None if face.crop_transform is None else _rounded(face.crop_transform),
        "landmarks_crop_px": _rounded(lm, 3),
        "landmarks_photo_px": photo_lm,
        "mesh": {**{suffix[1:]: f"{face.name}{suffix}" for suffix in FORMATS},
                 "vertices": int(out.shape.shape[1]),
                 "units": "millimetres, face-model canonical frame and pose; colours = albedo"},
    }


@dataclass
class ReconstructResult:
    """What ``reconstruct`` did: one JSON path per reconstructed face, the number of photos these
    faces came from, the skipped photos and folders, the viewer's page (None when no face was usable)."""

    out_dir: Path
    written: list[Path] = field(default_factory=list)
    photos: int = 0
    skipped: list[Skipped] = field(default_factory=list)
    view: Path | None = None


def write_batch(trained, faces: list[FaceInput], out_dir: Path, view: ViewBuilder | None = None,
                truths=None) -> list[Path]:
    """Run one batch through the network and write every file of each photo; returns JSON paths."""
    crops = torch.stack([f.crop for f in faces])
    return write_outputs(trained, faces, crops, trained.predict(crops, landmarks=stacked_landmarks(faces)), out_dir,
                         view=view, truths=truths)


def write_outputs(trained, faces: list[FaceInput], crops: torch.Tensor, out, out_dir: Path,
                  residuals: list[dict] | None = None, view: ViewBuilder | None = None,
                  truths=None) -> list[Path]:
    """Every file of each photo of a rendered ``FaceNetOutput`` ``out``; returns the JSON paths.

    Each photo is added to the viewer's page ``view`` when given, with its per-vertex error when
    ``truths`` ({resolved photo path: (V, 3) mm true mesh}) has the photo."""
    albedo_v = trained.vertex_albedo(out)
    tri = trained.face_model.faces.cpu().numpy()
    panel_images = figures.panels(trained, crops, out)
    written = []
    for i, face in enumerate(faces):
        verts = out.shape[i].cpu().numpy()
        colours = albedo_v[i].cpu().numpy()
        for suffix in FORMATS:
            write_mesh(out_dir / f"{face.name}{suffix}", verts, tri, colours)
        over = figures.photo_overlay(face, trained.face_model, trained.image_size, out.shape[i:i + 1],
                                     albedo_v[i:i + 1], out.pose[i:i + 1], out.light[i:i + 1])
        Image.fromarray(over).save(out_dir / f"{face.name}_overlay.png")
        Image.fromarray(panel_images[i]).save(out_dir / f"{face.name}_panel.png")
        record = codes_record(trained, face, out, i)
        if residuals is not None:
            record["refined"] = True
            record["residuals"] = residuals[i]
        path = write_json(out_dir / f"{face.name}.json", record)
        written.append(path)
        if view is not None:
            truth = None if truths is None else truths.get(Path(face.path).resolve())
            error = None if truth is None else vertex_error(verts, truth)
            photo, over_window = face_window(face, over)
            view.add(ViewFace(face.name, "", photo, over_window, [ViewMesh("mesh", verts, colours, error)],
                              codes_view(record)))
    return written


def reconstruct(
    images: Sequence[str | Path],
    checkpoint: str | Path,
    out_dir: str | Path,
    batch_size: int = 8,
    aligned: bool = False,
    device: str = "cpu",
    detector: str = "mediapipe",
    progress: bool = True,
    log: Callable[[str], None] = _stderr,
    trained=None,
    refine: bool = False,
    same_person: bool = False,
    overrides: Sequence[str] = (),
    truths: Mapping[Path, np.ndarray] | None = None,
) -> ReconstructResult:
    """Reconstruct every face photo in ``images`` (files and folders) into ``out_dir``.

    Args:
        images: photo files and folders (searched recursively; a folder without photos is skipped).
        checkpoint: run folder or checkpoint file.
        out_dir: output folder (created).
        batch_size: photos per network call.
        aligned: the photos are training crops already (no detection / alignment).
        device: "cpu" or "cuda".
        detector: face detector for raw photos (``photoface.data.prepare.faces.DETECTORS``).
        progress: show a progress bar.
        log: where messages about skipped photos go.
        trained: an already loaded :class:`~photoface.run.inference.Trained` (then
            ``checkpoint`` is ignored).
        refine: refine each reconstruction with the fitting objective (module docstring).
        same_person: with ``refine``, all photos are one person (one shared identity code).
        overrides: ``key=value`` fit-config overrides for ``refine``.
        truths: {photo path: (V, 3) mm true mesh in the canonical frame} for the viewer's error maps.

    Raises:
        PhotofaceError: a bad checkpoint or a missing input path, before anything is written.
    """
    from tqdm import tqdm

    from photoface.run.inference import load_trained

    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    empty: list[Skipped] = []
    paths = collect_images(images, skipped=empty)
    trained = trained or load_trained(checkpoint, device=device)
    cfg = refine_config(trained, overrides) if refine else None
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = ReconstructResult(out_dir)
    view = ViewBuilder(trained.face_model.faces.cpu().numpy(), "photoface reconstruct",
                       f"checkpoint {trained.checkpoint}, step {trained.step}",
                       occlusion=model_occlusion(trained.face_model).cpu().numpy())
    truths = {Path(k).resolve(): v for k, v in (truths or {}).items()}
    for item in empty:
        result.skipped.append(item)
        log(item.message())
    bar = tqdm(desc="reconstruct", unit="face", disable=not progress)
    photos: set[Path] = set()
    try:
        faces = load_faces(paths, trained.image_size, aligned, detector, trained.uses_landmarks, all_faces=True)
        usable = _usable(faces, result, log, photos)
        if not refine:
            for batch in batches(usable, batch_size):
                result.written += write_batch(trained, batch, out_dir, view, truths)
                bar.update(len(batch))
        else:
            from photoface.apps.refine import refine_group

            groups = [list(usable)] if same_person else ([face] for face in usable)
            for group in groups:
                if not group:
                    continue
                out, residuals = refine_group(trained, group, cfg)
                crops = torch.stack([f.crop for f in group])
                result.written += write_outputs(trained, group, crops, out, out_dir, residuals, view, truths)
                bar.update(len(group))
    finally:
        bar.close()
    result.photos = len(photos)
    if len(view):
        view.title = f"photoface reconstruct: {len(view)} face(s) from {result.photos} photo(s)"
        result.view = view.write(out_dir / VIEW_FILE)
    return result


def refine_config(trained, overrides: Sequence[str] = ()):
    """The fit config of ``--refine``: the run's own ``fit`` section with the ``key=value`` overrides."""
    from photoface.fit.config import apply_overrides

    return apply_overrides(trained.config.fit, list(overrides))


def _usable(items, result: ReconstructResult, log, photos: set[Path]):
    """The faces of ``items``; skipped inputs go to ``result``, each face's photo into ``photos``."""
    for item in items:
        if isinstance(item, Skipped):
            result.skipped.append(item)
            log(item.message())
        else:
            log_notes(item, log)
            photos.add(item.path)
            yield item
