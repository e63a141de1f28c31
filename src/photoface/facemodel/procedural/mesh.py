"""Topology of the procedural face: a mirror-symmetric grid with a mouth slit and a mouth pocket.

The face mask is a grid of ``rows × cols`` vertices (row 0 at the top of the forehead, column 0
at the subject's right ear, an odd number of columns so that column ``cols // 2`` is the
midline). Vertex ``(i, j)`` has the mirror partner ``(i, cols-1-j)`` and every quad is split
along the diagonal that points away from the midline, so the triangulation itself is symmetric.

The mouth: along the slit row ``slit_row`` the vertices strictly between the two mouth-corner
columns are doubled. The upper copy belongs to the upper lip, the lower copy to the lower lip,
so the lips can separate. Behind the slit a pocket (the inside of the mouth) continues both lips
backwards: ``pocket_rows - 1`` rows behind the upper lip, the same behind the lower lip, and one
back row shared by both, all collapsing onto the two corner vertices at the mouth corners. The
surface therefore stays closed at the mouth: an open mouth shows the pocket, not a hole. At
neutral the upper and lower pocket rows lie on top of each other, hidden behind the lips.

Orientation: the grid rows run downward (−y) and columns towards +x, and each triangle is
written (a, below-a, right-of-a) style, so triangles are counter-clockwise seen from the front
(+z). The pocket continues the same row order (upper slit → upper pocket → back → lower pocket →
lower slit), so its triangles face into the mouth cavity, which is its outside.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# Vertex kinds (``FaceGrid.part``).
GRID, SLIT_LOWER, POCKET_UPPER, POCKET_LOWER, POCKET_BACK = range(5)


@dataclass
class FaceGrid:
    """Indices and triangles of the procedural face mesh (positions come later).

    Per-vertex arrays (V,): ``row``, ``col`` (grid position; pocket vertices carry the slit row
    and their column), ``part`` (one of GRID, SLIT_LOWER, POCKET_UPPER, POCKET_LOWER,
    POCKET_BACK) and ``depth`` (0 on the face, 1 … pocket_rows inside the mouth).
    ``index`` (rows, cols) maps a grid position to its vertex (the upper copy on the slit row).
    """

    rows: int
    cols: int
    slit_row: int
    slit_half: int  # mouth corners at columns mid ± slit_half
    pocket_rows: int
    index: np.ndarray
    row: np.ndarray
    col: np.ndarray
    part: np.ndarray
    depth: np.ndarray
    faces: np.ndarray  # (F, 3) int64, counter-clockwise from outside
    mirror: np.ndarray  # (V,) int64

    @property
    def mid(self) -> int:
        return self.cols // 2

    @property
    def num_vertices(self) -> int:
        return int(self.row.shape[0])

    def lower_copy(self, j: int) -> int:
        """Vertex of the lower-lip copy at slit column ``j`` (the shared corner at the ends)."""
        jl, jr = self.mid - self.slit_half, self.mid + self.slit_half
        if j <= jl or j >= jr:
            return int(self.index[self.slit_row, j])
        return int(self.rows * self.cols + (j - jl - 1))


def build_grid(rows: int, cols: int, slit_row: int, slit_half: int, pocket_rows: int) -> FaceGrid:
    """Indices, triangles and mirror map of the face grid (see module docstring)."""
    if cols % 2 != 1:
        raise ValueError("cols must be odd (a midline column)")
    if not (1 <= slit_row <= rows - 2) or not (1 <= slit_half < cols // 2) or pocket_rows < 1:
        raise ValueError("slit/pocket outside the grid")
    mid = cols // 2
    jl, jr = mid - slit_half, mid + slit_half
    inner = np.arange(jl + 1, jr)  # doubled slit columns
    n_in = inner.size

    index = np.arange(rows * cols).reshape(rows, cols)
    row = list(np.repeat(np.arange(rows), cols))
    col = list(np.tile(np.arange(cols), rows))
    part = [GRID] * (rows * cols)
    depth = [0] * (rows * cols)
    nxt = rows * cols

    def add(kind: int, d: int) -> np.ndarray:
        nonlocal nxt
        ids = np.arange(nxt, nxt + n_in)
        nxt += n_in
        row.extend([slit_row] * n_in)
        col.extend(inner.tolist())
        part.extend([kind] * n_in)
        depth.extend([d] * n_in)
        return ids

    lower = add(SLIT_LOWER, 0)
    upper_pocket = [add(POCKET_UPPER, r) for r in range(1, pocket_rows)]
    back = add(POCKET_BACK, pocket_rows)
    lower_pocket = [add(POCKET_LOWER, r) for r in range(1, pocket_rows)]

    corner_l, corner_r = index[slit_row, jl], index[slit_row, jr]

    def slit_span(ids: np.ndarray) -> np.ndarray:
        """A pocket/slit row over columns jl..jr, ends collapsed onto the corner vertices."""
        return np.concatenate([[corner_l], ids, [corner_r]])

    tris: list[np.ndarray] = []
    all_cols = np.arange(cols)
    lower_row = index[slit_row].copy()
    lower_row[inner] = lower
    for i in range(rows - 1):
        top = lower_row if i == slit_row else index[i]
        tris.append(_strip(top, index[i + 1], all_cols, mid))
    span_cols = np.arange(jl, jr + 1)
    seq = (
        [slit_span(index[slit_row, inner])]
        + [slit_span(p) for p in upper_pocket]
        + [slit_span(back)]
        + [slit_span(p) for p in reversed(lower_pocket)]
        + [slit_span(lower)]
    )
    for a, b in zip(seq[:-1], seq[1:]):
        tris.append(_strip(a, b, span_cols, mid))
    faces = np.concatenate(tris)
    faces = faces[(faces[:, 0] != faces[:, 1]) & (faces[:, 1] != faces[:, 2]) & (faces[:, 0] != faces[:, 2])]

    row_a, col_a, part_a = np.array(row), np.array(col), np.array(part)
    mirror = np.empty(nxt, dtype=np.int64)
    g = np.arange(rows * cols)
    mirror[g] = index[row_a[g], cols - 1 - col_a[g]]
    # Doubled rows are laid out by column, so the partner sits at the reversed position.
    for ids in [lower, back] + upper_pocket + lower_pocket:
        mirror[ids] = ids[::-1]
    return FaceGrid(
        rows, cols, slit_row, slit_half, pocket_rows, index, row_a, col_a, part_a,
        np.array(depth), faces.astype(np.int64), mirror,
    )


def _strip(a: np.ndarray, b: np.ndarray, cols: np.ndarray, mid: int) -> np.ndarray:
    """Triangles between vertex rows ``a`` (above) and ``b`` (below) over global columns ``cols``.

    Quads left of the midline (x < 0) use the diagonal a[c]–b[c+1], those right of it the
    mirrored diagonal a[c+1]–b[c]; both triangles of a quad are counter-clockwise from +z.
    """
    a00, a01, a10, a11 = a[:-1], a[1:], b[:-1], b[1:]
    left = cols[:-1] < mid
    t1 = np.where(left[:, None], np.stack([a00, a10, a11], 1), np.stack([a00, a10, a01], 1))
    t2 = np.where(left[:, None], np.stack([a00, a11, a01], 1), np.stack([a01, a10, a11], 1))
    return np.concatenate([t1, t2])
