"""The demo's report: ``report.html`` with relative PNGs, loss curves, the evaluation table and a
plain-words summary of what was learned, all computed from the files the demo wrote.

Inputs (a :class:`ReportInputs`): the run folder (``metrics.jsonl``), the results of the synthetic
benchmark (``photoface.evaluate.synthetic.evaluate_synthetic``: one entry per method with
``shape_mm`` {mode: {setting: summary}}, ``photo_mm``, ``expression_mm``, ``landmark_nme``
{setting: summary}, ``pose_deg`` {setting: {..., mean}}, ``verification``), and the pictures of the reconstruction, transfer
and verification steps (paths inside the demo folder). Nothing here computes a metric; numbers
are formatted as they are.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from photoface.run.layout import metrics_path, read_metrics

CURVES = ("total", "photometric", "landmark", "shape", "pairwise_shape", "recognition", "smooth",
          "albedo_symmetry", "adversarial")
CLEAR_GAIN = 0.1
"""Relative improvement over the mean face from which the report calls the shape learned."""
METHODS = {"model": "Ours (trained network)", "refine": "Ours, fitted (refined per person)",
           "fit": "Fitted linear model (collection fit)", "shape_supervised": "Shape supervision only",
           "landmark_fit": "Linear model fitted to landmarks", "mean_face": "Mean face"}


@dataclass
class ReportInputs:
    """Everything the report shows. Paths are absolute; the report links them relative to out_dir."""

    out_dir: Path
    run_dir: Path
    evaluation: dict
    facts: dict  # data, training and timing facts: see photoface.apps.demo
    panels: list[Path] = field(default_factory=list)
    overlays: list[Path] = field(default_factory=list)
    transfer_grid: Path | None = None
    verifications: list[dict] = field(default_factory=list)  # {"a", "b", "verdict", "thumbs": [png, png]}
    loss_png: Path | None = None
    fitted: dict | None = None  # evaluation of model / refine / fit on the first few held-out people
    views: list[Path] = field(default_factory=list)  # 3D viewer pages (view.html): the first embedded, all linked


def fitted_sentence(fitted: dict | None) -> str | None:
    """The fitted column in words: network vs refined vs linear fit on the same held-out people."""
    if not fitted:
        return None
    errs = {m: pooled(fitted.get(m, {}).get("shape_mm", {}).get("identity")) for m in ("model", "refine", "fit")}
    if not errs["model"]:
        return None
    n = fitted.get("meta", {}).get("identities", "?")
    parts = [f"{METHODS[m].split(' (')[0].lower()} {errs[m]['mean']:.2f} mm" for m in ("refine", "fit") if errs[m]]
    return (f"Fitted on {n} held-out people only (time budget): the network alone lies {errs['model']['mean']:.2f} mm "
            f"from their true neutral faces; " + ", ".join(parts) + ".")


def loss_curves(metrics_path: str | Path, out_png: str | Path) -> Path | None:
    """Plot each logged loss against the step (log scale where positive over more than a decade);
    None when nothing was logged."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(metrics_path)
    records = read_metrics(path) if path.is_file() else []
    names = [n for n in CURVES if any(n in r for r in records)]
    if not names:
        return None
    cols = 3
    rows = -(-len(names) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(10, 2.4 * rows), squeeze=False)
    # each record averages the steps since the previous one, so stage 2 begins after the last
    # stage-1 record
    stage1 = [r["step"] for r in records if r.get("stage") == 1]
    switch = (stage1[-1] if stage1 else 0) if any(r.get("stage") == 2 for r in records) else None
    for ax, name in zip(axes.ravel(), names):
        pts = [(r["step"], r[name]) for r in records if name in r and np.isfinite(r[name])]
        steps, values = (np.array(v) for v in zip(*pts))
        ax.plot(steps, values, lw=1.2, color="#1f5fa8", marker="o" if len(steps) < 20 else None, ms=3)
        if (values > 0).all() and values.max() > 10 * values.min():
            ax.set_yscale("log")
        if switch is not None:
            ax.axvline(switch, color="#aa3333", lw=0.8, ls="--")
        ax.set_title(name, fontsize=9)
        ax.tick_params(labelsize=7)
    for ax in axes.ravel()[len(names):]:
        ax.axis("off")
    fig.supxlabel("training step" + ("  (dashed: stage 2 starts)" if switch is not None else ""), fontsize=9)
    fig.tight_layout()
    out_png = Path(out_png)
    fig.savefig(out_png, dpi=80)
    plt.close(fig)
    return out_png


