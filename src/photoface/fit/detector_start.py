"""A start for the per-photo landmark fit from what MediaPipe saw: head pose and blendshapes.

Prepared rows from MediaPipe carry ``detector_pose`` (pitch, yaw, roll from its facial
transformation matrix) and ``blendshapes`` (52 scores by ARKit name). The landmark fit
(``fit.landmark_fit``) starts from three yaws and keeps, per photo, the start with the lowest cost
after a few iterations; this module adds one more start: the detector's pitch and yaw, and, for a
model whose expressions are blendshapes with ARKit names, the detector's scores as the initial
weights. The built-in models name their expressions exactly as ARKit does (``jawOpen``,
``mouthSmileLeft``); ICT-FaceKit writes ``_L`` / ``_R`` for ``Left`` / ``Right``
(``browDown_L``), which :func:`arkit_name` reads, and splits ``browInnerUp`` and ``cheekPuff``
into sides, which both take MediaPipe's one score (49 of ICT's 53 expressions and 30 of the
built-in demo model's 35 get a start). Expressions of other models (PCA ones, BFM's,
FLAME's) start at 0 as before. Sides agree by name: a render of the built-in model with its
``eyeBlinkLeft`` (or ``mouthSmileLeft``) raises MediaPipe's score of the same name more than the
other side's (0.27 vs 0.06; 0.66 vs 0.37; tests/data/prepare/test_prepare_mediapipe.py).

Rows without a detector pose (dlib's fallback) get the frontal start (angles 0, expressions 0),
which repeats the 0° yaw start.
"""

from __future__ import annotations

import numpy as np


def arkit_name(name: str) -> str:
    """An expression's ARKit name: ``browDown_L`` → ``browDownLeft``; others unchanged."""
    for suffix, side in (("_L", "Left"), ("_R", "Right")):
        if name.endswith(suffix):
            return name[: -len(suffix)] + side
    return name


def blendshape_map(face_model) -> dict[str, int]:
    """MediaPipe blendshape name → the model's expression index, for a blendshape model whose
    expression names are ARKit's; empty for any other model."""
    if getattr(face_model, "exp_kind", "pca") != "blendshape":
        return {}
    return {arkit_name(n): i for i, n in enumerate(face_model.exp_names)}


def detector_start(face_model, rows) -> tuple[np.ndarray, np.ndarray] | None:
    """(angles (B, 3) degrees, expressions (B, L)) for ``fit_landmarks``'s ``detector_start``, or
    None when no row carries a detector pose."""
    if not any(getattr(r, "detector_pose", None) is not None for r in rows):
        return None
    mapping = blendshape_map(face_model)
    angles = np.zeros((len(rows), 3))
    expressions = np.zeros((len(rows), face_model.n_exp))
    for i, row in enumerate(rows):
        if row.detector_pose is None:
            continue
        angles[i] = np.asarray(row.detector_pose, np.float64)[:3]
        for name, score in (row.blendshapes or {}).items():
            # ICT splits browInnerUp and cheekPuff into sides where MediaPipe has one score
            for target in [name] if name in mapping else [name + "Left", name + "Right"]:
                if target in mapping:
                    expressions[i, mapping[target]] = min(max(float(score), 0.0), 1.0)
    return angles, expressions
