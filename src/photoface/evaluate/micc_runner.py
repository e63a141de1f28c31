"""MICC Florence benchmark runner: videos → face crops → meshes → protocol error against the scans.

Per subject (``micc.find_subjects``) and per video setting (cooperative, indoor, outdoor):

1. frames: at most ``max_frames`` per video, spread evenly over it (the frame count of a frame
   folder, or of a Motion-JPEG file by splitting it without decoding; other video files: every
   ``DEFAULT_STEP``-th frame);
2. face crops exactly as ``photoface prepare`` makes them (``photoface.data``): its face detector
   (MediaPipe, dlib where MediaPipe finds no face; ``detector``), the largest face's 68 landmarks, similarity alignment to the training crop
   (``align.alignment_transform``), ``align.warp_image``; frames without a face are skipped;
3. every method on the video's crops (``runner``: the model, the baselines, a shape-supervised
   run); the ``landmark_fit`` baseline uses the detected landmarks;
4. the two modes (``runner.group_mesh``): ``identity`` (identity codes of all the video's frames
   averaged, decoded neutral) and ``three_views`` (left / frontal / right frames, neutral meshes
   averaged). The three views are chosen ONCE per video from the yaw of a landmark fit of the
   linear face model (``baselines.fit_landmarks``), so every method is scored on the same frames;
5. the protocol against the subject's scan (``protocol.evaluate_mesh``: 95 mm crop around the
   scan's estimated nose tip, initial alignment of the prediction's nose tip onto it, ICP with
   scale, symmetric point-to-surface mm).

Results: mean ± std over subjects per mode and setting (``micc.aggregate_records``), Table 1 of the
paper; a video without any detected face counts as failed. Identity verification across subjects
uses the identity codes of at most ``VERIFICATION_FRAMES`` frames per video.
"""

from __future__ import annotations

import mmap
import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np
import torch

from photoface.data.prepare.align import alignment_transform, apply_transform, warp_image
from photoface.data.prepare.faces import DEFAULT_DETECTOR
from photoface.errors import InputFileError, PhotofaceError
from photoface.evaluate.baselines import fit_landmarks
from photoface.evaluate.benchmark import (
    BASELINES,
    benchmark_methods,
    check_methods,
    load_run,
    mesh_scorer,
    results_meta,
)
from photoface.evaluate.micc import aggregate_records, count_frames, find_subjects, load_scan
from photoface.evaluate.runner import MODES, group_mesh, verification_summary
from photoface.evaluate.video import MJPEG_SUFFIXES, iter_frames, split_mjpeg
from photoface.pixels import from_uint8

DEFAULT_STEP = 10
VERIFICATION_FRAMES = 5
ERRORS = ("symmetric_mm", "scan_to_pred_mm", "pred_to_scan_mm")


