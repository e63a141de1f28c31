"""MediaPipe's 478 points on any face model: which model vertex plays each point.

Built automatically for every model (built-in, ICT, BFM, FLAME) from two things the model and the
MediaPipe face model both have, and nothing tuned to photos:

1. MediaPipe's canonical face mesh (468 vertices, mm; ``data.prepare.canonical_mesh``) is
   registered to the model's mean shape by the least-squares similarity (Umeyama,
   ``mesh.similarity``) between the canonical mesh's iBUG-68 points (the published table of
   ``data.prepare.ibug68``) and the model's 68 landmark vertices;
2. each registered canonical vertex takes the closest model vertex among those that face the
   camera (normal z > −0.1 at the mean) and are not inside the mouth or the eyeballs (the model's
   ``mouth_interior`` and ``eyes`` regions, ``contour.outer_skin``).

A point is *reliable* when that closest vertex lies within ``max_distance_mm`` of it: the two
faces then agree there, up to their shapes. The 10 iris points (468–477) have no vertex. The
points on the canonical mesh's outer boundary (its face oval) lie on the outline of the face in a
photo, like a 2-D detector's jaw points, so the fit moves them to the silhouette as it moves the
jaw (``fit.contour``); they are marked ``silhouette``.

The result is cached on disk (``$PHOTOFACE_CACHE``, default ``~/.cache/photoface``) under the
model's content hash and the MediaPipe model's sha256; building it takes well under a second.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from scipy.spatial import cKDTree

from photoface.atomic import write_atomic
from photoface.data.prepare.canonical_mesh import NUM_LANDMARKS, CanonicalMesh, canonical_mesh
from photoface.data.prepare.ibug68 import to_ibug68
from photoface.fit.contour import outer_skin
from photoface.mesh.border import longest_border_loop
from photoface.mesh.hierarchy import default_cache_dir
from photoface.mesh.similarity import umeyama

VERSION = 1
"""Bump when the construction changes, so that old cache files are not reused."""
MAX_DISTANCE_MM = 6.0


@dataclass(frozen=True)
class DenseCorrespondence:
    """vertices (478,) long, the model vertex of each MediaPipe point (−1: none); reliable (478,)
    bool; silhouette (478,) bool, the face-oval points; distance_mm (478,) from the registered
    canonical vertex to its model vertex (inf: none)."""

    vertices: np.ndarray
    reliable: np.ndarray
    silhouette: np.ndarray
    distance_mm: np.ndarray

    def to_npz(self) -> bytes:
        buf = io.BytesIO()
        np.savez(buf, version=VERSION, vertices=self.vertices, reliable=self.reliable, silhouette=self.silhouette,
                 distance_mm=self.distance_mm)
        return buf.getvalue()


def build_correspondence(face_model, mesh: CanonicalMesh | None = None,
                         max_distance_mm: float = MAX_DISTANCE_MM) -> DenseCorrespondence:
    """The correspondence of ``face_model`` (module docstring), without the cache."""
    mesh = canonical_mesh() if mesh is None else mesh
    mean = face_model.mean.detach().cpu().double().numpy()
    lm = face_model.landmarks68.cpu().numpy()
    padded = np.concatenate([mesh.vertices, np.zeros((NUM_LANDMARKS - len(mesh.vertices), 3))])
    sim = umeyama(to_ibug68(padded), mean[lm])
    registered = sim.apply(mesh.vertices)
    normals = face_model.vertex_normals(face_model.mean.detach().cpu()[None])[0].double().numpy()
    allowed = (normals[:, 2] > -0.1) & outer_skin(face_model)
    candidates = np.flatnonzero(allowed)
    dist, nearest = cKDTree(mean[candidates]).query(registered)
    vertices = np.full(NUM_LANDMARKS, -1, np.int64)
    distance = np.full(NUM_LANDMARKS, np.inf)
    vertices[:len(registered)] = candidates[nearest]
    distance[:len(registered)] = dist
    silhouette = np.zeros(NUM_LANDMARKS, bool)
    silhouette[longest_border_loop(mesh.triangles)] = True
    return DenseCorrespondence(vertices, distance <= max_distance_mm, silhouette, distance)


def correspondence(face_model, cache_dir: str | Path | None = None) -> DenseCorrespondence:
    """The model's correspondence from the disk cache, built and cached on a miss. An unreadable
    cache file is rebuilt; an unwritable cache folder only costs a warning."""
    from photoface.data.prepare.landmarker_file import SHA256
    from photoface.facemodel.io import model_hash

    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    path = root / f"mediapipe_points-v{VERSION}-{model_hash(face_model)[:20]}-{SHA256[:12]}.npz"
    if path.is_file():
        try:
            with np.load(path) as z:
                if int(z["version"]) == VERSION:
                    return DenseCorrespondence(z["vertices"], z["reliable"], z["silhouette"], z["distance_mm"])
        except (OSError, ValueError, KeyError) as exc:
            warnings.warn(f"rebuilding {path.name}: {exc}", RuntimeWarning, stacklevel=2)
    result = build_correspondence(face_model)
    try:
        write_atomic(path, result.to_npz())
    except OSError as exc:
        warnings.warn(f"cannot cache the MediaPipe correspondence at {path}: {exc}", RuntimeWarning, stacklevel=2)
    return result
