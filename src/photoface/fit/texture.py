"""A person's albedo read off their photos: each visible vertex's colour, divided by the fitted
shading, fused over the photos (the texture ``photoface fit`` writes on its meshes and overlays).

The face model's albedo space is smooth by design (``facemodel.procedural.albedo``: soft brows, no
beard, no freckles), so a fitted albedo alone makes every person the same painted face. The photos
themselves hold what it cannot: brows, stubble and beards, lip colour, the eyes, skin detail. This
is the optimisation counterpart of DECA's texture extraction and of the paper's stage-2 albedo
decoder with skips, with the collection's extra views fused:

1. per photo b, render the fitted mesh (shape, pose) once for the depth buffer; a vertex is seen
   when it faces the camera and lies within ``depth_tolerance_mm`` of the visible surface at its
   pixel (``texture_depth_tolerance_mm``);
2. its colour ``c`` is read from the photo (bilinear, at its projected position, after a Gaussian
   blur to the mesh's projected vertex spacing, so each vertex reads its footprint's mean colour
   rather than one aliased pixel; never beyond the photo's edge), and its albedo
   estimate is ``c / E`` with ``E`` the SH irradiance of the fitted light at its normal
   (``photoface.render.sh``), so the fitted light is taken out, not baked in;
3. the estimates are averaged with weights ``n_z²`` (foreshortened views count less), robustly:
   from the weighted median, a few Cauchy reweightings (scale ``texture_outlier_scale``), so that a
   hand, a microphone or a highlight in one photo of several does not paint the texture;
4. vertices seen less than one frontal view take in their mirror partner's estimate (the face
   model's left/right map) by what they fall short of it or of the partner's own views
   (``texture_mirror_weight``: the far side of a profile; a well-seen vertex keeps its own colour,
   so moles and parted hair are not mirrored), and everything is blended towards the fitted model albedo with
   ``texture_prior_weight`` (in units of one frontal view), so unseen parts (under the chin, the far side
   of a profile) fade into the model's albedo instead of ending at an edge.

The photos are read at k × the crops' resolution with a margin around them (``images`` of side
k·S + 2·pad, crop px (x, y) at image px (k·x + pad, k·y + pad), the layout of
``apps.figures.render_hires``), so the mesh beyond the crop (a high forehead) is read too, and a
mesh whose edges project smaller than the crops' pixels (``builtin:paper``) gets detail finer
than the fit saw; a coarser one gets its footprint's mean either way.

An overlay drawn with the albedo read off the same photo would copy that photo back onto itself
wherever the mesh lands; ``leave_one_out`` gives each photo of a collection the albedo of the
others instead, so the overlay still shows whether the fit is right.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torchvision.transforms.functional import gaussian_blur

from photoface.fit.config import FitConfig
from photoface.mesh.normals import vertex_normals
from photoface.render.camera import rotation_matrix, to_screen
from photoface.render.renderer import Renderer
from photoface.render.sh import default_light, sh_shading

ROBUST_STEPS = 3
"""Cauchy reweightings after the median start (a fourth moves no colour by 1e-3 on the occluded
photos of tests/fit/test_fit_texture.py)."""


@dataclass
class PhotoTexture:
    """albedo: (V, 3) in [0, 1]; seen: (V,) the summed view weight of the photos (0 = never seen,
    1 ≈ one frontal view), before the mirror fill and the prior."""

    albedo: torch.Tensor
    seen: torch.Tensor


def _blur_to_footprint(image, screen, faces):
    """(1, 3, H, H) photo → the same blurred to the mesh's vertex spacing there (Gaussian, σ half
    the median projected edge length in px), so a vertex reads the mean colour of its footprint,
    not one aliased pixel."""
    edges = screen[0, faces[:, [0, 1, 2]], :2] - screen[0, faces[:, [1, 2, 0]], :2]
    sigma = 0.5 * float(edges.norm(dim=-1).median())
    if sigma < 0.5:
        return image
    kernel = 2 * int(math.ceil(2.0 * sigma)) + 1
    return gaussian_blur(image, [kernel, kernel], [sigma, sigma])


@torch.no_grad()
def vertex_samples(shape, pose, light, images, valid, faces, scale: float, pad: float, cfg: FitConfig):
    """Per-photo albedo estimates of every vertex and their weights (module docstring, steps 1-2),
    with ``cfg``'s ``texture_depth_tolerance_mm`` and ``texture_min_shading``.

    Args:
        shape: (B, V, 3) mm, model space. pose: (B, 6) physical pose in CROP px.
        light: (B, 27) SH light codes (added to the default light, as the renderer does).
        images: (B, 3, H, H) in [0, 1]: crop px (x, y) at image px (scale·x + pad, scale·y + pad).
        valid: (B, 1, H, H) 1 where ``images`` holds photo pixels, 0 beyond the photo's edge.
        faces: (F, 3) triangles.

    Returns:
        albedo (B, V, 3) estimates and weight (B, V) ≥ 0 (0 where the vertex is not seen).
    """
    b, v, _ = shape.shape
    h = images.shape[-1]
    pose = pose.clone().double()
    pose[:, 3:] = pose[:, 3:] * scale
    pose[:, 4:] = pose[:, 4:] + pad
    shape = shape.double()
    faces = torch.as_tensor(faces).long().to(shape.device)
    cam = shape @ rotation_matrix(torch.deg2rad(pose[:, :3])).transpose(1, 2)
    screen = to_screen(cam, pose)
    frags = Renderer(faces, h).to(shape.device).geometry(shape, pose).fragments
    normals = vertex_normals(cam, faces)
    x, y = screen[..., 0], screen[..., 1]
    inside = (x >= 0) & (x < h) & (y >= 0) & (y < h)
    col = x.long().clamp(0, h - 1)
    row = y.long().clamp(0, h - 1)
    at = (torch.arange(b, device=shape.device)[:, None], row, col)
    covered, surface = frags.tri_id[at] >= 0, frags.depth[at]  # z_screen of the visible surface there
    tolerance = cfg.texture_depth_tolerance_mm * pose[:, 3:4]  # mm → px
    facing = normals[..., 2].clamp_min(0.0)
    # an uncovered pixel has nothing in front: a vertex on the silhouette, seen
    seen = inside & (~covered | (screen[..., 2] >= surface - tolerance)) & (facing > 0)
    grid = torch.stack([2.0 * x / h - 1.0, 2.0 * y / h - 1.0], dim=-1)[:, :, None].to(images.dtype)
    blurred = torch.cat([_blur_to_footprint(images[i:i + 1], screen[i:i + 1], faces) for i in range(b)])
    colour = torch.nn.functional.grid_sample(blurred, grid, mode="bilinear", padding_mode="border",
                                             align_corners=False)[..., 0].transpose(1, 2).double()  # (B, V, 3)
    in_photo = torch.nn.functional.grid_sample(valid.to(images.dtype), grid, mode="bilinear", padding_mode="zeros",
                                               align_corners=False)[:, 0, :, 0] > 0.999  # no black beyond the photo
    total = default_light(torch.float64, shape.device) + light.double()
    irradiance = sh_shading(normals, total[:, None, :])  # (B, V, 3)
    lit = irradiance.min(-1).values >= cfg.texture_min_shading
    albedo = colour / irradiance.clamp_min(cfg.texture_min_shading)
    weight = torch.where(seen & lit & in_photo, facing ** 2, torch.zeros_like(facing))
    return albedo, weight


def _weighted_mean(values, weight):
    total = weight.sum(0)
    return (weight[..., None] * values).sum(0) / total.clamp_min(1e-12)[:, None], total


def _weighted_median(values, weight):
    """(B, V, 3), (B, V) → (V, 3): per vertex and channel, the value at half the weight."""
    order = values.argsort(dim=0)
    ranked = values.gather(0, order)
    cum = weight[..., None].expand_as(values).gather(0, order).cumsum(0)
    first = (cum >= 0.5 * cum[-1:]).float().argmax(0, keepdim=True)  # first rank past half the weight
    return ranked.gather(0, first)[0]


def robust_mean(values, weight, scale: float, steps: int = ROBUST_STEPS):
    """(B, V, 3) estimates, (B, V) weights → (V, 3): from the weighted median, ``steps`` Cauchy
    reweightings (residual norm / ``scale``), so one photo's occluder does not pull the colour."""
    mean = _weighted_median(values, weight)
    for _ in range(steps):
        residual = (values - mean[None]).norm(dim=-1) / scale
        mean, _ = _weighted_mean(values, weight / (1.0 + residual ** 2))
    return mean