def frame_step(source: Path, max_frames: int) -> int:
    """Step between sampled frames so that ``max_frames`` spread over the whole video."""
    source = Path(source)
    total = count_frames(source)
    if total is None and source.suffix.lower() in MJPEG_SUFFIXES and source.stat().st_size > 0:
        with open(source, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as data:
            total = sum(1 for _ in split_mjpeg(data))
    if total is None:
        return DEFAULT_STEP
    return max(1, -(-total // max_frames))


def face_landmarker(detector: str = DEFAULT_DETECTOR) -> Callable[[np.ndarray], np.ndarray | None]:
    """frame (H, W, 3) uint8 → (68, 2) px landmarks of the largest face, or None, found as
    ``photoface prepare`` finds faces (``photoface.data.prepare.faces.FaceFinder``: MediaPipe, dlib
    where it finds none; or a dlib detector by name)."""
    from photoface.data.prepare.faces import FaceFinder  # loads MediaPipe or dlib only when used

    finder = FaceFinder(detector)

    def run(frame: np.ndarray):
        found, _ = finder.find(frame, max_faces=1)
        return found[0].landmarks if found else None

    return run


def face_crops(frames, landmarker, image_size: int) -> tuple[torch.Tensor, np.ndarray, list[int]]:
    """Aligned crops of the frames that have a face.

    Args:
        frames: iterable of (frame index, (H, W, 3) uint8).
        landmarker: frame → (68, 2) px or None.

    Returns:
        crops (N, 3, S, S) in [0, 1], landmarks (N, 68, 2) crop px, frame indices (N,).
    """
    crops, lms, kept = [], [], []
    for index, frame in frames:
        lm = landmarker(frame)
        if lm is None:
            continue
        t = alignment_transform(lm, image_size)
        crops.append(from_uint8(warp_image(frame, t, image_size)))
        lms.append(apply_transform(t, lm))
        kept.append(int(index))
    if not crops:
        return torch.zeros(0, 3, image_size, image_size), np.zeros((0, 68, 2)), []
    return torch.stack(crops), np.stack(lms), kept


def evaluate_micc(
    checkpoint: str | Path,
    data: str | Path,
    *,
    baselines: Sequence[str] = BASELINES,
    shape_supervised: str | Path | None = None,
    max_frames: int = 30,
    modes: Sequence[str] = MODES,
    detector: str = DEFAULT_DETECTOR,
    max_subjects: int | None = None,
    device: str = "cpu",
    batch_size: int = 32,
    landmarker: Callable[[np.ndarray], np.ndarray | None] | None = None,
    protocol_options: dict | None = None,
) -> dict:
    """Run the MICC Florence benchmark (module docstring); returns JSON-ready results.

    Args:
        checkpoint: the model's run folder or checkpoint.
        data: the MICC root (``subject_*`` folders, or a folder holding ``Florence/``).
        baselines, shape_supervised: as for :func:`photoface.evaluate.synthetic.evaluate_synthetic`.
        max_frames: frames per video.
        modes: "identity" and/or "three_views".
        detector: face detector (``photoface.data.prepare.faces.DETECTORS``; default MediaPipe, dlib
            where it finds no face), unless ``landmarker`` is given.
        max_subjects: only the first subjects.
        landmarker: frame → 68 landmarks (px) or None; replaces dlib (tests, other detectors).
        protocol_options: keyword arguments for ``protocol.evaluate_mesh``.
    """
    t0 = time.perf_counter()
    baselines, modes = list(baselines), list(modes)
    check_methods(baselines, modes)
    if max_frames < 1:
        raise PhotofaceError(f"max_frames must be at least 1, got {max_frames}")
    subjects = find_subjects(data)[:max_subjects]
    trained = load_run(checkpoint, device, "model")
    size = trained.image_size
    methods = benchmark_methods(trained, batch_size=batch_size, baselines=baselines,
                                shape_supervised=shape_supervised, device=device)
    detector_used = "given landmarker" if landmarker is not None else detector
    landmarker = landmarker or face_landmarker(detector)
    fm = trained.face_model
    scorer = mesh_scorer(fm, protocol_options)
    records = {m.name: [] for m in methods}
    codes = {m.name: [] for m in methods}
    skipped, frames_used = [], {}
    for subject in subjects:
        try:
            scan_v, scan_f = load_scan(subject.scan())
        except InputFileError as exc:
            skipped.append(f"{subject.name}: {exc}")
            continue
        for setting, source in subject.videos.items():
            crops, lms, kept = face_crops(iter_frames(source, frame_step(source, max_frames), max_frames),
                                          landmarker, size)
            frames_used[f"{subject.name}/{setting}"] = len(kept)
            tag = {"subject": subject.name, "setting": setting}
            if not kept:
                for m in methods:
                    records[m.name] += [{**tag, "mode": mode, "frames": [], **{k: np.nan for k in ERRORS}}
                                        for mode in modes]
                continue
            yaw = fit_landmarks(fm, lms).pose[:, 1]
            pick = np.unique(np.linspace(0, len(kept) - 1, min(VERIFICATION_FRAMES, len(kept))).round().astype(int))
            for m in methods:
                with torch.no_grad():
                    out = m.predict(crops, lms)
                for mode in modes:
                    mesh, used = group_mesh(out, range(len(kept)), mode, yaw_deg=yaw)
                    s = scorer.score(mesh, subject.name, scan_v, scan_f)
                    records[m.name].append({**tag, "mode": mode, "frames": [kept[i] for i in used],
                                            **{k: s[k] for k in ERRORS}})
                if out.id_code is not None:
                    codes[m.name] += [(out.id_code[i], subject.name) for i in pick]
    result: dict = {}
    for m in methods:
        entry = {"shape_mm": aggregate_records(records[m.name]),
                 "shape_scan_to_pred_mm": aggregate_records(records[m.name], "scan_to_pred_mm"),
                 "records": records[m.name]}
        if codes[m.name]:
            ver = verification_summary(np.stack([c for c, _ in codes[m.name]]), [s for _, s in codes[m.name]])
            if ver is not None:
                entry["verification"] = ver
        result[m.name] = entry
    result["meta"] = results_meta(
        "micc", data, trained, t0, subjects=len(subjects), skipped=skipped, frames_per_video=frames_used,
        max_frames=max_frames, modes=modes, detector=detector_used,
        protocol="95 mm crop around the scan's estimated nose tip; nose-tip then ICP alignment with isotropic "
                 "scale; symmetric mean point-to-surface distance (mm)",
        views_chosen_by="yaw of a landmark fit of the linear face model", protocol_runs=scorer.evaluations)
    return result
