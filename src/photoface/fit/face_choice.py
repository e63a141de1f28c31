"""Which face of a multi-face photo in a person folder is the person: the one most like their other photos.

A person folder's photo may show several people (a group photo, a face in the background). For
each such photo the candidates are its faces; the references are the person's photos with one
face. Every candidate and reference is fitted to its 68 landmarks alone
(``photoface.fit.landmark_fit``, the model's identity coefficients, standard normal), and the
candidate whose identity is closest (Euclidean, i.e. Mahalanobis under the model's prior) to the
mean identity of the references is kept. Without references (the person's only photo, or all of
their photos have several faces) the largest face is kept: the subject of a portrait is normally
the face the photographer framed largest, and ``FaceDetector.detect`` orders faces largest first.

Landmark identities are weak evidence (68 points separate people poorly: docs/evaluation.md,
"Identity on real photos"), so the rule is reported per photo, with the distances, and the
faces left out are named in ``fit_report.tsv``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photoface.fit.config import FitConfig
from photoface.fit.landmark_fit import fit_landmarks


@dataclass
class FaceChoice:
    """index: the kept candidate; rule: "largest face" or "closest identity"; distances: (C,)
    identity distances of the candidates to the references' mean (None for "largest face")."""

    index: int
    rule: str
    distances: np.ndarray | None = None

    def describe(self) -> str:
        if self.distances is None:
            return "largest face kept (no single-face photo of this person to compare with)"
        d = ", ".join(f"{v:.2f}" for v in self.distances)
        return f"face {self.index} kept: identity closest to the person's single-face photos (distances {d})"


def landmark_identities(face_model, landmarks: np.ndarray, cfg: FitConfig) -> np.ndarray:
    """(N, K) the identity coefficients of N faces, each fitted alone to its (68, 2) px landmarks."""
    fit = fit_landmarks(face_model, np.ascontiguousarray(landmarks, np.float64), sigma=cfg.landmark_sigma,
                        id_prior=cfg.id_prior, exp_prior=cfg.exp_prior,
                        iterations=max(cfg.landmark_init_iterations, 1) + cfg.landmark_iterations,
                        yaw_starts=cfg.yaw_starts)
    return np.asarray(fit.alpha_id, np.float64)


def reference_identity(face_model, references: np.ndarray | None, cfg: FitConfig | None = None) -> np.ndarray | None:
    """(K,) the mean identity of a person's single-face photos, from their (R, 68, 2) px landmarks;
    None without any. Computed once per person, for all of their multi-face photos."""
    if references is None or len(references) == 0:
        return None
    return landmark_identities(face_model, references, cfg or FitConfig()).mean(0)


def choose_face(face_model, candidates: np.ndarray, reference: np.ndarray | None,
                cfg: FitConfig | None = None) -> FaceChoice:
    """The candidate face most like the references (module docstring).

    Args:
        face_model: the linear ``MorphableModel`` fitted.
        candidates: (C, 68, 2) px landmarks of the photo's faces, largest first.
        reference: (K,) ``reference_identity`` of the person's single-face photos, or None.
        cfg: ``FitConfig`` (landmark sigma, priors, yaw starts); default values when None.
    """
    candidates = np.asarray(candidates, np.float64)
    if reference is None or len(candidates) == 1:
        return FaceChoice(0, "largest face")
    ids = landmark_identities(face_model, candidates, cfg or FitConfig())
    distances = np.linalg.norm(ids - reference, axis=1)
    return FaceChoice(int(np.argmin(distances)), "closest identity", distances)
