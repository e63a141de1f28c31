"""The head around the face mesh: skull, hair, ears, neck and collar, painted behind the face.

A face model covers only the face, so a rendered face alone floats like a mask. To make synthetic
pictures look like photos of people, the background gets a simple head first: ellipsoids for the
skull, the hair and the ears, a cylinder for the neck and an ellipse for the collar. They are
posed with the photo's camera (``photoface.render.camera``; an ellipsoid's orthographic outline is
exactly an ellipse, computed here) and shaded with the photo's spherical-harmonics light
(``photoface.render.sh``) using sphere-like normals, so they match the face's lighting. They are
part of the background: never in the face mask, always behind the rendered face and behind every
occluder.

Geometry is in the model space of the face model (millimetres, canonical origin: x at the
midsagittal plane, y midway between nose root and chin, z at the jaw at ear level); the sizes are
typical adult head measures (head breadth about 155 mm, chin to vertex about 230 mm).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from photoface.data.synth.raster import Layer, ellipse, polyline
from photoface.render.camera import rotation_matrix
from photoface.render.sh import NUM_COEFFS, irradiance_basis

HAIR_STYLES = ("short", "long", "bald")


@dataclass(frozen=True)
class HeadLook:
    """Per-identity appearance of the head: skin and hair colour (linear RGB), hair style,
    collar colour, and the hairline's height on the forehead (model y, mm)."""

    skin: np.ndarray
    hair: np.ndarray
    style: str
    collar: np.ndarray
    hairline: float = 115.0


class _Cam:
    """Projects model-space points and ellipsoids with one physical pose (B = 1)."""

    def __init__(self, pose: np.ndarray):
        p = torch.as_tensor(np.asarray(pose, np.float64))[None]
        self.rot = rotation_matrix(torch.deg2rad(p[:, :3]))[0].numpy()
        self.f, self.t = float(pose[3]), np.asarray(pose[4:6], np.float64)

    def point(self, x) -> np.ndarray:
        c = self.rot @ np.asarray(x, np.float64)
        return np.array([self.f * c[0] + self.t[0], -self.f * c[1] + self.t[1]])

    def ellipsoid(self, centre, radii):
        """Image ellipse (cx, cy, rx, ry, angle) of an axis-aligned model-space ellipsoid."""
        c = self.point(centre)
        cov = self.rot @ np.diag(np.square(radii)) @ self.rot.T
        flip = np.diag([1.0, -1.0])
        cov2 = self.f ** 2 * flip @ cov[:2, :2] @ flip
        w, vec = np.linalg.eigh(cov2)
        rx, ry = np.sqrt(np.maximum(w[1], 1e-6)), np.sqrt(np.maximum(w[0], 1e-6))
        angle = float(np.arctan2(vec[1, 1], vec[0, 1]))
        return c[0], c[1], rx, ry, angle


def _quadratic_map() -> torch.Tensor:
    """(9, 10) matrix taking SH irradiance coefficients to the coefficients of the same function
    written as a quadratic polynomial in the normal, features
    [1, x, y, z, x², y², z², xy, xz, yz]. Found once by an exact least-squares fit against
    ``photoface.render.sh.irradiance_basis`` (bands 0..2 are quadratic), so that shading many
    pixels needs no SH basis per pixel and the convention stays defined in one place."""
    g = torch.Generator().manual_seed(0)
    n = torch.nn.functional.normalize(torch.randn(64, 3, generator=g, dtype=torch.float64), dim=1)
    x, y, z = n.unbind(1)
    feats = torch.stack([torch.ones_like(x), x, y, z, x * x, y * y, z * z, x * y, x * z, y * z], 1)
    basis = irradiance_basis(n)  # (64, 9)
    return torch.linalg.lstsq(feats, basis).solution.T  # (9, 10)


_QUAD = _quadratic_map()


def _lit(colour: np.ndarray, light_total: torch.Tensor, angle: float, strands: bool = False):
    """A texture function for ``ellipse``: colour × SH shading of a sphere-like bulge; with
    ``strands``, fine streaks running from the crown like combed hair."""
    coeffs = light_total.double().reshape(3, NUM_COEFFS)  # (3, 9)
    q = (coeffs @ _QUAD).numpy().astype(np.float32)  # (3, 10) polynomial per channel
    c, s = np.cos(angle), np.sin(angle)

    def tex(uu, vv):
        nx = c * uu - s * vv
        ny = -(s * uu + c * vv)  # camera y points up
        r2 = np.minimum(nx * nx + ny * ny, 1.0)
        scale = np.where(r2 > 1.0 - 1e-6, 1.0 / np.sqrt(np.maximum(nx * nx + ny * ny, 1e-12)), 1.0)
        nx, ny = nx * scale, ny * scale
        nz = np.sqrt(1.0 - r2)
        feats = (nx, ny, nz, nx * nx, ny * ny, nz * nz, nx * ny, nx * nz, ny * nz)
        shade = np.empty(uu.shape + (3,), np.float32)
        for ch in range(3):
            acc = np.full(uu.shape, q[ch, 0], np.float32)
            for k, f in enumerate(feats, start=1):
                acc += q[ch, k] * f
            shade[..., ch] = acc
        if strands:
            theta = np.arctan2(vv + 1.2, uu)  # direction from a point above the crown
            shade *= (1.0 + 0.12 * np.sin(theta * 110.0 + 3.0 * np.sin(theta * 13.0)))[..., None]
        return np.clip(colour * shade, 0.0, 1.0)

    return tex


