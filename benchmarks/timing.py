"""Shared timing helper for benchmarks/: medians of repeated runs after warm-up, on 2 threads.

The benchmark machine is small (2 cores) and often shared, so single timings are noise: every
benchmark times several repeats, reports the median, and times a reference in the same run
(interleaved with the subject, so both see the same load) to report a ratio.

Import this module BEFORE torch: it sets ``OMP_WAIT_POLICY=PASSIVE`` (unless already set), which
must happen before OpenMP starts. On an oversubscribed machine, spinning OpenMP workers turn every
parallel op into a wait for a descheduled thread: we measured the renderer's demo benchmark at
6.2 s with the default policy and 0.77 s with PASSIVE on the same loaded 2-core machine; code with
many small ops suffers far more than a ResNet, which distorts ratios. On an idle machine the
policy makes little difference.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import platform  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402
from typing import Callable  # noqa: E402

import torch  # noqa: E402

THREADS = 2


def set_threads(n: int = THREADS) -> None:
    """Fix torch's intra-op threads (the benchmark setting is 2)."""
    torch.set_num_threads(n)


def _sync() -> None:
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        torch.cuda.synchronize()


def time_once(fn: Callable[[], object]) -> float:
    """Wall-clock seconds of one call (CUDA work included)."""
    _sync()
    start = time.perf_counter()
    fn()
    _sync()
    return time.perf_counter() - start


def median_time(fn: Callable[[], object], repeats: int = 5, warmup: int = 1) -> tuple[float, list[float]]:
    """Median seconds over ``repeats`` calls after ``warmup`` untimed calls; also all timings."""
    for _ in range(warmup):
        fn()
    times = [time_once(fn) for _ in range(repeats)]
    return statistics.median(times), times


def interleaved_medians(
    fns: dict[str, Callable[[], object]], repeats: int = 5, warmup: int = 1
) -> dict[str, tuple[float, list[float]]]:
    """Time several functions round-robin (A B C A B C ...), so load changes hit all alike.

    Returns name -> (median seconds, all timings).
    """
    for fn in fns.values():
        for _ in range(warmup):
            fn()
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            times[name].append(time_once(fn))
    return {name: (statistics.median(t), t) for name, t in times.items()}


def cpu_model() -> str:
    """The CPU model name from /proc/cpuinfo (or the platform's answer elsewhere)."""
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def machine_summary() -> str:
    """One line: CPU model, cores, torch version, threads, OpenMP wait policy, current load."""
    return (
        f"{cpu_model()}, {os.cpu_count()} cores, torch {torch.__version__}, "
        f"{torch.get_num_threads()} threads, OMP_WAIT_POLICY={os.environ.get('OMP_WAIT_POLICY', 'default')}, "
        f"load average {os.getloadavg()[0]:.1f}"
    )
