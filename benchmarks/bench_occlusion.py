"""Benchmark the ambient occlusion of figures (``photoface.render.occlusion``) against one render.

Per built-in model: ``vertex_occlusion`` of the mean shape (48 orthographic rasterisations at
256²), and, as the reference in the same run, one ``render_faces`` of the mean shape at 256² (what
a grey mesh view costs without occlusion). The ratio says why ``apps.preview.model_occlusion``
computes it once per model rather than per shape: per shape it would cost several renders.

Run:  .venv/bin/python benchmarks/bench_occlusion.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from timing import interleaved_medians, machine_summary, set_threads  # noqa: E402, I001  (before torch)

import torch  # noqa: E402

from photoface.apps.preview import GREY, render_faces  # noqa: E402
from photoface.facemodel.spec import load_face_model  # noqa: E402
from photoface.render.occlusion import vertex_occlusion  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    set_threads()
    print(machine_summary())
    print("| model | vertices | occlusion (s) | one 256² render (s) | ratio |")
    print("|---|---:|---:|---:|---:|")
    for name in ("builtin:demo", "builtin:paper"):
        model = load_face_model(name)
        verts = model.mean[None]
        grey = torch.full_like(verts, GREY)
        res = interleaved_medians({"occlusion": lambda: vertex_occlusion(model.mean, model.faces),
                                   "render": lambda: render_faces(model, verts, grey, 0.0, 256)}, repeats=args.repeats)
        occ, ren = res["occlusion"][0], res["render"][0]
        print(f"| {name} | {model.num_vertices} | {occ:.3f} | {ren:.3f} | {occ / ren:.1f} |")


if __name__ == "__main__":
    main()
