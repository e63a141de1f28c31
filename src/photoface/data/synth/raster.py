"""Anti-aliased 2-D primitives with depth, for occluders and the head behind the face.

Why our own: the shapes are simple (ellipses, thick poly-lines, rectangles) and must carry a
per-pixel height so that they can be z-tested against the rendered face; Pillow's ImageDraw has
no coverage values or depth, and drawing through a full rasteriser would be far slower.

Conventions: pixel coordinates as everywhere in photoface (x right, y down, pixel (i, j) has its
centre at (j + 0.5, i + 0.5)). "Height" is the distance towards the camera in pixels (screen
units = millimetres × f), so larger height = nearer the camera; the face's height map comes from
the renderer's depth (see ``photoface.data.synth``). Every primitive works on its bounding box
only, so that many thin strands stay cheap.
"""

from __future__ import annotations

import numpy as np


class Layer:
    """An RGBA image with a height per pixel; primitives are painted in painter's order.

    ``hidden`` (optional (H, W) bool) marks pixels that something drawn later will cover
    completely (the face over the head); textures are not computed there.

    Attributes:
        rgb: (H, W, 3) float32 colour (not premultiplied).
        alpha: (H, W) float32 coverage in [0, 1].
        height: (H, W) float32 height of the front-most primitive, -inf where nothing is drawn.
    """

    def __init__(self, size: int, hidden: np.ndarray | None = None):
        self.size = size
        self.hidden = hidden  # (H, W) bool: pixels that will be covered later; textures skip them
        self.rgb = np.zeros((size, size, 3), np.float32)
        self.alpha = np.zeros((size, size), np.float32)
        self.height = np.full((size, size), -np.inf, np.float32)

    def bbox(self, x0: float, y0: float, x1: float, y1: float):
        """Clip a box to the image; returns (slice_y, slice_x, xs, ys) or None when empty."""
        j0, j1 = max(int(np.floor(x0)) - 1, 0), min(int(np.ceil(x1)) + 1, self.size)
        i0, i1 = max(int(np.floor(y0)) - 1, 0), min(int(np.ceil(y1)) + 1, self.size)
        if j0 >= j1 or i0 >= i1:
            return None
        ys, xs = np.mgrid[i0:i1, j0:j1].astype(np.float32)
        return slice(i0, i1), slice(j0, j1), xs + 0.5, ys + 0.5

    def paint(self, sy: slice, sx: slice, cov: np.ndarray, colour, height) -> None:
        """Composite one primitive over the layer inside the box (sy, sx).

        Args:
            cov: (h, w) coverage in [0, 1].
            colour: (3,) or (h, w, 3).
            height: scalar or (h, w), pixels towards the camera.
        """
        a = cov.astype(np.float32)
        rgb = self.rgb[sy, sx]
        rgb *= 1.0 - a[..., None]
        rgb += a[..., None] * np.asarray(colour, np.float32)
        al = self.alpha[sy, sx]
        al += a * (1.0 - al)
        hgt = self.height[sy, sx]
        np.copyto(hgt, np.broadcast_to(np.asarray(height, np.float32), a.shape), where=a > 0.01)


def _ellipse_dist(xs, ys, cx, cy, rx, ry, angle):
    """Approximate signed distance (pixels) to an ellipse, and its normalised coordinates."""
    c, s = np.cos(angle), np.sin(angle)
    u = (xs - cx) * c + (ys - cy) * s
    v = -(xs - cx) * s + (ys - cy) * c
    rho = np.sqrt((u / rx) ** 2 + (v / ry) ** 2)
    return (rho - 1.0) * min(rx, ry), u / rx, v / ry


