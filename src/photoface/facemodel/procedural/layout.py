"""Where things are on the procedural face: the design constants and the grid's placement.

Design coordinates (millimetres): x to the subject's left, y up, z out of the face, with y = 0 at
the inner eye corners and z ≈ 0 at the outer eye corners. ``procedural.py`` moves the finished
mean shape to the canonical origin, so these numbers only matter relative to each other. They
were chosen from FACE_PROPORTIONS.md (the mean iBUG-68 measurements of a scan-based model) and
classical anthropometry, then tuned by looking at renders; builder 3's cross-sections (fuller, flatter
mid and lower face), rounded hairline and nose position follow docs/face_model.md.

The face mask is parametrised by a row parameter running down a midline profile (forehead →
nose root → mouth → chin → under the chin) and a column angle φ ∈ [−90°, 90°] around an
elliptical cross-section of half-width A and depth B, which wraps the sides back to the ears:

    x = A sin φ,   y = y_c + C (1 − cos φ),   z = z_c − B (1 − cos φ)

(y_c, z_c, A, B, C) vary smoothly down the profile. Rows are spaced by arc length along the
profile, denser in the eye-to-chin band; columns are denser near the midline.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.interpolate import PchipInterpolator

# --- Feature positions (design coordinates, mm); x values are for the subject's left side. ---
EYE_INNER = (20.3, 0.0)  # inner canthus (iBUG 42); the medial hollow pulls it in to x ≈ 18.4
EYE_OUTER = (44.6, 1.5)  # outer canthus (iBUG 45)
EYE_Z_INNER, EYE_Z_OUTER = 6.5, 0.0  # depth of the canthi: the inner corner sits further forward
LID_UP, LID_LO = 6.1, 3.4  # lid-margin heights above/below the canthal line at mid-eye
NOSE_ROOT_Y = 4.0  # iBUG 27
NOSE_TIP_Y = -34.0  # iBUG 30: tip ~11 mm above the subnasale, sn-prn ~19 mm (Farkas 1994)
NOSE_BASE_Y = -45.2  # iBUG 33 (subnasale)
NOSE_TIP_Z = 44.8  # in front of the outer canthi
ALA_X = 10.6  # iBUG 31/35 (base position; the alae push it out to ≈ 12.5)
STOMION_Y = -67.0  # the mouth slit at the midline
MOUTH_CORNER_X = 29.0  # iBUG 54, base x; the dental arch pulls the corner in to x ≈ 25.3
UPPER_LIP_TOP_Y = -57.2  # iBUG 51
LOWER_LIP_BOTTOM_Y = -76.6  # iBUG 57
CHIN_Y = -108.5  # iBUG 8
BROW_Y = 30.0  # iBUG 19/24 (brow peak height)
BROW_OUTER_X = 58.2  # iBUG 26

# Midline profile of the base surface and its cross-sections: y_c, z_c, A, B, C (mm).
PROFILE = np.array(
    [
        (96.0, -12.0, 58.0, 42.0, -26.0),
        (66.0, 9.5, 67.0, 58.0, -12.0),
        (42.0, 18.5, 70.0, 62.0, -2.0),
        (22.0, 21.0, 75.0, 70.0, 0.0),
        (4.0, 17.5, 77.5, 75.0, 0.0),
        (-20.0, 19.0, 77.0, 82.0, 0.0),
        (-45.0, 24.5, 71.0, 76.0, 0.0),
        (-67.0, 27.5, 64.0, 68.0, 0.0),
        (-86.0, 22.0, 57.0, 58.0, 2.0),
        (-98.0, 23.5, 50.0, 53.0, 6.0),
        (-108.0, 16.5, 40.0, 44.0, 10.0),
        (-116.0, 4.5, 34.0, 32.0, 14.0),
        (-120.5, -8.0, 28.0, 26.0, 17.0),
    ]
)


def midline_z(y):
    """z (mm) of the base surface's midline at height ``y`` (design coordinates)."""
    tau = np.arange(PROFILE.shape[0], dtype=np.float64)
    fine = np.linspace(0.0, tau[-1], 4000)
    yf = PchipInterpolator(tau, PROFILE[:, 0])(fine)
    zf = PchipInterpolator(tau, PROFILE[:, 1])(fine)
    return np.interp(y, yf[::-1], zf[::-1])


