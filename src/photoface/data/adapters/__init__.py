"""Recognise what a ``photoface prepare`` input is and call the matching preparer.

* ``celeba``: a folder with ``identity_CelebA.txt`` (``photoface.data.adapters.celeba``);
* ``300w-lp``: a folder whose images come with same-named ``.mat`` files, e.g. the AFW/HELEN/
  IBUG/LFPW sub-folders of 300W-LP (``photoface.data.adapters.w300lp``);
* ``photos``: anything else, a folder of person folders or a list file (``photoface.data.prepare``).
"""

from __future__ import annotations

from pathlib import Path

from photoface.data.format import PreparedDataset
from photoface.data.prepare.pipeline import PrepareOptions, prepare_photos
from photoface.errors import PhotofaceError

KINDS = ("auto", "photos", "celeba", "300w-lp")


def detect_kind(photos: str | Path) -> str:
    """'celeba', '300w-lp' or 'photos' from the contents of ``photos``."""
    from photoface.data.adapters.celeba import is_celeba
    from photoface.data.adapters.w300lp import is_300wlp

    photos = Path(photos)
    if is_celeba(photos):
        return "celeba"
    if is_300wlp(photos):
        return "300w-lp"
    return "photos"


def prepare_any(
    photos: str | Path, out_dir: str | Path, kind: str = "auto", image_size: int = 128,
    all_faces: bool = False, masks_dir: str | Path | None = None, detector: str = "mediapipe",
    workers: int = 1, min_face: float = 40.0, model: str | Path | None = None,
    bfm: str | Path | None = None, progress: bool = True,
) -> PreparedDataset:
    """The ``photoface prepare`` command as a function."""
    if kind not in KINDS:
        raise PhotofaceError(f"unknown --kind {kind!r}; choose one of {', '.join(KINDS)}")
    options = PrepareOptions(
        image_size=image_size, all_faces=all_faces, detector=detector,
        masks_dir=None if masks_dir is None else Path(masks_dir), min_face=min_face, workers=workers,
    )
    if kind == "auto":
        kind = detect_kind(photos)
    if kind == "celeba":
        from photoface.data.adapters.celeba import prepare_celeba

        return prepare_celeba(photos, out_dir, options, progress=progress)
    if kind == "300w-lp":
        from photoface.data.adapters.w300lp import prepare_300wlp

        return prepare_300wlp(photos, out_dir, options, model=model, bfm=bfm, progress=progress)
    if model is not None or bfm is not None:
        raise PhotofaceError("--model and --bfm apply to 300W-LP labels only")
    return prepare_photos(photos, out_dir, options, progress=progress)