def first_last_losses(metrics_path: str | Path) -> tuple[dict, dict]:
    """The first and last logged values of each loss."""
    path = Path(metrics_path)
    records = read_metrics(path) if path.is_file() else []
    first: dict[str, float] = {}
    last: dict[str, float] = {}
    for r in records:
        for k in CURVES:
            if k in r and np.isfinite(r[k]):
                first.setdefault(k, r[k])
                last[k] = r[k]
    return first, last


def pooled(by_setting: dict | None) -> dict | None:
    """Mean, std (population), n and the standard error of the mean ``sem`` = std / sqrt(n - 1)
    over all settings from per-setting summaries {mean, std, n}; the settings' groups (one person
    in one setting) count as independent samples."""
    parts = [v for v in (by_setting or {}).values()
             if v and v.get("n") and v.get("mean") is not None and np.isfinite(v["mean"])]
    if not parts:
        return None
    n = np.array([p["n"] for p in parts], np.float64)
    mean = np.array([p["mean"] for p in parts])
    std = np.array([p["std"] for p in parts])
    m = float((n * mean).sum() / n.sum())
    var = float((n * (std**2 + (mean - m) ** 2)).sum() / n.sum())
    total = int(n.sum())
    return {"mean": m, "std": var**0.5, "n": total,
            "sem": (var / (total - 1)) ** 0.5 if total > 1 else float("nan")}


def _ms(s: dict | None, scale: float = 1.0, digits: int = 2) -> str:
    if not s or s.get("mean") is None or not np.isfinite(s["mean"]):
        return "–"
    text = f"{scale * s['mean']:.{digits}f} ± {scale * s['std']:.{digits}f}"
    if s.get("sem") is not None and np.isfinite(s["sem"]):
        text += f" (SE {scale * s['sem']:.{digits}f})"
    return text


def _methods(ev: dict) -> list[str]:
    return [m for m in METHODS if m in ev] + [m for m in ev if m not in METHODS and m != "meta"]


def _html_table(head: list[str], rows: list[list[str]]) -> str:
    out = ["<table>", "<tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>"]
    out += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in r) + "</tr>" for r in rows]
    return "\n".join(out + ["</table>"])


def shape_table(ev: dict, mode: str = "identity") -> str:
    """Table 1 layout: 3D error against the neutral scan, one column per setting, one row per method."""
    settings: list[str] = []
    for m in _methods(ev):
        settings += [s for s in ev[m].get("shape_mm", {}).get(mode, {}) if s not in settings]
    head = ["Method"] + [f"{s} (mm)" for s in settings] + ["all settings (mm)"]
    rows = []
    for m in _methods(ev):
        by = ev[m].get("shape_mm", {}).get(mode, {})
        rows.append([METHODS.get(m, m)] + [_ms(by.get(s)) for s in settings] + [_ms(pooled(by))])
    return _html_table(head, rows)


def photo_table(ev: dict) -> str:
    """Per-photo numbers pooled over the settings, one row per method."""
    head = ["Method", "shape per photo (mm)", "expression (mm)", "pose (°)", "landmark NME (%)", "verif. EER",
            "verif. balanced accuracy"]
    rows = []
    for m in _methods(ev):
        r = ev[m]
        pose = [v["mean"] for v in (r.get("pose_deg") or {}).values() if v]
        ver = r.get("verification")
        rows.append([METHODS.get(m, m), _ms(pooled(r.get("photo_mm"))), _ms(pooled(r.get("expression_mm"))),
                     f"{np.mean(pose):.1f}" if pose else "–", _ms(pooled(r.get("landmark_nme")), 100.0),
                     f"{ver['eer']:.3f}" if ver else "–", f"{ver['accuracy']:.3f}" if ver else "–"])
    return _html_table(head, rows)


def _pct(ours: float, base: float) -> str:
    d = 100.0 * (base - ours) / base
    return f"{d:.0f}% lower than" if d > 0 else f"{-d:.0f}% higher than"


