"""What ``photoface fit`` fits: the prepared dataset, one face per photo, and what was left out.

``fit_inputs`` turns the user's input into a :class:`FitInputs`:

* a folder of person folders is prepared into ``OUT/prepared`` (``photoface prepare`` with every
  face of every photo); a prepared dataset (meta.json + index.jsonl) is used as it is, and the
  photos its ``prepare_report.tsv`` lists as skipped are reported;
* person folders without photos are reported ("folder contains no photos") and skipped, never fatal;
* photos that gave no face are reported with prepare's reason (``prepared/prepare_report.tsv``);
* a photo of a person folder that shows several faces keeps one of them, the face most like the
  person's other photos (``photoface.fit.face_choice``: the closest landmark-fit identity to the
  person's single-face photos, or the largest face when there are none); the faces left out are
  reported, with the rule and the distances. (``photoface reconstruct``, which takes loose photos,
  reconstructs every face instead.)

Report keys are photo paths relative to the input folder (as in ``prepare_report.tsv``), a person
folder ends with ``/``, and face ``k`` of a photo is ``PATH#k`` (faces are numbered largest first).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from photoface.data.format import INDEX_FILE, META_FILE, DatasetRow, PreparedDataset, load_dataset
from photoface.data.prepare.faces import DEFAULT_DETECTOR
from photoface.errors import InputFileError
from photoface.fit.config import FitConfig
from photoface.fit.face_choice import choose_face, reference_identity

PREPARED_DIR = "prepared"


@dataclass
class FitInputs:
    """dataset: the rows to fit (one face per photo); skipped: {report key: reason} of everything
    left out (empty folders, photos without a face, other faces of multi-face photos);
    prepare_report: prepare's report file, when photos were prepared."""

    dataset: PreparedDataset
    skipped: dict[str, str] = field(default_factory=dict)
    prepare_report: Path | None = None


def _face_number(row: DatasetRow) -> int:
    """The face index prepare gave the row (``…_<k>.jpg``, ``pipeline.output_names``), else 0."""
    stem = Path(row.image).stem
    tail = stem.rpartition("_")[2]
    return int(tail) if tail.isdigit() else 0


def _photo_key(row: DatasetRow, root: Path) -> str:
    source = row.source or row.image
    try:
        return Path(source).resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return str(source)


def one_face_per_photo(ds: PreparedDataset, face_model, cfg: FitConfig, root: Path) -> tuple[PreparedDataset, dict]:
    """Keep one face of each multi-face photo (module docstring); returns (dataset, {key: reason})."""
    by_person: dict[str, dict[str, list[DatasetRow]]] = {}
    for r in ds.rows:
        by_person.setdefault(r.identity, {}).setdefault(r.source or r.image, []).append(r)
    dropped: set[int] = set()
    left_out: dict[str, str] = {}
    for photos in by_person.values():
        if all(len(rows) < 2 for rows in photos.values()):
            continue
        singles = [rows[0].landmarks for rows in photos.values() if len(rows) == 1]
        reference = reference_identity(face_model, np.stack(singles) if singles else None, cfg)
        for rows in photos.values():
            if len(rows) < 2:
                continue
            rows = sorted(rows, key=_face_number)
            choice = choose_face(face_model, np.stack([r.landmarks for r in rows]), reference, cfg)
            key = _photo_key(rows[0], root)
            kept = _face_number(rows[choice.index])
            for k, r in enumerate(rows):
                if k != choice.index:
                    dropped.add(id(r))
                    left_out[f"{key}#{_face_number(r)}"] = (f"face left out: {len(rows)} faces in the photo, "
                                                           f"face {kept} fitted ({choice.describe()})")
    kept_rows = [r for r in ds.rows if id(r) not in dropped]
    return PreparedDataset(ds.root, ds.meta, kept_rows), left_out


def fit_inputs(inputs: str | Path, out_dir: Path, image_size: int, face_model, cfg: FitConfig,
               progress: bool = True, detector: str = DEFAULT_DETECTOR) -> FitInputs:
    """The dataset to fit and everything left out (module docstring); raw photos are prepared with
    ``detector`` (``photoface.data.prepare.faces.DETECTORS``).

    Raises InputFileError when ``inputs`` does not exist, holds no photo, or no photo gave a face.
    """
    root = Path(inputs)
    if not root.exists():
        raise InputFileError(root, "no such folder")
    if (root / META_FILE).is_file() or (root / INDEX_FILE).is_file():
        ds = load_dataset(root)
        if len(ds) == 0:
            raise InputFileError(root, "is a prepared dataset with no photos")
        from photoface.data.prepare.pipeline import REPORT_FILE, read_report

        skipped = read_report(root)[0]  # what prepare left out of this dataset, when it says so
        photos_root = Path((ds.meta.extra or {}).get("photos") or root)  # keys as prepare's report gives them
        ds, left_out = one_face_per_photo(ds, face_model, cfg, photos_root)
        skipped.update(left_out)
        return FitInputs(ds, skipped, root / REPORT_FILE if (root / REPORT_FILE).is_file() else None)
    from photoface.data.prepare import PrepareOptions, prepare_photos
    from photoface.data.prepare.photo_list import empty_folders
    from photoface.data.prepare.pipeline import REPORT_FILE, read_report

    skipped = {f"{d.relative_to(root).as_posix()}/": "folder contains no photos" for d in empty_folders(root)}
    prepared = out_dir / PREPARED_DIR
    ds = prepare_photos(root, prepared, PrepareOptions(image_size=image_size, all_faces=True, detector=detector), progress=progress)
    skipped.update(read_report(prepared)[0])
    if len(ds) == 0:
        return FitInputs(ds, skipped, prepared / REPORT_FILE)
    ds, left_out = one_face_per_photo(ds, face_model, cfg, root)
    skipped.update(left_out)
    return FitInputs(ds, skipped, prepared / REPORT_FILE)
