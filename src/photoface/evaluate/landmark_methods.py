"""The landmark sources ``evaluate landmarks`` scores, each run on one photo as photoface runs it.

Every method takes the photo as ``prepare`` loads it (``load_photo``: EXIF rotation, RGB 8-bit,
at most ``pipeline.LOAD_SIDE`` px) and returns every face it finds with its 68 iBUG points in the
ORIGINAL photo's pixels, and the time it took. Nothing is re-implemented here; each calls
photoface's own library:

* ``mediapipe``: ``MediaPipeDetector.detect`` (478 points → iBUG-68 by ``prepare.ibug68``);
* ``dlib``: ``FaceFinder("dlib")``: HOG, the CNN where HOG finds nothing or is unsure, the 68-point
  predictor on every face (``--detector dlib``);
* ``default``: ``FaceFinder("mediapipe")``, what ``prepare``, ``fit`` and ``reconstruct`` use:
  MediaPipe, and dlib where MediaPipe finds no face (the face then records ``fallback``);
* ``fit``: ``prepare``'s per-photo step (``pipeline.process_photo``: the default detector, every
  face, the aligned crop, its mask, MediaPipe's points and pose moved into the crop), then
  ``photoface.fit``'s single-photo fit of a face model (``builtin:demo`` unless given) on one
  chosen face, as ``photoface fit`` fits a one-photo person: the 68 landmarks with the jaw on the
  silhouette plus MediaPipe's reliable dense points, the detector's pose and blendshapes as a
  start, then the render stages. Its answer is the model's 68 landmark VERTICES projected with
  the fitted shape and pose: 3-D landmarks, whose hidden jaw points are not on the silhouette,
  which is the AFLW2000-3D convention (the detectors' jaw points follow the visible outline).
  Its ``ms`` is ``process_photo``'s (detection, crop, mask); the fit's own time is ``fit_ms``.

Which face is scored is not decided here (``choose_face``, used by ``photoface.evaluate.landmarks``):
the fit method asks for the choice before it fits, so only the scored face is fitted.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from types import SimpleNamespace

import numpy as np

from photoface.errors import PhotofaceError

METHODS = ("default", "mediapipe", "dlib", "fit")


@dataclass
class FoundFace:
    """landmarks (68, 2) px of the original photo; detector that found it ("mediapipe", "hog",
    "cnn"); fallback: prepare's note when MediaPipe found no face and dlib did; failure: the
    fit's failure note (fit only)."""

    landmarks: np.ndarray
    detector: str
    fallback: str | None = None
    failure: str | None = None


@dataclass
class MethodRun:
    """What one method did on one photo: faces (all it found; for ``fit`` the chosen one carries the
    fit's landmarks), chosen: index of the face scored (None = missed), ms: detection + landmarks,
    fit_ms (fit only)."""

    faces: list[FoundFace]
    chosen: int | None
    ms: float
    fit_ms: float | None = None


def box_of(points: np.ndarray) -> np.ndarray:
    """(x0, y0, x1, y1) px: the bounding box of (K, 2) points."""
    p = np.asarray(points, np.float64)
    return np.concatenate([p.min(0), p.max(0)])


def box_iou(a: np.ndarray, b: np.ndarray) -> float:
    """Intersection over union of two (x0, y0, x1, y1) boxes; 0 when they do not overlap."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return float(inter / union) if union > 0 else 0.0


MIN_FACE_IOU = 0.3
"""Below this overlap with the annotated face's box a found face is another face (a neighbour in a
group photo): the annotated one counts as missed rather than scored with a neighbour's points.
A face found on the annotated one overlaps it far more, also in profile, where the detector's jaw
on the silhouette and the annotation's 3-D jaw points differ most."""


def choose_face(faces_landmarks: list[np.ndarray], truth: np.ndarray) -> int | None:
    """The face whose 68 points' box overlaps the truth's 68-point box most (intersection over
    union); None when none overlaps it by ``MIN_FACE_IOU`` (the annotated face was not found)."""
    truth_box = box_of(truth)
    ious = [box_iou(box_of(lm), truth_box) for lm in faces_landmarks]
    if not ious or max(ious) < MIN_FACE_IOU:
        return None
    return int(np.argmax(ious))


