"""Measurements of the preprocessing: detector timings and landmark accuracy (NME).

``python -m photoface.data.prepare.quality timing`` times the detectors on scikit-image's
astronaut at three sizes (HOG with our upsampling policy, the CNN, and the 68-point predictor),
next to a reference (plain ``dlib`` HOG at upsample 0 on the 512² photo) timed in the same run,
because the machine is shared and absolute times drift. Medians of ``repeats`` runs, 2 threads.

``python -m photoface.data.prepare.quality nme DATASET [--n 100] [--detector auto]`` runs
detection + landmarks on the images of a synthetic prepared dataset (``photoface synth``) and
compares them with the exact projected landmarks (``extra["landmarks_true"]``): NME = mean
point error / sqrt(w·h) of the true landmarks' box, over all 68 points and over the 51 inner
points (17–67), split by the photo's ``setting``; photos where no face is found are counted.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import numpy as np

from photoface.pixels import to_uint8


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def detector_timings(repeats: int = 5) -> list[dict]:
    """Median seconds per call for HOG / CNN / predictor on the astronaut at 256², 512², 1024²."""
    import dlib
    import torch
    from PIL import Image
    from skimage import data

    from photoface.data.prepare.detect import FaceDetector

    torch.set_num_threads(2)
    base = data.astronaut()
    det = FaceDetector("auto")
    det.hog, det.cnn, det.predictor  # load models outside the timings
    reference_detector = dlib.get_frontal_face_detector()
    results = []
    for side in (256, 512, 1024):
        img = np.asarray(Image.fromarray(base).resize((side, side), Image.Resampling.LANCZOS))
        ref = _median_time(lambda: reference_detector(base, 0), repeats)
        hog = _median_time(lambda: det.detect_hog(img), repeats)
        cnn = _median_time(lambda: det.detect_cnn(img), max(1, repeats // 2))
        found = det.detect_hog(img) or det.detect_cnn(img)
        lm = _median_time(lambda: det.landmarks(img, found[0].box), repeats) if found else float("nan")
        results.append({"side": side, "hog_s": hog, "cnn_s": cnn, "landmarks_s": lm, "reference_s": ref,
                        "hog_faces": len(det.detect_hog(img)), "cnn_faces": len(det.detect_cnn(img))})
    return results


def synthetic_nme(dataset_dir: str | Path, n: int = 100, detector: str = "auto") -> dict:
    """NME of detector + predictor against exact landmarks on up to ``n`` synthetic photos."""
    from photoface.data.format import load_dataset
    from photoface.data.prepare.detect import FaceDetector, box_nme

    ds = load_dataset(dataset_dir)
    rows = [r for r in ds.rows if "landmarks_true" in r.extra][:n]
    if not rows:
        raise ValueError(f"{dataset_dir}: no rows with extra['landmarks_true'] (not a synthetic dataset)")
    det = FaceDetector(detector)
    per: dict[str, list[tuple[float, float]]] = {}
    missed: dict[str, int] = {}
    used: dict[str, int] = {}
    seconds = []
    for row in rows:
        img = to_uint8(ds.load_image(row))
        truth = np.asarray(row.extra["landmarks_true"], np.float64)
        setting = row.setting or "all"
        t = time.perf_counter()
        found = det.detect(img)
        if not found:
            missed[setting] = missed.get(setting, 0) + 1
            continue
        # the face whose box centre is nearest the true landmarks' centre
        centre = truth.mean(0)
        best = min(found, key=lambda d: np.linalg.norm((d.box[:2] + d.box[2:]) / 2 - centre))
        pred = det.landmarks(img, best.box)
        seconds.append(time.perf_counter() - t)
        used[best.detector] = used.get(best.detector, 0) + 1
        inner = box_nme(pred[17:], truth[17:], np.concatenate([truth.min(0), truth.max(0)]))
        per.setdefault(setting, []).append((box_nme(pred, truth), inner))
    summary = {"photos": len(rows), "detector": detector, "image_size": ds.meta.image_size,
               "found_by": used, "median_seconds": statistics.median(seconds) if seconds else None,
               "settings": {}}
    for setting in sorted(set(per) | set(missed)):
        vals = np.array(per.get(setting, []), dtype=np.float64).reshape(-1, 2)
        summary["settings"][setting] = {
            "photos": len(vals) + missed.get(setting, 0), "missed": missed.get(setting, 0),
            "nme68_mean": float(vals[:, 0].mean()) if len(vals) else None,
            "nme68_median": float(np.median(vals[:, 0])) if len(vals) else None,
            "nme_inner_mean": float(vals[:, 1].mean()) if len(vals) else None,
        }
    allv = np.array([v for vs in per.values() for v in vs]).reshape(-1, 2)
    summary["all"] = {"nme68_mean": float(allv[:, 0].mean()) if len(allv) else None,
                      "nme68_median": float(np.median(allv[:, 0])) if len(allv) else None,
                      "nme_inner_mean": float(allv[:, 1].mean()) if len(allv) else None,
                      "missed": sum(missed.values())}
    return summary


def main(argv: list[str] | None = None) -> None:
    from photoface.jsonfile import json_text

    parser = argparse.ArgumentParser(prog="python -m photoface.data.prepare.quality")
    sub = parser.add_subparsers(dest="what", required=True)
    t = sub.add_parser("timing")
    t.add_argument("--repeats", type=int, default=5)
    q = sub.add_parser("nme")
    q.add_argument("dataset")
    q.add_argument("--n", type=int, default=100)
    q.add_argument("--detector", default="auto")
    args = parser.parse_args(argv)
    if args.what == "timing":
        for r in detector_timings(args.repeats):
            print(json_text({k: (round(v, 4) if isinstance(v, float) else v) for k, v in r.items()}))
    else:
        print(json_text(synthetic_nme(args.dataset, args.n, args.detector), indent=2))


if __name__ == "__main__":
    main()
