"""The synthetic benchmark: held-out synthetic identities with true 3D shapes (``photoface synth``).

Data: the ``test`` rows of a synthetic prepared dataset. Each test identity has photos in the
three difficulty settings (cooperative, indoor, outdoor), a true mesh per photo (expression
included) and a neutral frontal "scan" (``scans/<id>.npy``, the identity's true neutral mesh).
The dataset must have been generated with the run's face model (same content hash), so that
predictions and truths share their topology.

Numbers per method (``model``, the baselines ``mean_face`` and ``landmark_fit``, and
``shape_supervised`` when such a run is given), per setting:

* ``shape_mm`` — the MICC-style protocol (``photoface.evaluate.protocol``) against the scan, per
  identity × setting, in the modes of :mod:`photoface.evaluate.runner` (default: ``identity``, the
  identity codes of all the setting's photos averaged and decoded neutral; ``three_views`` on
  request). The left / frontal / right photos are chosen by their TRUE yaw, so every method is
  scored on the same three photos. The 68 landmark vertices give the initial alignment, then ICP
  with scale; the symmetric mean point-to-surface distance is the headline; ``scan_to_pred`` too.
  Mean ± std over identities.
* ``photo_mm`` — every photo's predicted shape (with its expression) against that photo's true
  mesh, by known vertex correspondence after a similarity alignment within the 95 mm crop
  (``runner.dense_errors``): cheap, so it covers every photo.
* ``expression_mm`` — the expression alone: (shape − neutral shape) of the prediction against
  (true mesh − scan), mean vertex distance (``shape_metrics.expression_error``).
* ``pose_deg`` — mean absolute pitch, yaw, roll error against the rendering pose.
* ``landmark_nme`` — the 68 projected landmarks against the exact projections, normalised by
  sqrt(w·h) of the true landmark box (a fraction).
* ``verification`` — identity verification over all pairs of test photos from identity codes
  (cosine): ROC, TAR@FAR, EER, and the balanced accuracy at a threshold calibrated on other
  identities (``runner.verification_summary``). For the model, the threshold calibrated on all pairs is
  written to ``RUN/verification.json`` for ``photoface verify``.

Speed: the protocol costs about 1–2 s per mesh at the demo model's 4.8k vertices on one CPU
core, so it runs once per identity × setting × mode (the per-identity average), not per photo;
with 30 test identities, the default mode and both baselines that is ~210 protocol runs (the
mean face repeats and is scored once per identity). ``max_photos`` bounds the photos per identity
and setting (the first ones by file order).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from photoface.data.format import SETTINGS, load_dataset
from photoface.errors import InputFileError, PhotofaceError
from photoface.evaluate.benchmark import (
    BASELINES,
    FIT_METHODS,
    NETWORK_FIT_METHODS,
    baseline_methods,
    benchmark_methods,
    check_methods,
    load_run,
    mesh_scorer,
    results_meta,
    run_folder,
)
from photoface.evaluate.micc import aggregate_records
from photoface.evaluate.nme import landmark_nme
from photoface.evaluate.runner import (
    MeshScorer,
    by_group,
    dense_errors,
    group_meshes,
    verification_summary,
)
from photoface.evaluate.shape_metrics import expression_error, pose_errors
from photoface.facemodel import hash_mismatch_advice
from photoface.jsonfile import write_json
from photoface.run.layout import verification_path


class SyntheticBenchmark:
    """The test rows of a synthetic dataset with their ground truth, loaded once.

    Attributes: rows, images (N, 3, S, S), landmarks (N, 68, 2) the rows' (noisy) landmarks,
    landmarks_true (N, 68, 2), pose_true (N, 6), true_mesh (N, V, 3), scans {identity: (V, 3)},
    settings (N,), identities (N,), groups {(identity, setting): [photo indices]}.
    """

    def __init__(self, data: str | Path, max_photos: int | None = None, face_model_hash: str | None = None,
                 max_identities: int | None = None):
        root = Path(data)
        ds = load_dataset(root)
        test = ds.filter(split="test")
        if len(test) == 0:
            raise InputFileError(root, "has no test rows: the synthetic benchmark needs held-out identities "
                                 "(photoface synth --test-fraction > 0)")
        for r in test.rows:
            if r.true_mesh is None or r.setting is None or "scan" not in r.extra:
                raise InputFileError(root, f"{r.image} lacks true_mesh / setting / scan: not a synthetic "
                                     "benchmark dataset (make one with photoface synth)")
        if face_model_hash is not None and ds.meta.face_model_hash not in (None, face_model_hash):
            raise PhotofaceError(
                f"{root}: generated with face model {ds.meta.face_model!r} (hash {ds.meta.face_model_hash[:12]}), "
                f"but the run uses another face model (hash {face_model_hash[:12]}); generate the test data "
                "with the run's face model (photoface synth --model ...)."
                + hash_mismatch_advice(ds.meta.face_model, ds.meta.face_model_hash))
        if max_photos is not None and max_photos < 1:
            raise PhotofaceError(f"max_photos must be at least 1, got {max_photos}")
        rows, count = [], {}
        kept = list(dict.fromkeys(r.identity for r in test.rows))[:max_identities]
        for r in test.rows:
            if r.identity not in kept:
                continue  # max_identities: the first test identities only
            key = (r.identity, r.setting)
            if max_photos is None or count.get(key, 0) < max_photos:
                count[key] = count.get(key, 0) + 1
                rows.append(r)
        self.root, self.dataset, self.rows = root, ds, rows
        self.image_size = ds.meta.image_size
        self.images = torch.stack([ds.load_image(r) for r in rows])
        self.landmarks = np.stack([r.landmarks for r in rows])
        self.landmarks_true = np.stack([np.asarray(r.extra.get("landmarks_true", r.landmarks), np.float64)
                                        for r in rows])
        poses = [r.extra.get("pose_true", None if r.pose is None else r.pose.tolist()) for r in rows]
        self.pose_true = None if any(p is None for p in poses) else np.asarray(poses, np.float64)
        self.true_mesh = np.stack([ds.load_true_mesh(r).numpy() for r in rows])
        self.scans = {}
        for r in rows:
            if r.identity not in self.scans:
                path = root / r.extra["scan"]
                try:
                    self.scans[r.identity] = np.load(path, allow_pickle=False).astype(np.float64)
                except (OSError, ValueError) as exc:
                    raise InputFileError(path, f"cannot read scan ({exc})") from None
                if self.scans[r.identity].shape != self.true_mesh.shape[1:]:
                    raise InputFileError(path, f"scan has shape {self.scans[r.identity].shape}, the true "
                                         f"meshes {self.true_mesh.shape[1:]}")
        self.settings = [r.setting for r in rows]
        self.identities = [r.identity for r in rows]
        self.groups: dict[tuple[str, str], list[int]] = {}
        for i, r in enumerate(rows):
            self.groups.setdefault((r.identity, r.setting), []).append(i)
        self.setting_order = [s for s in SETTINGS if s in self.settings] + \
            sorted(set(self.settings) - set(SETTINGS))

    def scan_of_photos(self) -> np.ndarray:
        """(N, V, 3) the scan of each photo's identity."""
        return np.stack([self.scans[i] for i in self.identities])


