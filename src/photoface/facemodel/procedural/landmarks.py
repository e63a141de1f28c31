"""The 68 iBUG landmarks and the named regions of the procedural face.

Landmarks are chosen on the subject's left side (x > 0) and on the midline, and the right-side
ones are their mirror vertices, so ``mirror[landmarks68[i]] == landmarks68[IBUG_MIRROR[i]]``
holds by construction. Points with a structural meaning are exact mesh vertices: eye corners and
lid points lie on the lid-margin rows, mouth corners are the ends of the mouth slit, the inner-lip
points are the upper/lower copies of slit vertices. The others are the grid vertex nearest (in
the base surface's x, y) to a design position in design coordinates (``layout``); the nose's
are taken only on the outer skin, never inside a naris (``surface.nostril_depth`` = 0): iBUG
31-35 trace the lower outline of the nose seen from the front (the alar bases, the nostril sills,
the subnasale), and a vertex inside the vestibule lies up to 20 mm behind that outline (builder
4 placed 31/32/34/35 there, 32/34 with 31 mm of nose in front of them, so every landmark fit read
the detected nose base as a point inside the nose).
"""

from __future__ import annotations

import numpy as np

from photoface.facemodel.model import IBUG_MIRROR
from photoface.facemodel.procedural import layout
from photoface.facemodel.procedural.mesh import GRID, SLIT_LOWER, FaceGrid
from photoface.facemodel.procedural.surface import MeanSurface, eye_s, lid_margins, lip_outline, nostril_depth

# Left-side / midline design positions (x, y), mm, for landmarks placed by nearest vertex.
_JAW = {  # 8 = chin (midline) ... 16 = at ear level
    8: (0.0, layout.CHIN_Y), 9: (21.0, -104.5), 10: (37.0, -95.0), 11: (48.0, -83.0),
    12: (59.5, -66.0), 13: (66.0, -53.0), 14: (69.5, -41.0), 15: (72.5, -24.0), 16: (73.6, -7.0),
}
_BROW = {22: (14.0, 26.2), 23: (26.0, 29.2), 24: (37.0, 30.2), 25: (48.0, 29.2), 26: (layout.BROW_OUTER_X, 25.2)}
_NOSE = {
    27: (0.0, layout.NOSE_ROOT_Y), 28: (0.0, -8.0), 29: (0.0, -20.0), 30: (0.0, layout.NOSE_TIP_Y),
    33: (0.0, layout.NOSE_BASE_Y), 34: (6.5, -44.8), 35: (layout.ALA_X, -43.5),
}
_LIP_X = {"outer_mid": 5.5, "outer_side": 14.0, "inner": 11.0}


def select_landmarks(grid: FaceGrid, mean: MeanSurface) -> np.ndarray:
    """(68,) vertex indices in iBUG order (0-based)."""
    lm = np.full(68, -1, dtype=np.int64)
    xy = mean.base_xy
    face = grid.part == GRID
    left = face & (xy[:, 0] > 1e-6)
    midline = face & (grid.col == grid.mid)

    def nearest(p, candidates):
        idx = np.nonzero(candidates)[0]
        return int(idx[np.argmin(((xy[idx] - np.asarray(p)) ** 2).sum(1))])

    skin = nostril_depth(xy[:, 0], xy[:, 1]) == 0.0
    for table in (_JAW, _BROW, _NOSE):
        for k, p in table.items():
            lm[k] = nearest(p, (midline if p[0] == 0.0 else left) & skin)

    eye = mean.eye
    lm[42] = grid.index[eye.centre, eye.col_inner]
    lm[45] = grid.index[eye.centre, eye.col_outer]
    xs = xy[grid.index[eye.centre], 0]
    for k, row, s in ((43, eye.upper, 1 / 3), (44, eye.upper, 2 / 3), (46, eye.lower, 2 / 3), (47, eye.lower, 1 / 3)):
        x = eye.x_inner + s * (eye.x_outer - eye.x_inner)
        lm[k] = grid.index[row, int(np.argmin(np.abs(xs - x)))]

    mid, h, sr = grid.mid, grid.slit_half, grid.slit_row
    lm[54] = grid.index[sr, mid + h]
    lm[64] = grid.index[sr, mid + h - 1]
    slit_x = xy[grid.index[sr], 0]
    j_in = int(np.argmin(np.abs(slit_x - _LIP_X["inner"])))
    j_in = min(max(j_in, mid + 1), mid + h - 2)
    lm[62] = grid.index[sr, mid]
    lm[63] = grid.index[sr, j_in]
    lm[66] = grid.lower_copy(mid)
    lm[65] = grid.lower_copy(j_in)
    above = face & (grid.row < sr)
    below = face & (grid.row > sr)
    _, up, lo = lip_outline(np.array([0.0, _LIP_X["outer_mid"], _LIP_X["outer_side"]]))
    lm[51] = nearest((0.0, up[0]), above & midline)
    lm[52] = nearest((_LIP_X["outer_mid"], up[1]), above & left)
    lm[53] = nearest((_LIP_X["outer_side"], up[2]), above & left)
    lm[57] = nearest((0.0, lo[0]), below & midline)
    lm[56] = nearest((_LIP_X["outer_mid"], lo[1]), below & left)
    lm[55] = nearest((_LIP_X["outer_side"], lo[2]), below & left)

    for i in range(68):
        if lm[i] < 0:
            lm[i] = grid.mirror[lm[IBUG_MIRROR[i]]]
    assert (lm >= 0).all() and len(set(lm.tolist())) == 68
    return lm


