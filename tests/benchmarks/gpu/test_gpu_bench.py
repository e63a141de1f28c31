import json
import sys
import time
from pathlib import Path

import gpu_bench
import gpu_phases as P

REPO = Path(__file__).resolve().parents[3]


def bench(tmp_path, total_s=500.0, selected=None, start=None):
    paths = P.Paths(repo=REPO, work=tmp_path / "work", out=tmp_path / "out")
    paths.work.mkdir()
    paths.out.mkdir()
    return gpu_bench.Bench(sys.executable, P.PROFILES["dry"], paths, total_s,
                           set(P.ALL_PHASES) if selected is None else selected,
                           time.monotonic() if start is None else start)


def test_a_job_past_its_deadline_is_stopped_with_its_children_and_recorded_as_timeout(tmp_path):
    b = bench(tmp_path)
    child = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)']); " \
            "print('started', flush=True); time.sleep(60)"
    job = b._start("synth_demo", [sys.executable, "-c", child], time.monotonic() + 1.5)
    b._finish(job, lambda j: R_fail())
    rec = json.loads((tmp_path / "out" / "results.json").read_text())["phases"]["synth_demo"]
    assert rec["status"] == "timeout" and rec["note"] == "started"
    assert rec["detail_error"].startswith("ValueError")  # a reader failing is recorded, not raised
    assert job.proc.returncode is not None and not b.live
    assert "| synth_demo | timeout |" in (tmp_path / "out" / "summary.md").read_text()


def R_fail():
    raise ValueError("nothing to read")


def test_a_phase_whose_needs_failed_is_skipped_and_nothing_runs(tmp_path):
    b = bench(tmp_path)
    b.record("synth_paper", status="failed")
    b.phase("throughput")
    b.phase("train_paper")
    phases = b.results["phases"]
    assert phases["throughput"] == {"status": "skipped", "note": "needs synth_paper"}
    assert phases["train_paper"]["note"] == "needs synth_paper" and not b.live


def test_phases_not_selected_or_out_of_time_are_recorded_as_such(tmp_path):
    b = bench(tmp_path, total_s=100.0, selected={"synth_demo"}, start=time.monotonic() - 95.0)
    b.phase("pytest_cuda")
    b.phase("synth_demo")
    assert b.results["phases"]["pytest_cuda"]["status"] == "not selected"
    assert b.results["phases"]["synth_demo"] == {"status": "skipped", "note": "no time left in the budget"}


def test_a_stopped_driver_stops_its_jobs_and_says_so(tmp_path):
    b = bench(tmp_path)
    job = b._start("eval_demo", [sys.executable, "-c", "import time; time.sleep(60)"], time.monotonic() + 60)
    b.stop_all()
    assert job.proc.returncode is not None
    assert b.results["phases"]["eval_demo"]["status"] == "stopped"


def test_a_background_phase_without_its_training_is_skipped_with_the_reason(tmp_path, monkeypatch):
    b = bench(tmp_path, selected={"eval_demo", "pytest_cuda"})
    monkeypatch.setattr(b, "meta", lambda: None)
    monkeypatch.setattr(b, "_pytest_cuda", lambda deadline: b.record("pytest_cuda", status="ok"))
    assert b.run() is False
    phases = b.results["phases"]
    assert phases["eval_demo"] == {"status": "skipped", "note": "needs train_demo"}
    assert phases["train_demo"]["status"] == "not selected" and phases["pytest_cuda"]["status"] == "ok"


def test_an_evaluation_runs_on_a_training_stopped_at_its_deadline_if_it_left_a_checkpoint(tmp_path):
    b = bench(tmp_path)
    b.record("train_paper", status="timeout")
    assert b._ready("eval_paper") == "needs train_paper"
    last = b.paths.run("paper") / "checkpoints" / "last.pt"
    last.parent.mkdir(parents=True)
    last.write_bytes(b"checkpoint")
    assert b._ready("eval_paper") is None
    b.record("synth_paper", status="timeout")  # a half-written collection is no prerequisite
    assert b._ready("train_paper") == "needs synth_paper"