def score_method(bench: SyntheticBenchmark, out, scorer: MeshScorer, landmarks68: np.ndarray,
                 modes: Sequence[str]) -> dict:
    """Every number of the module docstring for one method's output on ``bench``."""
    lm = np.asarray(landmarks68)
    yaw = None if bench.pose_true is None else bench.pose_true[:, 1]
    records = []
    keys = list(bench.groups)
    for mode in modes:
        meshes = group_meshes(out, [bench.groups[k] for k in keys], mode, yaw_deg=yaw)
        for (ident, setting), (mesh, used) in zip(keys, meshes):
            scan = bench.scans[ident]
            s = scorer.score(mesh, ident, scan, scorer.faces, scan_landmarks=scan[lm], scan_nose_tip=scan[lm[30]])
            records.append({"identity": ident, "setting": setting, "mode": mode, "photos": len(used),
                            **{k: s[k] for k in ("symmetric_mm", "scan_to_pred_mm", "pred_to_scan_mm")}})
    order = bench.setting_order
    res = {
        "shape_mm": _ordered(aggregate_records(records), modes),
        "shape_scan_to_pred_mm": _ordered(aggregate_records(records, "scan_to_pred_mm"), modes),
        "photo_mm": by_group(dense_errors(out.shape, bench.true_mesh, lm), bench.settings, order),
        "expression_mm": by_group(expression_error(out.shape, out.neutral, bench.true_mesh, bench.scan_of_photos()),
                                  bench.settings, order),
    }
    if out.pose is not None and bench.pose_true is not None:
        s = np.asarray(bench.settings)
        res["pose_deg"] = {g: pose_errors(out.pose[s == g], bench.pose_true[s == g]) for g in order}
    if out.landmarks2d is not None:
        res["landmark_nme"] = by_group(landmark_nme(out.landmarks2d, bench.landmarks_true), bench.settings, order)
    if out.id_code is not None:
        ver = verification_summary(out.id_code, bench.identities)
        if ver is not None:
            res["verification"] = ver
    res["records"] = records
    return res


