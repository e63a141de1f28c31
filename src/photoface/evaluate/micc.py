"""MICC Florence 2D/3D Faces (Bagdanov et al. 2011): dataset layout, scans, videos, the two modes.

Layout of the distributed dataset (53 subjects), as used by public MICC evaluation code::

    ROOT/subject_01/Model/frontal1/obj/110920150452.obj    ground-truth scan (+ .mtl, texture)
    ROOT/subject_01/Model/frontal1/vrml/110920150452.wrl   the same scan as VRML
    ROOT/subject_01/Model/frontal2/...                     a second scan (some subjects)
    ROOT/subject_01/Video/Indoor-Cooperative.mjpg          setting "cooperative" (HD, indoor)
    ROOT/subject_01/Video/PTZ-Indoor.mjpeg                 setting "indoor" (PTZ camera)
    ROOT/subject_01/Video/PTZ-Outdoor.mjpeg                setting "outdoor" (PTZ camera)

Video extensions vary between subjects (``.mjpg``, ``.mjpeg``, ``.mpg``, ``.avi``). A folder with
the video's stem (``Video/PTZ-Outdoor/``) holding extracted frames is used instead of, or in
preference to, the video file (see ``photoface.evaluate.video``). Scans are read from OBJ when
present, else from VRML. Scan units are millimetres.

Evaluation modes (Gao et al. 2020, Table 1), per subject and per video setting:

* ``identity``: the identity codes of the video's frames are averaged and decoded with a neutral
  expression (``average_identity_code``);
* ``three_views``: a left, a frontal and a right frame are picked by estimated yaw
  (``select_three_views``); the runner decodes each with a neutral expression and averages
  the three meshes (see ``photoface.evaluate.micc_runner`` and docs/evaluation.md).

The reconstruction is scored against the subject's scan with ``photoface.evaluate.protocol`` and
the per-subject errors are summarised as mean ± std per setting (``summarize_errors``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from photoface.data.format import SETTINGS
from photoface.errors import InputFileError
from photoface.evaluate.video import IMAGE_SUFFIXES, frame_files

VIDEO_STEMS = dict(zip(SETTINGS, ("Indoor-Cooperative", "PTZ-Indoor", "PTZ-Outdoor")))
"""The file stem of each setting's video in a subject's ``Video`` folder."""
VIDEO_SUFFIXES = (".mjpg", ".mjpeg", ".mpg", ".mpeg", ".avi", ".mp4", ".mov")


@dataclass
class MiccSubject:
    """One subject folder: ``scans`` maps a scan name (``frontal1``) to its file, ``videos`` maps a
    setting (``cooperative`` / ``indoor`` / ``outdoor``) to a video file or frame folder."""

    name: str
    root: Path
    scans: dict[str, Path] = field(default_factory=dict)
    videos: dict[str, Path] = field(default_factory=dict)

    def scan(self, preferred: Sequence[str] = ("frontal1", "frontal2")) -> Path:
        """The ground-truth scan: the first of ``preferred`` present, else the first by name."""
        for name in preferred:
            if name in self.scans:
                return self.scans[name]
        if not self.scans:
            raise InputFileError(self.root, "subject has no ground-truth scan under Model/")
        return self.scans[sorted(self.scans)[0]]


def _find_scan(view_dir: Path) -> Path | None:
    for sub, suffixes in (("obj", (".obj",)), ("vrml", (".wrl", ".gz")), (".", (".obj", ".wrl"))):
        folder = view_dir / sub
        if folder.is_dir():
            files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
            if files:
                return files[0]
    return None


def _find_video(video_dir: Path, stem: str) -> Path | None:
    folder = video_dir / stem
    if folder.is_dir() and any(p.suffix.lower() in IMAGE_SUFFIXES for p in folder.iterdir()):
        return folder
    for suffix in VIDEO_SUFFIXES:
        for cand in (video_dir / (stem + suffix), video_dir / (stem + suffix.upper())):
            if cand.is_file():
                return cand
    return None


def find_subjects(root: str | Path) -> list[MiccSubject]:
    """Every ``subject_*`` folder under ``root`` (or under ``root/Florence``), sorted by number.

    Raises:
        InputFileError: ``root`` missing or without subject folders.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputFileError(root, "MICC root folder does not exist")
    dirs = [p for p in root.iterdir() if p.is_dir() and p.name.lower().startswith("subject_")]
    if not dirs and (root / "Florence").is_dir():
        return find_subjects(root / "Florence")
    if not dirs:
        raise InputFileError(root, "no subject_* folders: not the MICC Florence layout")

    def number(p: Path):
        digits = "".join(ch for ch in p.name if ch.isdigit())
        return (int(digits) if digits else 10**9, p.name)

    subjects = []
    for d in sorted(dirs, key=number):
        subj = MiccSubject(d.name, d)
        model = d / "Model"
        if model.is_dir():
            for view in sorted(p for p in model.iterdir() if p.is_dir()):
                scan = _find_scan(view)
                if scan is not None:
                    subj.scans[view.name] = scan
        for setting, stem in VIDEO_STEMS.items():
            video = _find_video(d / "Video", stem)
            if video is not None:
                subj.videos[setting] = video
        subjects.append(subj)
    return subjects


