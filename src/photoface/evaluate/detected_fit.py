"""The cross-model benchmark's fit from detected landmarks: the photos through ``prepare`` and ``fit``.

``evaluate crossmodel --landmarks detected`` (``photoface.evaluate.crossmodel``) fits the model
under test as ``photoface fit`` fits a folder of person folders, not from the dataset's true
landmarks (the reference's own 68 landmark vertices, a definition of the 68 points that is not the
fitted model's):

1. every held-out photo goes through ``prepare``'s per-photo step (``run_prepare`` →
   ``process_photo``) with the options ``photoface fit`` gives it (``apps.fit_inputs``: the
   dataset's image size, every face, the detector, MediaPipe by default with dlib where it finds
   nothing), into a temporary prepared dataset that is removed afterwards: the aligned crop, mask,
   68 landmarks, MediaPipe's 478 points, pose and blendshapes;
2. the dataset is marked as photos (``source="photos"``), so ``FitConfig.contour = "auto"`` puts
   the jaw on the silhouette, and ``fit_collection`` fits each person's photos jointly (MediaPipe's
   dense points, detector start), exactly as ``photoface fit``.

A photo where no face is found is *missed*: it is reported with prepare's reason and has no fitted
mesh (NaN error). A photo where several faces are found keeps the largest (face 0); ``fit``
chooses among them by identity (``apps.fit_inputs.one_face_per_photo``, above this layer), which on
single-face synthetic photos can only be a spurious detection; they are counted (``extra_faces``).
Fitted photos are matched to their true meshes by the photo's path, not by order.
"""

from __future__ import annotations

import tempfile
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from photoface.data.format import DatasetMeta, PreparedDataset
from photoface.data.prepare.faces import DEFAULT_DETECTOR
from photoface.fit.config import FitConfig


@dataclass
class DetectedFit:
    """shape (N, V, 3) mm each photo's fitted mesh with its expression, neutral (N, V, 3) mm its
    person's identity mesh (NaN rows for missed photos); failed (N,) bool: the fit failed or the
    photo was missed; missed {photo index: prepare's reason}; extra_faces: faces found besides the
    photos' largest (left out); detectors: {detector: photos whose fitted face it found}, e.g.
    dlib's "hog" where MediaPipe found nothing."""

    shape: np.ndarray
    neutral: np.ndarray
    failed: np.ndarray
    missed: dict[int, str] = field(default_factory=dict)
    extra_faces: int = 0
    detectors: dict[str, int] = field(default_factory=dict)


def fit_detected(bench, face_model, cfg: FitConfig | None = None, detector: str = DEFAULT_DETECTOR) -> DetectedFit:
    """Fit ``face_model`` to the photos of ``bench`` (a ``SyntheticBenchmark``) from detections
    (module docstring); photo ``i`` of the result is ``bench.rows[i]``."""
    from photoface.data.prepare import PrepareOptions
    from photoface.data.prepare.photo_list import PhotoTask
    from photoface.data.prepare.pipeline import read_report, run_prepare
    from photoface.fit.collection import fit_collection

    cfg = cfg or FitConfig()
    n, v = len(bench.rows), face_model.num_vertices
    shape, neutral = np.full((n, v, 3), np.nan, np.float32), np.full((n, v, 3), np.nan, np.float32)
    failed = np.zeros(n, bool)
    tasks = [PhotoTask(key=r.image, path=bench.root / r.image, identity=r.identity, split="test") for r in bench.rows]
    index = {t.key: i for i, t in enumerate(tasks)}
    by_source = {str(t.path.resolve()): i for i, t in enumerate(tasks)}
    options = PrepareOptions(image_size=bench.image_size, all_faces=True, detector=detector)
    with tempfile.TemporaryDirectory(prefix="photoface-crossmodel-") as tmp:
        prepared = Path(tmp) / "prepared"
        ds = run_prepare(tasks, prepared, options, DatasetMeta(image_size=bench.image_size, source="photos"),
                         progress=False)
        missed = {index[k]: why for k, why in read_report(prepared)[0].items()}
        first: dict = {}
        for r in ds.rows:  # faces of a photo are written largest first
            first.setdefault(r.source, r)
        extra_faces = len(ds.rows) - len(first)
        ds = PreparedDataset(ds.root, ds.meta, list(first.values()))
        detectors = dict(Counter(str(r.detector) for r in ds.rows))
        with torch.enable_grad():
            for _, rows, fit in fit_collection(ds, face_model, cfg):
                with torch.no_grad():
                    posed = fit.params.decode().shape.float().cpu().numpy()  # (B, V, 3), with expressions
                    rest = fit.params.neutral_shape()[0].float().cpu().numpy()  # the person's identity
                for j, row in enumerate(rows):
                    i = by_source[row.source]
                    shape[i], neutral[i] = posed[j], rest
                    failed[i] = j in fit.failures
    failed[list(missed)] = True
    return DetectedFit(shape, neutral, failed, missed, extra_faces, detectors)
