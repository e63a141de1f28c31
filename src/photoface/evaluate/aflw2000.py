"""AFLW2000-3D (Zhu et al. 2016): read its images and .mat annotations.

Layout: one folder with ``imageNNNNN.jpg`` and a ``imageNNNNN.mat`` of the same stem. Each .mat
(MATLAB v5, read with scipy.io.loadmat) holds:

* ``pt3d_68`` (3, 68): the 68 landmarks, rows x, y (image pixels, y down) and z;
* ``Pose_Para`` (1, 7): pitch, yaw, roll (radians), tx, ty, tz, scale;
* ``Shape_Para`` (199, 1), ``Exp_Para`` (29, 1): BFM identity and expression coefficients;
* ``roi`` (1, 4), and ``pt2d``, ``Color_Para``, ``Illum_Para``, ``Tex_Para`` which we do not use.

Pixel convention: the annotations come from MATLAB, whose pixel (1, 1) has its centre at (1, 1);
photoface puts the centre of the first pixel at (0.5, 0.5), so by default 0.5 px is subtracted
from x and y (``pixel_offset``). Angles are returned in degrees, with the dataset's own signs:
only |yaw| enters the benchmark.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from photoface.errors import InputFileError

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")


@dataclass
class Aflw2000Sample:
    """One annotated image of AFLW2000-3D."""

    name: str
    image: Path
    landmarks: np.ndarray  # (68, 2) pixels, photoface image convention
    landmarks3d: np.ndarray  # (68, 3): x, y as ``landmarks``, z as stored
    pitch_deg: float
    yaw_deg: float
    roll_deg: float
    pose_para: np.ndarray  # (7,) as stored: pitch, yaw, roll (rad), tx, ty, tz, scale
    shape_para: np.ndarray | None  # (199,)
    exp_para: np.ndarray | None  # (29,)
    roi: np.ndarray | None  # (4,)


def _field(data: dict, key: str, path: Path, shape=None, required=True):
    if key not in data:
        if required:
            raise InputFileError(path, f"missing variable {key!r}")
        return None
    a = np.asarray(data[key], dtype=np.float64)
    if shape is not None and a.size != int(np.prod(shape)):
        raise InputFileError(path, f"{key} has shape {a.shape}, expected {shape}")
    return a.reshape(shape) if shape is not None else a.ravel()


def read_aflw2000_mat(path: str | Path, image: str | Path | None = None,
                      pixel_offset: float = 0.5) -> Aflw2000Sample:
    """Read one AFLW2000-3D annotation.

    Args:
        path: the .mat file.
        image: its image (default: the same stem with .jpg).
        pixel_offset: subtracted from x and y to convert to photoface's pixel convention.

    Raises:
        InputFileError: unreadable file, or missing / malformed ``pt3d_68`` or ``Pose_Para``.
    """
    import scipy.io

    path = Path(path)
    try:
        data = scipy.io.loadmat(path)
    except Exception as exc:  # scipy's reader fails on foreign bytes with IndexError, TypeError, ...
        raise InputFileError(path, f"cannot read .mat: {type(exc).__name__}: {exc}") from exc
    pts = _field(data, "pt3d_68", path, (3, 68))
    pose = _field(data, "Pose_Para", path, (7,))
    shape_para = _field(data, "Shape_Para", path, required=False)
    exp_para = _field(data, "Exp_Para", path, required=False)
    roi = _field(data, "roi", path, required=False)
    lm3 = pts.T.copy()
    lm3[:, :2] -= pixel_offset
    pitch, yaw, roll = np.degrees(pose[:3])
    return Aflw2000Sample(
        name=path.stem,
        image=Path(image) if image is not None else path.with_suffix(".jpg"),
        landmarks=lm3[:, :2].copy(),
        landmarks3d=lm3,
        pitch_deg=float(pitch),
        yaw_deg=float(yaw),
        roll_deg=float(roll),
        pose_para=pose,
        shape_para=shape_para,
        exp_para=exp_para,
        roi=roi,
    )


def list_aflw2000(root: str | Path, pixel_offset: float = 0.5) -> list[Aflw2000Sample]:
    """Every image of the folder that has a .mat annotation, sorted by name.

    Raises:
        InputFileError: folder missing or without image/.mat pairs.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "AFLW2000-3D folder does not exist")
    images = {p.stem: p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES}
    samples = [
        read_aflw2000_mat(mat, images[mat.stem], pixel_offset)
        for mat in sorted(root.glob("*.mat"))
        if mat.stem in images
    ]
    if not samples:
        raise InputFileError(root, "no image with a matching .mat annotation: not the AFLW2000-3D layout")
    return samples
