"""Vectorised z-buffer rasteriser and differentiable barycentric interpolation, pure PyTorch.

Why our own: nvdiffrast and pytorch3d, the usual differentiable rasterisers, often do not build on
users' machines (EGL errors, CUDA JIT failures, no CPU path), pytorch3d is not installable from the
package registry, and its CPU rasteriser is two orders of magnitude slower (measured on the
project's 2-core machine, 5k vertices, 128², batch 8, forward + backward: 4.96 s for pytorch3d
against 0.05 s for a prototype of this design; our own numbers are in
docs/benchmarks.md). This module is ordinary tensor code, so the same lines run on CPU and GPU.

Input: screen-space vertices (B, V, 3) as made by ``photoface.render.camera.project``: x, y in
pixels (x right, y down, origin at the top-left corner of the image; pixel (i, j) has its centre
at (j + 0.5, i + 0.5)) and z_screen with LARGER = NEARER. Triangles (F, 3) are counter-clockwise
seen from outside, which with y pointing down means a triangle facing the camera is CLOCKWISE in
the image (negative signed area ``(x1-x0)(y2-y0) - (x2-x0)(y1-y0)``).

Algorithm (memory grows with the number of (pixel, triangle) candidates, never with B×F×H×W):

1. Per triangle (without autograd): cull back faces (optional), drop degenerate triangles (zero
   area), clip the bounding box of pixel centres to the image, drop triangles that cover no pixel
   centre (fully off-screen or thinner than a pixel between centres).
2. Enumerate every pixel of each remaining bounding box as a candidate with ``repeat_interleave``
   (in chunks of at most ``candidate_budget`` candidates).
3. Test each candidate with the three edge functions at the pixel centre (barycentrics ≥ -1e-5,
   so that a centre exactly on a shared edge is never lost to rounding).
4. Resolve visibility with ``scatter_reduce(amin)`` on one int64 key per candidate: depth
   quantised to the batch item's depth range in the high bits, triangle id in the low bits. Ties
   in quantised depth go to the lower triangle id.
5. For the winning pixels only, recompute the barycentrics from the (differentiable) vertex
   positions, so gradients reach positions and interpolated attributes. As with nvdiffrast
   without its antialiasing pass, coverage itself has no gradient at silhouettes.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

INSIDE_TOLERANCE = 1e-5
"""A pixel centre is inside a triangle when all barycentrics are ≥ -INSIDE_TOLERANCE."""
MIN_DOUBLE_AREA = 1e-10
"""Triangles with |2 × area| below this (px²) are degenerate and never drawn."""
DEFAULT_CANDIDATE_BUDGET = 1 << 21
"""Candidates processed at once (about 100 bytes each at peak)."""

_KEY_BITS = 62  # keep keys positive and below the int64 maximum used for "empty"
_EMPTY = torch.iinfo(torch.int64).max


@dataclass
class Fragments:
    """What the rasteriser found, stored sparsely over the N covered pixels.

    Attributes:
        image_size: (H, W) pixels.
        batch_size: B.
        pix: (N,) long, flat index ``b·H·W + i·W + j`` of each covered pixel, ascending.
        pix_batch: (N,) long, batch item of each covered pixel.
        pix_tri: (N,) long, index into ``faces`` of the visible triangle.
        pix_bary: (N, 3) barycentrics of the pixel centre, differentiable w.r.t. the positions.
        pix_depth: (N,) z_screen at the pixel centre (larger = nearer), differentiable.
    """

    image_size: tuple[int, int]
    batch_size: int
    pix: torch.Tensor
    pix_batch: torch.Tensor
    pix_tri: torch.Tensor
    pix_bary: torch.Tensor
    pix_depth: torch.Tensor

    @property
    def tri_id(self) -> torch.Tensor:
        """(B, H, W) long: visible triangle per pixel, -1 for background."""
        h, w = self.image_size
        out = torch.full((self.batch_size * h * w,), -1, dtype=torch.long, device=self.pix.device)
        out[self.pix] = self.pix_tri
        return out.view(self.batch_size, h, w)

    @property
    def mask(self) -> torch.Tensor:
        """(B, H, W) bool: pixel covered by a triangle."""
        return self.tri_id >= 0

    @property
    def bary(self) -> torch.Tensor:
        """(B, H, W, 3) barycentrics (zeros on background), differentiable."""
        return self.scatter(self.pix_bary, 0.0)

    @property
    def depth(self) -> torch.Tensor:
        """(B, H, W) z_screen in pixels, larger = nearer; 0 on background. Differentiable."""
        return self.scatter(self.pix_depth[:, None], 0.0)[..., 0]

    def scatter(self, values: torch.Tensor, fill: float = 0.0) -> torch.Tensor:
        """Place per-covered-pixel values into a dense image.

        Args:
            values: (N, C) one row per covered pixel (order of ``pix``).
            fill: value of background pixels.

        Returns:
            (B, H, W, C), differentiable w.r.t. ``values``.
        """
        h, w = self.image_size
        c = values.shape[1]
        dense = torch.full((self.batch_size * h * w, c), fill, dtype=values.dtype, device=values.device)
        return dense.index_copy(0, self.pix, values).view(self.batch_size, h, w, c)


def _triangle_setup(screen: torch.Tensor, faces: torch.Tensor, height: int, width: int, cull: bool):
    """Per-triangle bounding boxes and planes for the candidate tests (no autograd).

    Returns None if no triangle covers a pixel centre, else a dict over the K kept triangles:
    ``key_face`` (K,) face id, ``base`` (K,) flat pixel index of the box's first pixel, ``ncol``
    (K,) box width, ``count`` (K,) candidates, ``planes`` (9, K) in the set-up dtype.
    """
    b, v, _ = screen.shape
    f = faces.shape[0]
    # Set-up in the input's precision (float32 edge vectors of nearby vertices are exact), but
    # never below float32.
    sv = screen.detach()
    if sv.dtype not in (torch.float32, torch.float64):
        sv = sv.float()
    z = sv[..., 2]
    zmin = z.amin(dim=1, keepdim=True)
    zrange = (z.amax(dim=1, keepdim=True) - zmin).clamp_min(1e-12)
    # Normalised distance from the camera: 0 at the item's nearest vertex, 1 at its farthest.
    chans = torch.stack([sv[..., 0], sv[..., 1], (zmin + zrange - z) / zrange]).reshape(3, b * v)
    # One contiguous (B·F,) array per corner and channel: 1-D gathers and elementwise ops only.
    offset = (torch.arange(b, device=sv.device) * v)[:, None]
    corner_idx = [(offset + faces[:, k]).reshape(-1) for k in range(3)]
    xs = [chans[0].index_select(0, i) for i in corner_idx]
    ys = [chans[1].index_select(0, i) for i in corner_idx]
    ds = [chans[2].index_select(0, i) for i in corner_idx]
    ex1, ey1 = xs[1] - xs[0], ys[1] - ys[0]
    ex2, ey2 = xs[2] - xs[0], ys[2] - ys[0]
    area2 = ex1 * ey2 - ex2 * ey1  # negative: facing the camera
    # Columns j whose centre j + 0.5 lies in [min x, max x], clipped to the image; rows alike.
    # Non-finite vertices give a non-finite area and are dropped with the degenerate triangles.
    c0 = torch.ceil(torch.minimum(torch.minimum(xs[0], xs[1]), xs[2]) - 0.5).clamp_(0, width)
    c1 = torch.floor(torch.maximum(torch.maximum(xs[0], xs[1]), xs[2]) - 0.5).clamp_(-1, width - 1)
    r0 = torch.ceil(torch.minimum(torch.minimum(ys[0], ys[1]), ys[2]) - 0.5).clamp_(0, height)
    r1 = torch.floor(torch.maximum(torch.maximum(ys[0], ys[1]), ys[2]) - 0.5).clamp_(-1, height - 1)
    keep = (area2.abs() > MIN_DOUBLE_AREA) & torch.isfinite(area2) & (c1 >= c0) & (r1 >= r0)
    if cull:
        keep &= area2 < 0
    idx = keep.nonzero().squeeze(1)
    if idx.numel() == 0:
        return None

    def pick(t):
        return t.index_select(0, idx)

    a2, c0, c1, r0, r1 = pick(area2), pick(c0), pick(c1), pick(r0), pick(r1)
    ex1, ey1, ex2, ey2 = pick(ex1) / a2, pick(ey1) / a2, pick(ex2) / a2, pick(ey2) / a2
    x0, y0 = pick(xs[0]), pick(ys[0])
    d0, d1, d2 = pick(ds[0]), pick(ds[1]), pick(ds[2])
    batch = torch.div(idx, f, rounding_mode="floor")
    ncol = c1 - c0 + 1
    # Candidate index arithmetic runs in floating point (see _resolve_chunk); float32 is exact
    # while flat pixel indices stay below 2^24.
    exact = sv.dtype if b * height * width < (1 << 24) else torch.float64
    # Barycentrics b1, b2 and the distance as affine functions of the offset (dx, dy) of a pixel
    # centre from the box's first centre: small offsets keep float32 accurate where absolute pixel
    # coordinates would cancel.
    ox, oy = c0 + 0.5 - x0, r0 + 0.5 - y0
    g1x, g1y, g2x, g2y = ey2, -ex2, -ey1, ex1
    h1, h2 = g1x * ox + g1y * oy, g2x * ox + g2y * oy
    n1, n2 = d1 - d0, d2 - d0
    planes = torch.stack(
        [g1x, g1y, h1, g2x, g2y, h2,
         n1 * g1x + n2 * g2x, n1 * g1y + n2 * g2y, d0 + n1 * h1 + n2 * h2]
    )  # (9, K): contiguous rows gather fast
    return {
        "key_face": idx - batch * f,
        "base": ((batch * height + r0.long()) * width + c0.long()).to(exact),
        "ncol": ncol.to(exact),
        "count": (ncol * (r1 - r0 + 1)).long(),
        "planes": planes,
    }


def _resolve_chunk(setup, start, stop, zbuf, width, tri_bits):
    """Enumerate the candidates of kept triangles [start, stop) and fold them into the z-buffer."""
    count = setup["count"][start:stop]
    device = count.device
    cand = torch.repeat_interleave(torch.arange(start, stop, device=device), count)
    # Offset of each candidate within its box, as (dx, dy). Index arithmetic runs in floating
    # point, exact for the integers involved and much faster than int64 division on CPUs.
    planes = setup["planes"]
    exact = setup["base"].dtype
    first = (torch.cumsum(count, 0) - count).to(exact).index_select(0, cand - start)
    local = torch.arange(cand.numel(), device=device, dtype=exact).sub_(first)
    ncol = setup["ncol"].index_select(0, cand)
    dy = torch.floor((local + 0.5).div_(ncol))
    dx = local.sub_(dy * ncol)
    pix = (setup["base"].index_select(0, cand) + dy * width + dx).long()
    dxf, dyf = dx.to(planes.dtype), dy.to(planes.dtype)

    def affine(k):
        return torch.addcmul(
            torch.addcmul(planes[k + 2].index_select(0, cand), planes[k].index_select(0, cand), dxf),
            planes[k + 1].index_select(0, cand), dyf,
        )

    b1, b2, dist = affine(0), affine(3), affine(6)
    outside = (b1 < -INSIDE_TOLERANCE) | (b2 < -INSIDE_TOLERANCE) | (b1 + b2 > 1.0 + INSIDE_TOLERANCE)
    qdepth = (dist.clamp_(0.0, 1.0).double() * float((1 << (_KEY_BITS - tri_bits)) - 1)).long()
    key = qdepth.bitwise_left_shift_(tri_bits).bitwise_or_(setup["key_face"].index_select(0, cand))
    zbuf.scatter_reduce_(0, pix, key.masked_fill_(outside, _EMPTY), reduce="amin", include_self=True)


def rasterize(
    screen_verts: torch.Tensor,
    faces: torch.Tensor,
    image_size,
    cull_backfaces: bool = True,
    candidate_budget: int = DEFAULT_CANDIDATE_BUDGET,
) -> Fragments:
    """Find, per pixel, the nearest triangle and the barycentrics of the pixel centre.

    Args:
        screen_verts: (B, V, 3) x, y pixels, z_screen (larger = nearer); any float dtype/device.
        faces: (F, 3) long, counter-clockwise seen from outside.
        image_size: int (square) or (H, W).
        cull_backfaces: drop triangles facing away from the camera; if False they are drawn too
            (e.g. for open meshes seen from behind).
        candidate_budget: most (pixel, triangle) candidates held in memory at once; larger
            batches are processed in chunks (results are identical).

    Returns:
        ``Fragments``; barycentrics and depth carry gradients to ``screen_verts``.
    """
    h, w = (image_size, image_size) if isinstance(image_size, int) else tuple(int(s) for s in image_size)
    b, v, _ = screen_verts.shape
    faces = faces.to(device=screen_verts.device, dtype=torch.long)
    f = faces.shape[0]
    tri_bits = max(1, int(f).bit_length())
    device = screen_verts.device
    zbuf = torch.full((b * h * w,), _EMPTY, dtype=torch.long, device=device)
    with torch.no_grad():
        setup = _triangle_setup(screen_verts, faces, h, w, cull_backfaces)
        if setup is not None:
            budget = max(int(candidate_budget), h * w)
            counts = setup["count"]
            ends = torch.cumsum(counts, 0)
            start = 0
            n = counts.numel()
            while start < n:
                before = int(ends[start - 1]) if start > 0 else 0
                stop = int(torch.searchsorted(ends, before + budget, right=True))
                stop = max(stop, start + 1)
                _resolve_chunk(setup, start, stop, zbuf, w, tri_bits)
                start = stop
    pix = (zbuf != _EMPTY).nonzero().squeeze(1)
    tri = zbuf.index_select(0, pix) & ((1 << tri_bits) - 1)
    pix_batch = torch.div(pix, h * w, rounding_mode="floor")
    rem = pix - pix_batch * (h * w)
    row = torch.div(rem, w, rounding_mode="floor")
    col = rem - row * w
    bary, depth = _barycentrics(screen_verts, faces, pix_batch, tri, row, col)
    return Fragments((h, w), b, pix, pix_batch, tri, bary, depth)


def _barycentrics(screen_verts, faces, batch, tri, row, col):
    """Differentiable barycentrics and depth of the pixel centres (row, col) in triangles ``tri``."""
    b, v, _ = screen_verts.shape
    vidx = faces[tri] + (batch * v)[:, None]  # (N, 3)
    corners = screen_verts.reshape(b * v, 3).index_select(0, vidx.reshape(-1)).view(-1, 3, 3)
    x, y, z = corners.unbind(-1)  # each (N, 3)
    px = col.to(screen_verts.dtype) + 0.5
    py = row.to(screen_verts.dtype) + 0.5
    # Edge function of the edge opposite each corner; their sum is twice the signed area.
    w0 = (x[:, 2] - x[:, 1]) * (py - y[:, 1]) - (y[:, 2] - y[:, 1]) * (px - x[:, 1])
    w1 = (x[:, 0] - x[:, 2]) * (py - y[:, 2]) - (y[:, 0] - y[:, 2]) * (px - x[:, 2])
    w2 = (x[:, 1] - x[:, 0]) * (py - y[:, 0]) - (y[:, 1] - y[:, 0]) * (px - x[:, 0])
    wsum = torch.stack([w0, w1, w2], dim=1)
    bary = wsum / wsum.sum(dim=1, keepdim=True)
    depth = (bary * z).sum(dim=1)
    return bary, depth


def interpolate(attr: torch.Tensor, faces: torch.Tensor, fragments: Fragments, dense: bool = True):
    """Barycentric interpolation of per-vertex attributes at the covered pixels.

    Differentiable w.r.t. ``attr`` and, through the barycentrics, the vertex positions.

    Args:
        attr: (B, V, C) per-vertex attributes (any float dtype).
        faces: (F, 3) long, the faces given to ``rasterize``.
        fragments: output of ``rasterize``.
        dense: True → (B, H, W, C) with zeros on background; False → (N, C), one row per covered
            pixel (cheaper when only covered pixels matter).
    """
    b, v, c = attr.shape
    faces = faces.to(device=attr.device, dtype=torch.long)
    vidx = faces.index_select(0, fragments.pix_tri) + (fragments.pix_batch * v)[:, None]
    flat = attr.reshape(b * v, c)
    bary = fragments.pix_bary.to(attr.dtype)
    # Three gathers and fused multiply-adds: cheaper forward and backward than a (N, 3, C) product.
    vals = flat.index_select(0, vidx[:, 0]) * bary[:, 0:1]
    vals = torch.addcmul(vals, flat.index_select(0, vidx[:, 1]), bary[:, 1:2])
    vals = torch.addcmul(vals, flat.index_select(0, vidx[:, 2]), bary[:, 2:3])
    return fragments.scatter(vals) if dense else vals
