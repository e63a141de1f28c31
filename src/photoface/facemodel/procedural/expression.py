"""Expression blendshapes of the procedural face (``exp_kind = "blendshape"``, weights in [0, 1]).

Each blendshape is the displacement (V, 3), in millimetres, of the full expression from the mean
face. They are named after the ARKit blendshapes they imitate ("Left" = the subject's left,
x > 0); every Left shape has a Right twin obtained through the mirror map. Because the model is
linear, a weight of 0.5 moves every vertex half way.

Mouth: the lips are separate surfaces along the mouth slit, so shapes that move the lower side
(jaw open, lower lip down) open the mouth and show the pocket behind it. Jaw open is a rotation
of the lower face about a hinge axis near the ears (22°), applied with a weight that is 1 on the
lower lip, chin and jaw and fades to 0 over the cheeks; the lower lip moves by about 40 mm.

Eyes: the lid margins are mesh rows (``surface``). Blink slides the upper-lid rows
down onto the lower lid, squeezes the eye-white rows between them into a thin band and pushes it
back behind the lids, so a closed eye shows only lid skin and the lash line.
"""

from __future__ import annotations

import numpy as np

from photoface.facemodel.procedural import layout
from photoface.facemodel.procedural.mesh import GRID, POCKET_BACK, POCKET_LOWER, POCKET_UPPER, SLIT_LOWER, FaceGrid
from photoface.facemodel.procedural.shapes import band, gauss, pair, smoothstep
from photoface.facemodel.procedural.surface import MeanSurface, eye_s, lid_margins

JAW_HINGE = (-12.0, -65.0)  # (y, z) design coordinates of the jaw's rotation axis (parallel to x)
JAW_OPEN_DEG = 22.0


def lower_side(grid: FaceGrid) -> np.ndarray:
    """(V,) True for vertices on the lower lip's side of the mouth slit (inside the slit span)."""
    below = (grid.part == GRID) & (grid.row > grid.slit_row)
    return below | (grid.part == SLIT_LOWER) | (grid.part == POCKET_LOWER)


def jaw_weight(grid: FaceGrid, mean: MeanSurface) -> np.ndarray:
    """(V,) how much each vertex follows the mandible: 1 below the mouth, 0 above, graded outside."""
    x, y = mean.base_xy[:, 0], mean.base_xy[:, 1]
    xc, yst = layout.MOUTH_CORNER_X, layout.STOMION_Y
    out_x = np.maximum(np.abs(x) - xc, 0.0)
    centre = yst + 0.45 * out_x
    half = np.maximum(0.7 * out_x, 1.0)
    w = smoothstep(centre + half, centre - half, y)
    span = (np.abs(x) < xc - 1e-6) & (grid.part != POCKET_BACK)
    w = np.where(span, lower_side(grid).astype(float), w)
    lower_pocket = grid.part == POCKET_LOWER
    w[lower_pocket] = 1.0 - 0.5 * grid.depth[lower_pocket] / grid.pocket_rows
    w[grid.part == POCKET_BACK] = 0.5
    w[grid.part == POCKET_UPPER] = 0.0
    return w


def _mirror(field: np.ndarray, mirror: np.ndarray) -> np.ndarray:
    """The left/right twin of a displacement field."""
    return field[mirror] * np.array([-1.0, 1.0, 1.0])


