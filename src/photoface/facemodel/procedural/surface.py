"""The mean shape of the procedural face: base surface + anatomical features, and its landmarks.

The base surface (``layout``) is an elliptical face mask. Features are heights (mm)
added along the base surface's normal, written as smooth functions of the base position
(x, y): forehead, brow ridge, orbits, eyeballs and eyelids, nose (bridge, tip, alae, nostrils),
cheekbones and cheeks, nasolabial folds, lips, chin. The eyes get a local re-spacing of the rows
so that grid rows follow the upper and lower lid margins exactly: the lid margins are then mesh
lines, the eye-close expression can slide the upper-lid rows down onto the lower lid, and the
albedo's eye white stops sharply at the lids.

Everything here is in design coordinates (see ``layout``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

from photoface.facemodel.procedural import layout
from photoface.facemodel.procedural.mesh import GRID, SLIT_LOWER, FaceGrid
from photoface.facemodel.procedural.shapes import band, gauss, pair, ridge, smoothstep

POCKET_DEPTH = 13.0  # mm from the lips to the back of the mouth pocket


@dataclass
class EyeRows:
    """Grid rows of the left eye (the right eye uses the same rows, mirrored columns)."""

    upper: int  # row on the upper lid margin
    centre: int  # row through the canthi
    lower: int  # row on the lower lid margin
    col_inner: int
    col_outer: int
    x_inner: float
    x_outer: float


def eye_s(x, eye: EyeRows):
    """Position along the left eye from the inner (0) to the outer (1) canthus."""
    return (x - eye.x_inner) / (eye.x_outer - eye.x_inner)


def lid_margins(s):
    """Canthal line, upper and lower lid margins (y, mm) at eye position ``s`` (valid in [0,1])."""
    sc = np.clip(s, 0.0, 1.0)
    line = layout.EYE_INNER[1] + (layout.EYE_OUTER[1] - layout.EYE_INNER[1]) * sc
    # The upper lid peaks a little towards the inner side, the lower lid towards the outer side.
    up = np.sin(np.pi * sc**0.9) ** 0.85
    lo = np.sin(np.pi * sc**1.1) ** 0.9
    return line, line + layout.LID_UP * up, line - layout.LID_LO * lo


def place_eye_rows(base: np.ndarray, grid: FaceGrid) -> EyeRows:
    """Pick the canthal row and lid rows from the row spacing near the eyes."""
    mid = grid.mid
    ys = base[:, mid, 1]
    centre = int(np.argmin(np.abs(ys - 0.5 * (layout.EYE_INNER[1] + layout.EYE_OUTER[1]))))
    spacing = abs(ys[centre - 1] - ys[centre + 1]) / 2.0
    n_up = max(1, int(round(layout.LID_UP / spacing)))
    n_lo = max(1, int(round(layout.LID_LO / spacing)))
    xs = base[centre, :, 0]
    col_in = int(np.argmin(np.abs(xs - layout.EYE_INNER[0])))
    col_out = int(np.argmin(np.abs(xs - layout.EYE_OUTER[0])))
    return EyeRows(centre - n_up, centre, centre + n_lo, col_in, col_out, float(xs[col_in]), float(xs[col_out]))


def warp_eye_rows(base: np.ndarray, eye: EyeRows) -> np.ndarray:
    """Re-space the rows around both eyes so that rows ``upper``/``lower`` follow the lid margins.

    Returns a copy of ``base`` (R, C, 3) with new y values; x and z are kept (the base is nearly
    flat in y over the few millimetres moved). Each column is a piecewise-linear remap of the row
    index to y with knots at the lid rows, blended back to the original spacing away from the eye.
    """
    out = base.copy()
    r = base.shape[0]
    pad = max(2, eye.lower - eye.upper)
    top, bot = max(0, eye.upper - pad), min(r - 1, eye.lower + pad)
    x = np.abs(base[eye.centre, :, 0])
    s = eye_s(x, eye)
    line, up, lo = lid_margins(s)
    # Beyond the canthi the fissure is closed; there the lid rows re-open gradually (1 mm per mm)
    # so that no row pair collapses, and the whole re-spacing fades out over 8 mm.
    width = eye.x_outer - eye.x_inner
    outside = np.maximum(0.0, np.maximum(-s, s - 1.0)) * width
    gap = 0.9 + 0.6 * outside
    up = np.maximum(up, line + gap * (eye.centre - eye.upper) / (eye.lower - eye.upper))
    lo = np.minimum(lo, line - gap * (eye.lower - eye.centre) / (eye.lower - eye.upper))
    weight = smoothstep(8.0, 0.0, outside)
    knots = [top, eye.upper, eye.centre, eye.lower, bot]
    for j in range(base.shape[1]):
        if weight[j] <= 0.0:
            continue
        ky = [base[top, j, 1], up[j], line[j], lo[j], base[bot, j, 1]]
        rows = np.arange(top, bot + 1)
        new = np.interp(rows, knots, ky)
        out[top : bot + 1, j, 1] = base[top : bot + 1, j, 1] + weight[j] * (new - base[top : bot + 1, j, 1])
    return out


# ------------------------------------------------------------------------------------ heights
_NOSE_MID = PchipInterpolator(
    [-56.0, -51.0, -47.5, -45.2, -43.0, -40.0, -37.5, -35.0, -31.0, -25.0, -15.0, -5.0, 4.0, 8.0, 16.0],
    [0.0, 0.3, 2.0, 5.4, 12.5, 20.5, 23.3, 23.0, 19.8, 15.8, 10.8, 6.0, 2.3, 1.1, 0.0],
)
_NOSE_HALF_WIDTH = PchipInterpolator(
    [-56.0, -46.0, -40.0, -34.0, -25.0, -10.0, 4.0, 16.0],
    [8.0, 6.0, 7.8, 7.9, 7.2, 7.0, 8.6, 11.0],
)


def nose_height(x, y):
    """Nose above the base surface: bridge, tip lobule, alae, alar creases, nostrils (mm)."""
    yc = np.clip(y, -56.0, 16.0)
    h = _NOSE_MID(yc) * np.exp(-0.5 * (x / _NOSE_HALF_WIDTH(yc)) ** 2)
    h = np.where((y < -56.0) | (y > 16.0), 0.0, h)
    h += 4.2 * pair(gauss, x, y, 10.6, -40.6, 5.0, 4.2)  # alae
    # Alar crease: a groove hugging each ala on its upper/outer side.
    for sx in (1.0, -1.0):
        r = np.hypot((x - sx * 11.8) / 1.0, (y + 40.0) / 0.95)
        h -= 1.2 * np.exp(-0.5 * ((r - 6.8) / 1.1) ** 2) * smoothstep(-45.0, -40.0, y)
    h -= 3.0 * pair(gauss, x, y, 6.0, -43.6, 2.6, 1.6)  # nostrils, on the underside
    return h


def eye_height(x, y, eye: EyeRows):
    """Orbits, eyeballs, lids and lid creases (mm above the base)."""
    h = -7.5 * pair(gauss, x, y, 31.0, 4.0, 15.0, 11.0)  # orbital hollow
    h -= 6.5 * pair(gauss, x, y, eye.x_inner + 0.5, 0.5, 4.5, 5.0)  # medial canthus, set back
    h -= 2.0 * pair(gauss, x, y, 25.0, 11.0, 6.0, 4.0)  # upper inner orbit under the brow
    ax = np.abs(x)
    cx = 0.5 * (eye.x_inner + eye.x_outer)
    # Eyeball under the lids: a dome whose rim meets the orbit with zero slope (no groove).
    cap = 1.0 - ((ax - cx) / 18.0) ** 2 - ((y - 1.4) / 13.5) ** 2
    h += 8.6 * np.clip(cap, 0.0, None) ** 1.5
    s = eye_s(ax, eye)
    line, up, lo = lid_margins(s)
    in_span = band(s, 0.0, 1.0, 0.04)
    # Lids stand ~1.5 mm proud of the eyeball outside the fissure; the step is one row wide.
    inside = smoothstep(lo + 0.05, lo + 0.6, y) * smoothstep(up - 0.05, up - 0.6, y) * in_span
    inside *= np.clip((up - lo) / 4.0, 0.0, 1.0)  # no step where the lids meet at the canthi
    lid_zone = np.where(
        y > up, smoothstep(up + 8.0, up + 2.0, y), np.where(y < lo, smoothstep(lo - 6.0, lo - 1.5, y), 1.0)
    ) * band(s, -0.05, 1.05, 0.2)
    h += 1.4 * lid_zone * (1.0 - inside)
    crease_y = up + 3.8 * np.sin(np.pi * np.clip(s, 0, 1)) + 1.2
    h -= 1.1 * np.exp(-0.5 * ((y - crease_y) / 1.0) ** 2) * band(s, 0.0, 1.0, 0.15)
    h -= 0.8 * np.exp(-0.5 * ((y - (lo - 5.0)) / 2.0) ** 2) * band(s, 0.1, 0.9, 0.2)  # lower-lid hollow
    return h


def brow_height(x, y):
    """Brow ridge, glabella, forehead bossing, temples (mm)."""
    t = np.linspace(10.0, 60.0, 80)
    path_y = layout.BROW_Y - 8.0 - 0.0035 * (t - 34.0) ** 2
    h = 2.5 * pair(ridge, x, y, t, path_y, 6.5)
    h += 2.4 * gauss(x, y, 0.0, 15.0, 9.0, 7.0)  # glabella
    h += 2.0 * pair(gauss, x, y, 26.0, 55.0, 20.0, 16.0)  # frontal bossing
    h -= 3.0 * pair(gauss, x, y, 63.0, 22.0, 7.0, 12.0)  # temples
    return h


def cheek_height(x, y):
    """Cheekbones, cheek fat pads, nasolabial folds, buccal hollows, jaw (mm)."""
    h = 4.5 * pair(gauss, x, y, 50.0, -14.0, 14.0, 9.0)  # zygoma
    h += 4.0 * pair(gauss, x, y, 36.0, -38.0, 13.0, 12.0)  # malar fat
    h -= 1.2 * pair(gauss, x, y, 30.0, -15.0, 9.0, 4.0)  # infraorbital hollow
    h -= 2.0 * pair(gauss, x, y, 56.0, -52.0, 10.0, 14.0)  # buccal hollow
    t = np.linspace(0.0, 1.0, 60)
    px = 16.0 + 15.5 * t + 2.0 * np.sin(np.pi * t)
    py = -40.0 - 32.0 * t
    fade = smoothstep(-76.0, -58.0, y)  # the fold fades out beside the mouth corner
    h -= 1.6 * pair(ridge, x, y, px, py, 2.0) * fade  # nasolabial fold
    h += 1.3 * pair(ridge, x, y, px + 3.0, py + 1.0, 3.5) * fade  # cheek bulge along the fold
    return h


def lip_outline(x):
    """(taper, upper vermilion border, lower vermilion border) as functions of x (mm)."""
    xc = layout.MOUTH_CORNER_X
    taper = np.clip(1.0 - (x / xc) ** 2, 0.0, None) ** 0.75
    bow = 0.9 * pair(gauss, x, 0.0, 5.5, 0.0, 2.5, 1.0) - 0.4 * gauss(x, 0.0, 0.0, 0.0, 1.5, 1.0)
    upper = layout.STOMION_Y + (layout.UPPER_LIP_TOP_Y - layout.STOMION_Y + bow) * taper
    lower = layout.STOMION_Y + (layout.LOWER_LIP_BOTTOM_Y - layout.STOMION_Y) * taper**1.3
    return taper, upper, lower


def mouth_height(x, y):
    """Lips, philtrum, dental-arch curvature, labiomental fold, chin (mm)."""
    xc, yst = layout.MOUTH_CORNER_X, layout.STOMION_Y
    taper, up, lo = lip_outline(x)
    region = np.exp(-0.5 * ((x / 34.0) ** 4 + ((y - yst) / 22.0) ** 4))
    h = -0.0075 * x**2 * region  # the lips wrap around the teeth
    upper = smoothstep(up + 1.4, up - 1.4, y) * smoothstep(yst, yst + 1.0, y) * (taper > 0)
    lower = smoothstep(lo - 1.6, lo + 1.6, y) * smoothstep(yst, yst - 1.0, y) * (taper > 0)
    vu = 3.0 * np.sin(np.pi * np.clip((y - yst) / np.maximum(up - yst, 1e-3), 0, 1) ** 0.8) ** 0.7
    vl = 3.6 * np.sin(np.pi * np.clip((yst - y) / np.maximum(yst - lo, 1e-3), 0, 1) ** 0.9) ** 0.7
    h += (upper * vu + lower * vl) * np.sqrt(taper)
    h += 0.25 * np.exp(-0.5 * ((y - up) / 1.2) ** 2) * smoothstep(xc + 2, xc - 6, np.abs(x))  # white roll
    h -= 1.8 * np.exp(-0.5 * ((y - yst) / 1.2) ** 2) * smoothstep(xc + 1, xc - 4, np.abs(x))  # lips meet
    h -= 1.4 * pair(gauss, x, y, xc, yst, 2.5, 2.5)  # commissures
    h -= 0.9 * gauss(x, y, 0.0, -52.0, 2.4, 5.5)  # philtrum groove
    h += 0.5 * pair(gauss, x, y, 4.5, -52.0, 1.6, 5.0)  # philtral columns
    h -= 2.6 * gauss(x, y, 0.0, -86.5, 16.0, 3.5)  # labiomental fold
    h += 3.5 * gauss(x, y, 0.0, -99.0, 15.0, 8.0)  # chin
    return h


def feature_height(x, y, eye: EyeRows):
    """Sum of all features (mm above the base surface)."""
    return nose_height(x, y) + eye_height(x, y, eye) + brow_height(x, y) + cheek_height(x, y) + mouth_height(x, y)


def grid_normals(p: np.ndarray) -> np.ndarray:
    """Unit normals (R, C, 3) of a grid surface (rows down, columns towards +x ⇒ outward)."""
    d_row = np.gradient(p, axis=0)
    d_col = np.gradient(p, axis=1)
    n = np.cross(d_row, d_col)
    return n / np.linalg.norm(n, axis=-1, keepdims=True)


@dataclass
class MeanSurface:
    """The procedural mean shape in design coordinates plus what later stages need."""

    verts: np.ndarray  # (V, 3)
    base_xy: np.ndarray  # (V, 2) base-surface (x, y) of each vertex: the features' domain
    normal: np.ndarray  # (V, 3) base-surface normal
    eye: EyeRows


def build_mean(grid: FaceGrid, place: layout.Placement) -> MeanSurface:
    """Vertex positions of the mean face (design coordinates)."""
    base = place.base()
    eye = place_eye_rows(base, grid)
    # Normals of the smooth, un-warped surface: the warped rows nearly touch at the canthi, where
    # finite differences would give noisy normals and fold the features over.
    normals = grid_normals(base)
    base = warp_eye_rows(base, eye)
    x, y = base[..., 0], base[..., 1]
    h = feature_height(x, y, eye)
    surf = base + h[..., None] * normals

    v = grid.num_vertices
    verts = np.zeros((v, 3))
    base_xy = np.zeros((v, 2))
    nrm = np.zeros((v, 3))
    on_face = (grid.part == GRID) | (grid.part == SLIT_LOWER)
    verts[on_face] = surf[grid.row[on_face], grid.col[on_face]]
    base_xy[on_face] = base[grid.row[on_face], grid.col[on_face], :2]
    nrm[on_face] = normals[grid.row[on_face], grid.col[on_face]]
    # Pocket: behind each slit vertex, going back and narrowing towards the throat.
    pk = ~on_face
    slit = surf[grid.slit_row, grid.col[pk]]
    frac = grid.depth[pk] / grid.pocket_rows
    verts[pk] = slit
    verts[pk, 0] *= 1.0 - 0.3 * frac
    verts[pk, 2] -= POCKET_DEPTH * frac
    base_xy[pk] = base[grid.slit_row, grid.col[pk], :2]
    nrm[pk] = normals[grid.slit_row, grid.col[pk]]
    return MeanSurface(verts, base_xy, nrm, eye)

