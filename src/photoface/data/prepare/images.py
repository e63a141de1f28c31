"""Robust loading of users' photos into 8-bit RGB arrays.

Everything a photo collection throws at us becomes either an (H, W, 3) uint8 RGB array or an
:class:`~photoface.errors.InputFileError` whose message is the reason to put in the report:

* EXIF orientation is applied (``ImageOps.exif_transpose``): pixel coordinates everywhere in
  photoface refer to the photo *as displayed*, and ``crop_transform`` maps from those.
* CMYK, palette, 1-bit, grayscale and grayscale+alpha become RGB; alpha is composited over
  mid-grey (a transparent background must not look like skin or black hair to the mask).
* 16-bit and 32-bit integer / float images are rescaled to 8 bits by their actual bit depth
  (Pillow's own ``convert("RGB")`` clips 16-bit values at 255 and would whiten the photo).
* Zero-byte files, non-images, truncated or corrupt files raise with a readable reason.
* Huge photos: JPEGs are decoded at a reduced scale with ``Image.draft`` (1/2, 1/4, 1/8 — the
  decoder does this for free) so that the longer side stays at least ``max_side``; other formats
  are resized. ``LoadedPhoto.scale`` (loaded px per original px) maps results back to the photo.
  Pictures above ``MAX_PIXELS`` are refused rather than decoded (decompression bombs).
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from photoface.errors import InputFileError
from photoface.pixels import to_uint8

MAX_PIXELS = 400_000_000  # 20k × 20k; beyond this we refuse instead of decoding
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")


@dataclass
class LoadedPhoto:
    """rgb: (h, w, 3) uint8; scale: loaded pixels per original pixel (≤ 1);
    original_size: (width, height) of the photo as displayed (after EXIF rotation)."""

    rgb: np.ndarray
    scale: float
    original_size: tuple[int, int]


def _to_rgb8(im: Image.Image) -> np.ndarray:
    mode = im.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I", "F"):
        arr = np.asarray(im).astype(np.float64)
        if mode == "F":
            top = 1.0 if arr.max(initial=0) <= 1.0 else arr.max()
        elif mode.startswith("I;16"):
            top = 65535.0
        else:
            # mode "I" holds 16-bit PNGs too (Pillow opens some that way); use the smallest
            # power-of-two range that contains the data
            peak = max(arr.max(initial=0), 1.0)
            top = float(2 ** int(np.ceil(np.log2(peak + 1))) - 1)
        gray = to_uint8(arr / top)
        return np.repeat(gray[..., None], 3, axis=2)
    if mode in ("RGBA", "LA", "PA") or (mode == "P" and "transparency" in im.info):
        rgba = im.convert("RGBA")
        grey = Image.new("RGBA", rgba.size, (128, 128, 128, 255))
        return np.asarray(Image.alpha_composite(grey, rgba).convert("RGB"))
    # CMYK (Pillow inverts Adobe's inverted CMYK JPEGs itself), P, 1, L, YCbCr, RGB
    return np.asarray(im.convert("RGB"))


def load_photo(path: str | Path, max_side: int | None = None) -> LoadedPhoto:
    """Load a photo as 8-bit RGB, EXIF-rotated; downscale so its longer side is about
    ``max_side`` (never below it) when it is larger. Raises InputFileError with the reason."""
    path = Path(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        raise InputFileError(path, f"cannot read ({exc.strerror or exc})") from None
    if size == 0:
        raise InputFileError(path, "empty file (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as im:
                w0, h0 = im.size
                if w0 * h0 > MAX_PIXELS:
                    raise InputFileError(path, f"image too large ({w0}×{h0} pixels)")
                orientation = im.getexif().get(0x0112, 1)
                swapped = orientation in (5, 6, 7, 8)
                if max_side and im.format == "JPEG" and max(w0, h0) > 2 * max_side:
                    im.draft("RGB", (max_side, max_side))  # picks the largest 1/2^k scale ≥ this
                im.load()
                im = ImageOps.exif_transpose(im)
                rgb = _to_rgb8(im)
    except InputFileError:
        raise
    except UnidentifiedImageError:
        raise InputFileError(path, "not an image file (unrecognised format)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InputFileError(path, "image too large (decompression-bomb limit)") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        raise InputFileError(path, f"corrupt or truncated image ({exc})") from None
    original = (h0, w0) if swapped else (w0, h0)
    h, w = rgb.shape[:2]
    if max_side and max(h, w) > max_side * 1.5:
        factor = max_side / max(h, w)
        new = (max(1, round(w * factor)), max(1, round(h * factor)))
        rgb = np.asarray(Image.fromarray(rgb).resize(new, Image.Resampling.BOX))
        scale = new[0] / original[0]
    else:
        scale = w / original[0]
    return LoadedPhoto(rgb=np.ascontiguousarray(rgb), scale=scale, original_size=original)


def is_image_name(path: str | Path) -> bool:
    """True for file names with a common image suffix (the loader decides whether it really is one)."""
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def visible_files(root: str | Path) -> list[Path]:
    """Every file under the folder ``root``, sorted, skipping hidden files and folders (a name
    starting with "."). Symlinked folders are followed, as a collection assembled from links to
    person folders is common (``Path.rglob`` does not follow them before Python 3.13); a link back
    to a folder it is in (a cycle) is not entered. Two links to one folder are two people's folders:
    both are read."""
    root = Path(root)
    found = []
    for folder, dirs, files in os.walk(root, followlinks=True):
        here = Path(folder)
        above = {os.path.realpath(p) for p in [here, *here.parents][:len(here.relative_to(root).parts) + 1]}
        dirs[:] = sorted(d for d in dirs if not d.startswith(".") and os.path.realpath(here / d) not in above)
        found += [here / f for f in files if not f.startswith(".") and (here / f).is_file()]
    return sorted(found)


def image_files(root: str | Path) -> list[Path]:
    """The image files (``is_image_name``) of ``visible_files(root)``."""
    return [p for p in visible_files(root) if is_image_name(p)]
