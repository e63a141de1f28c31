"""The GPU benchmark's modules (benchmarks/gpu/, not a package) import by their file names, as
run.sh runs them."""

import sys
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parents[3] / "benchmarks" / "gpu"
if str(BENCH_DIR) not in sys.path:
    sys.path.insert(0, str(BENCH_DIR))
