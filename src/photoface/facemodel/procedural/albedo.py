"""Albedo of the procedural face: per-vertex mean colour and a PCA colour basis.

Linear RGB in [0, 1]. The mean is skin with soft features, nothing drawn: a flush on the cheeks
and nose tip, a shade around the eyes and the mouth, brows as a low-contrast soft shadow, lips
with soft vermilion borders, the open eyes (a greyish eye white, a soft-edged iris and pupil, a
faint lash shadow, caruncle), nostrils and the inside of the mouth (teeth on the first pocket
row, dark red behind). Design and sources: docs/face_model.md.

The basis comes from generators (colour change per vertex for one standard deviation): skin tone
from very light to very dark skin (the dominant mode: ±3 std spans roughly the range of human
skin albedo), undertone (yellow ↔ pink), redness of cheeks and nose, lip colour and darkness,
brow darkness, hue and thickness, iris colour and lightness, dark circles, beard shadow, T-zone,
plus smooth random low-frequency fields per channel. As for identity, the stacked generators are
orthogonalised by SVD and ordered by variance; coefficients are standard normal. The amplitudes
are set so that the mean ± 3 std of any single mode stays inside [0, 1].
"""

from __future__ import annotations

import numpy as np

from photoface.facemodel.procedural import layout
from photoface.facemodel.procedural.mesh import GRID, POCKET_BACK, SLIT_LOWER, FaceGrid
from photoface.facemodel.procedural.pca import pca_modes
from photoface.facemodel.procedural.shapes import gauss, pair, smoothstep
from photoface.facemodel.procedural.surface import MeanSurface, eye_s, lid_margins, lip_outline, nostril_depth

SKIN = np.array([0.62, 0.45, 0.37])
LIPS = np.array([0.55, 0.33, 0.30])
BROW = np.array([0.30, 0.21, 0.16])
SCLERA = np.array([0.68, 0.62, 0.58])
IRIS = np.array([0.30, 0.18, 0.10])
PUPIL = np.array([0.03, 0.03, 0.03])
LASH = np.array([0.10, 0.07, 0.06])
CARUNCLE = np.array([0.72, 0.42, 0.40])
NOSTRIL = np.array([0.18, 0.09, 0.07])
TEETH = np.array([0.82, 0.79, 0.70])
MOUTH = np.array([0.30, 0.09, 0.09])
THROAT = np.array([0.08, 0.02, 0.02])


