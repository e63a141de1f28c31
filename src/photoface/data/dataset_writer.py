"""Writing prepared datasets: ``DatasetWriter`` (atomic, journaled, resumable).

The format, its atomicity guarantees and the resume protocol are described in
``photoface.data.format`` (import ``DatasetWriter`` from there); this module holds the writer so
that the format module stays about the format and its validation.
"""

from __future__ import annotations

import io
import json
import os
from pathlib import Path, PurePosixPath
from typing import Any

import numpy as np
import torch
from PIL import Image

from photoface.atomic import write_atomic
from photoface.data.format import (
    INDEX_FILE,
    JOURNAL_FILE,
    META_FILE,
    DatasetMeta,
    DatasetRow,
    PreparedDataset,
    checked_relative_path,
    read_index,
)
from photoface.errors import InputFileError, PhotofaceError
from photoface.jsonfile import json_text, write_json
from photoface.pixels import to_uint8


def _to_uint8_image(image: Any, size: int, what: str) -> np.ndarray:
    """Accept PIL, uint8 (H, W[, 3]) arrays, or float tensors/arrays (3, H, W) / (1, H, W) in [0, 1]."""
    if isinstance(image, Image.Image):
        arr = np.asarray(image)
    else:
        if isinstance(image, torch.Tensor):
            image = image.detach().cpu().numpy()
        arr = np.asarray(image)
        if arr.ndim == 3 and arr.shape[0] in (1, 3) and arr.shape[2] not in (1, 3):
            arr = np.moveaxis(arr, 0, -1)
        if arr.dtype == bool:
            arr = arr.astype(np.uint8) * 255
        elif arr.dtype != np.uint8:
            arr = to_uint8(arr.astype(np.float64))
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if arr.shape[:2] != (size, size):
        raise PhotofaceError(f"{what} is {arr.shape[1]}×{arr.shape[0]}, the dataset is {size}×{size}")
    return arr


def _encode(arr: np.ndarray, rel: str) -> bytes:
    buf = io.BytesIO()
    suffix = PurePosixPath(rel).suffix.lower()
    fmt = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}.get(suffix)
    if fmt is None:
        raise PhotofaceError(f"{rel}: images must be .png or .jpg")
    kwargs = {"quality": 95} if fmt == "JPEG" else {}
    Image.fromarray(arr).save(buf, format=fmt, **kwargs)
    return buf.getvalue()