def load_scan(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) float64 mm and triangles (F, 3) int64 of an OBJ or VRML scan.

    OBJ files are read with trimesh without merging or reordering vertices (``process=False``).
    """
    path = Path(path)
    suffixes = "".join(path.suffixes).lower()
    if suffixes.endswith((".wrl", ".wrl.gz", ".vrml")):
        from photoface.evaluate.vrml import read_vrml

        return read_vrml(path)
    if path.suffix.lower() != ".obj":
        raise InputFileError(path, "scan must be an .obj or .wrl file")
    if not path.is_file():
        raise InputFileError(path, "scan file does not exist")
    return read_with_trimesh(path)


def read_with_trimesh(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """Vertices (V, 3) float64 and triangles (F, 3) int64 of a mesh file trimesh reads (.obj, .ply),
    without merging or reordering vertices; InputFileError naming ``path`` when it cannot."""
    import trimesh

    try:
        mesh = trimesh.load(path, process=False, force="mesh", skip_materials=True)
    except Exception as exc:  # trimesh raises many different types on bad files
        raise InputFileError(path, f"cannot read the mesh: {exc}") from exc
    if len(mesh.vertices) == 0 or len(mesh.faces) == 0:
        raise InputFileError(path, "the mesh has no triangles")
    return np.asarray(mesh.vertices, dtype=np.float64), np.asarray(mesh.faces, dtype=np.int64)


def count_frames(source: Path) -> int | None:
    """Number of frames of a frame folder (None for a video file: unknown without decoding)."""
    return len(frame_files(source)) if Path(source).is_dir() else None


# ----------------------------------------------------------------------------------- the modes


def average_identity_code(codes: np.ndarray, weights: np.ndarray | None = None) -> np.ndarray:
    """Mean identity code over frames; decode it with a zero (neutral) expression code.

    Args:
        codes: (T, D) identity codes of T frames.
        weights: (T,) optional non-negative weights (e.g. detection confidence).

    Returns:
        (D,).
    """
    codes = np.asarray(codes, dtype=np.float64)
    if codes.ndim != 2 or len(codes) == 0:
        raise ValueError("codes must be a non-empty (T, D) array")
    if weights is None:
        return codes.mean(axis=0)
    w = np.asarray(weights, dtype=np.float64)
    if w.sum() <= 0:
        raise ValueError("weights must have a positive sum")
    return (w[:, None] * codes).sum(axis=0) / w.sum()


def select_three_views(yaw_deg: Sequence[float], side_deg: float = 30.0) -> dict[str, int]:
    """Indices of a left, a frontal and a right frame by estimated yaw.

    Yaw follows photoface's camera convention: positive yaw turns the face towards the subject's
    left. "left" is the frame whose yaw is closest to +side_deg among frames with positive yaw,
    "right" the one closest to -side_deg among negative yaws, "frontal" the smallest |yaw|. When a
    video has no frame on one side, that view falls back to the frontal frame.

    Args:
        yaw_deg: (T,) yaw estimate per frame, degrees (NaN for frames without a face).
        side_deg: target |yaw| of the side views, degrees.

    Returns:
        {"left": i, "frontal": j, "right": k}.
    """
    yaw = np.asarray(yaw_deg, dtype=np.float64)
    valid = np.isfinite(yaw)
    if not valid.any():
        raise ValueError("no frame has a yaw estimate")
    idx = np.flatnonzero(valid)
    frontal = int(idx[np.argmin(np.abs(yaw[idx]))])

    def side(sign: float) -> int:
        cand = idx[sign * yaw[idx] > 0]
        if len(cand) == 0:
            return frontal
        return int(cand[np.argmin(np.abs(yaw[cand] - sign * side_deg))])

    return {"left": side(1.0), "frontal": frontal, "right": side(-1.0)}


def summarize_errors(errors: Iterable[float]) -> dict[str, float]:
    """{"mean", "std", "sem", "n"} of per-subject errors in mm (population std, ddof = 0, as published
    MICC tables do; ``sem`` = the sample std / sqrt(n), the standard error of the mean, NaN below
    two subjects); NaNs (failed subjects) are excluded and counted in "failed"."""
    e = np.asarray(list(errors), dtype=np.float64)
    ok = e[np.isfinite(e)]
    return {
        "mean": float(ok.mean()) if len(ok) else float("nan"),
        "std": float(ok.std()) if len(ok) else float("nan"),
        "sem": float(ok.std(ddof=1) / np.sqrt(len(ok))) if len(ok) > 1 else float("nan"),
        "n": int(len(ok)),
        "failed": int(len(e) - len(ok)),
    }


def aggregate_records(records: Iterable[dict], key: str = "symmetric_mm") -> dict[str, dict[str, dict]]:
    """Group per-(subject, setting, mode) results into {mode: {setting: summary}}.

    Args:
        records: dicts with "mode", "setting" and the error under ``key`` (mm).
        key: which error to summarise ("symmetric_mm", "scan_to_pred_mm" or "pred_to_scan_mm").
    """
    grouped: dict[str, dict[str, list[float]]] = {}
    for r in records:
        grouped.setdefault(r["mode"], {}).setdefault(r["setting"], []).append(r[key])
    order = {s: i for i, s in enumerate(SETTINGS)}
    return {
        mode: {s: summarize_errors(v) for s, v in sorted(by.items(), key=lambda kv: order.get(kv[0], 99))}
        for mode, by in grouped.items()
    }
