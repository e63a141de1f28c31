"""``photoface fit``: photo collections → one fitted 3D face per person, per-photo results, labels.

Input: a folder of person folders (one person per folder; raw photos go through ``prepare``:
detection, 68 landmarks, alignment, mask, into ``OUT/prepared``), or an already prepared dataset
(a folder with meta.json + index.jsonl). Empty person folders, photos without a face and the
other faces of multi-face photos (a photo keeps the face most like the person's other photos) are
left out and named, with the reason, on screen and in ``fit_report.tsv``
(``photoface.apps.fit_inputs``). People are fitted one at a time (``photoface.fit``), so memory
stays at one person's batch.

Output folder::

    OUT/<person>/NAME.obj, .ply, .glb  the photo's fitted shape (with its expression), the person's albedo
                                       as colours (read off their photos, ``photoface.fit.texture``;
                                       ``--set texture=model``: the fitted model albedo),
                                       mm (the .glb in metres), the face model's canonical frame and
                                       vertex order
    OUT/<person>/NAME.json             codes (identity vector, expression, pose code, light, albedo),
                                       physical pose, landmarks (crop and photo px), residuals, failure;
                                       ``codes.identity_single``: this photo's own identity, from its
                                       landmarks and pixels (``FitConfig.single_photo_fits``,
                                       ``photoface.fit.single``), next to the shared one
    OUT/<person>/NAME_overlay.png      the render over the original photo (over the crop when the row
                                       has no source photo, e.g. synthetic data)
    OUT/<person>/identity.obj, .ply, .glb  the shared identity, neutral expression
    OUT/<person>/person.json           identity vector, per-photo residuals, failures, notes
    OUT/labels/                        a prepared dataset with the fitted labels (photoface.fit.labels;
                                       linear-model fits only)
    OUT/fit_report.tsv                 every photo, face or folder left out and every failed fit, with
                                       its reason (``photoface.apps.fit_inputs`` for the keys)
    OUT/view.html                      every photo's mesh beside the person's identity, turnable, with
                                       the codes and, for synthetic data, the error to the true mesh
                                       (``photoface.apps.viewer``)

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

import re
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from photoface.apps import figures
from photoface.apps.fit_inputs import PREPARED_DIR, fit_inputs
from photoface.apps.inputs import FaceInput, unique_names
from photoface.apps.preview import model_occlusion
from photoface.apps.viewer import VIEW_FILE, ViewBuilder, ViewFace, ViewMesh, codes_view, face_window, vertex_error
from photoface.atomic import write_atomic
from photoface.data.format import PreparedDataset
from photoface.data.prepare.align import apply_transform, invert_transform
from photoface.errors import InputFileError, PhotofaceError
from photoface.facemodel.export import FORMATS, write_mesh
from photoface.fit.collection import fit_collection, person_rows
from photoface.fit.config import FitConfig, apply_overrides
from photoface.fit.labels import LabelWriter
from photoface.fit.texture import fuse, leave_one_out, vertex_samples
from photoface.jsonfile import write_json

REPORT_FILE = "fit_report.tsv"
LABELS_DIR = "labels"


def _stderr(message: str) -> None:
    from tqdm import tqdm

    tqdm.write(message, file=sys.stderr)


@dataclass
class FitRunResult:
    """What ``fit_photos`` did: output folder, people fitted, photo JSON paths, failures
    {photo: reason}, skipped {photo, face or folder: reason} (``fit_inputs``), notes
    {person: [remarks]}, the labels dataset and the viewer's page."""

    out_dir: Path
    people: int = 0
    written: list[Path] = field(default_factory=list)
    failures: dict[str, str] = field(default_factory=dict)
    skipped: dict[str, str] = field(default_factory=dict)
    notes: dict[str, list[str]] = field(default_factory=dict)
    labels: PreparedDataset | None = None
    view: Path | None = None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "person"


