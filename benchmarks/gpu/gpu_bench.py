"""Driver of the GPU benchmark (``benchmarks/gpu/run.sh`` calls it; docs/gpu.md says what it measures).

    python benchmarks/gpu/gpu_bench.py run --out OUT --work WORK [--profile gpu|dry] [--total-seconds S]
                                           [--phases a,b,...]
    python benchmarks/gpu/gpu_bench.py summarize --out OUT     # summary.md again from OUT/results.json
    python benchmarks/gpu/gpu_bench.py probe                    # the interpreter's torch/CUDA facts, JSON

Every phase is a child process with a deadline from one budget (gpu_budget.py); after each phase
OUT/results.json and OUT/summary.md are rewritten, so a run stopped at any point, even by
SIGKILL, leaves a summary of what finished. The driver itself never imports torch: a CUDA
failure kills a phase, not the record of it. What comes back in OUT is at most eight files:
summary.md, results.json, logs.txt, and the evaluation JSON and metrics.jsonl of each preset.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import gpu_phases as P
import gpu_results as R
from gpu_budget import Budget
from gpu_summary import write_summary

from photoface.jsonfile import json_text, write_json  # standard library and numpy only: no torch

LOG_TAIL_LINES = 150  # per phase, in OUT/logs.txt
KILL_GRACE_S = 10.0  # SIGTERM first (training checkpoints on it), SIGKILL after this


class Stopped(Exception):
    """SIGTERM or SIGINT reached the driver."""


def probe() -> dict:
    """Facts about this interpreter's torch and the CUDA device it sees (imports torch)."""
    import platform

    import numpy
    import torch
    import torchvision

    info = {
        "python": platform.python_version(), "torch": torch.__version__, "torch_cuda": torch.version.cuda,
        "torchvision": torchvision.__version__, "numpy": numpy.__version__,
        "cudnn": torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None,
        "cuda_available": torch.cuda.is_available(),
        "float32_matmul_precision": torch.get_float32_matmul_precision(),
        "cudnn_allow_tf32": torch.backends.cudnn.allow_tf32, "matmul_allow_tf32": torch.backends.cuda.matmul.allow_tf32,
        "device": None,
    }
    if info["cuda_available"]:
        p = torch.cuda.get_device_properties(0)
        info["device"] = {"name": p.name, "capability": f"{p.major}.{p.minor}", "memory_gib": p.total_memory / 2**30,
                          "multiprocessors": p.multi_processor_count, "count": torch.cuda.device_count()}
    return info


def _command_output(cmd: list[str], cwd: Path | None = None) -> str | None:
    try:
        done = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return done.stdout.strip() if done.returncode == 0 else None


class Job:
    """One phase's child process, in its own process group so that its workers stop with it."""

    def __init__(self, name: str, cmd: list[str], cwd: Path, env: dict, log: Path, deadline: float):
        self.name, self.cmd, self.log, self.deadline = name, cmd, log, deadline
        log.parent.mkdir(parents=True, exist_ok=True)
        self._fh = open(log, "w", encoding="utf-8")
        self.started = time.monotonic()
        self.proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=self._fh, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, process_group=0)
        self.timed_out = False

    def poll(self) -> int | None:
        """The exit code once finished; stops the job when it is past its deadline."""
        rc = self.proc.poll()
        if rc is None and time.monotonic() > self.deadline:
            self.timed_out = True
            self.stop()
            rc = self.proc.returncode
        if rc is not None:
            self._fh.close()
        return rc

    def wait(self) -> int:
        while (rc := self.poll()) is None:
            time.sleep(0.2)
        return rc

    def stop(self) -> None:
        """SIGTERM to the group, SIGKILL after the grace period."""
        for sig, wait in ((signal.SIGTERM, KILL_GRACE_S), (signal.SIGKILL, 5.0)):
            try:
                os.killpg(self.proc.pid, sig)
            except ProcessLookupError:
                pass
            try:
                self.proc.wait(timeout=wait)
                break
            except subprocess.TimeoutExpired:
                continue
        self._fh.close()

    @property
    def seconds(self) -> float:
        return time.monotonic() - self.started

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


