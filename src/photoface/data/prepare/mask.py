"""Face masks for aligned crops: where the photometric loss may compare rendered and real pixels.

The paper used a face-segmentation network; we ship no such weights (nothing downloads at run
time), so the mask is computed from the 68 landmarks and the photo's own colours, and masks from
any segmentation tool can be supplied instead (``photoface prepare --masks DIR``).

Method (:func:`face_mask`), in the crop:

1. **Face region.** The convex hull of the jaw line (0–16) and the eyebrows (17–26) raised towards
   the forehead by ``FOREHEAD_RAISE`` × the nose-root-to-chin length along the face's up
   direction (chin 8 → nose root 27), so the lower forehead is included and the roll of the face is
   followed.
2. **Skin-colour model.** A Gaussian in YCrCb is fitted to the central cheek/nose pixels (the
   hull of the lower eyelids, the cheeks at jaw points 2 and 14 and the mouth corners, shrunk
   towards its centre), robustly: median/MAD start, then a few re-fits on the inliers, so
   nostrils, moles and specular spots do not widen it. Luminance varies with shading far more than
   chroma does, so Y's spread is widened ``Y_SPREAD``× before scoring.
3. **Drop non-skin.** Pixels of the face region whose squared Mahalanobis distance exceeds
   ``THRESHOLD`` (χ² with 3 degrees of freedom at 99.9 %) are dropped: hair over the forehead,
   glasses frames and sunglasses, coloured occluders, background inside the hull at large yaw.
   Hands share skin colour and are dropped only when their shading differs strongly; a colour model
   cannot do better, which is what ``--masks`` is for.
4. **Features back.** Eyes and lips are face (the renderer models them) but not skin-coloured.
   Each eye (hull of 36–41 / 42–47) and the mouth (48–59) is put back when at least
   ``FEATURE_RING_SKIN`` of a ring just outside it is skin, i.e. it is not itself covered
   (sunglasses stay excluded); even then pixels beyond ``FEATURE_THRESHOLD`` (far from any
   face colour, e.g. a saturated blue or green object over the lips) stay out.
5. **Clean-up.** A small opening removes speckle, holes smaller than ``SMALL_HOLE`` of the crop
   are filled (pores, highlights), and only the largest connected component is kept.

Masks are (S, S) bool arrays, True = face pixel to compare; they are stored as PNG with 255 = True.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw
from scipy import ndimage
from scipy.spatial import ConvexHull

from photoface.data.prepare.align import warp_image

FOREHEAD_RAISE = 0.3
Y_SPREAD = 2.5
THRESHOLD = 16.27  # chi-square, 3 dof, p = 0.999
FEATURE_THRESHOLD = 150.0  # eyes and lips reach ~80 on real photos; saturated occluders > 500
FEATURE_RING_SKIN = 0.6
SMALL_HOLE = 0.002


def polygon_mask(points: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool: pixels whose centres lie inside the polygon ``points`` (N, 2) px."""
    canvas = Image.new("L", (size, size), 0)
    # ImageDraw addresses pixel centres by integer indices; ours sit at +0.5
    ImageDraw.Draw(canvas).polygon([tuple(p) for p in (np.asarray(points) - 0.5)], fill=255)
    return np.asarray(canvas) > 0


def hull(points: np.ndarray) -> np.ndarray:
    """Vertices (M, 2) of the convex hull of ``points`` (N, 2), in order."""
    pts = np.asarray(points, np.float64)
    return pts[ConvexHull(pts).vertices]


def face_region(landmarks: np.ndarray, size: int) -> np.ndarray:
    """Step 1: (size, size) bool landmark-defined face region (jaw + raised brows)."""
    lm = np.asarray(landmarks, np.float64)
    up = lm[27] - lm[8]
    raised = lm[17:27] + FOREHEAD_RAISE * up
    return polygon_mask(hull(np.concatenate([lm[0:17], raised])), size)


def sample_region(landmarks: np.ndarray, size: int, shrink: float = 0.75) -> np.ndarray:
    """Step 2's sample: (size, size) bool central cheek/nose area."""
    lm = np.asarray(landmarks, np.float64)
    down = 0.1 * (lm[8] - lm[27])
    pts = np.concatenate([lm[[40, 41, 46, 47]] + down, lm[[2, 14, 48, 54]]])
    h = hull(pts)
    centre = h.mean(0)
    return polygon_mask(centre + shrink * (h - centre), size)


