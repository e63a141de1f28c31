"""Fitting photos of one face model's faces with another face model: the cross-model benchmark.

``photoface evaluate crossmodel --data DATASET --reference REF.npz --fit-model M``. DATASET is a
synthetic benchmark made from the reference (``photoface synth --model REF.npz --test-fraction
...``): photos of held-out people with their true meshes (per photo, with the expression) and
their true neutral meshes (``scans/``), all in the reference's topology. The model under test
``M`` is fitted to each held-out person's photos by ``photoface fit``'s library (one identity per
person; expression, pose and light per photo; ``photoface.evaluate.baselines.CollectionFit``),
and its meshes, in M's own topology, are scored against the truths with the face-space protocol
(``protocol.evaluate_face_pair``: 95 mm crop, 68-landmark similarity, rigid then similarity ICP,
symmetric point-to-surface mm), not vertex to vertex:

* ``photo_mm``: every photo's fitted mesh (with its fitted expression) against that photo's true
  mesh; mean ± standard error over photos;
* ``person_mm``: each person's fitted identity, neutral, against the true neutral mesh; mean ±
  standard error over people; with per-region errors on the reference's vertices
  (``region_errors``);
* the same numbers for two baselines on the same people: M's mean face (``model_mean``) and the
  reference's mean face (``reference_mean``, what a method that knows the reference's average
  but nothing about the person gets).

Landmarks (``--landmarks``): ``truth`` (default) gives the fit the dataset's landmarks, the
projections of the reference's own 68 landmark vertices; ``detected`` runs the real-photo pipeline
instead (``photoface.evaluate.detected_fit``: ``prepare``'s MediaPipe detection, its 478 points,
pose and blendshapes, the jaw on the silhouette, as ``photoface fit``). The reference's 68 points
are its own definition (e.g. where on the jaw line the 17 jaw points sit), not the fitted model's,
so ``truth`` mixes that definitional mismatch into the numbers while giving landmarks no detector
gives; ``detected`` is what a user's photos get. Photos where no face is found are missed: NaN
errors, counted in ``failed_photos`` and listed in ``meta["missed"]``.

With ``--fit-model REF.npz`` the fit uses the reference itself: the oracle, the best a fit from
these photos can do. Speed: the fits dominate (``photoface.fit``, seconds per photo at 128 px);
the protocol costs about a second per mesh (3 per photo, 3 per person).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from photoface.data.format import load_dataset
from photoface.errors import PhotofaceError
from photoface.evaluate.face_space import (
    PROTOCOL,
    check_landmarks,
    load_model_info,
    model_arrays,
    reference_regions,
)
from photoface.evaluate.micc import summarize_errors
from photoface.evaluate.protocol import evaluate_face_pair
from photoface.evaluate.region_errors import region_errors, signed_truth_errors, truth_normals

METHODS = ("fit", "model_mean", "reference_mean")
METHOD_LABELS = {"fit": "fit with the model under test (photoface fit)", "model_mean": "model's mean face",
                 "reference_mean": "reference's mean face"}
RESULTS_FILE = "crossmodel.json"
LANDMARKS = ("truth", "detected")


def _check_dataset(data, ref_info: dict) -> None:
    """PhotofaceError unless ``data`` was made by ``photoface synth`` from the reference."""
    meta = load_dataset(data, check_files=False).meta
    if meta.face_model_hash is not None and meta.face_model_hash != ref_info["hash"]:
        raise PhotofaceError(
            f"{data}: made with face model {meta.face_model!r} (hash {meta.face_model_hash[:12]}), not with the "
            f"reference {ref_info['name']!r} (hash {ref_info['hash'][:12]}); give the face model the dataset was "
            "synthesised from as --reference")


def evaluate_crossmodel(
    data: str | Path,
    reference,
    fit_model="builtin:demo",
    *,
    fit_config=None,
    max_identities: int | None = None,
    max_photos: int | None = None,
    out: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    protocol_options: dict | None = None,
    landmarks: str = "truth",
    detector: str | None = None,
) -> dict:
    """Run the benchmark of the module docstring.

    Args:
        data: a synthetic benchmark dataset made from ``reference`` (test rows with true meshes).
        reference: the dataset's face model (spec or ``MorphableModel``); its triangles and 68
            landmark vertices are those of the true meshes.
        fit_model: the face model fitted to the photos (spec or ``MorphableModel``).
        fit_config: ``photoface.fit.FitConfig`` (default values when None).
        max_identities: only the first this many held-out people; max_photos: at most this many
            photos per person and setting.
        out: when given, the results file (``.json``; the Markdown next to it).
        log: called with one line per person (progress).
        protocol_options: further ``protocol.evaluate_mesh`` keyword arguments (e.g. ``max_iterations``).
        landmarks: "truth" (the dataset's landmarks) or "detected" (``prepare`` then ``photoface
            fit``'s pipeline; module docstring). detector: prepare's detector for "detected"
            (default MediaPipe, dlib where it finds nothing).

    Returns:
        JSON-ready results: {"meta", "fit", "model_mean", "reference_mean", "people"}; each method
        has ``photo_mm`` and ``person_mm`` summaries (mean, std, sem, n) and ``regions``.
    """
    from photoface.evaluate.baselines import CollectionFit
    from photoface.evaluate.synthetic import SyntheticBenchmark, predict

    if landmarks not in LANDMARKS:
        raise PhotofaceError(f"landmarks must be one of {', '.join(LANDMARKS)}, got {landmarks!r}")
    t0 = time.perf_counter()
    ref, ref_info = load_model_info(reference)
    test, test_info = load_model_info(fit_model)
    check_landmarks(ref, "reference")
    check_landmarks(test, "fitted")
    _check_dataset(data, ref_info)
    bench = SyntheticBenchmark(data, max_photos, ref_info["hash"], max_identities)
    if bench.true_mesh.shape[1] != ref.num_vertices:
        raise PhotofaceError(f"{data}: true meshes have {bench.true_mesh.shape[1]} vertices, the reference "
                             f"{ref.num_vertices}; give the face model the dataset was synthesised from")
    r, m = model_arrays(ref), model_arrays(test)
    t_fit = time.perf_counter()
    missed: dict[int, str] = {}
    detected_meta: dict = {}
    if landmarks == "detected":
        from photoface.data.prepare.faces import DEFAULT_DETECTOR
        from photoface.evaluate.detected_fit import fit_detected

        detector = detector or DEFAULT_DETECTOR
        detected = fit_detected(bench, test, fit_config, detector)
        fit_shape, fit_neutral, failed = detected.shape, detected.neutral, detected.failed
        missed = detected.missed
        detected_meta = {"detector": detector, "detectors": detected.detectors,
                         "extra_faces": detected.extra_faces}
    else:
        out_fit = predict(CollectionFit(test, bench.image_size, fit_config), bench)
        fit_shape, fit_neutral = out_fit.shape, out_fit.neutral
        failed = np.asarray(out_fit.extra.get("failed", np.zeros(len(bench.rows), bool)))
    fit_seconds = time.perf_counter() - t_fit

    def score(pred: np.ndarray, faces, lm, truth: np.ndarray):
        return evaluate_face_pair(pred, faces, lm, truth, r["faces"], r["landmarks68"], **(protocol_options or {}))

    mean_of = {"model_mean": (m["mean"], m["faces"], m["landmarks68"]),
               "reference_mean": (r["mean"], r["faces"], r["landmarks68"])}
    photo = {k: np.full(len(bench.rows), np.nan) for k in METHODS}
    people = list(dict.fromkeys(bench.identities))
    person = {k: np.full(len(people), np.nan) for k in METHODS}
    signed = {k: np.full((len(people), ref.num_vertices), np.nan) for k in METHODS}
    records = []
    for p, ident in enumerate(people):
        idx = [i for i, x in enumerate(bench.identities) if x == ident]
        for i in idx:
            if i not in missed:
                photo["fit"][i] = score(fit_shape[i], m["faces"], m["landmarks68"], bench.true_mesh[i]).symmetric_mm
            for k, pred in mean_of.items():
                photo[k][i] = score(*pred, bench.true_mesh[i]).symmetric_mm
        scan = bench.scans[ident]
        normals = truth_normals(scan, r["faces"])
        # one identity per person: every fitted photo of the person carries the same neutral mesh
        fitted = [i for i in idx if i not in missed]
        preds = {"fit": (fit_neutral[fitted[0]], m["faces"], m["landmarks68"]) if fitted else None, **mean_of}
        rec = {"identity": ident, "photos": len(idx), "failed_photos": int(failed[idx].sum()),
               "missed_photos": len(idx) - len(fitted)}
        for k in METHODS:
            if preds[k] is None:  # every photo of the person missed: no identity to score
                rec[k] = {"person_mm": float("nan"), "photo_mm": float("nan")}
                continue
            res = score(*preds[k], scan)
            person[k][p] = res.symmetric_mm
            signed[k][p] = signed_truth_errors(res, normals)
            rec[k] = {"person_mm": res.symmetric_mm, "photo_mm": float(np.nanmean(photo[k][idx]))}
        records.append(rec)
        if log is not None:
            log(f"{ident}: " + ", ".join(f"{k} {rec[k]['person_mm']:.2f} mm (photos {rec[k]['photo_mm']:.2f})"
                                         for k in METHODS) + f" ({time.perf_counter() - t0:.0f} s)")
    regions = reference_regions(ref)
    results: dict = {k: {"photo_mm": summarize_errors(photo[k]), "person_mm": summarize_errors(person[k]),
                         "regions": region_errors(signed[k], regions)} for k in METHODS}
    results["fit"]["beats_reference_mean"] = int(np.sum(person["fit"] < person["reference_mean"]))
    results["people"] = records
    results["meta"] = {
        "benchmark": "crossmodel", "dataset": str(Path(data).resolve()), "reference": ref_info,
        "fit_model": test_info, "identities": len(people), "photos": len(bench.rows),
        "image_size": bench.image_size, "failed_photos": int(failed.sum()), "protocol": PROTOCOL,
        "landmarks": landmarks, "missed": {bench.rows[i].image: why for i, why in sorted(missed.items())},
        **detected_meta,
        "fit_seconds": round(fit_seconds, 1), "seconds": round(time.perf_counter() - t0, 1),
    }
    if out is not None:
        from photoface.evaluate.results_files import write_results

        write_results(results, out)
    return results
