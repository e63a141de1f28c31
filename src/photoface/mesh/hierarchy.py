"""The COMA mesh hierarchy of a fixed template, cached on disk.

Level 0 is the template itself; level i+1 keeps ``ceil(n_i / factors[i])`` of level i's
vertices (see :mod:`photoface.mesh.decimate`). Between neighbouring levels:

* ``down[i]`` (n_{i+1}, n_i) selects the surviving vertices (rows are one-hot);
* ``up[i]`` (n_i, n_{i+1}) maps coarse values back by barycentric interpolation (rows sum to 1;
  see :mod:`photoface.mesh.sampling`), and ``down[i] @ up[i]`` is the identity.

Each level carries COMA's rescaled Laplacian ``L̂`` for Chebyshev filters
(:func:`photoface.mesh.graph.chebyshev_laplacian`). Vertex positions keep the template's unit.
The paper's decoder, FC → US(2) → GC → US(4) → GC … → US(4) → GC → GC, walks this hierarchy
from the coarsest level up, which is why the default factors, fine to coarse, are (4, 4, 4, 4, 2).

Building the 37k-vertex template takes seconds; the result is still cached because every
process that trains, evaluates or reconstructs needs it. Cache files live in ``$PHOTOFACE_CACHE``
(default ``~/.cache/photoface``), named by a SHA-256 of the template's vertices, faces, the
factors and :data:`CODE_VERSION`, and are written atomically (temporary file + rename), so a
crashed or concurrent writer never leaves a half-written file under the final name.

Same template, same hierarchy: the build is elementwise numpy, numpy's own reductions, a heap
and scipy.sparse products, with no BLAS call and no threads, so the thread count cannot change
a bit of it. tests/mesh/test_mesh_hierarchy_bits.py builds the demo template's hierarchy in
subprocesses with 1, 2 and 5 threads and with other CPU kernels (OpenBLAS Haswell, MKL AVX2,
torch and numpy without SIMD dispatch) and compares :meth:`MeshHierarchy.digest`. Not promised
across CPU architectures or numpy/scipy versions: a compiler that fuses multiply-adds (the
default on ARM) may round a quadric cost differently, and a near tie in the collapse order would
then keep other vertices. The cache, being per machine, cannot serve such a hierarchy to
another machine; a checkpoint can, so checkpoints record the digest (``photoface.run.checkpoint``).
"""

from __future__ import annotations

import hashlib
import math
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import scipy.sparse as sp

from photoface.atomic import write_atomic
from photoface.errors import PhotofaceError
from photoface.mesh.decimate import decimate_keep_vertices
from photoface.mesh.graph import chebyshev_laplacian
from photoface.mesh.sampling import selection_matrix, upsampling_matrix

# Bump when the decimation or sampling changes, so old cache files are not reused.
CODE_VERSION = "photoface.mesh.hierarchy/1"
DEFAULT_FACTORS = (4, 4, 4, 4, 2)


@dataclass
class MeshLevel:
    """One level of the hierarchy.

    Attributes:
        vertices: (n, 3) float64 positions, the template's unit.
        faces: (F, 3) int64 triangles, counter-clockwise from outside.
        template_index: (n,) int64 index of each vertex in the level-0 template.
        laplacian: (n, n) CSR float64, COMA's rescaled Laplacian L̂ (symmetric, spectrum in
            [-1, 1]).
    """

    vertices: np.ndarray
    faces: np.ndarray
    template_index: np.ndarray
    laplacian: sp.csr_matrix = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.laplacian = chebyshev_laplacian(self.faces, len(self.vertices))

    @property
    def n_vertices(self) -> int:
        return len(self.vertices)