def _lid_field(mean: MeanSurface, d_up, d_lo, left: bool = True, back: float = 0.0) -> np.ndarray:
    """Vertical lid motion of one eye: the upper margin moves by ``d_up(s)``, the lower by
    ``d_lo(s)``, the fissure between them is remapped linearly, and the motion fades over the
    lids. ``back`` pushes vertices inside the fissure back (mm) in proportion to their squeeze."""
    x, y = mean.base_xy[:, 0], mean.base_xy[:, 1]
    sx = x if left else -x
    s = eye_s(sx, mean.eye)
    _, up, lo = lid_margins(s)
    du, dl = d_up(np.clip(s, 0, 1)), d_lo(np.clip(s, 0, 1))
    frac = np.clip((y - lo) / np.maximum(up - lo, 1e-6), 0.0, 1.0)
    inside = dl + (du - dl) * frac
    above = du * smoothstep(up + 9.0, up, y)
    below = dl * smoothstep(lo - 6.0, lo, y)
    dy = np.where(y >= up, above, np.where(y <= lo, below, inside))
    w = band(s, 0.0, 1.0, 0.08) * (sx > 0) * band(y, lo - 8.0, up + 12.0, 2.0)
    dz = np.zeros_like(y)
    if back:
        strictly = (y > lo + 1e-3) & (y < up - 1e-3)
        dz = -back * strictly * np.sin(np.pi * frac)
    return np.stack([np.zeros_like(y), dy * w, dz * w], axis=1)


