"""The built-in procedural face model: the embedded default, made from code and a seed alone.

``build_procedural_model(resolution, seed)`` assembles:

- topology (``mesh``): a mirror-symmetric face-mask grid, forehead to chin and ear to
  ear, with a mouth slit and a closed mouth pocket;
- mean shape (``layout``, ``surface``): an elliptical base surface plus
  anatomical features, with proportions taken from FACE_PROPORTIONS.md;
- 68 iBUG landmarks, exact mirror map and named regions (``landmarks``);
- identity basis, 100 PCA modes with standard-normal coefficients (``identity``);
- 35 expression blendshapes with weights in [0, 1] (``expression``);
- albedo mean and 60 PCA modes (``albedo``).

Resolutions: ``demo`` (4,797 vertices) and ``paper`` (37,071, like the paper's
37,202-vertex BFM crop). The seed drives the random components of the identity and albedo
bases; the mean face, landmarks, regions and expressions do not depend on it.

The mean shape is finally moved to the canonical origin (``model.canonical_origin``), and each
identity mode carries no translation of that origin, so every identity rotates about the same
anatomical point.

**Same bits everywhere.** Everything is computed in float64 and rounded once, to float32, by
``MorphableModel``. The mean, landmarks, regions and expressions are elementwise numpy
arithmetic, which no thread count changes. The two PCAs (identity and albedo) were not: with
builder 1 the Gram matrix ``G Gᵀ`` (BLAS), the eigenvectors (LAPACK ``eigh``) and the projection
``Vᵀ G`` (BLAS) sum in an order that depends on the thread count and the CPU's kernels, and an
eigenvector turns a last-bit change of its input into float32-visible changes (issue 15: demo
hash 0912fc75… with one thread, f5eb5db2… with two). Measured on the 2-core AVX-512 box by
comparing the arrays of builds in subprocesses: builder 1 as committed gave afaf657b… for 1, 2
and 5 threads there, because it pinned ``eigh`` to one thread and torch's float64 Gram did not
change with threads on that box; but ``eigh`` unpinned and numpy's OpenBLAS Gram both changed
with the thread count, and with ``OPENBLAS_CORETYPE=Haswell`` or ``Sandybridge`` (another CPU's
kernels) scipy's ``nnls`` in the identity calibration moved some standard deviations by one
ulp, which changed ``id_basis`` entries by up to 3.7e-9 and the hash (→ 6e090c2e…).

Builder 2 (``cache.BUILDER_VERSION``): ``pca`` snaps the generators to an integer grid, forms the
Gram matrix and the projection as exact integer products (any BLAS, any threads) and solves the
eigenproblem with a plain-numpy Jacobi method; ``identity`` rounds the nnls result to 30
significant bits. The demo hash is the same for 1, 2 and 5 threads and with Haswell/Sandybridge
OpenBLAS kernels, AVX2 MKL kernels, torch's scalar kernels and numpy's x86-64-v2 baseline loops (see
tests/facemodel/test_facemodel_procedural_bits.py). What remains machine-dependent is the
float64 libm (exp, tanh, …) under the generators: a one-ulp difference there survives only if
it falls within one ulp of a grid or rounding midpoint (≈ 1e-5 per build, see ``pca``); no
such difference was seen between the instruction sets above.

Builder 3 (issue 20) keeps that machinery and redesigns the face itself: open eyes, a human nose,
fuller lower face, a rounded hairline, soft albedo (docs/face_model.md, with its sources).
Builder 4 makes the nostrils nasal vestibules that rise inside the nose behind the alae and the
tip (``surface.nostril_offset``), shaded in the albedo by depth, and brings the soft-tissue chin
within the facial-convexity norm (``surface.CHIN_PROMINENCE``).
Builder 5 takes the nose's landmarks on the outer skin only: builder 4's iBUG 31/32/34/35 lay
inside the vestibules (``landmarks``).

Cost (``build_procedural_model``, one thread, medians of 3, builder 1 and 2 alternated in one
session on this 2-core box while other jobs loaded it): demo 0.54 / 0.93 s → 2.89 / 3.42 s,
paper 12.8 s → 22.0 s (single runs 9–17 s and 16–35 s). The Jacobi sweeps (about 2 s for the 203
identity generators) are most of it; the result is cached on disk, so this is paid once per
machine and code version.
"""

from __future__ import annotations

import numpy as np

from photoface.errors import PhotofaceError
from photoface.facemodel.model import MorphableModel, canonical_origin
from photoface.facemodel.procedural import layout
from photoface.facemodel.procedural.albedo import albedo_basis
from photoface.facemodel.procedural.expression import expression_basis
from photoface.facemodel.procedural.identity import identity_basis
from photoface.facemodel.procedural.landmarks import select_landmarks, select_regions
from photoface.facemodel.procedural.mesh import build_grid
from photoface.facemodel.procedural.surface import build_mean, nose_height

N_ID, N_TEX = 100, 60
RESOLUTIONS = tuple(layout.RESOLUTIONS)


def build_procedural_model(resolution: str = "demo", seed: int = 0) -> MorphableModel:
    """Build the procedural face model (no caching; see ``cache.builtin_model``)."""
    if resolution not in layout.RESOLUTIONS:
        raise PhotofaceError(f"unknown resolution {resolution!r}; choose one of {RESOLUTIONS}")
    rows, cols, pocket = layout.RESOLUTIONS[resolution]
    place = layout.place_grid(rows, cols)
    grid = build_grid(rows, cols, place.slit_row, place.slit_half, pocket)
    mean = build_mean(grid, place)
    lm = select_landmarks(grid, mean)
    regions = select_regions(grid, mean)
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), 0x70686F74]))
    nose_h = nose_height(mean.base_xy[:, 0], mean.base_xy[:, 1])
    id_basis, _, _ = identity_basis(mean.verts, mean.base_xy, mean.normal, nose_h, lm, N_ID, rng)
    exp_basis, exp_names = expression_basis(grid, mean)
    tex_mean, tex_basis = albedo_basis(grid, mean, N_TEX, rng)
    verts = mean.verts - canonical_origin(mean.verts, lm)[None]
    return MorphableModel(
        verts, id_basis, exp_basis, tex_mean, tex_basis, grid.faces, lm, grid.mirror, regions,
        name=f"photoface-procedural-{resolution}",
        source=f"photoface procedural face model, resolution {resolution}, seed {seed}",
        license="MIT (generated by photoface; contains no scanned data)",
        exp_kind="blendshape",
        exp_names=exp_names,
    )