@torch.no_grad()
def fuse(albedo, weight, mirror, prior, cfg: FitConfig) -> PhotoTexture:
    """Per-photo estimates → one albedo (module docstring, steps 3-4), with ``cfg``'s
    ``texture_outlier_scale``, ``texture_mirror_weight`` and ``texture_prior_weight``.

    Args:
        albedo: (B, V, 3) estimates; weight: (B, V) ≥ 0. mirror: (V,) the left/right partner map.
        prior: (V, 3) the fitted model albedo.
    """
    # the reweighting chooses among the photos; how much the vertex was seen stays the views' weight
    mean, seen = robust_mean(albedo, weight, cfg.texture_outlier_scale), weight.sum(0)
    mirror = torch.as_tensor(mirror).long().to(albedo.device)
    # the partner fills only what falls short of one view, so a well-seen face keeps its asymmetries
    w_mirror = cfg.texture_mirror_weight * (seen[mirror].clamp_max(1.0) - seen).clamp_min(0.0)
    w_prior = cfg.texture_prior_weight
    fused = (seen[:, None] * mean + w_mirror[:, None] * mean[mirror] + w_prior * prior.to(albedo)) \
        / (seen + w_mirror + w_prior)[:, None]
    return PhotoTexture(fused.clamp(0.0, 1.0).float(), seen.float())


def leave_one_out(albedo, weight, mirror, prior, cfg: FitConfig) -> list[torch.Tensor]:
    """For each of B ≥ 2 photos, the (V, 3) albedo fused from the OTHER photos: what an overlay of
    that photo is drawn with, so that it shows whether the fit puts the collection's face where
    the photo has it instead of copying the photo back onto itself."""
    b = albedo.shape[0]
    if b < 2:
        raise ValueError("leave_one_out needs at least 2 photos")
    keep = torch.ones(b, dtype=torch.bool)
    out = []
    for i in range(b):
        keep[i] = False
        out.append(fuse(albedo[keep], weight[keep], mirror, prior, cfg).albedo)
        keep[i] = True
    return out