def learned_sentences(ev: dict, facts: dict, first: dict, last: dict) -> list[str]:
    """Plain-words findings, each computed from the numbers (and honest when a baseline wins)."""
    out = []
    steps = facts.get("steps")
    if steps is not None:
        moved = [f"{k} {first[k]:.3g} → {last[k]:.3g}" for k in ("photometric", "landmark", "shape") if k in first]
        out.append(f"Training ran {steps} steps in {facts.get('train_minutes', 0):.1f} minutes "
                   f"(stage {facts.get('stage')}); the logged losses went {', '.join(moved) or 'unlogged'}.")
    meta = ev.get("meta", {})
    who = f"{meta.get('identities', '?')} people it never saw ({meta.get('photos', '?')} photos)"
    model, base = ev.get("model", {}), ev.get("mean_face", {})
    ours = pooled(model.get("shape_mm", {}).get("identity"))
    mean = pooled(base.get("shape_mm", {}).get("identity"))
    if ours and mean:
        gain = (mean["mean"] - ours["mean"]) / mean["mean"]
        if gain >= CLEAR_GAIN:
            verdict = "so the network reads real 3D information about a new face from its photos"
        elif gain > 0:
            verdict = "only slightly better: it has just started to learn shape (train longer with --minutes)"
        else:
            verdict = "so it has not yet learned more about shape than the average face (train longer with --minutes)"
        out.append(f"For {who}, the 3D face decoded from the averaged identity codes lies {ours['mean']:.2f} mm from "
                   f"the true neutral face, {_pct(ours['mean'], mean['mean'])} the mean face ({mean['mean']:.2f} mm), "
                   f"{verdict}.")
    photo, photo_mean = pooled(model.get("photo_mm")), pooled(base.get("photo_mm"))
    if photo and photo_mean:
        out.append(f"Single photos, expression included, are {photo['mean']:.2f} mm off (mean face: "
                   f"{photo_mean['mean']:.2f} mm).")
    fit = pooled(ev.get("landmark_fit", {}).get("shape_mm", {}).get("identity"))
    if ours and fit:
        out.append(f"The classic baseline, the linear face model fitted to each photo's 68 landmarks, reaches "
                   f"{fit['mean']:.2f} mm.")
    nm, nb = pooled(model.get("landmark_nme")), pooled(base.get("landmark_nme"))
    if nm and nb:
        out.append(f"The 68 projected landmarks are off by {100 * nm['mean']:.1f}% of the face size (the mean face "
                   f"at the frontal framing: {100 * nb['mean']:.1f}%).")
    pm = [v["mean"] for v in (model.get("pose_deg") or {}).values() if v]
    pb = [v["mean"] for v in (base.get("pose_deg") or {}).values() if v]
    if pm and pb:
        out.append(f"Head pose is estimated to within {np.mean(pm):.1f}° on average (always guessing frontal: "
                   f"{np.mean(pb):.1f}°).")
    ver = model.get("verification")
    if ver:
        other = ev.get("landmark_fit", {}).get("verification")
        cmp = f"; the landmark-fitted identity coefficients give {other['eer']:.2f}" if other else ""
        out.append(f"Identity codes tell held-out people apart with an equal error rate of {ver['eer']:.2f} "
                   f"(0.5 is chance{cmp}); at a threshold calibrated on other held-out people, the balanced "
                   f"accuracy (same-person pairs accepted and different-person pairs rejected, averaged) is "
                   f"{100 * ver['accuracy']:.0f}%.")
    return out


def _rel(path: Path, base: Path) -> str:
    """The path relative to the report's folder (an absolute file URI when outside it)."""
    path, base = Path(path).resolve(), base.resolve()
    return html.escape(path.relative_to(base).as_posix() if path.is_relative_to(base) else path.as_uri())


_STYLE = """
body { font-family: sans-serif; max-width: 1100px; margin: 2em auto; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.25em; margin-top: 1.8em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.9em; } td, th { border: 1px solid #bbb; padding: 3px 7px; }
th { background: #f0f0f0; } td { text-align: right; } td:first-child { text-align: left; }
img { max-width: 100%; image-rendering: auto; } .small { color: #666; font-size: 0.85em; }
.pair img { height: 96px; margin-right: 4px; vertical-align: middle; }
code { background: #f4f4f4; padding: 1px 3px; }
"""


