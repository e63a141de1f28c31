"""How human is a face model: its faces measured against a reference face model's faces in 3D.

``photoface evaluate face-space --reference REF.npz --model M``. The reference is a face model
built from real scans (e.g. ICT-FaceKit imported by ``photoface model import-ict``); the model
under test is any face model (a ``.npz`` file or ``builtin:demo`` / ``builtin:paper``).

Data: N neutral reference identities, ``mean + Σ_k c_k id_basis[k]`` with c ~ N(0, 1), drawn
from ``numpy.random.default_rng(seed)`` (so the same N and seed give the same faces everywhere).

Protocol (``protocol.evaluate_face_pair``): each reference face is the truth, cropped to 95 mm
around its nose tip (landmark 30); the prediction is aligned by a 68-landmark similarity, then a
rigid ICP, then a similarity ICP; ``sym`` = the mean of the two mean point-to-surface distances
(prediction → truth and truth → prediction), mm. Predictions:

* ``reference_mean``: the reference's own mean face, how far real faces lie from the real
  average; the number to beat;
* ``model_mean``: the mean face of the model under test;
* ``registration_floor``: the model's identity space registered in 3D to each face
  (``registration.register_identity``: ICP + ridge on the identity coefficients, λ = 1e-2), the
  floor of any reconstruction with the model; ``max_abs_coefficient`` shows when the fit had to
  leave the model's face space to get there.

Each is reported as mean ± standard error over identities, with per-region errors on the
reference's vertices (``region_errors``: nose, brows, eyes, forehead, cheeks, lips, chin, jaw;
signed: + means the model's surface lies in front of the real one) and a PNG of the signed error
averaged over identities, drawn on the reference's mean face.

Speed (ICT-FaceKit's 6.7k-vertex narrow face vs the built-in demo model, one thread, on this
project's shared 2-core machine): 171 s of CPU time for 20 identities, half of it the three
protocol scores per identity, the rest the registration (docs/evaluation.md).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from photoface.errors import PhotofaceError
from photoface.evaluate.micc import summarize_errors
from photoface.evaluate.protocol import CROP_RADIUS_MM, evaluate_face_pair
from photoface.evaluate.region_errors import (
    mean_over_faces,
    region_errors,
    signed_truth_errors,
    truth_normals,
)
from photoface.evaluate.registration import DEFAULT_RIDGE, register_identity

METHODS = ("reference_mean", "model_mean", "registration_floor")
METHOD_LABELS = {
    "reference_mean": "Reference's own mean face",
    "model_mean": "Model's mean face",
    "registration_floor": "Model's identity space registered in 3D (ICP + ridge): the floor",
}
RESULTS_FILE = "face_space.json"
FIGURE_FILE = "face_space_errors.png"
PROTOCOL = ("95 mm crop around the true nose tip; 68-landmark similarity, then rigid ICP, then similarity ICP; "
            "sym = mean of the two mean point-to-surface distances (mm)")


def load_model_info(spec):
    """A MorphableModel from a spec (``.npz`` path or ``builtin:...``) or a model as is, with its
    name for the results."""
    from photoface.facemodel import face_model_name, load_face_model, model_hash

    if isinstance(spec, (str, Path)):
        model = load_face_model(spec)
        return model, {"spec": str(spec), "name": face_model_name(spec), "hash": model_hash(model)}
    return spec, {"spec": None, "name": spec.name, "hash": model_hash(spec)}


def model_arrays(model) -> dict:
    """numpy float64 / int64 copies of what the benchmark reads from a model."""
    return {"mean": model.mean.detach().cpu().double().numpy(),
            "id_basis": model.id_basis.detach().cpu().double().numpy(),
            "faces": model.faces.detach().cpu().numpy().astype(np.int64),
            "landmarks68": model.landmarks68.detach().cpu().numpy().astype(np.int64)}


def sample_identities(model, count: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``count`` neutral faces of ``model``: coefficients (count, K) ~ N(0, 1) from
    ``default_rng(seed)`` and the faces (count, V, 3) mm, float64."""
    if count < 1:
        raise PhotofaceError(f"need at least one identity, got {count}")
    a = model_arrays(model)
    coeffs = np.random.default_rng(seed).standard_normal((count, len(a["id_basis"])))
    faces = a["mean"][None] + np.tensordot(coeffs, a["id_basis"], axes=1)
    return coeffs, faces


def check_landmarks(model, what: str) -> None:
    """PhotofaceError unless ``model`` (the ``what`` one) has the 68 landmark vertices the protocol aligns by."""
    if model.landmarks68.numel() != 68:
        raise PhotofaceError(f"the {what} face model has {model.landmarks68.numel()} landmarks, the protocol "
                             "needs the 68 iBUG ones")


def reference_regions(reference) -> dict[str, np.ndarray]:
    """The reference's named regions; derived from its 68 landmarks when the file has none."""
    regions = {k: v.cpu().numpy() for k, v in reference.regions.items()}
    if regions:
        return regions
    from photoface.facemodel.landmark_regions import landmark_regions

    return landmark_regions(reference.mean.cpu().numpy(), reference.landmarks68.cpu().numpy(),
                            reference.mirror.cpu().numpy())


