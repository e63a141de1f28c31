"""Markdown tables in the layouts of the paper (Gao et al. 2020) and of the standard benchmarks.

Inputs are the JSON-ready dicts the evaluation produces; a "summary" is either a dict with "mean"
and "std" (``photoface.evaluate.micc.summarize_errors``) or a (mean, std) pair, in millimetres.

* ``micc_table`` — Table 1: 3D reconstruction error on MICC Florence, one column per video
  setting (Cooperative, Indoor, Outdoor) as "mean ± std" in mm, one row per method, in one block
  per mode (average over identity codes; average over three views). The block/column arrangement
  follows the MICC tables of Genova et al. (2018) that Gao et al. compare with; we could not check
  it against the paper's own typesetting.
* ``ablation_table`` — Table 2: the same columns for the ablated models, rows in the paper's
  order: full model, w/o L_recog, w/o L_adv, conventional smoothing.
* ``aflw2000_table`` — NME (%) per yaw bin and their mean, the 3DDFA layout.
* ``verification_table`` — EER, TAR@FAR and accuracy per method.
* ``landmark_table`` — ``evaluate landmarks``: NME (%) over 68 and inner 51 points, per yaw bin,
  faces missed and time per photo, one row per landmark method.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np

from photoface.data.format import SETTINGS

SETTING_LABELS = {s: s.capitalize() for s in SETTINGS}
MODE_LABELS = {"identity": "Average over identity", "three_views": "Average over three views"}
METHOD_LABELS = {
    "model": "Ours",
    "refine": "Ours, refined per person (photoface.fit)",
    "mean_face": "Mean face",
    "landmark_fit": "Linear model fitted to landmarks",
    "shape_supervised": "Shape supervision only",
    "fit": "Collection fit (photoface.fit)",
    "fit_single": "Collection fit, each photo alone",
    "fit_own": "Collection fit, each photo's own identity",
    "network": "Network identity code",
    "pixels": "24×24 grey pixels",
}
ABLATION_VARIANTS = {
    "full": "Full model",
    "no_recog": "w/o L_recog",
    "no_adv": "w/o L_adv",
    "laplacian": "Conventional smoothing",
}


def _mean_std(summary) -> tuple[float, float]:
    if summary is None:
        return float("nan"), float("nan")
    if isinstance(summary, Mapping):
        return float(summary.get("mean", np.nan)), float(summary.get("std", np.nan))
    mean, std = summary
    return float(mean), float(std)


def format_mean_std(summary, digits: int = 2) -> str:
    """'1.23 ± 0.45', with ' (SE 0.06)' when the summary carries a standard error ``sem``
    (or '–' when missing)."""
    mean, std = _mean_std(summary)
    if not np.isfinite(mean):
        return "–"
    text = f"{mean:.{digits}f} ± {std:.{digits}f}"
    sem = summary.get("sem") if isinstance(summary, Mapping) else None
    if sem is not None and np.isfinite(sem):
        text += f" (SE {sem:.{digits}f})"
    return text


def _row(cells: Sequence[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    lines = [_row(header), _row(["---"] + ["---:"] * (len(header) - 1))]
    lines += [_row(r) for r in rows]
    return "\n".join(lines) + "\n"


def _settings_of(results: Mapping) -> list[str]:
    seen: list[str] = []
    for by_setting in results.values():
        for s in by_setting or {}:
            if s not in seen:
                seen.append(s)
    order = {s: i for i, s in enumerate(SETTING_LABELS)}
    return sorted(seen, key=lambda s: (order.get(s, len(order)), s))


def micc_table(results: Mapping[str, Mapping[str, Mapping]], digits: int = 2,
               caption: str | None = None) -> str:
    """Table 1 layout.

    Args:
        results: {method: {mode: {setting: summary}}}; methods keep their order; known names
            ("model", "mean_face", ...) get readable labels.

    Returns:
        Markdown text.
    """
    modes: list[str] = []
    for by_mode in results.values():
        modes += [m for m in by_mode if m not in modes]
    settings = _settings_of({(m, k): v for m, by_mode in results.items() for k, v in by_mode.items()})
    header = ["Method"] + [SETTING_LABELS.get(s, s) + " (mm)" for s in settings]
    rows = []
    for mode in modes:
        rows.append([f"**{MODE_LABELS.get(mode, mode)}**"] + [""] * len(settings))
        for method, by_mode in results.items():
            if mode in by_mode:
                rows.append([METHOD_LABELS.get(method, method)]
                            + [format_mean_std(by_mode[mode].get(s), digits) for s in settings])
    text = _table(header, rows)
    return (f"{caption}\n\n{text}" if caption else text)


def ablation_table(results: Mapping[str, Mapping[str, Mapping]], digits: int = 2,
                   caption: str | None = None) -> str:
    """Table 2 layout.

    Args:
        results: {variant: {setting: summary}}; the paper's variants ("full", "no_recog",
            "no_adv", "laplacian") come first in the paper's order, any others after them.
    """
    settings = _settings_of(results)
    variants = [v for v in ABLATION_VARIANTS if v in results] + [v for v in results if v not in ABLATION_VARIANTS]
    header = ["Model"] + [SETTING_LABELS.get(s, s) + " (mm)" for s in settings]
    rows = [[ABLATION_VARIANTS.get(v, v)] + [format_mean_std(results[v].get(s), digits) for s in settings]
            for v in variants]
    text = _table(header, rows)
    return (f"{caption}\n\n{text}" if caption else text)


def aflw2000_table(results: Mapping[str, Mapping], digits: int = 2) -> str:
    """{method: ``photoface.evaluate.nme.aflw2000_nme`` output} → NME (%) per yaw bin and mean."""
    header = ["Method", "[0°, 30°]", "(30°, 60°]", "(60°, 90°]", "Mean"]
    rows = []
    for method, r in results.items():
        vals = [r["bins"].get(k, np.nan) for k in ("0-30", "30-60", "60-90")] + [r["mean_of_bins"]]
        rows.append([METHOD_LABELS.get(method, method)]
                    + ["–" if not np.isfinite(v) else f"{100 * v:.{digits}f}" for v in vals])
    return _table(header, rows)


LANDMARK_LABELS = {"default": "default (MediaPipe, dlib fallback)", "mediapipe": "MediaPipe", "dlib": "dlib",
                   "fit": "fit (projected 3-D landmarks)"}


def _pct_cell(v, digits: int = 2) -> str:
    return "–" if v is None or not np.isfinite(v) else f"{100 * v:.{digits}f}"


def landmark_table(results: Mapping[str, Mapping], digits: int = 2) -> str:
    """{method: ``photoface.evaluate.landmarks.method_summary`` output} → Markdown; a bin cell
    carries its missed photos in brackets."""
    header = ["Method", "found", "NME 68", "NME inner 51", "[0°, 30°]", "(30°, 60°]", "(60°, 90°]",
              "Mean of bins", "ms / photo", "fit ms / photo"]
    rows = []
    for method, r in results.items():
        n68 = r["nme68"]
        bins = []
        for k in ("0-30", "30-60", "60-90"):
            cell = _pct_cell(n68["bins"].get(k), digits)
            missed = n68.get("missed_per_bin", {}).get(k, 0)
            bins.append(cell + (f" ({missed} missed)" if missed else ""))
        ms, fit_ms = r.get("median_ms"), r.get("median_fit_ms")
        rows.append([LANDMARK_LABELS.get(method, method), f"{r['found']}/{r['photos']}",
                     _pct_cell(n68["overall"], digits), _pct_cell(r["nme51"]["overall"], digits), *bins,
                     _pct_cell(n68["mean_of_bins"], digits), "–" if ms is None else f"{ms:.1f}",
                     "–" if fit_ms is None else f"{fit_ms:.0f}"])
    return _table(header, rows)


def landmark_region_table(results: Mapping[str, Mapping], digits: int = 2) -> str:
    """{method: ``method_summary`` output} → Markdown: NME (%) per region of ``landmarks.REGIONS``."""
    names = list(next(iter(results.values()))["nme_regions"]) if results else []
    rows = [[LANDMARK_LABELS.get(m, m), *(_pct_cell(r["nme_regions"][n], digits) for n in names)]
            for m, r in results.items()]
    return _table(["Method", *names], rows)


def verification_table(results: Mapping[str, Mapping], digits: int = 3) -> str:
    """{method: ``photoface.run.verification.verification_report`` output} → Markdown."""
    fars: list[str] = []
    for r in results.values():
        fars += [f for f in r["tar_at_far"] if f not in fars]
    header = ["Method", "EER"] + [f"TAR@FAR={f}" for f in fars] + ["Accuracy"]
    rows = [[METHOD_LABELS.get(m, m), f"{r['eer']:.{digits}f}"]
            + [f"{r['tar_at_far'][f]:.{digits}f}" if f in r["tar_at_far"] else "–" for f in fars]
            + [f"{r['accuracy']:.{digits}f}"] for m, r in results.items()]
    return _table(header, rows)
