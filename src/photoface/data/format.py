"""The prepared-dataset format: one folder that training and evaluation read.

Real-photo preprocessing, the dataset adapters and the synthetic generator all write it with
:class:`DatasetWriter`; everything else reads it with :func:`load_dataset`. Layout::

    DIR/meta.json        DatasetMeta: image size, face model (file name + hash), source, seed,
                         counts, format_version
    DIR/index.jsonl      one DatasetRow per line (JSON object)
    DIR/progress.jsonl   the writer's journal (resume); readers ignore it
    DIR/<relative paths named by the rows>: images (PNG/JPEG, image_size²), masks (PNG, 255 =
                         face pixel to compare), true meshes (.npy, (V, 3) mm)

Conventions (the project's, repeated here because rows carry them):

* ``landmarks`` (68, 2) in image pixels, x right, y down, origin at the top-left corner of the
  top-left pixel (pixel (i, j) has its centre at (j + 0.5, i + 0.5)); iBUG-68 order.
* ``pose`` = (pitch, yaw, roll in degrees, scale f in px/mm, tx, ty in px), the camera of
  ``photoface.render.camera`` (weak perspective; at pose 0 the canonical origin projects to the
  image centre with f = image_size / 200).
* ``light`` (27,) = 9 SH coefficients per colour channel, channel-major.
* ``crop_transform`` (2, 3) maps original-photo pixels to crop pixels: ``[x', y'] = A @ [x, y, 1]``.
* ``alpha_id`` / ``alpha_exp`` are coefficients of the face model named in meta.json, in that
  model's units (standard normal unless its ``exp_kind`` says blendshape weights), inside its
  ``exp_bounds`` (e.g. FLAME's jaw opening >= 0).
* Since format 1.1, rows prepared from real photos say which ``detector`` placed their landmarks
  ("mediapipe", dlib's "hog" or "cnn", or "given"), and MediaPipe's rows add ``points`` (478, 2)
  crop px (MediaPipe's face-mesh order; ``landmarks`` are iBUG-68 taken from them), its head pose
  ``detector_pose`` (6,) in the crop, in the ``pose`` convention above (a detector's estimate, not a
  label), and ``blendshapes``, its 52 scores in [0, 1] by name (``_neutral`` and 51 ARKit names).
  Rows of format 1.0 have none of these and load as they always did.

Atomicity and resume (the writer is ``photoface.data.dataset_writer.DatasetWriter``, also
importable from here): it writes each image/mask/mesh file to a temporary name and renames
it, and appends one journal line per finished item to ``progress.jsonl`` (fsync'ed). Only
:meth:`DatasetWriter.close` writes ``index.jsonl`` and ``meta.json``, each via a temporary file
and ``os.replace``; ``meta.json`` carries the row count, so a reader notices a pair torn by a
crash between the two renames. A crash before ``close`` therefore leaves either no
``index.jsonl`` or the previous complete one. Reopening the folder with a writer replays the
journal (a torn last line is ignored) and :meth:`DatasetWriter.is_done` tells the caller which
items to skip.

Versioning: ``format_version`` is "MAJOR.MINOR". Readers accept any minor version of their major
version (unknown row keys are kept in ``DatasetRow.extra``) and reject other majors.
"""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any, Iterable, Iterator

import numpy as np
import torch
from PIL import Image

from photoface.errors import InputFileError, PhotofaceError
from photoface.pixels import from_uint8

FORMAT_VERSION = "1.1"
META_FILE = "meta.json"
INDEX_FILE = "index.jsonl"
JOURNAL_FILE = "progress.jsonl"
SPLITS = ("train", "test")
SETTINGS = ("cooperative", "indoor", "outdoor")
"""A row's ``setting``, easiest first: MICC Florence's three kinds of video, which synthetic photos imitate."""
NUM_LANDMARKS = 68
NUM_DENSE_POINTS = 478
"""MediaPipe FaceLandmarker's points per face (468 mesh vertices and 10 iris points)."""

_REQUIRED_ROW_KEYS = ("image", "identity", "split", "landmarks", "labeled")
_LABEL_KEYS = ("alpha_id", "alpha_exp", "pose")


@dataclass
class DatasetMeta:
    """Contents of ``meta.json``.

    ``counts`` is filled in by the writer at close: photos, identities, labeled, train, test.
    ``face_model`` is the file name (or ``builtin:demo``-style name) of the face model that the
    labels refer to, ``face_model_hash`` its content hash; both None when no row is labeled.
    ``extra`` holds any further keys (kept on round trip).
    """

    image_size: int
    source: str
    face_model: str | None = None
    face_model_hash: str | None = None
    seed: int | None = None
    counts: dict[str, int] = field(default_factory=dict)
    format_version: str = FORMAT_VERSION
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out = {f.name: getattr(self, f.name) for f in dataclasses.fields(self) if f.name != "extra"}
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, obj: dict[str, Any], path: str | Path) -> "DatasetMeta":
        if not isinstance(obj, dict):
            raise InputFileError(path, "meta.json must hold a JSON object")
        _check_version(obj.get("format_version"), path)
        for key in ("image_size", "source"):
            if key not in obj:
                raise InputFileError(path, f"missing key '{key}'")
        size = obj["image_size"]
        if not isinstance(size, int) or isinstance(size, bool) or size <= 0:
            raise InputFileError(path, f"image_size must be a positive integer, got {size!r}")
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        known = {k: v for k, v in obj.items() if k in names}
        extra = {k: v for k, v in obj.items() if k not in names}
        return cls(**known, extra=extra)


@dataclass
class DatasetRow:
    """One photo (one face) of a prepared dataset; one line of ``index.jsonl``.

    Shapes: landmarks (68, 2) px; visible (68,) bool; pose (6,); light (27,);
    crop_transform (2, 3); alpha_* (K,) / (L,); points (478, 2) px; detector_pose (6,);
    blendshapes name → score. Paths are relative to the dataset folder, POSIX.
    """

    image: str
    identity: str
    split: str
    landmarks: np.ndarray
    labeled: bool = False
    mask: str | None = None
    visible: np.ndarray | None = None
    # labeled rows
    alpha_id: np.ndarray | None = None
    alpha_exp: np.ndarray | None = None
    pose: np.ndarray | None = None
    # synthetic rows
    true_mesh: str | None = None
    setting: str | None = None
    alpha_id_true: np.ndarray | None = None
    light: np.ndarray | None = None
    # rows prepared from real photos
    source: str | None = None
    crop_transform: np.ndarray | None = None
    # format 1.1: what the detector gave (rows prepared from real photos)
    detector: str | None = None
    points: np.ndarray | None = None
    detector_pose: np.ndarray | None = None
    blendshapes: dict[str, float] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):
            if f.name == "extra":
                continue
            value = getattr(self, f.name)
            if value is None and f.name not in ("mask",):
                continue
            if isinstance(value, np.ndarray):
                value = value.tolist()
            out[f.name] = value
        out.update(self.extra)
        return out

    @classmethod
    def from_json(cls, obj: Any, where: str) -> "DatasetRow":
        """Validate one parsed index line; ``where`` ("index.jsonl line 7") names it in errors."""
        if not isinstance(obj, dict):
            raise PhotofaceError(f"{where}: a row must be a JSON object")
        for key in _REQUIRED_ROW_KEYS:
            if key not in obj:
                raise PhotofaceError(f"{where}: missing key '{key}'")
        labeled = obj["labeled"]
        if not isinstance(labeled, bool):
            raise PhotofaceError(f"{where}: 'labeled' must be true or false")
        if labeled:
            for key in _LABEL_KEYS:
                if obj.get(key) is None:
                    raise PhotofaceError(f"{where}: labeled row lacks '{key}'")
        if obj["split"] not in SPLITS:
            raise PhotofaceError(f"{where}: split must be one of {SPLITS}, got {obj['split']!r}")
        names = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        row = cls(
            image=checked_relative_path(obj["image"], "image", where),
            identity=str(obj["identity"]),
            split=obj["split"],
            landmarks=_array(obj["landmarks"], (NUM_LANDMARKS, 2), "landmarks", where),
            labeled=labeled,
            mask=None if obj.get("mask") is None else checked_relative_path(obj["mask"], "mask", where),
            visible=_opt_array(obj, "visible", (NUM_LANDMARKS,), where, dtype=bool),
            alpha_id=_opt_array(obj, "alpha_id", (-1,), where),
            alpha_exp=_opt_array(obj, "alpha_exp", (-1,), where),
            pose=_opt_array(obj, "pose", (6,), where),
            true_mesh=None if obj.get("true_mesh") is None
            else checked_relative_path(obj["true_mesh"], "true_mesh", where),
            setting=None if obj.get("setting") is None else str(obj["setting"]),
            alpha_id_true=_opt_array(obj, "alpha_id_true", (-1,), where),
            light=_opt_array(obj, "light", (27,), where),
            source=None if obj.get("source") is None else str(obj["source"]),
            crop_transform=_opt_array(obj, "crop_transform", (2, 3), where),
            detector=None if obj.get("detector") is None else str(obj["detector"]),
            points=_opt_array(obj, "points", (NUM_DENSE_POINTS, 2), where),
            detector_pose=_opt_array(obj, "detector_pose", (6,), where),
            blendshapes=_blendshapes(obj.get("blendshapes"), where),
            extra={k: v for k, v in obj.items() if k not in names},
        )
        return row


def _blendshapes(value: Any, where: str) -> dict[str, float] | None:
    if value is None:
        return None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise PhotofaceError(f"{where}: 'blendshapes' must be an object of name: score")
    out = {}
    for name, score in value.items():
        if isinstance(score, bool) or not isinstance(score, (int, float)) or not np.isfinite(score):
            raise PhotofaceError(f"{where}: blendshape {name!r} must be a finite number, got {score!r}")
        out[name] = float(score)
    return out


def _check_version(version: Any, path: str | Path) -> None:
    if not isinstance(version, str) or not version.partition(".")[0].isdigit():
        raise InputFileError(path, f"missing or malformed format_version {version!r}")
    major = int(version.partition(".")[0])
    ours = int(FORMAT_VERSION.partition(".")[0])
    if major != ours:
        raise InputFileError(
            path, f"format_version {version} is not supported (this photoface reads {ours}.x)"
        )


def checked_relative_path(value: Any, key: str, where: str) -> str:
    if not isinstance(value, str) or not value:
        raise PhotofaceError(f"{where}: '{key}' must be a non-empty relative path")
    p = PurePosixPath(value)
    if p.is_absolute() or ".." in p.parts or "\\" in value:
        raise PhotofaceError(f"{where}: '{key}' must be a relative path inside the dataset: {value!r}")
    return value


def _array(value: Any, shape: tuple[int, ...], key: str, where: str, dtype=np.float64) -> np.ndarray:
    try:
        arr = np.asarray(value, dtype=dtype)
    except (TypeError, ValueError):
        raise PhotofaceError(f"{where}: '{key}' is not a numeric array") from None
    ok = arr.ndim == len(shape) and all(s in (-1, n) for s, n in zip(shape, arr.shape))
    if not ok:
        want = "×".join("N" if s == -1 else str(s) for s in shape)
        raise PhotofaceError(f"{where}: '{key}' must have shape {want}, got {arr.shape}")
    if dtype is not bool and not np.all(np.isfinite(arr)):
        raise PhotofaceError(f"{where}: '{key}' contains NaN or infinity")
    return arr


def _opt_array(obj: dict, key: str, shape, where: str, dtype=np.float64) -> np.ndarray | None:
    value = obj.get(key)
    return None if value is None else _array(value, shape, key, where, dtype)


# --------------------------------------------------------------------------- reading


class PreparedDataset:
    """A loaded prepared dataset: ``meta``, ``rows`` and file loaders.

    ``filter`` returns a new PreparedDataset over a subset of the rows (same folder and meta).
    """

    def __init__(self, root: Path, meta: DatasetMeta, rows: list[DatasetRow]):
        self.root = Path(root)
        self.meta = meta
        self.rows = rows

    def __len__(self) -> int:
        return len(self.rows)

    def __getitem__(self, i: int) -> DatasetRow:
        return self.rows[i]

    def __iter__(self) -> Iterator[DatasetRow]:
        return iter(self.rows)

    def identities(self) -> list[str]:
        return sorted({r.identity for r in self.rows})

    def filter(self, split: str | None = None, labeled: bool | None = None,
               identity: str | Iterable[str] | None = None) -> "PreparedDataset":
        ids = None if identity is None else ({identity} if isinstance(identity, str) else set(identity))
        rows = [
            r for r in self.rows
            if (split is None or r.split == split)
            and (labeled is None or r.labeled == labeled)
            and (ids is None or r.identity in ids)
        ]
        return PreparedDataset(self.root, self.meta, rows)

    def _row(self, row: DatasetRow | int) -> DatasetRow:
        return self.rows[row] if isinstance(row, int) else row

    def load_image(self, row: DatasetRow | int) -> torch.Tensor:
        """(3, S, S) float32 in [0, 1], RGB."""
        path = self.root / self._row(row).image
        try:
            with Image.open(path) as im:
                arr = np.asarray(im.convert("RGB"), dtype=np.uint8)
        except (OSError, ValueError) as exc:
            raise InputFileError(path, f"cannot read image ({exc})") from None
        return from_uint8(arr)

    def load_mask(self, row: DatasetRow | int) -> torch.Tensor:
        """(1, S, S) float32, 1 = face pixel to compare; all ones when the row has no mask."""
        r = self._row(row)
        size = self.meta.image_size
        if r.mask is None:
            return torch.ones(1, size, size)
        path = self.root / r.mask
        try:
            with Image.open(path) as im:
                arr = np.asarray(im.convert("L"), dtype=np.uint8)
        except (OSError, ValueError) as exc:
            raise InputFileError(path, f"cannot read mask ({exc})") from None
        return torch.from_numpy((arr >= 128).astype(np.float32))[None]

    def load_true_mesh(self, row: DatasetRow | int) -> torch.Tensor:
        """(V, 3) float32 mm in canonical pose (synthetic rows only)."""
        r = self._row(row)
        if r.true_mesh is None:
            raise PhotofaceError(f"{self.root / r.image}: this row has no true_mesh")
        path = self.root / r.true_mesh
        try:
            arr = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise InputFileError(path, f"cannot read mesh ({exc})") from None
        if arr.ndim != 2 or arr.shape[1] != 3:
            raise InputFileError(path, f"true mesh must have shape (V, 3), got {arr.shape}")
        return torch.from_numpy(arr.astype(np.float32))


def read_index(path: str | Path) -> list[DatasetRow]:
    """Parse and validate an ``index.jsonl``; errors name the file and the line (1-based)."""
    path = Path(path)
    rows = []
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputFileError(path, f"cannot read ({exc.strerror or exc})") from None
    for n, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path} line {n}"
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputFileError(path, f"line {n}: not valid JSON ({exc.msg})") from None
        rows.append(DatasetRow.from_json(obj, where))
    return rows


def load_dataset(directory: str | Path, check_files: bool = True) -> PreparedDataset:
    """Read and validate a prepared dataset folder.

    Raises InputFileError naming the file (and line) for: a missing or unreadable meta.json /
    index.jsonl, an unsupported format_version, missing keys, landmarks not 68×2, bad splits,
    labeled rows without labels, duplicated images, a row count that disagrees with meta.json,
    and (with ``check_files``) image, mask or mesh files that do not exist.
    """
    root = Path(directory)
    if not root.is_dir():
        raise InputFileError(root, "not a prepared-dataset folder (no such directory)")
    meta_path = root / META_FILE
    index_path = root / INDEX_FILE
    if not index_path.is_file() and (root / JOURNAL_FILE).is_file():
        raise InputFileError(index_path, f"missing: the writer never finished ({JOURNAL_FILE} exists); re-run it to resume")
    if not meta_path.is_file():
        raise InputFileError(meta_path, "missing (not a prepared dataset)")
    if not index_path.is_file():
        raise InputFileError(index_path, "missing (the writer never finished; re-run it to resume)")
    try:
        meta_obj = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputFileError(meta_path, f"not readable JSON ({exc})") from None
    meta = DatasetMeta.from_json(meta_obj, meta_path)
    try:
        rows = read_index(index_path)
    except InputFileError:
        raise
    except PhotofaceError as exc:
        raise InputFileError(index_path, str(exc).removeprefix(f"{index_path} ")) from None
    expected = meta.counts.get("photos")
    if expected is not None and expected != len(rows):
        raise InputFileError(
            index_path,
            f"has {len(rows)} rows but meta.json counts {expected} (torn write? re-run the writer)",
        )
    seen: dict[str, int] = {}
    for n, row in enumerate(rows, start=1):
        if row.image in seen:
            raise InputFileError(index_path, f"line {n}: image {row.image} repeats line {seen[row.image]}")
        seen[row.image] = n
        if check_files:
            for key in ("image", "mask", "true_mesh"):
                rel = getattr(row, key)
                if rel is not None and not (root / rel).is_file():
                    raise InputFileError(index_path, f"line {n}: {key} file {rel} does not exist")
    return PreparedDataset(root, meta, rows)


def __getattr__(name: str):
    # The writer lives in its own module (it imports this one); it is part of this module's API,
    # so __all__ names it although it is bound lazily here.
    if name == "DatasetWriter":
        from photoface.data.dataset_writer import DatasetWriter

        return DatasetWriter
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

__all__ = [
    "FORMAT_VERSION", "META_FILE", "INDEX_FILE", "JOURNAL_FILE", "SPLITS", "NUM_LANDMARKS", "NUM_DENSE_POINTS",
    "DatasetMeta", "DatasetRow", "PreparedDataset", "DatasetWriter", "read_index", "load_dataset",  # noqa: F822
]
