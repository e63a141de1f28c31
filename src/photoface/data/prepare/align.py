"""Similarity alignment of a photo to the training crop.

The crop framing is the camera's (``photoface.render.camera``): at pose 0 the canonical origin
projects to the image centre and f0 = S / 200 px per mm, so a point (X, Y) mm of a frontal face
lands at ``(S/2 + f0·X, S/2 − f0·Y)`` px in an S×S crop. A real photo is aligned so that five
landmark centroids — the two eye centres (mean of 36–41 and of 42–47), the nose tip (30) and the
mouth corners (48, 54) — fall where those points of an average frontal face would fall at pose 0.
Then the networks see real and synthetic crops framed alike, and the pose they predict for a real
frontal photo is near code 0.

Template, in mm, canonical frame (x to the subject's left, y up; origin = midpoint of nose root
27 and chin 8 vertically, midsagittal plane horizontally):

=============  ========  ======  ===========================================================
point          x         y       source
=============  ========  ======  ===========================================================
right eye      −31.5     55.2    eye-centre distance 63 mm = mean of outer (89.2) and inner
left eye       +31.5     55.2    (36.8) canthal widths; eyes 1.5 mm below the nose root (27)
nose tip         0.0     18.5    27→30 = 37 mm; 27→33 = 50.2 mm, the tip ~12 mm above 33
mouth corners  ∓25.4    −12.5    mouth width 50.7 mm; between upper lip 51 and lower lip 57
=============  ========  ======  ===========================================================

Widths and the nose-root-to-chin length (113.3 mm, which puts 27 at y = +56.65) are from
/work/shared/FACE_PROPORTIONS.md (a scan-based model, consistent with anthropometric norms);
vertical offsets of eyes, nose tip and mouth corners below 27 are from dlib's published mean
68-point face shape, scaled to those widths (its 27→33 distance then comes out 50.3 mm, matching
the table's 50.2 mm). At S = 128 the eyes land at y ≈ 28.7 px and the mouth corners at ≈ 72 px,
and the 147 mm ear-to-ear jaw spans 94 px (73 % of the crop).

Transforms are 2×3 affine matrices ``A`` acting on ``[x, y, 1]`` in the project's pixel
convention (corner origin, pixel centres at +0.5), original photo → crop. Pillow's affine warp
uses the same continuous-coordinate convention (checked in tests), so no half-pixel shifts
appear here.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from photoface.mesh.similarity import umeyama

FIELD_OF_VIEW_MM = 200.0  # the camera's f0 = image_size / 200 (render/camera.py)

TEMPLATE_MM = np.array(
    [
        [-31.5, 55.2],  # subject's right eye centre (36-41), image left
        [31.5, 55.2],  # subject's left eye centre (42-47)
        [0.0, 18.5],  # nose tip (30)
        [-25.4, -12.5],  # mouth corner 48 (subject's right)
        [25.4, -12.5],  # mouth corner 54
    ]
)
"""(5, 2) mm, canonical frame, frontal: where the five alignment points of an average face lie."""


def five_points(landmarks: np.ndarray) -> np.ndarray:
    """(68, 2) → (5, 2): right-eye centre, left-eye centre, nose tip, mouth corners 48 and 54."""
    lm = np.asarray(landmarks, dtype=np.float64)
    return np.stack([lm[36:42].mean(0), lm[42:48].mean(0), lm[30], lm[48], lm[54]])


def template_points(image_size: int) -> np.ndarray:
    """(5, 2) px: the template in an image_size² crop at pose 0."""
    f0 = image_size / FIELD_OF_VIEW_MM
    c = image_size / 2.0
    return np.stack([c + f0 * TEMPLATE_MM[:, 0], c - f0 * TEMPLATE_MM[:, 1]], axis=1)


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """Least-squares similarity (rotation, uniform scale, translation; no reflection) taking
    ``src`` (N, 2) onto ``dst`` (N, 2); returns the (2, 3) matrix (Umeyama's closed form)."""
    src = np.asarray(src, np.float64)
    if ((src - src.mean(0)) ** 2).sum() / len(src) <= 1e-12:
        raise ValueError("degenerate points: all alignment points coincide")
    return umeyama(src, dst).matrix()


def alignment_transform(landmarks: np.ndarray, image_size: int) -> np.ndarray:
    """(2, 3) original → crop transform aligning 68 landmarks (px) to the template."""
    return similarity_transform(five_points(landmarks), template_points(image_size))


def apply_transform(transform: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Map (N, 2) points with a (2, 3) affine matrix."""
    pts = np.asarray(points, np.float64)
    return pts @ transform[:, :2].T + transform[:, 2]


def invert_transform(transform: np.ndarray) -> np.ndarray:
    """Inverse of a (2, 3) affine matrix (crop → original)."""
    a = np.linalg.inv(transform[:, :2])
    return np.concatenate([a, (-a @ transform[:, 2])[:, None]], axis=1)


def transform_scale(transform: np.ndarray) -> float:
    """Uniform scale factor of a similarity transform (crop px per original px)."""
    return float(np.sqrt(abs(np.linalg.det(transform[:, :2]))))


def warp_image(
    image: np.ndarray, transform: np.ndarray, image_size: int, resample: str = "bicubic"
) -> np.ndarray:
    """Warp an (H, W[, C]) uint8 image into an image_size² crop with ``transform`` (original → crop).

    When the crop shrinks the photo by more than 2×, the photo is first box-reduced by an integer
    factor so the bicubic kernel does not alias. Pixels outside the photo are black (0) — the mask
    of a prepared crop excludes them anyway.
    """
    im = Image.fromarray(np.ascontiguousarray(image))
    t = np.asarray(transform, np.float64)
    k = int(np.floor(1.0 / max(transform_scale(t), 1e-9) / 2.0))
    if k >= 2 and resample != "nearest":
        im = im.reduce(k)
        # reduced coordinates are original / k (corner convention), so the map is t · diag(k, k, 1)
        t = np.concatenate([t[:, :2] * k, t[:, 2:]], axis=1)
    inv = invert_transform(t)
    method = {
        "bicubic": Image.Resampling.BICUBIC,
        "bilinear": Image.Resampling.BILINEAR,
        "nearest": Image.Resampling.NEAREST,
    }[resample]
    out = im.transform((image_size, image_size), Image.Transform.AFFINE, tuple(inv.ravel()), resample=method)
    return np.asarray(out)


def transform_pose(pose: np.ndarray, transform: np.ndarray) -> np.ndarray:
    """Move a weak-perspective pose (pitch, yaw, roll °, f px/mm, tx, ty px) through a similarity
    ``transform`` (original → crop): f and (tx, ty) follow the transform; the in-plane rotation
    of the transform changes roll. With the camera's convention (positive roll = counter-clockwise
    in the image), a transform rotating by φ = atan2(A[1,0], A[0,0]) (clockwise on screen, as image
    y points down) gives roll' = roll − φ."""
    p = np.asarray(pose, np.float64).copy()
    phi = np.degrees(np.arctan2(transform[1, 0], transform[0, 0]))
    p[2] = (p[2] - phi + 180.0) % 360.0 - 180.0
    p[3] = p[3] * transform_scale(transform)
    p[4:6] = apply_transform(transform, p[None, 4:6])[0]
    return p