def ellipse(layer: Layer, cx, cy, rx, ry, angle, colour, height, ring: float = 0.0,
            cut=None, hole=None) -> None:
    """A filled ellipse, or a ring of width ``ring`` pixels when ring > 0. ``angle`` in radians.

    ``colour`` may be a function of the ellipse's normalised coordinates (u, v) (arrays of the
    same shape, in [-1, 1] along its axes) returning (..., 3): a texture, evaluated only on
    covered pixels that are not ``layer.hidden``. ``cut`` = (nx, ny, c) keeps only the
    half-plane nx·x + ny·y <= c (pixels), e.g. the lower edge of a hat.
    """
    r = max(rx, ry) + 1.0
    box = layer.bbox(cx - r, cy - r, cx + r, cy + r)
    if box is None or rx <= 0 or ry <= 0:
        return
    sy, sx, xs, ys = box
    dist, un, vn = _ellipse_dist(xs, ys, cx, cy, rx, ry, angle)
    cov = np.clip(0.5 - dist, 0.0, 1.0) if ring <= 0 else np.clip(0.5 * ring + 0.5 - np.abs(dist),
                                                                  0.0, 1.0)
    if cut is not None:
        nx, ny, c0 = cut
        cov = cov * np.clip(c0 - (nx * xs + ny * ys) + 0.5, 0.0, 1.0)
    if hole is not None:
        cov = cov * np.clip(_ellipse_dist(xs, ys, *hole)[0] + 0.5, 0.0, 1.0)
    if callable(colour):
        sel = cov > 0
        if layer.hidden is not None:
            sel &= ~layer.hidden[sy, sx]
        tex = np.zeros(cov.shape + (3,), np.float32)
        tex[sel] = colour(un[sel], vn[sel])
        colour = tex
    layer.paint(sy, sx, cov, colour, height)


def polyline(layer: Layer, pts: np.ndarray, width, colour, heights) -> None:
    """A thick poly-line (capsules between consecutive points).

    Args:
        pts: (n, 2) pixel points.
        width: full stroke width in pixels, scalar or (n,) varying along the line.
        heights: scalar or (n,) heights at the points, interpolated along each segment.
    """
    pts = np.asarray(pts, np.float32)
    n = len(pts)
    widths = np.broadcast_to(np.asarray(width, np.float32), (n,))
    hs = np.broadcast_to(np.asarray(heights, np.float32), (n,))
    pad = float(widths.max()) + 1.0
    box = layer.bbox(pts[:, 0].min() - pad, pts[:, 1].min() - pad,
                     pts[:, 0].max() + pad, pts[:, 1].max() + pad)
    if box is None:
        return
    sy, sx, xs, ys = box
    p0, p1 = pts[:-1], pts[1:]
    d = p1 - p0
    len2 = np.maximum((d ** 2).sum(1), 1e-6)
    # (segments, h, w): parameter of the closest point on each segment
    t = ((xs[None] - p0[:, 0, None, None]) * d[:, 0, None, None]
         + (ys[None] - p0[:, 1, None, None]) * d[:, 1, None, None]) / len2[:, None, None]
    t = np.clip(t, 0.0, 1.0)
    qx = p0[:, 0, None, None] + t * d[:, 0, None, None]
    qy = p0[:, 1, None, None] + t * d[:, 1, None, None]
    dist = np.sqrt((xs[None] - qx) ** 2 + (ys[None] - qy) ** 2)
    half = 0.5 * (widths[:-1, None, None] * (1 - t) + widths[1:, None, None] * t)
    sd = dist - half
    k = np.argmin(sd, axis=0)
    best = np.take_along_axis(sd, k[None], 0)[0]
    tb = np.take_along_axis(t, k[None], 0)[0]
    hgt = hs[:-1][k] * (1 - tb) + hs[1:][k] * tb
    cov = np.clip(0.5 - best, 0.0, 1.0)
    layer.paint(sy, sx, cov, colour, hgt)


def bezier(p0, p1, p2, p3, n: int = 12) -> np.ndarray:
    """Points (n, 2) on a cubic Bézier curve."""
    t = np.linspace(0.0, 1.0, n, dtype=np.float32)[:, None]
    p0, p1, p2, p3 = (np.asarray(p, np.float32) for p in (p0, p1, p2, p3))
    return ((1 - t) ** 3 * p0 + 3 * (1 - t) ** 2 * t * p1 + 3 * (1 - t) * t ** 2 * p2
            + t ** 3 * p3)
