"""``photoface evaluate landmarks``: photoface's real-photo front end scored on photos with true landmarks.

Data: an AFLW2000-3D folder or a 300-W style folder (``landmark_photos``: formats, pixel
convention). Methods (``landmark_methods``): ``default`` (what ``prepare`` uses), ``mediapipe``,
``dlib``, ``fit`` (the single-photo fit's projected 3-D landmarks).

Protocol, per photo and method:

* **Which face.** Of the faces the method finds, the one whose 68 points' bounding box overlaps
  the truth's 68-point box most (intersection over union) is scored, so a group photo is scored
  on its annotated face, however the faces are ordered. A method that finds faces but none
  overlapping the truth missed the annotated face.
* **Missed.** A photo where the method finds no face (or none on the truth) is *missed*: it is
  listed by name and counted, and left out of that method's NME, which is printed next to the
  count ("4.1 % (1 missed)"). Any penalty we put in its place (a mean-face guess, a fixed 100 %)
  would be a number we chose, and would move the NME by an amount that says nothing about the
  faces that were found; the count is the figure of its own (issue 21: "no face missed"). So that
  methods can be compared on the same photos, ``nme68_common`` scores every method on the photos
  that all of them found.
* **NME** (``photoface.evaluate.nme``, the AFLW2000-3D / 3DDFA convention): the mean 2-D point
  error divided by sqrt(w·h) of the truth's 68-point bounding box; over all 68 points
  (``nme68``) and over the 51 inner points, iBUG 17–67 (``nme51``, same normaliser). Each is
  given over all photos found, per |yaw| bin of the truth ([0, 30], (30, 60], (60, 90+] degrees)
  and as the mean of the bins (the headline number of AFLW2000-3D papers). 300-W ``.pts`` files
  carry no yaw: their photos are in no bin and only the overall numbers are given.
* **Per region** (``nme_regions``): the same NME over the jaw (iBUG 0–16), brows (17–26), nose
  (27–35), eyes (36–47) and mouth (48–67), same normaliser. Where two definitions of the points
  differ (a detector's jaw on the outline, the truth's 3-D jaw points; one face model's nostril
  points against another's), it shows in its region rather than in the average.
* **Time**: median ms per photo of detection + landmarks (the fit's own time separately,
  ``median_fit_ms``), wall clock, after one untimed warm-up run of each detector.

Output: ``FILE.json`` (every method's numbers and per-photo records), ``FILE.md`` (the tables) and
``FILE.tsv`` (one line per photo and method).
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Callable, Sequence

import numpy as np

from photoface.errors import PhotofaceError
from photoface.evaluate.landmark_methods import METHODS, LandmarkMethods, box_iou, box_of
from photoface.evaluate.landmark_photos import list_annotated
from photoface.evaluate.nme import YAW_BIN_NAMES, bbox_size, landmark_nme, yaw_bin

INNER = slice(17, 68)  # iBUG 17-67: brows, nose, eyes, mouth
REGIONS = {"jaw": slice(0, 17), "brows": slice(17, 27), "nose": slice(27, 36), "eyes": slice(36, 48),
           "mouth": slice(48, 68)}
TSV_COLUMNS = ("photo", "method", "yaw_deg", "faces_found", "scored", "detector", "iou", "nme68", "nme51",
               "ms", "fit_ms", "note")


def photo_nme(pred: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    """(NME over the 68 points, NME over the inner 51) of one face, both divided by sqrt(w·h) of
    the truth's 68-point box; fractions."""
    norm = bbox_size(truth)
    n68 = landmark_nme(pred, truth, norm)[0]
    n51 = landmark_nme(pred[INNER], truth[INNER], norm)[0]
    return float(n68), float(n51)


