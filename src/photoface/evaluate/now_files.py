"""The NoW challenge's files: image lists, scans, their 7 picked landmarks, predictions.

Layout (as the official ``now_evaluation`` reads it, ``compute_error.py``):

- ``NOW_ROOT/imagepathsvalidation.txt`` (or ``imagepathstest.txt``): one image per line,
  ``.../<subject>/<challenge>/<name>.jpg``; the subject, the challenge (``multiview_neutral``,
  ``multiview_expressions``, ``multiview_occlusions``, ``selfie``) and the name are the last three
  parts of the path.
- ``NOW_ROOT/scans/<subject>/*.obj``: the subject's scan, millimetres (the first file found).
- ``NOW_ROOT/scans_lmks_onlypp/<subject>/*.pp``: its 7 landmarks, MeshLab "picked points" XML.
- ``PRED_DIR/<subject>/<challenge>/<name>.obj`` (or ``.ply``): the predicted mesh, any unit and
  pose; ``<name>.npy`` ((7, 3) or (1, 7, 3)) or ``<name>.txt`` (7 lines ``x y z``): its 7 landmarks.

The 7 landmarks, in order: the right eye's outer and inner corners, the left eye's inner and outer
corners (image left to right), the nose bottom (subnasale), the mouth's right and left corners;
iBUG-68 indices ``LANDMARKS7_FROM_68`` = 36, 39, 42, 45, 33, 48, 54 (as DECA and MICA take them).

Ambiguity: the official reader takes the points from lines 9 to 15 of the ``.pp`` file by position;
we parse every ``<point .../>`` element in file order, which is the same for MeshLab's files and
does not break on a file with another header length. A ``.pp`` with other than 7 points is an error.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photoface.errors import InputFileError

LANDMARKS7_FROM_68 = np.array([36, 39, 42, 45, 33, 48, 54])
CHALLENGES = ("multiview_neutral", "multiview_expressions", "multiview_occlusions", "selfie")
IMAGE_LISTS = {"val": "imagepathsvalidation.txt", "test": "imagepathstest.txt"}
_POINT = re.compile(r"<point\b([^>]*)>", re.IGNORECASE)
_ATTR = re.compile(r'(\w+)\s*=\s*"([^"]*)"')


@dataclass(frozen=True)
class NowImage:
    """One line of an image list."""

    line: str
    subject: str
    challenge: str
    name: str  # the image's file name without its suffix


def read_image_list(path) -> list[NowImage]:
    """The images of a NoW image list (module docstring)."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such image list")
    out = []
    for k, line in enumerate(path.read_text().splitlines(), 1):
        line = line.strip()
        if not line:
            continue
        parts = line.replace("\\", "/").split("/")
        if len(parts) < 3:
            raise InputFileError(path, f"line {k}: expected .../<subject>/<challenge>/<image>, got {line!r}")
        out.append(NowImage(line, parts[-3], parts[-2], Path(parts[-1]).stem))
    if not out:
        raise InputFileError(path, "the image list is empty")
    return out


def read_pp(path) -> np.ndarray:
    """(7, 3) float64 landmarks of a MeshLab ``.pp`` picked-points file."""
    path = Path(path)
    if not path.is_file():
        raise InputFileError(path, "no such .pp file")
    points = []
    for match in _POINT.finditer(path.read_text(errors="replace")):
        attrs = dict(_ATTR.findall(match.group(1)))
        try:
            points.append([float(attrs[a]) for a in "xyz"])
        except (KeyError, ValueError):
            raise InputFileError(path, f"a <point> without numeric x, y, z: {match.group(0)}") from None
    if len(points) != 7:
        raise InputFileError(path, f"expected the 7 NoW landmarks, found {len(points)} <point> elements")
    return np.asarray(points, dtype=np.float64)


def write_pp(path, points: np.ndarray) -> Path:
    """Write (7, 3) points as a MeshLab ``.pp`` file, with MeshLab's header (8 lines)."""
    lines = ["<!DOCTYPE PickedPoints>", "<PickedPoints>", " <DocumentData>",
             '  <DateTime time="00:00:00" date="2020-01-01"/>', '  <User name="photoface"/>',
             '  <DataFileName name="scan.obj"/>', '  <templateName name=""/>', " </DocumentData>"]
    lines += [f' <point x="{x:.6f}" y="{y:.6f}" z="{z:.6f}" active="1" name="{i}"/>'
              for i, (x, y, z) in enumerate(np.asarray(points, dtype=np.float64))]
    lines += ["</PickedPoints>"]
    path = Path(path)
    path.write_text("\n".join(lines) + "\n")
    return path


def read_landmarks7(path) -> np.ndarray:
    """(7, 3) landmarks of a prediction, from ``.npy`` ((7, 3) or (1, 7, 3)) or ``.txt``."""
    path = Path(path)
    try:
        a = np.load(path, allow_pickle=False) if path.suffix == ".npy" else np.loadtxt(path, ndmin=2)
    except (OSError, ValueError) as exc:
        raise InputFileError(path, f"cannot read landmarks ({exc})") from None
    a = np.asarray(a, dtype=np.float64)
    if a.ndim == 3 and a.shape[0] == 1:
        a = a[0]
    if a.shape != (7, 3) or not np.isfinite(a).all():
        raise InputFileError(path, f"expected 7 finite landmarks (7, 3), found shape {a.shape}")
    return a


def read_mesh(path) -> tuple[np.ndarray, np.ndarray]:
    """(V, 3) float64 vertices and (F, 3) int64 triangles of an ``.obj`` or ``.ply``, in file order.

    OBJ files are parsed record by record (``facemodel.ict.read_obj``): trimesh may re-index the
    vertices of an OBJ with texture coordinates (DECA's have them), which would break landmarks
    given as vertex indices of a topology.
    """
    path = Path(path)
    if path.suffix.lower() not in (".obj", ".ply"):
        raise InputFileError(path, "mesh must be an .obj or .ply file")
    if not path.is_file():
        raise InputFileError(path, "no such mesh file")
    if path.suffix.lower() == ".obj":
        from photoface.facemodel.ict import read_obj

        return read_obj(path, with_faces=True)
    from photoface.evaluate.micc import read_with_trimesh

    return read_with_trimesh(path)


def first_file(folder: Path, suffix: str) -> Path | None:
    """The first ``*suffix`` file of ``folder`` in name order (the official script takes glob's first)."""
    files = sorted(folder.glob(f"*{suffix}")) if folder.is_dir() else []
    return files[0] if files else None


def prediction_files(pred_dir: Path, image: NowImage) -> tuple[Path | None, Path | None]:
    """The predicted mesh and landmark files of ``image`` (None where missing)."""
    stem = Path(pred_dir) / image.subject / image.challenge / image.name
    mesh = next((p for p in (stem.with_suffix(".obj"), stem.with_suffix(".ply")) if p.is_file()), None)
    lmk = next((p for p in (stem.with_suffix(".npy"), stem.with_suffix(".txt")) if p.is_file()), None)
    return mesh, lmk