def evaluate_face_space(
    reference,
    model="builtin:demo",
    *,
    identities: int = 20,
    seed: int = 0,
    ridge: float | None = None,
    iterations: int = 5,
    out_dir: str | Path | None = None,
    log: Callable[[str], None] | None = None,
    protocol_options: dict | None = None,
) -> dict:
    """Run the benchmark of the module docstring.

    Args:
        reference, model: face-model specs (``.npz`` or ``builtin:demo`` / ``builtin:paper``) or
            ``MorphableModel`` objects.
        identities: N reference identities; seed: their random draw.
        ridge: λ of the registration (``registration``; None: its ``DEFAULT_RIDGE``); iterations: its
            rounds.
        out_dir: when given, writes ``face_space.json`` and ``.md`` (``results_files``) and the
            error-map PNG ``face_space_errors.png`` there.
        log: called with one line per identity (progress).
        protocol_options: further ``protocol.evaluate_mesh`` keyword arguments (e.g. ``max_iterations``).

    Returns:
        JSON-ready results: {"meta", "reference_mean", "model_mean", "registration_floor",
        "identities": per-identity numbers}; each method has ``symmetric_mm``, ``scan_to_pred_mm``,
        ``pred_to_scan_mm`` (summaries: mean, std, sem, n) and ``regions``.
    """
    ridge = DEFAULT_RIDGE if ridge is None else ridge
    t0 = time.perf_counter()
    ref, ref_info = load_model_info(reference)
    test, test_info = load_model_info(model)
    check_landmarks(ref, "reference")
    check_landmarks(test, "tested")
    r, m = model_arrays(ref), model_arrays(test)
    coeffs, truths = sample_identities(ref, identities, seed)
    regions = reference_regions(ref)
    preds = {"reference_mean": (r["mean"], r["faces"], r["landmarks68"]),
             "model_mean": (m["mean"], m["faces"], m["landmarks68"])}
    scores: dict[str, list[dict]] = {k: [] for k in METHODS}
    signed = {k: np.full((identities, len(r["mean"])), np.nan) for k in METHODS}
    per_identity = []
    for i, truth in enumerate(truths):
        normals = truth_normals(truth, r["faces"])
        reg = register_identity(m["mean"], m["id_basis"], m["faces"], m["landmarks68"], truth, r["faces"],
                                truth[r["landmarks68"]], ridge=ridge, iterations=iterations)
        preds["registration_floor"] = (reg.verts, m["faces"], m["landmarks68"])
        record = {"identity": i, "max_abs_coefficient": reg.max_abs_coefficient,
                  "reference_max_abs_coefficient": float(np.abs(coeffs[i]).max())}
        for name in METHODS:
            res = evaluate_face_pair(*preds[name], truth, r["faces"], r["landmarks68"], **(protocol_options or {}))
            signed[name][i] = signed_truth_errors(res, normals)
            s = {"symmetric_mm": res.symmetric_mm, "scan_to_pred_mm": res.scan_to_pred_mm,
                 "pred_to_scan_mm": res.pred_to_scan_mm, "scale": res.transform.scale}
            scores[name].append(s)
            record[name] = s
        per_identity.append(record)
        if log is not None:
            log(f"identity {i + 1}/{identities}: " + ", ".join(
                f"{k} {record[k]['symmetric_mm']:.2f} mm" for k in METHODS)
                + f", max |c| {reg.max_abs_coefficient:.1f} ({time.perf_counter() - t0:.0f} s)")
    results: dict = {}
    for name in METHODS:
        results[name] = {key: summarize_errors([s[key] for s in scores[name]])
                         for key in ("symmetric_mm", "scan_to_pred_mm", "pred_to_scan_mm")}
        results[name]["regions"] = region_errors(signed[name], regions)
    coef = np.array([p["max_abs_coefficient"] for p in per_identity])
    results["registration_floor"]["max_abs_coefficient"] = {"max": float(coef.max()), "mean": float(coef.mean())}
    results["identities"] = per_identity
    results["meta"] = {
        "benchmark": "face_space", "reference": ref_info, "model": test_info, "identities": identities,
        "seed": seed, "ridge": ridge, "registration_iterations": iterations, "crop_radius_mm": CROP_RADIUS_MM,
        "protocol": PROTOCOL, "sampling": "reference identity coefficients ~ N(0, 1), numpy default_rng(seed)",
        "signed_error": "truth vertex to the prediction's closest point along the truth's outward normal: "
                        "+ = the prediction lies in front of the real surface",
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if out_dir is not None:
        write_face_space(results, {k: mean_over_faces(v) for k, v in signed.items()}, ref, out_dir)
    return results


def write_face_space(results: dict, mean_signed: dict[str, np.ndarray], reference, out_dir) -> list[Path]:
    """``face_space.json`` / ``.md`` and the error-map PNG (signed error averaged over identities,
    on the reference's mean face; model mean and registration floor) in ``out_dir``."""
    from photoface.evaluate.error_maps import save_error_rows
    from photoface.evaluate.results_files import write_results

    out_dir = Path(out_dir)
    figure = out_dir / FIGURE_FILE
    results["meta"]["figure"] = str(figure)
    paths = list(write_results(results, out_dir / RESULTS_FILE))
    rows = [(f"{METHOD_LABELS[k]}: {results[k]['symmetric_mm']['mean']:.2f} mm", mean_signed[k])
            for k in ("model_mean", "registration_floor")]
    title = (f"{results['meta']['model']['name']} vs {results['meta']['reference']['name']}: signed error, mean of "
             f"{results['meta']['identities']} faces (+ = model in front)")
    paths.append(save_error_rows(figure, reference.mean.cpu().double().numpy(), reference.faces.cpu().numpy(),
                                 rows, vmax=4.0, signed=True, yaws=(0.0, 45.0, 90.0), title=title))
    return paths