def draw_head(img: np.ndarray, pose: np.ndarray, light_total: torch.Tensor,
              look: HeadLook, face_cover: np.ndarray | None = None) -> None:
    """Paint the head behind where the face will be rendered, in place.

    Args:
        img: (S, S, 3) float32 background, linear RGB; modified.
        pose: (6,) physical pose (degrees, px/mm, px) of the photo.
        light_total: (27,) TOTAL SH light (code + renderer default), channel-major.
        look: the identity's head appearance.
        face_cover: (S, S) bool, where the face will be drawn over the head (saves shading
            work there; those pixels of ``img`` are left to the caller).
    """
    size = img.shape[0]
    cam = _Cam(pose)
    layer = Layer(size, hidden=face_cover)
    skin = np.asarray(look.skin, np.float32)
    hair = np.asarray(look.hair, np.float32)

    if look.style == "long":  # hangs behind the neck down to the shoulders
        cx, cy, rx, ry, ang = cam.ellipsoid([0, 20, -50], [100, 165, 80])
        ellipse(layer, cx, cy, rx, ry, ang, _lit(hair, light_total, ang, strands=True), 0.0)
    # collar and neck hang below the head, in the camera's upright frame: only roll moves them
    neck_top, neck_bottom = cam.point([0, -45, -45]), cam.point([0, -230, -45])
    roll = np.deg2rad(pose[2])
    down = np.array([np.sin(roll), np.cos(roll)])
    neck_bottom = neck_top + down * np.hypot(*(neck_bottom - neck_top))
    polyline(layer, np.stack([neck_top, neck_bottom]), 105 * cam.f, skin * 0.72, 0.0)
    collar = neck_top + down * 190 * cam.f
    ellipse(layer, collar[0], collar[1], 210 * cam.f, 95 * cam.f, -roll,
            _lit(look.collar, light_total, -roll), 0.0)
    for side in (-1.0, 1.0):  # ears: only their outer rim shows, at yaw
        cx, cy, rx, ry, ang = cam.ellipsoid([side * 72, 5, -25], [10, 30, 16])
        ellipse(layer, cx, cy, rx, ry, ang, _lit(skin * 0.9, light_total, ang), 0.0)
    cx, cy, rx, ry, ang = cam.ellipsoid([0, 50, -25], [76, 118, 95])
    if look.style != "bald":
        hx, hy, hrx, hry, hang = cam.ellipsoid([0, 72, -32], [82, 112, 100])
        ellipse(layer, hx, hy, hrx, hry, hang, _lit(hair, light_total, hang, strands=True), 0.0)
        # skin of the skull only below the hairline: cut the skull ellipse with the line
        # through the projected hairline, perpendicular to the face's up direction
        hairline = cam.point([0, look.hairline, 35])
        up = cam.point([0, 1000, 0]) - cam.point([0, 0, 0])
        n = up / max(np.hypot(*up), 1e-9)
        cut = (n[0], n[1], float(n @ hairline))
        ellipse(layer, cx, cy, rx, ry, ang, _lit(skin, light_total, ang), 0.0, cut=cut)
    else:
        ellipse(layer, cx, cy, rx, ry, ang, _lit(skin, light_total, ang), 0.0)

    a = layer.alpha[..., None]
    img *= 1.0 - a
    img += a * layer.rgb


def draw_hair_cap(layer: Layer, pose: np.ndarray, light_total: torch.Tensor,
                  look: HeadLook) -> None:
    """Paint the hair that covers the top of the forehead into the OCCLUDER layer.

    The face mesh reaches higher than most hairlines; in a photo that part is hair, not face, so
    it must leave the face mask. The hair is the outline of the hair ellipsoid minus a rounded
    "face opening" whose top is the identity's hairline, drawn in front of the face (hair lies
    on the forehead, so no face pixel can be in front of it). Nothing for bald identities.
    """
    if look.style == "bald":
        return
    cam = _Cam(pose)
    hx, hy, hrx, hry, hang = cam.ellipsoid([0, 72, -32], [84, 114, 104])
    depth_open = 110.0
    long = look.style == "long"
    opening = cam.ellipsoid([0, look.hairline - depth_open, 40],
                            [74 if long else 68, depth_open, 80])
    colour = _lit(np.asarray(look.hair, np.float32), light_total, hang, strands=True)
    cut = None
    if not long:  # short hair ends at the temples, about eye level
        up = cam.point([0, 1000, 0]) - cam.point([0, 0, 0])
        n = -up / max(np.hypot(*up), 1e-9)
        cut = (n[0], n[1], float(n @ cam.point([0, 45, 0])))
    ellipse(layer, hx, hy, hrx, hry, hang, colour, np.inf, cut=cut, hole=opening)
