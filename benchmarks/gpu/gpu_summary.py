"""summary.md of a GPU-benchmark run, from its results.json, whatever part of it finished.

Every section is written from what the phases recorded; a phase that did not finish shows its
status (failed, timeout, skipped, not run) in the phase table and leaves its own table out, so a
partial run still reads correctly.
"""

from __future__ import annotations

import os
from pathlib import Path

STATUS_ORDER = ("pytest_cuda", "synth_demo", "synth_paper", "throughput", "train_demo", "eval_demo",
                "train_paper", "eval_paper")
METHOD_NAMES = {"model": "network (ours)", "mean_face": "mean face", "landmark_fit": "linear fit to 68 landmarks"}


def _f(value, digits: int = 2, unit: str = "") -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, (int, float)):
        return f"{value:.{digits}f}{unit}"
    return str(value)


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(r) + " |" for r in rows]


def _phase(results: dict, name: str) -> dict:
    return results.get("phases", {}).get(name) or {}


def _detail(results: dict, name: str) -> dict:
    return _phase(results, name).get("detail") or {}


def _header(results: dict) -> list[str]:
    m = results.get("meta", {})
    env = m.get("env") or {}
    dev = env.get("device") or {}
    lines = ["# photoface on a GPU: benchmark run", ""]
    state = "finished" if m.get("finished") else "did not finish (this summary holds what completed)"
    lines.append(f"- date: {m.get('date', '–')} (UTC); run {state}")
    lines.append(f"- profile: `{m.get('profile', '–')}`; budget {_f(m.get('total_s'), 0)} s, "
                 f"used {_f(m.get('used_s'), 0)} s")
    if dev:
        lines.append(f"- device: {dev.get('name', '–')} (compute capability {dev.get('capability', '–')}, "
                     f"{_f(dev.get('memory_gib'), 1)} GiB, {dev.get('multiprocessors', '–')} multiprocessors); "
                     f"driver {m.get('driver') or '–'}")
    else:
        lines.append(f"- device: none (CUDA available: {_f(env.get('cuda_available'))}); "
                     f"driver {m.get('driver') or '–'}")
    lines.append(f"- CPUs: {m.get('cpus', '–')}")
    if env:
        lines.append(f"- software: torch {env.get('torch', '–')} (CUDA {env.get('torch_cuda') or '–'}, "
                     f"cuDNN {env.get('cudnn') or '–'}), torchvision {env.get('torchvision', '–')}, "
                     f"numpy {env.get('numpy', '–')}, Python {env.get('python', '–')} at `{m.get('python', '–')}`")
        lines.append(f"- float32 matmul precision `{env.get('float32_matmul_precision', '–')}`, "
                     f"cuDNN TF32 {_f(env.get('cudnn_allow_tf32'))}, cuBLAS TF32 {_f(env.get('matmul_allow_tf32'))}"
                     " (torch's defaults; photoface sets none of them)")
    lines.append(f"- photoface: {m.get('photoface', '–')} (commit {m.get('commit') or 'unknown'})")
    lines.append(f"- scratch data and runs: `{m.get('work', '–')}`")
    return lines


def _phases(results: dict) -> list[str]:
    names = [n for n in STATUS_ORDER if n in results.get("phases", {})]
    names += [n for n in results.get("phases", {}) if n not in names]
    rows = []
    for n in names:
        p = _phase(results, n)
        note = p.get("note", "")
        if p.get("detail_error"):
            note = (note + "; " if note else "") + f"results unreadable: {p['detail_error']}"
        rows.append([n, p.get("status", "not run"), _f(p.get("seconds"), 0), _f(p.get("allotted_s"), 0),
                     note.replace("|", "/")])
    return ["## Phases", ""] + _table(["phase", "status", "seconds", "allotted s", "note"], rows)


def _pytest(results: dict) -> list[str]:
    d = _detail(results, "pytest_cuda")
    if not d.get("tests"):
        return []
    rows = [[f"`{t['test']}`", t["outcome"], _f(t["seconds"], 1), t["message"].replace("|", "/")] for t in d["tests"]]
    c = d["counts"]
    return ["## CUDA correctness checks against the CPU (pytest)", "",
            f"{c['passed']} passed, {c['failed']} failed, {c['error']} errors, {c['skipped']} skipped.", ""] + \
        _table(["test", "outcome", "s", "message"], rows)


def _synth(results: dict) -> list[str]:
    rows = []
    for preset in ("demo", "paper"):
        d = _detail(results, f"synth_{preset}")
        if d:
            rows.append([preset, d.get("model", "–"), _f(d.get("size"), 0), _f(d.get("photos"), 0),
                         _f(d.get("identities"), 0), f"{_f(d.get('train_photos'), 0)} / {_f(d.get('test_photos'), 0)}",
                         _f(d.get("labeled"), 0), _f(_phase(results, f"synth_{preset}").get("seconds"), 1),
                         _f(d.get("photos_per_s"), 1)])
    if not rows:
        return []
    return ["## Synthetic collections (`photoface synth`, every core)", ""] + _table(
        ["collection", "face model", "px", "photos", "identities", "train / test photos", "labeled", "s",
         "photos/s"], rows)