def _face_input(ds: PreparedDataset, row, name: str) -> FaceInput:
    """The row as a ``FaceInput`` (crop + original photo) for ``figures.photo_overlay``."""
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
        "mesh": {**{suffix[1:]: f"{name}{suffix}" for suffix in FORMATS},
                 "units": "millimetres, face-model canonical frame and pose; colours = albedo"},
    }
    if "beta" in codes:
        rec["codes"]["albedo"] = _r(codes["beta"])
    if fit.singles:
        single = fit.singles[i]
        rec["codes"]["identity_single"] = _r(single.params.identity_vector())
        rec["single_fit"] = {"landmark_rms_px": float(single.rms_px[0]), "landmark_nme": float(single.nme[0]),
                             "failure": single.failures.get(0)}
    return rec


def person_albedo(face_model, fit, decoded, load_input: Callable[[int], FaceInput], size: int,
                  cfg: FitConfig) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The (V, 3) albedo written on the person's meshes, and per photo the one its overlay is drawn
    with: read off the photos (``FitConfig.texture = "photos"``, ``photoface.fit.texture``; each
    overlay with the albedo of the OTHER photos when there are several) or the fitted model albedo
    ("model"). ``load_input(i)`` gives photo i; photos are read one at a time, so memory stays at
    one photo beside the fit (and each photo is decoded again for its overlay). ``decoded``: the
    fit's ``params.decode()``."""
    prior, d = fit.params.albedo()[0], decoded
    n = d.shape.shape[0]
    if cfg.texture == "model":
        return prior, [prior] * n
    pad = int(round(figures.OVERLAY_MARGIN * size * cfg.texture_scale))  # the overlay's canvas: all it shows
    estimates, weights = [], []
    for i in range(n):
        image, valid = load_input(i).sharp_crop(cfg.texture_scale, pad)
        albedo, weight = vertex_samples(d.shape[i:i + 1], d.pose[i:i + 1], d.light[i:i + 1],
                                        image[None].to(d.shape.device), valid[None].to(d.shape.device),
                                        face_model.faces, cfg.texture_scale, pad, cfg)
        estimates.append(albedo)
        weights.append(weight)
    albedo, weight = torch.cat(estimates), torch.cat(weights)
    whole = fuse(albedo, weight, face_model.mirror, prior, cfg).albedo
    if n == 1:
        return whole, [whole]
    return whole, leave_one_out(albedo, weight, face_model.mirror, prior, cfg)