@dataclass
class MeshHierarchy:
    """Levels fine → coarse with COMA's sampling matrices; see the module docstring.

    Attributes:
        levels: ``len(factors) + 1`` levels, ``levels[0]`` the template.
        down: ``down[i]`` CSR (n_{i+1}, n_i) selection matrix.
        up: ``up[i]`` CSR (n_i, n_{i+1}) barycentric up-sampling matrix.
        factors: the down-sampling factors, fine → coarse.
    """

    levels: list[MeshLevel]
    down: list[sp.csr_matrix]
    up: list[sp.csr_matrix]
    factors: tuple[float, ...]

    @property
    def sizes(self) -> list[int]:
        """Vertex counts per level, fine → coarse."""
        return [lv.n_vertices for lv in self.levels]

    @classmethod
    def build(
        cls, vertices: np.ndarray, faces: np.ndarray, factors: Sequence[float] = DEFAULT_FACTORS
    ) -> "MeshHierarchy":
        """Decimate the template level by level (no cache; see :func:`load_or_build`).

        Args:
            vertices: (V, 3) template positions (numpy or torch).
            faces: (F, 3) triangles, counter-clockwise from outside.
            factors: down-sampling factors ≥ 1, fine → coarse.
        """
        vertices, faces, factors = _check_inputs(vertices, faces, factors)
        levels = [MeshLevel(vertices, faces, np.arange(len(vertices), dtype=np.int64))]
        down, up = [], []
        for f in factors:
            fine = levels[-1]
            n_target = max(1, math.ceil(fine.n_vertices / f))
            kept, coarse_faces = decimate_keep_vertices(fine.vertices, fine.faces, n_target)
            down.append(selection_matrix(kept, fine.n_vertices))
            up.append(upsampling_matrix(fine.vertices, kept, coarse_faces))
            levels.append(MeshLevel(fine.vertices[kept], coarse_faces, fine.template_index[kept]))
        return cls(levels, down, up, factors)

    def digest(self) -> str:
        """Hex SHA-256 of every array of every level and sampling matrix (the cache file's content)."""
        h = hashlib.sha256()
        for lv in self.levels:
            for a in (lv.vertices, lv.faces, lv.template_index, lv.laplacian.data, lv.laplacian.indices,
                      lv.laplacian.indptr):
                h.update(np.ascontiguousarray(a).tobytes())
        for m in (*self.down, *self.up):
            for a in (m.data, m.indices, m.indptr):
                h.update(np.ascontiguousarray(a).tobytes())
        return h.hexdigest()

    def save(self, path: str | Path) -> None:
        """Write to ``path`` (.npz) atomically."""
        arrays: dict[str, np.ndarray] = {
            "code_version": np.array(CODE_VERSION),
            "factors": np.asarray(self.factors, dtype=np.float64),
        }
        for i, lv in enumerate(self.levels):
            arrays[f"vertices_{i}"] = lv.vertices
            arrays[f"faces_{i}"] = lv.faces
            arrays[f"template_index_{i}"] = lv.template_index
        for name, mats in (("down", self.down), ("up", self.up)):
            for i, m in enumerate(mats):
                arrays[f"{name}_{i}_data"] = m.data
                arrays[f"{name}_{i}_indices"] = m.indices
                arrays[f"{name}_{i}_indptr"] = m.indptr
                arrays[f"{name}_{i}_shape"] = np.asarray(m.shape)
        write_atomic(path, lambda fh: np.savez(fh, **arrays))

    @classmethod
    def load(cls, path: str | Path) -> "MeshHierarchy":
        """Read a file written by :meth:`save`; raises PhotofaceError if it is not one."""
        try:
            with np.load(path, allow_pickle=False) as z:
                if str(z["code_version"]) != CODE_VERSION:
                    raise PhotofaceError(
                        f"{path}: mesh hierarchy written by {z['code_version']}, expected {CODE_VERSION}"
                    )
                factors = tuple(float(f) for f in z["factors"])
                factors = tuple(int(f) if f.is_integer() else f for f in factors)
                levels = [
                    MeshLevel(z[f"vertices_{i}"], z[f"faces_{i}"], z[f"template_index_{i}"])
                    for i in range(len(factors) + 1)
                ]

                def mat(name: str, i: int) -> sp.csr_matrix:
                    p = f"{name}_{i}_"
                    shape = tuple(int(s) for s in z[p + "shape"])
                    return sp.csr_matrix((z[p + "data"], z[p + "indices"], z[p + "indptr"]), shape=shape)

                down = [mat("down", i) for i in range(len(factors))]
                up = [mat("up", i) for i in range(len(factors))]
        except PhotofaceError:
            raise
        except (OSError, KeyError, ValueError) as exc:
            raise PhotofaceError(f"{path}: not a readable mesh hierarchy file ({exc})") from exc
        return cls(levels, down, up, factors)


