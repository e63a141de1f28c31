"""Per-vertex ambient occlusion: how much of the sky above each vertex its own mesh hides.

The renderer is local (Lambertian SH shading, no shadows), so a cavity is lit like open skin: the
inside walls of the nostrils, the mouth corners and the eye sockets of a grey geometry render
come out as bright as the cheeks and read as flaps. Multiplying a figure's albedo by this
occlusion darkens them as a photograph's ambient light does. It is for pictures (``apps``' grey
mesh views); fitting and training never use it.

Method: ``DIRECTIONS`` directions spread evenly over the sphere (a Fibonacci lattice); for each,
the mesh is rasterised orthographically as seen from that direction (``rasterize``, back faces
culled), and a vertex counts as open towards it when it faces it and nothing lies in front of it
at its pixel (within ``tolerance`` of the depth there). The occlusion is the cosine-weighted share
of the open directions in the vertex's hemisphere: 1 on a convex surface, lower in a cavity.
"""

from __future__ import annotations

import math

import torch

from photoface.mesh.normals import vertex_normals
from photoface.render.rasterize import rasterize

DIRECTIONS = 48
"""Directions over the sphere; about 24 fall in each vertex's hemisphere."""


def sphere_directions(n: int, dtype=torch.float64) -> torch.Tensor:
    """(n, 3) unit vectors spread evenly over the sphere (Fibonacci lattice)."""
    i = torch.arange(n, dtype=dtype) + 0.5
    z = 1.0 - 2.0 * i / n
    phi = math.pi * (3.0 - math.sqrt(5.0)) * i
    r = (1.0 - z * z).clamp_min(0.0).sqrt()
    return torch.stack([r * torch.cos(phi), r * torch.sin(phi), z], dim=1)


def _frame(d: torch.Tensor) -> torch.Tensor:
    """(3, 3) rotation whose third row is the unit vector ``d`` (the view axis)."""
    helper = torch.tensor([0.0, 1.0, 0.0], dtype=d.dtype) if abs(float(d[1])) < 0.9 else \
        torch.tensor([1.0, 0.0, 0.0], dtype=d.dtype)
    x = torch.linalg.cross(helper, d)
    x = x / x.norm()
    return torch.stack([x, torch.linalg.cross(d, x), d])


@torch.no_grad()
def vertex_occlusion(verts: torch.Tensor, faces: torch.Tensor, directions: int = DIRECTIONS, size: int = 256,
                     tolerance: float = 0.02) -> torch.Tensor:
    """(V, 3) positions (any unit), (F, 3) triangles → (V,) in [0, 1] (module docstring).

    ``size``: the square depth images' side, px; ``tolerance``: depth slack as a fraction of the
    mesh's extent (a vertex within it of the surface at its pixel is that surface).
    """
    v = verts.detach().double().cpu()
    faces = torch.as_tensor(faces).long().cpu()
    normals = vertex_normals(v, faces)
    centre = (v.amax(0) + v.amin(0)) / 2
    extent = float((v - centre).norm(dim=1).max())
    scale = 0.48 * size / max(extent, 1e-9)  # the whole mesh inside the image from any side
    dirs = sphere_directions(directions)
    open_sum = torch.zeros(len(v), dtype=torch.float64)
    weight_sum = torch.zeros(len(v), dtype=torch.float64)
    for d in dirs:
        local = (v - centre) @ _frame(d).T
        screen = torch.stack([scale * local[:, 0] + size / 2, -scale * local[:, 1] + size / 2,
                              scale * local[:, 2]], dim=1)[None]
        frags = rasterize(screen, faces, size)
        col = screen[0, :, 0].long().clamp(0, size - 1)
        row = screen[0, :, 1].long().clamp(0, size - 1)
        covered = frags.tri_id[0, row, col] >= 0
        surface = frags.depth[0, row, col]
        free = ~covered | (screen[0, :, 2] >= surface - tolerance * scale * extent)
        cos = (normals @ d).clamp_min(0.0)
        open_sum += cos * free
        weight_sum += cos
    return (open_sum / weight_sum.clamp_min(1e-12)).clamp(0.0, 1.0).to(verts.dtype)
