"""AFLW2000-3D benchmark runner: 68-landmark NME per yaw bin from the model's projected landmarks.

Each image (``aflw2000.list_aflw2000``) is cropped for the network, the network's 68 projected
landmarks (crop px) are mapped back to the original image with the inverse crop transform, and
``nme.aflw2000_nme`` gives the NME per |yaw| bin (0–30°, 30–60°, 60–90°, ground-truth yaw) and the
mean of the bins, normalised by sqrt(w·h) of the ground-truth landmark box (3DDFA convention).

Crops (``crop``), all warped with ``photoface.data.prepare.align.warp_image``:

* ``box`` (default, as 3DDFA crops from the ground-truth landmark box): a scale and a shift, no
  rotation, taking the box of the ground-truth landmarks onto the box that the face model's mean
  face has in a training crop at the frontal pose of code 0. The scale matches box HEIGHTS: under
  weak perspective a turn about the vertical axis leaves the heights unchanged, so a profile face
  gets the same scale as a frontal one, as in the training crops (the camera's f does not change
  with yaw). It uses the box only, not the landmark positions inside it.
* ``landmarks``: the five-point similarity of ``photoface prepare`` (``align.alignment_transform``)
  on the ground-truth landmarks, i.e. the real-photo pipeline with a perfect landmark detector.
  The eyes, nose and mouth then sit exactly where the network expects them, which favours it.
* ``detector``: the real-photo pipeline itself, ``prepare``'s face finder (MediaPipe, dlib where it
  finds no face) and landmarks then the five-point alignment; images where it finds no face on the
  annotated one fall back to ``box`` and are counted in ``detector_fallbacks``.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import torch

from photoface.data.prepare.align import alignment_transform, apply_transform, invert_transform, warp_image
from photoface.data.prepare.faces import DEFAULT_DETECTOR
from photoface.data.prepare.images import load_photo
from photoface.errors import PhotofaceError
from photoface.evaluate.aflw2000 import list_aflw2000
from photoface.evaluate.benchmark import benchmark_methods, load_run, results_meta
from photoface.evaluate.landmark_methods import choose_face
from photoface.evaluate.nme import aflw2000_nme
from photoface.pixels import from_uint8
from photoface.render.camera import frontal_pose, project

CROPS = ("box", "landmarks", "detector")


def template_box(face_model, image_size: int) -> np.ndarray:
    """(x0, y0, x1, y1) px: the box of the mean face's 68 landmarks in a training crop at pose code 0."""
    lm = face_model.mean.detach().cpu().double()[face_model.landmarks68.cpu()][None]
    xy = project(lm, frontal_pose(1, image_size, dtype=torch.float64))[0, :, :2].numpy()
    return np.r_[xy.min(0), xy.max(0)]


def box_transform(landmarks: np.ndarray, box: np.ndarray) -> np.ndarray:
    """(2, 3) original → crop: scale by the ratio of box heights, box centre onto box centre."""
    lm = np.asarray(landmarks, np.float64)
    lo, hi = lm.min(0), lm.max(0)
    s = (box[3] - box[1]) / max(hi[1] - lo[1], 1e-6)
    centre, target = (lo + hi) / 2, (box[:2] + box[2:]) / 2
    return np.array([[s, 0.0, target[0] - s * centre[0]], [0.0, s, target[1] - s * centre[1]]])


def evaluate_aflw2000(
    checkpoint: str | Path,
    data: str | Path,
    *,
    shape_supervised: str | Path | None = None,
    max_images: int | None = None,
    crop: str = "box",
    device: str = "cpu",
    batch_size: int = 32,
    detector: str = DEFAULT_DETECTOR,
) -> dict:
    """Run the AFLW2000-3D benchmark (module docstring); returns JSON-ready results.

    Args:
        checkpoint: the model's run; shape_supervised: optional second run scored alike.
        data: the AFLW2000-3D folder.
        max_images: only the first images (sorted by name).
        crop: "box", "landmarks" or "detector".
        detector: face detector for ``crop="detector"`` (``photoface.data.prepare.faces.DETECTORS``;
            default MediaPipe, dlib where it finds no face); of several faces, the one whose 68
            points overlap the annotated face most (``landmark_methods.choose_face``).
    """
    t0 = time.perf_counter()
    if crop not in CROPS:
        raise PhotofaceError(f"unknown crop {crop!r}; choose from {', '.join(CROPS)}")
    if max_images is not None and max_images < 1:
        raise PhotofaceError(f"max_images must be at least 1, got {max_images}")
    samples = list_aflw2000(data)[:max_images]
    trained = load_run(checkpoint, device, "model")
    methods = benchmark_methods(trained, batch_size=batch_size, shape_supervised=shape_supervised, device=device)
    size = trained.image_size
    box = template_box(trained.face_model, size)
    det = None
    if crop == "detector":
        from photoface.data.prepare.faces import FaceFinder  # loads MediaPipe or dlib only when used

        det = FaceFinder(detector)
    preds = {m.name: np.zeros((len(samples), 68, 2)) for m in methods}
    fallbacks = 0
    for start in range(0, len(samples), batch_size):
        chunk = samples[start:start + batch_size]
        crops, inverse, crop_lms = [], [], []
        for s in chunk:
            rgb = load_photo(s.image).rgb
            t, source_lm = None, s.landmarks
            if crop == "landmarks":
                t = alignment_transform(s.landmarks, size)
            elif crop == "detector":
                found, _ = det.find(rgb)
                k = choose_face([f.landmarks for f in found], s.landmarks)
                if k is not None:
                    source_lm = found[k].landmarks
                    t = alignment_transform(source_lm, size)
                else:
                    fallbacks += 1
            if t is None:
                t = box_transform(s.landmarks, box)
            # a run whose encoder takes landmarks gets those the crop was made from (the
            # annotations unless crop="detector" found a face: then its NME says little)
            crop_lms.append(apply_transform(t, np.asarray(source_lm, np.float64)))
            crops.append(from_uint8(warp_image(rgb, t, size)))
            inverse.append(invert_transform(t))
        images = torch.stack(crops)
        for m in methods:
            with torch.no_grad():
                out = m.predict(images, np.stack(crop_lms))
            for i, inv in enumerate(inverse):
                preds[m.name][start + i] = apply_transform(inv, out.landmarks2d[i])
    gt = np.stack([s.landmarks for s in samples])
    yaw = np.array([s.yaw_deg for s in samples])
    result: dict = {m.name: {"nme": aflw2000_nme(preds[m.name], gt, yaw)} for m in methods}
    result["meta"] = results_meta(
        "aflw2000", data, trained, t0, images=len(samples), crop=crop,
        detector_fallbacks=fallbacks if crop == "detector" else None,
        normaliser="sqrt(w*h) of the ground-truth 68-landmark box; yaw bins by |ground-truth yaw|")
    return result
