"""``photoface verify A B``: are two photos (or two photo collections) the same person?

Score: the cosine similarity of identity codes (``photoface.evaluate.verification``), in
[-1, 1], higher = more alike. A side given as a folder is a photo collection: its code is the
mean of its photos' L2-normalised identity codes (normalising first keeps one photo with a large
code from dominating; the cosine ignores the length of the mean).

Decision: "same" when score >= threshold. The threshold is the one the evaluation calibrated on
held-out identities of the run, read from ``RUN/verification.json`` (key ``threshold``, as written
by ``photoface.evaluate.verification.verification_report`` and by ``photoface demo``), unless
one is given explicitly. Without either there is no decision; the CLI then asks for
``--threshold``. Thresholds are calibrated on single-photo pairs; collection means tend to score
higher for the same person, so the decision on collections is conservative for "different".
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from photoface.apps.inputs import FaceInput, Skipped, batches, collect_images, load_faces, stacked_landmarks
from photoface.errors import InputFileError, PhotofaceError
from photoface.evaluate.verification import cosine_similarity
from photoface.run.layout import verification_path


@dataclass
class Verdict:
    """score: cosine similarity; threshold and same: None when no threshold is known;
    threshold_source: where the threshold came from; photos_a/photos_b: photos used per side."""

    score: float
    threshold: float | None
    same: bool | None
    threshold_source: str
    photos_a: int
    photos_b: int

    def describe(self) -> str:
        if self.threshold is None:
            return f"similarity {self.score:.4f} (no calibrated threshold: no decision)"
        cmp = ">=" if self.same else "<"
        verdict = "same person" if self.same else "different people"
        return f"similarity {self.score:.4f} {cmp} threshold {self.threshold:.4f} ({self.threshold_source}): {verdict}"


def read_threshold(trained) -> tuple[float, str] | None:
    """(threshold, source) of a loaded run's calibration (``RUN/verification.json`` or the one
    embedded in an exported model), or None when there is none."""
    data = trained.calibration
    if data is None:
        return None
    where = trained.calibration_source or trained.checkpoint
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


def _side(path, trained, aligned, detector, log) -> tuple[np.ndarray, int]:
    paths = collect_images([path])
    faces = []
    for item in load_faces(paths, trained.image_size, aligned, detector, trained.uses_landmarks):
        if isinstance(item, Skipped):
            log(item.message())
        else:
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
) -> Verdict:
    """Compare photo or folder ``a`` with ``b`` (see the module docstring).

    Args:
        threshold: explicit decision threshold; default: the run's calibrated one (if any).
        trained: an already loaded ``Trained`` (then ``checkpoint`` is ignored).
        require_threshold: raise PhotofaceError (before any photo is processed) when no threshold
            is given and the run has none.
    """
    from photoface.run.inference import load_trained

    trained = trained or load_trained(checkpoint, device=device)
    if threshold is not None:
        calibrated = (float(threshold), "given")
    else:
        calibrated = read_threshold(trained)
    if calibrated is None and require_threshold:
        where = verification_path(trained.run_dir) if trained.run_dir else f"the run folder of {trained.checkpoint}"
        raise PhotofaceError(
            f"no calibrated threshold: {where} does not exist (it is written by the evaluation on held-out "
            "identities, e.g. by `photoface demo`); pass --threshold T to decide with your own threshold"
        )
    code_a, n_a = _side(a, trained, aligned, detector, log)
    code_b, n_b = _side(b, trained, aligned, detector, log)
    score = float(cosine_similarity(code_a[None], code_b[None])[0])
    if calibrated is None:
        return Verdict(score, None, None, "none", n_a, n_b)
    thr, source = calibrated
    return Verdict(score, thr, score >= thr, source, n_a, n_b)