class DatasetWriter:
    """Write (or resume writing) a prepared dataset; use as a context manager or call ``close``.

    ``DatasetWriter(out_dir, meta)`` opens ``out_dir``; if it holds a journal or an index from an
    earlier run with the same image size and source, their rows are kept and ``is_done`` reports
    their keys, so the caller can skip finished items. ``add`` writes one row's files and journals
    it under ``key`` (default: the row's image path); ``mark_done(key, skipped=reason)`` journals an
    item that produced no row (or several rows under other keys). ``close`` writes index.jsonl
    (rows sorted by image path) and meta.json with counts, both atomically. On an exception inside
    a ``with`` block nothing is closed: the journal keeps the progress for the next run.
    """

    def __init__(self, out_dir: str | Path, meta: DatasetMeta):
        self.root = Path(out_dir)
        self.meta = meta
        self.root.mkdir(parents=True, exist_ok=True)
        self._rows: dict[str, DatasetRow] = {}
        self._done: dict[str, str | None] = {}
        self._replay()
        self._journal = open(self.root / JOURNAL_FILE, "a", encoding="utf-8")
        if self._journal.tell() == 0:
            self._append({"kind": "meta", "meta": meta.to_json()})
        self._closed = False

    # -- resume
    def _replay(self) -> None:
        index = self.root / INDEX_FILE
        journal = self.root / JOURNAL_FILE
        old_meta = self.root / META_FILE
        if old_meta.is_file():
            try:
                self._check_compatible(json.loads(old_meta.read_text(encoding="utf-8")), old_meta)
            except json.JSONDecodeError:
                raise InputFileError(old_meta, "exists but is not valid JSON; remove it or use a new --out") from None
        if index.is_file() and not journal.is_file():
            for row in read_index(index):
                self._rows[row.image] = row
                self._done[row.image] = None
        if not journal.is_file():
            return
        lines = journal.read_text(encoding="utf-8").splitlines()
        torn = False
        for n, line in enumerate(lines, start=1):
            try:
                entry = json.loads(line)
            except json.JSONDecodeError:
                if n == len(lines):
                    torn = True  # a crash mid-append: that item is simply redone
                    break
                raise InputFileError(journal, f"line {n}: not valid JSON") from None
            kind = entry.get("kind")
            if kind == "meta":
                self._check_compatible(entry["meta"], journal)
            elif kind == "row":
                row = DatasetRow.from_json(entry["row"], f"{journal} line {n}")
                self._rows[row.image] = row
                self._done[entry["key"]] = None
            elif kind == "done":
                self._done[entry["key"]] = entry.get("skipped")
        # rewrite the journal without a torn tail so later appends start on a fresh line
        if torn:
            kept = "".join(line + "\n" for line in lines[:-1])
            write_atomic(journal, kept.encode("utf-8"))

    def _check_compatible(self, obj: dict, path: Path) -> None:
        for key in ("image_size", "source"):
            old = obj.get(key)
            new = getattr(self.meta, key)
            if old != new:
                raise InputFileError(
                    path, f"an earlier run wrote {key}={old!r}, this run asks {new!r}; use a new folder"
                )

    def is_done(self, key: str) -> bool:
        return key in self._done

    def skipped(self) -> dict[str, str]:
        """Keys journaled as skipped, with their reasons."""
        return {k: v for k, v in self._done.items() if v is not None}

    @property
    def rows(self) -> list[DatasetRow]:
        return list(self._rows.values())

    # -- writing
    def _append(self, entry: dict) -> None:
        self._journal.write(json_text(entry, compact=True) + "\n")
        self._journal.flush()
        os.fsync(self._journal.fileno())

    def write_file(self, rel: str, data: Any) -> None:
        """Write an image (PNG/JPEG from a PIL image, uint8 array or float tensor), a mask or an
        .npy array at the relative path ``rel``, atomically."""
        checked_relative_path(rel, "path", str(self.root))
        path = self.root / rel
        if rel.endswith(".npy"):
            buf = io.BytesIO()
            np.save(buf, np.asarray(data.detach().cpu() if isinstance(data, torch.Tensor) else data))
            write_atomic(path, buf.getvalue())
            return
        arr = _to_uint8_image(data, self.meta.image_size, str(path))
        write_atomic(path, _encode(arr, rel))

    def add(self, row: DatasetRow, image: Any = None, mask: Any = None, true_mesh: Any = None,
            key: str | None = None) -> None:
        """Write the given files to the row's paths, then journal the row (it counts as done)."""
        if self._closed:
            raise PhotofaceError(f"{self.root}: writer already closed")
        DatasetRow.from_json(row.to_json(), f"row for {row.image}")  # validate before writing
        if image is not None:
            self.write_file(row.image, image)
        if mask is not None:
            if row.mask is None:
                raise PhotofaceError(f"row for {row.image}: mask data given but row.mask is None")
            self.write_file(row.mask, mask)
        if true_mesh is not None:
            if row.true_mesh is None:
                raise PhotofaceError(f"row for {row.image}: mesh data given but row.true_mesh is None")
            self.write_file(row.true_mesh, true_mesh)
        key = row.image if key is None else key
        self._append({"kind": "row", "key": key, "row": row.to_json()})
        self._rows[row.image] = row
        self._done[key] = None

    def mark_done(self, key: str, skipped: str | None = None) -> None:
        """Journal an item as finished; ``skipped`` gives the reason when it produced no row."""
        self._append({"kind": "done", "key": key, "skipped": skipped})
        self._done[key] = skipped

    def close(self) -> PreparedDataset:
        """Write index.jsonl and meta.json atomically; returns the dataset as a reader sees it."""
        if self._closed:
            raise PhotofaceError(f"{self.root}: writer already closed")
        self._journal.close()
        self._closed = True
        rows = sorted(self._rows.values(), key=lambda r: r.image)
        self.meta.counts = {
            "photos": len(rows),
            "identities": len({r.identity for r in rows}),
            "labeled": sum(r.labeled for r in rows),
            "train": sum(r.split == "train" for r in rows),
            "test": sum(r.split == "test" for r in rows),
        }
        text = "".join(json_text(r.to_json(), compact=True) + "\n" for r in rows)
        write_json(self.root / META_FILE, self.meta.to_json(), indent=2)
        write_atomic(self.root / INDEX_FILE, text.encode("utf-8"))
        return PreparedDataset(self.root, self.meta, rows)

    def abort(self) -> None:
        """Stop without writing the index (the journal keeps the progress)."""
        if not self._closed:
            self._journal.close()
            self._closed = True

    def __enter__(self) -> "DatasetWriter":
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()
