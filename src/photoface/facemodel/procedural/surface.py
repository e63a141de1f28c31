"""The mean shape of the procedural face: base surface + anatomical features, and its landmarks.

The base surface (``layout``) is an elliptical face mask. Features are heights (mm)
added along the base surface's normal, written as smooth functions of the base position
(x, y): forehead, brow ridge, orbits, eyeballs and open eyelids, nose (a straight dorsum, a
forward-facing tip, alae), cheekbones and cheeks, lips, chin; the nostrils are the one vector
displacement (``nostril_offset``). The named parameters and their anthropometric sources are in
docs/face_model.md. The eyes get a local re-spacing of the rows
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
# The nose's midline profile, from named anthropometric figures (sources in docs/face_model.md):
NOSE_TIP_Z = 46.0  # pronasale, design z (the tip stands ~44.8 mm in front of the outer canthi)
NASION_DEPTH = 23.5  # nasion behind the tip (nasal length n-prn ~ 47 mm)
NASOFACIAL_DEG = 32.0  # dorsum line against the facial plane: 30-40° (Powell & Humphreys 1984)
SUPRATIP_Y = layout.NOSE_TIP_Y + 5.0  # where the straight dorsum meets the tip lobule
RHINION_HUMP = 1.5  # the dorsum's slight convexity at the bony-cartilaginous junction (rhinion)
TIP_BELOW = 15.1  # tip in front of the subnasale (FACE_PROPORTIONS.md, 30 vs 33)
COLUMELLA_DEG = 22.0  # columella above the horizontal: a nasolabial angle of ~100-105° (90-110°)


def _nose_profile() -> PchipInterpolator:
    """Height (mm above the base surface) of the nose's midline as a function of y.

    A straight dorsum from the nasion to the supratip at the nasofacial angle, a rounded tip
    lobule whose front faces forward, and a columella rising from the subnasale at
    ``COLUMELLA_DEG``; written as z (design) and converted to heights over the base midline.
    """
    slope = np.tan(np.radians(NASOFACIAL_DEG))
    y_n, y_t, y_s = layout.NOSE_ROOT_Y, layout.NOSE_TIP_Y, layout.NOSE_BASE_Y
    z_n = NOSE_TIP_Z - NASION_DEPTH
    z_st = z_n + slope * (y_n - SUPRATIP_Y)
    col = np.tan(np.radians(COLUMELLA_DEG))
    z_s = NOSE_TIP_Z - TIP_BELOW
    ys = np.array([y_n, 0.5 * (y_n + SUPRATIP_Y), SUPRATIP_Y, y_t + 2.5, y_t, y_t - 3.0, y_t - 6.0, y_s + 1.5, y_s])
    zs = np.array([
        z_n, 0.5 * (z_n + z_st) + RHINION_HUMP, z_st, NOSE_TIP_Z - 0.6, NOSE_TIP_Z, NOSE_TIP_Z - 0.4, NOSE_TIP_Z - 3.0,
        z_s + 1.5 / col, z_s,
    ])
    h = zs - layout.midline_z(ys)
    # Above the nasion the bridge fades into the glabella; below the subnasale into the lip.
    knots_y = np.concatenate([[y_s - 10.8, y_s - 5.8, y_s - 1.5], ys[::-1], [y_n + 6.0, y_n + 12.0]])
    knots_h = np.concatenate([[0.0, 0.3, 0.3 * h[-1]], h[::-1], [0.45 * h[0], 0.0]])
    return PchipInterpolator(knots_y, knots_h)


_NOSE_MID = _nose_profile()
_NOSE_Y0, _NOSE_Y1 = layout.NOSE_BASE_Y - 10.8, layout.NOSE_ROOT_Y + 12.0
# Half-width (mm) and flatness (super-Gaussian exponent) of the nose's cross-section down its
# length: nasal root width mf-mf ~18 mm, a dorsum ~12-15 mm wide, a tip lobule ~18 mm wide with
# its front flat across the tip-defining points, a columella ~7 mm wide (Farkas 1994).
_NOSE_HALF_WIDTH = PchipInterpolator(
    [-56.0, -47.0, -44.0, -40.0, -33.0, -26.0, -12.0, 4.0, 16.0],
    [7.0, 4.0, 5.0, 9.5, 11.0, 9.0, 8.0, 8.5, 11.0],
)
_NOSE_POWER = PchipInterpolator([-56.0, -44.0, -35.0, -22.0, 4.0, 16.0], [2.0, 2.4, 3.5, 2.6, 2.0, 2.0])
ALA = (14.0, -39.5, 8.5, 5.2, 4.2)  # alar lobule: x, y, height, sx, sy (al-al ~33 mm, Farkas 1994)


def nose_height(x, y):
    """Nose above the base surface: bridge, tip lobule, alae, alar creases, nostrils (mm)."""
    yc = np.clip(y, _NOSE_Y0, _NOSE_Y1)
    r = np.abs(x / _NOSE_HALF_WIDTH(yc))
    h = _NOSE_MID(yc) * np.exp(-0.5 * r ** _NOSE_POWER(np.clip(yc, -56.0, 16.0)))
    h = np.where((y < _NOSE_Y0) | (y > _NOSE_Y1), 0.0, h)
    ax, ay, ah, asx, asy = ALA
    h += ah * pair(gauss, x, y, ax, ay, asx, asy)
    # Alar-facial groove: a shallow groove hugging each ala on its upper/outer side.
    for sx in (1.0, -1.0):
        r = np.hypot((x - sx * (ax + 0.8)) / 1.0, (y - ay) / 0.95)
        h -= 1.0 * np.exp(-0.5 * ((r - 6.4) / 1.3) ** 2) * smoothstep(ay - 5.0, ay + 0.5, y)
    return h


# The nostrils and nasal vestibules. Each naris, the opening under the nose between the columella
# and the alar rim, leads into a vestibule bounded by the ala laterally, the columella and septum
# medially and the limen above, which reaches forward as a recess behind the nasal tip (Cottle
# 1955, docs/face_model.md). The naris, in base coordinates, spans the underside of the nose from
# the infratip lobule (its front rim) to the nostril sill, and x from the columella (~7 mm wide,
# Farkas 1994) to the alar rim.
NARIS = (7.2, -43.0, 3.9, 2.6)  # centre x, y and half-axes across and along (mm)
# The roof reaches the tip's height (the tip stands ~11 mm above the subnasale, ``layout``); the
# back wall lies on the skin over the maxilla: behind the naris's rim by the tip's projection over
# the subnasale (~15 mm, FACE_PROPORTIONS.md) plus ~5 mm (chosen, not measured) behind the sill.
VESTIBULE_RISE = 12.0  # how far the vestibule's roof lies above the naris (mm)
VESTIBULE_DEPTH = 20.0  # how far its back wall lies behind the naris's rim (mm)


def nostril_depth(x, y):
    """How deep inside a nostril each base point lies: 0 on and outside the naris's rim, 1 at the
    vestibule's roof (same shape as ``x``)."""
    cx, cy, ax, ay = NARIS
    r2 = np.minimum(((np.abs(x) - cx) / ax) ** 2 + ((y - cy) / ay) ** 2, 1.0)
    return np.sqrt(1.0 - r2)


