"""Camera degradations for synthetic photos: blur, sensor noise and JPEG artefacts.

Images are float32 arrays (H, W, 3), linear RGB in [0, 1]. The JPEG artefact is applied in
memory (encode with Pillow at the sampled quality, decode again); the dataset then stores the
degraded picture losslessly as PNG, so that file bytes depend only on the seed and not on the
JPEG encoder's settings at read time. Randomness comes only from the caller's
``numpy.random.Generator``.
"""

from __future__ import annotations

import io
from dataclasses import dataclass

import numpy as np
from PIL import Image
from scipy.ndimage import convolve1d, gaussian_filter

from photoface.pixels import to_uint8


@dataclass(frozen=True)
class Degradation:
    """One photo's degradation settings.

    Attributes:
        blur_sigma: Gaussian defocus blur, pixels (0 = none).
        motion_px: length of a linear motion-blur kernel, pixels (0 = none).
        motion_angle: direction of the motion blur, radians from the image x axis.
        read_noise: standard deviation of additive Gaussian noise, in [0, 1] intensity units.
        shot_noise: signal-dependent noise; the standard deviation is shot_noise * sqrt(value).
        jpeg_quality: Pillow JPEG quality 1..95, or 0 for no JPEG round trip.
    """

    blur_sigma: float = 0.0
    motion_px: float = 0.0
    motion_angle: float = 0.0
    read_noise: float = 0.0
    shot_noise: float = 0.0
    jpeg_quality: int = 0

    def to_json(self) -> dict:
        return {k: round(float(v), 4) for k, v in self.__dict__.items()}


def motion_blur(img: np.ndarray, length: float, angle: float) -> np.ndarray:
    """Blur along a line of ``length`` pixels at ``angle`` (radians), as from camera shake.

    Implemented as two 1-D box blurs along x and y whose lengths are the projections of the
    motion vector; exact for axis-aligned motion and a close, cheap approximation otherwise.
    """
    out = img
    for axis, comp in ((1, abs(np.cos(angle)) * length), (0, abs(np.sin(angle)) * length)):
        n = int(round(comp))
        if n >= 2:
            out = convolve1d(out, np.full(n, 1.0 / n, np.float32), axis=axis, mode="reflect")
    return out


def jpeg_roundtrip(img: np.ndarray, quality: int) -> np.ndarray:
    """Encode as JPEG at ``quality`` and decode again, in memory. (H, W, 3) float32 in [0, 1]."""
    u8 = to_uint8(img)
    buf = io.BytesIO()
    Image.fromarray(u8, "RGB").save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert("RGB"), np.float32) / 255.0


def degrade(img: np.ndarray, d: Degradation, rng: np.random.Generator) -> np.ndarray:
    """Apply blur, then noise, then JPEG: the order in which a camera produces them.

    Args:
        img: (H, W, 3) float32 in [0, 1]; not modified.
        d: the settings.
        rng: the caller's generator, consumed for the noise.

    Returns:
        (H, W, 3) float32 in [0, 1].
    """
    out = img
    if d.blur_sigma >= 0.3:
        out = gaussian_filter(out, sigma=(d.blur_sigma, d.blur_sigma, 0), mode="reflect")
    if d.motion_px >= 2:
        out = motion_blur(out, d.motion_px, d.motion_angle)
    if d.read_noise > 0 or d.shot_noise > 0:
        std = d.read_noise + d.shot_noise * np.sqrt(np.clip(out, 0.0, 1.0))
        out = out + std * rng.standard_normal(out.shape, dtype=np.float32)
    out = np.clip(out, 0.0, 1.0).astype(np.float32)
    if d.jpeg_quality > 0:
        out = jpeg_roundtrip(out, d.jpeg_quality)
    return out