def _masks(grid: FaceGrid, mean: MeanSurface) -> dict[str, np.ndarray]:
    """Soft (V,) masks in [0, 1] of the painted areas."""
    x, y = mean.base_xy[:, 0], mean.base_xy[:, 1]
    ax = np.abs(x)
    face = (grid.part == GRID) | (grid.part == SLIT_LOWER)
    eye = mean.eye
    s = eye_s(ax, eye)
    _, up, lo = lid_margins(s)
    in_span = (s > 0.0) & (s < 1.0)
    fissure = face & in_span & (y > lo + 1e-3) & (y < up - 1e-3)
    cx = 0.5 * (eye.x_inner + eye.x_outer)
    r = np.hypot(ax - cx, y - 1.6)
    iris = fissure * smoothstep(6.2, 4.6, r)
    pupil = fissure * smoothstep(2.8, 1.8, r)
    lash = face * in_span * np.exp(-0.5 * ((y - up) / 0.7) ** 2) * smoothstep(0.0, 0.25, s)
    lash_lo = face * in_span * np.exp(-0.5 * ((y - lo) / 0.6) ** 2) * smoothstep(0.2, 0.6, s)
    caruncle = fissure * smoothstep(0.12, 0.04, s)
    taper, lip_up, lip_lo = lip_outline(x)
    lips = face * (taper > 0) * smoothstep(lip_up + 1.4, lip_up - 0.8, y) * smoothstep(lip_lo - 1.6, lip_lo + 0.8, y)
    # Brow hair: an arch through the brow landmarks' design heights, thick at the head (inner
    # end), tapering to the tail; the soft edge imitates sparse hairs.
    t = np.linspace(12.0, 61.0, 90)
    u = (t - 12.0) / 49.0
    brow_y = layout.BROW_Y - 4.0 + 5.2 * np.sin(np.pi * np.clip(u * 0.85 + 0.08, 0, 1)) - 2.5 * u
    thick = 2.2 + 1.6 * (1 - u) ** 0.7 - 1.0 * u**2
    d = np.min((ax[:, None] - t[None]) ** 2 / 1.5 + (y[:, None] - brow_y[None]) ** 2 / thick[None] ** 2, axis=1)
    d = d + (np.maximum(ax - 61.0, 0.0) / 5.0) ** 2 + (np.maximum(12.0 - ax, 0.0) / 3.0) ** 2
    brow = face * smoothstep(3.5, 0.0, d) ** 1.5
    brow_wide = face * smoothstep(4.5, 0.5, d)
    nostril = face * np.sqrt(nostril_depth(x, y))
    pocket = ~face
    frac = grid.depth / grid.pocket_rows
    teeth = pocket & (grid.depth == 1) & (grid.part != POCKET_BACK)
    cheeks = pair(gauss, x, y, 40.0, -30.0, 14.0, 12.0) * face
    nose_tip = gauss(x, y, 0.0, -34.0, 9.0, 8.0) * face
    under_eye = pair(gauss, x, y, cx, -7.0, 11.0, 3.5) * face * (1 - fissure)
    beard = face * (
        smoothstep(-58.0, -70.0, y) * smoothstep(-125.0, -110.0, y) * (1 - lips)
        + gauss(x, y, 0.0, -53.0, 18.0, 4.0) * (1 - lips)
    ) * smoothstep(70.0, 50.0, ax)
    beard = np.clip(beard, 0.0, 1.0) * smoothstep(-40.0, -55.0, y)
    tzone = face * (gauss(x, y, 0.0, 40.0, 30.0, 25.0) + gauss(x, y, 0.0, -20.0, 8.0, 25.0))
    skin = face * (1 - fissure) * (1 - brow) * (1 - lips) * (1 - nostril)
    return dict(
        fissure=fissure.astype(float), iris=iris, pupil=pupil, lash=lash, lash_lo=lash_lo, caruncle=caruncle,
        lips=lips, brow=brow, brow_wide=brow_wide, nostril=nostril, pocket=pocket.astype(float),
        frac=frac, teeth=teeth.astype(float), cheeks=cheeks, nose_tip=nose_tip, under_eye=under_eye,
        beard=beard, tzone=tzone, skin=skin, face=face.astype(float),
    )


def _paint(base: np.ndarray, mask: np.ndarray, colour: np.ndarray) -> np.ndarray:
    return base * (1 - mask[:, None]) + mask[:, None] * colour[None]


def albedo_mean(grid: FaceGrid, mean: MeanSurface) -> np.ndarray:
    """(V, 3) mean albedo."""
    m = _masks(grid, mean)
    c = np.tile(SKIN, (grid.num_vertices, 1))
    # Soft, not drawn: cheek and nose-tip flush, a shade around the eyes, a darker perioral zone.
    c = c + m["cheeks"][:, None] * np.array([0.035, -0.01, -0.008])
    c = c + m["nose_tip"][:, None] * np.array([0.025, -0.005, -0.005])
    c = c + m["under_eye"][:, None] * np.array([-0.03, -0.03, -0.015])
    c = c + m["beard"][:, None] * np.array([-0.015, -0.012, -0.008])
    c = _paint(c, m["lips"], LIPS)
    c = _paint(c, m["brow"] * 0.35, BROW)
    # The renderer casts no shadows, so the vestibule's own shade is painted in, darkening with
    # depth; the skin inside stays skin, not black (its deepest point at 0.3 skin + 0.7 shade).
    c = _paint(c, m["nostril"] * 0.7, NOSTRIL)
    c = _paint(c, m["fissure"], SCLERA)
    c = _paint(c, m["iris"], IRIS)
    c = _paint(c, m["pupil"], PUPIL)
    c = _paint(c, m["caruncle"], CARUNCLE)
    c = _paint(c, np.clip(m["lash"] * 0.6, 0, 1), LASH)
    c = _paint(c, np.clip(m["lash_lo"] * 0.15, 0, 1), LASH)
    mouth = MOUTH[None] * (1 - m["frac"][:, None]) + THROAT[None] * m["frac"][:, None]
    c = _paint(c, m["pocket"], np.zeros(3)) + m["pocket"][:, None] * mouth
    c = _paint(c, m["teeth"], TEETH)
    return np.clip(c, 0.0, 1.0)


