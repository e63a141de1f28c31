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

With ``--quality SYNTH_DIR`` (a ``photoface synth`` dataset of builtin:demo, e.g. ``--identities 10
--photos-per-identity 5``) it measures instead what the per-photo identities are worth, for both
ways of fitting them after the same joint fit of each person: each photo's identity mesh (neutral
expression) against its person's true one (mean per-vertex distance, mm; the true identity
coefficients of ``identities/<id>.json``), and the verification EER of the identity vectors over
all pairs of photos (cosine), with the CPU time per photo of each.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fit_identity.py [--repeats 3] [--photos 5]
      OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fit_identity.py --quality SYNTH_DIR
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import machine_summary, set_threads  # noqa: E402, I001  (before torch)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_fit import person_photos  # noqa: E402
from photoface.facemodel import builtin_model  # noqa: E402
from photoface.fit import FitConfig, fit_person, make_batch  # noqa: E402
from photoface.fit.collection import fit_alone, fit_singles  # noqa: E402
from photoface.render import Renderer  # noqa: E402

SIZE = 128


def quality(root: Path) -> None:
    """The ``--quality`` comparison (module docstring) on the synthetic dataset ``root``."""
    from photoface.data.format import load_dataset
    from photoface.evaluate.runner import verification_summary
    from photoface.facemodel import load_face_model
    from photoface.fit.collection import load_person, person_rows

    ds = load_dataset(root)
    model = load_face_model(ds.meta.face_model)
    cfg = FitConfig()
    renderer = Renderer(model.faces, ds.meta.image_size)
    ways = {"each photo from scratch (fit_alone)": lambda batch, joint: fit_alone(model, batch, cfg, renderer),
            "own identity from the joint fit (fit_singles)": lambda batch, joint: fit_singles(model, batch, joint, cfg,
                                                                                              renderer)}
    found = {k: {"vectors": [], "error_mm": [], "cpu": 0.0} for k in ways}
    ids, shared_mm = [], []
    for identity, rows in person_rows(ds):
        truth = json.loads((Path(root) / "identities" / f"{identity}.json").read_text())["alpha_id"]
        true_mesh = model.shape(torch.tensor([truth], dtype=torch.float32))[0].numpy()

        def error_mm(params, true_mesh=true_mesh):
            return float(np.linalg.norm(params.neutral_shape()[0].numpy() - true_mesh, axis=-1).mean())

        batch = load_person(ds, rows, cfg)
        joint = fit_person(model, batch, cfg, renderer=renderer)
        ids += [identity] * len(rows)
        shared_mm += [error_mm(joint.params)] * len(rows)
        for name, way in ways.items():
            c = time.process_time()
            singles = way(batch, joint)
            found[name]["cpu"] += time.process_time() - c
            found[name]["vectors"] += [s.params.identity_vector() for s in singles]
            found[name]["error_mm"] += [error_mm(s.params) for s in singles]
    print(f"{root}: {len(set(ids))} people, {len(ids)} photos; the shared identity: {np.mean(shared_mm):.3f} mm")
    for name, f in found.items():
        v = verification_summary(np.stack(f["vectors"]), ids, fars=(0.1,))
        print(f"  {name:46s} identity mesh {np.mean(f['error_mm']):.3f} mm (median {np.median(f['error_mm']):.3f}), "
              f"EER {v['eer']:.3f}, TAR@FAR=0.1 {v['tar_at_far']['0.1']:.3f}; CPU {f['cpu'] / len(ids):.2f} s/photo")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--photos", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--quality", type=Path, metavar="SYNTH_DIR", help="compare identity quality instead (docstring)")
    args = ap.parse_args(argv)
    set_threads(args.threads)
    print(f"machine: {machine_summary()}")
    if args.quality:
        quality(args.quality)
        return 0
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
