"""Smooth profile functions from which the procedural face is assembled.

All take numpy arrays in millimetres and return arrays of the same shape. Bilateral features are
written as the sum of a left and a right copy (``pair``) rather than with ``abs(x)``, so they stay
smooth across the midline.
"""

from __future__ import annotations

import numpy as np


def smoothstep(e0: float, e1, x):
    """0 below ``e0``, 1 above ``e1``, C¹ cubic in between (``e1 < e0`` gives the mirror image)."""
    t = np.clip((x - e0) / (e1 - e0), 0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def band(x, lo: float, hi: float, soft: float):
    """≈1 on [lo, hi], falling to 0 over ``soft`` mm on both sides."""
    return smoothstep(lo - soft, lo, x) * smoothstep(hi + soft, hi, x)


def gauss(x, y, cx: float, cy: float, sx: float, sy: float):
    """Axis-aligned 2-D Gaussian bump of height 1 centred at (cx, cy)."""
    return np.exp(-0.5 * (((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2))


def pair(fn, x, *args, **kw):
    """``fn(x, ...) + fn(-x, ...)``: a feature centred at +cx and its mirror image at −cx."""
    return fn(x, *args, **kw) + fn(-x, *args, **kw)


def super_gauss(x, y, cx: float, cy: float, sx: float, sy: float, p: float = 4.0):
    """Flat-topped bump: ``exp(-r^p / 2)`` with r the scaled elliptical radius."""
    r2 = ((x - cx) / sx) ** 2 + ((y - cy) / sy) ** 2
    return np.exp(-0.5 * r2 ** (p / 2.0))


def ridge(x, y, path_x, path_y, width: float):
    """Gaussian ridge of height 1 along a polyline (distance to the nearest polyline point).

    ``path_x``/``path_y`` sample the ridge line densely (≤ ~1 mm apart).
    """
    px = np.asarray(path_x)[None, :]
    py = np.asarray(path_y)[None, :]
    d2 = (x.reshape(-1, 1) - px) ** 2 + (y.reshape(-1, 1) - py) ** 2
    return np.exp(-0.5 * d2.min(axis=1) / width**2).reshape(x.shape)