def albedo_generators(grid: FaceGrid, mean: MeanSurface, rng: np.random.Generator) -> np.ndarray:
    """(N, V, 3) albedo change per standard deviation of each generator."""
    m = _masks(grid, mean)
    x, y = mean.base_xy[:, 0], mean.base_xy[:, 1]
    mu = albedo_mean(grid, mean)
    skinlike = np.clip(m["skin"] + 0.8 * m["lips"] + 0.3 * m["brow"], 0.0, 1.0)
    gens = [
        # Skin tone scales the skin's colour (and the lips', a little the brows'), so very light
        # and very dark skin stay inside [0, 1] at ±3 std.
        skinlike[:, None] * mu * np.array([0.175, 0.185, 0.19]),
        m["skin"][:, None] * np.array([0.022, 0.004, -0.028]),  # undertone
        (m["cheeks"] + m["nose_tip"])[:, None] * np.array([0.035, -0.012, -0.008]),  # redness
        m["lips"][:, None] * np.array([0.05, -0.025, -0.005]),  # lip colour
        m["lips"][:, None] * np.array([-0.05, -0.04, -0.035]),  # lip darkness
        m["brow_wide"][:, None] * np.array([0.04, 0.03, 0.02]),  # brow lightness
        m["brow_wide"][:, None] * np.array([0.03, 0.008, -0.015]),  # brow hue
        (m["brow_wide"] - m["brow"])[:, None] * np.array([-0.04, -0.03, -0.025]),  # brow thickness
        m["iris"][:, None] * np.array([-0.04, 0.05, 0.12]) * (1 - m["pupil"][:, None]),  # iris colour
        m["iris"][:, None] * np.array([0.05, 0.04, 0.03]) * (1 - m["pupil"][:, None]),  # iris lightness
        m["under_eye"][:, None] * np.array([-0.035, -0.035, -0.02]),  # dark circles
        m["beard"][:, None] * np.array([-0.05, -0.045, -0.035]),  # beard shadow
        m["tzone"][:, None] * np.array([0.015, 0.013, 0.012]),  # T-zone
        m["fissure"][:, None] * (1 - m["iris"][:, None]) * np.array([0.02, 0.02, 0.02]),  # eye white
    ]
    for i in range(60):
        amp = 0.014 * np.exp(-i / 30.0)
        field = np.zeros((x.size, 3))
        for _ in range(3):
            cx, cy = rng.uniform(-70, 70), rng.uniform(-120, 85)
            sx, sy = rng.uniform(12, 40), rng.uniform(12, 40)
            g = gauss(x, y, cx, cy, sx, sy) + gauss(x, y, -cx, cy, sx, sy) * (rng.random() < 0.7)
            # Mostly brightness (skin colour scales together), a little hue.
            colour = rng.normal() * np.array([1.0, 0.85, 0.75]) + 0.3 * rng.normal(size=3)
            field += g[:, None] * colour * amp
        gens.append(field * m["skin"][:, None])
    return np.stack(gens)


def albedo_basis(grid: FaceGrid, mean: MeanSurface, n_modes: int, rng: np.random.Generator):
    """(V, 3) mean and (n_modes, V, 3) basis with standard-normal coefficients."""
    mu = albedo_mean(grid, mean)
    g = albedo_generators(grid, mean, rng).reshape(-1, mu.size)
    basis = pca_modes(g, n_modes)[0].reshape(n_modes, -1, 3)
    # Keep mean ± 3 std of every single mode inside [0, 1]: shrink a mode that would leave it.
    head = np.minimum(1.0 - mu, mu)[None]  # distance to the nearer bound
    a = 3.0 * np.abs(basis)
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(a > 1e-9, head / a, np.inf)
    scale = np.minimum(1.0, ratio.reshape(n_modes, -1).min(axis=1) * 0.999)
    return mu, basis * scale[:, None, None]