def _throughput(results: dict) -> list[str]:
    d = _detail(results, "throughput")
    if not d.get("cases"):
        return []
    rows = []
    for c in d["cases"]:
        amp = "bf16" if c["amp"] else "fp32"
        if c["amp"] and not c.get("amp_active", True):
            amp += " (inactive off CUDA)"
        rows.append([amp, "channels_last" if c["channels_last"] else "NCHW", str(c["stage"]), str(c["batch"]),
                     _f(c["step_s_median"], 3), _f(c["images_per_s"], 1), _f(c["compute_images_per_s"], 1),
                     _f(c.get("peak_memory_gib"), 2), _f(c.get("speedup_vs_fp32_nchw"), 2),
                     _f(c.get("losses_finite"))])
    c0 = d["cases"][0]
    return [f"## `{d.get('preset', 'paper')}`-preset training throughput", "",
            f"Medians of {c0['timed_steps']} timed steps per case after {c0['warmup_steps']} warm-up steps, "
            "each step a full training step (next batch, forward, render, losses, critic and generator "
            "updates) between `torch.cuda.synchronize` calls; autocast cases alternate with their fp32 "
            "twins round by round on the same trainer. Compute-only leaves the wait for the batch out. "
            "Peak memory is `torch.cuda.max_memory_allocated`.", ""] + _table(
        ["autocast", "layout", "stage", "batch", "step s", "images/s", "compute-only images/s", "peak GiB",
         "× fp32 NCHW", "losses finite"], rows)


def _training(results: dict) -> list[str]:
    rows = []
    for preset in ("demo", "paper"):
        d = _detail(results, f"train_{preset}")
        if d:
            rows.append([preset, _f(d.get("time_limit_minutes"), 2), _f(d.get("steps"), 0), _f(d.get("stage"), 0),
                         _f(d.get("images_per_s"), 1), _f(d.get("stopped_by")),
                         f"{_f(d.get('first_total'), 3)} → {_f(d.get('last_total'), 3)}",
                         _f(d.get("skipped_steps"), 0)])
    if not rows:
        return []
    return ["## Training (`photoface train`)", "",
            "images/s: the median over the logged windows after the first (metrics.jsonl).", ""] + _table(
        ["preset", "time limit (min)", "steps", "stage at end", "images/s", "stopped by", "total loss first → last",
         "skipped steps"], rows)


def _evaluation(results: dict) -> list[str]:
    rows = []
    for preset in ("demo", "paper"):
        d = _detail(results, f"eval_{preset}")
        for name, m in (d.get("methods") or {}).items():
            shape = _f(m.get("shape_identity_mm"), 2)
            if m.get("shape_identity_sem_mm") is not None:
                shape += f" ± {m['shape_identity_sem_mm']:.2f}"
            nme = None if m.get("nme") is None else 100 * m["nme"]
            rows.append([preset, f"{_f(d.get('identities'), 0)} / {_f(d.get('photos'), 0)}", _f(d.get("step"), 0),
                         METHOD_NAMES.get(name, name), shape, _f(m.get("photo_mm"), 2), _f(nme, 1),
                         _f(m.get("eer"), 3)])
    if not rows:
        return []
    return ["## Held-out evaluation (`photoface evaluate synthetic`)", "",
            "Identity-averaged shape error: the mean over the three settings, ± the largest standard error "
            "over identities of a setting. Per-photo error, landmark NME and EER are photo-weighted over the "
            "settings (docs/evaluation.md defines each).", ""] + _table(
        ["preset", "test identities / photos", "step", "method", "identity-averaged shape (mm)",
         "per-photo shape (mm)", "landmark NME (%)", "verification EER"], rows)


def _commands(results: dict) -> list[str]:
    cmds = [(n, p["command"]) for n, p in results.get("phases", {}).items() if p.get("command")]
    if not cmds:
        return []
    out = ["## Commands", "", "Run from the repository root with `PYTHONPATH=src` and "
           "`PHOTOFACE_CACHE` in the scratch folder; `photoface` is `python -m photoface.cli`.", "", "```"]
    for name, cmd in cmds:
        out += [f"# {name}", cmd]
    return out + ["```"]


def render_summary(results: dict) -> str:
    """The Markdown summary of ``results`` (the driver's results.json)."""
    parts = [_header(results), _phases(results), _pytest(results), _synth(results), _throughput(results),
             _training(results), _evaluation(results), _commands(results)]
    return "\n\n".join("\n".join(p) for p in parts if p) + "\n"


def write_summary(results: dict, out_dir: Path) -> Path:
    """Write ``out_dir/summary.md`` atomically; returns its path."""
    path = Path(out_dir) / "summary.md"
    tmp = path.with_name(f".summary.md.{os.getpid()}")
    tmp.write_text(render_summary(results), encoding="utf-8")
    tmp.replace(path)
    return path
