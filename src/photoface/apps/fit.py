"""``photoface fit``: photo collections → one fitted 3D face per person, per-photo results, labels.

Input: a folder of person folders (one person per folder; raw photos go through ``prepare``:
detection, 68 landmarks, alignment, mask, into ``OUT/prepared``), or an already prepared dataset
(a folder with meta.json + index.jsonl). People are fitted one at a time (``photoface.fit``), so
memory stays at one person's batch.

Output folder::

    OUT/<person>/NAME.obj, NAME.ply    the photo's fitted shape (with its expression), albedo colours,
                                       mm, the face model's canonical frame and vertex order
    OUT/<person>/NAME.json             codes (identity vector, expression, pose code, light, albedo),
                                       physical pose, landmarks (crop and photo px), residuals, failure
    OUT/<person>/NAME_overlay.png      the render over the original photo (over the crop when the row
                                       has no source photo, e.g. synthetic data)
    OUT/<person>/identity.obj, .ply    the shared identity, neutral expression
    OUT/<person>/person.json           identity vector, per-photo residuals, failures, notes
    OUT/labels/                        a prepared dataset with the fitted labels (photoface.fit.labels;
                                       linear-model fits only)
    OUT/fit_report.tsv                 every failed photo with its reason

NAME is the stem of the photo file (``-2``, ``-3`` appended to repeated stems), as ``reconstruct``
names its outputs.

With ``checkpoint`` (a run folder, checkpoint or exported model) the unknowns are the trained
network's codes, initialised by its encoder and decoded by its decoders
(``photoface.fit.network.NetworkParametrisation``): the network's test-time refinement. The codes
JSON then holds the network's codes (``identity`` = the shared identity code). No ``labels/`` are
written: the network's codes are not the face model's coefficients that ``train`` takes as labels.
Raw photos are prepared at the network's input size; a prepared dataset must have that size.
"""

from __future__ import annotations

import json
import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from photoface.apps import figures
from photoface.apps.inputs import FaceInput, unique_names
from photoface.atomic import write_atomic
from photoface.data.format import INDEX_FILE, META_FILE, PreparedDataset, load_dataset
from photoface.data.prepare.align import apply_transform, invert_transform
from photoface.errors import InputFileError, PhotofaceError
from photoface.facemodel.export import write_mesh
from photoface.fit.collection import fit_collection, person_rows
from photoface.fit.config import FitConfig, apply_overrides
from photoface.fit.labels import LabelWriter
from photoface.render.renderer import Renderer

REPORT_FILE = "fit_report.tsv"
LABELS_DIR = "labels"
PREPARED_DIR = "prepared"


