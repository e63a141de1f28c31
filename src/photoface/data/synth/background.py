"""Random photo backgrounds for synthetic photo collections: textures and clutter.

Every function draws from a ``numpy.random.Generator`` that the caller owns, so a background is
fully determined by the generator's state (the generator is seeded per identity, see
``photoface.data.synth``). Images are float32 arrays (H, W, 3), linear RGB in [0, 1], with the
project's image convention (row i, column j has its centre at x = j + 0.5, y = i + 0.5).

We draw backgrounds procedurally instead of shipping photos because nothing may be downloaded and
no image data set comes with the package. Three families follow the difficulty settings:

* ``plain``   — a studio or office wall: one colour, a soft gradient, faint texture
  (MICC "cooperative").
* ``indoor``  — a wall texture (plaster, wallpaper stripes, tiles) with furniture-like clutter:
  rectangles, shelves, picture frames, lamps (MICC "indoor").
* ``outdoor`` — sky above a horizon, foliage and ground textures, trees and buildings as
  clutter, with a depth-of-field blur (MICC "outdoor").
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

BACKGROUND_KINDS = ("plain", "indoor", "outdoor")


def smooth_noise(rng: np.random.Generator, h: int, w: int, cells: int, channels: int = 1,
                 octaves: int = 3) -> np.ndarray:
    """Fractal value noise: random grids upsampled bicubically and summed over octaves.

    Args:
        cells: grid cells across the image at the coarsest octave (larger = finer texture).

    Returns:
        (h, w, channels) float32, zero mean, roughly unit standard deviation.
    """
    total = np.zeros((channels, h, w), np.float32)
    amp, norm = 1.0, 0.0
    for o in range(octaves):
        c = cells * (2 ** o)
        grid = rng.standard_normal((1, channels, c + 3, c + 3)).astype(np.float32)
        up = F.interpolate(torch.from_numpy(grid), size=(h + 3 * h // c, w + 3 * w // c),
                           mode="bicubic", align_corners=False)[0].numpy()
        oy, ox = h // c, w // c  # skip the border cells, where bicubic upsampling is lopsided
        total += amp * up[:, oy:oy + h, ox:ox + w]
        norm += amp * amp
        amp *= 0.5
    return np.ascontiguousarray((total / np.sqrt(norm)).transpose(1, 2, 0))


def _grid(h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
    """Pixel-centre coordinates (x, y), each (h, w) float32."""
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float32)
    return xs + 0.5, ys + 0.5


def _random_colour(rng: np.random.Generator, sat: float = 0.5, lo: float = 0.15,
                   hi: float = 0.9) -> np.ndarray:
    """A colour (3,) with brightness in [lo, hi] and saturation up to ``sat``."""
    base = rng.uniform(lo, hi)
    tint = rng.uniform(-1.0, 1.0, 3) * sat * min(base, 1.0 - base + 0.2)
    return np.clip(base + tint, 0.02, 0.98).astype(np.float32)


def _paint(img: np.ndarray, alpha: np.ndarray, colour: np.ndarray) -> None:
    """Composite ``colour`` over ``img`` in place with coverage ``alpha`` (h, w) in [0, 1]."""
    a = alpha[..., None]
    img *= 1.0 - a
    img += a * colour


def _rect_alpha(xs, ys, x0, y0, x1, y1) -> np.ndarray:
    """Anti-aliased axis-aligned rectangle coverage."""
    ax = np.clip(np.minimum(xs - x0, x1 - xs) + 0.5, 0.0, 1.0)
    ay = np.clip(np.minimum(ys - y0, y1 - ys) + 0.5, 0.0, 1.0)
    return ax * ay


def _ellipse_alpha(xs, ys, cx, cy, rx, ry) -> np.ndarray:
    """Anti-aliased ellipse coverage (approximate signed distance in pixels)."""
    r = np.sqrt(((xs - cx) / rx) ** 2 + ((ys - cy) / ry) ** 2)
    return np.clip((1.0 - r) * min(rx, ry) + 0.5, 0.0, 1.0)


def _gradient(xs, ys, h, w, rng) -> np.ndarray:
    """A linear ramp in a random direction, (h, w) in [-0.5, 0.5]."""
    ang = rng.uniform(0, 2 * np.pi)
    g = (np.cos(ang) * (xs / w - 0.5) + np.sin(ang) * (ys / h - 0.5))
    return g.astype(np.float32)


def _plain(rng, h, w) -> np.ndarray:
    xs, ys = _grid(h, w)
    col = _random_colour(rng, sat=0.25, lo=0.3, hi=0.85)
    img = np.broadcast_to(col, (h, w, 3)).copy()
    img *= 1.0 + rng.uniform(0.1, 0.4) * _gradient(xs, ys, h, w, rng)[..., None]
    img *= 1.0 + 0.03 * smooth_noise(rng, h, w, cells=8, channels=1)
    return img


def _wall_texture(rng, h, w, xs, ys) -> np.ndarray:
    col = _random_colour(rng, sat=0.45, lo=0.25, hi=0.85)
    img = np.broadcast_to(col, (h, w, 3)).copy()
    kind = rng.integers(3)
    if kind == 0:  # plaster: fine fractal noise
        img *= 1.0 + 0.08 * smooth_noise(rng, h, w, cells=int(rng.integers(8, 20)), channels=1)
    elif kind == 1:  # wallpaper stripes
        period = rng.uniform(0.04, 0.15) * w
        ang = rng.choice([0.0, np.pi / 2, rng.uniform(0, np.pi)])
        u = np.cos(ang) * xs + np.sin(ang) * ys
        stripe = 0.5 + 0.5 * np.sin(2 * np.pi * u / period)
        col2 = _random_colour(rng, sat=0.45, lo=0.2, hi=0.85)
        img = img * (1 - stripe[..., None] * 0.6) + col2 * (stripe[..., None] * 0.6)
    else:  # tiles with grout lines
        size = rng.uniform(0.08, 0.25) * w
        gx = np.abs(((xs / size) % 1.0) - 0.5)
        gy = np.abs(((ys / size) % 1.0) - 0.5)
        grout = np.clip((np.maximum(gx, gy) - 0.46) * 25.0, 0.0, 1.0)
        _paint(img, grout.astype(np.float32), _random_colour(rng, sat=0.1, lo=0.3, hi=0.8))
    img *= 1.0 + rng.uniform(0.1, 0.5) * _gradient(xs, ys, h, w, rng)[..., None]
    return img


def _indoor_clutter(rng, img, xs, ys, h, w, count) -> None:
    for _ in range(count):
        kind = rng.integers(4)
        col = _random_colour(rng, sat=0.6, lo=0.05, hi=0.95)
        x0, y0 = rng.uniform(-0.2, 1.0) * w, rng.uniform(-0.2, 1.0) * h
        if kind == 0:  # furniture, door, window: a large shaded rectangle
            x1, y1 = x0 + rng.uniform(0.15, 0.6) * w, y0 + rng.uniform(0.15, 0.8) * h
            a = _rect_alpha(xs, ys, x0, y0, x1, y1)
            shade = 1.0 + 0.25 * _gradient(xs, ys, h, w, rng)[..., None]
            img[:] = img * (1 - a[..., None]) + a[..., None] * np.clip(col * shade, 0, 1)
        elif kind == 1:  # picture frame: a rectangle with a border
            x1, y1 = x0 + rng.uniform(0.1, 0.3) * w, y0 + rng.uniform(0.1, 0.3) * h
            _paint(img, _rect_alpha(xs, ys, x0, y0, x1, y1), col)
            b = rng.uniform(0.01, 0.03) * w
            inner = _random_colour(rng, sat=0.7)
            _paint(img, _rect_alpha(xs, ys, x0 + b, y0 + b, x1 - b, y1 - b), inner)
        elif kind == 2:  # shelf or skirting: a thin horizontal band
            t = rng.uniform(0.01, 0.04) * h
            _paint(img, _rect_alpha(xs, ys, -1, y0, w + 1, y0 + t), col)
        else:  # lamp, plant, round object
            r = rng.uniform(0.04, 0.15) * w
            _paint(img, _ellipse_alpha(xs, ys, x0, y0, r, r * rng.uniform(0.7, 1.4)), col)


def _outdoor(rng, h, w, xs, ys) -> np.ndarray:
    horizon = rng.uniform(0.25, 0.75) * h
    sky_top = np.array([0.25, 0.45, 0.85], np.float32) * rng.uniform(0.7, 1.2)
    sky_low = np.array([0.75, 0.82, 0.92], np.float32) * rng.uniform(0.8, 1.1)
    if rng.random() < 0.3:  # overcast
        sky_top = sky_low = np.full(3, rng.uniform(0.6, 0.9), np.float32)
    t = np.clip(ys / max(horizon, 1.0), 0, 1)[..., None]
    img = sky_top * (1 - t) + sky_low * t
    clouds = np.clip(smooth_noise(rng, h, w, cells=4, channels=1) * 0.5 + rng.uniform(-0.3, 0.2),
                     0, 1)
    img = img * (1 - 0.6 * clouds) + 0.6 * clouds * 0.95
    ground_col = rng.choice([[0.2, 0.4, 0.15], [0.45, 0.38, 0.28], [0.4, 0.4, 0.42]])
    ground = np.asarray(ground_col, np.float32) * rng.uniform(0.6, 1.3)
    tex = ground * (1.0 + 0.35 * smooth_noise(rng, h, w, cells=int(rng.integers(6, 16)),
                                              channels=3))
    below = np.clip(ys - horizon + 0.5, 0, 1)[..., None]
    img = img * (1 - below) + tex * below
    foliage = np.clip(1.0 + 0.5 * smooth_noise(rng, h, w, cells=10)[..., 0], 0, 1)  # all trees
    for _ in range(int(rng.integers(1, 6))):  # trees and buildings above the horizon
        cx = rng.uniform(0, w)
        if rng.random() < 0.5:
            r = rng.uniform(0.08, 0.25) * w
            leaf = np.asarray([0.12, 0.3, 0.1], np.float32) * rng.uniform(0.6, 1.5)
            a = _ellipse_alpha(xs, ys, cx, horizon - r * 0.6, r, r * rng.uniform(0.8, 1.5))
            _paint(img, a * foliage, leaf)
        else:
            bw, bh = rng.uniform(0.1, 0.35) * w, rng.uniform(0.1, 0.5) * h
            _paint(img, _rect_alpha(xs, ys, cx, horizon - bh, cx + bw, horizon + 1),
                   _random_colour(rng, sat=0.2, lo=0.3, hi=0.8))
    return img.astype(np.float32)


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    """Gaussian depth-of-field blur (separable, reflect borders)."""
    if sigma < 0.3:
        return img
    from scipy.ndimage import gaussian_filter

    return gaussian_filter(img, sigma=(sigma, sigma, 0), mode="reflect")


def random_background(rng: np.random.Generator, size: int, kind: str,
                      clutter: int = 0, blur_sigma: float = 0.0) -> np.ndarray:
    """One random background.

    Args:
        rng: the caller's generator (consumed).
        size: image side in pixels.
        kind: one of ``BACKGROUND_KINDS``.
        clutter: number of clutter objects drawn over the texture (indoor and outdoor only).
        blur_sigma: depth-of-field blur in pixels, applied to the whole background.

    Returns:
        (size, size, 3) float32 in [0, 1].
    """
    if kind not in BACKGROUND_KINDS:
        raise ValueError(f"unknown background kind {kind!r}; expected one of {BACKGROUND_KINDS}")
    h = w = size
    xs, ys = _grid(h, w)
    if kind == "plain":
        img = _plain(rng, h, w)
    elif kind == "indoor":
        img = _wall_texture(rng, h, w, xs, ys)
        _indoor_clutter(rng, img, xs, ys, h, w, clutter)
    else:
        img = _outdoor(rng, h, w, xs, ys)
        _indoor_clutter(rng, img, xs, ys, h, w, clutter // 2)
    img = _blur(img, blur_sigma)
    return np.clip(img, 0.0, 1.0).astype(np.float32)
