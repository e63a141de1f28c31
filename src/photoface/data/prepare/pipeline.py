"""``photoface prepare``: photos → prepared dataset (detect, 68 landmarks, align, mask).

Per photo (:func:`process_photo`, run in worker processes):

1. load it robustly (``images.load_photo``: EXIF rotation, CMYK/16-bit/alpha/gray → RGB 8-bit,
   huge photos decoded at ≤ ``LOAD_SIDE`` px);
2. detect faces and place their 68 landmarks (``faces.FaceFinder``: MediaPipe by default, dlib
   where it finds nothing, or dlib alone) unless the task brings landmarks; keep the largest face,
   or all of them with ``all_faces``; faces smaller than ``min_face`` px (sqrt of box area, in the
   original photo) are skipped;
3. align to the training crop (``align``), warp; MediaPipe's 478 points and pose follow the crop
   transform, its blendshapes are kept as they are;
4. mask: from ``masks_dir`` when a mask with the same relative name exists (warped with the
   crop), else computed (``mask.face_mask``).

The main process owns the :class:`~photoface.data.format.DatasetWriter`: workers return crops,
the writer writes them and journals each finished photo, so an interrupted run resumes where it
stopped (finished and skipped photos are not redone). Every skipped photo or face, and every
fallback, is listed with its reason in ``DIR/prepare_report.tsv``, rewritten at the end of each
run from the journal (so it covers earlier runs too). Nothing about one photo can stop the run:
a failure while processing it — including an unexpected exception — becomes a report line.

Workers use the ``spawn`` start method (safe with threads and on every OS); each loads the
detector models once. Output names are ``images/<identity>/<stem>-<hash>_<face>.jpg`` (JPEG quality 95)
and ``masks/…png``, where the hash of the photo's key keeps equal stems apart.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import re
import traceback
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

import numpy as np

from photoface.atomic import write_atomic
from photoface.data.format import DatasetMeta, DatasetRow, DatasetWriter, PreparedDataset
from photoface.data.prepare.align import alignment_transform, apply_transform, transform_pose, warp_image
from photoface.data.prepare.faces import DEFAULT_DETECTOR, Face
from photoface.data.prepare.images import IMAGE_SUFFIXES, LoadedPhoto, load_photo
from photoface.data.prepare.mask import face_mask, valid_region, warp_mask
from photoface.data.prepare.photo_list import PhotoTask, collect_tasks
from photoface.errors import InputFileError, PhotofaceError

LOAD_SIDE = 2048  # px: longer side at which huge photos are decoded (faces stay ≥ crop size)
REPORT_FILE = "prepare_report.tsv"
LABEL_KEYS = ("alpha_id", "alpha_exp", "pose")


@dataclass
class PrepareOptions:
    """image_size: crop side px (128 demo, 224 paper); detector: one of ``faces.DETECTORS``;
    masks_dir: folder of precomputed masks (same relative names, any image suffix);
    min_face: smallest face kept, px (sqrt of the box area in the original photo)."""

    image_size: int = 128
    all_faces: bool = False
    detector: str = DEFAULT_DETECTOR
    masks_dir: Path | None = None
    min_face: float = 40.0
    workers: int = 1


@dataclass
class FaceCrop:
    """One prepared face. image (S, S, 3) uint8; mask (S, S) bool; landmarks (68, 2) crop px;
    transform (2, 3) original → crop; detector "mediapipe" | "hog" | "cnn" | "given"; from
    MediaPipe only: points (478, 2) crop px, pose (6,) in the crop, blendshapes name → score."""

    index: int
    image: np.ndarray
    mask: np.ndarray
    landmarks: np.ndarray
    transform: np.ndarray
    detector: str
    points: np.ndarray | None = None
    pose: np.ndarray | None = None
    blendshapes: dict[str, float] | None = None


@dataclass
class PhotoResult:
    key: str
    faces: list[FaceCrop] = field(default_factory=list)
    skipped: str | None = None  # reason when the photo gave no face
    notes: list[str] = field(default_factory=list)  # per-face skips and fallbacks


_DETECTOR = None  # one per worker process


def _detector(kind: str):
    global _DETECTOR
    if _DETECTOR is None or _DETECTOR.kind != kind:
        from photoface.data.prepare.faces import FaceFinder

        _DETECTOR = FaceFinder(kind)
    return _DETECTOR


def _find_mask(masks_dir: Path, key: str) -> Path | None:
    rel = Path(key)
    for cand in [masks_dir / rel] + [masks_dir / rel.with_suffix(s) for s in IMAGE_SUFFIXES]:
        if cand.is_file():
            return cand
    return None


def _crop_face(photo, lm_loaded: np.ndarray, options: PrepareOptions, mask_src: np.ndarray | None):
    size = options.image_size
    transform = alignment_transform(lm_loaded / photo.scale, size)  # original → crop
    loaded_to_crop = np.concatenate([transform[:, :2] / photo.scale, transform[:, 2:]], axis=1)
    crop = warp_image(photo.rgb, loaded_to_crop, size)
    lm_crop = apply_transform(loaded_to_crop, lm_loaded)
    valid = valid_region(photo.rgb.shape, loaded_to_crop, size)
    if mask_src is not None:
        mask = warp_mask(mask_src, transform, size) & valid
    else:
        mask = face_mask(crop, lm_crop, valid)
    return transform, crop, lm_crop, mask


def process_photo(task: PhotoTask, options: PrepareOptions, photo: LoadedPhoto | None = None) -> PhotoResult:
    """Everything for one photo; never raises for a problem with the photo itself. ``photo``: the
    photo already loaded as this loads it (``load_photo(task.path, max_side=LOAD_SIDE)``), so a
    caller that keeps it does not decode it twice."""
    result = PhotoResult(task.key)
    if photo is None:
        try:
            photo = load_photo(task.path, max_side=LOAD_SIDE)
        except InputFileError as exc:
            result.skipped = exc.problem
            return result
    mask_src = None
    if options.masks_dir is not None:
        mpath = _find_mask(Path(options.masks_dir), task.key)
        if mpath is None:
            result.notes.append("no precomputed mask found; computed mask used")
        else:
            try:
                mask_photo = load_photo(mpath)
                if mask_photo.original_size != photo.original_size:
                    raise InputFileError(mpath, f"mask is {mask_photo.original_size}, photo is {photo.original_size}")
                mask_src = mask_photo.rgb[..., 0]
            except InputFileError as exc:
                result.notes.append(f"unusable mask {mpath.name} ({exc.problem}); computed mask used")
    try:
        if task.landmarks is not None:
            given = np.asarray(task.landmarks, np.float64) * photo.scale
            faces = [Face(given, np.concatenate([given.min(0), given.max(0)]), "given")]
        else:
            found, fallback = _detector(options.detector).find(photo.rgb, None if options.all_faces else 1)
            if not found:
                result.skipped = "no face found"
                return result
            if fallback:
                result.notes.append(fallback)
            faces = []
            for i, face in enumerate(found):
                size_px = face.size / photo.scale
                if size_px < options.min_face:
                    result.notes.append(f"face {i}: too small ({size_px:.0f} px < {options.min_face:.0f} px)")
                    continue
                faces.append(face)
            if not faces:
                result.skipped = "; ".join(result.notes) or "no usable face"
                result.notes = []
                return result
        for i, face in enumerate(faces):
            transform, crop, lm_crop, mask = _crop_face(photo, face.landmarks, options, mask_src)
            loaded_to_crop = np.concatenate([transform[:, :2] / photo.scale, transform[:, 2:]], axis=1)
            points = None if face.points is None else apply_transform(loaded_to_crop, face.points)
            pose = None if face.pose is None else transform_pose(face.pose, loaded_to_crop)
            result.faces.append(FaceCrop(i, crop, mask, lm_crop, transform, face.detector, points, pose,
                                         face.blendshapes))
    except Exception as exc:  # one bad photo must not end a long run: report it instead
        result.faces = []
        last = traceback.extract_tb(exc.__traceback__)[-1]
        result.skipped = f"internal error {type(exc).__name__}: {exc} (at {Path(last.filename).name}:{last.lineno})"
    return result


def _parallel(todo: list[PhotoTask], options: PrepareOptions, executor) -> Iterator[PhotoResult]:
    """Results in completion order, with at most 4 photos per worker in flight (bounded memory).

    A worker that dies (killed for memory, a crash inside dlib) breaks the pool; that is reported
    as an error naming the photos in flight, and the journal keeps everything finished so far."""
    pending: dict = {}
    queue = iter(todo)
    window = 4 * options.workers
    while True:
        while len(pending) < window:
            task = next(queue, None)
            if task is None:
                break
            pending[executor.submit(process_photo, task, options)] = task.key
        if not pending:
            return
        done, _ = wait(pending, return_when=FIRST_COMPLETED)
        for fut in done:
            key = pending.pop(fut)
            try:
                yield fut.result()
            except BrokenProcessPool:
                keys = ", ".join(sorted([key, *pending.values()]))
                raise PhotofaceError(
                    f"a worker process died while preparing one of: {keys} (out of memory?); "
                    "re-run to resume, with --workers 1 to find the photo") from None


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("._") or "x"


def output_names(task: PhotoTask, face: int) -> tuple[str, str]:
    """Relative (image, mask) paths for face ``face`` of a photo."""
    digest = hashlib.sha1(task.key.encode("utf-8")).hexdigest()[:8]
    stem = f"{_slug(task.identity)}/{_slug(Path(task.key).stem)}-{digest}_{face}"
    return f"images/{stem}.jpg", f"masks/{stem}.png"


def _row(task: PhotoTask, face: FaceCrop) -> DatasetRow:
    image, mask = output_names(task, face.index)
    labels = dict(task.labels)
    if "pose" in labels:
        labels["pose"] = transform_pose(labels["pose"], face.transform)
    extra = {k: np.asarray(v).tolist() for k, v in labels.items() if k not in LABEL_KEYS}
    return DatasetRow(
        image=image, identity=task.identity, split=task.split, landmarks=face.landmarks,
        labeled=all(k in labels for k in LABEL_KEYS), mask=mask, source=str(Path(task.path).resolve()),
        crop_transform=face.transform, detector=face.detector,
        points=None if face.points is None else np.round(face.points, 3),  # 1/1000 px: a third of the index
        detector_pose=face.pose, blendshapes=face.blendshapes,
        alpha_id=_opt(labels.get("alpha_id")), alpha_exp=_opt(labels.get("alpha_exp")),
        pose=_opt(labels.get("pose")), extra=extra,
    )


def _opt(x):
    return None if x is None else np.asarray(x, np.float64)


def write_report(out_dir: Path, writer: DatasetWriter, notes: dict[str, list[str]]) -> Path:
    lines = ["# photo\treason  (photos and faces skipped, and fallbacks used; all runs)"]
    for key, reason in sorted(writer.skipped().items()):
        lines.append(f"{key}\tskipped: {reason}")
    for key in sorted(notes):
        lines.extend(f"{key}\t{note}" for note in notes[key])
    return write_atomic(out_dir / REPORT_FILE, "\n".join(lines) + "\n")


def run_prepare(
    tasks: list[PhotoTask], out_dir: str | Path, options: PrepareOptions, meta: DatasetMeta,
    progress: bool = True,
) -> PreparedDataset:
    """Prepare ``tasks`` into ``out_dir`` (resuming a previous run there); returns the dataset."""
    from tqdm import tqdm

    out_dir = Path(out_dir)
    if options.image_size < 32:
        raise PhotofaceError(f"--size must be at least 32 px, got {options.image_size}")
    writer = DatasetWriter(out_dir, meta)
    notes: dict[str, list[str]] = read_report(out_dir)[1]
    todo = [t for t in tasks if not writer.is_done(t.key)]
    by_key = {t.key: t for t in todo}
    executor = None
    try:
        if options.workers > 1 and len(todo) > 1:
            executor = ProcessPoolExecutor(min(options.workers, len(todo)),
                                           mp_context=multiprocessing.get_context("spawn"))
            results = _parallel(todo, options, executor)
        else:
            results = (process_photo(t, options) for t in todo)
        bar = tqdm(results, total=len(todo), desc="prepare", unit="photo", disable=not progress)
        for res in bar:
            task = by_key[res.key]
            for face in res.faces:
                writer.add(_row(task, face), image=face.image, mask=face.mask, key=f"{task.key}#{face.index}")
            if res.notes:
                notes[res.key] = res.notes
            writer.mark_done(res.key, skipped=res.skipped)
            bar.set_postfix(faces=len(writer.rows), skipped=len(writer.skipped()), refresh=False)
    except BaseException:
        writer.abort()
        write_report(out_dir, writer, notes)
        raise
    finally:
        if executor is not None:
            executor.shutdown(wait=True, cancel_futures=True)
    dataset = writer.close()
    write_report(out_dir, writer, notes)
    return dataset


def read_report(out_dir: str | Path) -> tuple[dict[str, str], dict[str, list[str]]]:
    """``DIR/prepare_report.tsv`` read back: ({photo key: why it was skipped}, {photo key: notes});
    both empty when there is no report."""
    skipped: dict[str, str] = {}
    notes: dict[str, list[str]] = {}
    path = Path(out_dir) / REPORT_FILE
    if path.is_file():
        for line in path.read_text(encoding="utf-8").splitlines()[1:]:
            key, _, note = line.partition("\t")
            if note.startswith("skipped: "):
                skipped[key] = note.removeprefix("skipped: ")
            elif note:
                notes.setdefault(key, []).append(note)
    return skipped, notes


def prepare_photos(photos: str | Path, out_dir: str | Path, options: PrepareOptions | None = None,
                   progress: bool = True) -> PreparedDataset:
    """``photoface prepare PHOTOS --out DIR``: a folder of person folders or a list file."""
    options = options or PrepareOptions()
    tasks = collect_tasks(photos)
    meta = DatasetMeta(image_size=options.image_size, source="photos", extra={"photos": str(Path(photos).resolve())})
    return run_prepare(tasks, out_dir, options, meta, progress=progress)