def nostril_offset(x, y):
    """(dy, dz) moving the underside of the nose up and back into two nostril cavities (mm).

    A height along the face normal cannot make a cavity under the tip, so the vertices inside each
    naris are carried up and back: the rim stays, the points inside rise to the vestibule's roof
    and recede to its back wall.
    """
    d = nostril_depth(x, y)
    return VESTIBULE_RISE * d**0.8, -VESTIBULE_DEPTH * d**0.6


def eye_height(x, y, eye: EyeRows):
    """Orbits, eyeballs, lids and lid creases (mm above the base)."""
    h = -7.0 * pair(gauss, x, y, 31.0, 1.5, 12.5, 9.5)  # orbital hollow
    h += 2.0 * pair(gauss, x, y, 50.0, 2.0, 6.0, 10.0)  # lateral orbital rim
    h -= 6.5 * pair(gauss, x, y, eye.x_inner + 0.5, 0.5, 4.5, 5.0)  # medial canthus, set back
    h -= 0.8 * pair(gauss, x, y, 25.0, 11.0, 6.0, 4.0)  # upper inner orbit under the brow
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
    # Open eyes: the lids stand 2.2 mm proud of the eyeball (lid margin thickness ~2 mm), and
    # the cornea bulges ~1 mm out of the sclera's curve over the iris (radius ~6 mm).
    h += 2.2 * lid_zone * (1.0 - inside)
    h += 1.0 * np.exp(-0.5 * (np.hypot(ax - cx, y - 1.6) / 3.5) ** 2) * inside
    crease_y = up + 3.8 * np.sin(np.pi * np.clip(s, 0, 1)) + 1.2
    h -= 1.1 * np.exp(-0.5 * ((y - crease_y) / 1.0) ** 2) * band(s, 0.0, 1.0, 0.15)
    h -= 0.8 * np.exp(-0.5 * ((y - (lo - 5.0)) / 2.0) ** 2) * band(s, 0.1, 0.9, 0.2)  # lower-lid hollow
    return h


