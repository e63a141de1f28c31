"""Benchmark ``photoface synth``: photos per second at 128² with the built-in demo model.

Issue 4 asks for 10,000 photos at 128² in under 5 minutes on the 2-core machine. Each repeat
runs ``synthesize`` exactly as the CLI does (2 worker processes, files written and fsync'ed,
index closed) twice, into fresh folders: a small run (``--small``, default 100 photos) and a
large one (``--photos``, default 500). Their difference is the per-photo cost without the fixed
start-up (spawning the workers, importing torch, loading the model, factorising the fit), so

    10,000 photos ≈ start-up + 10,000 × per-photo,   per-photo = (t_large − t_small) / (n_large − n_small)

and, as a cruder upper bound, ``10,000 / n_large × t_large`` (start-up counted 20 times).

The machine is shared, so each repeat also times
- a reference: rendering the same number of faces as the large run with the project's
  ``Renderer`` alone (demo model, 128², batches of 10, no files) on ONE thread, as each synth
  worker renders; ``synth / reference`` moves much less with the load than either time;
- CPU seconds per photo of the large run over all processes (``getrusage``, start-up included),
  which depend far less on other jobs than wall time: ``cpu × 10,000 / 2 cores`` estimates an
  idle machine;
- the label fit of one shape (``LinearFitter.fit``, one thread) and its products
  (``photoface.data.synth.exact``) next to torch's float32 matrix products they replace.

Run:  .venv/bin/python benchmarks/bench_synth.py [--photos 500] [--small 100] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from photoface.data.synth import exact  # noqa: E402
from photoface.data.synth.collection import synthesize  # noqa: E402
from photoface.data.synth.fit import LinearFitter  # noqa: E402
from photoface.facemodel import builtin_model  # noqa: E402
from photoface.render import Renderer  # noqa: E402
from timing import machine_summary, set_threads  # noqa: E402

PER_IDENTITY = 10


def _cpu() -> tuple[float, float]:
    """CPU seconds (user + system) of this process and of its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime, kids.ru_utime + kids.ru_stime


def _run(out: Path, photos: int, seed: int, size: int, workers: int) -> tuple[float, float, float]:
    """One synth run; returns (wall s, CPU s of all processes, CPU s of this process)."""
    cpu0, t0 = _cpu(), time.perf_counter()
    synthesize("builtin:demo", photos // PER_IDENTITY, PER_IDENTITY, out, labeled_fraction=0.5,
               size=size, seed=seed, test_fraction=0.1, workers=workers, progress=False)
    wall = time.perf_counter() - t0
    cpu1 = _cpu()
    shutil.rmtree(out)
    return wall, sum(cpu1) - sum(cpu0), cpu1[0] - cpu0[0]


def _median_ms(fn, repeats: int = 21) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return 1000 * statistics.median(times)


def label_fit_timings(model) -> dict[str, float]:
    """Median ms, one thread: the label fit of one shape, and the kernel-independent products of
    ``exact`` against the torch float32 products they replace (same sizes: all modes × 3V)."""
    torch.set_num_threads(1)
    basis = torch.cat([model.id_basis, model.exp_basis]).reshape(model.n_id + model.n_exp, -1)
    b64, mean = basis.double().numpy(), model.mean.reshape(-1).double().numpy()
    coeffs = torch.randn(len(basis), generator=torch.Generator().manual_seed(0))
    shape = (mean + coeffs.double().numpy() @ b64).reshape(-1, 3)
    fitter = LinearFitter(model)
    out = {
        "fit": _median_ms(lambda: fitter.fit(shape)),
        "combine": _median_ms(lambda: exact.combine(coeffs.numpy(), b64, mean)),
        "torch_combine": _median_ms(lambda: coeffs @ basis),
        "rows_dot": _median_ms(lambda: exact.rows_dot(b64, mean)),
        "torch_rows_dot": _median_ms(lambda: basis @ model.mean.reshape(-1)),
    }
    set_threads(2)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--photos", type=int, default=500)
    ap.add_argument("--small", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--size", type=int, default=128)
    args = ap.parse_args()
    set_threads(2)
    large = max(args.photos // PER_IDENTITY, 2) * PER_IDENTITY
    small = max(args.small // PER_IDENTITY, 1) * PER_IDENTITY
    model = builtin_model("demo")  # built and cached before timing
    renderer = Renderer(model.faces, args.size)
    coeff = model.sample(PER_IDENTITY, generator=torch.Generator().manual_seed(0))
    verts = model.shape(coeff.alpha_id, coeff.alpha_exp).detach()
    albedo = model.albedo(coeff.beta).detach()
    pose = torch.tensor([[0.0, 30.0, 0.0, args.size / 200, args.size / 2, args.size / 2]])
    pose = pose.repeat(PER_IDENTITY, 1)

    def reference() -> float:
        torch.set_num_threads(1)
        t0 = time.perf_counter()
        with torch.no_grad():
            for _ in range(large // PER_IDENTITY):
                renderer.render(verts, albedo, pose, None, None, model.landmarks68)
        set_threads(2)
        return time.perf_counter() - t0

    tmp = Path(tempfile.mkdtemp(prefix="bench_synth_"))
    rows = []
    try:
        for r in range(args.repeats):
            t_small, _, _ = _run(tmp / "small", small, r, args.size, args.workers)
            t_large, cpu, main_cpu = _run(tmp / "large", large, r, args.size, args.workers)
            rows.append((t_small, t_large, cpu, main_cpu, reference()))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    med = [statistics.median(c) for c in zip(*rows)]
    t_small, t_large, cpu, main_cpu, ref = med
    per_photo = statistics.median([(r[1] - r[0]) / (large - small) for r in rows])
    startup = statistics.median([r[0] - small * (r[1] - r[0]) / (large - small) for r in rows])
    print(f"machine: {machine_summary()}")
    print(f"synth at {args.size}², {args.workers} workers, {args.repeats} repeats "
          f"(medians; all runs: {', '.join(f'{a:.1f}/{b:.1f}' for a, b, *_ in rows)} s "
          f"for {small}/{large} photos)")
    print(f"  {large} photos: {t_large:.1f} s = {large / t_large:.1f} photos/s")
    print(f"  per photo {per_photo * 1000:.1f} ms, start-up {startup:.1f} s -> 10,000 photos "
          f"≈ {(startup + 10000 * per_photo) / 60:.1f} min "
          f"(crude 10000/{large} × t: {t_large * 10000 / large / 60:.1f} min)")
    print(f"  CPU of the {large}-photo run, all processes, start-up included: "
          f"{cpu / large * 1000:.1f} ms/photo (main process {main_cpu / large * 1000:.1f}); "
          f"idle 2-core estimate for 10,000 photos ≈ {cpu / large * 10000 / 2 / 60:.1f} min")
    print(f"reference (render only, {large} faces, 1 thread): {ref:.1f} s; "
          f"synth {large} photos / reference = {t_large / ref:.2f}")
    lf = label_fit_timings(model)
    modes = f"{model.n_id + model.n_exp} modes × {3 * model.mean.shape[0]}"
    print(f"label fit of one shape (1 thread): {lf['fit']:.1f} ms; exact products, {modes}: "
          f"combine {lf['combine']:.2f} ms (torch float32 {lf['torch_combine']:.2f}), "
          f"rows_dot {lf['rows_dot']:.2f} ms (torch float32 {lf['torch_rows_dot']:.2f})")


if __name__ == "__main__":
    main()
