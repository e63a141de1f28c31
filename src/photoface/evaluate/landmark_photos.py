"""Photos annotated with 68 iBUG landmarks, for ``evaluate landmarks``: AFLW2000-3D and 300-W layouts.

Two on-disk layouts are read, each as a folder of images with an annotation file of the same stem:

* **AFLW2000-3D** (Zhu et al. 2016): ``imageNNNNN.jpg`` + ``imageNNNNN.mat``, read by
  :func:`photoface.evaluate.aflw2000.read_aflw2000_mat`: the truth is ``pt3d_68``'s x, y (the 3-D
  landmarks projected: a jaw point hidden behind a turned face stays where the 3-D point projects,
  not on the silhouette), the yaw ``Pose_Para``'s second angle. The folder itself (not its
  sub-folders), as the dataset ships.
* **300-W** (Sagonas et al. 2013; also Menpo, iBUG, LFPW, HELEN, AFW as 300-W distributes them):
  an image + an iBUG ``.pts`` file, anywhere below the folder (300-W nests its sets)::

      version: 1
      n_points:  68
      {
      x y
      ... (68 lines)
      }

  ``.pts`` files carry no head pose, so their photos have no yaw and fall in no yaw bin.

Pixel convention: both formats come from MATLAB tools, whose pixel (1, 1) has its centre at
(1, 1) (menpo's reader states the same for ``.pts`` and subtracts 1 to get 0-based centres).
photoface puts the first pixel's centre at (0.5, 0.5) (docs/architecture.md, "Conventions"), so
``pixel_offset`` = 0.5 is subtracted from x and y of both. A file written 0-based would read 0.5 px
off, i.e. 0.25 % of a 200-px face: pass ``pixel_offset=-0.5`` for such files.

A folder with any ``.mat`` file is read as AFLW2000-3D, else as 300-W. Images without an
annotation and annotations without an image are returned in ``unpaired`` (the scorer lists them)
rather than failing the run; an annotation that cannot be read is an error naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from photoface.data.prepare.images import visible_files
from photoface.errors import InputFileError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")
NUM_POINTS = 68


@dataclass
class AnnotatedPhoto:
    """name: the image path relative to the folder (POSIX); image: the file; landmarks (68, 2)
    pixels of the original image, photoface's convention; yaw_deg: the truth's yaw, None when the
    format has none."""

    name: str
    image: Path
    landmarks: np.ndarray
    yaw_deg: float | None


@dataclass
class AnnotatedFolder:
    """photos sorted by name; layout "aflw2000" or "300w"; unpaired: {file: why it is not scored}."""

    photos: list[AnnotatedPhoto]
    layout: str
    unpaired: dict[str, str] = field(default_factory=dict)


def read_pts(path: str | Path, pixel_offset: float = 0.5) -> np.ndarray:
    """(68, 2) pixels (photoface convention) from an iBUG ``.pts`` file (module docstring).

    Raises:
        InputFileError: unreadable file, no version-1 header, no braces, a count other than 68, or
        a line that is not two numbers.
    """
    path = Path(path)
    try:
        lines = [ln.strip() for ln in path.read_text(encoding="utf-8", errors="replace").splitlines()]
    except OSError as exc:
        raise InputFileError(path, f"cannot read .pts file ({exc.strerror or exc})") from None
    lines = [ln for ln in lines if ln]
    header = {}
    while lines and ":" in lines[0]:
        key, _, value = lines.pop(0).partition(":")
        header[key.strip().lower()] = value.strip()
    if header.get("version") not in ("1", "1.0"):
        raise InputFileError(path, f"not an iBUG .pts file: expected 'version: 1', got {header.get('version')!r}")
    if not lines or lines[0] != "{" or lines[-1] != "}":
        raise InputFileError(path, "not an iBUG .pts file: the points must be between '{' and '}' lines")
    body = lines[1:-1]
    declared = header.get("n_points")
    if declared is not None and declared != str(len(body)):
        raise InputFileError(path, f"n_points says {declared} but {len(body)} point lines follow")
    if len(body) != NUM_POINTS:
        raise InputFileError(path, f"has {len(body)} points; the iBUG layout has {NUM_POINTS}")
    try:
        pts = np.array([[float(v) for v in ln.split()] for ln in body], dtype=np.float64)
    except ValueError:
        raise InputFileError(path, "a point line is not two numbers") from None
    if pts.shape != (NUM_POINTS, 2) or not np.isfinite(pts).all():
        raise InputFileError(path, "every point line must hold two finite numbers (x y)")
    return pts - pixel_offset


def write_pts(path: str | Path, landmarks: np.ndarray, pixel_offset: float = 0.5) -> Path:
    """Write (68, 2) photoface pixels as an iBUG ``.pts`` file (1-based, the inverse of ``read_pts``)."""
    from photoface.atomic import write_atomic

    pts = np.asarray(landmarks, np.float64) + pixel_offset
    body = "".join(f"{x:.3f} {y:.3f}\n" for x, y in pts)
    return write_atomic(Path(path), f"version: 1\nn_points:  {len(pts)}\n{{\n{body}}}\n")


def _images(files: list[Path]) -> dict[Path, Path]:
    """{path without suffix: image path}."""
    return {p.with_suffix(""): p for p in files if p.suffix.lower() in IMAGE_SUFFIXES}


def list_annotated(root: str | Path, pixel_offset: float = 0.5) -> AnnotatedFolder:
    """Every annotated photo of ``root`` (module docstring), sorted by name.

    Raises:
        InputFileError: ``root`` missing, no annotated image in it, or an unreadable annotation.
    """
    from photoface.evaluate.aflw2000 import read_aflw2000_mat

    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "no such folder")
    flat = sorted(p for p in root.iterdir() if p.is_file())
    if any(p.suffix.lower() == ".mat" for p in flat):
        layout, files, suffix = "aflw2000", flat, ".mat"
    else:
        layout, suffix = "300w", ".pts"
        files = visible_files(root)
    images = _images(files)
    notes = {p.with_suffix(""): p for p in files if p.suffix.lower() == suffix}
    if not images:
        raise InputFileError(root, "contains no images (.jpg, .jpeg, .png, .bmp)")
    photos, unpaired = [], {}
    for stem, image in sorted(images.items()):
        name = image.relative_to(root).as_posix()
        if stem not in notes:
            unpaired[name] = f"no {suffix} annotation"
            continue
        if layout == "aflw2000":
            s = read_aflw2000_mat(notes[stem], image, pixel_offset)
            photos.append(AnnotatedPhoto(name, image, s.landmarks, s.yaw_deg))
        else:
            photos.append(AnnotatedPhoto(name, image, read_pts(notes[stem], pixel_offset), None))
    for stem, note in sorted(notes.items()):
        if stem not in images:
            unpaired[note.relative_to(root).as_posix()] = "no image of the same name"
    if not photos:
        raise InputFileError(root, "no image has an annotation of the same name (AFLW2000-3D .mat or iBUG .pts)")
    return AnnotatedFolder(photos, layout, unpaired)