class LandmarkMethods:
    """The methods of the module docstring, their detectors and face model loaded once.

    ``fit_model``: face model spec of ``fit``; ``image_size``: its crop side in px (``photoface
    fit``'s default 128); ``fit_config``: its ``FitConfig`` (default values)."""

    def __init__(self, methods, fit_model: str = "builtin:demo", image_size: int = 128, fit_config=None):
        unknown = [m for m in methods if m not in METHODS]
        if unknown or not methods:
            raise PhotofaceError(f"unknown landmark method(s) {unknown}; choose from {', '.join(METHODS)}")
        from photoface.data.prepare.faces import FaceFinder

        self.methods = list(methods)
        self.default = FaceFinder("mediapipe")
        self.dlib = FaceFinder("dlib")
        self.fit_model_name = fit_model
        self.image_size = image_size
        self.fit_config = fit_config
        self._fit = None

    def run(self, method: str, rgb: np.ndarray, scale: float, truth: np.ndarray, path=None) -> MethodRun:
        """``method`` on the loaded photo ``rgb`` (``scale`` loaded px per original px); ``truth``
        (68, 2) original px picks the face; ``path``: the photo file (``fit`` re-reads it as
        ``prepare`` does)."""
        if method == "fit":
            return self._run_fit(path, truth)
        t0 = time.perf_counter()
        if method == "mediapipe":
            faces = [FoundFace(f.landmarks, "mediapipe") for f in self.default.mediapipe.detect(rgb)]
        elif method == "dlib":
            faces = [FoundFace(f.landmarks, f.detector) for f in self.dlib.find(rgb)[0]]
        else:
            found, note = self.default.find(rgb)
            faces = [FoundFace(f.landmarks, f.detector, note) for f in found]
        ms = 1000 * (time.perf_counter() - t0)
        for f in faces:
            f.landmarks = np.asarray(f.landmarks, np.float64) / scale
        return MethodRun(faces, choose_face([f.landmarks for f in faces], truth), ms)

    def _fitter(self):
        if self._fit is None:
            from photoface.facemodel import load_face_model
            from photoface.fit.collection import fit_points_for
            from photoface.fit.config import FitConfig
            from photoface.render.renderer import Renderer

            model = load_face_model(self.fit_model_name)
            cfg = self.fit_config or FitConfig()
            # no dataset: real photos, so the jaw and the face oval follow the silhouette
            self._fit = SimpleNamespace(
                model=model, cfg=cfg, renderer=Renderer(model.faces, self.image_size),
                points={has: fit_points_for(model, cfg, None, has) for has in (True, False)})
        return self._fit

    def _run_fit(self, path, truth: np.ndarray) -> MethodRun:
        import torch

        from photoface.data.prepare.align import apply_transform, invert_transform
        from photoface.data.prepare.photo_list import PhotoTask
        from photoface.data.prepare.pipeline import PrepareOptions, process_photo
        from photoface.fit.collection import make_batch
        from photoface.fit.detector_start import detector_start
        from photoface.fit.person import fit_person
        from photoface.pixels import from_uint8
        from photoface.render.camera import project

        if path is None:
            raise PhotofaceError("the fit method needs the photo's path")
        f = self._fitter()
        t0 = time.perf_counter()
        res = process_photo(PhotoTask(key=str(path), path=path, identity="photo"),
                            PrepareOptions(image_size=self.image_size, all_faces=True, detector="mediapipe"))
        ms = 1000 * (time.perf_counter() - t0)
        if not res.faces:
            return MethodRun([], None, ms)
        found = [apply_transform(invert_transform(c.transform), c.landmarks) for c in res.faces]
        chosen = choose_face(found, truth)
        if chosen is None:
            return MethodRun([FoundFace(lm, c.detector) for lm, c in zip(found, res.faces)], None, ms)
        crop = res.faces[chosen]
        t1 = time.perf_counter()
        points = f.points[crop.points is not None]
        batch = make_batch(from_uint8(crop.image)[None], torch.from_numpy(crop.mask.astype(np.float32))[None, None],
                           crop.landmarks[None], None, f.cfg, points=[crop.points], fit_points=points)
        if f.cfg.detector_start:
            batch.detector_start = detector_start(
                f.model, [SimpleNamespace(detector_pose=crop.pose, blendshapes=crop.blendshapes)])
        fit = fit_person(f.model, batch, f.cfg, renderer=f.renderer, points=points)
        with torch.no_grad():
            d = fit.params.decode()
            lm_crop = project(d.shape, d.pose)[0, f.model.landmarks68, :2].double().cpu().numpy()
        fit_ms = 1000 * (time.perf_counter() - t1)
        lm = apply_transform(invert_transform(crop.transform), lm_crop)
        fallback = next((n for n in res.notes if "dlib" in n), None)
        faces = [FoundFace(lm_found, c.detector, fallback) for lm_found, c in zip(found, res.faces)]
        faces[chosen] = FoundFace(lm, crop.detector, fallback, fit.failures.get(0))
        return MethodRun(faces, chosen, ms, fit_ms)