def _stderr(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


@dataclass
class FitRunResult:
    """What ``fit_photos`` did: output folder, people fitted, photo JSON paths, failures
    {photo: reason}, notes {person: [remarks]}, and the labels dataset."""

    out_dir: Path
    people: int = 0
    written: list[Path] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    labels: PreparedDataset | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "person"


def input_dataset(inputs: str | Path, out_dir: Path, image_size: int, progress: bool,
                  detector: str = "mediapipe") -> PreparedDataset:
    """The prepared dataset to fit: ``inputs`` itself, or ``inputs`` prepared into OUT/prepared."""
    root = Path(inputs)
    if not root.exists():
        raise InputFileError(root, "no such folder")
    if (root / META_FILE).is_file() or (root / INDEX_FILE).is_file():
        ds = load_dataset(root)
        if len(ds) == 0:
            raise InputFileError(root, "is a prepared dataset with no photos")
        return ds
    from photoface.data.prepare import PrepareOptions, prepare_photos
    from photoface.data.prepare.pipeline import REPORT_FILE as PREPARE_REPORT

    ds = prepare_photos(root, out_dir / PREPARED_DIR, PrepareOptions(image_size=image_size, detector=detector),
                       progress=progress)
    if len(ds) == 0:
        raise InputFileError(root, f"no faces found in any photo (reasons in {out_dir / PREPARED_DIR / PREPARE_REPORT})")
    return ds


def _face_input(ds: PreparedDataset, row, name: str) -> FaceInput:
    """The row as a ``FaceInput`` (crop + original photo) for ``figures.overlay``."""
    from photoface.data.prepare.images import load_photo

    crop = ds.load_image(row)
    crop_u8 = figures.to_uint8(crop)
    if row.source and row.crop_transform is not None and Path(row.source).is_file():
        try:
            photo = load_photo(row.source, max_side=2048)
            return FaceInput(Path(row.source), name, crop, photo.rgb, photo.scale, row.crop_transform)
        except InputFileError:
            pass  # the original moved or broke since prepare: overlay on the crop instead
    return FaceInput(ds.root / row.image, name, crop, crop_u8, 1.0, None)


@torch.no_grad()
def _render(face_model, decoded, i: int, size: int, scale: int):
    pose = decoded.pose[i:i + 1].clone()
    pose[:, 3:] = pose[:, 3:] * scale
    r = Renderer(face_model.faces, size * scale).render(decoded.shape[i:i + 1], decoded.albedo[i:i + 1], pose,
                                                         decoded.light[i:i + 1])
    return r.image.clamp(0.0, 1.0)[0], r.mask[0]


def _r(x, digits: int = 6):
    return np.round(np.asarray(x, np.float64), digits).tolist()


def photo_record(row, name: str, codes: dict, i: int, fit, model_name: str) -> dict:
    """The JSON record of photo ``i`` of a person (module docstring)."""
    lm = fit.landmarks2d[i]
    photo_lm = None if row.crop_transform is None else _r(apply_transform(invert_transform(row.crop_transform), lm), 3)
    pose = codes["pose"][i]
    identity = codes["id_code"] if "id_code" in codes else codes["alpha_id"]
    expression = codes["exp_code"] if "exp_code" in codes else codes["alpha_exp"]
    rec = {
        "photo": row.source or row.image, "identity": row.identity, "face_model": model_name,
        "codes": {"identity": _r(identity), "expression": _r(expression[i]),
                  "pose": _r(codes["pose_code"][i]), "light": _r(codes["light"][i])},
        "pose": {"pitch_deg": float(pose[0]), "yaw_deg": float(pose[1]), "roll_deg": float(pose[2]),
                 "scale_px_per_mm": float(pose[3]), "tx_px": float(pose[4]), "ty_px": float(pose[5])},
        "crop_transform": None if row.crop_transform is None else _r(row.crop_transform),
        "landmarks_crop_px": _r(lm, 3), "landmarks_photo_px": photo_lm,
        "residuals": {"landmark_rms_px": float(fit.rms_px[i]), "landmark_nme": float(fit.nme[i]),
                      "photometric_mse": None if not np.isfinite(fit.photo_error[i]) else float(fit.photo_error[i])},
        "failure": fit.failures.get(i),
        "mesh": {"obj": f"{name}.obj", "ply": f"{name}.ply",
                 "units": "millimetres, face-model canonical frame and pose; colours = albedo"},
    }
    if "beta" in codes:
        rec["codes"]["albedo"] = _r(codes["beta"])
    return rec


def write_person(ds: PreparedDataset, face_model, model_name: str, rows, fit, folder: Path) -> list[Path]:
    """Every output file of one person (module docstring); returns the photo JSON paths."""
    folder.mkdir(parents=True, exist_ok=True)
    tri = face_model.faces.cpu().numpy()
    codes = fit.params.codes()
    with torch.no_grad():
        d = fit.params.decode()
    names = unique_names([Path(r.source or r.image) for r in rows])
    written = []
    for i, (row, name) in enumerate(zip(rows, names)):
        verts, colours = d.shape[i].cpu().numpy(), d.albedo[i].cpu().numpy()
        write_mesh(folder / f"{name}.obj", verts, tri, colours)
        write_mesh(folder / f"{name}.ply", verts, tri, colours)
        face = _face_input(ds, row, name)
        scale = figures.overlay_scale(face)
        rgb, mask = _render(face_model, d, i, ds.meta.image_size, scale)
        overlay = Image.fromarray(figures.overlay(face, rgb, mask, scale))
        write_atomic(folder / f"{name}_overlay.png", lambda f, im=overlay: im.save(f, format="PNG"))
        path = write_atomic(folder / f"{name}.json", json.dumps(photo_record(row, name, codes, i, fit, model_name),
                                                               indent=1))
        written.append(path)
    neutral = fit.params.neutral_shape()[0].cpu().numpy()
    albedo = fit.params.albedo()[0].cpu().numpy()
    write_mesh(folder / "identity.obj", neutral, tri, albedo)
    write_mesh(folder / "identity.ply", neutral, tri, albedo)
    person = {"identity": rows[0].identity, "face_model": model_name,
              "identity_vector": _r(fit.params.identity_vector()),
              "photos": names, "landmark_rms_px": _r(fit.rms_px, 4), "landmark_nme": _r(fit.nme, 5),
              "photometric_mse": [None if not np.isfinite(v) else round(float(v), 6) for v in fit.photo_error],
              "failures": {names[i]: why for i, why in fit.failures.items()}, "notes": fit.notes,
              "objective": {k: list(v) for k, v in fit.history.items()}}
    write_atomic(folder / "person.json", json.dumps(person, indent=1))
    return written


def summary_line(identity: str, fit) -> str:
    """One line per person: photos, landmark RMS and NME, photometric error, failures, notes."""
    pe = fit.photo_error[np.isfinite(fit.photo_error)]
    photo = f", photometric MSE {pe.mean():.4f}" if len(pe) else ""
    failed = f", {len(fit.failures)} failed" if fit.failures else ""
    note = f" ({'; '.join(fit.notes)})" if fit.notes else ""
    return (f"{identity}: {len(fit.rms_px)} photo(s), landmark RMS {np.mean(fit.rms_px):.2f} px "
            f"(NME {100 * np.mean(fit.nme):.2f} %){photo}{failed}{note}")


def fit_photos(inputs: str | Path, out_dir: str | Path, model: str = "builtin:demo", iterations: int | None = None,
               overrides: Sequence[str] = (), image_size: int = 128, progress: bool = True,
               log: Callable[[str], None] = _stderr, checkpoint: str | Path | None = None,
               device: str = "cpu", detector: str = "mediapipe") -> FitRunResult:
    """``photoface fit``: fit every person of ``inputs`` into ``out_dir`` (module docstring).

    Args:
        inputs: a folder of person folders, or a prepared dataset.
        model: face-model ``.npz`` or ``builtin:demo`` / ``builtin:paper``.
        iterations: Adam iterations of the full render stage (``FitConfig.photo_iterations``).
        overrides: ``key=value`` FitConfig overrides.
        image_size: crop size for raw photos (prepared datasets keep theirs).
        checkpoint: refine a trained network's codes instead (module docstring); ``model`` and
            ``image_size`` are then the network's.
        detector: face detector for raw photos (``photoface.data.prepare.faces.DETECTORS``).
    """
    from tqdm import tqdm

    from photoface.facemodel import face_model_name, load_face_model, model_hash

    if iterations is not None and iterations < 0:
        raise PhotofaceError(f"--iterations must be >= 0, got {iterations}")
    if not Path(inputs).exists():
        raise InputFileError(Path(inputs), "no such folder")
    trained = make_params = renderer = None
    if checkpoint is not None:
        from photoface.run.inference import load_trained

        trained = load_trained(checkpoint, device=device)
    # a run's own fit settings for its refinement; the defaults for a face model
    cfg = apply_overrides(FitConfig() if trained is None else trained.config.fit, list(overrides))
    if iterations is not None:
        cfg = apply_overrides(cfg, [f"photo_iterations={int(iterations)}"])
    if trained is not None:
        from photoface.fit.network import NetworkParametrisation

        face_model, model_name = trained.face_model, str(trained.config.model.face_model)
        image_size, renderer = trained.image_size, trained.net.renderer

        def make_params(batch):
            return NetworkParametrisation.from_encoder(trained, batch.images, cfg, landmarks=batch.landmarks)
    else:
        face_model, model_name = load_face_model(model), face_model_name(model)
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ds = input_dataset(inputs, out_dir, image_size, progress, detector)
    if trained is not None and ds.meta.image_size != trained.image_size:
        raise InputFileError(Path(inputs), f"is prepared at {ds.meta.image_size} px, but the network takes "
                                           f"{trained.image_size} px crops; prepare the photos at that size")
    result = FitRunResult(out_dir)
    labels = None if trained is not None else LabelWriter(out_dir / LABELS_DIR, ds, model_name,
                                                           model_hash(face_model))
    bar = tqdm(total=len(ds), desc="fit", unit="photo", disable=not progress)
    try:
        for identity, rows, fit in fit_collection(ds, face_model, cfg, renderer=renderer, make_params=make_params):
            folder = out_dir / _slug(identity)
            result.written += write_person(ds, face_model, model_name, rows, fit, folder)
            if labels is not None:
                labels.add_person(rows, fit)
            names = unique_names([Path(r.source or r.image) for r in rows])
            for i, why in sorted(fit.failures.items()):
                result.failures[f"{_slug(identity)}/{names[i]}"] = why
            if fit.notes:
                result.notes[identity] = list(fit.notes)
            result.people += 1
            bar.update(len(rows))
            log(summary_line(identity, fit))
    except BaseException:
        if labels is not None:
            labels.abort()
        raise
    finally:
        bar.close()
    result.labels = None if labels is None else labels.close()
    lines = ["# photo\treason (photos whose fit failed" + ("" if labels is None else "; they stay in labels/ unlabeled")
             + ")"]
    lines += [f"{k}\t{v}" for k, v in sorted(result.failures.items())]
    write_atomic(out_dir / REPORT_FILE, "\n".join(lines) + "\n")
    return result


__all__ = ["LABELS_DIR", "REPORT_FILE", "FitRunResult", "fit_photos", "person_rows"]
