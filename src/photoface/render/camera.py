"""Weak-perspective camera: Euler angles, projection to pixels, and the pose-code mapping.

Conventions (the project's single definition; other modules refer here)
-----------------------------------------------------------------------
Model space: millimetres, x to the subject's left, y up, z out of the face (towards a frontal
camera). The rotation centre is the model's canonical origin.

Camera space: the model space rotated by ``R`` (same units and handedness): x points to the image
right, y up, z towards the camera. Lighting (``photoface.render.sh``) is defined in this frame.

Image space: pixels, x right, y down, origin at the top-left corner of the top-left pixel; pixel
(row i, col j) has its centre at (x = j + 0.5, y = i + 0.5).

Projection (paper eq. 3), weak perspective::

    s2D = f · Pr · R · S + t2D,      Pr = [[1, 0, 0], [0, -1, 0]]

``Pr`` drops z and flips y so that image y points down. ``f`` is in pixels per millimetre and
``t2D = (tx, ty)`` is where the canonical origin lands, in pixels. Screen-space depth is
``z_screen = f · (R·S)_z`` (pixels): LARGER = NEARER the camera. ``project`` returns
``(x, y, z_screen)`` per vertex.

Rotation: ``R = Rz(roll) · Ry(yaw) · Rx(pitch)`` acting on column vectors (pitch is applied
first, about the camera's fixed axes), each a right-handed rotation:

- positive **yaw** turns the face towards the subject's left: the nose tip moves to the image
  right and the camera sees more of the subject's right cheek;
- positive **pitch** tilts the face down (chin towards the chest): the nose tip moves down in the
  image and the camera sees more of the forehead;
- positive **roll** turns the face counter-clockwise in the image: the top of the head moves to
  the image left (the head leans towards the subject's right shoulder).

Angles are in DEGREES at the API edge (``pose`` tensors, dataset ``pose`` fields, the CLI) and in
RADIANS inside (``rotation_matrix``), which is the only function that takes radians.

Physical pose (B, 6): pitch, yaw, roll (degrees), f (px/mm), tx, ty (px) — the dataset format.
Pose code (B, 6): the network's raw output, mapped by ``pose_from_code``::

    angle = ANGLE_LIMIT_DEG · tanh(c)          (bounded to ±90°)
    f     = f0 · exp(SCALE_RATE · c),  f0 = image_size / 200  (a 200 mm wide field of view)
    t     = image_size / 2 + SHIFT_RATE · image_size · c

so code 0 is a frontal face whose canonical origin sits at the image centre.
"""

from __future__ import annotations

import torch

ANGLE_LIMIT_DEG = 90.0
"""Bound on |pitch|, |yaw|, |roll| produced by ``pose_from_code`` (degrees)."""
FIELD_OF_VIEW_MM = 200.0
"""Width in millimetres covered by the image at code 0: ``f0 = image_size / FIELD_OF_VIEW_MM``."""
SCALE_RATE = 0.2
"""log-scale change per unit of the scale code."""
SHIFT_RATE = 0.1
"""Translation per unit of the tx/ty codes, as a fraction of the image size."""


def rotation_matrix(angles: torch.Tensor) -> torch.Tensor:
    """Rotation matrices from Euler angles in RADIANS.

    Args:
        angles: (B, 3) pitch, yaw, roll in radians.

    Returns:
        (B, 3, 3) ``R = Rz(roll) · Ry(yaw) · Rx(pitch)``, applied as ``R @ x`` to column vectors.
    """
    pitch, yaw, roll = angles.unbind(-1)
    cx, sx = torch.cos(pitch), torch.sin(pitch)
    cy, sy = torch.cos(yaw), torch.sin(yaw)
    cz, sz = torch.cos(roll), torch.sin(roll)
    # Product Rz·Ry·Rx written out once, so a batch costs a few elementwise ops instead of two bmm.
    rows = [
        cz * cy, cz * sy * sx - sz * cx, cz * sy * cx + sz * sx,
        sz * cy, sz * sy * sx + cz * cx, sz * sy * cx - cz * sx,
        -sy, cy * sx, cy * cx,
    ]
    return torch.stack(rows, dim=-1).reshape(*angles.shape[:-1], 3, 3)


