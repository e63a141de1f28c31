"""``photoface verify A B``: are two photos (or two photo collections) the same person?

Score: the cosine similarity of identity codes (``photoface.run.verification``), in
[-1, 1], higher = more alike. A side given as a folder is a photo collection: its code is the
mean of its photos' L2-normalised identity codes (normalising first keeps one photo with a large
code from dominating; the cosine ignores the length of the mean).

Decision: "same" when score >= threshold. The threshold is the one the evaluation calibrated on
held-out identities of the run, read from ``RUN/verification.json`` (key ``threshold``, as written
by ``photoface.run.verification.verification_report`` and by ``photoface demo``), unless
one is given explicitly. Without either there is no decision; the CLI then asks for
``--threshold``. Thresholds are calibrated on single-photo pairs; collection means tend to score
higher for the same person, so the decision on collections is conservative for "different".

Domains. A threshold only means something on photos like those it was calibrated on: calibrated
on synthetic faces, the demo run's threshold called every pair of real photos "same person" (two
different actresses at 0.97). So a calibration records its domain (``"domain": {"kind", "detector"}``):
``synthetic`` for the synthetic benchmark's aligned crops (a calibration file without the key is
one of those: photoface wrote no other before), ``photos`` for real photos that went through face
detection. The photos being compared are ``photos`` when they are detected (raw photos) and are
taken to be of the calibration's domain with ``--aligned`` (ready-made crops, usually a dataset's).
On a different kind there is no decision: the verdict says why, and how to get one:

* ``calibrate=PERSON_FOLDERS`` (``--calibrate``): the run's identity codes of every photo of a
  folder of person folders, all pairs, the TAR − FAR (balanced-accuracy) threshold
  (``photoface.evaluate.runner.verification_summary``), written to ``RUN/verification_photos.json``
  with domain ``photos`` (next to an exported model file: ``MODEL.verification_photos.json``) and
  used from then on for raw photos;
* or an explicit ``threshold``.

A different detector within the same kind still decides, with a note (landmarks, hence crops,
differ between detectors).
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from photoface.apps.inputs import (
    FaceInput,
    Skipped,
    batches,
    collect_images,
    load_faces,
    log_notes,
    stacked_landmarks,
)
from photoface.data.prepare.faces import DEFAULT_DETECTOR
from photoface.errors import InputFileError, PhotofaceError
from photoface.jsonfile import write_json
from photoface.run.layout import PHOTO_VERIFICATION_FILE, verification_path
from photoface.run.verification import cosine_similarity

SYNTHETIC, PHOTOS = "synthetic", "photos"


@dataclass
class Verdict:
    """score: cosine similarity; threshold and same: None when no threshold is known; same is also
    None when the threshold's domain is not the photos' (``refused`` says why);
    threshold_source: where the threshold came from; photos_a/photos_b: photos used per side;
    note: a remark on the decision (e.g. another detector than the calibration's)."""

    score: float
    threshold: float | None
    same: bool | None
    threshold_source: str
    photos_a: int
    photos_b: int
    refused: str | None = None
    note: str | None = None

    def describe(self) -> str:
        if self.refused is not None:
            return f"similarity {self.score:.4f}: no decision: {self.refused}"
        if self.threshold is None:
            return f"similarity {self.score:.4f} (no calibrated threshold: no decision)"
        cmp = ">=" if self.same else "<"
        verdict = "same person" if self.same else "different people"
        text = f"similarity {self.score:.4f} {cmp} threshold {self.threshold:.4f} ({self.threshold_source}): {verdict}"
        return text if self.note is None else f"{text} ({self.note})"


@dataclass
class Calibration:
    """A decision threshold with its provenance: kind/detector of the domain it was calibrated on."""

    threshold: float
    source: str
    kind: str
    detector: str | None


def photo_calibration_path(trained) -> Path:
    """Where ``--calibrate`` stores the real-photo threshold of a run (module docstring)."""
    if trained.run_dir is not None:
        return Path(trained.run_dir) / PHOTO_VERIFICATION_FILE
    ckpt = Path(trained.checkpoint)
    return ckpt.with_name(f"{ckpt.stem}.{PHOTO_VERIFICATION_FILE}")


def _calibration(data: dict, where) -> Calibration:
    thr, source = _threshold(data, where)
    domain = data.get("domain") or {"kind": SYNTHETIC, "detector": None}
    return Calibration(thr, source, str(domain.get("kind", SYNTHETIC)), domain.get("detector"))


def read_calibrations(trained) -> list[Calibration]:
    """Every calibration of a loaded run: the evaluation's (``RUN/verification.json`` or the one
    embedded in an exported model) and the real-photo one of ``--calibrate``, when they exist."""
    found = []
    if trained.calibration is not None:
        found.append(_calibration(trained.calibration, trained.calibration_source or trained.checkpoint))
    path = photo_calibration_path(trained)
    if path.is_file():
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise InputFileError(path, f"cannot read the calibration ({type(exc).__name__}: {exc})") from None
        found.append(_calibration(data, path))
    return found


def _threshold(data: dict, where) -> tuple[float, str]:
    try:
        thr = float(data["threshold"])
    except (ValueError, KeyError, TypeError) as exc:
        raise InputFileError(where, f"cannot read the calibrated threshold ({type(exc).__name__}: {exc})") from None
    if not np.isfinite(thr):
        raise InputFileError(where, f"threshold is not a finite number ({thr})")
    calibrated_on = data.get("calibrated_on") or data.get("threshold_calibrated_on") or "held-out identities"
    return thr, f"calibrated on {calibrated_on}, {where}"


@torch.no_grad()
def identity_codes(trained, faces: list[FaceInput], batch_size: int = 16) -> torch.Tensor:
    """(N, id_dim) identity codes of face crops (no rendering)."""
    codes = []
    for batch in batches(faces, batch_size):
        out = trained.predict(torch.stack([f.crop for f in batch]), render=False, landmarks=stacked_landmarks(batch))
        codes.append(out.id_code.float().cpu())
    return torch.cat(codes)


def collection_code(codes: torch.Tensor) -> np.ndarray:
    """(N, D) → (D,) mean of the L2-normalised codes."""
    return torch.nn.functional.normalize(codes.double(), dim=1).mean(0).numpy()


def calibrate(trained, person_folders: str | Path, detector: str = DEFAULT_DETECTOR, progress: bool = False) -> Calibration:
    """Calibrate the run's threshold on real photos (module docstring); writes and returns it."""
    import tempfile

    from photoface.evaluate.identity import network_vectors, prepared_photos
    from photoface.evaluate.runner import verification_summary

    with tempfile.TemporaryDirectory(prefix="photoface-calibrate-") as tmp:
        ds, _ = prepared_photos(person_folders, Path(tmp), trained.image_size, detector, progress)
        ids = [r.identity for r in ds.rows]
        summary = verification_summary(network_vectors(trained, ds)[0], ids) if ids else None
    if summary is None:
        raise PhotofaceError(f"{person_folders}: calibration needs at least two people and one person with two or "
                             f"more photos with a face (found {len(ids)} photos of {len(set(ids))} people)")
    path = photo_calibration_path(trained)
    record = {
        "threshold": summary["threshold"], "metric": "cosine", "eer": summary["eer"],
        "far_at_threshold": summary["far_at_threshold"], "tar_at_threshold": summary["tar_at_threshold"],
        "tar_at_far": summary["tar_at_far"], "threshold_rule": "maximises TAR - FAR (balanced accuracy) over all pairs",
        "calibrated_on": f"all {summary['pairs']} pairs of {len(ids)} real photos of {len(set(ids))} people "
                         f"({Path(person_folders).resolve()})",
        "checkpoint": str(Path(trained.checkpoint).resolve()), "step": trained.step,
        "domain": {"kind": PHOTOS, "detector": detector},
    }
    write_json(path, record)
    return _calibration(record, path)


def _side(path, trained, aligned, detector, log) -> tuple[np.ndarray, int]:
    paths = collect_images([path])
    faces = []
    for item in load_faces(paths, trained.image_size, aligned, detector, trained.uses_landmarks):
        if isinstance(item, Skipped):
            log(item.message())
        else:
            log_notes(item, log)
            faces.append(item)
    if not faces:
        raise PhotofaceError(f"{path}: no usable face photo")
    return collection_code(identity_codes(trained, faces)), len(faces)


def verify(
    a: str | Path,
    b: str | Path,
    checkpoint: str | Path,
    threshold: float | None = None,
    aligned: bool = False,
    device: str = "cpu",
    detector: str = "mediapipe",
    log: Callable[[str], None] = lambda m: print(m, file=sys.stderr),
    trained=None,
    require_threshold: bool = False,
    calibrate_on: str | Path | None = None,
) -> Verdict:
    """Compare photo or folder ``a`` with ``b`` (see the module docstring).

    Args:
        threshold: explicit decision threshold; default: the run's calibrated one (if any).
        trained: an already loaded ``Trained`` (then ``checkpoint`` is ignored).
        require_threshold: raise PhotofaceError (before any photo is processed) when no threshold
            is given and the run has none.
        calibrate_on: a folder of person folders of real photos: calibrate the threshold on them
            first (``calibrate``, stored for later calls).
    """
    from photoface.run.inference import load_trained

    trained = trained or load_trained(checkpoint, device=device)
    if calibrate_on is not None:
        calibrate(trained, calibrate_on, detector)
    calibrations = read_calibrations(trained)
    if threshold is not None:
        calibrations = [Calibration(float(threshold), "given", "any", None)]
    if not calibrations and require_threshold:
        where = verification_path(trained.run_dir) if trained.run_dir else f"the run folder of {trained.checkpoint}"
        raise PhotofaceError(
            f"no calibrated threshold: {where} does not exist (it is written by the evaluation on held-out "
            "identities, e.g. by `photoface demo`); pass --threshold T to decide with your own threshold"
        )
    code_a, n_a = _side(a, trained, aligned, detector, log)
    code_b, n_b = _side(b, trained, aligned, detector, log)
    score = float(cosine_similarity(code_a[None], code_b[None])[0])
    if not calibrations:
        return Verdict(score, None, None, "none", n_a, n_b)
    if aligned:  # ready-made crops: taken to be of the evaluation's domain
        cal = calibrations[0]
    else:
        matching = [c for c in calibrations if c.kind in (PHOTOS, "any")]
        if not matching:
            c = calibrations[0]
            return Verdict(score, c.threshold, None, c.source, n_a, n_b, refused=(
                f"the threshold {c.threshold:.4f} was calibrated on {c.kind} faces ({c.source}), these are real "
                "photos; calibrate on real people with --calibrate PERSON_FOLDERS (a folder with one folder of "
                "photos per person), or pass --threshold T"))
        cal = matching[-1]
    note = None
    if cal.kind == PHOTOS and not aligned and cal.detector not in (None, detector):
        note = f"calibrated with detector {cal.detector}, these photos went through {detector}"
    return Verdict(score, cal.threshold, score >= cal.threshold, cal.source, n_a, n_b, note=note)
