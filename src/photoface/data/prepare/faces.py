"""The detector choice of ``prepare`` and of every app on raw photos: faces with their 68 points.

``detector`` names:

* ``mediapipe`` (default): MediaPipe's FaceLandmarker (:mod:`.mediapipe_detect`: 478 points,
  pose, blendshapes, iBUG-68 through a published table); where it finds no face, dlib's ``auto``
  runs instead and the face records which dlib detector found it, so the fallback shows per photo
  in the prepared rows (``detector``) and in the report;
* ``dlib``: dlib alone, HOG then its CNN where HOG finds nothing (:mod:`.detect`, ``auto``);
* ``auto`` | ``hog`` | ``cnn``: dlib's own kinds, as before MediaPipe came in.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from photoface.errors import PhotofaceError

DETECTORS = ("mediapipe", "dlib", "auto", "hog", "cnn")
DEFAULT_DETECTOR = "mediapipe"


@dataclass
class Face:
    """One face of a photo, in that photo's pixels: landmarks (68, 2); box (x0, y0, x1, y1);
    detector "mediapipe" | "hog" | "cnn"; points (478, 2), pose (6,) and blendshapes (name →
    score) from MediaPipe only."""

    landmarks: np.ndarray
    box: np.ndarray
    detector: str
    points: np.ndarray | None = None
    pose: np.ndarray | None = None
    blendshapes: dict[str, float] | None = None

    @property
    def size(self) -> float:
        """sqrt(width · height) of the box in pixels."""
        w, h = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return float(np.sqrt(max(w, 0.0) * max(h, 0.0)))


class FaceFinder:
    """``find(rgb)`` → (faces largest first, fallback note or None). Detectors load lazily, once
    per instance (a worker process keeps one instance)."""

    def __init__(self, kind: str = DEFAULT_DETECTOR):
        if kind not in DETECTORS:
            raise PhotofaceError(f"unknown detector {kind!r}; choose one of {', '.join(DETECTORS)}")
        self.kind = kind
        self._mediapipe = None
        self._dlib = None

    @property
    def mediapipe(self):
        if self._mediapipe is None:
            from photoface.data.prepare.mediapipe_detect import MediaPipeDetector

            self._mediapipe = MediaPipeDetector()
        return self._mediapipe

    @property
    def dlib(self):
        if self._dlib is None:
            from photoface.data.prepare.detect import FaceDetector

            self._dlib = FaceDetector("auto" if self.kind in ("mediapipe", "dlib") else self.kind)
        return self._dlib

    def find_dlib(self, rgb: np.ndarray, max_faces: int | None = None) -> list[Face]:
        """dlib boxes, then the 68-point predictor on the ``max_faces`` largest."""
        found = self.dlib.detect(rgb)[:max_faces]
        return [Face(self.dlib.landmarks(rgb, d.box), d.box, d.detector) for d in found]

    def find(self, rgb: np.ndarray, max_faces: int | None = None) -> tuple[list[Face], str | None]:
        """Faces in an (H, W, 3) uint8 RGB image, largest first (at most ``max_faces``), and a
        note when MediaPipe found none and dlib was used instead."""
        if self.kind != "mediapipe":
            return self.find_dlib(rgb, max_faces), None
        found = [Face(f.landmarks, f.box, "mediapipe", f.points, f.pose, f.blendshapes)
                 for f in self.mediapipe.detect(rgb)][:max_faces]
        if found:
            return found, None
        faces = self.find_dlib(rgb, max_faces)
        if not faces:
            return [], None
        return faces, f"MediaPipe found no face; dlib ({faces[0].detector}) used"