def _check_inputs(vertices, faces, factors) -> tuple[np.ndarray, np.ndarray, tuple[float, ...]]:
    if hasattr(vertices, "detach"):
        vertices = vertices.detach().cpu().numpy()
    if hasattr(faces, "detach"):
        faces = faces.detach().cpu().numpy()
    vertices = np.ascontiguousarray(vertices, dtype=np.float64)
    faces = np.ascontiguousarray(faces, dtype=np.int64)
    if vertices.ndim != 2 or vertices.shape[1] != 3:
        raise PhotofaceError(f"template vertices must have shape (V, 3), got {vertices.shape}")
    if faces.ndim != 2 or faces.shape[1] != 3 or len(faces) == 0:
        raise PhotofaceError(f"template faces must have shape (F, 3) with F > 0, got {faces.shape}")
    if faces.min() < 0 or faces.max() >= len(vertices):
        raise PhotofaceError("template faces index vertices that do not exist")
    factors = tuple(factors)
    if not factors or any(not (isinstance(f, (int, float)) and f >= 1) for f in factors):
        raise PhotofaceError(f"down-sampling factors must be numbers ≥ 1, got {factors}")
    return vertices, faces, factors


def hierarchy_key(vertices, faces, factors: Sequence[float] = DEFAULT_FACTORS) -> str:
    """Hex SHA-256 identifying a (template, factors, code version) combination."""
    vertices, faces, factors = _check_inputs(vertices, faces, factors)
    h = hashlib.sha256()
    h.update(CODE_VERSION.encode())
    h.update(repr([float(f) for f in factors]).encode())
    h.update(np.asarray(vertices.shape, dtype=np.int64).tobytes())
    h.update(vertices.astype("<f8").tobytes())
    h.update(np.asarray(faces.shape, dtype=np.int64).tobytes())
    h.update(faces.astype("<i8").tobytes())
    return h.hexdigest()


def default_cache_dir() -> Path:
    """``$PHOTOFACE_CACHE`` if set, else ``~/.cache/photoface``."""
    env = os.environ.get("PHOTOFACE_CACHE")
    return Path(env).expanduser() if env else Path.home() / ".cache" / "photoface"


def cache_path(vertices, faces, factors: Sequence[float] = DEFAULT_FACTORS, cache_dir=None) -> Path:
    """Where :func:`load_or_build` keeps the hierarchy of this template."""
    root = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    return root / f"mesh_hierarchy-{hierarchy_key(vertices, faces, factors)[:24]}.npz"


def load_or_build(
    vertices, faces, factors: Sequence[float] = DEFAULT_FACTORS, cache_dir: str | Path | None = None
) -> MeshHierarchy:
    """The template's hierarchy from the disk cache, building and caching it on a miss.

    Args:
        vertices: (V, 3) template positions.
        faces: (F, 3) triangles.
        factors: down-sampling factors, fine → coarse.
        cache_dir: overrides ``$PHOTOFACE_CACHE`` / ``~/.cache/photoface``.

    An unreadable cache file is rebuilt and replaced; an unwritable cache directory only costs
    a warning (the hierarchy is returned uncached).
    """
    path = cache_path(vertices, faces, factors, cache_dir)
    if path.exists():
        try:
            return MeshHierarchy.load(path)
        except PhotofaceError as exc:
            warnings.warn(f"rebuilding mesh hierarchy: {exc}", RuntimeWarning, stacklevel=2)
    hierarchy = MeshHierarchy.build(vertices, faces, factors)
    try:
        hierarchy.save(path)
    except OSError as exc:
        warnings.warn(f"cannot cache mesh hierarchy at {path}: {exc}", RuntimeWarning, stacklevel=2)
    return hierarchy
