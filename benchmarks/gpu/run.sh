#!/usr/bin/env bash
# photoface's GPU benchmark: CUDA checks, synthesis, paper-preset throughput, demo and paper
# training, evaluation, all inside one time budget; results in $OUT (docs/gpu.md).
#
#   OUT=DIR bash benchmarks/gpu/run.sh
#
# Environment:
#   OUT                   results folder (required; at most 8 files land there)
#   GPU_BENCH_MINUTES     the whole budget, this script's start included (default 8.5)
#   GPU_BENCH_PYTHON      interpreter to use (default: the repo's .venv if its torch sees CUDA, else python3)
#   GPU_BENCH_WORK        scratch folder for data and runs (default: a new folder under /tmp)
#   GPU_BENCH_PHASES      comma-separated subset of the phases (default all)
#   GPU_BENCH_ALLOW_CPU=1 no GPU needed: the tiny `dry` profile on the CPU, to check the commands
set -euo pipefail

started=$(date +%s)
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
minutes="${GPU_BENCH_MINUTES:-8.5}"
allow_cpu="${GPU_BENCH_ALLOW_CPU:-0}"
py=""
reason=""

if [[ -z "${OUT:-}" ]]; then
    echo "run.sh: set OUT to the folder for the results (the device tool sets it)" >&2
    exit 2
fi
mkdir -p "$OUT"

# Whatever happens after this point, OUT/summary.md says it: the driver rewrites it after every
# phase; this covers a driver that never started or died before its first write.
finish() {
    local rc=$?
    if [[ -f "$OUT/results.json" && -n "$py" ]]; then
        "$py" "$here/gpu_bench.py" summarize --out "$OUT" 2>/dev/null || true
    fi
    if [[ ! -s "$OUT/summary.md" ]]; then
        {
            echo "# photoface on a GPU: benchmark run"
            echo
            echo "- date: $(date -u '+%Y-%m-%d %H:%M') (UTC)"
            echo "- the run stopped before any phase, exit code $rc"
            echo "- reason: ${reason:-see the output of the command}"
        } >"$OUT/summary.md"
    fi
    exit "$rc"
}
trap finish EXIT

# The interpreter: an explicit choice, else the first candidate whose torch sees a CUDA device.
probe='import sys, torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available()); sys.exit(0 if torch.cuda.is_available() else 3)'
candidates=()
if [[ -n "${GPU_BENCH_PYTHON:-}" ]]; then
    candidates=("$GPU_BENCH_PYTHON")
else
    [[ -x "$repo/.venv/bin/python" ]] && candidates+=("$repo/.venv/bin/python")
    command -v python3 >/dev/null && candidates+=("$(command -v python3)")
fi
seen=""
profile=gpu
cpu_only=""
for cand in "${candidates[@]}"; do
    rc=0
    answer=$(timeout 120 "$cand" -c "$probe" 2>&1 | tail -n 1) || rc=$?
    seen+="  $cand: ${answer:-no answer} (exit $rc)"$'\n'
    if [[ $rc -eq 0 ]]; then py="$cand"; break; fi
    if [[ $rc -eq 3 && -z "$cpu_only" ]]; then cpu_only="$cand"; fi
done
if [[ -z "$py" && "$allow_cpu" == "1" && -n "$cpu_only" ]]; then
    py="$cpu_only"
    profile=dry
fi
if [[ -z "$py" ]]; then
    reason="no CUDA device: no interpreter's torch sees one"
    echo "run.sh: no CUDA device is available, so there is nothing to benchmark." >&2
    echo "run.sh: interpreters tried (torch version, CUDA build, CUDA available):" >&2
    printf '%s' "$seen" >&2
    echo "run.sh: run this on a GPU machine (docs/gpu.md), or set GPU_BENCH_ALLOW_CPU=1 for the CPU dry run." >&2
    exit 3
fi
echo "run.sh: $py, profile $profile"
printf '%s' "$seen"

work="${GPU_BENCH_WORK:-$(mktemp -d /tmp/photoface_gpu_bench.XXXXXX)}"
mkdir -p "$work"

# photoface from this checkout, with no install step (nothing to build; no network there). A
# package the interpreter lacks can travel as wheels in $repo/.whl (docs/gpu.md).
export PYTHONPATH="$repo/src${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1
need='numpy scipy yaml PIL tqdm torchvision tensorboard matplotlib pytest'
missing_modules() {
    "$py" -c 'import importlib.util, sys; print(" ".join(m for m in sys.argv[1:] if importlib.util.find_spec(m) is None))' $need
}
if compgen -G "$repo/.whl/*.whl" >/dev/null; then
    "$py" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$work/site" "$repo"/.whl/*.whl
    export PYTHONPATH="$PYTHONPATH:$work/site"
fi
missing=$(missing_modules)
if [[ -n "$missing" ]]; then
    reason="python modules missing: $missing"
    echo "run.sh: $py lacks: $missing (carry them as wheels in .whl/, docs/gpu.md)" >&2
    exit 4
fi

elapsed=$(( $(date +%s) - started ))
total=$("$py" -c "print(float('$minutes') * 60)")
cd "$repo"
rc=0
# the driver stops its phases at its own deadlines; this outer limit only catches a hung driver
timeout --signal=TERM "$("$py" -c "print(int(float('$total') - $elapsed + 30))")" \
    "$py" "$here/gpu_bench.py" run --out "$OUT" --work "$work" --profile "$profile" \
    --total-seconds "$total" --elapsed "$elapsed" --phases "${GPU_BENCH_PHASES:-}" --python "$py" || rc=$?
exit "$rc"
