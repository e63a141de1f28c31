"""Pictures of meshes: fit a camera to a mesh's bounding box, render, return 8-bit images.

Previews of face models, the mesh views of reconstruction panels and error maps all draw a mesh
in a square view of ``size`` pixels, turned by a yaw and a pitch (degrees, photoface's camera
convention: positive yaw turns the face to the subject's left). ``framed_pose`` chooses the
weak-perspective pose that frames a set of points (mm, model space); two fits:

* ``"view"``: the box of the points as seen in each view, centred, its larger side ``fill`` of
  the image. Every view is as large as it can be.
* ``"model"``: one scale for every view, from the points' x/y extent in the canonical frame, and
  the view turns about the model's vertical axis (x = z = 0) at the box's mid-height. Views of
  one face side by side keep its size and line up.

``render_view`` renders with a given pose (no gradients) and returns (B, size, size, 3) uint8;
``render_framed`` does both. ``key_light`` is the soft upper-left key light of the previews.
"""

from __future__ import annotations

import numpy as np
import torch

from photoface.pixels import to_uint8
from photoface.render.camera import rotation_matrix
from photoface.render.renderer import Renderer
from photoface.render.sh import default_light, directional_light

FITS = ("view", "model")


def key_light() -> torch.Tensor:
    """(1, 27) light code: a soft key light from the upper left plus ambient."""
    total = directional_light((-0.45, 0.45, 0.77), intensity=0.75, ambient=0.38)
    return (total - default_light()).unsqueeze(0)


def framed_pose(points, size: int, yaw=0.0, pitch=0.0, fill: float = 0.9, fit: str = "view") -> torch.Tensor:
    """(B, 6) physical poses (pitch, yaw, 0 roll, f px/mm, tx, ty px) that frame ``points``.

    Args:
        points: (N, 3) mm, model space: the vertices (or landmarks) to frame.
        size: image side in pixels.
        yaw, pitch: degrees, a number or (B,) values (B views).
        fill: fraction of the image side taken by the box's larger side.
        fit: ``"view"`` or ``"model"`` (see the module docstring).
    """
    if fit not in FITS:
        raise ValueError(f"fit must be one of {FITS}, got {fit!r}")
    pts = torch.as_tensor(np.asarray(points, dtype=np.float32) if not isinstance(points, torch.Tensor)
                          else points.detach().float().cpu())
    yaw = torch.as_tensor(yaw, dtype=torch.float32).reshape(-1)
    pitch = torch.as_tensor(pitch, dtype=torch.float32).reshape(-1)
    b = max(len(yaw), len(pitch))
    yaw, pitch = yaw.expand(b), pitch.expand(b)
    rot = rotation_matrix(torch.deg2rad(torch.stack([pitch, yaw, torch.zeros(b)], dim=1)))  # (B, 3, 3)
    # the box in float32 like the renderer; scale and shifts in float64, rounded once at the end
    if fit == "view":
        cam = torch.stack([pts @ r.T for r in rot])  # (B, N, 3)
        lo, hi = cam[..., :2].min(dim=1).values, cam[..., :2].max(dim=1).values
        f = fill * size / (hi - lo).max(dim=1).values.clamp_min(1e-6).double()
        centre = ((lo + hi) / 2).double()  # (B, 2) camera x, y
    else:
        lo, hi = pts.min(dim=0).values, pts.max(dim=0).values
        f = torch.full((b,), fill * size / float((hi - lo)[:2].max().clamp_min(1e-6)), dtype=torch.float64)
        pivot = torch.tensor([0.0, float(0.5 * (lo[1] + hi[1])), 0.0])
        centre = (rot @ pivot)[:, :2].double()
    shift = torch.stack([size / 2 - f * centre[:, 0], size / 2 + f * centre[:, 1]], dim=1)
    return torch.cat([pitch[:, None], yaw[:, None], torch.zeros(b, 1), f[:, None].float(), shift.float()], dim=1)


def render_view(verts: torch.Tensor, faces, colours: torch.Tensor, pose: torch.Tensor, size: int,
                light: torch.Tensor | None = None, background=None) -> np.ndarray:
    """(B, size, size, 3) uint8 renders.

    Args:
        verts: (B, V, 3) mm; faces: (F, 3); colours: (B, V, 3) per-vertex albedo in [0, 1];
        pose: (B, 6) physical; light: (B, 27) or (1, 27) SH code (None = the default light);
        background: as ``Renderer.render`` (None = black).
    """
    verts = torch.as_tensor(verts)
    b = verts.shape[0]
    renderer = Renderer(torch.as_tensor(np.asarray(faces)).long(), size)
    if light is not None:
        light = light.to(verts.dtype).expand(b, -1)
    with torch.no_grad():
        out = renderer.render(verts, torch.as_tensor(colours).to(verts.dtype), pose.to(verts.dtype), light,
                              background=background)
    return to_uint8(out.image)


def render_framed(verts: torch.Tensor, faces, colours: torch.Tensor, size: int, yaw=0.0, pitch=0.0,
                  fill: float = 0.9, fit: str = "view", frame_points=None, light: torch.Tensor | None = None,
                  background=None) -> np.ndarray:
    """Frame and render (B, V, 3) meshes (mm) with (B, V, 3) colours: (B, size, size, 3) uint8.

    ``frame_points`` (N, 3) mm are what the camera frames (default: the first mesh's vertices);
    yaw and pitch are one value or B; the rest as ``framed_pose`` and ``render_view``. Runs on
    the CPU.
    """
    verts = torch.as_tensor(verts).detach().float().cpu()
    points = verts[0] if frame_points is None else frame_points
    pose = framed_pose(points, size, yaw, pitch, fill, fit).expand(verts.shape[0], -1)
    return render_view(verts, faces.cpu() if isinstance(faces, torch.Tensor) else faces,
                       torch.as_tensor(colours).detach().float().cpu(), pose, size, light, background)
