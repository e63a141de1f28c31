"""Writing evaluation results: strict JSON and a Markdown report in the paper's table layouts.

``write_results(results, FILE.json)`` writes FILE.json and FILE.md next to it. JSON is strict:
NaN and infinities become ``null``, numpy scalars and arrays plain numbers and lists. The Markdown
uses ``photoface.evaluate.tables``: Table 1 (3D error per setting and mode), the per-photo
metrics of the synthetic benchmark, verification, AFLW2000-3D NME per yaw bin, Table 2 (ablation),
the landmark scorer's table (``evaluate landmarks``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from photoface.atomic import write_atomic
from photoface.evaluate import tables
from photoface.evaluate.meshes import meshes_markdown
from photoface.evaluate.now import now_markdown
from photoface.jsonfile import write_json

METHOD_ORDER = ("model", "refine", "shape_supervised", "network", "fit", "fit_single", "fit_own", "landmark_fit", "mean_face",
                "pixels")


def methods_of(results: dict) -> list[str]:
    """Method entries of a results dict, in report order."""
    names = [k for k in results if k != "meta"]
    return [m for m in METHOD_ORDER if m in names] + [m for m in names if m not in METHOD_ORDER]


def _pct(summary) -> str:
    if not summary or summary.get("mean") is None or not np.isfinite(summary.get("mean", np.nan)):
        return "–"
    return f"{100 * summary['mean']:.2f}"


def _mm(summary) -> str:
    return tables.format_mean_std(summary) if summary else "–"


def _photo_table(results: dict) -> str:
    settings = results["meta"].get("photos_per_setting") or {}
    header = ["Method", "Setting", "Per-photo shape (mm)", "Expression (mm)", "Pose (°, mean of 3 angles)",
              "Landmark NME (%)"]
    rows = []
    for m in methods_of(results):
        r = results[m]
        for s in settings:
            pose = (r.get("pose_deg") or {}).get(s)
            rows.append([tables.METHOD_LABELS.get(m, m), tables.SETTING_LABELS.get(s, s),
                         _mm((r.get("photo_mm") or {}).get(s)), _mm((r.get("expression_mm") or {}).get(s)),
                         "–" if not pose else f"{pose['mean']:.2f}", _pct((r.get("landmark_nme") or {}).get(s))])
    lines = [header, ["---", "---"] + ["---:"] * 4] + rows
    return "\n".join("| " + " | ".join(r) + " |" for r in lines) + "\n"


def _verification(results: dict) -> str:
    ver = {m: results[m]["verification"] for m in methods_of(results) if results[m].get("verification")}
    if not ver:
        return ""
    return ("## Identity verification (cosine of identity codes, all pairs of test photos)\n\n"
            + tables.verification_table(ver) + "\n"
            + "".join(f"- {tables.METHOD_LABELS.get(m, m)}: balanced accuracy ((TAR + TNR) / 2) at a threshold "
                      "maximising TAR − FAR, calibrated on "
                      f"{v.get('accuracy_calibrated_on', 'the evaluated pairs')}; {v['pairs']} pairs "
                      f"({v['genuine_pairs']} genuine)\n" for m, v in ver.items()) + "\n")


def _header(results: dict, title: str) -> str:
    meta = results.get("meta", {})
    lines = [f"# {title}", ""]
    for key in ("dataset", "checkpoint", "step", "shape_supervised", "identities", "subjects", "photos", "images",
                "modes", "neutral_expression", "crop", "protocol", "seconds"):
        if meta.get(key) is not None:
            lines.append(f"- {key}: {meta[key]}")
    return "\n".join(lines) + "\n\n"


def shape_markdown(results: dict, caption: str) -> str:
    """Table 1 layout of every method's ``shape_mm``."""
    shape = {m: results[m]["shape_mm"] for m in methods_of(results) if results[m].get("shape_mm")}
    return tables.micc_table(shape, caption=caption) + "\n"


def synthetic_markdown(results: dict) -> str:
    return (_header(results, "Synthetic benchmark (held-out identities)")
            + "## 3D reconstruction error against the neutral scan (mean ± std over identities)\n\n"
            + shape_markdown(results, "Symmetric point-to-surface distance after landmark + ICP alignment, mm.")
            + "## Per photo (mean ± std over photos)\n\n" + _photo_table(results) + "\n"
            + _verification(results))


def micc_markdown(results: dict) -> str:
    return (_header(results, "MICC Florence")
            + "## 3D reconstruction error (mean ± std over subjects), Table 1 layout\n\n"
            + shape_markdown(results, "Symmetric point-to-surface distance after ICP alignment, mm.")
            + _verification(results))


def aflw2000_markdown(results: dict) -> str:
    nme = {m: results[m]["nme"] for m in methods_of(results) if results[m].get("nme")}
    return (_header(results, "AFLW2000-3D")
            + "## 68-landmark NME (%), normalised by sqrt(w·h) of the ground-truth box\n\n"
            + tables.aflw2000_table(nme) + "\n")