def write_report(inp: ReportInputs) -> Path:
    """Write ``out_dir/report.html``; returns its path."""
    base = inp.out_dir
    ev, facts = inp.evaluation, inp.facts
    first, last = first_last_losses(metrics_path(inp.run_dir))
    e = html.escape
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>photoface demo report</title>"
             f"<style>{_STYLE}</style></head><body>",
             "<h1>photoface demo: 3D faces learned from synthetic photo collections</h1>",
             f"<p class='small'>{e(facts.get('summary', ''))}</p>",
             "<h2>What was learned</h2><ul>"]
    sentences = learned_sentences(ev, facts, first, last)
    sentences += [x for x in [fitted_sentence(inp.fitted)] if x]
    parts += [f"<li>{e(s)}</li>" for s in sentences]
    parts.append("</ul>")
    parts.append("<h2>Evaluation on held-out identities</h2>")
    parts.append("<h3>3D reconstruction error (average over identity, mean ± std over people, SE = standard error of the mean)</h3>")
    parts.append(shape_table(ev))
    parts.append(f"<p class='small'>Per person and difficulty setting, the identity codes of the photos are averaged "
                 f"and decoded with a neutral expression; {e(ev.get('meta', {}).get('protocol', ''))}. The layout "
                 "of the paper's Table 1.</p>")
    parts.append("<h3>Per photo (pooled over settings)</h3>")
    parts.append(photo_table(ev))
    parts.append("<p class='small'>Shape per photo: mean vertex distance to the photo's true mesh after a "
                 "similarity alignment. Expression: the expression offset alone. Landmark NME: normalised by "
                 "sqrt(w·h) of the true landmark box. Verification: all pairs of held-out photos; balanced accuracy "
                 "((TAR + TNR) / 2) at a threshold calibrated on other held-out identities. Mean face: the model's average shape, "
                 "frontal, for every photo. Full numbers: <code>evaluation.json</code>, "
                 "<code>evaluation.md</code>.</p>")
    if inp.fitted:
        n = inp.fitted.get("meta", {}).get("identities", "?")
        parts.append(f"<h3>Fitted beside the network ({e(str(n))} held-out people only: the fits' time budget)</h3>")
        parts.append(shape_table(inp.fitted))
        parts.append(photo_table(inp.fitted))
        parts.append("<p class='small'>The same people for every row. Ours, fitted: the network's codes refined per "
                     "person by the fitting objective (one identity code per person). Fitted linear model: "
                     "<code>photoface fit</code>'s collection fit. Full numbers: "
                     "<code>evaluation_fitted.json</code>.</p>")
    if inp.loss_png is not None:
        parts.append(f"<h2>Training losses</h2><img src='{_rel(inp.loss_png, base)}' alt='loss curves'>")
    if inp.panels:
        parts.append("<h2>Reconstructions of held-out photos</h2><p class='small'>input | render | albedo | "
                     "shading | mesh turned by -50°, 0° and +50° yaw. Meshes (.obj/.ply/.glb with albedo "
                     "colours) and codes (.json) are next to these pictures.</p>")
        parts += [f"<div><img src='{_rel(p, base)}' alt='{e(p.stem)}'></div>" for p in inp.panels]
    if inp.views:
        links = ", ".join(f"<a href='{_rel(v, base)}'>{e(_rel(v, base))}</a>" for v in inp.views)
        parts.append("<h3>In 3D</h3><p class='small'>Click a photo, drag the mesh to turn it, use the wheel to zoom; "
                     f"the error map shows each vertex's distance to the true mesh. Full page: {links}.</p>")
        parts.append(f"<iframe src='{_rel(inp.views[0], base)}' title='3D viewer' "
                     "style='width:100%;height:640px;border:1px solid #bbb'></iframe>")
    if inp.overlays:
        parts.append("<h3>Renders over the photos</h3><div>")
        parts += [f"<img src='{_rel(p, base)}' alt='{e(p.stem)}' style='height:128px;margin:2px'>"
                  for p in inp.overlays]
        parts.append("</div>")
    if inp.transfer_grid is not None:
        parts.append("<h2>Expression transfer (the paper's Figure 9)</h2><p class='small'>Top: the source and the "
                     "targets. Bottom: the source's own fit, then the source person with each target's expression, "
                     "pose and light.</p>")
        parts.append(f"<img src='{_rel(inp.transfer_grid, base)}' alt='transfer grid'>")
    if inp.verifications:
        parts.append("<h2>Identity verification</h2>")
        for v in inp.verifications:
            thumbs = "".join(f"<img src='{_rel(t, base)}' alt=''>" for t in v.get("thumbs", []))
            parts.append(f"<p class='pair'>{thumbs} <b>{e(v['a'])}</b> vs <b>{e(v['b'])}</b>: "
                         f"{e(v['verdict'])}</p>")
    parts.append("<h2>Reproduce</h2><pre>" + e(facts.get("commands", "")) + "</pre>")
    parts.append("</body></html>")
    path = base / "report.html"
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