def expression_basis(grid: FaceGrid, mean: MeanSurface) -> tuple[np.ndarray, list[str]]:
    """(L, V, 3) blendshape displacements at full weight, and their names."""
    v = mean.verts
    x, y = mean.base_xy[:, 0], mean.base_xy[:, 1]
    n = mean.normal
    zero = np.zeros_like(x)
    xc, yst = layout.MOUTH_CORNER_X, layout.STOMION_Y
    low = lower_side(grid).astype(float)
    up_side = 1.0 - low
    in_slit = np.abs(x) < xc + 2.0
    jw = jaw_weight(grid, mean)

    def vec(dx=zero, dy=zero, dz=zero):
        return np.stack([dx + zero, dy + zero, dz + zero], axis=1)

    # Jaw rotation about the hinge axis (parallel to x).
    th = np.radians(JAW_OPEN_DEG)
    ry, rz = v[:, 1] - JAW_HINGE[0], v[:, 2] - JAW_HINGE[1]
    rot = vec(dy=ry * np.cos(th) - rz * np.sin(th) - ry, dz=ry * np.sin(th) + rz * np.cos(th) - rz)
    shapes: dict[str, np.ndarray] = {}
    shapes["jawOpen"] = rot * jw[:, None]
    shapes["jawLeft"] = vec(dx=7.0 * jw)
    shapes["jawForward"] = vec(dz=5.0 * jw)

    corner = gauss(x, y, xc, yst, 11.0, 10.0)
    cheek = gauss(x, y, 34.0, -40.0, 14.0, 12.0)
    shapes["mouthSmileLeft"] = (
        corner[:, None] * np.array([5.0, 8.0, -3.5])
        + cheek[:, None] * np.array([1.5, 4.0, 3.5])
        + gauss(x, y, 32.0, -7.0, 10.0, 3.5)[:, None] * np.array([0.0, 1.2, 0.6])
    )
    shapes["mouthFrownLeft"] = corner[:, None] * np.array([0.5, -5.0, -1.0])
    shapes["mouthStretchLeft"] = gauss(x, y, xc, yst - 3.0, 14.0, 14.0)[:, None] * np.array([5.0, -2.5, -2.0])
    shapes["mouthDimpleLeft"] = corner[:, None] * np.array([2.0, 0.0, -3.5])

    lips = gauss(x, y, 0.0, yst, 0.85 * xc, 10.0)
    shapes["mouthPucker"] = vec(dx=-0.38 * x * lips, dy=-0.15 * (y - yst) * lips, dz=8.0 * lips)
    shapes["mouthFunnel"] = vec(dx=-0.25 * x * lips, dy=(2.5 * up_side - 3.5 * low) * lips * in_slit, dz=6.0 * lips)
    shift = gauss(x, y, 0.0, yst, 26.0, 16.0)
    shapes["mouthLeft"] = vec(dx=6.0 * shift, dz=-1.0 * shift * np.tanh(x / 10.0))
    lip_near = gauss(x, y, 0.0, yst, 0.8 * xc, 7.0) * in_slit
    shapes["mouthUpperUp"] = vec(dy=4.0 * up_side * lip_near, dz=1.0 * up_side * lip_near)
    shapes["mouthLowerDown"] = vec(dy=-5.0 * low * lip_near, dz=0.5 * low * lip_near)
    shapes["mouthRollIn"] = vec(dy=-1.5 * (y - yst) / 8.0 * lips, dz=-3.0 * lips)
    shapes["mouthPress"] = vec(dy=-0.3 * (y - yst) * lips, dz=-2.0 * lips)

    brow_inner = pair(gauss, x, y, 16.0, 26.0, 9.0, 8.0)
    shapes["browInnerUp"] = vec(dy=6.0 * brow_inner + 1.5 * gauss(x, y, 0.0, 45.0, 25.0, 15.0))
    shapes["browOuterUpLeft"] = vec(dy=7.0 * gauss(x, y, 42.0, 28.0, 14.0, 9.0) + 2.0 * gauss(x, y, 35.0, 45.0, 20.0, 18.0))
    bd = gauss(x, y, 24.0, 25.0, 14.0, 8.0)
    shapes["browDownLeft"] = vec(dx=-2.5 * bd, dy=-4.5 * bd, dz=1.0 * bd)

    def close(s):
        _, up, lo = lid_margins(s)
        return lo + 0.15 * (up - lo)

    def lid_h(s):
        _, up, lo = lid_margins(s)
        return up - lo

    shapes["eyeBlinkLeft"] = _lid_field(
        mean, lambda s: close(s) - lid_margins(s)[1], lambda s: close(s) - lid_margins(s)[2] - 0.1 * lid_h(s), back=2.0
    ) + vec(dz=0.8 * gauss(x, y, 31.0, 6.0, 10.0, 3.0))
    shapes["eyeWideLeft"] = _lid_field(mean, lambda s: 0.3 * lid_h(s), lambda s: -0.08 * lid_h(s))
    shapes["eyeSquintLeft"] = _lid_field(mean, lambda s: -0.15 * lid_h(s), lambda s: 0.3 * lid_h(s)) + vec(
        dy=2.0 * gauss(x, y, 36.0, -16.0, 14.0, 8.0)
    )

    puff = pair(gauss, x, y, 45.0, -50.0, 15.0, 15.0)
    shapes["cheekPuff"] = n * (9.0 * puff)[:, None] + vec(dx=0.25 * x * puff, dz=1.5 * lips)
    shapes["cheekSuck"] = n * (-5.0 * pair(gauss, x, y, 50.0, -52.0, 12.0, 14.0))[:, None]
    shapes["noseSneerLeft"] = gauss(x, y, 12.0, -37.0, 7.0, 8.0)[:, None] * np.array([0.5, 3.0, 0.5]) + vec(
        dy=1.5 * gauss(x, y, 10.0, -55.0, 10.0, 6.0) * up_side
    )

    order = [
        "jawOpen", "jawLeft", "jawRight", "jawForward",
        "mouthSmileLeft", "mouthSmileRight", "mouthFrownLeft", "mouthFrownRight",
        "mouthStretchLeft", "mouthStretchRight", "mouthDimpleLeft", "mouthDimpleRight",
        "mouthPucker", "mouthFunnel", "mouthLeft", "mouthRight",
        "mouthUpperUp", "mouthLowerDown", "mouthRollIn", "mouthPress",
        "browInnerUp", "browOuterUpLeft", "browOuterUpRight", "browDownLeft", "browDownRight",
        "eyeBlinkLeft", "eyeBlinkRight", "eyeWideLeft", "eyeWideRight", "eyeSquintLeft", "eyeSquintRight",
        "cheekPuff", "cheekSuck", "noseSneerLeft", "noseSneerRight",
    ]
    for name in order:
        if name not in shapes:  # a Right twin
            shapes[name] = _mirror(shapes[name.replace("Right", "Left")], grid.mirror)
    return np.stack([shapes[k] for k in order]), order
