"""Which photos to prepare, and whose they are: a folder of person folders, or a list file.

* **Folder**: each sub-folder of PHOTOS is one person (identity = the folder name); photos are
  found recursively inside it. Photos lying directly in PHOTOS each count as their own identity
  (their file stem), so a plain folder of unrelated photos also works.
* **List file**: one photo per line, ``PATH IDENTITY [SPLIT]``, separated by a tab, a comma or
  whitespace (a path containing spaces needs tab or comma). Relative paths are relative to the
  list file's folder. Blank lines and lines starting with ``#`` are ignored.

Files are selected by their suffix (``photoface.data.prepare.images.IMAGE_SUFFIXES``); whether a file
really is a readable image is decided later, per photo, and reported. Order is sorted, so task
keys and output names are stable between runs (resume relies on that).
"""

from __future__ import annotations

import csv
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from photoface.data.format import SPLITS
from photoface.data.prepare.images import image_files
from photoface.errors import InputFileError


@dataclass
class PhotoTask:
    """One photo to prepare.

    key: stable unique id (the path relative to PHOTOS, POSIX); path: the file; identity, split:
    copied to every row of this photo. landmarks: (68, 2) px in the original photo when known
    (then no detection runs); labels: row fields of labeled data (alpha_id, alpha_exp, and
    ``pose`` in ORIGINAL-photo pixels, moved into the crop by the runner); other keys go to the
    row's ``extra``.
    """

    key: str
    path: Path
    identity: str
    split: str = "train"
    landmarks: np.ndarray | None = None
    labels: dict[str, Any] = field(default_factory=dict)


def tasks_from_folder(root: str | Path) -> list[PhotoTask]:
    root = Path(root)
    tasks = []
    for path in image_files(root):
        rel = path.relative_to(root)
        identity = rel.parts[0] if len(rel.parts) > 1 else path.stem
        tasks.append(PhotoTask(key=rel.as_posix(), path=path, identity=identity))
    return tasks


def empty_folders(root: str | Path) -> list[Path]:
    """The person folders of ``root`` (its non-hidden sub-folders) that hold no photo file."""
    root = Path(root)
    if not root.is_dir():
        return []
    return [d for d in sorted(root.iterdir()) if d.is_dir() and not d.name.startswith(".") and not image_files(d)]


def _split_line(line: str) -> list[str]:
    if "\t" in line:
        return [p.strip() for p in line.split("\t")]
    if "," in line:
        return [p.strip() for p in next(csv.reader([line]))]
    return line.split()


def tasks_from_list(list_file: str | Path) -> list[PhotoTask]:
    list_file = Path(list_file)
    try:
        lines = list_file.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(list_file, f"cannot read the photo list ({exc})") from None
    tasks, seen = [], set()
    for n, line in enumerate(lines, start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        parts = _split_line(line.strip())
        if len(parts) not in (2, 3) or not all(parts):
            raise InputFileError(list_file, f"line {n}: expected 'PATH IDENTITY [SPLIT]', got {line.strip()!r}")
        split = parts[2] if len(parts) == 3 else "train"
        if split not in SPLITS:
            raise InputFileError(list_file, f"line {n}: split must be one of {SPLITS}, got {split!r}")
        path = Path(parts[0]).expanduser()
        if not path.is_absolute():
            path = list_file.parent / path
        key = parts[0]
        if key in seen:
            raise InputFileError(list_file, f"line {n}: {key} is listed twice")
        seen.add(key)
        tasks.append(PhotoTask(key=key, path=path, identity=parts[1], split=split))
    return tasks


def collect_tasks(photos: str | Path) -> list[PhotoTask]:
    """Tasks from a folder of person folders or from a list file (see the module docstring)."""
    photos = Path(photos)
    if photos.is_dir():
        tasks = tasks_from_folder(photos)
    elif photos.is_file():
        tasks = tasks_from_list(photos)
    else:
        raise InputFileError(photos, "no such folder or list file")
    if not tasks:
        raise InputFileError(photos, "contains no photos (looked for " + ", ".join(
            s for s in (".jpg", ".png", ".bmp", ".tif", ".webp")) + ", ...)")
    return tasks
