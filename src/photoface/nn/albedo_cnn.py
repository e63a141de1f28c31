"""Stage-2 albedo: a CNN decoder with U-Net skips that predicts an image-space albedo map.

The paper's second training stage replaces the GCN albedo decoder by a CNN that sees the encoder's
feature maps through skip connections, so the albedo can carry detail the 128-D identity code
cannot. The decoder climbs from layer4 (H/32) back to full resolution: at each step it up-samples
bilinearly to the next skip's size, concatenates the encoder map of that size (layer3, layer2,
layer1, stem) and applies two 3×3 conv–BN–ReLU layers; the last step concatenates the input image
itself. A final 3×3 convolution, started at zero, is added to logit(base colour) and squashed by a
sigmoid, so an untrained decoder paints the template's mean skin colour everywhere.

How the map is used:

* **Rendering.** The map (B, 3, H, W) is aligned pixel-for-pixel with the input image. The
  renderer reads it at the pixel itself (no texture coordinates): on covered pixels
  ``image = albedo_map · shading``, where ``shading`` is the SH irradiance of the rasterised
  surface normal (see ``photoface.render.renderer``).
* **Export (per-vertex albedo).** :func:`vertex_albedo_from_map` samples the map with
  ``grid_sample`` at each vertex's projected position (``RenderOutput.screen_verts``, pixels,
  origin at the top-left corner of the top-left pixel). Only vertices of triangles that are
  visible in the rendering (``RenderOutput.tri_id``) take their value from the map; a hidden
  vertex takes the value of its left/right mirror partner when that one is visible, else a
  fallback (the stage-1 GCN albedo, or the template albedo).
"""

from __future__ import annotations

from typing import Sequence

import torch
import torch.nn.functional as F

DEFAULT_WIDTHS = (256, 128, 64, 32, 16)


def _block(c_in: int, c_out: int) -> torch.nn.Sequential:
    return torch.nn.Sequential(
        torch.nn.Conv2d(c_in, c_out, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(c_out),
        torch.nn.ReLU(inplace=True),
        torch.nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
        torch.nn.BatchNorm2d(c_out),
        torch.nn.ReLU(inplace=True),
    )


class AlbedoCNN(torch.nn.Module):
    """Encoder feature maps + image → albedo map (B, 3, H, W) in (0, 1), aligned with the image.

    Args:
        feature_channels: channels of the encoder maps, finest first (stem, layer1..layer4), as
            in ``ResNetEncoder.feature_channels``.
        base_albedo: (3,) colour in [0, 1] the untrained decoder outputs (clamped to
            [0.005, 0.995] before the logit); e.g. the mean of the model's ``tex_mean``.
        widths: output channels of the five decoder steps (at H/16, H/8, H/4, H/2, H).
    """

    def __init__(self, feature_channels: Sequence[int], base_albedo, widths: Sequence[int] = DEFAULT_WIDTHS):
        super().__init__()
        feature_channels = tuple(feature_channels)
        widths = tuple(widths)
        if len(feature_channels) != 5 or len(widths) != 5:
            raise ValueError("AlbedoCNN needs 5 encoder feature maps (stem, layer1..4) and 5 widths")
        skips = (*feature_channels[:4][::-1], 3)  # layer3, layer2, layer1, stem, image
        c = feature_channels[4]
        blocks = []
        for skip, w in zip(skips, widths):
            blocks.append(_block(c + skip, w))
            c = w
        self.blocks = torch.nn.ModuleList(blocks)
        self.out = torch.nn.Conv2d(c, 3, 3, padding=1)
        torch.nn.init.zeros_(self.out.weight)
        torch.nn.init.zeros_(self.out.bias)
        base = torch.as_tensor(base_albedo, dtype=torch.float32).reshape(1, 3, 1, 1)
        self.register_buffer("base_logit", torch.logit(base.clamp(0.005, 0.995)), persistent=False)

    def forward(self, features: Sequence[torch.Tensor], images: torch.Tensor) -> torch.Tensor:
        """features: (stem, layer1, layer2, layer3, layer4) maps; images (B, 3, H, W) in [0, 1]."""
        skips = (*tuple(features[:4])[::-1], images.to(features[0].dtype))
        x = features[4]
        for block, skip in zip(self.blocks, skips):
            x = F.interpolate(x, size=skip.shape[-2:], mode="bilinear", align_corners=False)
            x = block(torch.cat([x, skip], dim=1))
        return torch.sigmoid(self.out(x) + self.base_logit)


def visible_vertices(tri_id: torch.Tensor, faces: torch.Tensor, num_vertices: int) -> torch.Tensor:
    """Vertices of triangles that cover at least one pixel.

    Args:
        tri_id: (B, H, W) long, visible triangle per pixel, -1 on background.
        faces: (F, 3) long.
        num_vertices: V.

    Returns:
        (B, V) bool.
    """
    b = tri_id.shape[0]
    n_faces = faces.shape[0]
    seen = torch.zeros(b, n_faces + 1, device=tri_id.device)
    seen.scatter_(1, tri_id.reshape(b, -1) + 1, 1.0)  # slot 0 collects the background
    seen = seen[:, 1:]
    count = torch.zeros(b, num_vertices, device=tri_id.device)
    count.index_add_(1, faces.reshape(-1).to(tri_id.device), seen.repeat_interleave(3, dim=1))
    return count > 0


def vertex_albedo_from_map(
    albedo_map: torch.Tensor,
    screen_verts: torch.Tensor,
    tri_id: torch.Tensor,
    faces: torch.Tensor,
    mirror: torch.Tensor,
    fallback: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-vertex albedo read from an image-space map, for export.

    Args:
        albedo_map: (B, 3, H, W) in [0, 1].
        screen_verts: (B, V, 3) projected vertices; x, y in pixels (x right, y down, origin at the
            top-left corner of the top-left pixel).
        tri_id: (B, H, W) visible triangle per pixel (-1 = background), from the same rendering.
        faces: (F, 3) long.
        mirror: (V,) long, left/right partner of each vertex.
        fallback: (B, V, 3) or (V, 3) albedo for vertices hidden on both sides.

    Returns:
        ``albedo`` (B, V, 3) and ``source`` (B, V) long: 0 read from the map, 1 from the mirror
        partner, 2 from the fallback.
    """
    b, _, h, w = albedo_map.shape
    v = screen_verts.shape[1]
    xy = screen_verts[..., :2].to(albedo_map.dtype)
    # align_corners=False puts -1 and +1 on the outer edges of the border pixels, matching the
    # pixel-corner origin: normalised = 2 · pixel / size - 1.
    grid = torch.stack([2.0 * xy[..., 0] / w - 1.0, 2.0 * xy[..., 1] / h - 1.0], dim=-1)
    sampled = F.grid_sample(albedo_map, grid.unsqueeze(2), mode="bilinear", padding_mode="border", align_corners=False)
    sampled = sampled.squeeze(3).transpose(1, 2)  # (B, V, 3)

    visible = visible_vertices(tri_id, faces, v)
    mirror = mirror.to(albedo_map.device).long()
    mirror_visible = visible[:, mirror]
    fallback = fallback.to(sampled).expand(b, v, 3)
    from_mirror = sampled[:, mirror]
    albedo = torch.where(
        visible.unsqueeze(-1), sampled, torch.where(mirror_visible.unsqueeze(-1), from_mirror, fallback)
    )
    source = torch.full((b, v), 2, dtype=torch.long, device=albedo.device)
    source[mirror_visible] = 1
    source[visible] = 0
    return albedo, source
