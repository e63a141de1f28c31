"""The paper's training augmentation: random horizontal flip and random scale in [0.8, 1.0].

Both act on a whole batch at once, on the main process, with draws from an explicit
``torch.Generator`` (so that a resumed run repeats them exactly).

Horizontal flip (image space: pixels, x right, origin at the top-left corner, width W)::

    x' = W - x                      (pixel centre j + 0.5 goes to (W - 1 - j) + 0.5)

The photo, the mask and the landmarks flip together, and the landmarks are renumbered with the
iBUG-68 left/right permutation ``IBUG68_MIRROR`` (the subject's right eye corner 36 becomes the
left one 45, ...), so the point with index i is again the i-th iBUG landmark of the mirrored face.
A flipped photo shows the mirror image of the face, so every 3D target of that row has to be
mirrored too: :func:`mirror_shape` mirrors a mesh about the midsagittal plane x = 0 of the model
space and renumbers its vertices with the face model's ``mirror`` map. Pose labels follow from
``R' = M R M`` with ``M = diag(-1, 1, 1)``: pitch stays, yaw and roll change sign, and the
projected origin moves to ``tx' = W - tx`` (camera of ``photoface.render.camera``).

Random scale s about the image centre c = (W/2, H/2)::

    x' = c + s (x - c)              f' = s f,   t' = c + s (t - c)

Pixels that come from outside the photo are black in the image and 0 (ignore) in the mask.

Rows can be tied so they share one flip decision (``groups``): both photos of a labeled pair are
flipped together, because the pairwise loss mixes A's identity with B's expression and a
half-mirrored mix has no target.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F

from photoface.facemodel.model import IBUG_MIRROR

IBUG68_MIRROR: tuple[int, ...] = tuple(int(i) for i in IBUG_MIRROR)
"""Index i of a mirrored face is landmark IBUG68_MIRROR[i] of the original (an involution; the
face model's ``IBUG_MIRROR`` as a tuple for indexing)."""


@dataclass
class Augmentation:
    """Per-row draws. flip: (B,) bool; scale: (B,) float in the configured range."""

    flip: torch.Tensor
    scale: torch.Tensor


def draw_augmentation(
    batch: int,
    generator: torch.Generator,
    flip_probability: float = 0.5,
    scale_range: tuple[float, float] = (0.8, 1.0),
    groups: torch.Tensor | None = None,
) -> Augmentation:
    """Draw flips and scales for a batch.

    Args:
        batch: number of rows B.
        generator: the source of randomness (CPU generator).
        flip_probability: chance that a row (or a group of tied rows) is flipped.
        scale_range: (low, high) of the uniform scale factor; (1, 1) disables scaling.
        groups: optional (B,) long; rows with equal values get the same flip decision.
    """
    if groups is None:
        groups = torch.arange(batch)
    _, inverse = torch.unique(groups, return_inverse=True)
    n_groups = int(inverse.max()) + 1 if batch else 0
    flip = (torch.rand(n_groups, generator=generator) < flip_probability)[inverse]
    lo, hi = scale_range
    scale = lo + (hi - lo) * torch.rand(batch, generator=generator)
    return Augmentation(flip=flip, scale=scale)


def flip_landmarks(landmarks: torch.Tensor, width: float) -> torch.Tensor:
    """Mirror (..., 68, 2) pixel landmarks horizontally and renumber them (iBUG permutation)."""
    mirrored = torch.stack([width - landmarks[..., 0], landmarks[..., 1]], dim=-1)
    return mirrored[..., list(IBUG68_MIRROR), :]


def flip_pose(pose: torch.Tensor, width: float) -> torch.Tensor:
    """Physical pose (B, 6) of the mirrored photo: pitch, -yaw, -roll, f, W - tx, ty."""
    sign = pose.new_tensor([1.0, -1.0, -1.0, 1.0, -1.0, 1.0])
    shift = pose.new_tensor([0.0, 0.0, 0.0, 0.0, width, 0.0])
    return pose * sign + shift


def scale_pose(pose: torch.Tensor, scale: torch.Tensor, size: float) -> torch.Tensor:
    """Physical pose (B, 6) after scaling the photo by ``scale`` (B,) about its centre."""
    s = scale[:, None]
    c = 0.5 * size
    return torch.cat([pose[:, :3], pose[:, 3:4] * s, c + s * (pose[:, 4:6] - c)], dim=1)


def mirror_shape(verts: torch.Tensor, mirror: torch.Tensor) -> torch.Tensor:
    """Mirror meshes (B, V, 3) mm about the model's x = 0 plane; vertex i takes partner mirror[i]."""
    return verts[:, mirror] * verts.new_tensor([-1.0, 1.0, 1.0])


def apply_augmentation(
    aug: Augmentation,
    images: torch.Tensor,
    masks: torch.Tensor,
    landmarks: torch.Tensor,
    visible: torch.Tensor,
    poses: torch.Tensor | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """Flip and scale a batch.

    Args:
        aug: the draws (B rows).
        images: (B, 3, H, W) in [0, 1].
        masks: (B, 1, H, W) in {0, 1}.
        landmarks: (B, 68, 2) pixels.
        visible: (B, 68) bool.
        poses: optional (B, 6) physical pose labels.

    Returns:
        The same five items, augmented (poses None if not given).
    """
    height, width = images.shape[-2:]
    f = aug.flip.to(images.device)
    if bool(f.any()):
        images = torch.where(f[:, None, None, None], images.flip(-1), images)
        masks = torch.where(f[:, None, None, None], masks.flip(-1), masks)
        landmarks = torch.where(f[:, None, None], flip_landmarks(landmarks, width), landmarks)
        visible = torch.where(f[:, None], visible[:, list(IBUG68_MIRROR)], visible)
        if poses is not None:
            poses = torch.where(f[:, None], flip_pose(poses, width), poses)

    s = aug.scale.to(images.device, images.dtype)
    if bool((s != 1).any()):
        # grid_sample with align_corners=False uses the corner-origin convention: u = 2x/W - 1.
        theta = torch.zeros(len(s), 2, 3, dtype=images.dtype, device=images.device)
        theta[:, 0, 0] = 1.0 / s
        theta[:, 1, 1] = 1.0 / s
        grid = F.affine_grid(theta, list(images.shape), align_corners=False)
        images = F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        masks = F.grid_sample(masks, grid, mode="nearest", padding_mode="zeros", align_corners=False)
        centre = landmarks.new_tensor([0.5 * width, 0.5 * height])
        landmarks = centre + s[:, None, None] * (landmarks - centre)
        if poses is not None:
            poses = scale_pose(poses, s, width)
    return images, masks, landmarks, visible, poses