def euler_from_rotation(rot: torch.Tensor) -> torch.Tensor:
    """Inverse of ``rotation_matrix`` for |yaw| < 90°.

    Args:
        rot: (B, 3, 3) rotation matrices.

    Returns:
        (B, 3) pitch, yaw, roll in radians.
    """
    yaw = torch.asin((-rot[..., 2, 0]).clamp(-1.0, 1.0))
    pitch = torch.atan2(rot[..., 2, 1], rot[..., 2, 2])
    roll = torch.atan2(rot[..., 1, 0], rot[..., 0, 0])
    return torch.stack([pitch, yaw, roll], dim=-1)


def camera_space(verts: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """Rotate model-space vertices into camera space (no scale, no shift).

    Args:
        verts: (B, V, 3) millimetres, model space.
        pose: (B, 6) physical pose (angles in degrees).

    Returns:
        (B, V, 3) millimetres, camera space (x image-right, y up, z towards the camera).
    """
    rot = rotation_matrix(torch.deg2rad(pose[:, :3]))
    return verts @ rot.transpose(1, 2)


def to_screen(cam_verts: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """Scale, flip y and shift camera-space vertices to screen space.

    Args:
        cam_verts: (B, V, 3) millimetres, camera space.
        pose: (B, 6) physical pose.

    Returns:
        (B, V, 3): x, y in pixels (image convention) and z_screen = f · z_cam in pixels
        (larger = nearer).
    """
    f = pose[:, 3, None]
    x = f * cam_verts[..., 0] + pose[:, 4, None]
    y = -f * cam_verts[..., 1] + pose[:, 5, None]
    z = f * cam_verts[..., 2]
    return torch.stack([x, y, z], dim=-1)


def project(verts: torch.Tensor, pose: torch.Tensor) -> torch.Tensor:
    """Weak-perspective projection, paper eq. 3, keeping screen depth.

    Args:
        verts: (B, V, 3) millimetres, model space.
        pose: (B, 6) physical pose: pitch, yaw, roll (degrees), f (px/mm), tx, ty (px).

    Returns:
        (B, V, 3) screen vertices: x, y pixels; z_screen pixels, larger = nearer.
    """
    return to_screen(camera_space(verts, pose), pose)


def focal_at_code_zero(image_size: float) -> float:
    """``f0`` in px/mm: the scale at pose code 0 (a FIELD_OF_VIEW_MM wide field)."""
    return float(image_size) / FIELD_OF_VIEW_MM


def pose_from_code(code: torch.Tensor, image_size: float) -> torch.Tensor:
    """Map the network's raw 6-D pose code to a physical pose.

    Args:
        code: (B, 6) unbounded reals: pitch, yaw, roll, scale, tx, ty codes.
        image_size: side of the (square) image in pixels.

    Returns:
        (B, 6) physical pose: angles in degrees within ±ANGLE_LIMIT_DEG, f in px/mm (> 0),
        tx, ty in pixels. Code 0 gives (0, 0, 0, image_size / 200, image_size / 2, image_size / 2).
    """
    angles = ANGLE_LIMIT_DEG * torch.tanh(code[:, :3])
    f = focal_at_code_zero(image_size) * torch.exp(SCALE_RATE * code[:, 3:4])
    t = 0.5 * image_size + SHIFT_RATE * image_size * code[:, 4:6]
    return torch.cat([angles, f, t], dim=1)


def code_from_pose(pose: torch.Tensor, image_size: float) -> torch.Tensor:
    """Inverse of ``pose_from_code``, e.g. to supervise the pose code with labelled poses.

    Defined for |angle| < ANGLE_LIMIT_DEG and f > 0; angles at the limit are clamped just
    inside it so the result stays finite.

    Args:
        pose: (B, 6) physical pose (degrees, px/mm, px).
        image_size: side of the (square) image in pixels.

    Returns:
        (B, 6) pose code.
    """
    limit = 1.0 - 1e-6
    angles = torch.atanh((pose[:, :3] / ANGLE_LIMIT_DEG).clamp(-limit, limit))
    scale = torch.log(pose[:, 3:4] / focal_at_code_zero(image_size)) / SCALE_RATE
    shift = (pose[:, 4:6] - 0.5 * image_size) / (SHIFT_RATE * image_size)
    return torch.cat([angles, scale, shift], dim=1)


def frontal_pose(batch: int, image_size: float, dtype=torch.float32, device=None) -> torch.Tensor:
    """(B, 6) physical pose of code 0: frontal, f0, canonical origin at the image centre."""
    return pose_from_code(torch.zeros(batch, 6, dtype=dtype, device=device), image_size)