def to_ycrcb(rgb: np.ndarray) -> np.ndarray:
    """(..., 3) uint8 RGB → (..., 3) float YCrCb (JPEG / BT.601 full range, 0–255)."""
    x = np.asarray(rgb, np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cr = 128.0 + 0.5 * r - 0.418688 * g - 0.081312 * b
    cb = 128.0 - 0.168736 * r - 0.331264 * g + 0.5 * b
    return np.stack([y, cr, cb], axis=-1)


def fit_skin_model(samples: np.ndarray, iterations: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Robust Gaussian (mean (3,), covariance (3, 3)) of (N, 3) YCrCb samples."""
    x = np.asarray(samples, np.float64)
    if len(x) < 10:
        raise ValueError("too few skin samples")
    mean = np.median(x, axis=0)
    mad = np.median(np.abs(x - mean), axis=0) * 1.4826
    cov = np.diag(np.maximum(mad, 2.0) ** 2)
    for _ in range(iterations):
        keep = mahalanobis2(x, mean, cov) < 9.0
        if keep.sum() < 10:
            break
        mean = x[keep].mean(0)
        # a floor of 2 units of spread per channel keeps a flat-coloured region from giving a
        # model so tight that ordinary JPEG noise falls outside it
        cov = np.cov(x[keep].T) + np.eye(3) * 4.0
    return mean, cov


def mahalanobis2(x: np.ndarray, mean: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """Squared Mahalanobis distances of (..., 3) points."""
    d = x - mean
    return np.einsum("...i,ij,...j->...", d, np.linalg.inv(cov), d)


def skin_probability_map(image: np.ndarray, landmarks: np.ndarray) -> np.ndarray:
    """(S, S) squared Mahalanobis distance of every pixel to this face's skin model (Y widened)."""
    size = image.shape[0]
    ycc = to_ycrcb(image)
    sample = sample_region(landmarks, size)
    mean, cov = fit_skin_model(ycc[sample])
    widen = np.diag([Y_SPREAD, 1.0, 1.0])
    return mahalanobis2(ycc, mean, widen @ cov @ widen)


def _disk(radius: int) -> np.ndarray:
    r = np.arange(-radius, radius + 1)
    return (r[:, None] ** 2 + r[None, :] ** 2) <= radius**2


def face_mask(image: np.ndarray, landmarks: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """The face mask of an aligned crop (see the module docstring).

    image: (S, S, 3) uint8 RGB; landmarks: (68, 2) px in the crop; valid: optional (S, S) bool of
    pixels that came from the photo (not the black border of the warp). Returns (S, S) bool.
    """
    size = image.shape[0]
    lm = np.asarray(landmarks, np.float64)
    region = face_region(lm, size)
    if valid is not None:
        region &= valid
    try:
        d2 = skin_probability_map(image, lm)
    except ValueError:  # face too small in the crop to sample: trust the landmarks alone
        return region
    skin = d2 < THRESHOLD
    mask = region & skin
    radius = max(1, round(size / 64))
    for idx in (range(36, 42), range(42, 48), range(48, 60)):
        feature = polygon_mask(hull(lm[list(idx)]), size)
        near = ndimage.binary_dilation(feature, _disk(radius))
        ring = ndimage.binary_dilation(near, _disk(2 * radius)) & ~near & region
        if ring.sum() and (skin & ring).sum() >= FEATURE_RING_SKIN * ring.sum():
            mask |= feature & region & (d2 < FEATURE_THRESHOLD)
    mask = ndimage.binary_opening(mask, _disk(radius))
    holes = ndimage.binary_fill_holes(mask) & ~mask
    labels, n = ndimage.label(holes)
    if n:
        areas = ndimage.sum(holes, labels, index=np.arange(1, n + 1))
        small = np.concatenate([[False], areas < SMALL_HOLE * size * size])
        mask |= small[labels]
    labels, n = ndimage.label(mask)
    if n > 1:
        areas = ndimage.sum(mask, labels, index=np.arange(1, n + 1))
        mask = labels == (1 + int(np.argmax(areas)))
    if valid is not None:
        mask &= valid
    return mask


def warp_mask(mask: np.ndarray, transform: np.ndarray, size: int) -> np.ndarray:
    """Warp an (H, W) mask of the original photo (bool, or uint8 with ≥ 128 = face) into the crop."""
    m = np.asarray(mask)
    m8 = (m.astype(bool) if m.dtype == bool else m >= 128).astype(np.uint8) * 255
    return warp_image(m8, transform, size, resample="bilinear") >= 128


def valid_region(photo_shape: tuple[int, int], transform: np.ndarray, size: int) -> np.ndarray:
    """(size, size) bool: crop pixels that map inside the original photo of shape (H, W)."""
    ones = np.full(photo_shape[:2], 255, np.uint8)
    return warp_image(ones, transform, size, resample="bilinear") >= 255
