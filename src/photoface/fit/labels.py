"""Fitted labels: a prepared dataset whose rows carry the fit's coefficients as 3D labels.

Each row of the source dataset is copied (its image, mask, true mesh and scan files copied,
hard-linked where the file system allows) with ``alpha_id`` (the person's SHARED identity), ``alpha_exp`` and ``pose``
(physical, the dataset convention) of the fit, ``labeled: true`` and ``label_source: "fit"``.
Photos whose fit failed (``PersonFit.failures``) stay in, unlabeled, with the reason in
``fit_failure``. ``meta.json`` names the face model and its hash, so ``photoface train`` checks
that the labels refer to the configured model. Writing goes through ``DatasetWriter`` (atomic,
resumable journal).
"""

from __future__ import annotations

import dataclasses
import os
import shutil
from pathlib import Path

import numpy as np

from photoface.atomic import write_atomic
from photoface.data.format import (
    DatasetMeta,
    DatasetRow,
    DatasetWriter,
    PreparedDataset,
)

LABEL_SOURCE = "fit"


def _copy_into(src: Path, f) -> None:
    with open(src, "rb") as s:
        shutil.copyfileobj(s, f)


def _link_or_copy(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    try:
        os.link(src, tmp)
        os.replace(tmp, dst)
    except OSError:
        write_atomic(dst, lambda f: _copy_into(src, f))


def labeled_row(row: DatasetRow, alpha_id, alpha_exp, pose, rms_px: float, failure: str | None) -> DatasetRow:
    """A copy of ``row`` with the fit's labels (module docstring). alpha_id (K,), alpha_exp (L,), pose (6,)."""
    extra = dict(row.extra)
    extra["label_source"] = LABEL_SOURCE
    extra["fit_landmark_rms_px"] = round(float(rms_px), 4)
    if failure is not None:
        extra["fit_failure"] = failure
        return dataclasses.replace(row, labeled=False, alpha_id=None, alpha_exp=None, pose=None, extra=extra)
    return dataclasses.replace(row, labeled=True, alpha_id=np.asarray(alpha_id, np.float64),
                               alpha_exp=np.asarray(alpha_exp, np.float64), pose=np.asarray(pose, np.float64),
                               extra=extra)


class LabelWriter:
    """Writes the fitted-label dataset person by person.

    Args:
        out_dir: the new dataset folder. source: the fitted dataset (files are copied from it).
        face_model_name, face_model_hash: what the labels refer to (meta.json).
    """

    def __init__(self, out_dir: str | Path, source: PreparedDataset, face_model_name: str, face_model_hash: str):
        self.source = source
        meta = DatasetMeta(image_size=source.meta.image_size, source=f"fit:{source.meta.source}",
                           face_model=face_model_name, face_model_hash=face_model_hash,
                           extra={"fitted_from": str(Path(source.root).resolve()), "label_source": LABEL_SOURCE})
        self.writer = DatasetWriter(out_dir, meta)

    def add_person(self, rows: list[DatasetRow], fit) -> None:
        """Add one person's rows with the labels of their ``PersonFit``."""
        codes = fit.params.codes()
        for i, row in enumerate(rows):
            if self.writer.is_done(row.image):
                continue
            scan = row.extra.get("scan")
            for rel in (row.image, row.mask, row.true_mesh, scan if isinstance(scan, str) else None):
                if rel is not None and not (self.writer.root / rel).is_file():
                    _link_or_copy(self.source.root / rel, self.writer.root / rel)
            new = labeled_row(row, codes["alpha_id"], codes["alpha_exp"][i], codes["pose"][i], fit.rms_px[i],
                              fit.failures.get(i))
            self.writer.add(new, key=row.image)

    def close(self) -> PreparedDataset:
        return self.writer.close()

    def abort(self) -> None:
        self.writer.abort()
