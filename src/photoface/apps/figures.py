"""Pictures of predictions: panels, overlays on the user's photo, labelled grids.

All images here are (H, W, 3) uint8: the renderer's linear RGB clamped to [0, 1] and scaled to
0..255 without gamma, as everywhere in photoface. Inputs from the network follow
``photoface.nn.FaceNetOutput`` (shapes (B, V, 3) mm in canonical pose, physical pose (B, 6) in
degrees / px per mm / px, light (B, 27)).

The panel of one photo is ``input | render | albedo | shading | mesh (three views)``:

* render: the prediction composited over the input crop;
* albedo: what the face looks like under flat white light (per-vertex albedo rendered with the
  ``flat`` light preset in stage 1, the CNN albedo map inside the face mask in stage 2);
* shading: the SH irradiance, scaled so its brightest pixel is white;
* mesh: the decoded shape in grey, canonical pose, turned by MESH_YAWS (−50°, 0°, +50°; positive
  yaw turns the face to the subject's left, showing the right cheek), rendered with
  ``photoface.apps.preview.render_faces`` and framed on the model's mean shape.

The overlay on the user's photo (``photo_overlay``; ``fit``, ``reconstruct`` and the viewer) is
rendered at about the photo's resolution on a canvas reaching OVERLAY_MARGIN beyond the crop, so
the whole mesh is drawn and not cut at the crop's edge, and its alpha is the coverage times a
per-vertex weight that rises from 0 on the mesh's open border to 1 at FEATHER_MM inside
(``border_alpha``): the face fades into the photo instead of ending in a line. Silhouettes that
are not the border (a cheek turned away) keep their hard edge: there the face does end.
"""

from __future__ import annotations

import weakref
from typing import Sequence

import numpy as np
import torch
from PIL import Image, ImageDraw

from photoface.apps.preview import grey_albedo, render_faces
from photoface.mesh.border import border_distance
from photoface.pixels import to_uint8
from photoface.render.rasterize import interpolate
from photoface.render.renderer import Renderer
from photoface.render.sh import light_preset

MESH_YAWS = (-50.0, 0.0, 50.0)
"""Degrees: the three mesh views."""
LABEL_H = 14
PANEL_LABELS = ("input", "render", "albedo", "shading",
                *(f"mesh yaw {y:+.0f}" if y else "mesh front" for y in MESH_YAWS))
MAX_OVERLAY_SIDE = 1024  # px: overlays of large photos are scaled down to this longer side
OVERLAY_MARGIN = 0.5
"""Extra render canvas around the crop, as a fraction of its side, for overlays on the photo: the
crop ends at mid-forehead on most photos, and a render cut there drew a straight edge across it."""
FEATHER_MM = 10.0
"""mm: the overlay fades from the render to the photo over this much of the mesh's open border
(forehead top, sides, under the chin), so the face ends softly rather than in a drawn line."""


def mesh_views(face_model, verts: torch.Tensor, size: int, yaws: Sequence[float] = MESH_YAWS) -> np.ndarray:
    """(B, len(yaws), size, size, 3) uint8 grey renders of (B, V, 3) mm shapes, canonical pose."""
    grey = grey_albedo(face_model, verts)
    views = [render_faces(face_model, verts, grey, float(y), size) for y in yaws]
    return np.stack(views, axis=1)


def albedo_images(trained, out) -> torch.Tensor:
    """(B, 3, S, S) albedo as seen by the camera, black background (see the module docstring)."""
    if out.albedo_map is not None:
        return out.albedo_map * out.mask
    b = out.shape.shape[0]
    flat = light_preset("flat", device=out.shape.device).expand(b, -1)
    return trained.net.renderer.render(out.shape, out.albedo, out.pose, flat).image


def shading_images(out) -> torch.Tensor:
    """(B, 3, S, S) irradiance scaled to a white peak per image."""
    shading = out.render.shading
    peak = shading.flatten(1).amax(dim=1).clamp_min(1e-6)[:, None, None, None]
    return shading / peak


