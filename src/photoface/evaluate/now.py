"""The NoW benchmark's protocol (Sanyal et al., CVPR 2019): scan-to-mesh error of predicted meshes.

Our own implementation of what the official ``now_evaluation`` does (``compute_error.py``,
``scan2mesh_computations.py``), step by step, in millimetres (the scans' unit):

1. **Crop the scan** (``face_region``): centre = nose bottom + 0.3 · (midpoint of the inner eye
   corners − nose bottom); radius = 1.4 · (outer-eye-corner distance + that nose length) / 2, from
   the scan's 7 landmarks (``now_files``); keep the scan vertices within the radius (and the
   triangles with all corners kept, which no error uses).
2. **Landmark alignment**: the similarity (scale, rotation, translation) that takes the
   prediction's 7 landmarks onto the scan's in least squares (Umeyama). *Ambiguity:* the official
   ``procrustes`` is called with ``reflection='best'``, so it may return a reflection; we never
   reflect (a mirrored prediction would be a wrong prediction, and with 7 landmarks of a face the
   best proper rotation is what the official one returns unless the landmarks are mirrored).
3. **Refinement**: starting there, the similarity that minimises the sum of squared distances from
   every cropped scan vertex to the prediction's surface (the official script minimises the same
   objective over scale, rotation and translation with chumpy's dogleg; "rigid" in its README
   includes the scale). We minimise it by ICP with scale (``alignment.icp``, point-to-plane steps
   that never raise the error); the correspondences use a fixed random subset of 10,000 scan
   vertices (*deviation:* the official optimisation uses all of them; the errors below always do).
4. **Errors**: for every cropped scan vertex, the unsigned distance to the closest point on the
   aligned prediction's surface (triangles, not vertices: ``surface.point_to_surface``).
5. **Numbers**: median, mean and (population) standard deviation of those distances per image,
   and pooled over all distances of all images (what the challenge reports: the official
   ``cumulative_errors.py`` concatenates the per-image distance arrays), overall and per challenge
   (``multiview_neutral``, ``multiview_expressions``, ``multiview_occlusions``, ``selfie``).

A prediction that is missing (mesh or landmarks) is listed and counted, not scored, as in the
official script. The scoring itself is ``protocol.evaluate_mesh`` with the crop and alignment
above, so the MICC and NoW numbers share one implementation of alignment and distances.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from photoface.errors import InputFileError
from photoface.evaluate.now_files import (
    CHALLENGES,
    IMAGE_LISTS,
    first_file,
    prediction_files,
    read_image_list,
    read_landmarks7,
    read_mesh,
    read_pp,
)
from photoface.evaluate.protocol import ProtocolResult, evaluate_mesh

MODES = ("single-image", "multi-image")


def face_region(scan_landmarks7: np.ndarray) -> tuple[np.ndarray, float]:
    """Centre (3,) and radius (mm) of the scan crop from its (7, 3) landmarks (module docstring)."""
    lmk = np.asarray(scan_landmarks7, dtype=np.float64)
    nose_bottom = lmk[4]
    bridge = 0.5 * (lmk[1] + lmk[2])
    centre = nose_bottom + 0.3 * (bridge - nose_bottom)
    radius = 1.4 * (np.linalg.norm(lmk[0] - lmk[3]) + np.linalg.norm(bridge - nose_bottom)) / 2.0
    return centre, float(radius)


def summarize(distances: np.ndarray) -> dict:
    """Median, mean, std (population) and count of distances (mm)."""
    d = np.asarray(distances, dtype=np.float64).reshape(-1)
    if d.size == 0:
        return {"median": float("nan"), "mean": float("nan"), "std": float("nan"), "n": 0}
    return {"median": float(np.median(d)), "mean": float(d.mean()), "std": float(d.std()), "n": int(d.size)}


def score_now(pred_verts, pred_faces, pred_landmarks7, scan_verts, scan_faces, scan_landmarks7,
              max_iterations: int = 100) -> ProtocolResult:
    """Score one prediction against one scan by the NoW protocol (module docstring).

    Args:
        pred_verts: (Vp, 3) any unit and pose; pred_faces: (Fp, 3); pred_landmarks7: (7, 3).
        scan_verts: (Vs, 3) mm; scan_faces: (Fs, 3) or None; scan_landmarks7: (7, 3) mm.

    Returns:
        ``protocol.ProtocolResult``; its ``scan_errors`` are the NoW distances (mm) of the cropped
        scan vertices ``scan_points``.
    """
    centre, radius = face_region(scan_landmarks7)
    return evaluate_mesh(
        pred_verts, pred_faces, scan_verts, scan_faces, scan_nose_tip=centre, crop_radius=radius,
        scan_landmarks=scan_landmarks7, pred_landmarks=pred_landmarks7, align="icp", icp_scale=True,
        max_iterations=max_iterations,
    )


def evaluate_now(pred_dir, data=None, *, image_list=None, image_set: str = "val", scans=None,
                 scan_landmarks=None, challenge: str = "", mode: str = "single-image",
                 landmarks7=None, log=None) -> dict:
    """Score a folder of NoW predictions (``now_files`` layout); the results dict (``results_files.write_results`` writes it).

    Args:
        pred_dir: predictions, ``<subject>/<challenge>/<name>.obj`` + ``.npy``/``.txt``.
        data: the NoW root (image lists, ``scans``, ``scans_lmks_onlypp``); each of the three can
            be given instead with ``image_list``, ``scans``, ``scan_landmarks``.
        image_set: "val" or "test" (which list under ``data``).
        challenge: "" for all, or one of ``now_files.CHALLENGES``.
        mode: "single-image" or "multi-image" (a label carried into the results, so that numbers
            from one identity per subject are never mistaken for single-image ones).
        landmarks7: callable (mesh path, verts, faces) -> (7, 3) landmarks or None, used instead
            of the landmark files (``meshes.evaluate_meshes`` reads a topology with it).
        log: callable taking a message per image, or None.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, not {mode!r}")
    if challenge and challenge not in CHALLENGES:
        raise ValueError(f"challenge must be one of {CHALLENGES} or empty, not {challenge!r}")
    pred_dir = Path(pred_dir)
    if not pred_dir.is_dir():
        raise InputFileError(pred_dir, "the predictions folder does not exist")
    if data is None and (image_list is None or scans is None or scan_landmarks is None):
        raise ValueError("give the NoW root, or all of image_list, scans and scan_landmarks")
    root = Path(data) if data is not None else None
    if image_list is None:
        if image_set not in IMAGE_LISTS:
            raise ValueError(f"image_set must be one of {sorted(IMAGE_LISTS)}, not {image_set!r}")
        image_list = root / IMAGE_LISTS[image_set]
    scans = Path(scans) if scans is not None else root / "scans"
    scan_landmarks = Path(scan_landmarks) if scan_landmarks is not None else root / "scans_lmks_onlypp"
    images = [im for im in read_image_list(image_list) if not challenge or im.challenge == challenge]

    start = time.time()
    scan_cache: dict[str, tuple] = {}
    records, missing, pooled = [], [], {"all": []}
    for k, image in enumerate(images):
        mesh_path, lmk_path = prediction_files(pred_dir, image)
        pred_v = pred_f = None
        if mesh_path is not None and landmarks7 is not None:
            pred_v, pred_f = read_mesh(mesh_path)
            pred_lmk = landmarks7(mesh_path, pred_v, pred_f)
        elif lmk_path is not None:
            pred_lmk = read_landmarks7(lmk_path)
        else:
            pred_lmk = None
        if mesh_path is None or pred_lmk is None:
            missing.append({"image": image.line, "missing": "mesh" if mesh_path is None else "landmarks"})
            continue
        if image.subject not in scan_cache:
            scan_path = first_file(scans / image.subject, ".obj")
            pp_path = first_file(scan_landmarks / image.subject, ".pp")
            if scan_path is None or pp_path is None:
                raise InputFileError(scans / image.subject if scan_path is None else scan_landmarks / image.subject,
                                     f"no {'.obj scan' if scan_path is None else '.pp landmark file'} for "
                                     f"subject {image.subject}")
            scan_cache[image.subject] = (*read_mesh(scan_path), read_pp(pp_path))
        scan_v, scan_f, scan_lmk = scan_cache[image.subject]
        if pred_v is None:
            pred_v, pred_f = read_mesh(mesh_path)
        result = score_now(pred_v, pred_f, pred_lmk, scan_v, scan_f, scan_lmk)
        d = result.scan_errors
        pooled["all"].append(d)
        pooled.setdefault(image.challenge, []).append(d)
        records.append({"image": image.line, "subject": image.subject, "challenge": image.challenge,
                        **summarize(d), "scale": result.transform.scale,
                        "icp_iterations": result.icp_iterations})
        if log is not None:
            log(f"[{k + 1}/{len(images)}] {image.line}: median {np.median(d):.3f} mm, mean {d.mean():.3f} mm")
    by_challenge = {c: summarize(np.concatenate(v)) for c, v in pooled.items() if c != "all"}
    return {
        "meta": {
            "benchmark": "now", "mode": mode, "predictions": str(pred_dir.resolve()),
            "image_list": str(Path(image_list).resolve()), "challenge": challenge or "all",
            "n_images": len(images), "n_scored": len(records), "n_missing": len(missing),
            "protocol": "NoW: 7-landmark similarity, ICP with scale of the prediction to the cropped scan, "
                        "scan-to-mesh distances (photoface.evaluate.now)",
            "seconds": round(time.time() - start, 1),
        },
        "pooled": summarize(np.concatenate(pooled["all"])) if pooled["all"] else summarize(np.zeros(0)),
        "by_challenge": by_challenge,
        "images": records,
        "missing": missing,
    }


def now_markdown(results: dict) -> str:
    """The NoW results as a Markdown report: pooled and per-challenge median / mean / std."""
    meta = results["meta"]
    lines = [f"# NoW ({meta['mode']})", "",
             f"Predictions `{meta['predictions']}`, image list `{meta['image_list']}`: {meta['n_scored']} of "
             f"{meta['n_images']} images scored, {meta['n_missing']} missing.", "",
             "| images | median (mm) | mean (mm) | std (mm) | scan points |", "|---|---|---|---|---|"]
    rows = [("all", results["pooled"])] + sorted(results["by_challenge"].items())
    for name, s in rows:
        lines.append(f"| {name} | {s['median']:.3f} | {s['mean']:.3f} | {s['std']:.3f} | {s['n']} |")
    if meta["mode"] == "multi-image":
        lines += ["", "Multi-image: one identity mesh per subject, fitted to all of its images, submitted for "
                      "each image. Not comparable with single-image NoW numbers."]
    return "\n".join(lines) + "\n"
