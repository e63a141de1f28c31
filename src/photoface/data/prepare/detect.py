"""Face detection and 68 landmarks with dlib (package ``dlib-bin``) and the model files shipped in
``face-recognition-models``; everything runs offline. Since issue 21 MediaPipe is ``prepare``'s
default detector (:mod:`.faces`, :mod:`.mediapipe_detect`); dlib runs where MediaPipe finds no
face, and alone with ``--detector dlib`` (or ``auto`` / ``hog`` / ``cnn``).

Detectors
---------
* ``hog``: dlib's frontal-face HOG + linear SVM. Fast (tens of ms on a 512² photo) but misses
  faces turned beyond about 45° yaw and faces smaller than ~80 px (~40 px with one upsampling).
* ``cnn``: dlib's MMOD CNN (``mmod_human_face_detector.dat``). Finds profile and small faces but
  costs seconds per photo on a 2-core CPU.
* ``auto`` (default): HOG first; the CNN only on photos where HOG finds nothing. On collections
  of everyday photos most faces are near-frontal, so this costs HOG time on most photos and CNN
  time only on the hard ones. Weak HOG detections (score < 0.5; on scikit-image's astronaut a
  badge on the suit scores 0.12 next to the face's 1.16) are confirmed by the CNN on a small
  crop around the box (~0.2 s) instead of being trusted.

Measured (docs/benchmarks.md, 2-core CPU): HOG 0.03–0.27 s per photo, the CNN 2.6–13 s (20–50×
more). On 100 synthetic photos with yaw up to ±75°, HOG alone found 57 faces, the CNN 79, and
``auto`` the same 79 at a median 0.35 s per photo against the CNN's 0.82 s. Landmarks placed from
CNN boxes were as accurate as from HOG boxes there, so CNN boxes are used as they are.

Detection runs on a copy whose longer side is at most ``detect_side`` pixels (faces in a photo
are large relative to it; detecting at full resolution of a 24-MP photo would take seconds even
with HOG), with one 2× upsampling when the copy is small (longer side ≤ ``upsample_below``), so
that faces down to ~40 px are found. Boxes are mapped back to the full-resolution image, where
the 68-point predictor runs (it samples a few hundred pixels, so resolution costs nothing).

Coordinates follow the project convention: pixels, x right, y down, origin at the top-left
corner of the top-left pixel. dlib reports integer pixel indices (pixel centres), so 0.5 is
added to its landmark coordinates.

Why we do not import ``face_recognition_models``: its ``__init__`` imports ``pkg_resources``,
which current setuptools no longer ships; the model files are found through the package's
import spec instead, without executing it.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photoface.errors import PhotofaceError

DETECTORS = ("auto", "hog", "cnn")


def model_file(name: str) -> Path:
    """Path of a .dat file shipped in face-recognition-models (e.g. the 68-point predictor)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise PhotofaceError(
            "the package face-recognition-models is not installed (pip install face-recognition-models)"
        )
    for location in spec.submodule_search_locations:
        path = Path(location) / "models" / name
        if path.is_file():
            return path
    raise PhotofaceError(f"face-recognition-models does not contain models/{name}")


@dataclass
class Detection:
    """box: (x0, y0, x1, y1) px in the image given to ``detect``; score: detector confidence;
    detector: "hog" or "cnn"."""

    box: np.ndarray
    score: float
    detector: str

    @property
    def size(self) -> float:
        """sqrt(width · height) of the box in pixels."""
        w, h = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return float(np.sqrt(max(w, 0.0) * max(h, 0.0)))