def brow_height(x, y):
    """Brow ridge, glabella, forehead bossing, temples (mm)."""
    t = np.linspace(10.0, 60.0, 80)
    path_y = layout.BROW_Y - 6.0 - 0.0035 * (t - 34.0) ** 2
    h = 5.0 * pair(ridge, x, y, t, path_y, 6.5)
    h += 2.4 * gauss(x, y, 0.0, 15.0, 9.0, 7.0)  # glabella
    h += 1.0 * pair(gauss, x, y, 26.0, 55.0, 20.0, 16.0)  # frontal bossing
    h -= 1.5 * pair(gauss, x, y, 63.0, 22.0, 7.0, 12.0)  # temples
    return h


def cheek_height(x, y):
    """Cheekbones, cheek fat pads, nasolabial folds, buccal hollows, jaw (mm)."""
    h = 4.5 * pair(gauss, x, y, 50.0, -14.0, 14.0, 9.0)  # zygoma
    h += 4.0 * pair(gauss, x, y, 36.0, -38.0, 13.0, 12.0)  # malar fat
    h -= 1.2 * pair(gauss, x, y, 30.0, -15.0, 9.0, 4.0)  # infraorbital hollow
    h -= 0.8 * pair(gauss, x, y, 56.0, -52.0, 10.0, 14.0)  # buccal hollow
    t = np.linspace(0.0, 1.0, 60)
    px = 16.0 + 15.5 * t + 2.0 * np.sin(np.pi * t)
    py = -40.0 - 32.0 * t
    fade = smoothstep(-76.0, -58.0, y)  # the fold fades out beside the mouth corner
    # No carved nasolabial groove (a neutral average face has none): the cheek's fat pad only
    # rounds off softly along the fold line.
    h += 0.8 * pair(ridge, x, y, px + 3.0, py + 1.0, 5.0) * fade
    return h


# Soft-tissue chin (mm over the base surface at pogonion). Builder 3's 5 mm made the profile nearly
# straight: facial convexity G-Sn-Pog' 174.7°, against 168 ± 4° (12 ± 4° convex; Legan & Burstone
# 1980). 2.5 mm gives 172.2°, soft-tissue pogonion 0.1 mm in front of glabella (G-Pog' 0 ± 4 mm,
# ibid.) and a nasomental angle of 130° (120-132°, Powell & Humphreys 1984).
CHIN_PROMINENCE = 2.5


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
    vu = 3.6 * np.sin(np.pi * np.clip((y - yst) / np.maximum(up - yst, 1e-3), 0, 1) ** 0.8) ** 0.7
    vl = 3.6 * np.sin(np.pi * np.clip((yst - y) / np.maximum(yst - lo, 1e-3), 0, 1) ** 0.9) ** 0.7
    h += (upper * vu + lower * vl) * np.sqrt(taper)
    h += 0.25 * np.exp(-0.5 * ((y - up) / 1.2) ** 2) * smoothstep(xc + 2, xc - 6, np.abs(x))  # white roll
    h -= 1.8 * np.exp(-0.5 * ((y - yst) / 1.2) ** 2) * smoothstep(xc + 1, xc - 4, np.abs(x))  # lips meet
    h -= 1.4 * pair(gauss, x, y, xc, yst, 2.5, 2.5)  # commissures
    h += 5.0 * gauss(x, y, 0.0, -58.0, 18.0, 8.0)  # upper lip leans forward over the incisors
    h -= 0.9 * gauss(x, y, 0.0, -52.0, 2.4, 5.5)  # philtrum groove
    h += 0.5 * pair(gauss, x, y, 4.5, -52.0, 1.6, 5.0)  # philtral columns
    h -= 0.5 * gauss(x, y, 0.0, -86.5, 16.0, 3.5)  # labiomental fold
    h += CHIN_PROMINENCE * gauss(x, y, 0.0, -93.0, 16.0, 9.0)  # chin
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
    dy, dz = nostril_offset(x, y)
    surf[..., 1] += dy
    surf[..., 2] += dz

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