def region_nme(pred: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    """{region of ``REGIONS``: NME over its points}, divided by sqrt(w·h) of the truth's 68-point box."""
    norm = bbox_size(truth)
    return {name: float(landmark_nme(pred[sel], truth[sel], norm)[0]) for name, sel in REGIONS.items()}


def nme_summary(nme: np.ndarray, yaw: np.ndarray) -> dict:
    """Per-photo NME (N,) (NaN = missed) and yaw (N,) degrees (NaN = unknown) → {"overall", "bins",
    "counts", "missed_per_bin", "mean_of_bins"}: means over the photos found; a bin without a
    photo found is NaN and left out of the mean of bins."""
    nme, yaw = np.asarray(nme, np.float64), np.asarray(yaw, np.float64)
    found, known = np.isfinite(nme), np.isfinite(yaw)
    bins = np.where(known, yaw_bin(np.where(known, yaw, 0.0)), -1)
    out_bins, counts, missed = {}, {}, {}
    for i, name in enumerate(YAW_BIN_NAMES):
        sel = (bins == i) & found
        counts[name] = int(sel.sum())
        missed[name] = int(((bins == i) & ~found).sum())
        out_bins[name] = float(nme[sel].mean()) if sel.any() else float("nan")
    present = [v for v in out_bins.values() if np.isfinite(v)]
    return {"overall": float(nme[found].mean()) if found.any() else float("nan"), "bins": out_bins,
            "counts": counts, "missed_per_bin": missed,
            "mean_of_bins": float(np.mean(present)) if present else float("nan")}


def _median(values) -> float | None:
    vals = [v for v in values if v is not None]
    return float(np.median(vals)) if vals else None


def method_summary(records: list[dict]) -> dict:
    """A method's numbers (module docstring) from its per-photo records."""
    nme68 = np.array([np.nan if r["nme68"] is None else r["nme68"] for r in records])
    nme51 = np.array([np.nan if r["nme51"] is None else r["nme51"] for r in records])
    yaw = np.array([np.nan if r["yaw_deg"] is None else r["yaw_deg"] for r in records])
    missed = [r["photo"] for r in records if r["nme68"] is None]
    found = [r["nme_regions"] for r in records if r["nme_regions"] is not None]
    regions = {name: float(np.mean([f[name] for f in found])) if found else float("nan") for name in REGIONS}
    return {
        "photos": len(records), "found": len(records) - len(missed), "missed": len(missed), "missed_photos": missed,
        "nme68": nme_summary(nme68, yaw), "nme51": nme_summary(nme51, yaw), "nme_regions": regions,
        "median_ms": _median(r["ms"] for r in records),
        "median_fit_ms": _median(r.get("fit_ms") for r in records),
        "fallbacks": sum(bool(r["fallback"]) for r in records),
        "fit_failures": sum(bool(r.get("fit_failure")) for r in records),
        "multi_face_photos": sum(r["faces_found"] > 1 for r in records),
        "records": records,
    }


def _record(photo, run) -> dict:
    rec = {"photo": photo.name, "yaw_deg": photo.yaw_deg, "faces_found": len(run.faces), "ms": round(run.ms, 3),
           "fit_ms": None if run.fit_ms is None else round(run.fit_ms, 3), "detector": None, "iou": None,
           "nme68": None, "nme51": None, "nme_regions": None, "fallback": None, "fit_failure": None, "note": None, "landmarks": None}
    if run.chosen is not None:
        face = run.faces[run.chosen]
        rec["nme68"], rec["nme51"] = photo_nme(face.landmarks, photo.landmarks)
        rec["nme_regions"] = region_nme(face.landmarks, photo.landmarks)
        rec.update(detector=face.detector, fallback=face.fallback, fit_failure=face.failure,
                   iou=round(box_iou(box_of(face.landmarks), box_of(photo.landmarks)), 4),
                   landmarks=np.round(face.landmarks, 3).tolist())
    elif run.faces:
        rec["note"] = f"{len(run.faces)} face(s) found, none overlapping the annotated face"
    return rec


def evaluate_landmarks(data: str | Path, methods: Sequence[str] | None = None, *, max_photos: int | None = None,
                       fit_model: str = "builtin:demo", image_size: int = 128, fit_config=None,
                       log: Callable[[str], None] | None = None) -> dict:
    """Score ``methods`` (default all of ``landmark_methods.METHODS``) on the annotated photos of
    ``data`` (module docstring); JSON-ready results.

    Args:
        max_photos: only the first N photos (sorted by name).
        fit_model: face model of ``fit``; image_size: its crop side px; fit_config: its ``FitConfig``.
        log: called with one line per photo and per method's summary (None: silent).
    """
    from photoface.data.prepare.images import load_photo
    from photoface.data.prepare.pipeline import LOAD_SIDE

    t0 = time.perf_counter()
    if max_photos is not None and max_photos < 1:
        raise PhotofaceError(f"--max-photos must be at least 1, got {max_photos}")
    methods = list(methods or METHODS)
    folder = list_annotated(data)
    photos = folder.photos[:max_photos]
    runner = LandmarkMethods(methods, fit_model, image_size, fit_config)
    records: dict[str, list[dict]] = {m: [] for m in methods}
    for i, photo in enumerate(photos):
        loaded = load_photo(photo.image, max_side=LOAD_SIDE)
        if i == 0:  # load the detectors' models outside the timings
            for m in methods:
                if m != "fit":
                    runner.run(m, loaded.rgb, loaded.scale, photo.landmarks, photo.image)
        cells = []
        for m in methods:
            rec = _record(photo, runner.run(m, loaded.rgb, loaded.scale, photo.landmarks, photo.image))
            records[m].append(rec)
            cells.append(f"{m} " + ("missed" if rec["nme68"] is None else f"{100 * rec['nme68']:.2f} %"))
        if log:
            yaw = "" if photo.yaw_deg is None else f" (yaw {photo.yaw_deg:+.0f}°)"
            log(f"[{i + 1}/{len(photos)}] {photo.name}{yaw}: " + ", ".join(cells))
    results: dict = {m: method_summary(records[m]) for m in methods}
    if len(methods) > 1:
        common = [all(records[m][i]["nme68"] is not None for m in methods) for i in range(len(photos))]
        for m in methods:
            vals = [r["nme68"] for r, ok in zip(records[m], common) if ok]
            results[m]["nme68_common"] = {"photos": len(vals), "overall": float(np.mean(vals)) if vals else float("nan")}
    results["meta"] = {
        "benchmark": "landmarks", "dataset": str(Path(data).resolve()), "run": None, "layout": folder.layout,
        "photos": len(photos), "methods": methods, "unpaired": folder.unpaired,
        "fit_model": fit_model if "fit" in methods else None, "image_size": image_size if "fit" in methods else None,
        "face_choice": "the found face whose 68-point box overlaps the truth's 68-point box most (IoU); "
                       "none overlapping = missed",
        "missed": "photos where the method found no face on the annotated one: counted, listed, left out of its NME",
        "protocol": "NME = mean 2-D point error / sqrt(w*h) of the truth's 68-point box; nme51 = iBUG 17-67, "
                    "same normaliser; yaw bins by |truth yaw| (AFLW2000-3D Pose_Para), none for .pts",
        "seconds": round(time.perf_counter() - t0, 1),
    }
    if log:
        for m in methods:
            r = results[m]
            log(f"{m}: NME 68 {100 * r['nme68']['overall']:.2f} %, inner 51 {100 * r['nme51']['overall']:.2f} %, "
                f"mean of yaw bins {100 * r['nme68']['mean_of_bins']:.2f} %, {r['missed']} of {r['photos']} missed, "
                f"median {r['median_ms']:.1f} ms" + ("" if r["median_fit_ms"] is None else
                                                     f" + fit {r['median_fit_ms']:.0f} ms"))
    return results


def _cell(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        return "" if not np.isfinite(v) else f"{v:.6g}"
    return str(v).replace("\t", " ").replace("\n", " ")


def tsv_text(results: dict) -> str:
    """One line per photo and method (``TSV_COLUMNS``; NME as fractions, empty where missed)."""
    lines = ["\t".join(TSV_COLUMNS)]
    for m in results["meta"]["methods"]:
        for r in results[m]["records"]:
            note = "; ".join(n for n in (r["fallback"], r["fit_failure"], r["note"]) if n)
            row = {**r, "method": m, "scored": "yes" if r["nme68"] is not None else "missed", "note": note}
            lines.append("\t".join(_cell(row.get(c)) for c in TSV_COLUMNS))
    return "\n".join(lines) + "\n"


def write_landmark_results(results: dict, path: str | Path) -> tuple[Path, Path, Path]:
    """``path`` (JSON), its Markdown twin and ``path`` with ``.tsv`` (per photo), atomically."""
    from photoface.atomic import write_atomic
    from photoface.evaluate.results_files import write_results

    json_path, md_path = write_results(results, path)
    return json_path, md_path, write_atomic(Path(path).with_suffix(".tsv"), tsv_text(results))