def _contiguous(rgb: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(rgb, dtype=np.uint8)


class FaceDetector:
    """Detect faces and place 68 iBUG landmarks.

    ``kind``: "auto" | "hog" | "cnn" (see the module docstring). Models load lazily, once per
    instance (a worker process keeps one instance).
    """

    def __init__(self, kind: str = "auto", detect_side: int = 1024, upsample_below: int = 800):
        if kind not in DETECTORS:
            raise PhotofaceError(f"unknown detector {kind!r}; choose one of {', '.join(DETECTORS)}")
        self.kind = kind
        self.detect_side = detect_side
        self.upsample_below = upsample_below
        self._hog = None
        self._cnn = None
        self._predictor = None

    def _dlib(self):
        try:
            import dlib
        except ImportError:
            raise PhotofaceError("dlib is not installed (pip install dlib-bin)") from None
        return dlib

    @property
    def hog(self):
        if self._hog is None:
            self._hog = self._dlib().get_frontal_face_detector()
        return self._hog

    @property
    def cnn(self):
        if self._cnn is None:
            self._cnn = self._dlib().cnn_face_detection_model_v1(str(model_file("mmod_human_face_detector.dat")))
        return self._cnn

    @property
    def predictor(self):
        if self._predictor is None:
            self._predictor = self._dlib().shape_predictor(str(model_file("shape_predictor_68_face_landmarks.dat")))
        return self._predictor

    def _small_copy(self, rgb: np.ndarray) -> tuple[np.ndarray, float]:
        h, w = rgb.shape[:2]
        if max(h, w) <= self.detect_side:
            return rgb, 1.0
        from PIL import Image

        f = self.detect_side / max(h, w)
        size = (max(1, round(w * f)), max(1, round(h * f)))
        return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BOX)), size[0] / w

    def detect_hog(self, rgb: np.ndarray) -> list[Detection]:
        small, f = self._small_copy(rgb)
        up = 1 if max(small.shape[:2]) <= self.upsample_below else 0
        rects, scores, _ = self.hog.run(_contiguous(small), up, 0.0)
        return [Detection(_box(r) / f, float(s), "hog") for r, s in zip(rects, scores)]

    def detect_cnn(self, rgb: np.ndarray) -> list[Detection]:
        small, f = self._small_copy(rgb)
        # the CNN's cost grows with pixels; one upsampling only for small photos
        up = 1 if max(small.shape[:2]) <= self.upsample_below // 2 else 0
        dets = self.cnn(_contiguous(small), up)
        return [Detection(_box(d.rect) / f, float(d.confidence), "cnn") for d in dets]

    def confirm(self, rgb: np.ndarray, det: Detection) -> bool:
        """Ask the CNN whether a face is in a 2×-box crop around ``det``, resized to 200² (the face
        then spans ~100 px: the CNN finds faces down to ~80 px without upsampling; ~0.2 s)."""
        from PIL import Image

        x0, y0, x1, y1 = det.box
        side = max(x1 - x0, y1 - y0)
        cx, cy = (x0 + x1) / 2, (y0 + y1) / 2
        box = (cx - side, cy - side, cx + side, cy + side)
        crop = Image.fromarray(rgb).transform((200, 200), Image.Transform.EXTENT, box, Image.Resampling.BILINEAR)
        return len(self.cnn(np.asarray(crop), 0)) > 0

    def detect(self, rgb: np.ndarray, confirm_below: float = 0.5) -> list[Detection]:
        """Faces in an (H, W, 3) uint8 RGB image, largest first.

        With ``kind="auto"``, HOG detections scoring below ``confirm_below`` are kept only when
        the CNN confirms them (HOG's weak detections are often hands, badges or textures), and
        the CNN runs on the whole photo when HOG keeps nothing."""
        found = []
        if self.kind in ("auto", "hog"):
            found = self.detect_hog(rgb)
        if self.kind == "auto":
            found = [d for d in found if d.score >= confirm_below or self.confirm(rgb, d)]
        if self.kind == "cnn" or (self.kind == "auto" and not found):
            found = self.detect_cnn(rgb)
        return sorted(found, key=lambda d: -d.size)

    def landmarks(self, rgb: np.ndarray, box: np.ndarray) -> np.ndarray:
        """(68, 2) landmarks px (project convention) for the face in ``box`` (x0, y0, x1, y1)."""
        dlib = self._dlib()
        x0, y0, x1, y1 = (int(round(v)) for v in box)
        shape = self.predictor(_contiguous(rgb), dlib.rectangle(x0, y0, x1, y1))
        pts = np.array([[shape.part(i).x, shape.part(i).y] for i in range(68)], dtype=np.float64)
        return pts + 0.5


def _box(rect) -> np.ndarray:
    # dlib rectangles are inclusive pixel indices; right/bottom + 1 gives corner coordinates
    return np.array([rect.left(), rect.top(), rect.right() + 1, rect.bottom() + 1], dtype=np.float64)


def box_nme(pred: np.ndarray, truth: np.ndarray, box: np.ndarray | None = None) -> float:
    """Landmark NME: mean point-to-point error divided by the box size sqrt(w · h).

    pred, truth: (68, 2) px. ``box`` (x0, y0, x1, y1) defaults to the tight box of ``truth``
    (the AFLW2000-3D convention)."""
    if box is None:
        box = np.concatenate([truth.min(0), truth.max(0)])
    size = np.sqrt((box[2] - box[0]) * (box[3] - box[1]))
    return float(np.linalg.norm(pred - truth, axis=1).mean() / size)
