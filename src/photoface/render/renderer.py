"""The differentiable face renderer: (shape, albedo, pose, light) → image, mask, depth, landmarks.

Pipeline: rotate the model-space mesh into camera space, project it (weak perspective, see
``photoface.render.camera``), rasterise (``photoface.render.rasterize``), interpolate albedo and
the vertex normals of the DEFORMED mesh (``photoface.mesh.normals``) per pixel, shade with
spherical-harmonics lighting (``photoface.render.sh``; the code is added to ``default_light``),
and composite over a background. Gradients reach vertices, albedo, pose and light; coverage has no
gradient at silhouettes.

Albedo comes either per vertex (B, V, 3), interpolated across triangles, or as an image-space map
(B, 3, H, W), e.g. from a CNN decoder: the map is read at the pixel itself (no texture
coordinates), so ``image = albedo_map · shading`` on covered pixels.

The image is linear RGB and is NOT clamped to [0, 1] (clamping would stop gradients where a light
over-exposes); clamp when writing files.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from photoface.mesh.normals import vertex_normals
from photoface.render.camera import rotation_matrix, to_screen
from photoface.render.rasterize import DEFAULT_CANDIDATE_BUDGET, Fragments, interpolate, rasterize
from photoface.render.sh import LIGHT_DIM, default_light, sh_shading_grouped


@dataclass
class RenderOutput:
    """Everything ``Renderer.render`` produces.

    Attributes:
        image: (B, 3, H, W) linear RGB, composited over the background.
        mask: (B, 1, H, W) 1.0 where a triangle covers the pixel centre, else 0.0.
        depth: (B, 1, H, W) z_screen in pixels (larger = nearer), 0 on background.
        tri_id: (B, H, W) long, visible triangle, -1 on background.
        shading: (B, 3, H, W) SH irradiance per colour, 0 on background.
        landmarks2d: (B, L, 2) pixels (x right, y down) of the landmark vertices, or None.
        screen_verts: (B, V, 3) projected vertices: x, y pixels, z_screen pixels.
        fragments: the rasteriser's sparse output (for interpolating further attributes).
    """

    image: torch.Tensor
    mask: torch.Tensor
    depth: torch.Tensor
    tri_id: torch.Tensor
    shading: torch.Tensor
    landmarks2d: torch.Tensor | None
    screen_verts: torch.Tensor
    fragments: Fragments


@dataclass
class Geometry:
    """What a render needs of the mesh and pose (``Renderer.geometry``).

    Attributes:
        screen_verts: (B, V, 3) projected vertices: x, y pixels, z_screen pixels.
        fragments: the rasteriser's output.
        pixel_normals: (N, 3) unit camera-space normals of the N covered pixels (``fragments`` order).
    """

    screen_verts: torch.Tensor
    fragments: Fragments
    pixel_normals: torch.Tensor


class Renderer(torch.nn.Module):
    """Renders meshes sharing one triangle list.

    A ``torch.nn.Module`` only so that ``.to(device)`` moves the faces and default light; it has
    no parameters.

    Args:
        faces: (F, 3) integer vertex indices, counter-clockwise seen from outside.
        image_size: int (square) or (H, W) in pixels.
        cull_backfaces: skip triangles facing away from the camera (right for closed or
            front-facing face meshes; turn off for open meshes seen from behind).
        candidate_budget: see ``photoface.render.rasterize.rasterize``.
    """

    def __init__(self, faces, image_size, cull_backfaces: bool = True,
                 candidate_budget: int = DEFAULT_CANDIDATE_BUDGET):
        super().__init__()
        faces = torch.as_tensor(faces).long()
        if faces.dim() != 2 or faces.shape[1] != 3:
            raise ValueError(f"faces must be (F, 3), got {tuple(faces.shape)}")
        self.register_buffer("faces", faces, persistent=False)
        self.register_buffer("default_light", default_light(), persistent=False)
        size = (image_size, image_size) if isinstance(image_size, int) else tuple(int(s) for s in image_size)
        self.image_size: tuple[int, int] = size
        self.cull_backfaces = cull_backfaces
        self.candidate_budget = candidate_budget

    def render(
        self,
        verts: torch.Tensor,
        albedo: torch.Tensor,
        pose: torch.Tensor,
        light: torch.Tensor | None = None,
        background: torch.Tensor | float | None = None,
        landmarks: torch.Tensor | None = None,
    ) -> RenderOutput:
        """Render a batch.

        Args:
            verts: (B, V, 3) millimetres, model space.
            albedo: (B, V, 3) per-vertex in [0, 1], or (B, 3, H, W) image-space map.
            pose: (B, 6) physical pose: pitch, yaw, roll (degrees), f (px/mm), tx, ty (px).
            light: (B, 27) SH light code, channel-major, added to the default light; None = 0.
            background: None (black), a float, an RGB (3,) tensor, or (B, 3, H, W) image.
            landmarks: (L,) vertex indices (e.g. the 68 iBUG landmarks) or None.

        Returns:
            ``RenderOutput``.
        """
        return self.shade(self.geometry(verts, pose), albedo, light, background, landmarks)

    def geometry(self, verts: torch.Tensor, pose: torch.Tensor) -> Geometry:
        """The part of ``render`` that depends on the mesh and pose alone: (B, V, 3) mm model-space
        ``verts``, (B, 6) physical ``pose`` -> ``Geometry``. Compute it once and ``shade`` it many
        times where only albedo and light change (the fitter's light stage)."""
        faces = self.faces.to(verts.device)
        rot = rotation_matrix(torch.deg2rad(pose[:, :3]))
        cam = verts @ rot.transpose(1, 2)
        screen = to_screen(cam, pose)
        frags = rasterize(screen, faces, self.image_size, self.cull_backfaces, self.candidate_budget)
        normals = interpolate(vertex_normals(cam, faces), faces, frags, dense=False)  # (N, 3)
        pix_normal = torch.nn.functional.normalize(normals, dim=-1, eps=1e-12)
        return Geometry(screen, frags, pix_normal)

    def shade(self, geometry: Geometry, albedo: torch.Tensor, light: torch.Tensor | None = None,
              background: torch.Tensor | float | None = None,
              landmarks: torch.Tensor | None = None) -> RenderOutput:
        """Albedo and light on a ``Geometry``: arguments and result as ``render``."""
        screen, frags = geometry.screen_verts, geometry.fragments
        b, v, _ = screen.shape
        h, w = self.image_size
        dtype, device = screen.dtype, screen.device
        image_albedo = albedo.dim() == 4
        if image_albedo and tuple(albedo.shape) != (b, 3, h, w):
            raise ValueError(f"image-space albedo must be {(b, 3, h, w)}, got {tuple(albedo.shape)}")
        if not image_albedo and tuple(albedo.shape) != (b, v, 3):
            raise ValueError(f"per-vertex albedo must be {(b, v, 3)}, got {tuple(albedo.shape)}")
        total_light = self.default_light.to(device=device, dtype=dtype).expand(b, LIGHT_DIM)
        if light is not None:
            total_light = total_light + light.to(dtype)
        counts = torch.bincount(frags.pix_batch, minlength=b).tolist()
        pix_shading = sh_shading_grouped(geometry.pixel_normals, total_light, counts)

        shading = frags.scatter(pix_shading).permute(0, 3, 1, 2)
        tri_id = frags.tri_id
        mask = (tri_id >= 0).unsqueeze(1).to(dtype)
        if image_albedo:
            colour = albedo.to(dtype) * shading
        else:
            pix_albedo = interpolate(albedo.to(dtype), self.faces.to(device), frags, dense=False)
            colour = frags.scatter(pix_albedo * pix_shading).permute(0, 3, 1, 2)
        image = colour if background is None else colour + (1.0 - mask) * _background(background, b, h, w, dtype, device)

        landmarks2d = None
        if landmarks is not None:
            idx = torch.as_tensor(landmarks, device=device).long()
            landmarks2d = screen[:, idx, :2]
        return RenderOutput(
            image=image.contiguous(),
            mask=mask,
            depth=frags.depth.unsqueeze(1),
            tri_id=tri_id,
            shading=shading.contiguous(),
            landmarks2d=landmarks2d,
            screen_verts=screen,
            fragments=frags,
        )

    forward = render


def _background(background, b, h, w, dtype, device) -> torch.Tensor:
    """Background as a tensor broadcastable to (B, 3, H, W)."""
    bg = torch.as_tensor(background, dtype=dtype, device=device)
    if bg.dim() == 0:
        return bg.expand(1, 1, 1, 1)
    if bg.dim() == 1:
        if bg.numel() != 3:
            raise ValueError(f"background colour must have 3 values, got {bg.numel()}")
        return bg.view(1, 3, 1, 1)
    if tuple(bg.shape[-3:]) != (3, h, w):
        raise ValueError(f"background image must be (B, 3, {h}, {w}), got {tuple(bg.shape)}")
    return bg