# Resolutions: (rows, columns, pocket rows). Columns odd (midline column).
RESOLUTIONS = {"demo": (67, 69, 3), "paper": (185, 195, 6)}


@dataclass
class Placement:
    """Grid placement: per row y_c, z_c, A, B, C (R,), per column φ (C,) radians."""

    yc: np.ndarray
    zc: np.ndarray
    a: np.ndarray
    b: np.ndarray
    c: np.ndarray
    phi: np.ndarray
    slit_row: int
    slit_half: int

    def base(self) -> np.ndarray:
        """(R, C, 3) positions of the base surface (no features) at the grid vertices."""
        cp, sp = np.cos(self.phi)[None, :], np.sin(self.phi)[None, :]
        x = self.a[:, None] * sp
        y = self.yc[:, None] + self.c[:, None] * (1.0 - cp)
        z = self.zc[:, None] - self.b[:, None] * (1.0 - cp)
        return np.stack([x, y, z], axis=-1)


def _row_density(y: np.ndarray) -> np.ndarray:
    """Relative row density along the profile: 1 in the eye–mouth band, lower at the edges."""
    core = np.exp(-0.5 * ((y + 35.0) / 50.0) ** 4)
    return 0.55 + 0.45 * core


def place_grid(rows: int, cols: int) -> Placement:
    """Row and column parameters, with one row exactly on the stomion and columns exactly on
    the mouth corners (the ends of the mouth slit) and on the canthi.
    The pinned x values are base-surface positions; the design constants of those features
    already allow for the features' sideways displacement of the vertices.
    """
    tau = np.arange(PROFILE.shape[0], dtype=np.float64)
    interp = [PchipInterpolator(tau, PROFILE[:, k]) for k in range(5)]
    fine = np.linspace(0.0, tau[-1], 4000)
    yf, zf = interp[0](fine), interp[1](fine)
    seg = np.hypot(np.diff(yf), np.diff(zf))
    w = 0.5 * (_row_density(yf[1:]) + _row_density(yf[:-1]))
    cum = np.concatenate([[0.0], np.cumsum(seg * w)])
    cum /= cum[-1]
    # Pin one row on the stomion: piecewise-linear remap of the uniform row parameter.
    u_st = np.interp(STOMION_Y, yf[::-1], cum[::-1])
    i_st = int(round(u_st * (rows - 1)))
    u = np.linspace(0.0, 1.0, rows)
    u = np.where(u <= u[i_st], u * u_st / u[i_st], u_st + (u - u[i_st]) * (1 - u_st) / (1 - u[i_st]))
    t = np.interp(u, cum, fine)
    yc, zc, a, b, c = (f(t) for f in interp)
    yc[i_st] = STOMION_Y

    n = cols // 2
    alpha = 0.62  # slope of φ(s) at the midline relative to uniform: denser centre columns
    s = np.linspace(-1.0, 1.0, cols)

    def phi_of(sv):
        return 0.5 * np.pi * (alpha * sv + (1.0 - alpha) * sv**3)

    # Pin columns: the mouth corners (slit row) and the canthi (eye row) land on their design x.
    # Piecewise-linear remap of s with one knot per pinned column.
    i_eye = int(np.argmin(np.abs(yc - 0.5 * (EYE_INNER[1] + EYE_OUTER[1]))))
    pins = sorted(
        [
            (np.arcsin(MOUTH_CORNER_X / a[i_st]), "mouth"),
            (np.arcsin(EYE_INNER[0] / a[i_eye]), "eye_inner"),
            (np.arcsin(EYE_OUTER[0] / a[i_eye]), "eye_outer"),
        ]
    )
    s_fine = np.linspace(0.0, 1.0, 20001)
    knot_s, knot_t, last = [0.0], [0.0], 0
    h = 0
    for phi_t, what in pins:
        s_star = float(np.interp(phi_t, phi_of(s_fine), s_fine))
        k = max(last + 1, int(round(s_star * n)))
        knot_s.append(k / n)
        knot_t.append(s_star)
        last = k
        if what == "mouth":
            h = k
    knot_s.append(1.0)
    knot_t.append(1.0)
    s_new = np.interp(np.abs(s), knot_s, knot_t)
    phi = np.sign(s) * phi_of(s_new)
    phi[n] = 0.0
    return Placement(yc, zc, a, b, c, phi, i_st, h)