def landmarks_markdown(results: dict) -> str:
    """``evaluate landmarks``: the landmark table, the common-photo NME, the missed and unpaired files."""
    meta = results.get("meta", {})
    methods = [m for m in meta.get("methods", []) if m in results]
    lines = ["# Landmarks on annotated photos", ""]
    for key in ("dataset", "layout", "photos", "fit_model", "image_size", "face_choice", "missed", "protocol",
                "seconds"):
        if meta.get(key) is not None:
            lines.append(f"- {key}: {meta[key]}")
    text = ("\n".join(lines) + "\n\n## NME (%), normalised by sqrt(w·h) of the ground-truth 68-point box\n\n"
            + "NME over the photos each method found; yaw bins by |ground-truth yaw|, all 68 points.\n\n"
            + tables.landmark_table({m: results[m] for m in methods}) + "\n")
    common = [(m, results[m]["nme68_common"]) for m in methods if results[m].get("nme68_common")]
    if common:
        text += (f"On the {common[0][1]['photos']} photos every method found, NME 68: "
                 + ", ".join(f"{m} {100 * c['overall']:.2f} %" for m, c in common if c["photos"]) + ".\n\n")
    if all(results[m].get("nme_regions") for m in methods):
        text += ("## NME (%) per region\n\nSame normaliser, over the photos each method found: jaw iBUG 0–16, "
                 "brows 17–26, nose 27–35, eyes 36–47, mouth 48–67.\n\n"
                 + tables.landmark_region_table({m: results[m] for m in methods}) + "\n")
    missed = [(m, results[m]["missed_photos"]) for m in methods if results[m]["missed_photos"]]
    if missed:
        text += "## Missed (no face found on the annotated one)\n\n" + "".join(
            f"- {m}: {', '.join(names)}\n" for m, names in missed) + "\n"
    if meta.get("unpaired"):
        text += "## Not scored (no partner file)\n\n" + "".join(
            f"- {name}: {why}\n" for name, why in meta["unpaired"].items()) + "\n"
    return text


def ablation_markdown(results: dict) -> str:
    variants = {tables.METHOD_LABELS["shape_supervised"] if v == "shape_supervised" else v:
                r["shape_mm"].get("identity", next(iter(r["shape_mm"].values())))
                for v, r in results.items() if v != "meta" and r.get("shape_mm")}
    meta = results.get("meta", {})
    lines = ["# Ablation (paper Table 2 layout)", ""]
    for key in ("dataset", "eval_dataset", "budget", "seed", "preset"):
        if meta.get(key) is not None:
            lines.append(f"- {key}: {meta[key]}")
    return ("\n".join(lines) + "\n\n"
            + tables.ablation_table(variants, caption="Symmetric 3D error against the neutral scan (mm), "
                                    "average over identity, held-out synthetic identities.") + "\n")


def identity_markdown(results: dict) -> str:
    """``evaluate identity``: verification of per-photo identities and shape consistency per method."""
    meta = results.get("meta", {})
    methods = methods_of(results)
    ver = {m: results[m]["verification"] for m in methods if results[m].get("verification")}
    rows = [[tables.METHOD_LABELS.get(m, m), f"{s['intra_mm']:.3f}", f"{s['inter_mm']:.3f}", f"{s['ratio']:.3f}"]
            for m in methods if (s := results[m].get("shape"))]
    text = (_header(results, "Identity on real photo collections")
            + f"- people: {meta.get('people')}, photos per person: {meta.get('photos_per_person')}\n"
            + f"- skipped photos: {len(meta.get('skipped') or {})}\n\n"
            + "## Verification (cosine of per-photo identity vectors, all pairs)\n\n"
            + tables.verification_table(ver) + "\n"
            + "Accuracy: balanced accuracy at a TAR − FAR threshold calibrated on other identities.\n")
    if rows:
        text += ("\n## Identity meshes (mean per-vertex distance between two photos' neutral identities, mm)\n\n"
                 + "| Method | same person | different people | ratio |\n|---|---:|---:|---:|\n"
                 + "".join("| " + " | ".join(r) + " |\n" for r in rows))
    return text


def _se(summary) -> str:
    """'1.23 ± 0.04' (mean ± standard error) or '–'."""
    if not summary or summary.get("mean") is None or not np.isfinite(summary["mean"]):
        return "–"
    sem = summary.get("sem")
    return f"{summary['mean']:.2f}" + (f" ± {sem:.2f}" if sem is not None and np.isfinite(sem) else "")


def _region_table(results: dict, methods: dict[str, str]) -> str:
    """Per-region |error| and signed error (mm, mean ± SE over faces) of each method."""
    names: list[str] = []
    for m in methods:
        names += [n for n in results[m].get("regions", {}) if n not in names]
    header = ["Region"] + [f"{label}: abs / signed" for label in methods.values()]
    rows = [[n] + [f"{_se(results[m]['regions'].get(n, {}).get('abs_mm'))} / "
                   f"{_se(results[m]['regions'].get(n, {}).get('signed_mm'))}" for m in methods] for n in names]
    lines = [header, ["---"] + ["---:"] * len(methods)] + rows
    return "\n".join("| " + " | ".join(r) + " |" for r in lines) + "\n"


