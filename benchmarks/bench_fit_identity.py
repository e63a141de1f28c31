"""Benchmark the per-photo identities of ``photoface fit``: a 5-photo person at 128², CPU time per photo.

Issue 21 (point 5): fitting must stay ≤ 1.0 s CPU per photo at 128² for a 5-photo person, and
``photoface fit`` also gives every photo its own identity (``FitConfig.single_photo_fits``). Three
variants, timed round-robin (A B C A B C ...) so that the shared machine's load hits all alike:

- ``joint``: ``fit_person`` alone (the person's shared identity), the reference;
- ``joint + own identities``: then ``fit_singles`` (``photoface.fit.single``: from the joint fit,
  all photos in one batch), what ``photoface fit`` does by default;
- ``joint + each photo from scratch``: then ``fit_alone`` (``fit_person`` on each photo alone),
  how the per-photo identities were fitted before.

The photos are ``bench_fit.person_photos`` (rendered from builtin:demo, yaws −45° to +45°, 1 px
landmark noise). CPU time is ``time.process_time`` of this process (all threads); one thread by
default (``--threads``), as ``OMP_NUM_THREADS=1`` on the shared machine.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fit_identity.py [--repeats 3] [--photos 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import machine_summary, set_threads  # noqa: E402, I001  (before torch)

from bench_fit import person_photos  # noqa: E402
from photoface.facemodel import builtin_model  # noqa: E402
from photoface.fit import FitConfig, fit_person, make_batch  # noqa: E402
from photoface.fit.collection import fit_alone, fit_singles  # noqa: E402
from photoface.render import Renderer  # noqa: E402

SIZE = 128


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--photos", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    print(f"machine: {machine_summary()}")
    model = builtin_model("demo")
    cfg = FitConfig()
    images, masks, lm, _ = person_photos(model, SIZE, photos=args.photos)
    batch = make_batch(images, masks, lm, None, cfg)
    renderer = Renderer(model.faces, SIZE)

    def joint():
        return fit_person(model, batch, cfg, renderer=renderer)

    variants = {
        "joint": joint,
        "joint + own identities": lambda: fit_singles(model, batch, joint(), cfg, renderer),
        "joint + each photo from scratch": lambda: (joint(), fit_alone(model, batch, cfg, renderer)),
    }
    print(f"builtin:demo, {model.num_vertices} v, {SIZE}², {args.photos} photos, FitConfig defaults "
          f"(single_photo_iterations {cfg.single_photo_iterations}); {args.repeats} rounds after one warm-up")
    for fn in variants.values():
        fn()
    cpu: dict[str, list[float]] = {k: [] for k in variants}
    wall: dict[str, list[float]] = {k: [] for k in variants}
    for _ in range(args.repeats):
        for name, fn in variants.items():
            c, w = time.process_time(), time.perf_counter()
            fn()
            cpu[name].append(time.process_time() - c)
            wall[name].append(time.perf_counter() - w)
    for name in variants:
        med = statistics.median(cpu[name])
        print(f"  {name:32s} CPU {med:6.2f} s = {med / args.photos:.2f} s/photo (runs {', '.join(f'{t:.2f}' for t in cpu[name])}); "
              f"wall median {statistics.median(wall[name]):.2f} s")
    print(f"machine after: {machine_summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
