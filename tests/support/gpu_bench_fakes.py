"""Phase outputs and a results.json as a finished GPU run (benchmarks/gpu) would leave them, for
summary tests (numbers invented, shaped like the real files)."""

from __future__ import annotations

import json

JUNIT = """<?xml version="1.0" encoding="utf-8"?>
<testsuites><testsuite name="pytest" errors="0" failures="1" skipped="1" tests="3">
<testcase classname="tests.nn.test_nn_chebconv_cuda"
 name="test_chebconv_on_cuda_matches_cpu_values_and_gradients" time="0.52"/>
<testcase classname="tests.train.test_train_cuda"
 name="test_cuda_training_steps_match_cpu_losses[True-True]" time="3.10">
<failure message="AssertionError: (0, 'photometric', 0.2, 0.1)&#10;assert 0.1 &lt;= 0.01">trace</failure></testcase>
<testcase classname="tests.render.test_render_cuda" name="test_cuda_render_matches_cpu" time="0.00">
<skipped type="pytest.skip" message="needs a CUDA device">skip</skipped></testcase>
</testsuite></testsuites>
"""

SYNTH_STDOUT = "wrote 1200 photos of 200 identities (1020 train / 180 test photos, 510 labeled) to /w/synth_demo\n"

TRAIN_STDOUT = """run /w/run_demo: step 812/1600, stage 2, stopped by time_limit, 85 s, 0 skipped steps
checkpoint: /w/run_demo/checkpoints/step_0000812.pt
photometric: 0.1338 -> 0.05
total: 1.535 -> 0.712
"""


def metrics_lines() -> list[dict]:
    return [{"step": 10 * i, "stage": 1 if i < 40 else 2, "total": 1.5 - 0.01 * i,
             "images_per_s": 50.0 if i == 1 else 200.0 + i, "skipped_steps": 0, "elapsed_s": 1.0 * i}
            for i in range(1, 82)]


def _method(shape, photo, nme, eer=None):
    block = {
        "shape_mm": {"identity": {s: {"mean": shape + d, "std": 0.3, "n": 30, "failed": 0}
                                  for s, d in (("cooperative", -0.1), ("indoor", 0.0), ("outdoor", 0.1))}},
        "photo_mm": {"cooperative": {"mean": photo, "std": 0.2, "n": 60, "failed": 0},
                     "indoor": {"mean": photo + 0.3, "std": 0.2, "n": 60, "failed": 0},
                     "outdoor": {"mean": photo + 0.6, "std": 0.2, "n": 60, "failed": 0}},
        "landmark_nme": {s: {"mean": nme, "std": 0.01, "n": 60, "failed": 0}
                         for s in ("cooperative", "indoor", "outdoor")},
    }
    if eer is not None:
        block["verification"] = {"eer": eer}
    return block


def evaluation() -> dict:
    return {"meta": {"identities": 30, "photos": 180, "step": 812, "seconds": 60.0},
            "model": _method(1.5, 3.0, 0.05, 0.3), "mean_face": _method(1.7, 3.5, 0.16),
            "landmark_fit": _method(1.2, 2.6, 0.012, 0.2)}


def throughput() -> dict:
    def case(amp, cl, stage, step):
        return {"amp": amp, "amp_active": amp, "channels_last": cl, "stage": stage, "batch": 48, "timed_steps": 12,
                "warmup_steps": 3, "step_s_median": step, "step_s": [step] * 12, "compute_s_median": step * 0.9,
                "images_per_s": 48 / step, "compute_images_per_s": 48 / (step * 0.9), "peak_memory_gib": 20.5,
                "losses_finite": True, "last_total_loss": 1.2}
    return {"preset": "paper", "cases": [case(True, True, 1, 0.2), case(False, True, 1, 0.4),
                                         case(False, False, 1, 0.5), case(True, True, 2, 0.25)]}


def results(full: bool = True) -> dict:
    """A results.json; ``full=False``: the run stopped during paper training (throughput failed)."""
    import gpu_results as R

    phases = {
        "pytest_cuda": {"status": "ok", "seconds": 20.0, "allotted_s": 40.0, "command": "python -m pytest -q",
                        "detail": {"tests": [{"test": "tests.x::test_cuda_a", "outcome": "passed", "seconds": 1.0,
                                              "message": ""}],
                                   "counts": {"passed": 1, "failed": 0, "error": 0, "skipped": 0}}},
        "synth_demo": {"status": "ok", "seconds": 12.0, "command": "photoface synth --model builtin:demo",
                       "detail": {"model": "builtin:demo", "size": 128, **R.read_synth(SYNTH_STDOUT, 12.0)}},
        "throughput": {"status": "ok", "seconds": 70.0, "command": "python gpu_throughput.py",
                       "detail": R.read_throughput_data(throughput())},
        "train_demo": {"status": "ok", "seconds": 110.0, "command": "photoface train --preset demo",
                       "detail": {"time_limit_minutes": 1.42, "steps": 812, "stage": 2, "images_per_s": 241.0,
                                  "stopped_by": "time_limit", "first_total": 1.535, "last_total": 0.712,
                                  "skipped_steps": 0}},
        "eval_demo": {"status": "ok", "seconds": 61.0, "command": "photoface evaluate synthetic",
                      "detail": R.read_evaluation_data(evaluation())},
    }
    meta = {"date": "2026-12-02 10:00", "profile": "gpu", "total_s": 510.0, "used_s": 500.0, "cpus": 16,
            "python": "/opt/torch/.venv/bin/python3", "work": "/tmp/w", "finished": full, "driver": "580.159.04",
            "commit": "abc1234", "photoface": "/repo/src on PYTHONPATH",
            "env": {"python": "3.12.3", "torch": "2.11.0+cu130", "torch_cuda": "13.0", "torchvision": "0.26.0",
                    "numpy": "2.5.2", "cudnn": 91300, "cuda_available": True, "float32_matmul_precision": "highest",
                    "cudnn_allow_tf32": True, "matmul_allow_tf32": False,
                    "device": {"name": "NVIDIA H200", "capability": "9.0", "memory_gib": 139.8,
                               "multiprocessors": 132, "count": 1}}}
    if not full:
        phases["throughput"] = {"status": "failed", "rc": 1, "seconds": 9.0,
                                "note": "RuntimeError: CUDA error: out of memory"}
        phases["train_paper"] = {"status": "running", "allotted_s": 140.0}
        del phases["eval_demo"]
    return {"meta": meta, "phases": phases}


def write_json(path, data) -> None:
    path.write_text(json.dumps(data))