def _ordered(by_mode: dict, modes: Sequence[str]) -> dict:
    return {m: by_mode[m] for m in modes if m in by_mode}


def predict(method, bench: SyntheticBenchmark):
    """One method's ``MethodOutput`` on the benchmark's photos; collection fits also get the
    identities, masks and landmark visibility."""
    if getattr(method, "needs_collection", False):
        masks = torch.stack([bench.dataset.load_mask(r) for r in bench.rows])
        visible = None if any(r.visible is None for r in bench.rows) else np.stack([r.visible for r in bench.rows])
        return method.predict(bench.images, bench.landmarks, identities=bench.identities, masks=masks,
                              visible=visible)
    with torch.no_grad():
        return method.predict(bench.images, bench.landmarks)


def _face_model(data, spec: str | None):
    """(model, content hash) from ``spec`` or, when None, the face model named in the dataset's meta.json."""
    from photoface.facemodel import load_face_model, model_hash

    if spec is None:
        spec = load_dataset(data, check_files=False).meta.face_model
        if spec is None:
            raise PhotofaceError(f"{data}: meta.json names no face model; pass one (--model)")
    model = load_face_model(spec)
    return model, model_hash(model)


def evaluate_synthetic(
    checkpoint: str | Path | None,
    data: str | Path,
    *,
    face_model: str | None = None,
    fit_config=None,
    baselines: Sequence[str] = BASELINES,
    shape_supervised: str | Path | None = None,
    max_photos: int | None = None,
    max_identities: int | None = None,
    modes: Sequence[str] = ("identity",),
    neutral: str = "zero",
    device: str = "cpu",
    batch_size: int = 32,
    write_verification: bool = True,
    protocol_options: dict | None = None,
) -> dict:
    """Run the synthetic benchmark (module docstring) and return its JSON-ready results.

    Args:
        checkpoint: the run folder or checkpoint file of the model; None scores the baselines
            alone, with ``face_model`` (default: the dataset's, from its meta.json).
        data: a synthetic prepared dataset with test identities.
        face_model: face-model spec (``.npz`` or ``builtin:demo``) when there is no checkpoint.
        fit_config: ``photoface.fit.FitConfig`` for the ``fit`` methods (default values when None).
        baselines: any of "mean_face", "landmark_fit", "fit", "fit_single", and "refine" (the model
            refined per person, ``photoface.evaluate.refine_method``; needs ``checkpoint``).
        shape_supervised: a run trained with only the shape losses, scored as ``shape_supervised``.
        max_photos: at most this many photos per identity and setting.
        max_identities: only the first this many test identities (e.g. to bound the fits' time).
        modes: "identity" and/or "three_views".
        neutral: the network's neutral expression code, "zero" or "mean" (``runner``).
        write_verification: write ``RUN/verification.json`` (the model's calibrated threshold).
        protocol_options: keyword arguments for ``protocol.evaluate_mesh`` (e.g. ``max_iterations``).

    Returns:
        {"meta": {...}, "model": {...}, "mean_face": {...}, ...} (see docs/evaluation.md).
    """
    t0 = time.perf_counter()
    baselines, modes = list(baselines), list(modes)
    check_methods(baselines, modes, extra=FIT_METHODS + NETWORK_FIT_METHODS)
    if checkpoint is None and any(b in NETWORK_FIT_METHODS for b in baselines):
        raise PhotofaceError("the refine method refines a trained run: give --checkpoint too")
    fits = [b for b in baselines if b in FIT_METHODS]
    others = [b for b in baselines if b not in FIT_METHODS]
    if checkpoint is not None:
        trained = load_run(checkpoint, device, "model")
        fm, fm_hash = trained.face_model, trained.face_model_hash
    else:
        if shape_supervised is not None:
            raise PhotofaceError("--shape-supervised is scored next to a model: give --checkpoint too")
        trained = None
        fm, fm_hash = _face_model(data, face_model)
    bench = SyntheticBenchmark(data, max_photos, fm_hash, max_identities)
    if bench.true_mesh.shape[1] != fm.num_vertices:
        raise PhotofaceError(f"{data}: true meshes have {bench.true_mesh.shape[1]} vertices, the face model "
                             f"{fm.num_vertices}; generate the test data with the same face model")
    if trained is not None:
        methods = benchmark_methods(trained, batch_size=batch_size, baselines=others, image_size=bench.image_size,
                                    shape_supervised=shape_supervised, device=device, neutral=neutral,
                                    fit_config=fit_config)
    else:
        methods = baseline_methods(others, fm, bench.image_size)
    methods += baseline_methods(fits, fm, bench.image_size, fit_config)
    if not methods:
        raise PhotofaceError("nothing to evaluate: give a checkpoint or at least one baseline")
    scorer = mesh_scorer(fm, protocol_options)
    result: dict = {}
    seconds = {}
    for method in methods:
        t = time.perf_counter()
        out = predict(method, bench)
        seconds[method.name] = round(time.perf_counter() - t, 1)
        result[method.name] = score_method(bench, out, scorer, scorer.landmarks68, modes)
        if "failed" in out.extra:
            result[method.name]["failed_photos"] = int(np.sum(out.extra["failed"]))
    result["meta"] = results_meta(
        "synthetic", bench.root, trained, t0, stage=None if trained is None else trained.stage,
        face_model=fm.name, predict_seconds=seconds,
        shape_supervised=None if shape_supervised is None else str(Path(shape_supervised).resolve()),
        identities=len(bench.scans), photos=len(bench.rows),
        photos_per_setting={s: bench.settings.count(s) for s in bench.setting_order},
        modes=modes, neutral_expression=neutral, max_photos=max_photos,
        protocol="95 mm crop around the true nose tip; 68-landmark then ICP alignment with isotropic scale; "
                 "symmetric mean point-to-surface distance (mm)",
        views_chosen_by="true yaw", protocol_runs=scorer.evaluations)
    if trained is not None and write_verification and "verification" in result["model"]:
        path = write_verification_file(trained, result["model"]["verification"], bench)
        result["meta"]["verification_file"] = str(path)
    return result


def write_verification_file(trained, ver: dict, bench: SyntheticBenchmark) -> Path:
    """``RUN/verification.json`` (the calibrated threshold ``photoface verify`` reads), atomically."""
    run = run_folder(trained)
    data = {
        "threshold": ver["threshold"], "metric": "cosine", "eer": ver["eer"],
        "far_at_threshold": ver["far_at_threshold"], "tar_at_threshold": ver["tar_at_threshold"],
        "balanced_accuracy_at_threshold": ver["balanced_accuracy_at_threshold"],
        "balanced_accuracy_at_cross_calibrated_threshold": ver["accuracy"], "tar_at_far": ver["tar_at_far"],
        "threshold_rule": "maximises TAR - FAR (balanced accuracy) over all pairs",
        "dataset": str(bench.root.resolve()),
        "calibrated_on": f"all {ver['pairs']} pairs of {len(bench.rows)} test photos of {len(bench.scans)} "
                         f"held-out identities ({bench.root.resolve()})",
        "checkpoint": str(Path(trained.checkpoint).resolve()), "step": trained.step,
        # aligned synthetic crops with their true landmarks: no detector (photoface.apps.verify)
        "domain": {"kind": "synthetic", "detector": None},
    }
    return write_json(verification_path(run), data)
