"""Accuracy and CPU time of ``photoface fit`` (joint fit + per-photo identities) on a synthetic dataset.

For every person of a ``photoface synth`` dataset (e.g. ``--model builtin:demo --identities 10
--photos-per-identity 5 --size 128 --seed 5``), all of their photos are fitted as ``photoface fit``
does (``fit_person``, then ``fit_singles``) and compared with the truth stored by ``synth``:

- shared identity: the person's identity mesh (neutral expression) against the true one, mean
  per-vertex distance, mm (the model's canonical frame);
- per-photo shape: each photo's fitted mesh (shared identity + its expression) against its true
  mesh (true identity + true expression), mm;
- per-photo identity: each photo's own identity mesh (``fit.single``) against the true one, mm;
- landmark NME of the joint fit, % (``PersonFit.nme``);
- CPU time per photo of the two fits (``time.process_time``, one thread by default).

``--set key=value`` overrides ``FitConfig`` (as ``photoface fit --set``), so a change of the fitter
can be compared with its previous setting in one command each.

Run:  OMP_NUM_THREADS=1 .venv/bin/python benchmarks/bench_fit_accuracy.py SYNTH_DIR [--set coarse_size=0]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import machine_summary, set_threads  # noqa: E402, I001  (before torch)

import numpy as np  # noqa: E402
import torch  # noqa: E402
from photoface.data.format import load_dataset  # noqa: E402
from photoface.facemodel import load_face_model  # noqa: E402
from photoface.fit import FitConfig, fit_person  # noqa: E402
from photoface.fit.collection import fit_singles, load_person, person_rows  # noqa: E402
from photoface.fit.config import apply_overrides  # noqa: E402
from photoface.render import Renderer  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("data", type=Path, help="a photoface synth dataset")
    ap.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args(argv)
    set_threads(args.threads)
    print(f"machine: {machine_summary()}")
    cfg = apply_overrides(FitConfig(), args.overrides)
    truth = {}
    for line in (args.data / "index.jsonl").read_text().splitlines():
        row = json.loads(line)
        truth[row["image"]] = row
    ds = load_dataset(args.data)
    model = load_face_model(ds.meta.face_model)
    renderer = Renderer(model.faces, ds.meta.image_size)
    shared, single, shape, nme, cpu = [], [], [], [], 0.0
    for _, rows in person_rows(ds):
        true = [truth[r.image] for r in rows]
        alpha_id = torch.tensor([true[0]["alpha_id_true"]], dtype=torch.float32)
        true_id = model.shape(alpha_id)[0].numpy()
        true_shapes = model.shape(alpha_id.expand(len(rows), -1),
                                  torch.tensor([t["alpha_exp_true"] for t in true], dtype=torch.float32)).numpy()
        batch = load_person(ds, rows, cfg)
        start = time.process_time()
        joint = fit_person(model, batch, cfg, renderer=renderer)
        singles = fit_singles(model, batch, joint, cfg, renderer)
        cpu += time.process_time() - start
        with torch.no_grad():
            fitted = joint.params.decode().shape.numpy()
        shared.append(float(np.linalg.norm(joint.params.neutral_shape()[0].numpy() - true_id, axis=-1).mean()))
        shape += list(np.linalg.norm(fitted - true_shapes, axis=-1).mean(1))
        single += [float(np.linalg.norm(s.params.neutral_shape()[0].numpy() - true_id, axis=-1).mean()) for s in singles]
        nme += list(joint.nme)
    n = len(shape)
    print(f"{args.data}: {len(shared)} people, {n} photos, overrides {args.overrides or 'none'}")
    print(f"  shared identity {np.mean(shared):.3f} mm, per-photo shape {np.mean(shape):.3f} mm, "
          f"per-photo identity {np.mean(single):.3f} mm, landmark NME {100 * np.mean(nme):.3f} %, "
          f"CPU {cpu / n:.2f} s/photo")
    print(f"  shared identity per person (mm): {', '.join(f'{x:.3f}' for x in shared)}")
    print(f"machine after: {machine_summary()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