def label(tile: np.ndarray, text: str) -> np.ndarray:
    """Put a caption strip of LABEL_H px above an (H, W, 3) uint8 tile."""
    h, w, _ = tile.shape
    canvas = Image.new("RGB", (w, h + LABEL_H), (255, 255, 255))
    canvas.paste(Image.fromarray(tile), (0, LABEL_H))
    ImageDraw.Draw(canvas).text((3, 1), text[: max(1, w // 6)], fill=(0, 0, 0))
    return np.asarray(canvas)


def hstack(tiles: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """Tiles of equal height side by side, ``gap`` white px apart."""
    h = max(t.shape[0] for t in tiles)
    out = np.full((h, sum(t.shape[1] for t in tiles) + gap * (len(tiles) - 1), 3), 255, np.uint8)
    x = 0
    for t in tiles:
        out[: t.shape[0], x:x + t.shape[1]] = t
        x += t.shape[1] + gap
    return out


def vstack(rows: Sequence[np.ndarray], gap: int = 2) -> np.ndarray:
    """Rows stacked top to bottom, left-aligned, on white."""
    w = max(r.shape[1] for r in rows)
    out = np.full((sum(r.shape[0] for r in rows) + gap * (len(rows) - 1), w, 3), 255, np.uint8)
    y = 0
    for r in rows:
        out[y:y + r.shape[0], : r.shape[1]] = r
        y += r.shape[0] + gap
    return out


def panels(trained, crops: torch.Tensor, out, labels: bool = True) -> list[np.ndarray]:
    """One panel per photo: input | render | albedo | shading | mesh × 3 (uint8 images).

    Args:
        trained: :class:`photoface.run.inference.Trained`.
        crops: (B, 3, S, S) network inputs in [0, 1].
        out: the rendered ``FaceNetOutput`` of ``crops``.
        labels: caption each tile.
    """
    crops = crops.to(out.shape.device)
    over = out.mask * out.image + (1.0 - out.mask) * crops
    albedo = albedo_images(trained, out)
    shading = shading_images(out)
    size = trained.image_size
    views = mesh_views(trained.face_model, out.shape, size)
    result = []
    for i in range(crops.shape[0]):
        tiles = [to_uint8(crops[i]), to_uint8(over[i]), to_uint8(albedo[i]), to_uint8(shading[i]), *views[i]]
        if labels:
            tiles = [label(t, name) for t, name in zip(tiles, PANEL_LABELS)]
        result.append(hstack(tiles))
    return result


@torch.no_grad()
def render_hires(face_model, size: int, verts, albedo, pose, light, scale: int, margin: float = 0.0):
    """Render at ``scale`` × the crop size: the same camera with f, tx, ty scaled.

    Args:
        face_model: the ``MorphableModel`` (its triangles). size: S, the crop side in px.
        verts: (B, V, 3) mm; albedo: (B, V, 3) per vertex; pose: (B, 6) physical; light: (B, 27).
        margin: extra canvas on every side, as a fraction of S: with ``margin`` > 0 the render
            also covers the mesh beyond the crop (a forehead above it) instead of ending at its edge.

    Returns:
        rgb (B, 3, N, N) clamped to [0, 1] and alpha (B, 1, N, N) in [0, 1], N = S·scale + 2·pad
        with pad = round(margin·S·scale) px; crop px (x, y) are canvas px (scale·x + pad,
        scale·y + pad). alpha is the coverage times the border feather (``border_alpha``).
    """
    pad = int(round(margin * size * scale))
    pose = pose.clone()
    pose[:, 3:] = pose[:, 3:] * scale
    pose[:, 4:] = pose[:, 4:] + pad
    renderer = Renderer(face_model.faces, size * scale + 2 * pad).to(verts.device)
    r = renderer.render(verts, albedo, pose, light)
    feather = border_alpha(face_model).to(verts)[None].expand(len(verts), -1, -1)
    alpha = interpolate(feather, renderer.faces, r.fragments, dense=True).permute(0, 3, 1, 2)
    return r.image.clamp(0.0, 1.0), (r.mask * alpha).clamp(0.0, 1.0)


_FEATHER: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def border_alpha(face_model, feather_mm: float = FEATHER_MM) -> torch.Tensor:
    """(V, 1) per-vertex opacity: 0 on the mesh's open border, rising smoothly (smoothstep of the
    distance along the surface of the model's mean shape, ``photoface.mesh.border``) to 1 at
    ``feather_mm`` mm inside. Computed once per face model object (a Dijkstra over the mesh,
    every overlay of ``fit`` and ``reconstruct`` needs it); a face's own shape moves the border by
    far less than the feather's width."""
    key = (float(feather_mm),)
    cached = _FEATHER.setdefault(face_model, {})
    if key not in cached:
        v = face_model.mean.detach().cpu().double().numpy()
        t = np.clip(border_distance(v, face_model.faces.cpu().numpy()) / feather_mm, 0.0, 1.0)
        cached[key] = torch.as_tensor((t * t * (3.0 - 2.0 * t))[:, None], dtype=torch.float32)
    return cached[key]


def overlay_scale(face) -> int:
    """Render scale (1..4) that gives the overlay about the photo's own resolution at the face."""
    t = face.loaded_to_crop()
    if t is None:
        return 2
    crop_per_loaded = float(np.sqrt(abs(np.linalg.det(t[:, :2]))))
    return int(np.clip(np.ceil(1.0 / max(crop_per_loaded, 1e-6)), 1, 4))


def overlay(face, rgb: torch.Tensor, mask: torch.Tensor, scale: int, pad: int = 0) -> np.ndarray:
    """Composite a render (3, N, N) with alpha (1, N, N) in [0, 1] over the ORIGINAL photo.

    The render is ``render_hires``'s: crop px (x, y) at render px (scale·x + pad, scale·y + pad).
    It is warped back through the inverse crop transform; for aligned inputs (no transform) it is
    composited over the crop. Photos larger than MAX_OVERLAY_SIDE are scaled down.
    """
    t = face.loaded_to_crop()
    render = Image.fromarray(to_uint8(rgb))
    alpha = Image.fromarray(to_uint8(mask)[..., 0])
    photo = Image.fromarray(face.photo)
    if t is None:
        t = np.array([[face.crop.shape[-1] / face.photo.shape[1], 0.0, 0.0],
                      [0.0, face.crop.shape[-2] / face.photo.shape[0], 0.0]])
    shrink = min(1.0, MAX_OVERLAY_SIDE / max(photo.size))
    if shrink < 1.0:
        photo = photo.resize((max(1, round(photo.width * shrink)), max(1, round(photo.height * shrink))),
                             Image.Resampling.LANCZOS)
        t = np.concatenate([t[:, :2] / shrink, t[:, 2:]], axis=1)
    if scale != 1 or pad or photo.size != render.size:
        # PIL's AFFINE data maps output pixels (the photo) to input pixels (the hi-res render)
        data = tuple((scale * t + np.array([[0.0, 0.0, pad], [0.0, 0.0, pad]])).ravel())
        render = render.transform(photo.size, Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR)
        alpha = alpha.transform(photo.size, Image.Transform.AFFINE, data, resample=Image.Resampling.BILINEAR)
    return np.asarray(Image.composite(render, photo, alpha))


def photo_overlay(face, face_model, size: int, verts, albedo, pose, light) -> np.ndarray:
    """(h, w, 3) uint8: one fitted face (verts (1, V, 3) mm, albedo (1, V, 3), pose (1, 6), light
    (1, 27)) rendered at the photo's resolution on a canvas OVERLAY_MARGIN beyond the crop,
    faded out over FEATHER_MM of the mesh border, and composited over the original photo. The
    overlay of ``fit``, ``reconstruct`` and the viewer."""
    scale = overlay_scale(face)
    rgb, alpha = render_hires(face_model, size, verts, albedo, pose, light, scale, margin=OVERLAY_MARGIN)
    pad = int(round(OVERLAY_MARGIN * size * scale))
    return overlay(face, rgb[0], alpha[0], scale, pad)
