"""benchmarks/gpu/run.sh on this machine: syntax, its refusals, and the CPU dry run end to end."""

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

RUN_SH = Path(__file__).resolve().parents[3] / "benchmarks" / "gpu" / "run.sh"


def run(env: dict, timeout: float = 120) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("GPU_BENCH_") and k != "OUT"}
    return subprocess.run(["bash", str(RUN_SH)], env={**full, **env}, capture_output=True, text=True, timeout=timeout)


def test_the_script_is_valid_bash():
    subprocess.run(["bash", "-n", str(RUN_SH)], check=True)


def test_without_out_it_says_so():
    done = run({})
    assert done.returncode == 2 and "set OUT" in done.stderr


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the refusal on a machine without CUDA")
def test_without_a_gpu_it_stops_at_once_with_the_reason_and_a_summary(tmp_path):
    done = run({"OUT": str(tmp_path / "out"), "GPU_BENCH_PYTHON": sys.executable})
    assert done.returncode == 3
    assert "no CUDA device is available" in done.stderr
    assert f"{sys.executable}: {torch.__version__} " in done.stderr  # names what it tried
    summary = (tmp_path / "out" / "summary.md").read_text()
    assert "stopped before any phase, exit code 3" in summary and "no CUDA device" in summary
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["summary.md"]


@pytest.mark.slow
def test_the_cpu_dry_run_runs_every_phase_and_returns_what_the_device_tool_takes(tmp_path):
    out = tmp_path / "out"
    done = run({"OUT": str(out), "GPU_BENCH_ALLOW_CPU": "1", "GPU_BENCH_PYTHON": sys.executable,
                "GPU_BENCH_WORK": str(tmp_path / "work"), "GPU_BENCH_MINUTES": "40"}, timeout=2400)
    results = json.loads((out / "results.json").read_text())
    statuses = {name: p["status"] for name, p in results["phases"].items()}
    assert done.returncode == 0, (statuses, done.stdout[-2000:], done.stderr[-2000:])
    assert set(statuses.values()) == {"ok"} and len(statuses) == 8
    assert results["meta"]["profile"] == "dry" and results["meta"]["finished"]
    assert all(t["outcome"] == "skipped" for t in results["phases"]["pytest_cuda"]["detail"]["tests"])
    files = sorted(out.iterdir())
    # the device tool returns at most 8 plain files, named in letters, digits, '.', '_', '-'
    assert len(files) <= 8 and all(f.is_file() and re.fullmatch(r"[\w.-]+", f.name) for f in files)
    assert {f.name for f in files} == {"summary.md", "results.json", "logs.txt", "eval_demo.json", "eval_paper.json",
                                       "metrics_demo.jsonl", "metrics_paper.jsonl"}
    summary = (out / "summary.md").read_text()
    for title in ("## Synthetic collections", "training throughput", "## Training", "## Held-out evaluation"):
        assert title in summary
