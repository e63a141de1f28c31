"""Are the fit's projected 68 landmarks a better landmark estimate than dlib's, at large yaw?

On the test photos of a synthetic benchmark (exact landmarks known), per |yaw| bin (true yaw):

* ``input``: the rows' own landmarks (the synthetic detector-like noisy ones the fit takes);
* ``fit``: the 68 landmarks projected from the collection fit on those (``photoface.fit``);
* ``dlib``: dlib's 68-point predictor on the photo (``photoface.data.prepare.detect``, as ``prepare``);
* ``fit_on_dlib``: the collection fit given dlib's landmarks instead (jaw on the silhouette:
  the contour is on, as for real photos), i.e. what ``prepare`` could offer as refined landmarks.

NME: mean point-to-point error / sqrt(w·h) of the true landmark box (``evaluate.nme``), over all
68 points and over the 51 inner ones (17-67). The truth's jaw points are projections of FIXED
model vertices (the synthetic convention), whereas dlib, and a fit with the contour on, put the
jaw on the silhouette, so at large yaw the 68-point numbers of those two include that difference
of convention; the inner-51 numbers do not. Photos where dlib finds no face count in ``missed``
and are left out of the dlib columns.

Run: ``python -m photoface.evaluate.fit_landmarks --data DIR [--out FILE.json]``.
"""

from __future__ import annotations

import argparse

import numpy as np
import torch

from photoface.evaluate.nme import landmark_nme
from photoface.evaluate.synthetic import SyntheticBenchmark, _face_model
from photoface.jsonfile import write_json

YAW_BINS = ((0.0, 30.0), (30.0, 45.0), (45.0, 60.0), (60.0, 90.0))


def _dlib_landmarks(bench: SyntheticBenchmark, detector: str) -> np.ndarray:
    """(N, 68, 2) dlib landmarks; NaN where no face was found."""
    from photoface.data.prepare.detect import FaceDetector

    det = FaceDetector(detector)
    out = np.full((len(bench.rows), 68, 2), np.nan)
    for i in range(len(bench.rows)):
        img = (bench.images[i].permute(1, 2, 0).numpy() * 255).round().astype(np.uint8)
        found = det.detect(img)
        if found:
            centre = bench.landmarks_true[i].mean(0)
            best = min(found, key=lambda d: np.linalg.norm((d.box[:2] + d.box[2:]) / 2 - centre))
            out[i] = det.landmarks(img, best.box)
    return out


def _fit(bench, model, landmarks, fit_config, fixed: bool) -> np.ndarray:
    from photoface.evaluate.baselines import CollectionFit

    method = CollectionFit(model, bench.image_size, fit_config, fixed_landmarks=fixed)
    masks = torch.stack([bench.dataset.load_mask(r) for r in bench.rows])
    visible = None if any(r.visible is None for r in bench.rows) else np.stack([r.visible for r in bench.rows])
    return method.predict(bench.images, landmarks, identities=bench.identities, masks=masks,
                          visible=visible).landmarks2d


def compare(data, fit_config=None, detector: str = "auto", max_photos: int | None = None) -> dict:
    """The table of the module docstring as a dict {estimate: {bin: {"n", "nme68", "nme51"}}}."""
    bench = SyntheticBenchmark(data, max_photos)
    model, _ = _face_model(data, None)
    dlib = _dlib_landmarks(bench, detector)
    found = np.isfinite(dlib).all(axis=(1, 2))
    estimates = {"input": bench.landmarks, "fit": _fit(bench, model, bench.landmarks, fit_config, True),
                 "dlib": dlib}
    if found.any():
        dlib_in = np.where(found[:, None, None], dlib, bench.landmarks)  # the fit needs every photo
        estimates["fit_on_dlib"] = _fit(bench, model, dlib_in, fit_config, False)
    truth = bench.landmarks_true
    yaw = np.abs(bench.pose_true[:, 1])
    result = {"photos": len(truth), "dlib_missed": int((~found).sum()), "bins": {}}
    for lo, hi in YAW_BINS:
        sel = (yaw >= lo) & (yaw < hi)
        key = f"{lo:.0f}-{hi:.0f}"
        result["bins"][key] = {"photos": int(sel.sum()), "dlib_missed": int((sel & ~found).sum())}
        for name, est in estimates.items():
            use = sel & found if name in ("dlib", "fit_on_dlib") else sel
            if not use.any():
                continue
            n68 = landmark_nme(est[use], truth[use])
            n51 = landmark_nme(est[use][:, 17:], truth[use][:, 17:], norm=_box(truth[use]))
            result["bins"][key][name] = {"n": int(use.sum()), "nme68": float(n68.mean()), "nme51": float(n51.mean())}
    return result


def _box(truth: np.ndarray) -> np.ndarray:
    size = truth.max(1) - truth.min(1)
    return np.sqrt(size[:, 0] * size[:, 1])


def main(argv: list[str] | None = None) -> None:
    from photoface.fit.config import FitConfig, apply_overrides

    ap = argparse.ArgumentParser(description="fit landmarks vs dlib by yaw (module docstring)")
    ap.add_argument("--data", required=True)
    ap.add_argument("--out")
    ap.add_argument("--detector", default="auto")
    ap.add_argument("--max-photos", type=int)
    ap.add_argument("--set", dest="overrides", action="append", default=[])
    args = ap.parse_args(argv)
    res = compare(args.data, apply_overrides(FitConfig(), args.overrides), args.detector, args.max_photos)
    if args.out:
        write_json(args.out, res)
    print(f"{res['photos']} photos, dlib found no face in {res['dlib_missed']}")
    print("| |yaw| | photos | " + " | ".join(f"{k} NME68 / inner51 (%)" for k in ("input", "fit", "dlib", "fit_on_dlib"))
          + " |")
    for key, row in res["bins"].items():
        cells = [f"{100 * row[k]['nme68']:.2f} / {100 * row[k]['nme51']:.2f}" if k in row else "–"
                 for k in ("input", "fit", "dlib", "fit_on_dlib")]
        print(f"| {key}° | {row['photos']} ({row['dlib_missed']} missed by dlib) | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
