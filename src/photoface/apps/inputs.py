"""Photos given on the command line → network-ready face crops, and the way back onto the photo.

``collect_images`` expands files and folders (recursively, image suffixes only, sorted) into a
list of photos. ``load_faces`` turns each photo into a :class:`FaceInput`:

* raw photos go through the real-photo preprocessing of ``photoface prepare``
  (:func:`photoface.data.prepare.process_photo`: robust loading, MediaPipe detection (dlib where
  it finds no face, or dlib alone with ``detector``), 68 landmarks, similarity alignment to the
  training crop). A photo with several faces gives, with ``all_faces`` (``reconstruct``), one
  :class:`FaceInput` per face, named ``NAME_face0``, ``NAME_face1``, ... largest face first; without
  it (``verify``, ``transfer``: one photo is one person) the largest face, and the photo's ``notes``
  say that the others were left out;
* ``aligned=True`` photos are already training crops (e.g. synthetic photos or a prepared
  dataset's images): a square image is resized to the network's size; anything else is refused.
  With ``with_landmarks`` (a run whose encoder takes landmarks, ``model.landmark_input``) a crop
  of a prepared dataset gets the dataset's landmarks (:func:`dataset_landmarks`), any other crop
  those of dlib's 68-point predictor (:func:`crop_landmarks`).

A photo that cannot be used (unreadable, no face, not square with ``aligned``) yields a
:class:`Skipped` with the reason instead; callers report it and carry on. ``collect_images`` given
a ``skipped`` list reports a folder without photos there instead of raising.

``crop_transform`` (2, 3) maps ORIGINAL-photo pixels to crop pixels (``[x', y'] = A @ [x, y, 1]``,
the dataset format's convention); ``photo`` holds the photo as loaded and ``photo_scale`` its
loaded pixels per original pixel, so results can be drawn back onto the user's photo.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np
import torch
from PIL import Image

from photoface.data.prepare.align import warp_image
from photoface.data.prepare.images import image_files, load_photo
from photoface.errors import InputFileError, PhotofaceError
from photoface.pixels import from_uint8


@dataclass
class FaceInput:
    """One face ready for the network.

    Attributes:
        path: the photo file. name: unique output stem.
        crop: (3, S, S) float32 in [0, 1], the network input.
        photo: (h, w, 3) uint8, the photo as loaded (equal to the crop for aligned inputs).
        photo_scale: loaded px per original px.
        crop_transform: (2, 3) original px → crop px, or None for aligned inputs.
        landmarks: (68, 2) detected landmarks in crop px, or None.
        detector: what placed them: "mediapipe", dlib's "hog" / "cnn" (MediaPipe's fallback or
            ``--detector dlib``), or None for aligned inputs.
        notes: remarks for the user about this photo (other faces left out, faces too small).
    """

    path: Path
    name: str
    crop: torch.Tensor
    photo: np.ndarray
    photo_scale: float
    crop_transform: np.ndarray | None
    landmarks: np.ndarray | None = None
    detector: str | None = None
    notes: list[str] = field(default_factory=list)

    def loaded_to_crop(self) -> np.ndarray | None:
        """(2, 3) transform from LOADED-photo pixels to crop pixels (None for aligned inputs)."""
        if self.crop_transform is None:
            return None
        t = np.asarray(self.crop_transform, np.float64)
        return np.concatenate([t[:, :2] / self.photo_scale, t[:, 2:]], axis=1)

    def sharp_crop(self, scale: int, pad: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
        """The crop at ``scale`` times its resolution with ``pad`` px more on every side, warped from
        the loaded photo (crop px (x, y) at (scale·x + pad, scale·y + pad)), and where it holds
        photo pixels: (3, N, N) in [0, 1] and (1, N, N) in {0, 1}, N = scale·S + 2·pad. Aligned
        inputs, which have no photo beyond the crop, give the crop itself resized, valid inside it."""
        s = int(self.crop.shape[-1])
        n = s * scale + 2 * pad
        t = self.loaded_to_crop()
        if t is None:
            up = torch.nn.functional.interpolate(self.crop[None], size=(s * scale, s * scale), mode="bilinear",
                                                 align_corners=False)[0].clamp(0.0, 1.0)
            valid = torch.zeros(1, n, n)
            valid[:, pad:pad + s * scale, pad:pad + s * scale] = 1.0
            return torch.nn.functional.pad(up, (pad, pad, pad, pad)), valid
        t = float(scale) * t
        t[:, 2] += pad
        inside = warp_image(np.full(self.photo.shape[:2], 255, np.uint8), t, n, resample="nearest")
        return from_uint8(warp_image(self.photo, t, n)), torch.from_numpy(inside > 0).float()[None]


@dataclass
class Skipped:
    """A photo that gave no face: its path and why."""

    path: Path
    reason: str

    def message(self) -> str:
        return f"skipped {self.path}: {self.reason}"


def collect_images(paths: Iterable[str | Path], skipped: list["Skipped"] | None = None) -> list[Path]:
    """Files as given (any suffix: the loader decides) and image files found in folders.

    Raises InputFileError for a path that does not exist, and for a folder without image files
    unless ``skipped`` is given: that folder is then appended to it as a :class:`Skipped` and the
    other paths are collected (one empty folder must not stop a run over many).
    """
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            found = image_files(p)
            if not found:
                if skipped is None:
                    raise InputFileError(p, "folder contains no image files")
                skipped.append(Skipped(p, "folder contains no image files"))
            out += found
        elif p.exists():
            out.append(p)
        else:
            raise InputFileError(p, "no such file or folder")
    return out


def unique_names(paths: list[Path]) -> list[str]:
    """Output stems: the file stem, with ``-2``, ``-3``, ... appended to repeated stems."""
    seen: dict[str, int] = {}
    names = []
    for p in paths:
        stem = p.stem or "photo"
        k = seen.get(stem, 0) + 1
        seen[stem] = k
        names.append(stem if k == 1 else f"{stem}-{k}")
    return names


_DETECTOR = None
# dlib's face box relative to the bounding box of its 68 landmarks (x0, y0, x1, y1 offsets in units
# of the crop side), and the landmarks' median box in a training crop; both measured on 100
# synthetic training crops of the demo model.
_BOX_FROM_LANDMARKS = (0.043, -0.023, 0.015, -0.044)
_CROP_LANDMARK_BOX = (0.134, 0.061, 0.865, 0.792)


def crop_landmarks(rgb: np.ndarray) -> np.ndarray:
    """(68, 2) dlib landmarks (crop px) of the face in an aligned training crop (H, W, 3) uint8.

    The face box is the one a training crop implies (no detection: HOG misses small and turned
    faces, and on 30 synthetic crops its boxes gave worse landmarks than this fixed box, median
    error 6.5 % of the face size); the crop is enlarged to at least 256 px for the predictor."""
    global _DETECTOR
    from photoface.data.prepare.detect import FaceDetector

    if _DETECTOR is None:
        _DETECTOR = FaceDetector("hog")
    h = rgb.shape[0]
    f = max(1, int(np.ceil(256 / h)))
    big = np.asarray(Image.fromarray(rgb).resize((h * f, h * f), Image.Resampling.BICUBIC)) if f > 1 else rgb
    box = (np.asarray(_CROP_LANDMARK_BOX) + np.asarray(_BOX_FROM_LANDMARKS)) * (h * f)
    return _DETECTOR.landmarks(big, box) / f


_DATASET_LANDMARKS: dict[Path, dict[str, np.ndarray]] = {}


def dataset_landmarks(path: Path) -> np.ndarray | None:
    """(68, 2) landmarks of ``path`` from the prepared dataset it belongs to (a folder above it
    with ``index.jsonl`` listing it), or None. Training used these, so a dataset's own crops are
    best reconstructed with them."""
    from photoface.data.format import load_dataset

    path = Path(path).resolve()
    for root in path.parents:
        if not (root / "index.jsonl").is_file():
            continue
        if root not in _DATASET_LANDMARKS:
            try:
                rows = load_dataset(root).rows
            except PhotofaceError:  # not a readable prepared dataset: fall back to detection
                rows = []
            _DATASET_LANDMARKS[root] = {str((root / r.image).resolve()): np.asarray(r.landmarks, np.float64)
                                        for r in rows}
        return _DATASET_LANDMARKS[root].get(str(path))
    return None


def stacked_landmarks(faces: list["FaceInput"]) -> torch.Tensor | None:
    """(B, 68, 2) crop-pixel landmarks of a batch, or None when any face has none."""
    if any(f.landmarks is None for f in faces):
        return None
    return torch.from_numpy(np.stack([np.asarray(f.landmarks, np.float32) for f in faces]))


def _aligned(path: Path, name: str, image_size: int, with_landmarks: bool = False) -> FaceInput:
    photo = load_photo(path)
    h, w = photo.rgb.shape[:2]
    if h != w:
        raise InputFileError(path, f"is {w}×{h} pixels, not a square training crop; leave out --aligned "
                                   "to detect and align the face")
    rgb = photo.rgb
    if h != image_size:
        rgb = np.asarray(Image.fromarray(rgb).resize((image_size, image_size), Image.Resampling.BICUBIC))
    lm = None
    if with_landmarks:
        lm = dataset_landmarks(path)
        if lm is not None and h != image_size:
            lm = lm * (image_size / h)
        if lm is None:
            lm = crop_landmarks(rgb)
    return FaceInput(path, name, from_uint8(rgb), rgb, 1.0, None, lm)


def _detected(path: Path, name: str, image_size: int, detector: str, all_faces: bool) -> list[FaceInput] | Skipped:
    from photoface.data.prepare.photo_list import PhotoTask
    from photoface.data.prepare.pipeline import LOAD_SIDE, PrepareOptions, process_photo

    try:
        photo = load_photo(path, max_side=LOAD_SIDE)  # kept for drawing results back onto it
    except InputFileError as exc:
        return Skipped(path, exc.problem)
    options = PrepareOptions(image_size=image_size, detector=detector, all_faces=True)
    result = process_photo(PhotoTask(key=str(path), path=path, identity=name), options, photo)
    if result.skipped or not result.faces:
        return Skipped(path, result.skipped or "no face found")
    faces = result.faces if all_faces else result.faces[:1]  # largest first (FaceDetector.detect)
    notes = list(result.notes)
    if not all_faces and len(result.faces) > 1:
        notes.append(f"{len(result.faces)} faces found; the largest is used, the other {len(result.faces) - 1} "
                     "left out")
    several = len(faces) > 1
    return [FaceInput(path, f"{name}_face{k}" if several else name, from_uint8(face.image), photo.rgb, photo.scale,
                      np.asarray(face.transform, np.float64), np.asarray(face.landmarks, np.float64),
                      face.detector, notes=notes if k == 0 else [])
            for k, face in enumerate(faces)]


def load_faces(paths: list[Path], image_size: int, aligned: bool = False, detector: str = "mediapipe",
               with_landmarks: bool = False, all_faces: bool = False) -> Iterator[FaceInput | Skipped]:
    """:class:`FaceInput` or :class:`Skipped` items, in path order (see the module docstring):
    one per path, or with ``all_faces`` one per face found in the photo.

    Args:
        paths: photo files (``collect_images``).
        image_size: the network's crop side, pixels.
        aligned: inputs are training crops already (no detection).
        detector: one of ``photoface.data.prepare.faces.DETECTORS`` (default MediaPipe), raw photos only.
        with_landmarks: give aligned crops landmarks too (raw photos always have them).
        all_faces: every face of a raw photo (``NAME_face0``, ... by size), not only the largest.
    """
    for path, name in zip(paths, unique_names(paths)):
        try:
            if aligned:
                yield _aligned(path, name, image_size, with_landmarks)
            else:
                found = _detected(path, name, image_size, detector, all_faces)
                yield from ([found] if isinstance(found, Skipped) else found)
        except InputFileError as exc:
            yield Skipped(path, exc.problem)


def log_notes(face: FaceInput, log) -> None:
    """Send a face's notes (``FaceInput.notes``) to ``log``, each naming the photo."""
    for note in face.notes:
        log(f"{face.path}: {note}")


def batches(items: Iterable, size: int) -> Iterator[list]:
    """Consecutive lists of ``size`` items (the last may be shorter)."""
    batch: list = []
    for item in items:
        batch.append(item)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch
