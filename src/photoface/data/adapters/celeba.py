"""CelebA adapter: ``img_align_celeba/`` + ``identity_CelebA.txt`` (+ optional
``list_eval_partition.txt``) → prepared dataset.

File formats (as distributed by the CelebA authors; the annotation files may sit in the root, in
``Anno/`` and ``Eval/``, and the image folder may be nested once, as in common mirrors):

* ``identity_CelebA.txt``: ``<image name> <identity number>`` per line (202,599 lines);
* ``list_eval_partition.txt``: ``<image name> <0|1|2>`` = train / validation / test.

CelebA's identities do not overlap between partitions. The prepared format knows "train" and
"test" only; validation images go to "test" (they are held out from training either way).
Without the partition file every image is "train".

CelebA's own 5 landmarks are not used: the aligned images are re-detected and landmarked with our
detector (68 points are needed) and re-aligned to photoface's crop, exactly as users' photos are.
"""

from __future__ import annotations

from pathlib import Path

from photoface.data.format import DatasetMeta, PreparedDataset
from photoface.data.prepare.photo_list import PhotoTask
from photoface.data.prepare.pipeline import PrepareOptions, run_prepare
from photoface.errors import InputFileError

IDENTITY_FILE = "identity_CelebA.txt"
PARTITION_FILE = "list_eval_partition.txt"
IMAGE_DIR = "img_align_celeba"
PARTITION_SPLIT = {"0": "train", "1": "test", "2": "test"}


def _find(root: Path, name: str, subdirs=("", "Anno", "Eval", "anno", "eval")) -> Path | None:
    for sub in subdirs:
        path = root / sub / name
        if path.exists():
            return path
    return None


def is_celeba(root: str | Path) -> bool:
    root = Path(root)
    return root.is_dir() and _find(root, IDENTITY_FILE) is not None


def image_dir(root: Path) -> Path:
    folder = root / IMAGE_DIR
    if (folder / IMAGE_DIR).is_dir():
        folder = folder / IMAGE_DIR
    if not folder.is_dir():
        raise InputFileError(root, f"CelebA folder without {IMAGE_DIR}/")
    return folder


def read_pairs(path: Path) -> dict[str, str]:
    """``NAME VALUE`` lines → {NAME: VALUE}; errors name the file and line."""
    out: dict[str, str] = {}
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise InputFileError(path, f"cannot read ({exc})") from None
    for n, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        parts = line.split()
        if len(parts) != 2:
            raise InputFileError(path, f"line {n}: expected 'IMAGE VALUE', got {line.strip()!r}")
        out[parts[0]] = parts[1]
    return out


def celeba_tasks(root: str | Path) -> list[PhotoTask]:
    root = Path(root)
    id_file = _find(root, IDENTITY_FILE)
    if id_file is None:
        raise InputFileError(root, f"not a CelebA folder (no {IDENTITY_FILE})")
    identities = read_pairs(id_file)
    part_file = _find(root, PARTITION_FILE)
    partition = read_pairs(part_file) if part_file is not None else {}
    for name, value in partition.items():
        if value not in PARTITION_SPLIT:
            raise InputFileError(part_file, f"{name}: partition must be 0, 1 or 2, got {value!r}")
    images = image_dir(root)
    return [
        PhotoTask(
            key=name, path=images / name, identity=identity,
            split=PARTITION_SPLIT[partition.get(name, "0")],
        )
        for name, identity in sorted(identities.items())
    ]


def prepare_celeba(root: str | Path, out_dir: str | Path, options: PrepareOptions | None = None,
                   progress: bool = True) -> PreparedDataset:
    """Prepare CelebA (every listed image; missing files are reported as skipped)."""
    options = options or PrepareOptions()
    meta = DatasetMeta(image_size=options.image_size, source="celeba", extra={"photos": str(Path(root).resolve())})
    return run_prepare(celeba_tasks(root), out_dir, options, meta, progress=progress)