class Bench:
    """Runs the phases of one profile in order (see the module docstring)."""

    def __init__(self, python: str, profile: P.Profile, paths: P.Paths, total_s: float, selected: set[str],
                 start: float):
        self.python, self.profile, self.paths, self.selected = python, profile, paths, selected
        self.budget = Budget(P.PHASES, total_s, reserve_s=15.0, start=start)
        self.background: dict[str, Job] = {}
        self.live: set[Job] = set()  # every started job not yet recorded, foreground or background
        self.results = {"meta": {"date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M"),
                                 "profile": profile.name, "total_s": total_s, "python": python,
                                 "cpus": os.cpu_count(), "work": str(paths.work), "finished": False},
                        "phases": {}}
        self.env = dict(os.environ)
        self.env.update({"PYTHONUNBUFFERED": "1", "PHOTOFACE_CACHE": str(paths.work / "cache"), "MPLBACKEND": "Agg"})

    # ----------------------------------------------------------------------------- records
    def save(self) -> None:
        self.results["meta"]["used_s"] = time.monotonic() - self.budget.start
        write_json(self.paths.out / "results.json", self.results, indent=2)
        write_summary(self.results, self.paths.out)

    def record(self, name: str, **fields) -> None:
        self.results["phases"].setdefault(name, {}).update(fields)
        self.save()
        if fields.get("status") != "running":  # progress in the device tool's output tail, too
            p = self.results["phases"][name]
            took = "" if p.get("seconds") is None else f" in {p['seconds']:.0f} s"
            note = f" ({p['note']})" if p.get("note") else ""
            print(f"[{time.monotonic() - self.budget.start:5.0f} s] {name}: {p.get('status')}{took}{note}", flush=True)

    def meta(self) -> None:
        m = self.results["meta"]
        m["driver"] = _command_output(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"])
        m["commit"] = _command_output(["git", "rev-parse", "--short", "HEAD"], cwd=self.paths.repo)
        m["photoface"] = f"{self.paths.repo / 'src'} on PYTHONPATH"
        try:
            done = subprocess.run([self.python, str(Path(__file__).resolve()), "probe"], capture_output=True,
                                  text=True, timeout=120, env=self.env)
            m["env"] = json.loads(done.stdout) if done.returncode == 0 else {"error": done.stderr[-500:]}
        except (subprocess.TimeoutExpired, json.JSONDecodeError) as exc:
            m["env"] = {"error": str(exc)}
        self.save()

    # ----------------------------------------------------------------------------- running
    def _ready(self, name: str) -> str | None:
        """Why ``name`` cannot run now (None: it can)."""
        if name not in self.selected:
            return "not selected"
        for need in P.NEEDS.get(name, ()):
            if not self._satisfied(need):
                return f"needs {need}"
        return None

    def _satisfied(self, need: str) -> bool:
        """A prerequisite succeeded; a training also counts when it left a checkpoint (stopped at
        its deadline, it saves one on SIGTERM)."""
        if self.results["phases"].get(need, {}).get("status") == "ok":
            return True
        if need.startswith("train_") and need in self.results["phases"]:
            return (self.paths.run(need.split("_", 1)[1]) / "checkpoints" / "last.pt").is_file()
        return False

    def _start(self, name: str, cmd: list[str], deadline: float, threads: int | None = None) -> Job:
        env = self.env if threads is None else {**self.env, "OMP_NUM_THREADS": str(threads)}
        self.record(name, status="running", command=P.display(cmd), allotted_s=deadline - time.monotonic())
        job = Job(name, cmd, self.paths.repo, env, self.paths.work / "logs" / f"{name}.log", deadline)
        self.live.add(job)
        return job

    def _finish(self, job: Job, reader=None, **extra) -> None:
        """Record a finished job's status and, when ``reader`` gives them, its numbers."""
        rc = job.wait()
        status = "timeout" if job.timed_out else ("ok" if rc == 0 else "failed")
        fields = {"status": status, "rc": rc, "seconds": job.seconds, **extra}
        if status != "ok":
            fields["note"] = _last_line(job.output())
        self.live.discard(job)
        if reader is not None:
            try:
                fields["detail"] = reader(job)
            except (OSError, ValueError, KeyError, TypeError) as exc:
                fields["detail_error"] = f"{type(exc).__name__}: {exc}"[:300]
        self.record(job.name, **fields)

    def phase(self, name: str) -> None:
        """Run foreground phase ``name`` to its end or its deadline."""
        self._poll_background()
        why = self._ready(name)
        if why is not None:
            self.record(name, status="skipped" if why != "not selected" else "not selected", note=why)
            return
        deadline = self.budget.deadline(name)
        if deadline is None:
            self.record(name, status="skipped", note="no time left in the budget")
            return
        getattr(self, "_" + name)(deadline)

    def _pytest_cuda(self, deadline: float) -> None:
        job = self._start("pytest_cuda", P.pytest_command(self.python, self.paths), deadline)
        self._finish(job, lambda j: R.read_pytest(self.paths.work / "pytest.xml"))

    def _synth(self, preset: str, deadline: float) -> None:
        job = self._start(f"synth_{preset}", P.synth_command(self.python, self.profile, self.paths, preset), deadline)
        model = "builtin:demo" if preset == "demo" else self.profile.paper_model
        size = 128 if preset == "demo" else self.profile.paper_size
        self._finish(job, lambda j: {"model": model, "size": size, **R.read_synth(j.output(), j.seconds)})

    def _synth_demo(self, deadline: float) -> None:
        self._synth("demo", deadline)

    def _synth_paper(self, deadline: float) -> None:
        self._synth("paper", deadline)

    def _throughput(self, deadline: float) -> None:
        job = self._start("throughput", P.throughput_command(self.python, self.profile, self.paths), deadline)
        self._finish(job, lambda j: R.read_throughput(self.paths.work / "throughput.json"))

    def _train(self, preset: str, deadline: float) -> None:
        name = f"train_{preset}"
        minutes = P.train_minutes(preset, deadline - time.monotonic())
        if minutes is None:
            self.record(name, status="skipped", note="too little time left to train")
            return
        job = self._start(name, P.train_command(self.python, self.profile, self.paths, preset, minutes), deadline)

        def read(j: Job) -> dict:
            metrics = self.paths.run(preset) / "metrics.jsonl"
            if metrics.exists():
                shutil.copyfile(metrics, self.paths.out / f"metrics_{preset}.jsonl")
            return {"time_limit_minutes": minutes, **R.read_training(self.paths.run(preset), j.output())}

        self._finish(job, read)

    def _train_demo(self, deadline: float) -> None:
        self._train("demo", deadline)
        if self._ready("eval_demo") is None:
            cmd = P.eval_command(self.python, self.profile, self.paths, "demo")
            self.background["eval_demo"] = self._start("eval_demo", cmd, self.budget.final_deadline, threads=4)
        elif "eval_demo" in self.selected:
            self.record("eval_demo", status="skipped", note=self._ready("eval_demo"))

    def _train_paper(self, deadline: float) -> None:
        self._train("paper", deadline)

    def _eval_reader(self, preset: str):
        def read(j: Job) -> dict:
            src = self.paths.eval_json(preset)
            shutil.copyfile(src, self.paths.out / f"eval_{preset}.json")
            return R.read_evaluation(src)
        return read

    def _eval_paper(self, deadline: float) -> None:
        job = self._start("eval_paper", P.eval_command(self.python, self.profile, self.paths, "paper"), deadline)
        self._finish(job, self._eval_reader("paper"))

    def _poll_background(self, wait: bool = False) -> None:
        for name, job in list(self.background.items()):
            if wait:
                job.wait()
            if job.poll() is not None:
                del self.background[name]
                self._finish(job, self._eval_reader(name.split("_", 1)[1]))

    def run(self) -> bool:
        """All phases; True when every selected one succeeded."""
        self.meta()
        for p in P.PHASES:
            self.phase(p.name)
        self._poll_background(wait=True)
        self.results["meta"]["finished"] = True
        for name in P.ALL_PHASES:
            if name not in self.results["phases"]:
                why = self._ready(name) or "not reached"
                self.record(name, status="not selected" if why == "not selected" else "skipped", note=why)
        return all(self.results["phases"].get(n, {}).get("status") in ("ok", "not selected") for n in P.ALL_PHASES)

    def stop_all(self) -> None:
        """Stop every job still running and record it as stopped."""
        for job in list(self.live):
            job.stop()
            self.live.discard(job)
            self.record(job.name, status="stopped", seconds=job.seconds, note="the driver was stopped")

    def collect_logs(self) -> None:
        """The tail of every phase's log, in phase order, into OUT/logs.txt."""
        parts = []
        for name in P.ALL_PHASES:
            log = self.paths.work / "logs" / f"{name}.log"
            if log.exists():
                lines = log.read_text(encoding="utf-8", errors="replace").splitlines()
                parts.append(f"===== {name} (last {min(len(lines), LOG_TAIL_LINES)} of {len(lines)} lines)")
                parts += lines[-LOG_TAIL_LINES:]
        (self.paths.out / "logs.txt").write_text("\n".join(parts) + "\n", encoding="utf-8")


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def _on_signal(signum, frame):  # noqa: ARG001 - signal handler signature
    raise Stopped(signal.Signals(signum).name)


def cmd_run(args: argparse.Namespace) -> int:
    start = time.monotonic() - args.elapsed
    repo = Path(__file__).resolve().parents[2]
    paths = P.Paths(repo=repo, work=Path(args.work).resolve(), out=Path(args.out).resolve())
    paths.work.mkdir(parents=True, exist_ok=True)
    paths.out.mkdir(parents=True, exist_ok=True)
    selected = set(P.ALL_PHASES) if not args.phases else {s.strip() for s in args.phases.split(",") if s.strip()}
    unknown = selected - set(P.ALL_PHASES)
    if unknown:
        print(f"gpu_bench: unknown phases {sorted(unknown)}; choose from {', '.join(P.ALL_PHASES)}", file=sys.stderr)
        return 2
    bench = Bench(args.python, P.PROFILES[args.profile], paths, args.total_seconds, selected, start)
    for s in (signal.SIGTERM, signal.SIGINT):
        signal.signal(s, _on_signal)
    ok = False
    try:
        ok = bench.run()
    except Stopped as exc:
        bench.results["meta"]["stopped_by"] = str(exc)
    finally:
        bench.stop_all()
        bench.collect_logs()
        bench.save()
    for name, p in bench.results["phases"].items():
        print(f"{name:12} {p.get('status', ''):12} {p.get('seconds') or 0:7.1f} s  {p.get('note', '')}")
    print(f"summary: {paths.out / 'summary.md'}")
    return 0 if ok else 1


def cmd_summarize(args: argparse.Namespace) -> int:
    out = Path(args.out)
    results = json.loads((out / "results.json").read_text(encoding="utf-8"))
    write_summary(results, out)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="gpu_bench.py", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="run the benchmark")
    r.add_argument("--out", required=True, help="results folder (summary.md, results.json, ...)")
    r.add_argument("--work", required=True, help="scratch folder (data, runs, logs)")
    r.add_argument("--profile", choices=sorted(P.PROFILES), default="gpu")
    r.add_argument("--total-seconds", type=float, default=510.0, help="the whole budget (default 8.5 min)")
    r.add_argument("--elapsed", type=float, default=0.0, help="seconds of the budget already spent by the caller")
    r.add_argument("--phases", default="", help=f"comma-separated subset of {','.join(P.ALL_PHASES)}")
    r.add_argument("--python", default=sys.executable, help="interpreter for the phases (default this one)")
    r.set_defaults(handler=cmd_run)
    s = sub.add_parser("summarize", help="rewrite OUT/summary.md from OUT/results.json")
    s.add_argument("--out", required=True)
    s.set_defaults(handler=cmd_summarize)
    p = sub.add_parser("probe", help="print this interpreter's torch/CUDA facts as JSON")
    p.set_defaults(handler=lambda a: print(json_text(probe())) or 0)
    args = parser.parse_args(argv)
    return args.handler(args)


if __name__ == "__main__":
    sys.exit(main())