def write_person(ds: PreparedDataset, face_model, model_name: str, rows, fit, folder: Path,
                 view: ViewBuilder | None, cfg: FitConfig) -> list[Path]:
    """Every output file of one person (module docstring); returns the photo JSON paths. Each photo
    is added to the viewer's page ``view`` when given. ``cfg.texture`` chooses the meshes' colours."""
    folder.mkdir(parents=True, exist_ok=True)
    tri = face_model.faces.cpu().numpy()
    codes = fit.params.codes()
    with torch.no_grad():
        d = fit.params.decode()
    names = unique_names([Path(r.source or r.image) for r in rows])
    neutral = fit.params.neutral_shape()[0].cpu().numpy()
    albedo_t, overlay_albedo = person_albedo(face_model, fit, d, lambda i: _face_input(ds, rows[i], names[i]),
                                             ds.meta.image_size, cfg)
    albedo = albedo_t.cpu().numpy()
    identity = ViewMesh("identity (neutral)", neutral, albedo, key=folder.name)
    written = []
    for i, (row, name) in enumerate(zip(rows, names)):
        verts = d.shape[i].cpu().numpy()
        for suffix in FORMATS:
            write_mesh(folder / f"{name}{suffix}", verts, tri, albedo)
        face = _face_input(ds, row, name)
        over = figures.photo_overlay(face, face_model, ds.meta.image_size, d.shape[i:i + 1], overlay_albedo[i][None],
                                     d.pose[i:i + 1], d.light[i:i + 1])
        overlay = Image.fromarray(over)
        write_atomic(folder / f"{name}_overlay.png", lambda f, im=overlay: im.save(f, format="PNG"))
        record = photo_record(row, name, codes, i, fit, model_name)
        path = write_json(folder / f"{name}.json", record)
        written.append(path)
        if view is not None:
            error = None if row.true_mesh is None else vertex_error(verts, ds.load_true_mesh(row).numpy())
            photo, over_window = face_window(face, over)
            view.add(ViewFace(name, folder.name, photo, over_window,
                              [ViewMesh("this photo", verts, albedo, error), identity], codes_view(record)))
    for suffix in FORMATS:
        write_mesh(folder / f"identity{suffix}", neutral, tri, albedo)
    person = {"identity": rows[0].identity, "face_model": model_name,
              "identity_vector": _r(fit.params.identity_vector()),
              "photos": names, "landmark_rms_px": _r(fit.rms_px, 4), "landmark_nme": _r(fit.nme, 5),
              "photometric_mse": [None if not np.isfinite(v) else round(float(v), 6) for v in fit.photo_error],
              "failures": {names[i]: why for i, why in fit.failures.items()}, "notes": fit.notes,
              "objective": {k: list(v) for k, v in fit.history.items()}}
    write_json(folder / "person.json", person)
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
    given = fit_inputs(inputs, out_dir, image_size, face_model, cfg, progress, detector)
    ds = given.dataset
    result = FitRunResult(out_dir, skipped=dict(given.skipped))
    for key, why in sorted(given.skipped.items()):
        log(f"skipped {key}: {why}")
    if len(ds) == 0:
        write_report(out_dir, result, labels=False)
        raise InputFileError(Path(inputs), f"no faces found in any photo (reasons in {out_dir / REPORT_FILE})")
    if trained is not None and ds.meta.image_size != trained.image_size:
        raise InputFileError(Path(inputs), f"is prepared at {ds.meta.image_size} px, but the network takes "
                                           f"{trained.image_size} px crops; prepare the photos at that size")
    labels = None if trained is not None else LabelWriter(out_dir / LABELS_DIR, ds, model_name,
                                                           model_hash(face_model))
    view = ViewBuilder(face_model.faces.cpu().numpy(), "photoface fit", f"face model {model_name}"
                       + ("" if trained is None else f", refining {trained.checkpoint}"),
                       occlusion=model_occlusion(face_model).cpu().numpy())
    bar = tqdm(total=len(ds), desc="fit", unit="photo", disable=not progress)
    try:
        for identity, rows, fit in fit_collection(ds, face_model, cfg, renderer=renderer, make_params=make_params):
            folder = out_dir / _slug(identity)
            result.written += write_person(ds, face_model, model_name, rows, fit, folder, view, cfg)
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
    write_report(out_dir, result, labels=labels is not None)
    if len(view):
        view.title = f"photoface fit: {result.people} people, {len(view)} photos"
        result.view = view.write(out_dir / VIEW_FILE)
    return result


def write_report(out_dir: Path, result: FitRunResult, labels: bool) -> Path:
    """``OUT/fit_report.tsv``: what was left out (``skipped: …``) and whose fit failed (``fit failed: …``)."""
    lines = ["# photo, face (PATH#k) or folder (PATH/)\treason (input paths as given; fitted photos as "
             "PERSON/NAME" + ("; failed fits stay in labels/ unlabeled" if labels else "") + ")"]
    lines += [f"{k}\tskipped: {v}" for k, v in sorted(result.skipped.items())]
    lines += [f"{k}\tfit failed: {v}" for k, v in sorted(result.failures.items())]
    return write_atomic(out_dir / REPORT_FILE, "\n".join(lines) + "\n")


__all__ = ["LABELS_DIR", "PREPARED_DIR", "REPORT_FILE", "FitRunResult", "fit_photos", "person_rows"]
