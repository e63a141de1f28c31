"""Frames of an evaluation video, without a video library when possible.

Frames come back as (H, W, 3) uint8 RGB arrays with their 0-based frame index.

Sources, in order:

* a folder of pre-extracted frames (PNG / JPEG / BMP), sorted by file name (natural order, so
  ``frame_10`` follows ``frame_9``): always works;
* Motion-JPEG (``.mjpg`` / ``.mjpeg``, the MICC Florence PTZ and cooperative videos): split into
  its JPEG images by our own scanner and decoded with Pillow;
* anything else through ``imageio`` when it is installed with a video plugin (``imageio-ffmpeg``
  or ``av``).

Why: photoface's dependencies contain no video decoder (imageio arrives only with scikit-image, a
test extra, and without its ffmpeg plugin), while the MICC videos are Motion-JPEG, a plain sequence
of JPEG images that Pillow decodes. For other formats (e.g. the few MICC ``.mpg`` files) extract
the frames once with ``ffmpeg -i VIDEO FOLDER/frame_%05d.png`` and point photoface at the folder.
"""

from __future__ import annotations

import io
import mmap
import re
from pathlib import Path
from typing import Iterator

import numpy as np
from PIL import Image

from photoface.errors import InputFileError

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp"}
MJPEG_SUFFIXES = {".mjpg", ".mjpeg"}
_SOI = b"\xff\xd8\xff"
_STANDALONE = set(range(0xD0, 0xD8)) | {0x01}


def _natural_key(path: Path):
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", path.name)]


def split_mjpeg(data: bytes | mmap.mmap) -> Iterator[bytes]:
    """The complete JPEG images in a Motion-JPEG byte stream, in order.

    Junk between images (multipart boundaries, AVI chunk headers) is skipped: each image starts at
    an SOI marker; its header segments are skipped by their lengths (so embedded EXIF thumbnails
    cannot end it early) and it ends at the first EOI after the start of scan, which cannot occur
    inside entropy-coded data. A truncated last image is dropped.
    """
    pos = data.find(_SOI)
    n = len(data)
    while pos != -1:
        i = pos + 2
        end = -1
        while i + 4 <= n:
            if data[i] != 0xFF:
                break  # not a marker where one must be: a corrupt image
            marker = data[i + 1]
            if marker == 0xFF:
                i += 1  # fill byte
                continue
            if marker in _STANDALONE:
                i += 2
                continue
            length = int.from_bytes(data[i + 2:i + 4], "big")
            if marker == 0xDA:  # start of scan: the image ends at the next EOI
                eoi = data.find(b"\xff\xd9", i + 2 + length)
                end = -1 if eoi == -1 else eoi + 2
                break
            if marker == 0xD9:
                end = i + 2
                break
            i += 2 + length
        if end == -1:
            pos = data.find(_SOI, pos + 2)
            if pos == -1:
                return
            continue
        yield data[pos:end]
        pos = data.find(_SOI, end)


def _decode(jpeg: bytes, source: Path) -> np.ndarray:
    try:
        with Image.open(io.BytesIO(jpeg)) as im:
            return np.asarray(im.convert("RGB"))
    except (OSError, ValueError) as exc:
        raise InputFileError(source, f"cannot decode a Motion-JPEG frame: {exc}") from exc


def frame_files(folder: Path) -> list[Path]:
    """Image files of a frame folder in natural order."""
    return sorted((p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES), key=_natural_key)


def iter_frames(source: str | Path, step: int = 1, max_frames: int | None = None
                ) -> Iterator[tuple[int, np.ndarray]]:
    """Yield (frame index, (H, W, 3) uint8 RGB) for every ``step``-th frame of a video or folder.

    Raises:
        InputFileError: missing source, no frames, or a format that needs a decoder photoface
            does not have (the message says how to extract frames instead).
    """
    source = Path(source)
    if step < 1:
        raise ValueError("step must be >= 1")
    if not source.exists():
        raise InputFileError(source, "video or frame folder does not exist")
    count = 0

    def want(index: int) -> bool:
        return index % step == 0 and (max_frames is None or count < max_frames)

    if source.is_dir():
        files = frame_files(source)
        if not files:
            raise InputFileError(source, "frame folder contains no PNG/JPEG/BMP images")
        for index, f in enumerate(files):
            if want(index):
                try:
                    with Image.open(f) as im:
                        frame = np.asarray(im.convert("RGB"))
                except OSError as exc:
                    raise InputFileError(f, f"cannot read frame: {exc}") from exc
                count += 1
                yield index, frame
        return

    if source.suffix.lower() in MJPEG_SUFFIXES and source.stat().st_size > 0:
        # memory-mapped: MICC videos are hundreds of megabytes
        with open(source, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            found = False
            for index, jpeg in enumerate(split_mjpeg(data)):
                found = True
                if max_frames is not None and count >= max_frames:
                    return
                if want(index):
                    count += 1
                    yield index, _decode(jpeg, source)
            if found:
                return
    yield from _iter_imageio(source, step, max_frames)


def _video_plugin() -> str | None:
    """The imageio plugin that can decode video here, or None."""
    import importlib.util

    for module, plugin in (("av", "pyav"), ("imageio_ffmpeg", "FFMPEG")):
        if importlib.util.find_spec(module) is not None and importlib.util.find_spec("imageio"):
            return plugin
    return None


def _iter_imageio(source: Path, step: int, max_frames: int | None):
    hint = (f"extract its frames once, e.g. `ffmpeg -i {source} {source.with_suffix('')}/frame_%05d.png`, "
            "and use the folder instead")
    plugin = _video_plugin()
    if plugin is None:
        raise InputFileError(source, f"not Motion-JPEG and no video decoder (imageio with av or "
                                     f"imageio-ffmpeg) is installed; {hint}")
    import imageio.v3 as iio

    count = 0
    try:
        for index, frame in enumerate(iio.imiter(source, plugin=plugin)):
            if max_frames is not None and count >= max_frames:
                return
            if index % step == 0:
                count += 1
                frame = np.asarray(frame)
                if frame.ndim == 2:
                    frame = np.repeat(frame[..., None], 3, axis=2)
                yield index, frame[..., :3].astype(np.uint8)
    except Exception as exc:  # imageio's plugins raise their own error types
        raise InputFileError(source, f"cannot decode video ({exc}); {hint}") from exc