def select_regions(grid: FaceGrid, mean: MeanSurface) -> dict[str, np.ndarray]:
    """Named vertex sets: eyes, eye_left/right, eyelid_left/right, brows, nose, lips, mouth,
    mouth_interior, cheeks, forehead, chin, jaw."""
    x, y = mean.base_xy[:, 0], mean.base_xy[:, 1]
    ax = np.abs(x)
    eye = mean.eye
    on_face = (grid.part == GRID) | (grid.part == SLIT_LOWER)
    pocket = ~on_face
    s = eye_s(ax, eye)
    _, up, lo = lid_margins(s)
    in_eye_span = (s > -0.12) & (s < 1.12)
    eye_all = on_face & in_eye_span & (y > lo - 3.0) & (y < up + 6.0)
    upper_lid = on_face & (s >= 0.0) & (s <= 1.0) & (y >= up - 1e-6) & (y < up + 5.0)
    lower_lid = on_face & (s > 0.0) & (s < 1.0) & (y <= lo + 1e-6) & (y > lo - 2.0)
    lid = upper_lid | lower_lid
    taper, lip_up, lip_lo = lip_outline(x)
    lips = on_face & (taper > 0) & (y <= lip_up + 0.5) & (y >= lip_lo - 0.5)
    # The nose's half-width: ~10 mm at the root, ~20 mm over the alae (docs/face_model.md).
    nose_half = np.interp(y, [-48.0, -30.0, -10.0, 6.0], [20.0, 20.0, 13.0, 12.0])
    nose = on_face & (ax < nose_half) & (y > -48.0) & (y < 6.0) & ~eye_all
    cheek_d = ((ax - 42.0) / 22.0) ** 2 + ((y + 33.0) / 24.0) ** 2
    cheeks = on_face & (cheek_d < 1.0) & ~nose & ~lips & ~eye_all
    brows = on_face & (ax > 10.0) & (ax < 62.0) & (y > 21.0) & (y < 34.0)  # the brow hair's band (albedo)
    forehead = on_face & (y > 34.0) & (ax < 60.0)
    chin_d = (x / 22.0) ** 2 + ((y + 100.0) / 14.0) ** 2
    chin = on_face & (chin_d < 1.0)
    jaw = on_face & ((y < -78.0) | ((ax > 48.0) & (y < -45.0))) & ~lips
    # Decide on the left half and the midline, then mirror: regions are exactly symmetric.
    def sym(mask):
        half = mask & (x >= -1e-9)
        return half | half[grid.mirror]

    eye_all = sym(eye_all)
    lid = sym(lid)
    out = {
        "eyes": eye_all,
        "eye_left": eye_all & (x > 0),
        "eye_right": eye_all & (x < 0),
        "eyelid_left": lid & (x > 0),
        "eyelid_right": lid & (x < 0),
        "brows": brows,
        "nose": nose,
        "lips": lips,
        "mouth": lips | pocket,
        "mouth_interior": pocket,
        "cheeks": cheeks,
        "forehead": forehead,
        "chin": chin,
        "jaw": jaw,
    }
    out = {k: (v if k.endswith(("_left", "_right")) or k == "eyes" else sym(v)) for k, v in out.items()}
    return {k: np.nonzero(v)[0].astype(np.int64) for k, v in out.items()}
