"""``photoface now-predict``: a NoW submission made by photoface, single-image or multi-image.

For every image of a NoW image list it writes the challenge's prediction layout
(``now_files``): ``OUT/<subject>/<challenge>/<image>.obj`` and ``<image>.npy`` (the 7 landmarks,
vertices ``landmarks68[LANDMARKS7_FROM_68]`` of the mesh). The mesh is the fitted identity with a
neutral expression, in the face model's millimetres (NoW's alignment fits the scale anyway); the
scans are neutral, and an expression would only add error that is not shape.

Both modes run the fitter of ``photoface fit`` (``apps.fit.fit_photos``: detection, landmarks,
alignment, the render-and-compare fit; with ``checkpoint`` the trained network's refinement):

- ``single-image`` (NoW's own setting): every image is its own person, fitted alone.
- ``multi-image``: all images of a subject (every challenge) are one person, fitted jointly; the
  one identity mesh is submitted for each of the subject's images. This uses other images of the
  same person, which NoW's single-image protocol does not allow: its numbers are labelled
  ``multi-image`` in ``OUT/now_predictions.json`` and must be scored with
  ``photoface evaluate now --mode multi-image`` and reported apart, as FlowFace reports its single-
  and multi-view results apart.

Images are looked for under ``images`` (default ``NOW_ROOT/NoW_Dataset/final_release_version/
iphone_pictures``) as ``<subject>/<challenge>/<image>.<jpg|png|...>``. The photos are linked (or
copied where links are not possible) into ``OUT/_photos/<person>/``; the fit goes to ``OUT/_fit``.
Images without a detected face get no prediction and are listed under ``missing`` (NoW counts them
missing); fits that the fitter flags (landmarks far off, ...) are submitted all the same and listed
under ``fit_flagged``: leaving the hard images out would flatter the numbers.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import numpy as np

from photoface.atomic import write_atomic
from photoface.errors import InputFileError
from photoface.evaluate.now import MODES
from photoface.evaluate.now_files import IMAGE_LISTS, LANDMARKS7_FROM_68, read_image_list, read_mesh
from photoface.jsonfile import write_json

IMAGE_DIR = Path("NoW_Dataset/final_release_version/iphone_pictures")
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".JPG", ".JPEG", ".PNG")


def _find_image(root: Path, subject: str, challenge: str, name: str) -> Path | None:
    for suffix in IMAGE_SUFFIXES:
        p = root / subject / challenge / f"{name}{suffix}"
        if p.is_file():
            return p
    return None


def _link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    if dst.exists() or dst.is_symlink():
        dst.unlink()
    try:
        os.symlink(src.resolve(), dst)
    except OSError:
        shutil.copyfile(src, dst)


def now_predictions(data, out, *, mode: str = "single-image", image_set: str = "val", image_list=None,
                    images=None, model: str = "builtin:demo", checkpoint=None, iterations: int | None = None,
                    overrides=(), image_size: int = 128, progress: bool = True, log=None) -> dict:
    """Write a NoW prediction folder (module docstring); returns the summary also written to
    ``OUT/now_predictions.json``."""
    from photoface.apps.fit import fit_photos
    from photoface.facemodel import load_face_model

    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    root = Path(data)
    image_list = Path(image_list) if image_list is not None else root / IMAGE_LISTS[image_set]
    image_root = Path(images) if images is not None else root / IMAGE_DIR
    out = Path(out)
    entries = read_image_list(image_list)
    staging = out / "_photos"
    person_of, missing = {}, []
    for im in entries:
        src = _find_image(image_root, im.subject, im.challenge, im.name)
        if src is None:
            missing.append({"image": im.line, "reason": f"no image under {image_root / im.subject / im.challenge}"})
            continue
        person = im.subject if mode == "multi-image" else f"{im.subject}__{im.challenge}__{im.name}"
        person_of[im.line] = (person, f"{im.challenge}__{im.name}")
        _link(src, staging / person / f"{im.challenge}__{im.name}{src.suffix.lower()}")
    if not person_of:
        raise InputFileError(image_root, "none of the listed images was found")
    fit_dir = out / "_fit"
    kwargs = {"log": log} if log is not None else {}
    res = fit_photos(staging, fit_dir, model=model, iterations=iterations, overrides=overrides,
                     image_size=image_size, progress=progress, checkpoint=checkpoint, **kwargs)
    if checkpoint is not None:
        from photoface.run.inference import load_trained

        lm68 = load_trained(checkpoint).face_model.landmarks68.numpy()
    else:
        lm68 = load_face_model(model).landmarks68.numpy()
    written, flagged = [], []
    for im in entries:
        if im.line not in person_of:
            continue
        person, _ = person_of[im.line]
        identity = fit_dir / person / "identity.obj"
        reasons = [why for k, why in res.failures.items() if k.startswith(f"{person}/")]
        if not identity.is_file():
            missing.append({"image": im.line, "reason": "; ".join(reasons) or "no face found"})
            continue
        if reasons:  # submitted all the same: leaving hard images out would flatter the numbers
            flagged.append({"image": im.line, "reason": "; ".join(reasons)})
        verts, faces = read_mesh(identity)
        target = out / im.subject / im.challenge / im.name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(identity, target.with_suffix(".obj"))
        write_atomic(target.with_suffix(".npy"), lambda fh, v=verts: np.save(fh, v[lm68[LANDMARKS7_FROM_68]]))
        written.append(im.line)
    summary = {"mode": mode, "image_list": str(image_list.resolve()), "images": len(entries),
               "predicted": len(written), "missing": missing, "fit_flagged": flagged,
               "people_fitted": res.people, "model": str(checkpoint or model),
               "note": ("multi-image: one identity per subject, fitted to all its listed images; not a "
                        "single-image NoW result" if mode == "multi-image" else "single-image: each image fitted alone")}
    write_json(out / "now_predictions.json", summary)
    return summary
