"""Numbers out of what each GPU-benchmark phase leaves behind: pytest's JUnit report, synth's
output line, a run's metrics.jsonl, the evaluation's JSON and the throughput JSON.

Each reader returns a plain dict for results.json and raises ``ValueError`` (or ``OSError``) when
its input is missing or not what the phase should have written; the driver records that message
next to the phase instead of failing the benchmark.
"""

from __future__ import annotations

import json
import re
import statistics
import xml.etree.ElementTree as ET
from pathlib import Path

SETTINGS = ("cooperative", "indoor", "outdoor")
EVAL_METHODS = ("model", "mean_face", "landmark_fit")


def read_pytest(xml_path: Path) -> dict:
    """Outcome, time and first message line of every test case in a JUnit XML report."""
    root = ET.parse(xml_path).getroot()
    tests = []
    for case in root.iter("testcase"):
        outcome, message = "passed", ""
        for tag in ("failure", "error", "skipped"):
            node = case.find(tag)
            if node is not None:
                outcome = {"failure": "failed", "error": "error", "skipped": "skipped"}[tag]
                text = (node.get("message") or node.text or "").strip()
                message = text.splitlines()[0][:300] if text else ""
                break
        name = f"{case.get('classname', '')}::{case.get('name', '')}".lstrip(":")
        tests.append({"test": name, "outcome": outcome, "seconds": float(case.get("time") or 0), "message": message})
    if not tests:
        raise ValueError(f"{xml_path}: no test cases")
    counts = {k: sum(t["outcome"] == k for t in tests) for k in ("passed", "failed", "error", "skipped")}
    return {"tests": tests, "counts": counts}


_SYNTH_LINE = re.compile(r"wrote (\d+) photos of (\d+) identities \((\d+) train / (\d+) test photos, (\d+) labeled\)")


def read_synth(stdout: str, seconds: float) -> dict:
    """Counts from ``photoface synth``'s closing line, and photos per second of the whole command."""
    m = _SYNTH_LINE.search(stdout)
    if not m:
        raise ValueError("synth printed no 'wrote N photos ...' line")
    photos, ids, train, test, labeled = (int(g) for g in m.groups())
    return {"photos": photos, "identities": ids, "train_photos": train, "test_photos": test,
            "labeled": labeled, "photos_per_s": photos / seconds if seconds > 0 else None}


def read_training(run_dir: Path, stdout: str) -> dict:
    """Steps, throughput and loss trend of a training run from RUN/metrics.jsonl and its summary line."""
    path = Path(run_dir) / "metrics.jsonl"
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if not records:
        raise ValueError(f"{path}: no records")
    # the first window holds the warm-up (cuDNN search, loader start); later ones are steady
    steady = [r["images_per_s"] for r in records[1:] if r.get("images_per_s")] or \
             [r["images_per_s"] for r in records if r.get("images_per_s")]
    stopped = re.search(r"stopped by (\w+)", stdout)
    # the run's closing lines give the losses of its first and last step ("total: a -> b");
    # metrics.jsonl's windows are averages, and a short run has only one
    trend = re.search(r"^total: (\S+) -> (\S+)$", stdout, re.MULTILINE)
    last = records[-1]
    return {
        "steps": last["step"], "stage": last.get("stage"), "elapsed_s": last.get("elapsed_s"),
        "images_per_s": statistics.median(steady) if steady else None,
        "log_windows": len(records), "stopped_by": stopped.group(1) if stopped else None,
        "first_total": float(trend.group(1)) if trend else records[0].get("total"),
        "last_total": float(trend.group(2)) if trend else last.get("total"),
        "skipped_steps": last.get("skipped_steps"),
    }


def _weighted(block: dict | None) -> float | None:
    """The photo-weighted mean of per-setting {mean, n} entries."""
    if not block:
        return None
    parts = [(v["mean"], v.get("n", 1)) for v in block.values() if isinstance(v, dict) and v.get("mean") is not None]
    total = sum(n for _, n in parts)
    return sum(m * n for m, n in parts) / total if total else None


def read_evaluation(json_path: Path) -> dict:
    """:func:`read_evaluation_data` of the file ``json_path``."""
    return read_evaluation_data(json.loads(Path(json_path).read_text(encoding="utf-8")))


def read_evaluation_data(data: dict) -> dict:
    """Headline numbers per method of ``photoface evaluate synthetic``'s results.

    ``shape_identity_mm``: identity-averaged shape error, the mean over the three settings of
    the per-setting means, with the standard error over identities of the worst-sampled setting's
    spread; ``photo_mm``, ``nme`` (a fraction) and ``eer`` are photo-weighted over the settings.
    """
    meta = data.get("meta", {})
    methods = {}
    for name in EVAL_METHODS:
        r = data.get(name)
        if not isinstance(r, dict):
            continue
        ident = (r.get("shape_mm") or {}).get("identity") or {}
        means = [ident[s]["mean"] for s in SETTINGS if s in ident and ident[s].get("mean") is not None]
        sems = [ident[s]["std"] / ident[s]["n"] ** 0.5 for s in SETTINGS
                if s in ident and ident[s].get("n") and ident[s].get("std") is not None]
        methods[name] = {
            "shape_identity_mm": sum(means) / len(means) if means else None,
            "shape_identity_sem_mm": max(sems) if sems else None,
            "photo_mm": _weighted(r.get("photo_mm")),
            "nme": _weighted(r.get("landmark_nme")),
            "eer": (r.get("verification") or {}).get("eer"),
        }
    if "model" not in methods:
        raise ValueError("evaluation results without a 'model' entry")
    return {"identities": meta.get("identities"), "photos": meta.get("photos"), "step": meta.get("step"),
            "seconds": meta.get("seconds"), "methods": methods}


def read_throughput(json_path: Path) -> dict:
    """:func:`read_throughput_data` of the file ``json_path`` (gpu_throughput.py's output)."""
    return read_throughput_data(json.loads(Path(json_path).read_text(encoding="utf-8")))


def read_throughput_data(data: dict) -> dict:
    """The throughput cases, each with its speed relative to fp32 NCHW stage 1 when that was timed."""
    cases = data.get("cases") or []
    if not cases:
        raise ValueError("throughput results without timed cases")
    ref = next((c for c in cases if not c["amp"] and not c["channels_last"] and c["stage"] == 1), None)
    for c in cases:
        c["speedup_vs_fp32_nchw"] = c["images_per_s"] / ref["images_per_s"] if ref and c["stage"] == 1 else None
    return {"preset": data.get("preset"), "cases": cases}