def _model_lines(meta: dict, keys: tuple[str, ...]) -> str:
    lines = []
    for key in keys:
        info = meta.get(key) or {}
        lines.append(f"- {key}: {info.get('spec') or info.get('name')} (hash {str(info.get('hash'))[:12]})")
    for key in ("dataset", "identities", "photos", "image_size", "seed", "ridge", "registration_iterations",
                "failed_photos", "protocol", "sampling", "signed_error", "fit_seconds", "seconds"):
        if meta.get(key) is not None:
            lines.append(f"- {key}: {meta[key]}")
    return "\n".join(lines) + "\n\n"


def face_space_markdown(results: dict) -> str:
    from photoface.evaluate.face_space import METHOD_LABELS as FACE_SPACE_LABELS

    meta = results.get("meta", {})
    rows = [["Prediction vs the reference's faces", "sym (mm)", "truth → prediction", "prediction → truth"],
            ["---", "---:", "---:", "---:"]]
    for m, label in FACE_SPACE_LABELS.items():
        r = results[m]
        rows.append([label, _se(r["symmetric_mm"]), _se(r["scan_to_pred_mm"]), _se(r["pred_to_scan_mm"])])
    coef = results["registration_floor"].get("max_abs_coefficient", {})
    return ("# How human is a face model: face space\n\n" + _model_lines(meta, ("reference", "model"))
            + "## Distance to the reference's faces (mean ± standard error over identities)\n\n"
            + "\n".join("| " + " | ".join(r) + " |" for r in rows) + "\n\n"
            + f"Registration: ridge λ = {meta.get('ridge')}; max |identity coefficient| "
              f"{coef.get('max', float('nan')):.2f} (mean over faces of each fit's max: {coef.get('mean', float('nan')):.2f}).\n\n"
            + "## Per region (mm; signed: + = the prediction lies in front of the real surface)\n\n"
            + _region_table(results, FACE_SPACE_LABELS) + "\n"
            + (f"Figure: {meta['figure']}\n" if meta.get("figure") else ""))


def crossmodel_markdown(results: dict) -> str:
    from photoface.evaluate.crossmodel import METHOD_LABELS as CROSSMODEL_LABELS

    meta = results.get("meta", {})
    rows = [["Method", "per photo (mm)", "identity mesh vs neutral truth (mm)"], ["---", "---:", "---:"]]
    for m, label in CROSSMODEL_LABELS.items():
        rows.append([label, _se(results[m]["photo_mm"]), _se(results[m]["person_mm"])])
    beats = results["fit"].get("beats_reference_mean")
    missed = meta.get("missed") or {}
    missed_lines = "".join(f"- missed: {photo}: {why}\n" for photo, why in missed.items())
    detected = (f"Landmarks: detected in the photos ({meta.get('detector')}; faces fitted per detector: "
                f"{meta.get('detectors')}), prepared and fitted as `photoface fit` does.\n\n"
                if meta.get("landmarks") == "detected" else
                "Landmarks: the dataset's true ones (the reference's 68 landmark vertices, projected).\n\n")
    return ("# How human is a face model: fits to photos of the reference's faces\n\n"
            + _model_lines(meta, ("reference", "fit_model")) + detected
            + (f"{len(missed)} photos gave no face (not fitted, left out of the fit's numbers):\n\n"
               + missed_lines + "\n" if missed else "")
            + "## Symmetric distance to the true meshes (mean ± standard error over photos / people)\n\n"
            + "\n".join("| " + " | ".join(r) + " |" for r in rows) + "\n\n"
            + (f"The fit's identity mesh beat the reference's mean face for {beats} of {meta.get('identities')} "
               "people.\n\n" if beats is not None else "")
            + "## Identity mesh per region (mm; signed: + = in front of the real surface)\n\n"
            + _region_table(results, CROSSMODEL_LABELS))


MARKDOWN = {"identity": identity_markdown, "synthetic": synthetic_markdown, "micc": micc_markdown, "aflw2000": aflw2000_markdown,
            "landmarks": landmarks_markdown,
            "ablation": ablation_markdown, "face_space": face_space_markdown, "crossmodel": crossmodel_markdown,
            "now": now_markdown, "meshes-micc": meshes_markdown, "meshes-synthetic": meshes_markdown}


def write_results(results: dict, path: str | Path) -> tuple[Path, Path]:
    """Write ``path`` (JSON) and the Markdown report next to it (same stem, ``.md``), atomically.

    The Markdown layout follows ``results["meta"]["benchmark"]``.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    md_path = path.with_suffix(".md")
    kind = results.get("meta", {}).get("benchmark", "synthetic")
    write_json(path, results)
    write_atomic(md_path, MARKDOWN[kind](results))
    return path, md_path
